"""Throttle counters shared by every server process (kept in the database, so the embedded
default needs no Redis)."""

from django.db import models


class Throttle(models.Model):
    key = models.CharField(max_length=96, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True, blank=True)
