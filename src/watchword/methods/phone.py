"""Phone methods: the authentication phone (a mobile: a code by text message, or a call), the
alternate phone (a call) and the office phone (a call that dials the extension). One of each per
person; the number is checked before anything is sent to it (``directory.phones``).

A text code is 6 digits from the OS's CSPRNG, valid 5 minutes, used once, with a few tries; only
its keyed hash is stored, and a try is counted (compare-and-set) before the code is compared.
A call asks the person to press # to finish (0# reports fraud); the provider's result comes back
through ``delivery.signals.call_finished`` and is applied once, then published to the page that
waits for it. Sending goes through ``delivery.phone``, which enforces the toll-fraud limits.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from django.conf import settings
from django.db import transaction

from watchword.delivery import fanout
from watchword.directory.phones import PhoneNumber, display_phone
from watchword.methods.models import CallState, PhoneCall, PhoneCode
from watchword.methods.registry import VerifyOutcome, register

CODE_SECONDS = 300
CODE_DIGITS = 6
CALL_SECONDS = 90


class _PhoneType:
    per_user_limit: ClassVar[int] = 1
    verifies_codes: ClassVar[bool] = False  # text codes have their own, single-use check
    channels: ClassVar[tuple[str, ...]] = ("call",)
    allow_extension: ClassVar[bool] = False

    def begin_enrolment(self, *, user, issuer: str, now: datetime) -> dict:
        raise NotImplementedError("phones enrol through the wizard's phone steps")

    def confirm_enrolment(self, *, user, pending: dict, response: str, now: datetime, name: str):
        raise NotImplementedError("phones enrol through the wizard's phone steps")

    def verify(self, *, method, response: str, now: datetime) -> VerifyOutcome:
        return VerifyOutcome(ok=False, reason="malformed")

    def can_verify_now(self, *, method) -> bool:
        return True

    def reseal(self, *, method, old, new) -> str:
        return method.secret_sealed  # nothing sealed: a phone method holds no secret


@register
class AuthenticationPhone(_PhoneType):
    key: ClassVar[str] = "phone"
    label: ClassVar[str] = "Phone"
    detail: ClassVar[str] = "A code by text message, or a call"
    amr: ClassVar[tuple[str, ...]] = ("sms",)
    preference: ClassVar[int] = 40
    channels: ClassVar[tuple[str, ...]] = ("text", "call")


@register
class AlternatePhone(_PhoneType):
    key: ClassVar[str] = "alternate_phone"
    label: ClassVar[str] = "Alternate phone"
    detail: ClassVar[str] = "A call"
    amr: ClassVar[tuple[str, ...]] = ("tel",)
    preference: ClassVar[int] = 41


@register
class OfficePhone(_PhoneType):
    key: ClassVar[str] = "office_phone"
    label: ClassVar[str] = "Office phone"
    detail: ClassVar[str] = "A call (dials the extension)"
    amr: ClassVar[tuple[str, ...]] = ("tel",)
    preference: ClassVar[int] = 42
    allow_extension: ClassVar[bool] = True


PHONE_TYPES = ("phone", "alternate_phone", "office_phone")
_KINDS = {kind.key: kind for kind in (AuthenticationPhone, AlternatePhone, OfficePhone)}
AMR = {"text": "sms", "call": "tel"}


def masked(stored: str) -> str:
    """"+44 XXXXXXXX56", as the reference shows a number it is about to use."""
    shown = display_phone(stored.partition("x")[0])
    country, _, national = shown.partition(" ")
    return f"{country} {'X' * max(0, len(national) - 2)}{national[-2:]}" if national else shown


def channel_of(method) -> str:
    """How a phone method reaches the person at sign-in: their preferred channel when its kind
    offers it, else the kind's first (a text for the authentication phone, a call otherwise)."""
    channels = _KINDS[method.type].channels
    return method.preferred_channel if method.preferred_channel in channels else channels[0]


def split(stored: str) -> PhoneNumber:
    e164, _, extension = stored.partition("x")
    return PhoneNumber(e164=e164, extension=extension)


