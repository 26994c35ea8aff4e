"""The organisation's MFA settings (remember MFA, MFA trusted IPs, smart lockout, fraud block,
registration campaign) and its authentication-methods policy: validated as a whole, then saved
and audited in one transaction, or not at all."""

from __future__ import annotations

import re

from django.db import transaction

from watchword.audit.services import record_change
from watchword.policy.errors import PolicyInvalid
from watchword.policy.locations import MAX_TRUSTED_IPS, parse_ranges
from watchword.policy.methods import compile_methods_policy, export_methods_policy
from watchword.policy.models import PolicySettings
from watchword.policy.services import _bump, current_settings

# field: (minimum, maximum, what it is)
NUMBERS = {
    "remember_mfa_days": (0, 365, "Days to remember MFA on a browser (0 turns it off)"),
    "lockout_threshold": (1, 1000, "Wrong passwords before an account waits"),
    "lockout_seconds": (1, 3600, "The first wait, in seconds (it doubles with each further wrong password)"),
    "fraud_block_days": (1, 3650, "Days a fraud report blocks MFA"),
    "campaign_snooze_days": (0, 14, "Days the registration nudge can be snoozed"),
    "campaign_snoozes_allowed": (0, 20, "Snoozes before registration is required"),
}
FLAGS = ("campaign_enabled", "campaign_enforce")
LISTS = ("campaign_include_groups", "campaign_exclude_groups")
FIELDS = tuple(NUMBERS) + FLAGS + LISTS + ("mfa_trusted_ips",)


def as_dict(row: PolicySettings) -> dict:
    return {name: getattr(row, name) for name in FIELDS}


def clean(values: dict, *, known_groups: frozenset[str] | None = None) -> dict:
    """Only the fields given are checked and returned; a wrong one raises ``PolicyInvalid``
    naming it."""
    if not isinstance(values, dict):
        raise PolicyInvalid("Expected an object of settings.")
    cleaned = {}
    for name, value in values.items():
        if name not in FIELDS:
            raise PolicyInvalid(f"{str(name)[:40]!r} is not an MFA setting (known: {', '.join(FIELDS)}).",
                                field=str(name)[:40])
        if name in NUMBERS:
            low, high, label = NUMBERS[name]
            if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,9}", value.strip()):
                value = int(value.strip())
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise PolicyInvalid(f"{label} must be a whole number from {low} to {high}.", field=name)
        elif name in FLAGS:
            if not isinstance(value, bool):
                raise PolicyInvalid(f"{name} must be true or false.", field=name)
        elif name in LISTS:
            if not isinstance(value, list) or len(value) > 500:
                raise PolicyInvalid("Expected a list of group ids.", field=name)
            value = [str(v) for v in value]
            for index, group in enumerate(value):
                if known_groups is not None and group not in known_groups:
                    raise PolicyInvalid(f"There is no group {group[:40]!r}.", field=f"{name}[{index}]")
        else:  # mfa_trusted_ips
            value = [str(n) for n in parse_ranges(value, field=name, limit=MAX_TRUSTED_IPS)]
        cleaned[name] = value
    return cleaned


def update(values: dict, *, actor, request=None) -> PolicySettings:
    from watchword.directory.models import Group

    known = frozenset(str(pk) for pk in Group.objects.values_list("pk", flat=True))
    cleaned = clean(values, known_groups=known)
    with transaction.atomic():
        current_settings()
        row = PolicySettings.objects.select_for_update().get(pk=1)
        before = {k: getattr(row, k) for k in cleaned}
        changed = {k: v for k, v in cleaned.items() if before[k] != v}
        if not changed:
            return row
        for name, value in changed.items():
            setattr(row, name, value)
        row.save(update_fields=[*changed, "updated_at"])
        _bump()
        record_change(actor=actor, action="policy.mfa_settings", target_type="settings",
                      before={k: before[k] for k in changed}, after=changed, request=request)
    return row


def methods_policy(row: PolicySettings | None = None):
    return compile_methods_policy((row or current_settings()).methods_policy)


def update_methods_policy(data: object, *, actor, request=None):
    from watchword.directory.models import Group

    known = frozenset(str(pk) for pk in Group.objects.values_list("pk", flat=True))
    compiled = compile_methods_policy(data, known_groups=known)
    stored = export_methods_policy(compiled)
    with transaction.atomic():
        current_settings()
        row = PolicySettings.objects.select_for_update().get(pk=1)
        before = export_methods_policy(compile_methods_policy(row.methods_policy))
        if before == stored:
            return compiled
        row.methods_policy = stored
        row.save(update_fields=["methods_policy", "updated_at"])
        _bump()
        record_change(actor=actor, action="policy.methods_policy", target_type="settings",
                      before=before, after=stored, request=request)
    return compiled
