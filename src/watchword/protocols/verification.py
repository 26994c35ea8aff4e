"""Second factors for backends that have already checked who is signing in (their own password,
a smart card, a session) and want Watchword to check the rest: ``POST /api/v1/verify`` and
``/api/v1/challenges``.

Everything goes through the web sign-in's own services, so the limits are the same: codes are
usable once and throttled per person (``signin.services.verify_code``), push requests count
against MFA fatigue (``WATCHWORD_PUSH_REQUESTS_FREE``), texts and calls against the delivery
limits per person, number and country. Every attempt is a row in the sign-in log under the
calling application (``api:<name>``)."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from watchword.audit import codes
from watchword.audit.services import record_signin
from watchword.core.errors import NotFound, WatchwordError
from watchword.directory.models import User
from watchword.directory.services import get_user
from watchword.methods import phone, push, registry
from watchword.methods.models import Method, PhoneCall, PhoneCode, PushChallenge
from watchword.methods.services import default_method_of, methods_of
from watchword.protocols.models import ApiChallenge
from watchword.protocols.tokens import Caller
from watchword.signin import services as signin
from watchword.signin import throttle
from watchword.signin.flow import Flow

CODE_RE = re.compile(r"^[0-9]{6,8}$")
APP_RE = re.compile(r"^[^\x00-\x1f\x7f]{1,64}$")
METHODS = ("push", "sms", "voice")
PHONE_TYPES = {"mobile": "phone", "alternateMobile": "alternate_phone", "office": "office_phone"}


class VerifyInvalid(WatchwordError):
    code = "invalid_field"
    message = "Check the request's fields."


class Throttled(WatchwordError):
    code = "throttled"
    status = 429
    message = "Too many attempts for this person. Wait, then try again."


class MethodUnavailable(WatchwordError):
    code = "method_unavailable"
    status = 409
    message = "The person has no method of that kind."


class ChallengeNotFound(NotFound):
    code = "challenge_not_found"
    message = "There is no such challenge."


class ApiRequest:
    """What the sign-in services read from a request: the address (throttling, the log) and the
    user agent. The address is the end user's, when the backend passes it (``ipAddress``)."""

    def __init__(self, ip: str | None, user_agent: str) -> None:
        self.META = {"REMOTE_ADDR": ip or "", "HTTP_USER_AGENT": user_agent}


# ----------------------------------------------------------------------------------------------
# Input


def clean_user(value: object) -> User:
    if not isinstance(value, (str, int)) or isinstance(value, bool) or str(value).strip() == "":
        raise VerifyInvalid("user must be the person's sign-in name or id.", field="user")
    return get_user(value)


def clean_code(value: object) -> str:
    text = value.replace(" ", "") if isinstance(value, str) else ""
    if not CODE_RE.match(text):
        raise VerifyInvalid("code must be the 6 to 8 digits the person sees.", field="code")
    return text


