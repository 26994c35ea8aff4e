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


class OidcSignIn(models.Model):
    """How the person signed in when an OpenID Connect client was given an authorization code:
    the session's ``amr`` and sign-in time, for the ID tokens issued for that code and for the
    refresh tokens that follow it (``token_family``). The code is kept only as its SHA-256."""

    grant_code_hash = models.CharField(max_length=64, db_index=True)
    token_family = models.UUIDField(null=True, blank=True, db_index=True)
    user = models.ForeignKey("directory.User", on_delete=models.CASCADE, related_name="+")
    amr = models.JSONField(default=list)
    auth_time = models.FloatField()
    created_at = models.DateTimeField(auto_now_add=True)


class OidcClientScopes(models.Model):
    """The scopes an OpenID Connect client (DOT's Application) may ask for."""

    application = models.OneToOneField("oauth2_provider.Application", on_delete=models.CASCADE,
                                       related_name="watchword_scopes")
    scopes = models.CharField(max_length=255, default="openid profile email")


class PersonalToken(models.Model):
    """An administrator's token for the REST API (``Authorization: Bearer wwp_…``). Shown once;
    only its SHA-256 is kept. It acts as its owner, limited to its scopes and to what the
    owner's role allows at the time of each call, and ends at ``expires_at`` or when revoked."""

    user = models.ForeignKey("directory.User", on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=64)
    token_hash = models.CharField(max_length=64, unique=True)
    hint = models.CharField(max_length=16, help_text="the token's first characters, to recognise it by")
    scopes = models.CharField(max_length=255)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.hint}…)"


class ApiChallenge(models.Model):
    """A second-factor request a backend started through ``POST /api/v1/challenges``: a push to
    the person's devices, a text with a code, or a voice call. It points at the method's own
    record (``ref``: PushChallenge, PhoneCode or PhoneCall) and is visible only to the caller
    that started it. ``status`` settles once (approved, denied or expired) and then stays."""

    id = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey("directory.User", on_delete=models.CASCADE, related_name="+")
    method = models.CharField(max_length=8)  # "push", "sms" or "voice"
    ref = models.CharField(max_length=40)
    caller = models.CharField(max_length=80, db_index=True, help_text="app:<client id> or token:<id>")
    app = models.CharField(max_length=64, help_text="the name shown to the person")
    log_app = models.CharField(max_length=64, help_text="the sign-in log's application")
    flow_id = models.CharField(max_length=32)
    status = models.CharField(max_length=16, default="pending")
    detail = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "caller", "method", "status"])]
