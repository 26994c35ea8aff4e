"""Authenticator push with number matching: activation of a device from the QR code, sign-in
requests sent to the person's devices, and their signed answers.

The protocol's checks are pure (``push_protocol``); this module adds what needs the database:
devices and their sealed public keys, one-time activation codes, challenges answered once by a
compare-and-set on their state, and nonces remembered until they could no longer pass the
freshness check. Messages to held connections (a device's stream, a waiting sign-in page) go
through ``delivery.fanout`` after the transaction that caused them commits; the database stays
the truth, so a device that reconnects is sent its pending requests again.

A device is *pending* from activation until the person approves the test notification; only
then does it become a sign-in method (``Method`` of type ``push``). The same activation gives
the device the account's TOTP seed, so a push method also verifies 6-digit codes.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar
from urllib.parse import quote, urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q

from watchword.core import sealing
from watchword.delivery import fanout
from watchword.methods import push_protocol, totp
from watchword.methods.errors import MethodLimitReached, PushProtocolError
from watchword.methods.models import ChallengeState, Method, PushActivation, PushChallenge, PushDevice, SeenNonce
from watchword.methods.push_protocol import CHALLENGE_SECONDS, MAX_CLOCK_SKEW, ChallengeView
from watchword.methods.registry import VerifyOutcome, register
from watchword.policy.services import load

ACTIVATION_SECONDS = 600
DEVICE_LIMIT = 5
MAX_DEVICE_NAME = 64
ACTIVATE_FIELDS = {"activation_code", "public_key", "device_name", "platform"}
PLATFORM_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789._- ")


def key_purpose(device_id: str) -> str:
    return f"push-device-key:{device_id}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def _ts(moment: datetime) -> int:
    return int(moment.timestamp())


@register
class PushMethod:
    key: ClassVar[str] = "push"
    label: ClassVar[str] = "Authenticator app"
    detail: ClassVar[str] = "Push multi-factor authentication (MFA), with number matching"
    amr: ClassVar[tuple[str, ...]] = ("swk",)  # RFC 8176: proof of possession of a software-held key
    preference: ClassVar[int] = 20
    per_user_limit: ClassVar[int] = DEVICE_LIMIT
    verifies_codes: ClassVar[bool] = True  # the activation also gave the device the TOTP seed

    def begin_enrolment(self, *, user, issuer: str, now: datetime) -> dict:
        raise NotImplementedError("push devices enrol through start_activation()")

    def confirm_enrolment(self, *, user, pending: dict, response: str, now: datetime, name: str):
        raise NotImplementedError("push devices enrol through confirm_registration()")

    def verify(self, *, method, response: str, now: datetime) -> VerifyOutcome:
        return totp.verify_seeded_code(method=method, response=response, now=now)

    def can_verify_now(self, *, method) -> bool:
        return True

    def reseal(self, *, method, old: sealing.Keyring, new: sealing.Keyring) -> str:
        return totp.reseal_seed(method=method, old=old, new=new)


# ----------------------------------------------------------------------------------------------
# Devices


def active_devices(user) -> list[PushDevice]:
    return list(PushDevice.objects.filter(user=user, method__isnull=False))


def device_public_key(device: PushDevice):
    text = sealing.unseal(device.public_key_sealed, purpose=key_purpose(device.device_id),
                          keyring=sealing.default_keyring()).decode()
    return push_protocol.load_public_key(text)


def find_device(device_id: str) -> PushDevice | None:
    return (PushDevice.objects.select_related("user").filter(device_id=device_id, user__is_active=True).first()
            if device_id else None)


def reseal_device_keys(*, old: sealing.Keyring, new: sealing.Keyring) -> int:
    """Part of ``keys rotate``: re-seal every device's public key under the new primary key."""
    count = 0
    for device in PushDevice.objects.select_for_update():
        purpose = key_purpose(device.device_id)
        device.public_key_sealed = sealing.seal(sealing.unseal(device.public_key_sealed, purpose=purpose, keyring=old),
                                                purpose=purpose, keyring=new)
        device.save(update_fields=["public_key_sealed"])
        count += 1
    return count


def forget_devices(device_ids: list[str]) -> None:
    """Tell the devices' open streams (on any node) to close: they were removed."""
    for device_id in device_ids:
        fanout.publish_on_commit(f"device:{device_id}", "revoked", json.dumps({"device_id": device_id}), close=True)


