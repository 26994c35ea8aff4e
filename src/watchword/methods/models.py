"""A person's registered authentication methods. Secrets are sealed (see ``core.sealing``)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Method(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="methods")
    type = models.CharField(max_length=32, help_text="a key of methods.registry")
    name = models.CharField(max_length=128)
    secret_sealed = models.TextField(blank=True)
    # Replay protection: the last accepted TOTP time step (compare-and-set on verify).
    last_used_step = models.BigIntegerField(default=-1)
    is_default = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user", "type"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"