# ----------------------------------------------------------------------------------------------
# Text codes


def _code_hash(row_user_id: int, code: str, salt: str) -> str:
    key = hashlib.sha256(f"watchword.phone-code:{settings.SECRET_KEY}".encode()).digest()
    return hmac.new(key, f"{row_user_id}:{salt}:{code}".encode(), hashlib.sha256).hexdigest()


def send_code(user, *, phone: str, purpose: str, now: datetime) -> PhoneCode:
    """Text a new code to ``phone``. Delivery's errors (limits, a country not allowed, a provider
    failure) propagate, and then no code row is left behind. The provider is called outside any
    transaction: a slow one must not hold the database's write lock."""
    from watchword.delivery.phone import send_text

    code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
    salt = secrets.token_hex(8)
    row = PhoneCode.objects.create(user=user, phone=phone, purpose=purpose, created_at=now,
                                   expires_at=now + timedelta(seconds=CODE_SECONDS),
                                   code_hash=f"{salt}${_code_hash(user.pk, code, salt)}")
    if secrets.randbelow(200) == 0:  # now and then, drop what can no longer be used
        purge_stale(now)
    try:
        send_text(to=split(phone).e164, person=user, purpose=f"mfa_{purpose}",
                  body=f"Use verification code {code} for {settings.ORGANISATION_NAME}. It expires in 5 minutes.")
    except Exception:
        row.delete()
        raise
    return row


@dataclass(frozen=True)
class CodeCheck:
    ok: bool
    reason: str = ""  # "malformed", "invalid", "expired", "used", "too_many"
    tries_left: int = 0


def check_code(code_id: object, user, typed: object, *, now: datetime) -> CodeCheck:
    text = typed.replace(" ", "").strip() if isinstance(typed, str) else ""
    if len(text) != CODE_DIGITS or not text.isascii() or not text.isdigit():
        return CodeCheck(ok=False, reason="malformed")
    row = PhoneCode.objects.filter(pk=code_id, user=user).first() if isinstance(code_id, int) else None
    if row is None or row.used_at is not None:
        return CodeCheck(ok=False, reason="used")
    if row.expires_at <= now:
        return CodeCheck(ok=False, reason="expired")
    limit = settings.MFA_CODE_ATTEMPTS
    # Count the try first, so two racing guesses cannot both slip under the limit.
    if PhoneCode.objects.filter(pk=row.pk, used_at__isnull=True, attempts__lt=limit).update(
            attempts=row.attempts + 1) != 1:
        return CodeCheck(ok=False, reason="too_many")
    salt, _, wanted = row.code_hash.partition("$")
    if not hmac.compare_digest(_code_hash(user.pk, text, salt), wanted):
        left = limit - row.attempts - 1
        return CodeCheck(ok=False, reason="invalid" if left > 0 else "too_many", tries_left=left)
    if PhoneCode.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now) != 1:
        return CodeCheck(ok=False, reason="used")
    return CodeCheck(ok=True)


def purge_stale(now: datetime) -> None:
    """Drop text codes and calls a day after they ended: they can no longer be used."""
    cutoff = now - timedelta(days=1)
    PhoneCode.objects.filter(expires_at__lt=cutoff).delete()
    PhoneCall.objects.filter(expires_at__lt=cutoff).delete()


# ----------------------------------------------------------------------------------------------
# Calls


def start_call(user, *, phone: str, method_type: str, purpose: str, now: datetime, flow_id: str = "",
               log_app: str = "portal") -> PhoneCall:
    """Call ``phone``; ``log_app`` is the application the sign-in log names when the call is
    refused or not answered."""
    from watchword.delivery.phone import place_call

    number = split(phone)
    call = PhoneCall.objects.create(id="call_" + secrets.token_urlsafe(16), user=user, phone=phone,
                                    method_type=method_type, purpose=purpose, flow_id=flow_id, created_at=now,
                                    expires_at=now + timedelta(seconds=CALL_SECONDS), log_app=log_app[:64])
    try:
        place_call(to=number.e164, extension=number.extension, person=user, purpose=f"mfa_{purpose}",
                   call_ref=call.id, greeting=(
                       f"This is {settings.ORGANISATION_NAME}. To finish signing in, press the pound key. "
                       "If you did not try to sign in, press zero, then the pound key."))
    except Exception:
        call.delete()
        raise
    return call


