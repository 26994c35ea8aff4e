"""What administrators decide about who must use MFA, when and with what: Security Defaults and
the MFA settings (one row), Conditional Access policies (stored in Graph's shape), named
locations, custom authentication strengths, and the per-person state some controls keep.

Every change raises ``PolicySettings.version``, so each server process recompiles the
configuration once after a change and otherwise reads one integer per sign-in."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class PolicySettings(models.Model):
    """The organisation's settings (a single row, pk 1)."""

    security_defaults = models.BooleanField(default=False)
    security_defaults_changed_at = models.DateTimeField(null=True, blank=True)
    # Remember MFA on a browser for this many days ("Don't ask again"); 0: off.
    remember_mfa_days = models.PositiveSmallIntegerField(default=0)
    # MFA trusted IPs: per-user MFA is skipped for sign-ins from these ranges (JSON list of CIDR).
    mfa_trusted_ips = models.JSONField(default=list, blank=True)
    # Smart lockout: wrong passwords for one account (counted apart for familiar and unfamiliar
    # networks) before it waits, and the first wait; each further one doubles it (see
    # ``signin.services.account_limit``). Gentle by default: it slows guessing down without
    # letting a stranger hold the person up for long.
    lockout_threshold = models.PositiveSmallIntegerField(default=20)
    lockout_seconds = models.PositiveIntegerField(default=1)
    # A fraud report blocks the person's MFA for this many days, or until an administrator unblocks.
    fraud_block_days = models.PositiveSmallIntegerField(default=90)
    # Registration campaign: nudge people without the authenticator app to add it.
    campaign_enabled = models.BooleanField(default=False)
    campaign_snooze_days = models.PositiveSmallIntegerField(default=1)
    campaign_snoozes_allowed = models.PositiveSmallIntegerField(default=3)
    campaign_enforce = models.BooleanField(default=True)
    campaign_include_groups = models.JSONField(default=list, blank=True)  # group ids; empty: everyone
    campaign_exclude_groups = models.JSONField(default=list, blank=True)
    # The authentication-methods policy: {method type: {"enabled", "includeGroups", "excludeGroups", ...}}.
    methods_policy = models.JSONField(default=dict, blank=True)
    version = models.PositiveBigIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)


class ConditionalAccessPolicy(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=256)
    state = models.CharField(max_length=40, db_index=True)
    document = models.JSONField()
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    class Meta:
        ordering = ["display_name", "created_at"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def state_label(self) -> str:
        return {"enabled": "On", "disabled": "Off", "enabledForReportingButNotEnforced": "Report-only"}.get(
            self.state, self.state)


class NamedLocation(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=256, unique=True)
    ranges = models.JSONField(default=list)
    trusted = models.BooleanField(default=False)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class AuthenticationStrength(models.Model):
    """A custom authentication strength (the built-in ones live in ``policy.strengths``)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    display_name = models.CharField(max_length=128, unique=True)
    description = models.CharField(max_length=512, blank=True)
    combinations = models.JSONField(default=list)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()

    class Meta:
        ordering = ["display_name"]

    def __str__(self) -> str:
        return self.display_name


class RegistrationGrace(models.Model):
    """Under Security Defaults: when the person first signed in after it was turned on (their
    14 days to register count from here). Cleared when Security Defaults is turned on again."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    started_at = models.DateTimeField()


class CampaignSnooze(models.Model):
    """The registration campaign's nudge, snoozed by the person."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    snoozes = models.PositiveSmallIntegerField(default=0)
    snoozed_until = models.DateTimeField(null=True, blank=True)
