"""RADIUS clients (NAS: VPN concentrators, Wi-Fi controllers, switches) and their shared secrets."""

from __future__ import annotations

from django.db import models


class RadiusClient(models.Model):
    """A device allowed to send Access-Requests. It is recognised by the packet's source address
    (``address``: one IP address or a network in CIDR notation); its shared secret is sealed at
    rest (``core.sealing``, purpose ``radius-secret:<id>``)."""

    name = models.CharField(max_length=64, unique=True)
    address = models.CharField(max_length=64, help_text="IP address or CIDR network, IPv4 or IPv6")
    secret_sealed = models.TextField(blank=True)
    enabled = models.BooleanField(default=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