def clean_app(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not APP_RE.match(value.strip() or "\x00"):
        raise VerifyInvalid("app must be 1 to 64 characters: the name shown to the person.", field="app")
    return value.strip()


# ----------------------------------------------------------------------------------------------
# Verify a code


@dataclass(frozen=True)
class VerifyResult:
    accepted: bool
    reason: str = ""  # why not: see docs/api.md
    method: str = ""
    retry_after: int = 0


def verify(caller: Caller, *, user: User, code: str, challenge_id: str = "", ip: str | None = None,
           user_agent: str = "") -> VerifyResult:
    """Check ``code`` for ``user``: their authenticator codes, or, with ``challenge_id``, the code
    of a text the caller sent them."""
    request = ApiRequest(ip, user_agent)
    app = caller.log_app
    flow = Flow.start(user.upn)
    refusal = _refuse_person(user, flow, request, app)
    if refusal:
        return refusal
    if challenge_id:
        return _verify_text(_text_challenge(caller, user, challenge_id), user, code, flow, request, app)
    result = signin.verify_code(flow, user, code, request, app=app)
    if result.reason == "no_code_method":
        record_signin(request=request, flow_id=flow.id, typed_name=user.upn, user=user, step="mfa", result="failure",
                      error_code=codes.MFA_REQUIRED, reason="no authenticator code method registered", app=app)
        return VerifyResult(False, "no_code_method")
    if result.ok:
        record_signin(request=request, flow_id=flow.id, typed_name=user.upn, user=user, step="complete",
                      result="success", method="code", app=app)
        return VerifyResult(True, method="code")
    if result.reason == "throttled":
        return VerifyResult(False, "throttled", retry_after=result.wait)
    return VerifyResult(False, {"reused": "code_reused", "malformed": "wrong_code"}.get(result.reason, "wrong_code"))


def _refuse_person(user: User, flow: Flow, request, app: str) -> VerifyResult | None:
    if not user.is_active:
        record_signin(request=request, flow_id=flow.id, typed_name=user.upn, user=user, step="mfa", result="failure",
                      error_code=codes.ACCOUNT_DISABLED, reason="account disabled", app=app)
        return VerifyResult(False, "account_disabled")
    from watchword.signin.facts import mfa_blocked

    if mfa_blocked(user):
        record_signin(request=request, flow_id=flow.id, typed_name=user.upn, user=user, step="mfa", result="failure",
                      error_code=codes.MFA_DENIED, reason="MFA denied; user is blocked", app=app)
        return VerifyResult(False, "mfa_blocked")
    # Conditional Access for the verification API (client type "api"): only a block is enforced
    # here; the backend asked for the second factor itself.
    from watchword.methods.services import methods_of
    from watchword.policy.document import APP_API
    from watchword.policy.engine import Outcome
    from watchword.signin.services import decide

    evaluation = decide(user, methods_of(user), app=APP_API, client="api", request=request)
    if evaluation.decision.outcome == Outcome.BLOCK and evaluation.decision.requirement != "fraud_block":
        record_signin(request=request, flow_id=flow.id, typed_name=user.upn, user=user, step="policy",
                      result="failure", error_code=evaluation.decision.error_code or 53003,
                      reason="; ".join(r.detail for r in evaluation.decision.reasons)[:300], app=app,
                      requirement=evaluation.decision.requirement, **evaluation.log_fields())
        return VerifyResult(False, "blocked_by_policy")
    return None


def _text_challenge(caller: Caller, user: User, challenge_id: str) -> ApiChallenge:
    row = (ApiChallenge.objects.filter(pk=challenge_id, user=user, caller=caller.key, method="sms").first()
           if CHALLENGE_ID_RE.match(challenge_id) else None)
    if row is None:
        raise ChallengeNotFound("There is no text challenge with that id for this person.", field="challengeId")
    return row


def _verify_text(row: ApiChallenge, user: User, code: str, flow: Flow, request, app: str) -> VerifyResult:
    now = timezone.now()
    if row.status != "pending":
        return VerifyResult(False, "challenge_" + row.status)
    check = phone.check_code(int(row.ref), user, code, now=now)
    if check.ok:
        _settle(row, "approved", "", now)
        record_signin(request=request, flow_id=row.flow_id, typed_name=user.upn, user=user, step="complete",
                      result="success", method="phone", app=app)
        return VerifyResult(True, method="sms")
    reason = {"expired": "challenge_expired", "used": "challenge_used", "too_many": "too_many_attempts"}.get(
        check.reason, "wrong_code")
    if reason in ("challenge_expired", "too_many_attempts"):
        _settle(row, "expired" if reason == "challenge_expired" else "denied", reason, now)
    record_signin(request=request, flow_id=row.flow_id, typed_name=user.upn, user=user, step="mfa", result="failure",
                  error_code=codes.MFA_FAILED if reason == "wrong_code" else codes.MFA_ATTEMPTS_EXCEEDED,
                  reason=f"text code: {check.reason}", method="phone", app=app)
    return VerifyResult(False, reason)


def _settle(row: ApiChallenge, status: str, detail: str, now: datetime) -> bool:
    """Settle a challenge once (compare-and-set); later reads see the same status."""
    won = ApiChallenge.objects.filter(pk=row.pk, status="pending").update(status=status, detail=detail[:64],
                                                                          finished_at=now) == 1
    if won:
        row.status, row.detail, row.finished_at = status, detail, now
    return won


# ----------------------------------------------------------------------------------------------
# Challenges: push, text, voice


def clean_method(value: object) -> str:
    if value is None:
        return ""
    if value not in METHODS:
        raise VerifyInvalid(f"method must be one of {', '.join(METHODS)}.", field="method")
    return value


def _pick(user: User, method: str) -> tuple[str, Method | None]:
    """The method kind and the phone to use: the one asked for, or the person's default."""
    methods = methods_of(user)
    if not method:
        default = default_method_of(methods)
        if default is None:
            raise MethodUnavailable("The person has no authentication method registered.", field="user")
        if default.type == push.PushMethod.key:
            method = "push"
        elif default.type in phone.PHONE_TYPES:
            channels = registry.get(default.type).channels
            channel = default.preferred_channel if default.preferred_channel in channels else channels[0]
            return ("sms" if channel == "text" else "voice"), default
        else:
            raise MethodUnavailable("The person's default method is an authenticator code: ask them for the code "
                                    "and send it to /api/v1/verify.", field="method")
    if method == "push":
        if not push.active_devices(user):
            raise MethodUnavailable("The person has no authenticator app set up for notifications.", field="method")
        return "push", None
    wanted = "text" if method == "sms" else "call"
    phones = [m for m in methods if m.type in phone.PHONE_TYPES and wanted in registry.get(m.type).channels]
    if not phones:
        raise MethodUnavailable(f"The person has no phone that can receive a {'text' if wanted == 'text' else 'call'}.",
                                field="method")
    phones.sort(key=lambda m: (not m.is_default, phone.PHONE_TYPES.index(m.type)))
    return method, phones[0]


def start(caller: Caller, *, user: User, method: str, app: str, ip: str | None = None,
          user_agent: str = "") -> ApiChallenge:
    request = ApiRequest(ip, user_agent)
    log_app = caller.log_app
    flow = Flow.start(user.upn)
    refusal = _refuse_person(user, flow, request, log_app)
    if refusal:
        raise MethodUnavailable({"account_disabled": "The person's account is disabled.",
                                 "mfa_blocked": "The person is blocked from MFA after a fraud report; an "
                                                "administrator must unblock them.",
                                 "blocked_by_policy": "A Conditional Access policy blocks this person here."
                                 }[refusal.reason],
                                field="user", reason=refusal.reason)
    kind, method_row = _pick(user, method)
    shown = app or caller.name or settings.ORGANISATION_NAME
    now = timezone.now()
    row = ApiChallenge(id="apc_" + secrets.token_urlsafe(16), user=user, method=kind, caller=caller.key, app=shown[:64],
                       log_app=log_app, flow_id=flow.id, created_at=now)
    if kind == "push":
        key = throttle.key_for("push", str(user.pk))
        wait = throttle.standing([key], now).wait
        if wait:
            record_signin(request=request, flow_id=flow.id, typed_name=user.upn, user=user, step="mfa",
                          result="failure", error_code=codes.THROTTLED, method=push.PushMethod.key, app=log_app,
                          reason=f"sign-in requests throttled for {wait} s")
            raise Throttled(f"Too many sign-in requests for this person. {throttle.wait_phrase(wait)}, then try "
                            "again.", retry_after=wait)
        throttle.record_failure(key, signin.push_limit(), now)
        with transaction.atomic():
            target = push.create_challenge(user, purpose="signin", app=shown, ip=ip, now=now, flow_id=flow.id,
                                           log_app=log_app)
            row.ref, row.expires_at = target.id, target.expires_at
            row.save(force_insert=True)
        row.number = target.number
    else:
        try:
            if kind == "sms":
                target = phone.send_code(user, phone=method_row.phone, purpose="signin", now=now)
                row.ref, row.expires_at = str(target.pk), target.expires_at
            else:
                target = phone.start_call(user, phone=method_row.phone, method_type=method_row.type, purpose="signin",
                                          now=now, flow_id=flow.id)
                row.ref, row.expires_at = target.id, target.expires_at
        except WatchwordError as exc:
            record_signin(request=request, flow_id=flow.id, typed_name=user.upn, user=user, step="mfa",
                          result="failure", error_code=codes.MFA_FAILED, reason=f"{kind} not sent: {exc.code}",
                          method=method_row.type, app=log_app)
            raise
        row.save(force_insert=True)
        row.phone = phone.masked(method_row.phone)
    record_signin(request=request, flow_id=flow.id, typed_name=user.upn, user=user, step="mfa", result="interrupted",
                  reason=f"{kind} sent", method=push.PushMethod.key if kind == "push" else method_row.type,
                  app=log_app)
    return row


CHALLENGE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def get(caller: Caller, challenge_id: object) -> ApiChallenge:
    text = str(challenge_id or "")
    row = (ApiChallenge.objects.select_related("user").filter(pk=text, caller=caller.key).first()
           if CHALLENGE_ID_RE.match(text) else None)
    if row is None:
        raise ChallengeNotFound()
    return row


def status(row: ApiChallenge) -> ApiChallenge:
    """Bring a pending challenge up to date with its method's record, settling it (and logging
    the result) the first time it is seen answered."""
    if row.status != "pending":
        return row
    now = timezone.now()
    user = row.user
    request = ApiRequest(None, "")
    if row.method == "push":
        target = PushChallenge.objects.filter(pk=row.ref, user=user).first()
        state = signin.push_status(target, now)
        if state == "approved":
            if signin.use_approval(target, user) and _settle(row, "approved", "", now):
                record_signin(request=request, flow_id=row.flow_id, typed_name=user.upn, user=user, step="complete",
                              result="success", method=push.PushMethod.key, app=row.log_app,
                              ip=target.ip if target else None)
        elif state in ("expired", "missing"):
            if _settle(row, "expired", "not answered in time", now):
                record_signin(request=request, flow_id=row.flow_id, typed_name=user.upn, user=user, step="mfa",
                              result="failure", error_code=codes.MFA_DENIED, method=push.PushMethod.key,
                              reason="MFA denied; user did not respond to mobile app notification", app=row.log_app)
        elif state != "pending":
            _settle(row, "denied", state, now)  # the device's answer was logged when it came
    elif row.method == "voice":
        call = PhoneCall.objects.filter(pk=row.ref, user=user).first()
        state = phone.call_status(call, now)
        if state == "confirmed":
            if phone.use_call(call) and _settle(row, "approved", "", now):
                record_signin(request=request, flow_id=row.flow_id, typed_name=user.upn, user=user, step="complete",
                              result="success", method=call.method_type, app=row.log_app)
        elif state in ("expired", "missing"):
            if _settle(row, "expired", "the call was not answered in time", now):
                record_signin(request=request, flow_id=row.flow_id, typed_name=user.upn, user=user, step="mfa",
                              result="failure", error_code=codes.MFA_DENIED, method=call.method_type if call else "",
                              reason="MFA denied; the phone call was not answered", app=row.log_app)
        elif state != "ringing":
            _settle(row, "denied", {"fraud": "reported", "no_input": "no_input", "failed": "not_answered"}.get(
                state, state), now)
    elif row.expires_at <= now:  # a text: settled by /verify, or expired here
        code = PhoneCode.objects.filter(pk=int(row.ref)).first() if row.ref.isdigit() else None
        if code is None or code.used_at is None:
            _settle(row, "expired", "the code was not entered in time", now)
    return row


def cancel(caller: Caller, row: ApiChallenge) -> ApiChallenge:
    """The backend no longer waits (the person chose another way, or left): the request ends,
    so the person's devices stop offering it."""
    now = timezone.now()
    if row.status == "pending":
        if row.method == "push":
            push.withdraw(row.ref, now)
        elif row.method == "sms":
            PhoneCode.objects.filter(pk=int(row.ref), used_at__isnull=True).update(expires_at=now)
        _settle(row, "expired", "cancelled", now)
    return row
