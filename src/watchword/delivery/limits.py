"""Send limits for texts and calls, against abuse and toll fraud: per person, per number and
per country, texts and calls each counted on their own, in sliding windows.

A send is counted by recording it: the ``PhoneMessage`` row is made while the lock rows of
everything it counts towards are held (``SendLimitLock``, locked in key order so two sends
never wait on each other crosswise). Two sends at the same moment are therefore counted one
after the other, and the row exists before the provider is asked, so a send that then fails
still counts (a toll-fraud pump does not care whether the code arrived).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from watchword.delivery.errors import SendLimited
from watchword.delivery.models import PhoneMessage, SendLimitLock

SCOPES = ("person", "number", "country")


@dataclass(frozen=True)
class Limit:
    scope: str  # "person", "number" or "country"
    count: int  # sends allowed …
    seconds: int  # … in any window of this many seconds

    def describe(self, kind: str) -> str:
        what = "texts" if kind == "text" else "calls"
        return f"per {self.scope}: {self.count} {what} in {self.seconds} s"


def configured_limits() -> tuple[Limit, ...]:
    return (
        Limit("person", settings.PHONE_LIMIT_PER_PERSON, settings.PHONE_LIMIT_PER_PERSON_SECONDS),
        Limit("number", settings.PHONE_LIMIT_PER_NUMBER, settings.PHONE_LIMIT_PER_NUMBER_SECONDS),
        Limit("country", settings.PHONE_LIMIT_PER_COUNTRY, settings.PHONE_LIMIT_PER_COUNTRY_SECONDS),
    )


def wait_after(sent: int, leaving: datetime | None, limit: Limit, now: datetime) -> int:
    """Seconds until one more send fits in ``limit`` (0: it fits now), given how many were sent
    in the current window and, when that is the limit or more, the time of the send whose
    leaving the window brings them below it (pure)."""
    if sent < limit.count or leaving is None:
        return 0
    return max(1, math.ceil((leaving + timedelta(seconds=limit.seconds) - now).total_seconds()))


def record_within_limits(*, kind: str, to: str, country: str, person, now: datetime, **fields) -> PhoneMessage:
    """Count one send against every limit and, if all allow it, record it (status "sending").
    Raises ``SendLimited`` (with the longest wait among the limits it is over) and records
    nothing otherwise. Commits at once when called outside a transaction."""
    scopes = {"number": {"to": to}, "country": {"country": country}}
    if person is not None:
        scopes["person"] = {"person": person}
    limits = [limit for limit in configured_limits() if limit.scope in scopes]
    keys = sorted(f"{kind}:{limit.scope}:{_value(limit.scope, to, country, person)}" for limit in limits)
    with transaction.atomic():
        for key in keys:
            SendLimitLock.objects.get_or_create(key=key)
        list(SendLimitLock.objects.select_for_update().filter(key__in=keys).order_by("key"))
        refusals = []
        for limit in limits:
            since = now - timedelta(seconds=limit.seconds)
            sends = PhoneMessage.objects.filter(kind=kind, created__gt=since, **scopes[limit.scope])
            sent = sends.count()
            leaving = None
            if sent >= limit.count:  # the oldest sends that must leave the window first
                leaving = sends.order_by("created").values_list("created", flat=True)[sent - limit.count]
            wait = wait_after(sent, leaving, limit, now)
            if wait:
                refusals.append((wait, limit))
        if refusals:
            wait, limit = max(refusals, key=lambda refusal: refusal[0])
            raise SendLimited(kind=kind, wait=wait, scope=limit.describe(kind))
        return PhoneMessage.objects.create(kind=kind, to=to, country=country, person=person, created=now, **fields)


def _value(scope: str, to: str, country: str, person) -> str:
    return {"person": lambda: str(person.pk), "number": lambda: to, "country": lambda: country or "-"}[scope]()
