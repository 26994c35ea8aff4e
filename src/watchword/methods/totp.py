"""Authenticator-app codes: RFC 6238 TOTP (SHA-1, 6 digits, 30-second steps).

The maths is pure (``match_totp`` takes ``now``); the adapter ``TotpMethod`` unseals the seed and
records the accepted time step with a compare-and-set ``UPDATE … WHERE last_used_step < step`` so
that a code verifies once, also when two requests race (RFC 6238 §5.2: "the verifier MUST NOT
accept the second attempt of the OTP after the successful validation has been issued").
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import ClassVar

import pyotp
import segno
from django.db import connection

from watchword.core import sealing
from watchword.methods.errors import CodeInvalid, CodeMalformed, EnrolmentExpired, MethodLimitReached
from watchword.methods.registry import VerifyOutcome, register

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # accept one step either side (RFC 6238 §5.2 recommends at most one)
ENROLMENT_SECONDS = 600


def new_secret() -> str:
    """160 random bits (RFC 4226 §4 recommends 160), Base32 without padding."""
    return pyotp.random_base32(32)


def time_step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def normalise_code(code: object) -> str | None:
    if not isinstance(code, str):
        return None
    text = code.replace(" ", "").replace("-", "").strip()
    if len(text) != DIGITS or not text.isascii() or not text.isdigit():
        return None
    return text


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).generate_otp(step)


def match_totp(secret: str, code: object, *, now: datetime, after_step: int) -> VerifyOutcome:
    """Check ``code`` against the steps around ``now``; refuse steps at or before ``after_step``.

    Every candidate is compared with ``hmac.compare_digest`` and none is skipped, so timing does
    not reveal which step matched.
    """
    wanted = normalise_code(code)
    if wanted is None:
        return VerifyOutcome(ok=False, reason="malformed")
    current = time_step(now)
    matched: list[int] = []
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step).encode(), wanted.encode()):
            matched.append(step)
    if not matched:
        return VerifyOutcome(ok=False, reason="invalid")
    fresh = [step for step in matched if step > after_step]
    if not fresh:
        return VerifyOutcome(ok=False, reason="reused")
    return VerifyOutcome(ok=True, step=max(fresh))


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    """``otpauth://totp/Issuer:account?secret=…&issuer=…`` (Key Uri Format), with the
    algorithm, digits and period spelled out for apps that do not assume the defaults."""
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(name=account, issuer_name=issuer)
    return uri + "&algorithm=SHA1&digits=6&period=30" if "algorithm=" not in uri else uri


def qr_svg(uri: str, *, title: str) -> str:
    qr = segno.make(uri, error="m")
    # A viewBox (omitsize) lets the page scale the code to the screen without clipping it; the
    # 4-module quiet zone is what ISO/IEC 18004 asks for and scanners rely on.
    return qr.svg_inline(scale=5, border=4, title=title, dark="#000", light="#fff", omitsize=True)


def group_secret(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def seed_purpose(user_pk: int) -> str:
    return f"totp-seed:user:{user_pk}"


@register
class TotpMethod:
    key: ClassVar[str] = "totp"
    label: ClassVar[str] = "Authenticator app"
    detail: ClassVar[str] = "Time-based one-time code (TOTP)"
    amr: ClassVar[tuple[str, ...]] = ("otp",)
    preference: ClassVar[int] = 30
    per_user_limit: ClassVar[int] = 5
    verifies_codes: ClassVar[bool] = True

    def begin_enrolment(self, *, user, issuer: str, now: datetime) -> dict:
        from watchword.methods.models import Method

        if Method.objects.filter(user=user, type=self.key).count() >= self.per_user_limit:
            raise MethodLimitReached(f"You already have {self.per_user_limit} authenticator apps. "
                                     "Delete one before adding another.")
        secret = new_secret()
        return {
            "type": self.key,
            "secret_sealed": sealing.seal(secret.encode(), purpose=seed_purpose(user.pk),
                                          keyring=sealing.default_keyring()),
            "started": int(now.timestamp()),
        }

    def pending_secret(self, *, user, pending: dict) -> str:
        return sealing.unseal(pending["secret_sealed"], purpose=seed_purpose(user.pk),
                              keyring=sealing.default_keyring()).decode()

    def confirm_enrolment(self, *, user, pending: dict, response: str, now: datetime, name: str):
        """Check the first code, then save the method with that code's step already used."""
        from django.db import transaction

        from watchword.directory.models import User
        from watchword.methods.models import Method

        if int(now.timestamp()) - int(pending.get("started", 0)) > ENROLMENT_SECONDS:
            raise EnrolmentExpired()
        secret = self.pending_secret(user=user, pending=pending)
        outcome = match_totp(secret, response, now=now, after_step=-1)
        if outcome.reason == "malformed":
            raise CodeMalformed(field="code")
        if not outcome.ok:
            raise CodeInvalid("That code didn't work. Make sure your phone's clock is right and enter "
                              "the code your app shows now.", field="code")
        with transaction.atomic():
            User.objects.select_for_update().filter(pk=user.pk).first()
            existing = Method.objects.filter(user=user)
            if existing.filter(type=self.key).count() >= self.per_user_limit:
                raise MethodLimitReached()
            return Method.objects.create(
                user=user, type=self.key, name=name or self.label, secret_sealed=pending["secret_sealed"],
                last_used_step=outcome.step, is_default=not existing.filter(is_default=True).exists(),
                last_used_at=now,
            )

    def verify(self, *, method, response: str, now: datetime) -> VerifyOutcome:
        return verify_seeded_code(method=method, response=response, now=now)

    def can_verify_now(self, *, method) -> bool:
        return True  # codes work offline, on the person's device

    def reseal(self, *, method, old: sealing.Keyring, new: sealing.Keyring) -> str:
        return reseal_seed(method=method, old=old, new=new)


def verify_seeded_code(*, method, response: str, now: datetime) -> VerifyOutcome:
    """Verify a code against a method's sealed seed (code apps, and push devices, which got the
    seed at activation); the accepted step is recorded with a compare-and-set."""
    from watchword.methods.models import Method

    secret = sealing.unseal(method.secret_sealed, purpose=seed_purpose(method.user_id),
                            keyring=sealing.default_keyring()).decode()
    outcome = match_totp(secret, response, now=now, after_step=method.last_used_step)
    if not outcome.ok:
        return outcome
    # The compare-and-set that makes a code single-use, also under concurrent requests. Every
    # accepted code runs it, so it is a prepared statement rather than an ORM-built one.
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {Method._meta.db_table} SET last_used_step = %s, last_used_at = %s "
                       f"WHERE id = %s AND last_used_step < %s",
                       [outcome.step, connection.ops.adapt_datetimefield_value(now), method.pk, outcome.step])
        won = cursor.rowcount
    if won == 1:
        method.last_used_step, method.last_used_at = outcome.step, now
    return outcome if won == 1 else VerifyOutcome(ok=False, reason="reused")


def reseal_seed(*, method, old: sealing.Keyring, new: sealing.Keyring) -> str:
    purpose = seed_purpose(method.user_id)
    return sealing.seal(sealing.unseal(method.secret_sealed, purpose=purpose, keyring=old),
                        purpose=purpose, keyring=new)
