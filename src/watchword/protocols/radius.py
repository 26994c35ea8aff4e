"""The RADIUS server (RFC 2865, PAP only) that VPNs and network equipment send sign-ins to.

    datagram ─▶ known NAS? (source address) ─▶ Message-Authenticator right? ─▶ retransmission?
            ─▶ worker thread: ``authenticate()`` ─▶ Access-Accept / -Reject / -Challenge (signed)

Packets from unknown sources, without a Message-Authenticator or with a wrong one are dropped
(logged), never answered: a Message-Authenticator on every Access-Request and every reply is the
defence against BlastRADIUS (CVE-2024-3596). A retransmission (same NAS, same identifier and
Request Authenticator) is answered with the reply already sent, or ignored while the first copy
is still being worked on; it is never processed twice.

``authenticate()`` is the sign-in itself, with the web sign-in's services: the password through
``signin.services.check_password`` (throttled, the same answer for an unknown name as for a wrong
password), the decision through ``decide()``, codes through ``verify_code()``. The second factor:

- a code: Access-Challenge "Enter the code from your authenticator app" with a random State; the
  NAS asks the person and sends a second Access-Request with that State and the code as its
  password. Clients that cannot show challenges may send ``password,code`` in one request.
- push (the person's default method): the request is sent to their devices at once, and the
  number to type into the app comes back in an Access-Challenge ("Enter 42 in your authenticator
  app, then press OK"); the NAS's second Access-Request, with that State, waits for the approval
  (``RADIUS_PUSH_TIMEOUT``, 25 s by default). The reference's NPS extension has no number
  matching at all; this keeps it, at the cost of one round trip.

A State lives in this process's memory for ``STATE_SECONDS`` and is bound to the person and
the NAS; it is used once.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone
from pyrad import packet as rp
from pyrad.dictionary import Dictionary

from watchword.audit import codes
from watchword.audit.services import record_signin
from watchword.directory.models import User, normalise_upn
from watchword.methods import push, registry
from watchword.methods.models import PushChallenge
from watchword.methods.services import default_method_of, methods_of
from watchword.policy.engine import Outcome
from watchword.protocols import services
from watchword.protocols.errors import RadiusBindInvalid
from watchword.protocols.models import RadiusClient
from watchword.signin import services as signin
from watchword.signin import throttle
from watchword.signin.flow import Flow

log = logging.getLogger("watchword.radius")

DICTIONARY_PATH = Path(__file__).with_name("dictionary")
STATE_SECONDS = 60
DUPLICATE_SECONDS = 30  # replies kept for retransmissions (the reference discards them for 10 s)
POLL_SECONDS = 0.2
CODE_RE = re.compile(r"^\d{6,8}$")

ACCEPT, REJECT, CHALLENGE = rp.AccessAccept, rp.AccessReject, rp.AccessChallenge
CODE_PROMPT = "Enter the code from your authenticator app"
BAD_CREDENTIALS = "Your account or password is incorrect."


def dictionary() -> Dictionary:
    return Dictionary(str(DICTIONARY_PATH))


# ----------------------------------------------------------------------------------------------
# The sign-in


@dataclass(frozen=True)
class Result:
    code: int
    message: str = ""
    state: bytes | None = None


@dataclass
class Conversation:
    """What a State stands for between the Access-Challenge and the NAS's next request."""

    kind: str  # "code" or "push"
    user_id: int
    nas_id: int
    name: str
    flow: Flow
    ip: str | None
    challenge_id: str = ""
    expires: float = field(default_factory=lambda: time.monotonic() + STATE_SECONDS)


class Conversations:
    """States in memory, each used once, forgotten after ``STATE_SECONDS``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[bytes, Conversation] = {}

    def add(self, conversation: Conversation) -> bytes:
        state = secrets.token_bytes(16)
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
    log) and the application's name for the sign-in log."""

    def __init__(self, ip: str | None, app: str) -> None:
        self.META = {"REMOTE_ADDR": ip or "", "HTTP_USER_AGENT": app}
        self.signin_app = app


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


