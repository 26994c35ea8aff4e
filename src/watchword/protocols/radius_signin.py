"""A sign-in over RADIUS: one Access-Request, decided with the web sign-in's own services.

The password goes through ``signin.services.check_password`` (throttled, the same answer for an
unknown name as for a wrong password), the decision through ``decide()``, authenticator codes
through ``verify_code()``. When a second factor is needed, the person's default method decides:

- an authenticator code: Access-Challenge "Enter the code from your authenticator app" with a
  random State; the NAS asks the person and sends a second Access-Request with that State and the
  code as its password. ``password,code`` in one request is read as the password and an
  authenticator code, for clients that cannot show challenges.
- push: the request goes to the person's devices at once, and the number to type into the app
  comes back in an Access-Challenge ("Enter 42 in your authenticator app, then press OK"); the
  NAS's second Access-Request, with that State, waits for the approval. The reference's NPS
  extension has no number matching at all; this keeps it, at the cost of one round trip.
- a text (the authentication phone, by text): the code is texted, through the same per-person,
  per-number and per-country limits as on the web, and an Access-Challenge asks for it ("Enter
  the code we texted to +44 XXXXXXXX56"); the second Access-Request carries it.
- a call (the alternate or office phone, or the authentication phone by call): the phone is
  called and this request waits for the person to press #, as the reference's NPS extension does.

A wait (push, call) lasts at most ``RADIUS_PUSH_TIMEOUT`` and re-reads the database when
``delivery.wakeups`` says the answer came, else every ``POLL_SECONDS``. Every step is in the
sign-in log under ``radius:<NAS name>``, with the reference's error codes.

A State lives in this process's memory for ``STATE_SECONDS``, is bound to the person and the
NAS, and is used once.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

from django.conf import settings
from django.utils import timezone
from pyrad import packet as rp

from watchword.audit import codes
from watchword.audit.services import record_signin
from watchword.core.errors import WatchwordError
from watchword.delivery.wakeups import POLL_SECONDS, Wakeups
from watchword.directory.models import User, normalise_upn
from watchword.methods import phone, push, registry
from watchword.methods.models import PhoneCall, PushChallenge
from watchword.methods.services import default_method_of, methods_of
from watchword.policy.engine import Outcome
from watchword.protocols.models import RadiusClient
from watchword.signin import services as signin
from watchword.signin import throttle
from watchword.signin.flow import Flow

STATE_SECONDS = 60
CODE_RE = re.compile(r"^\d{6,8}$")

ACCEPT, REJECT, CHALLENGE = rp.AccessAccept, rp.AccessReject, rp.AccessChallenge
CODE_PROMPT = "Enter the code from your authenticator app"
BAD_CREDENTIALS = "Your account or password is incorrect."
TEXT_CODE_MESSAGES = {
    "malformed": "Enter the 6-digit code from the text message.",
    "invalid": "That code didn't work. Check the code and try again.",
    "expired": "That code has expired. Start again to get a new one.",
    "used": "That code was already used. Start again to get a new one.",
    "too_many": "You entered too many wrong codes. For your security, sign in again.",
}


@dataclass(frozen=True)
class Result:
    code: int
    message: str = ""
    state: bytes | None = None


@dataclass
class Conversation:
    """What a State stands for between the Access-Challenge and the NAS's next request."""

    kind: str  # "code", "push" or "text"
    user_id: int
    nas_id: int
    name: str
    flow: Flow
    ip: str | None
    challenge_id: str = ""  # push
    phone_code: int | None = None  # text: the PhoneCode row
    method_type: str = ""  # text: which phone
    expires: float = field(default_factory=lambda: time.monotonic() + STATE_SECONDS)