def purge_stale(now: datetime) -> None:
    """Drop what can no longer be used: expired nonces, activations and pending devices whose
    set-up was never finished, and old answered challenges."""
    SeenNonce.objects.filter(expires_at__lt=now).delete()
    cutoff = now - timedelta(seconds=ACTIVATION_SECONDS * 2)
    stale = list(PushDevice.objects.filter(method__isnull=True, created_at__lt=cutoff).values_list("device_id",
                                                                                                   flat=True))
    PushDevice.objects.filter(device_id__in=stale).delete()
    PushActivation.objects.filter(expires_at__lt=cutoff).delete()
    PushChallenge.objects.filter(expires_at__lt=now - timedelta(days=1)).delete()


# ----------------------------------------------------------------------------------------------
# Activation


def start_activation(user, *, now: datetime) -> tuple[PushActivation, str]:
    """A new one-time activation code for the QR code; returns the row and the code (shown
    once, stored only as a hash)."""
    if len(active_devices(user)) >= DEVICE_LIMIT:
        raise MethodLimitReached(f"You already have {DEVICE_LIMIT} authenticator devices that get sign-in "
                                 "requests. Delete one on Security info before adding another.")
    code = secrets.token_urlsafe(24)
    seed = totp.new_secret()
    row = PushActivation.objects.create(
        code_hash=_digest("activation", code), user=user, created_at=now,
        expires_at=now + timedelta(seconds=ACTIVATION_SECONDS),
        secret_sealed=sealing.seal(seed.encode(), purpose=totp.seed_purpose(user.pk),
                                   keyring=sealing.default_keyring()),
    )
    return row, code


def activation_payload(code: str, *, account: str) -> str:
    """What the QR code holds (docs/push-protocol.md)."""
    query = urlencode({"server": settings.PUBLIC_URL, "code": code, "account": account,
                       "issuer": settings.ORGANISATION_NAME}, quote_via=quote)
    return f"watchword-push://activate?{query}"


def _clean_device_name(value: object) -> str:
    text = " ".join(str(value).split())
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    return text[:MAX_DEVICE_NAME] or "Authenticator"


def _clean_platform(value: object) -> str:
    text = str(value).strip().lower()[:32]
    return text if set(text) <= PLATFORM_CHARS else ""


def activate(body: object, *, now: datetime) -> dict:
    """A device activates with the code from the QR code, its public key, name and platform."""
    if not isinstance(body, dict) or set(body) != ACTIVATE_FIELDS or \
            not all(isinstance(body[name], str) and len(body[name]) <= push_protocol.MAX_FIELD for name in body):
        raise PushProtocolError(code="bad_request")
    public_key = push_protocol.load_public_key(body["public_key"])
    del public_key  # checked; stored as sent
    row = PushActivation.objects.select_related("user").filter(
        code_hash=_digest("activation", body["activation_code"])).first()
    if row is None or not row.user.is_active:
        raise PushProtocolError(code="activation_invalid")
    if row.used_at is not None:
        raise PushProtocolError(code="activation_used")
    if row.expires_at <= now:
        raise PushProtocolError(code="activation_expired")
    user = row.user
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        if PushActivation.objects.filter(pk=row.pk, used_at__isnull=True).update(used_at=now) != 1:
            raise PushProtocolError(code="activation_used")
        if len(active_devices(user)) >= DEVICE_LIMIT:
            raise PushProtocolError(code="device_limit_reached")
        device_id = "dv_" + secrets.token_urlsafe(16)
        device = PushDevice.objects.create(
            device_id=device_id, user=user, name=_clean_device_name(body["device_name"]),
            platform=_clean_platform(body["platform"]), last_seen_at=now,
            public_key_sealed=sealing.seal(body["public_key"].encode(), purpose=key_purpose(device_id),
                                           keyring=sealing.default_keyring()),
        )
        PushActivation.objects.filter(pk=row.pk).update(device=device)
        fanout.publish_on_commit(f"activation:{row.pk}", "activated", json.dumps({"device": device.name}))
    seed = sealing.unseal(row.secret_sealed, purpose=totp.seed_purpose(user.pk), keyring=sealing.default_keyring())
    return {"device_id": device_id, "account": user.upn, "issuer": settings.ORGANISATION_NAME,
            "totp": {"secret": seed.decode(), "digits": totp.DIGITS, "period": totp.STEP_SECONDS,
                     "algorithm": "SHA1"}}


