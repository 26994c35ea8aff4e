"""The server's half of the authenticator push protocol (docs/push-protocol.md), as pure checks.

Nothing here touches the database or reads the clock: the caller passes ``now`` and what it
knows (the device's public key, the challenge, whether a nonce was seen), and gets a typed result
or a ``PushProtocolError`` with a stable code. The push method, its device registry and the hub
that holds devices' connections build on these checks.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from watchword.methods.errors import PushProtocolError

TOKEN_SCHEME = "Watchword-Device"
MAX_CLOCK_SKEW = 60  # seconds between a device's clock and ours
MIN_NONCE_BYTES = 16
MAX_FIELD = 512  # characters, for any string field a device sends
CHALLENGE_SECONDS = 60
DECISIONS = ("approve", "deny", "fraud")
ANSWER_FIELDS = {"device_id", "challenge_id", "number", "decision", "nonce", "time", "signature"}


def canonical_json(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def b64url_decode(text: object, *, code: str) -> bytes:
    if not isinstance(text, str) or not text or len(text) > 4 * MAX_FIELD or len(text) % 4 == 1:
        raise PushProtocolError(code=code)
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise PushProtocolError(code=code) from None


def load_public_key(text: object) -> ec.EllipticCurvePublicKey:
    """A device's public key: base64url of DER SubjectPublicKeyInfo, on curve P-256 only."""
    der = b64url_decode(text, code="public_key_invalid")
    try:
        key = serialization.load_der_public_key(der)
    except (ValueError, TypeError):
        raise PushProtocolError(code="public_key_invalid") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise PushProtocolError(code="public_key_invalid")
    return key


def signature_valid(key: ec.EllipticCurvePublicKey, data: bytes, signature: object) -> bool:
    try:
        raw = b64url_decode(signature, code="signature_invalid")
        key.verify(raw, data, ec.ECDSA(hashes.SHA256()))
    except (PushProtocolError, InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class DeviceToken:
    device_id: str
    time: int
    nonce: str


def read_device_token(header: object) -> tuple[DeviceToken, bytes, str]:
    """Parse ``Watchword-Device <claims>.<signature>`` without trusting it yet: returns the claims
    (to look up the device's key), the signed bytes and the signature."""
    if not isinstance(header, str) or len(header) > 4096:
        raise PushProtocolError(code="token_invalid")
    scheme, _, value = header.partition(" ")
    payload_b64, dot, signature = value.partition(".")
    if scheme != TOKEN_SCHEME or not dot:
        raise PushProtocolError(code="token_invalid")
    payload = b64url_decode(payload_b64, code="token_invalid")
    try:
        claims = json.loads(payload)
    except (ValueError, UnicodeDecodeError):
        raise PushProtocolError(code="token_invalid") from None
    if not isinstance(claims, dict) or set(claims) != {"device_id", "time", "nonce"}:
        raise PushProtocolError(code="token_invalid")
    if not isinstance(claims["device_id"], str) or not isinstance(claims["nonce"], str) or \
            type(claims["time"]) is not int or len(claims["device_id"]) > MAX_FIELD:
        raise PushProtocolError(code="token_invalid")
    return DeviceToken(claims["device_id"], claims["time"], claims["nonce"]), payload, signature


def verify_device_token(header: object, *, public_key: ec.EllipticCurvePublicKey | None, now: int,
                        nonce_seen: bool) -> DeviceToken:
    """Check a device token: the device is registered (``public_key`` given), the signature is
    its key's, the time is within ``MAX_CLOCK_SKEW`` of ``now`` and the nonce is new."""
    token, payload, signature = read_device_token(header)
    if public_key is None:
        raise PushProtocolError(code="device_unknown")
    if not signature_valid(public_key, payload, signature):
        raise PushProtocolError(code="signature_invalid")
    if abs(token.time - now) > MAX_CLOCK_SKEW:
        raise PushProtocolError(code="stale_token", server_time=now)
    if len(b64url_decode(token.nonce, code="token_invalid")) < MIN_NONCE_BYTES:
        raise PushProtocolError(code="token_invalid")
    if nonce_seen:
        raise PushProtocolError(code="token_replayed")
    return token


@dataclass(frozen=True)
class ChallengeView:
    """What the answer check needs to know of a challenge."""

    id: str
    device_ids: frozenset[str]  # the person's registered devices
    number: str
    created: int
    answered: bool


@dataclass(frozen=True)
class Answer:
    device_id: str
    challenge_id: str
    decision: str  # "approve", "deny", "fraud"
    number_matches: bool
    nonce: str
    time: int

    @property
    def approved(self) -> bool:
        return self.decision == "approve" and self.number_matches


def read_answer(body: object) -> tuple[dict, str]:
    if not isinstance(body, dict) or set(body) != ANSWER_FIELDS:
        raise PushProtocolError(code="answer_malformed")
    for name in ANSWER_FIELDS - {"time"}:
        if not isinstance(body[name], str) or len(body[name]) > MAX_FIELD:
            raise PushProtocolError(code="answer_malformed", field=name)
    if type(body["time"]) is not int:
        raise PushProtocolError(code="answer_malformed", field="time")
    if body["decision"] not in DECISIONS:
        raise PushProtocolError(code="answer_malformed", field="decision")
    signed = {name: body[name] for name in ANSWER_FIELDS - {"signature"}}
    return signed, body["signature"]


def verify_answer(body: object, *, public_key: ec.EllipticCurvePublicKey | None, challenge: ChallengeView | None,
                  now: int, nonce_seen: bool) -> Answer:
    """Check a signed answer: well formed, from a registered device of the challenge's person,
    signed by that device's key, about a live unanswered challenge, fresh and not replayed.
    The number is compared in constant time; a wrong number is a valid answer that denies."""
    signed, signature = read_answer(body)
    if public_key is None:
        raise PushProtocolError(code="device_unknown")
    if not signature_valid(public_key, canonical_json(signed), signature):
        raise PushProtocolError(code="signature_invalid")
    if nonce_seen:  # this very answer arrived before: say so, whatever became of the challenge
        raise PushProtocolError(code="answer_replayed")
    if challenge is None or challenge.id != signed["challenge_id"]:
        raise PushProtocolError(code="challenge_unknown")
    if signed["device_id"] not in challenge.device_ids:
        raise PushProtocolError(code="device_unknown")
    if challenge.answered:
        raise PushProtocolError(code="challenge_answered")
    if now - challenge.created > CHALLENGE_SECONDS:
        raise PushProtocolError(code="challenge_expired")
    if abs(signed["time"] - now) > MAX_CLOCK_SKEW or signed["time"] < challenge.created - MAX_CLOCK_SKEW:
        raise PushProtocolError(code="stale_answer", server_time=now)
    matches = hmac.compare_digest(signed["number"].encode(), challenge.number.encode())
    return Answer(device_id=signed["device_id"], challenge_id=signed["challenge_id"], decision=signed["decision"],
                  number_matches=matches, nonce=signed["nonce"], time=signed["time"])


def new_number() -> str:
    """The two-digit number shown on the sign-in page (10–99), from the OS's CSPRNG."""
    return str(10 + secrets.randbelow(90))