def authenticate(nas: RadiusClient, *, name: str, password: str, state: bytes | None, ip: str | None,
                 conversations: Conversations, push_timeout: float | None = None) -> Result:
    """One Access-Request, decided. ``ip`` is the client's address (see ``client_address``)."""
    app = f"radius:{nas.name}"
    request = RadiusRequest(ip, app)
    if state:
        return _continue(nas, name=name, response=password, state=state, request=request,
                         conversations=conversations, push_timeout=push_timeout)
    password, code = split_password(password)
    flow = Flow.start(name)
    result = signin.check_password(flow, password, request)
    if result.user is None:
        if result.disabled:
            return Result(REJECT, "Your account has been disabled. Contact your administrator.")
        return Result(REJECT, BAD_CREDENTIALS)
    user = result.user
    if user.must_change_password:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="password",
                      result="failure", error_code=codes.PASSWORD_CHANGE_REQUIRED,
                      reason="one-time password must be changed")
        return Result(REJECT, f"You must change your password: sign in at {settings.PUBLIC_URL}/signin first")
    methods = methods_of(user)
    decision = signin.decide(user, methods, app="radius")
    flow.requirement = decision.requirement if decision.needs_second_factor else ""
    detail = decision.reasons[0].detail if decision.reasons else ""
    if decision.outcome == Outcome.ALLOW:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="complete",
                      result="success")
        return Result(ACCEPT)
    if decision.outcome == Outcome.BLOCK:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="policy",
                      result="failure", error_code=decision.error_code or 53003, reason=detail or "blocked by policy")
        return Result(REJECT, "Your sign-in was blocked. Contact your administrator.")
    if decision.outcome == Outcome.REQUIRE_REGISTRATION:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="registration",
                      result="failure", error_code=decision.error_code or codes.REGISTRATION_REQUIRED,
                      reason=detail, requirement=decision.requirement)
        return Result(REJECT, f"More information required: register your security info at "
                              f"{settings.PUBLIC_URL}/signin first")
    # A second factor now.
    record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa",
                  result="interrupted", error_code=decision.error_code, reason=detail,
                  requirement=decision.requirement)
    conversation = Conversation(kind="code", user_id=user.pk, nas_id=nas.pk, name=normalise_upn(name), flow=flow,
                                ip=ip)
    code_capable = any(m.type in registry.code_types() for m in methods)
    if code and code_capable:
        return _check_code(conversation, user, code, request, conversations)
    default = default_method_of(methods)
    if not code and default is not None and default.type == push.PushMethod.key and push.active_devices(user):
        return _send_push(conversation, user, nas, request, conversations)
    if code_capable:
        return Result(CHALLENGE, CODE_PROMPT, conversations.add(conversation))
    record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa", result="failure",
                  error_code=codes.MFA_REQUIRED, reason="no method usable over RADIUS (authenticator app needed)")
    return Result(REJECT, f"Set up an authenticator app at {settings.PUBLIC_URL}/mysecurityinfo to sign in here")


def _continue(nas, *, name, response, state, request, conversations, push_timeout) -> Result:
    conversation = conversations.take(state, nas)
    if conversation is None or conversation.name != normalise_upn(name):
        record_signin(request=request, flow_id=conversation.flow.id if conversation else secrets.token_hex(8),
                      typed_name=name, step="mfa", result="failure", error_code=codes.FLOW_EXPIRED,
                      reason="unknown or expired RADIUS State")
        return Result(REJECT, "Your sign-in took too long. Start again.")
    user = User.objects.filter(pk=conversation.user_id, is_active=True).first()
    if user is None:
        return Result(REJECT, BAD_CREDENTIALS)
    if conversation.kind == "push":
        return _wait_for_push(conversation, user, request, push_timeout)
    return _check_code(conversation, user, response.strip(), request, conversations)


def _check_code(conversation: Conversation, user: User, code: str, request, conversations: Conversations) -> Result:
    flow = conversation.flow
    result = signin.verify_code(flow, user, code, request)
    if result.ok:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="complete",
                      result="success", method="code", requirement=flow.requirement)
        return Result(ACCEPT)
    if result.finished or "Too many" in result.message:
        return Result(REJECT, result.message)
    # Another try, with a new State (the old one is spent).
    conversation.expires = time.monotonic() + STATE_SECONDS
    return Result(CHALLENGE, result.message, conversations.add(conversation))


