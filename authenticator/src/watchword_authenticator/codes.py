"""Time-based one-time codes (RFC 6238) for a stored account; pure, ``now`` is passed in."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

import pyotp

ALGORITHMS = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
DIGITS_ALLOWED = (6, 7, 8)
MAX_PERIOD = 3600


@dataclass(frozen=True)
class TotpParams:
    """A TOTP seed (Base32, no padding) and how codes are made from it (Key Uri Format defaults)."""

    secret: str
    digits: int = 6
    period: int = 30
    algorithm: str = "SHA1"

    def __repr__(self) -> str:  # never show the seed in a log line or a traceback
        return f"TotpParams(secret=<hidden>, digits={self.digits}, period={self.period}, algorithm={self.algorithm!r})"


@dataclass(frozen=True)
class CurrentCode:
    code: str
    seconds_left: int


def make_totp_params(*, secret: object, digits: object = 6, period: object = 30,
                     algorithm: object = "SHA1") -> TotpParams:
    """Validate and normalise; raise ``ValueError`` naming the bad field (never its value)."""
    if not isinstance(secret, str):
        raise ValueError("the secret is missing")
    normal = secret.replace(" ", "").replace("-", "").upper().rstrip("=")
    if not normal:
        raise ValueError("the secret is missing")
    try:
        base64.b32decode(normal + "=" * (-len(normal) % 8))
    except (binascii.Error, ValueError):
        raise ValueError("the secret is not valid Base32") from None
    if not isinstance(algorithm, str) or algorithm.upper() not in ALGORITHMS:
        raise ValueError(f"the algorithm must be one of {', '.join(ALGORITHMS)}")
    digits = _as_int(digits, "digits")
    if digits not in DIGITS_ALLOWED:
        raise ValueError("digits must be 6, 7 or 8")
    period = _as_int(period, "period")
    if not 1 <= period <= MAX_PERIOD:
        raise ValueError(f"the period must be between 1 and {MAX_PERIOD} seconds")
    return TotpParams(secret=normal, digits=digits, period=period, algorithm=algorithm.upper())


def _as_int(value: object, field: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"{field} must be a whole number")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    raise ValueError(f"{field} must be a whole number")


class _IssuedSecretTotp(pyotp.TOTP):
    """pyotp ≥ 2.10 refuses seeds under 112 bits, right for a verifier choosing seeds; an
    authenticator must show codes for the seed a service issued, and many still issue 80 bits."""

    min_secret_length_bits = 8


def current_code(params: TotpParams, *, now: float) -> CurrentCode:
    totp = _IssuedSecretTotp(params.secret, digits=params.digits, interval=params.period,
                      digest=ALGORITHMS[params.algorithm])
    step = int(now) // params.period
    return CurrentCode(code=totp.generate_otp(step), seconds_left=params.period - int(now) % params.period)