def confirm_registration(activation_id: int, challenge_id: str, user, *, now: datetime) -> Method:
    """The test notification was approved: the pending device becomes a sign-in method."""
    with transaction.atomic():
        get_user_model().objects.select_for_update().filter(pk=user.pk).first()
        row = PushActivation.objects.filter(pk=activation_id, user=user).select_related("device").first()
        challenge = PushChallenge.objects.filter(pk=challenge_id, user=user, purpose="registration").first()
        device = row.device if row is not None else None
        if device is None or challenge is None or challenge.device_id != device.pk or \
                challenge.state != ChallengeState.APPROVED or device.method_id is not None:
            raise PushProtocolError(code="challenge_unknown")
        if len(active_devices(user)) >= DEVICE_LIMIT:
            raise MethodLimitReached()
        existing = Method.objects.filter(user=user)
        method = Method.objects.create(
            user=user, type=PushMethod.key, name=device.name, secret_sealed=row.secret_sealed,
            is_default=not existing.filter(is_default=True).exists(), last_used_at=now,
        )
        PushDevice.objects.filter(pk=device.pk).update(method=method)
        PushChallenge.objects.filter(pk=challenge.pk).update(consumed=True)
    return method


# ----------------------------------------------------------------------------------------------
# Challenges


def describe_location(ip: str | None) -> str:
    """No geolocation database ships with Watchword; say what the address itself tells."""
    if not ip:
        return ""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return ""
    if address.is_loopback:
        return "This computer"
    if address.is_private or address.is_link_local:
        return "Private network"
    return ""


@dataclass(frozen=True)
class ShownContext:
    """The additional context a device shows with a request (the methods policy's
    ``microsoftAuthenticator`` ``showAppName`` / ``showLocation``). The number to match is not
    part of it: number matching is always on."""

    app_name: bool = True
    location: bool = True


def shown_context() -> ShownContext:
    config = load().methods.config("microsoftAuthenticator")
    return ShownContext(app_name=config.show_app_name, location=config.show_location)


def challenge_event(challenge: PushChallenge, account: str, shown: ShownContext = ShownContext()) -> str:
    """What the device receives. Context the organisation hides is sent empty; the challenge row
    keeps it for the sign-in log and fraud reports."""
    return json.dumps({"challenge_id": challenge.id, "account": account,
                       "app": challenge.app if shown.app_name else "",
                       "ip": (challenge.ip or "") if shown.location else "",
                       "location": challenge.location if shown.location else "",
                       "created": _ts(challenge.created_at), "expires": _ts(challenge.expires_at)})


def create_challenge(user, *, purpose: str, app: str, ip: str | None, now: datetime, flow_id: str = "",
                     device: PushDevice | None = None, log_app: str = "portal") -> PushChallenge:
    """A new sign-in request with a fresh two-digit number, sent to the person's devices (or,
    while registering, to the new device only). ``app`` is the name the device shows;
    ``log_app`` the application the sign-in log names when the device answers."""
    challenge = PushChallenge.objects.create(
        id="ch_" + secrets.token_urlsafe(16), user=user, purpose=purpose, device=device,
        number=push_protocol.new_number(), flow_id=flow_id, app=app[:128], ip=ip or None,
        location=describe_location(ip), created_at=now, expires_at=now + timedelta(seconds=CHALLENGE_SECONDS),
        log_app=log_app[:64],
    )
    targets = [device] if device is not None else active_devices(user)
    event = challenge_event(challenge, user.upn, shown_context())
    for target in targets:
        fanout.publish_on_commit(f"device:{target.device_id}", "challenge", event)
    if secrets.randbelow(200) == 0:  # now and then, drop what can no longer be used
        purge_stale(now)
    return challenge


def withdraw(challenge_id: str, now: datetime) -> None:
    """The sign-in went another way (a code, a newer request, cancelled): the request ends now,
    unanswered, so no device offers it any more and a late answer is refused as expired."""
    PushChallenge.objects.filter(pk=challenge_id, state=ChallengeState.PENDING, expires_at__gt=now).update(
        expires_at=now)


def pending_challenges(device: PushDevice, now: datetime) -> list[PushChallenge]:
    query = PushChallenge.objects.filter(user_id=device.user_id, state=ChallengeState.PENDING, expires_at__gt=now)
    if device.method_id is None:
        query = query.filter(device=device)
    else:
        query = query.filter(Q(device=device) | Q(device__isnull=True, purpose="signin"))
    return list(query.order_by("created_at"))


def _remember_nonce(kind: str, device_id: str, nonce: str, now: datetime) -> None:
    """Record a nonce inside the caller's transaction; a second one is a replay (also when two
    arrive together: the primary key refuses the loser)."""
    try:
        with transaction.atomic():
            SeenNonce.objects.create(digest=_digest(kind, device_id, nonce),
                                     expires_at=now + timedelta(seconds=CHALLENGE_SECONDS + 2 * MAX_CLOCK_SKEW))
    except IntegrityError:
        raise PushProtocolError(code=f"{kind}_replayed") from None