def _send_push(conversation: Conversation, user: User, nas: RadiusClient, request, conversations) -> Result:
    flow = conversation.flow
    now = timezone.now()
    key = throttle.key_for("push", str(user.pk))
    wait = throttle.standing([key], now).wait
    if wait:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa",
                      result="failure", error_code=codes.THROTTLED,
                      reason=f"sign-in requests throttled for {wait} s", method=push.PushMethod.key)
        return Result(REJECT, f"Too many sign-in requests. {throttle.wait_phrase(wait)}, then try again.")
    throttle.record_failure(key, signin.push_limit(), now)
    challenge = push.create_challenge(user, purpose="signin", app=nas.name, ip=conversation.ip, now=now,
                                      flow_id=flow.id)
    conversation.kind, conversation.challenge_id = "push", challenge.id
    return Result(CHALLENGE, f"Enter {challenge.number} in your authenticator app, then press OK",
                  conversations.add(conversation))


def _wait_for_push(conversation: Conversation, user: User, request, push_timeout: float | None) -> Result:
    flow = conversation.flow
    timeout = settings.RADIUS_PUSH_TIMEOUT if push_timeout is None else push_timeout
    deadline = time.monotonic() + timeout
    while True:
        challenge = PushChallenge.objects.filter(pk=conversation.challenge_id, user=user).first()
        status = signin.push_status(challenge)
        if status != "pending" or time.monotonic() >= deadline:
            break
        time.sleep(POLL_SECONDS)
    if status == "approved" and signin.use_approval(challenge, user):
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="complete",
                      result="success", method=push.PushMethod.key, requirement=flow.requirement)
        return Result(ACCEPT)
    if status in ("pending", "expired", "missing", "approved"):
        push.withdraw(conversation.challenge_id, timezone.now())
        signin.record_unanswered(flow, user, request)
        return Result(REJECT, "The sign-in request was not answered in time. Start again.")
    # Denied, wrong number or reported: the device's answer was logged when it came.
    if status == "reported":
        return Result(REJECT, "You reported this sign-in request. Contact your administrator.")
    return Result(REJECT, "The sign-in request was denied.")


# ----------------------------------------------------------------------------------------------
# Packets


def parse_bind(value: str) -> tuple[str, int]:
    """``127.0.0.1:1812``, ``[::1]:1812``, ``0.0.0.0:1812``."""
    text = (value or "").strip()
    match = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\]:(\d{1,5})|([0-9.]+|[A-Za-z0-9.-]+):(\d{1,5})", text)
    if not match:
        raise RadiusBindInvalid(f"--bind must look like 127.0.0.1:1812 or [::1]:1812, got {text!r}")
    host = match.group(1) or match.group(3)
    port = int(match.group(2) or match.group(4))
    if not 1 <= port <= 65535:
        raise RadiusBindInvalid(f"the port must be between 1 and 65535, got {port}")
    return host, port


def _text(pkt, name: str) -> str:
    try:
        values = pkt.get(name) or []
    except (KeyError, UnicodeDecodeError):
        return ""
    value = values[0] if values else ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _octets(pkt, name: str) -> bytes:
    values = pkt.get(name) or []
    return bytes(values[0]) if values else b""


