"""The device key and what it signs, per docs/push-protocol.md ("Keys and encodings").

Pure functions: the caller passes ``now`` (integer Unix seconds) and may pass the nonce, so tests
can build exact vectors. ``verify_device_token`` is the server's side of the device token, kept
here as the reference the tests check the client against.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

TOKEN_SCHEME = "Watchword-Device"
NONCE_BYTES = 16  # the protocol asks for 16 or more random bytes
MAX_CLOCK_SKEW = 60  # seconds; the server refuses a token time further from its clock
DECISIONS = ("approve", "deny", "fraud")

_B64URL = re.compile(r"[A-Za-z0-9_-]*")


def b64url_encode(data: bytes) -> str:
    """Base64url without padding (RFC 4648 §5, padding dropped as the protocol asks)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    if not isinstance(text, str) or not _B64URL.fullmatch(text) or len(text) % 4 == 1:
        raise ValueError("not base64url without padding")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url without padding") from exc


def canonical_json(obj: Any) -> bytes:
    """The protocol's canonical JSON: sorted keys, no spaces, UTF-8 (not ASCII-escaped)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# --- the device key ---------------------------------------------------------------------------


def new_device_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_to_pem(key: ec.EllipticCurvePrivateKey) -> str:
    """PKCS#8 PEM, unencrypted: the state file as a whole is what a passphrase protects."""
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode("ascii")


def load_private_key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode("ascii"), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("the device key is not an ECDSA P-256 key")
    return key


def public_key_b64(key: ec.EllipticCurvePrivateKey) -> str:
    """What activation sends: base64url of the DER SubjectPublicKeyInfo."""
    der = key.public_key().public_bytes(serialization.Encoding.DER,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return b64url_encode(der)


def load_public_key_b64(text: str) -> ec.EllipticCurvePublicKey:
    key = serialization.load_der_public_key(b64url_decode(text))
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("not an ECDSA P-256 public key")
    return key


# --- signatures -------------------------------------------------------------------------------


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    """ECDSA P-256 with SHA-256, DER-encoded, base64url."""
    return b64url_encode(key.sign(data, ec.ECDSA(hashes.SHA256())))


def verify_signature(public_key: ec.EllipticCurvePublicKey, data: bytes, signature: str) -> bool:
    try:
        public_key.verify(b64url_decode(signature), data, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True


def new_nonce() -> str:
    return b64url_encode(secrets.token_bytes(NONCE_BYTES))


# --- the device token -------------------------------------------------------------------------


def device_token(key: ec.EllipticCurvePrivateKey, *, device_id: str, now: int, nonce: str | None = None) -> str:
    """The ``Authorization`` header value for the stream:
    ``Watchword-Device <b64url(canonical JSON)>.<b64url signature over those JSON bytes>``.
    A fresh nonce each time: the server refuses one it has seen, so every reconnect needs a new token."""
    claims = canonical_json({"device_id": device_id, "time": int(now), "nonce": nonce or new_nonce()})
    return f"{TOKEN_SCHEME} {b64url_encode(claims)}.{sign(key, claims)}"


def verify_device_token(header: str, public_key: ec.EllipticCurvePublicKey, *, now: int,
                        max_skew: int = MAX_CLOCK_SKEW) -> dict:
    """Check a device token as the server does (signature, time window, nonce shape) and return
    its claims; raise ``ValueError`` naming the first problem. Nonce replay is the caller's to track."""
    scheme, _, value = header.partition(" ")
    if scheme != TOKEN_SCHEME:
        raise ValueError("wrong authorization scheme")
    payload_b64, dot, signature = value.partition(".")
    if not dot:
        raise ValueError("token has no signature part")
    payload = b64url_decode(payload_b64)
    if not verify_signature(public_key, payload, signature):
        raise ValueError("signature does not verify")
    claims = json.loads(payload)
    if not isinstance(claims, dict) or set(claims) != {"device_id", "time", "nonce"}:
        raise ValueError("claims are not exactly device_id, time, nonce")
    if not isinstance(claims["time"], int) or abs(claims["time"] - now) > max_skew:
        raise ValueError("token time is too far from now")
    if len(b64url_decode(claims["nonce"])) < NONCE_BYTES:
        raise ValueError("nonce is shorter than 16 bytes")
    return claims


# --- answers ----------------------------------------------------------------------------------


def signed_answer(key: ec.EllipticCurvePrivateKey, *, device_id: str, challenge_id: str, decision: str,
                  number: str | None, now: int, nonce: str | None = None) -> dict:
    """The answer body: every field, then ``signature`` over the canonical JSON of all the others.

    ``number`` is always present (an empty string for ``deny`` and ``fraud``, where the server
    ignores it) so the signed field set is the same whatever the decision.
    """
    if decision not in DECISIONS:
        raise ValueError(f"decision must be one of {', '.join(DECISIONS)}")
    if decision == "approve" and not number:
        raise ValueError("approving needs the number shown on the sign-in page")
    body = {
        "device_id": device_id,
        "challenge_id": challenge_id,
        "number": str(number) if decision == "approve" else "",
        "decision": decision,
        "nonce": nonce or new_nonce(),
        "time": int(now),
    }
    body["signature"] = sign(key, canonical_json(body))
    return body