def open_stream(header: object, *, now: datetime) -> tuple[PushDevice, list[str]]:
    """Authenticate a device's stream; return the device and the events of its pending
    requests (sent first, so a device that reconnects misses none). One write transaction:
    the token's nonce and the device's last-seen time."""
    token, _, _ = push_protocol.read_device_token(header)
    device = find_device(token.device_id)
    key = device_public_key(device) if device is not None else None
    # The nonce check is the insert itself, just below: nothing else is checked after it.
    push_protocol.verify_device_token(header, public_key=key, now=_ts(now), nonce_seen=False)
    with transaction.atomic():
        _remember_nonce("token", token.device_id, token.nonce, now)
        PushDevice.objects.filter(pk=device.pk).update(last_seen_at=now)
    shown = shown_context()
    return device, [challenge_event(c, device.user.upn, shown) for c in pending_challenges(device, now)]


@dataclass(frozen=True)
class AnswerResult:
    result: str  # "approved", "denied", "reported" (the protocol's answer)
    challenge: PushChallenge


SIGNIN_DETAILS = {
    "wrong_number": "MFA denied; the number entered didn't match",
    "declined": "MFA denied; user declined the authentication",
    "fraud": "MFA denied; fraud code entered",
}


def answer(challenge_id: str, body: object, *, now: datetime) -> AnswerResult:
    """Check a device's signed answer and apply it once."""
    signed, _ = push_protocol.read_answer(body)
    if signed["challenge_id"] != challenge_id:
        raise PushProtocolError(code="answer_malformed", field="challenge_id")
    device = find_device(signed["device_id"])
    challenge = PushChallenge.objects.select_related("user").filter(pk=challenge_id).first()
    view = None
    if challenge is not None:
        # The one device that may answer is the answering one, if it is the challenge's: the
        # device it was sent to while registering, or any confirmed device of the person.
        may_answer = device is not None and device.user_id == challenge.user_id and (
            device.pk == challenge.device_id if challenge.device_id else device.method_id is not None)
        view = ChallengeView(id=challenge.id, device_ids=frozenset([device.device_id] if may_answer else []),
                             number=challenge.number, created=_ts(challenge.created_at),
                             answered=challenge.state != ChallengeState.PENDING)
    checked = push_protocol.verify_answer(
        body, public_key=device_public_key(device) if device is not None else None, challenge=view,
        now=_ts(now), nonce_seen=SeenNonce.objects.filter(
            digest=_digest("answer", signed["device_id"], signed["nonce"])).exists())
    if checked.decision == "fraud":
        state, detail, result = ChallengeState.REPORTED, "fraud", "reported"
    elif checked.approved:
        state, detail, result = ChallengeState.APPROVED, "", "approved"
    else:
        state, result = ChallengeState.DENIED, "denied"
        detail = "wrong_number" if checked.decision == "approve" else "declined"
    with transaction.atomic():
        _remember_nonce("answer", checked.device_id, checked.nonce, now)
        won = PushChallenge.objects.filter(pk=challenge.pk, state=ChallengeState.PENDING, expires_at__gt=now).update(
            state=state, result_detail=detail, answered_at=now, answered_by=device)
        if won != 1:
            current = PushChallenge.objects.get(pk=challenge.pk)
            raise PushProtocolError(code="challenge_answered" if current.state != ChallengeState.PENDING
                                    else "challenge_expired")
        PushDevice.objects.filter(pk=device.pk).update(last_seen_at=now)
        if state == ChallengeState.APPROVED and device.method_id:
            Method.objects.filter(pk=device.method_id).update(last_used_at=now)
        challenge.state, challenge.result_detail = state, detail
        _record_outcome(challenge, device, now)
        fanout.publish_on_commit(f"challenge:{challenge.id}", "answered", json.dumps({"state": state}), close=True)
    return AnswerResult(result=result, challenge=challenge)


def _record_outcome(challenge: PushChallenge, device: PushDevice, now: datetime) -> None:
    """Denials and fraud reports reach the sign-in log here, where they are decided, so they are
    recorded even when nobody is left watching the sign-in page."""
    from watchword.audit import codes
    from watchword.audit.services import record_signin

    if challenge.state == ChallengeState.APPROVED:
        return
    record_signin(request=None, flow_id=challenge.flow_id or challenge.id, typed_name=challenge.user.upn,
                  user=challenge.user, step="mfa" if challenge.purpose == "signin" else "registration",
                  result="failure", error_code=codes.MFA_DENIED, reason=SIGNIN_DETAILS[challenge.result_detail],
                  method=PushMethod.key, ip=challenge.ip, app=challenge.log_app)
    if challenge.state == ChallengeState.REPORTED:
        from watchword.methods.services import report_fraud

        report_fraud(challenge.user, method_type=PushMethod.key, challenge_id=challenge.id, app=challenge.app,
                     ip=challenge.ip, now=now)