class Server:
    """UDP listener: reads datagrams, hands each Access-Request to a worker thread (a push can
    wait tens of seconds; the loop never does), sends the signed reply."""

    def __init__(self, host: str, port: int, *, workers: int = 64, push_timeout: float | None = None) -> None:
        self.dict = dictionary()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.sock.settimeout(0.5)
        self.address = self.sock.getsockname()[:2]
        self.conversations = Conversations()
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="radius")
        self.push_timeout = push_timeout
        self.stopping = threading.Event()
        self._replies: dict[tuple, tuple[float, bytes | None]] = {}
        self._replies_lock = threading.Lock()
        self._clients: list[RadiusClient] = []
        self._clients_loaded = 0.0
        self._clients_lock = threading.Lock()

    def serve_forever(self) -> None:
        while not self.stopping.is_set():
            try:
                data, source = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                if self.stopping.is_set():
                    break
                raise
            self.pool.submit(self._handle, data, source)

    def stop(self) -> None:
        self.stopping.set()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.sock.close()

    # -- one datagram

    def clients(self) -> list[RadiusClient]:
        """The clients, re-read from the database at most every 5 s (added or removed clients
        take effect without a restart)."""
        with self._clients_lock:
            if time.monotonic() - self._clients_loaded > 5:
                self._clients = list(RadiusClient.objects.filter(enabled=True))
                self._clients_loaded = time.monotonic()
            return self._clients

    def forget_clients(self) -> None:
        with self._clients_lock:
            self._clients_loaded = 0.0

    def _handle(self, data: bytes, source) -> None:
        close_old_connections()
        try:
            reply = self.handle(data, source[0])
            if reply is not None:
                self.sock.sendto(reply, source)
        except Exception:  # one bad packet must never stop the server
            log.exception("RADIUS: error handling a packet from %s", source[0])
        finally:
            close_old_connections()

    def handle(self, data: bytes, source_ip: str) -> bytes | None:
        """The reply to send for one datagram, or None to drop it."""
        nas = services.client_for_address(source_ip, self.clients())
        if nas is None:
            log.warning("RADIUS: dropped a packet from %s: not a known RADIUS client", source_ip)
            return None
        secret = services.secret_of(nas)
        try:
            pkt = rp.AuthPacket(packet=data, secret=secret, dict=self.dict)
        except rp.PacketError as exc:
            log.warning("RADIUS: dropped a malformed packet from %s (%s): %s", nas.name, source_ip, exc)
            return None
        if pkt.code != rp.AccessRequest:
            log.warning("RADIUS: dropped a packet of code %s from %s: only Access-Request is served", pkt.code,
                        nas.name)
            return None
        if not pkt.message_authenticator:
            log.warning("RADIUS: dropped an Access-Request from %s (%s) without Message-Authenticator; configure "
                        "the NAS to send it (BlastRADIUS)", nas.name, source_ip)
            return None
        if not pkt.verify_message_authenticator():
            log.warning("RADIUS: dropped an Access-Request from %s (%s) with a wrong Message-Authenticator "
                        "(check the shared secret)", nas.name, source_ip)
            return None
        key = (nas.pk, source_ip, pkt.id, pkt.authenticator)
        now = time.monotonic()
        with self._replies_lock:
            for old in [k for k, (t, _) in self._replies.items() if t < now - DUPLICATE_SECONDS]:
                del self._replies[old]
            if key in self._replies:
                _, previous = self._replies[key]
                log.info("RADIUS: retransmission from %s (id %s) %s", nas.name, pkt.id,
                         "answered again" if previous else "ignored, still working on it")
                return previous
            self._replies[key] = (now + 3600, None)  # working on it: kept until done
        reply = None
        try:
            reply = self._answer(nas, pkt, source_ip)
        finally:
            with self._replies_lock:
                self._replies[key] = (time.monotonic(), reply)
        return reply

    def _answer(self, nas: RadiusClient, pkt, source_ip: str) -> bytes | None:
        name = _text(pkt, "User-Name")
        encrypted = _octets(pkt, "User-Password")
        state = _octets(pkt, "State") or None
        if not name or not (encrypted or state):  # the answer to a push challenge may come without one
            log.warning("RADIUS: dropped an Access-Request from %s without User-Name or User-Password (PAP only)",
                        nas.name)
            return None
        try:
            password = pkt.PwDecrypt(encrypted) if encrypted else ""
        except rp.PacketError:
            log.warning("RADIUS: dropped an Access-Request from %s with a malformed User-Password", nas.name)
            return None
        result = authenticate(nas, name=name, password=password, state=state,
                              ip=client_address(_text(pkt, "Calling-Station-Id"), source_ip),
                              conversations=self.conversations, push_timeout=self.push_timeout)
        reply = pkt.CreateReply()
        reply.code = result.code
        reply.message_authenticator = True
        if result.message:
            reply["Reply-Message"] = result.message
        if result.state:
            reply["State"] = result.state
            reply["Session-Timeout"] = STATE_SECONDS
        log.info("RADIUS: %s for %r from %s", {ACCEPT: "Access-Accept", REJECT: "Access-Reject",
                                               CHALLENGE: "Access-Challenge"}[result.code], name[:64], nas.name)
        return reply.ReplyPacket()
