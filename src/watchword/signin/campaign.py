"""The registration campaign (the reference's "nudge"): after a sign-in that used MFA, people who
verify with a phone but have not set up the authenticator app are asked to set it up now, or to
snooze the question for the organisation's days (0: ask again at every MFA sign-in). After the
allowed snoozes, and when the organisation enforces it, "Not now" is gone.

Who is asked (``campaign_nudge``, pure): the campaign is on; the person is in its groups (none
named: everyone) and in none of its excluded groups (exclude wins); the methods policy enables
the authenticator app for them; they have a phone method and no authenticator app for
notifications; and they have not snoozed until later than now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlencode

from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from watchword.audit.services import record_change
from watchword.methods.phone import PHONE_TYPES
from watchword.policy.methods import MethodsPolicy
from watchword.policy.models import CampaignSnooze, PolicySettings
from watchword.policy.services import load
from watchword.signin.errors import SnoozesUsedUp
from watchword.signin.facts import groups_of
from watchword.signin.guards import signed_in_required

PUSH = "push"


@dataclass(frozen=True)
class Nudge:
    """The campaign asks this person now."""

    must_register: bool  # the allowed snoozes are used up and the organisation enforces it
    snoozes_left: int | None  # None: as many as they like (not enforced)
    snooze_days: int


def campaign_nudge(row: PolicySettings, methods: MethodsPolicy, *, groups: frozenset[str],
                   method_types: frozenset[str], snoozes: int, snoozed_until: datetime | None,
                   now: datetime) -> Nudge | None:
    """Whether the campaign asks this person now (None: not)."""
    include = frozenset(str(g) for g in row.campaign_include_groups or ())
    exclude = frozenset(str(g) for g in row.campaign_exclude_groups or ())
    if not row.campaign_enabled or groups & exclude or (include and not groups & include):
        return None
    if "microsoftAuthenticator" not in methods.enabled_for(groups):
        return None
    if PUSH in method_types or not method_types & frozenset(PHONE_TYPES):
        return None
    if snoozed_until is not None and snoozed_until > now:
        return None
    enforced = row.campaign_enforce
    return Nudge(must_register=enforced and snoozes >= row.campaign_snoozes_allowed,
                 snoozes_left=max(0, row.campaign_snoozes_allowed - snoozes) if enforced else None,
                 snooze_days=row.campaign_snooze_days)


def nudge_of(user, *, now: datetime, snooze: CampaignSnooze | None = None) -> Nudge | None:
    loaded = load()
    if not loaded.settings.campaign_enabled:  # the usual case: no further reads
        return None
    if snooze is None:
        snooze = CampaignSnooze.objects.filter(user=user).first()
    return campaign_nudge(loaded.settings, loaded.methods, groups=groups_of(user),
                          method_types=frozenset(user.methods.values_list("type", flat=True)),
                          snoozes=snooze.snoozes if snooze else 0,
                          snoozed_until=snooze.snoozed_until if snooze else None, now=now)


def nudge_url(request, user, next_url: str) -> str | None:
    """Called after a successful sign-in that used MFA: the nudge page's address (it goes on to
    ``next_url``) when the campaign asks this person now, else None."""
    if nudge_of(user, now=timezone.now()) is None:
        return None
    url = reverse("signin:campaign")
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def snooze(user, *, now: datetime, request=None) -> CampaignSnooze:
    """"Not now": one more snooze, until ``now`` + the organisation's days. Refused (and
    audited) when the person must set the app up now."""
    with transaction.atomic():
        CampaignSnooze.objects.get_or_create(user=user)
        row = CampaignSnooze.objects.select_for_update().get(user=user)
        nudge = nudge_of(user, now=now, snooze=row)
        if nudge is None:  # not asked (any more): nothing to snooze
            return row
        if not nudge.must_register:
            before = {"snoozes": row.snoozes}
            row.snoozes += 1
            row.snoozed_until = now + timedelta(days=nudge.snooze_days)
            row.save(update_fields=["snoozes", "snoozed_until"])
            record_change(actor=user, action="campaign.snooze", target=user, request=request, before=before,
                          after={"snoozes": row.snoozes, "snoozed_until": row.snoozed_until.isoformat()})
            return row
    record_change(actor=user, action="campaign.snooze", target=user, request=request, result="failure",
                  reason=f"all {row.snoozes} snoozes used; registration is enforced")
    raise SnoozesUsedUp()


def _safe_next(request, value: str | None) -> str:
    from watchword.signin.views import safe_next  # the sign-in views import this module

    return safe_next(request, value)


@signed_in_required
@require_http_methods(["GET", "HEAD", "POST"])
def campaign_view(request):
    """"Improve your sign-ins": set the app up now, or "Not now" while snoozes are left."""
    user = request.user
    next_url = _safe_next(request, request.POST.get("next") or request.GET.get("next")) or reverse("portal:myaccount")
    now = timezone.now()
    nudge = nudge_of(user, now=now)
    if nudge is None:  # not (or no longer) asked: go on
        return HttpResponseRedirect(next_url)
    error, status = "", 200
    if request.method == "POST" and request.POST.get("action") == "snooze":
        try:
            snooze(user, now=now, request=request)
        except SnoozesUsedUp as exc:
            error, status = exc.public_message, exc.status
        else:
            return HttpResponseRedirect(next_url)
    setup_url = f"{reverse('portal:add_authenticator')}?{urlencode({'next': next_url})}"
    return render(request, "signin/campaign.html", {"nudge": nudge, "next": next_url, "setup_url": setup_url,
                                                    "error": error}, status=status)
