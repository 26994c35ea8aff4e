"""Directory connections (Active Directory, OpenLDAP), their sync runs and the runs' warnings.

People and groups that come from a connection point back at it (``User.directory_connection``,
``Group.directory_connection``) with the directory's immutable id, so renames and moves are
updates and a rerun never makes a duplicate.
"""

from __future__ import annotations

from django.db import models


class Flavour(models.TextChoices):
    ACTIVE_DIRECTORY = "active_directory", "Active Directory"
    OPENLDAP = "openldap", "OpenLDAP / generic LDAP"


class DirectoryConnection(models.Model):
    name = models.CharField(max_length=64, unique=True)
    flavour = models.CharField(max_length=32, choices=Flavour.choices)
    url = models.CharField("server URL", max_length=512, help_text="ldap://host:389 or ldaps://host:636")
    start_tls = models.BooleanField("StartTLS", default=False)
    ca_certificate = models.TextField("CA certificate (PEM)", blank=True,
                                      help_text="Empty: the system's trusted certificate authorities.")
    bind_dn = models.CharField("bind DN", max_length=1024)
    bind_password_sealed = models.TextField(blank=True)
    base_dns = models.TextField("base DNs", help_text="One per line; every entry below them is in scope.")
    user_filter = models.CharField(max_length=2048)
    group_filter = models.CharField(max_length=2048, blank=True, help_text="Empty: groups are not synced.")
    upn_domain = models.CharField("sign-in domain", max_length=253, blank=True,
                                  help_text="Added to a sign-in name without @ (uid + domain).")
    phone_country = models.CharField(max_length=2, blank=True,
                                     help_text="How numbers without a country code are read.")
    mapping = models.JSONField(default=dict, blank=True, help_text="Attribute names that differ from the flavour's.")
    enabled = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(default=30)
    continuous = models.BooleanField(default=False)
    poll_seconds = models.PositiveIntegerField(default=10)
    delete_threshold = models.PositiveIntegerField(default=500)
    delete_threshold_percent = models.PositiveSmallIntegerField(null=True, blank=True)
    password_passthrough = models.BooleanField(default=True)
    timeout_seconds = models.PositiveSmallIntegerField(default=10)

    # Sync state. ``high_water`` is the change marker (AD ``uSNChanged``, OpenLDAP ``entryCSN``,
    # else ``modifyTimestamp``) up to which changes have been applied; it is written in the same
    # transaction as the last changes it covers. Empty: the next run is a full import.
    high_water = models.CharField(max_length=128, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_reconcile_at = models.DateTimeField(null=True, blank=True)
    last_poll_at = models.DateTimeField(null=True, blank=True)
    retry_after = models.DateTimeField(null=True, blank=True, help_text="after a failed run: not before")
    # One run at a time per connection: ``host:pid`` of the runner and when its claim lapses.
    lock_owner = models.CharField(max_length=128, blank=True)
    lock_expires = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def schedule_text(self) -> str:
        """When it runs by itself: every interval (a delta and a check for deletions), and in
        continuous mode a delta every few seconds in between."""
        text = f"every {self.interval_minutes} min"
        return text + (f", continuous every {self.poll_seconds} s" if self.continuous else "")

    @property
    def base_dn_list(self) -> list[str]:
        return [line.strip() for line in self.base_dns.splitlines() if line.strip()]


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        FULL = "full", "Full import"
        DELTA = "delta", "Delta import"

    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        STOPPED = "stopped_deletion_threshold", "Stopped: too many deletions"
        INTERRUPTED = "interrupted", "Interrupted"

    connection = models.ForeignKey(DirectoryConnection, on_delete=models.CASCADE, related_name="runs")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    reconcile = models.BooleanField(default=False, help_text="deletions looked for by comparing every id")
    trigger = models.CharField(max_length=16, default="manual")  # manual, schedule, continuous, cli
    dry_run = models.BooleanField(default=False)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    added = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    deleted = models.PositiveIntegerField(default=0)
    restored = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    warnings_count = models.PositiveIntegerField(default=0)
    groups_changed = models.PositiveIntegerField(default=0)
    memberships_changed = models.PositiveIntegerField(default=0)
    pending_deletes = models.PositiveIntegerField(default=0, help_text="found but not applied (threshold)")
    error = models.CharField(max_length=1000, blank=True)
    owner = models.CharField(max_length=128, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SyncWarning(models.Model):
    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="warnings")
    dn = models.CharField(max_length=1024, blank=True)
    person = models.CharField(max_length=300, blank=True)
    attribute = models.CharField(max_length=64, blank=True)
    value = models.CharField(max_length=256, blank=True)
    message = models.CharField(max_length=300)

    class Meta:
        ordering = ["id"]
