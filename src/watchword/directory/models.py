"""People, groups and admin roles."""

from __future__ import annotations

import hmac

from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.db import models
from django.utils.crypto import salted_hmac


class Role(models.TextChoices):
    USER = "user", "User"
    AUTHENTICATION_ADMIN = "authentication_admin", "Authentication Administrator"
    SECURITY_ADMIN = "security_admin", "Security Administrator"
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
    # People synced from a directory: the connection, the directory's immutable id
    # (objectGUID / entryUUID) and its DN, normalised (see ``watchword.sync.mapping.normalise_dn``).
    # The connection is the source of authority for the attributes it maps (``managed_fields``).
    directory_connection = models.ForeignKey("sync.DirectoryConnection", null=True, blank=True,
                                             on_delete=models.PROTECT, related_name="people")
    external_id = models.CharField(max_length=64, blank=True)
    external_dn = models.CharField(max_length=1024, blank=True)
    # Soft-deleted (gone from the directory): disabled, hidden, restorable with its methods for 30 days.
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    USERNAME_FIELD = "upn"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["display_name"]

    objects = UserManager()

    class Meta:
        ordering = ["upn"]
        indexes = [models.Index(fields=["mfa_state"]), models.Index(fields=["role"]),
                   models.Index(fields=["directory_connection", "external_dn"], name="user_conn_dn")]
        constraints = [models.UniqueConstraint(fields=["directory_connection", "external_id"],
                                               condition=models.Q(directory_connection__isnull=False),
                                               name="user_unique_external_id")]

    def __str__(self) -> str:
        return self.upn

    @property
    def is_admin(self) -> bool:
        return self.role in (Role.GLOBAL_ADMIN, Role.AUTHENTICATION_ADMIN, Role.SECURITY_ADMIN)

    @property
    def is_global_admin(self) -> bool:
        return self.role == Role.GLOBAL_ADMIN

    @property
    def manages_policy(self) -> bool:
        """Security Defaults, Conditional Access and the MFA settings: Global and Security
        Administrators (as in the reference)."""
        return self.role in (Role.GLOBAL_ADMIN, Role.SECURITY_ADMIN)

    @property
    def is_synced(self) -> bool:
        return self.directory_connection_id is not None

    def managed_fields(self) -> frozenset[str]:
        """The attributes the person's directory owns (read-only here)."""
        if self.directory_connection_id is None:
            return frozenset()
        from watchword.sync.mapping import managed_fields

        return managed_fields(self.directory_connection)

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
    directory_connection = models.ForeignKey("sync.DirectoryConnection", null=True, blank=True,
                                             on_delete=models.PROTECT, related_name="groups")
    external_id = models.CharField(max_length=64, blank=True)
    external_dn = models.CharField(max_length=1024, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["directory_connection", "external_id"],
                                               condition=models.Q(directory_connection__isnull=False),
                                               name="group_unique_external_id")]

    @property
    def is_synced(self) -> bool:
        return self.directory_connection_id is not None

    def __str__(self) -> str:
        return self.name