class Conversations:
    """States in memory, each used once, forgotten after ``STATE_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[bytes, Conversation] = {}

    def add(self, conversation: Conversation) -> bytes:
        state = secrets.token_bytes(16)
        conversation.expires = time.monotonic() + STATE_SECONDS
        with self._lock:
            self._purge()
            self._items[state] = conversation
        return state

    def take(self, state: bytes, nas: RadiusClient) -> Conversation | None:
        with self._lock:
            self._purge()
            conversation = self._items.pop(state, None)
        if conversation is None or conversation.nas_id != nas.pk:
            return None
        return conversation

    def _purge(self) -> None:
        now = time.monotonic()
        for key in [k for k, v in self._items.items() if v.expires <= now]:
            del self._items[key]

    def __len__(self) -> int:
        with self._lock:
            self._purge()
            return len(self._items)


class RadiusRequest:
    """What the sign-in services read from a web request: the address (for throttling and the
    log) and a user agent (the NAS, for the log)."""

    def __init__(self, ip: str | None, user_agent: str) -> None:
        self.META = {"REMOTE_ADDR": ip or "", "HTTP_USER_AGENT": user_agent}


def client_address(calling_station: str | None, nas_ip: str) -> str:
    """The address the sign-in is throttled and logged under: the Calling-Station-Id when it is
    an IP address (VPNs send the client's address), else the NAS's own."""
    if calling_station:
        try:
            return str(ipaddress.ip_address(calling_station.strip()))
        except ValueError:
            pass
    return nas_ip


def split_password(value: str) -> tuple[str, str]:
    """``password,123456`` → (``password``, ``123456``), for clients that cannot do challenges.
    Only a 6- to 8-digit tail after the last comma counts as a code."""
    head, comma, tail = value.rpartition(",")
    if comma and head and CODE_RE.match(tail):
        return head, tail
    return value, ""


@dataclass(frozen=True)
class Context:
    """What one request is answered with besides its own attributes."""

    nas: RadiusClient
    conversations: Conversations
    request: RadiusRequest
    app: str
    wait_seconds: float
    wakeups: Wakeups | None

    def log(self, flow: Flow, user: User | None, **row) -> None:
        record_signin(request=self.request, flow_id=flow.id, typed_name=flow.name, user=user, app=self.app, **row)


def authenticate(nas: RadiusClient, *, name: str, password: str, state: bytes | None, ip: str | None,
                 conversations: Conversations, push_timeout: float | None = None,
                 wakeups: Wakeups | None = None) -> Result:
    """One Access-Request, decided. ``ip`` is the client's address (see ``client_address``);
    ``push_timeout`` how long a push or a call is waited for (``RADIUS_PUSH_TIMEOUT``)."""
    app = f"radius:{nas.name}"
    ctx = Context(nas=nas, conversations=conversations, request=RadiusRequest(ip, app), app=app,
                  wait_seconds=settings.RADIUS_PUSH_TIMEOUT if push_timeout is None else push_timeout,
                  wakeups=wakeups)
    if state:
        return _continue(ctx, name=name, response=password, state=state)
    password, code = split_password(password)
    flow = Flow.start(name)
    result = signin.check_password(flow, password, ctx.request, app=app)
    if result.user is None:
        if result.disabled:
            return Result(REJECT, "Your account has been disabled. Contact your administrator.")
        if result.unavailable:
            return Result(REJECT, signin.DIRECTORY_UNAVAILABLE_MESSAGE)
        return Result(REJECT, BAD_CREDENTIALS)
    user = result.user
    if user.must_change_password:
        ctx.log(flow, user, step="password", result="failure", error_code=codes.PASSWORD_CHANGE_REQUIRED,
                reason="one-time password must be changed")
        return Result(REJECT, f"You must change your password: sign in at {settings.PUBLIC_URL}/signin first")
    methods = methods_of(user)
    evaluation = signin.decide(user, methods, app=ctx.app, client="radius", request=ctx.request)
    decision = evaluation.decision
    flow.log = evaluation.log_fields()
    flow.requirement = decision.requirement if decision.needs_second_factor else ""
    detail = decision.reasons[0].detail if decision.reasons else ""
    if decision.outcome == Outcome.ALLOW:
        ctx.log(flow, user, step="complete", result="success", **flow.log)
        return Result(ACCEPT)
    if decision.outcome == Outcome.BLOCK:
        ctx.log(flow, user, step="policy", result="failure", error_code=decision.error_code or 53003,
                reason="; ".join(r.detail for r in decision.reasons) or "blocked by policy", **flow.log)
        return Result(REJECT, "Your sign-in was blocked. Contact your administrator.")
    if decision.outcome == Outcome.REQUIRE_REGISTRATION:
        ctx.log(flow, user, step="registration", result="failure",
                error_code=decision.error_code or codes.REGISTRATION_REQUIRED, reason=detail,
                requirement=decision.requirement, **flow.log)
        return Result(REJECT, f"More information required: register your security info at "
                              f"{settings.PUBLIC_URL}/signin first")
    ctx.log(flow, user, step="mfa", result="interrupted", error_code=decision.error_code, reason=detail,
            requirement=decision.requirement, **flow.log)
    ways = _ways(evaluation)
    return _second_factor(ctx, user, [m for m in evaluation.usable if ways.get(m.pk)], code, Conversation(
        kind="code", user_id=user.pk, nas_id=nas.pk, name=normalise_upn(name), flow=flow, ip=ip), ways)


def _ways(evaluation) -> dict:
    """Method pk → the channels this sign-in may use it by: what the methods policy allows the
    person, narrowed to the factors the applying policies accept (an authentication strength)."""
    from watchword.policy import strengths as st

    factor = {"push": st.FACTOR_PUSH, "code": st.FACTOR_CODE, "text": st.FACTOR_TEXT, "call": st.FACTOR_CALL}
    allowed = evaluation.decision.allowed_factors
    return {pk: tuple(c for c in channels if allowed is None or factor[c] in allowed)
            for pk, channels in evaluation.channels.items()}


def _second_factor(ctx: Context, user: User, methods, code: str, conversation: Conversation, ways: dict) -> Result:
    """The person's default method; a code typed after the password is always an authenticator's."""
    code_capable = any("code" in ways.get(m.pk, ()) for m in methods)
    phones = sorted((m for m in methods if m.type in phone.PHONE_TYPES), key=lambda m: registry.get(m.type).preference)
    if code:
        if code_capable:
            return _check_code(ctx, conversation, user, code)
        if any(m.type in registry.code_types() for m in methods):  # the policies do not accept codes here
            ctx.log(conversation.flow, user, step="mfa", result="failure", error_code=codes.MFA_FAILED,
                    reason="a code was sent after the password, but the policies do not accept codes here",
                    method="code")
            return Result(REJECT, "Your organisation doesn't accept a code here. Sign in with your password alone "
                                  "to get a sign-in request.")
        ctx.log(conversation.flow, user, step="mfa", result="failure", error_code=codes.MFA_FAILED,
                reason="a code was sent after the password, but there is no authenticator app", method="code")
        return Result(REJECT, "A code after your password is for an authenticator app. Sign in with your "
                              "password alone to get a text or a call.")
    default = default_method_of(methods)
    if default is not None and "push" in ways.get(default.pk, ()) and push.active_devices(user):
        return _send_push(ctx, conversation, user)
    if default is not None and default.type in phone.PHONE_TYPES:
        return _use_phone(ctx, conversation, user, default, ways[default.pk])
    if code_capable:
        return Result(CHALLENGE, CODE_PROMPT, ctx.conversations.add(conversation))
    if phones:
        return _use_phone(ctx, conversation, user, phones[0], ways[phones[0].pk])
    ctx.log(conversation.flow, user, step="mfa", result="failure", error_code=codes.MFA_REQUIRED,
            reason="no method usable over RADIUS")
    return Result(REJECT, f"Set up an authenticator app or a phone at {settings.PUBLIC_URL}/mysecurityinfo to "
                          "sign in here")


def _continue(ctx: Context, *, name: str, response: str, state: bytes) -> Result:
    conversation = ctx.conversations.take(state, ctx.nas)
    if conversation is None or conversation.name != normalise_upn(name):
        record_signin(request=ctx.request, flow_id=conversation.flow.id if conversation else secrets.token_hex(8),
                      typed_name=name, step="mfa", result="failure", error_code=codes.FLOW_EXPIRED,
                      reason="unknown or expired RADIUS State", app=ctx.app)
        return Result(REJECT, "Your sign-in took too long. Start again.")
    user = User.objects.filter(pk=conversation.user_id, is_active=True).first()
    if user is None:
        return Result(REJECT, BAD_CREDENTIALS)
    if conversation.kind == "push":
        return _wait_for_push(ctx, conversation, user)
    if conversation.kind == "text":
        return _check_text(ctx, conversation, user, response)
    return _check_code(ctx, conversation, user, response.strip())


def _wait(ctx: Context, channel: str, read):
    """``read()`` → (over?, value), again and again until it is over or the wait's time is up;
    woken early by the answer's fan-out message when there is one. The last value."""
    deadline = time.monotonic() + ctx.wait_seconds
    watching = ctx.wakeups.watching(channel) if ctx.wakeups is not None else contextlib.nullcontext()
    with watching as woken:
        while True:
            if woken is not None:
                woken.clear()  # before the read: a wake-up that comes during it is kept
            over, value = read()
            left = deadline - time.monotonic()
            if over or left <= 0:
                return value
            pause = min(left, ctx.wakeups.poll_seconds if ctx.wakeups is not None else POLL_SECONDS)
            if woken is not None:
                woken.wait(pause)
            else:
                time.sleep(pause)


# ----------------------------------------------------------------------------------------------
# Authenticator codes and push


def _check_code(ctx: Context, conversation: Conversation, user: User, code: str) -> Result:
    flow = conversation.flow
    result = signin.verify_code(flow, user, code, ctx.request, app=ctx.app)
    if result.ok:
        ctx.log(flow, user, step="complete", result="success", method="code", requirement=flow.requirement)
        return Result(ACCEPT)
    if result.finished or result.reason == "throttled":
        return Result(REJECT, result.message)
    # Another try, with a new State (the old one is spent).
    return Result(CHALLENGE, result.message, ctx.conversations.add(conversation))


def _send_push(ctx: Context, conversation: Conversation, user: User) -> Result:
    sent = signin.send_push(conversation.flow, user, ctx.request, app=ctx.app, shown_as=ctx.nas.name)
    if sent.challenge is None:
        return Result(REJECT, f"Too many sign-in requests. {throttle.wait_phrase(sent.wait)}, then try again.")
    conversation.kind, conversation.challenge_id = "push", sent.challenge.id
    return Result(CHALLENGE, f"Enter {sent.challenge.number} in your authenticator app, then press OK",
                  ctx.conversations.add(conversation))


def _wait_for_push(ctx: Context, conversation: Conversation, user: User) -> Result:
    flow = conversation.flow

    def read():
        challenge = PushChallenge.objects.filter(pk=conversation.challenge_id, user=user).first()
        status = signin.push_status(challenge)
        return status != "pending", (challenge, status)

    challenge, status = _wait(ctx, f"challenge:{conversation.challenge_id}", read)
    if status == "approved" and signin.use_approval(challenge, user):
        ctx.log(flow, user, step="complete", result="success", method=push.PushMethod.key,
                requirement=flow.requirement)
        return Result(ACCEPT)
    if status in ("pending", "expired", "missing", "approved"):
        push.withdraw(conversation.challenge_id, timezone.now())
        signin.record_unanswered(flow, user, ctx.request, app=ctx.app)
        return Result(REJECT, "The sign-in request was not answered in time. Start again.")
    # Denied, wrong number or reported: the device's answer was logged when it came.
    if status == "reported":
        return Result(REJECT, "You reported this sign-in request. Contact your administrator.")
    return Result(REJECT, "The sign-in request was denied.")


# ----------------------------------------------------------------------------------------------
# Texts and calls


def _use_phone(ctx: Context, conversation: Conversation, user: User, method, channels: tuple[str, ...]) -> Result:
    """Text a code to, or call, one of the person's phones (its preferred way, if the policies
    allow it). Delivery's refusals (limits, a country not allowed, a provider that failed) are
    logged and end this sign-in."""
    channel = phone.channel_of(method)
    if channel not in channels:
        channel = channels[0]
    flow, now = conversation.flow, timezone.now()
    try:
        if channel == "text":
            sent = phone.send_code(user, phone=method.phone, purpose="signin", now=now)
        else:
            sent = phone.start_call(user, phone=method.phone, method_type=method.type, purpose="signin", now=now,
                                    flow_id=flow.id, log_app=ctx.app)
    except WatchwordError as exc:
        ctx.log(flow, user, step="mfa", result="failure", error_code=codes.MFA_FAILED,
                reason=f"{channel} not sent: {exc.code}", method=method.type)
        return Result(REJECT, exc.public_message)
    if channel == "call":
        return _wait_for_call(ctx, flow, user, sent)
    conversation.kind, conversation.phone_code, conversation.method_type = "text", sent.pk, method.type
    return Result(CHALLENGE, f"Enter the code we texted to {phone.masked(method.phone)}",
                  ctx.conversations.add(conversation))


def _check_text(ctx: Context, conversation: Conversation, user: User, typed: str) -> Result:
    flow = conversation.flow
    result = phone.check_code(conversation.phone_code, user, typed, now=timezone.now())
    if result.ok:
        ctx.log(flow, user, step="complete", result="success", method=conversation.method_type,
                requirement=flow.requirement)
        return Result(ACCEPT)
    ctx.log(flow, user, step="mfa", result="failure", error_code=codes.MFA_FAILED,
            reason=f"text code {result.reason}", method=conversation.method_type)
    if result.reason in ("malformed", "invalid"):  # another try, with a new State
        return Result(CHALLENGE, TEXT_CODE_MESSAGES[result.reason], ctx.conversations.add(conversation))
    return Result(REJECT, TEXT_CODE_MESSAGES[result.reason])


def _wait_for_call(ctx: Context, flow: Flow, user: User, call: PhoneCall) -> Result:
    def read():
        current = PhoneCall.objects.filter(pk=call.pk, user=user).first()
        status = phone.call_status(current, timezone.now())
        return status != "ringing", (current, status)

    current, status = _wait(ctx, f"call:{call.pk}", read)
    if status == "confirmed" and phone.use_call(current):
        ctx.log(flow, user, step="complete", result="success", method=call.method_type,
                requirement=flow.requirement)
        return Result(ACCEPT)
    # A refusal or a call nobody answered was logged when its result came (``phone.finish_call``).
    if status == "fraud":
        return Result(REJECT, "You reported this sign-in. Contact your administrator.")
    if status in ("no_input", "failed"):
        return Result(REJECT, "The call was not answered. Start again.")
    ctx.log(flow, user, step="mfa", result="failure", error_code=codes.MFA_DENIED,
            reason="MFA denied; the phone call timed out", method=call.method_type)
    return Result(REJECT, "The call was not answered in time. Start again.")
