"""Throttle counters shared by every server process (kept in the database, so the embedded
default needs no Redis)."""

from django.db import models


class Throttle(models.Model):
    key = models.CharField(max_length=96, unique=True)
    failures = models.PositiveIntegerField(default=0)
    last_failure_at = models.DateTimeField()
    blocked_until = models.DateTimeField(null=True, blank=True)


class KnownNetwork(models.Model):
    """A network (IPv4 /24, IPv6 /48) a person signed in from successfully, and when last: what
    makes a sign-in "familiar" for Security Defaults, sign-in risk and smart lockout."""

    user = models.ForeignKey("directory.User", on_delete=models.CASCADE, related_name="+")
    network = models.CharField(max_length=64)
    last_seen = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "network"], name="known_network_once")]


class KnownBrowser(models.Model):
    """A browser (its ``watchword_device`` cookie, kept as a SHA-256) in which a person finished an
    MFA, and until when MFA is remembered there ("Don't ask again for N days")."""

    user = models.ForeignKey("directory.User", on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64)
    mfa_at = models.DateTimeField()
    remember_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "token_hash"], name="known_browser_once")]