def call_status(call: PhoneCall | None, now: datetime) -> str:
    """``ringing``, ``confirmed``, ``fraud``, ``no_input``, ``failed``, ``expired`` or ``missing``."""
    if call is None or call.consumed:
        return "missing"
    if call.state == CallState.RINGING:
        return "expired" if call.expires_at <= now else "ringing"
    return call.state


def use_call(call: PhoneCall) -> bool:
    return PhoneCall.objects.filter(pk=call.pk, state=CallState.CONFIRMED, consumed=False).update(consumed=True) == 1


def finish_call(call_ref: str, result: str, *, now: datetime) -> bool:
    """Apply a call's result once; a fraud report has the push one's effect. False when the
    call is unknown or already finished."""
    if result not in (CallState.CONFIRMED, CallState.FRAUD, CallState.NO_INPUT, CallState.FAILED):
        return False
    with transaction.atomic():
        won = PhoneCall.objects.filter(pk=call_ref, state=CallState.RINGING).update(state=result, finished_at=now)
        if won != 1:
            return False
        call = PhoneCall.objects.select_related("user").get(pk=call_ref)
        if result != CallState.CONFIRMED:
            _record_refusal(call, now)
        fanout.publish_on_commit(f"call:{call.id}", "answered", json.dumps({"state": result}), close=True)
    return True


CALL_DETAILS = {
    CallState.FRAUD: "MFA denied; fraud code entered",
    CallState.NO_INPUT: "MFA denied; the call was answered but # was not pressed",
    CallState.FAILED: "MFA denied; the phone call was not answered",
}


def _record_refusal(call: PhoneCall, now: datetime) -> None:
    from watchword.audit import codes
    from watchword.audit.services import record_signin

    record_signin(request=None, flow_id=call.flow_id or call.id, typed_name=call.user.upn, user=call.user,
                  step="mfa" if call.purpose == "signin" else "registration", result="failure",
                  error_code=codes.MFA_DENIED, reason=CALL_DETAILS[call.state], method=call.method_type,
                  app=call.log_app)
    if call.state == CallState.FRAUD:
        from watchword.methods.services import report_fraud

        report_fraud(call.user, method_type=call.method_type, challenge_id=call.id, app="voice call", now=now)


def on_call_finished(sender, call_ref: str, result: str, **kwargs) -> None:
    """Receiver of ``delivery.signals.call_finished``."""
    from django.utils import timezone

    finish_call(call_ref, result, now=timezone.now())


def register_phone(user, *, method_type: str, phone: str, now: datetime, replace: bool = False, request=None):
    """Save a verified phone as a method: one of each kind per person. ``replace`` changes the
    number of the person's existing phone of that kind (Security info's "Change")."""
    from django.contrib.auth import get_user_model

    from watchword.audit.services import record_change
    from watchword.methods import registry
    from watchword.methods.errors import MethodLimitReached
    from watchword.methods.models import Method

    kind = registry.get(method_type)
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        existing = Method.objects.filter(user=user)
        current = existing.filter(type=method_type).first()
        if current is not None and replace:
            before = current.phone
            Method.objects.filter(pk=current.pk).update(phone=phone, last_used_at=now)
            record_change(actor=user, action="method.change", target=user, request=request,
                          before={"type": method_type, "phone": masked(before)},
                          after={"type": method_type, "phone": masked(phone), "method_id": current.pk})
            current.phone = phone
            return current
        if current is not None:
            raise MethodLimitReached(f"You already have an {kind.label.lower()}. Change or delete it on Security "
                                     "info instead.")
        return Method.objects.create(user=user, type=method_type, name=kind.label, phone=phone, last_used_at=now,
                                     is_default=not existing.filter(is_default=True).exists())
