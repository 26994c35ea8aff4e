"""Texts and calls to people's phones: the one door the phone methods go through.

``send_text`` and ``place_call`` check the number (valid, and in an allowed country), count the
send against the limits (per person, per number, per country: ``delivery.limits``), record it,
and only then hand it to the provider chosen by ``WATCHWORD_PHONE_PROVIDER``
(``delivery.providers``). Every send and every refused send leaves an audit event with the
number masked (``+44 74•••••456``) and never the words sent, which hold the code.

A call's result comes back later, from the provider's callback or the outbox page, through
``finish_call``, which records it once and sends ``delivery.signals.call_finished``.

Call these outside a database transaction: inside one, the send limits' locks are held until
it ends (while the provider is asked, too) and a fast callback cannot yet see the call.
"""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from watchword.audit.services import record_change
from watchword.delivery import providers
from watchword.delivery.errors import (
    CallAlreadyFinished,
    CallNotFound,
    DeliveryFailed,
    DestinationInvalid,
    DestinationNotAllowed,
    SendLimited,
)
from watchword.delivery.limits import record_within_limits
from watchword.delivery.models import PhoneMessage
from watchword.delivery.numbers import country_place, destination, mask_number
from watchword.delivery.signals import call_finished

log = logging.getLogger("watchword.delivery")

MAX_TEXT = 1600  # what providers accept in one (multi-part) text
MAX_GREETING = 1000
_PURPOSE = re.compile(r"[a-z][a-z0-9_.-]{0,39}")
_CALL_REF = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
RESULTS = tuple(PhoneMessage.Result.values)


@dataclass(frozen=True)
class Sent:
    id: str  # our id for this message or call: "msg_…" or "call_…"
    provider: str  # "outbox", "twilio" or "webhook"


def send_text(*, to: str, body: str, person, purpose: str) -> Sent:
    """Send ``body`` by text message to ``to`` (E.164, like "+447400123456") for ``person``
    (a directory User, or None), labelled ``purpose`` ("mfa_signin", "mfa_register" …).

    Raises ``DestinationInvalid``, ``DestinationNotAllowed`` or ``SendLimited`` before anything
    is sent, ``DeliveryFailed`` when the provider refuses it or cannot be reached."""
    if not isinstance(body, str) or not body.strip() or len(body) > MAX_TEXT:
        raise ValueError(f"a text's body is 1 to {MAX_TEXT} characters")
    _check_purpose(purpose)
    return _send(PhoneMessage.Kind.TEXT, to=to, extension="", words=body, person=person, purpose=purpose,
                 call_ref="")


def place_call(*, to: str, extension: str = "", greeting: str, person, purpose: str, call_ref: str) -> Sent:
    """Call ``to`` (E.164), dial ``extension`` once connected (office phones), say ``greeting``
    and listen for # (confirmed) or 0# (fraud). The result comes later as the signal
    ``call_finished`` with ``call_ref``; it is not sent for a call this raises for.

    Raises as ``send_text`` does."""
    if not isinstance(greeting, str) or not greeting.strip() or len(greeting) > MAX_GREETING:
        raise ValueError(f"a call's greeting is 1 to {MAX_GREETING} characters")
    if not isinstance(extension, str) or (extension and not (extension.isascii() and extension.isdigit()
                                                               and len(extension) <= 10)):
        raise ValueError("an extension is up to 10 digits")
    if not isinstance(call_ref, str) or not _CALL_REF.fullmatch(call_ref):
        raise ValueError("call_ref is 1 to 64 letters, digits or _.:-")
    _check_purpose(purpose)
    return _send(PhoneMessage.Kind.CALL, to=to, extension=extension, words=greeting, person=person,
                 purpose=purpose, call_ref=call_ref)


def finish_call(message_id: str, result: str, *, provider: str, actor="system", request=None) -> PhoneMessage:
    """Record a call's result once and send ``call_finished``, in one transaction (a receiver
    that raises undoes both). Raises ``CallNotFound`` for no call of ``provider`` with that id,
    ``CallAlreadyFinished`` when it already has a result (then nothing is sent again)."""
    if result not in RESULTS:
        raise ValueError(f"a call's result is one of {', '.join(RESULTS)}")
    calls = PhoneMessage.objects.filter(pk=message_id, kind=PhoneMessage.Kind.CALL, provider=provider)
    with transaction.atomic():
        changed = calls.filter(status__in=[PhoneMessage.Status.SENDING, PhoneMessage.Status.RINGING]).update(
            status=PhoneMessage.Status.FINISHED, result=result, finished=timezone.now())
        message = calls.select_related("person").first()
        if message is None:
            raise CallNotFound()
        if not changed:
            raise CallAlreadyFinished(result=message.result or message.get_status_display().lower())
        record_change(actor=actor, action="delivery.call.result", target=message.person, request=request,
                      after={"id": message.id, "result": result, "provider": provider, "purpose": message.purpose,
                             "to": mask_number(message.to)})
        call_finished.send(sender=PhoneMessage, call_ref=message.call_ref, result=result, message_id=message.id)
    log.info("call %s to %s: %s", message.id, mask_number(message.to), result)
    return message


