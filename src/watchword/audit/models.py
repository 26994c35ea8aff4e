"""Append-only sign-in log and audit log."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class AppendOnlyQuerySet(models.QuerySet):
    """Bulk changes are refused too. The one update allowed is clearing the link to a deleted
    person (``on_delete=SET_NULL``), which keeps the row and the name as it was typed."""

    def update(self, **kwargs):
        if kwargs and all(name in ("user", "actor", "user_id", "actor_id") and value is None
                          for name, value in kwargs.items()):
            return super().update(**kwargs)
        raise RuntimeError("log entries are append-only")

    def delete(self):
        raise RuntimeError("log entries are append-only")


class AppendOnly(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.get("force_insert"):
            raise RuntimeError("log entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise RuntimeError("log entries are append-only")


class SignInEvent(AppendOnly):
    class Result(models.TextChoices):
        SUCCESS = "success", "Success"
        FAILURE = "failure", "Failure"
        INTERRUPTED = "interrupted", "Interrupted"

    time = models.DateTimeField(db_index=True)
    flow_id = models.CharField(max_length=32, db_index=True, help_text="correlates the steps of one sign-in")
    typed_name = models.CharField(max_length=300)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                             related_name="+")
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=512, blank=True)
    app = models.CharField(max_length=64, default="portal")
    step = models.CharField(max_length=32)
    result = models.CharField(max_length=16, choices=Result.choices)
    error_code = models.PositiveIntegerField(null=True, blank=True, db_index=True)
    reason = models.CharField(max_length=300, blank=True)
    method = models.CharField(max_length=32, blank=True)
    requirement = models.CharField(max_length=64, blank=True, help_text="what required MFA (policy reason)")
    # Conditional Access: each enabled and report-only policy's part in this sign-in (the
    # reference's appliedConditionalAccessPolicies), the client type and the sign-in risk.
    conditional_access = models.JSONField(null=True, blank=True)
    client_app = models.CharField(max_length=32, blank=True)
    risk = models.CharField(max_length=8, blank=True)

    class Meta:
        ordering = ["-time", "-id"]

    REQUIREMENT_LABELS = {
        "per_user_mfa": "per-user MFA",
        "security_info_fresh_mfa": "Security info needs a recent MFA",
        "app_requires_mfa": "the application asked for MFA (acr_values)",
        "security_defaults": "Security Defaults",
        "fraud_block": "blocked after a fraud report",
        "authentication_strength": "authentication strength",
    }

    @property
    def requirement_label(self) -> str:
        if self.requirement.startswith("conditional_access"):
            return "Conditional Access"
        return self.REQUIREMENT_LABELS.get(self.requirement, self.requirement)

    @property
    def conditional_access_status(self) -> str:
        """The reference's ``conditionalAccessStatus``: success / failure / notApplied."""
        enforced = [r for r in (self.conditional_access or []) if not r.get("reportOnly")]
        if not any(r.get("result") == "applied" for r in enforced):
            return "notApplied"
        if any("block" in r.get("controls", ()) and r.get("result") == "applied" for r in enforced):
            return "failure"
        return "success" if self.result == "success" else ("failure" if self.result == "failure" else "interrupted")


class AuditEvent(AppendOnly):
    time = models.DateTimeField(db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    actor_label = models.CharField(max_length=300, help_text="who, as it was at the time (or 'system', 'cli')")
    action = models.CharField(max_length=64, db_index=True)
    target_type = models.CharField(max_length=32, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=300, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    result = models.CharField(max_length=16, default="success")
    reason = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-time", "-id"]
