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
    # Phone methods: the number as E.164, with "x<extension>" for an office phone.
    phone = models.CharField(max_length=32, blank=True)
    # A mobile's way to be used when it is the default: "text" or "call" ("" = text).
    preferred_channel = models.CharField(max_length=8, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["user", "type"])]

    def __str__(self) -> str:
        return f"{self.name} ({self.type})"


class PushDevice(models.Model):
    """An authenticator device that receives sign-in requests. It is *pending* (``method`` is
    empty) from activation until the person approves the test notification; only then is it a
    sign-in method. Its public key is sealed like every other registration secret."""

    device_id = models.CharField(max_length=40, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="push_devices")
    method = models.OneToOneField(Method, on_delete=models.CASCADE, null=True, blank=True, related_name="device")
    public_key_sealed = models.TextField()
    name = models.CharField(max_length=128)
    platform = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]


class PushActivation(models.Model):
    """A one-time activation code shown in the QR code: valid 10 minutes, used once. The code
    itself is never stored, only its SHA-256; the TOTP seed the device will receive is sealed."""

    code_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    secret_sealed = models.TextField()
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    device = models.OneToOneField(PushDevice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")


class ChallengeState(models.TextChoices):
    PENDING = "pending"
    APPROVED = "approved"
    DENIED = "denied"
    REPORTED = "reported"


class PushChallenge(models.Model):
    """One sign-in request sent to a person's devices (or, while registering, to the new
    device only). Answered at most once: the answer is a compare-and-set on ``state``."""

    id = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=16)  # "signin" or "registration"
    device = models.ForeignKey(PushDevice, on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                               help_text="registration: the one device asked; sign-in: empty (all devices)")
    number = models.CharField(max_length=8)
    flow_id = models.CharField(max_length=32, blank=True, help_text="the sign-in this request belongs to")
    state = models.CharField(max_length=16, choices=ChallengeState.choices, default=ChallengeState.PENDING)
    result_detail = models.CharField(max_length=64, blank=True)
    app = models.CharField(max_length=128)
    ip = models.GenericIPAddressField(null=True, blank=True)
    location = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    answered_by = models.ForeignKey(PushDevice, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    consumed = models.BooleanField(default=False, help_text="the waiting page has used the approval")
    log_app = models.CharField(max_length=64, default="portal",
                               help_text="the application the sign-in log names: portal, or radius:<NAS>")

    class Meta:
        indexes = [models.Index(fields=["user", "state", "expires_at"])]


class SeenNonce(models.Model):
    """Nonces of device tokens and answers, kept until they could no longer pass the freshness
    check anyway; a second insert of the same digest is a replay."""

    digest = models.CharField(max_length=64, primary_key=True)
    expires_at = models.DateTimeField(db_index=True)


class FraudReport(models.Model):
    """"No, it's not me": a person said a sign-in request was not theirs."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="fraud_reports")
    method_type = models.CharField(max_length=32)
    challenge_id = models.CharField(max_length=40, blank=True)
    app = models.CharField(max_length=128, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True, help_text="where the reported sign-in came from")
    blocked = models.BooleanField(help_text="the person was blocked from MFA by this report")
    created_at = models.DateTimeField(auto_now_add=True)
    reviewed_at = models.DateTimeField(null=True, blank=True)
    reviewed_by = models.CharField(max_length=254, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["reviewed_at"])]


class PhoneCode(models.Model):
    """A code sent by text message: 6 digits, 5 minutes, used once, a few tries. Only its
    keyed hash is stored."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(max_length=32)
    purpose = models.CharField(max_length=16)  # "signin" or "registration"
    code_hash = models.CharField(max_length=100, help_text="salt$HMAC-SHA256 of the code")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    used_at = models.DateTimeField(null=True, blank=True)


class CallState(models.TextChoices):
    RINGING = "ringing"
    CONFIRMED = "confirmed"
    FRAUD = "fraud"
    NO_INPUT = "no_input"
    FAILED = "failed"


class PhoneCall(models.Model):
    """A verification call: the person answers and presses # (or 0# to report fraud)."""

    id = models.CharField(max_length=40, primary_key=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    phone = models.CharField(max_length=32)
    method_type = models.CharField(max_length=32)
    purpose = models.CharField(max_length=16)
    flow_id = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=16, choices=CallState.choices, default=CallState.RINGING)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    consumed = models.BooleanField(default=False)
    log_app = models.CharField(max_length=64, default="portal",
                               help_text="the application the sign-in log names: portal, or radius:<NAS>")
