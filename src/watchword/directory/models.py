"""People, groups and admin roles."""

from __future__ import annotations

import hmac

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils.crypto import salted_hmac


class Role(models.TextChoices):
    USER = "user", "User"
    AUTHENTICATION_ADMIN = "authentication_admin", "Authentication Administrator"
    GLOBAL_ADMIN = "global_admin", "Global Administrator"


class MfaState(models.TextChoices):
    """Per-user MFA as the reference defines it (Disabled → Enabled → Enforced)."""

    DISABLED = "disabled", "Disabled"
    ENABLED = "enabled", "Enabled"
    ENFORCED = "enforced", "Enforced"


class UserManager(BaseUserManager):
    def get_by_natural_key(self, username: str):
        return self.get(upn=normalise_upn(username))


def normalise_upn(value: str) -> str:
    return (value or "").strip().lower()


class User(AbstractBaseUser):
    upn = models.CharField("sign-in name", max_length=254, unique=True)
    display_name = models.CharField(max_length=256)
    email = models.EmailField(max_length=254, blank=True)
    office_phone = models.CharField(max_length=32, blank=True, help_text="E.164, optional x extension")
    mobile_phone = models.CharField(max_length=32, blank=True, help_text="E.164")
    is_active = models.BooleanField("enabled", default=True)
    role = models.CharField(max_length=32, choices=Role.choices, default=Role.USER)
    mfa_state = models.CharField(max_length=16, choices=MfaState.choices, default=MfaState.DISABLED)
    must_change_password = models.BooleanField(default=False)
    # Raised to sign the person out everywhere ("Revoke MFA sessions", disable, password reset).
    session_epoch = models.PositiveIntegerField(default=0)
    # Set when the person reports a sign-in request as "No, it's not me" (and the organisation
    # blocks on fraud reports): every MFA attempt is refused until an administrator unblocks.
    mfa_blocked_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    USERNAME_FIELD = "upn"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    objects = UserManager()

    class Meta:
        ordering = ["upn"]
        indexes = [models.Index(fields=["mfa_state"]), models.Index(fields=["role"])]

    def __str__(self) -> str:
        return self.upn

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.GLOBAL_ADMIN, Role.AUTHENTICATION_ADMIN)

    @property
    def is_global_admin(self) -> bool:
        return self.role == Role.GLOBAL_ADMIN

    # Django's admin-site flags; Watchword has its own admin pages.
    is_staff = False
    is_superuser = False

    def get_session_auth_hash(self) -> str:
        """Binds sessions to the password hash *and* the session epoch, so raising the epoch
        signs the person out of every browser."""
        return salted_hmac(
            "watchword.directory.User.session",
            f"{self.password}:{self.session_epoch}",
            algorithm="sha256",
        ).hexdigest()

    def session_hash_matches(self, value: str) -> bool:
        return hmac.compare_digest(value, self.get_session_auth_hash())


class Group(models.Model):
    name = models.CharField(max_length=128, unique=True)
    description = models.CharField(max_length=512, blank=True)
    members = models.ManyToManyField(User, related_name="groups", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