# --- sending -------------------------------------------------------------------------------


def _check_purpose(purpose: str) -> None:
    if not isinstance(purpose, str) or not _PURPOSE.fullmatch(purpose):
        raise ValueError("purpose is a short label like 'mfa_signin' (lower-case letters, digits, _.-)")


def _new_id(kind: str) -> str:
    return ("msg_" if kind == PhoneMessage.Kind.TEXT else "call_") + secrets.token_urlsafe(16)


def _send(kind: str, *, to: str, extension: str, words: str, person, purpose: str, call_ref: str) -> Sent:
    provider = providers.current()
    action = "delivery.text.send" if kind == PhoneMessage.Kind.TEXT else "delivery.call.place"
    audit = {"provider": provider.name, "purpose": purpose, "to": mask_number(to) if isinstance(to, str) else "+•••"}
    try:
        where = destination(to)
        audit["country"] = where.country
        allowed = settings.PHONE_ALLOWED_COUNTRIES
        if allowed and where.country not in allowed:
            raise DestinationNotAllowed(country=where.country, place=country_place(where.country, where.e164))
        message = record_within_limits(
            kind=kind, to=where.e164, country=where.country, person=person, now=timezone.now(), id=_new_id(kind),
            extension=extension, body=words if provider.keeps_words else "", purpose=purpose, call_ref=call_ref,
            provider=provider.name)
    except (DestinationInvalid, DestinationNotAllowed, SendLimited) as exc:
        reason = f"{exc.code}: {exc.scope}" if isinstance(exc, SendLimited) else exc.code
        if isinstance(exc, SendLimited):
            audit["wait"] = exc.wait
        log.info("%s to %s for %s refused: %s", kind, audit["to"], purpose, reason)
        record_change(actor="system", action=action, target=person, after=audit, result="refused", reason=reason)
        raise
    audit["id"] = message.id
    try:
        if kind == PhoneMessage.Kind.TEXT:
            reference = provider.send_text(message, words)
        else:
            reference = provider.place_call(message, words)
    except providers.ProviderError as exc:
        PhoneMessage.objects.filter(pk=message.pk).update(status=PhoneMessage.Status.FAILED)
        log.warning("%s %s to %s via %s failed: %s", kind, message.id, audit["to"], provider.name, exc)
        record_change(actor="system", action=action, target=person, after=audit, result="failure",
                      reason=str(exc))
        raise DeliveryFailed(provider=provider.name) from exc
    reference = (reference or "")[:64]
    if kind == PhoneMessage.Kind.TEXT:
        PhoneMessage.objects.filter(pk=message.pk).update(status=PhoneMessage.Status.SENT, provider_ref=reference)
    else:  # a result that came back already (a fast callback) stays as it is
        PhoneMessage.objects.filter(pk=message.pk, status=PhoneMessage.Status.SENDING).update(
            status=PhoneMessage.Status.RINGING)
        PhoneMessage.objects.filter(pk=message.pk).update(provider_ref=reference)
    if not provider.keeps_words:
        log.info("%s %s to %s for %s handed to %s", kind, message.id, audit["to"], purpose, provider.name)
    record_change(actor="system", action=action, target=person, after=audit)
    return Sent(id=message.id, provider=provider.name)


def purge_stale(now) -> int:
    """Forget texts and calls older than ``WATCHWORD_PHONE_HISTORY_DAYS`` (never one that still
    counts towards a limit); returns how many."""
    from datetime import timedelta

    from django.conf import settings

    from watchword.delivery.limits import configured_limits
    from watchword.delivery.models import PhoneMessage

    keep = max(timedelta(days=settings.PHONE_HISTORY_DAYS),
               max(timedelta(seconds=limit.seconds) for limit in configured_limits()))
    deleted, _ = PhoneMessage.objects.filter(created__lt=now - keep).delete()
    return deleted
