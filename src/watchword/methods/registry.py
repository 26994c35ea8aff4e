"""The method types Watchword knows, one module each, behind one small contract.

The registry refuses a duplicate type at import time and an unknown type at lookup; it never
skips a broken module.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Protocol

from watchword.methods.errors import DuplicateMethodType, UnknownMethodType


@dataclass(frozen=True)
class VerifyOutcome:
    ok: bool
    reason: str = ""  # "invalid", "reused", "malformed" when not ok
    step: int | None = None


class MethodType(Protocol):
    key: ClassVar[str]
    label: ClassVar[str]
    amr: ClassVar[tuple[str, ...]]
    preference: ClassVar[int]  # lower = preferred when the system picks (passkey → push → code → phone)
    per_user_limit: ClassVar[int]
    verifies_codes: ClassVar[bool]  # accepts 6-digit codes at the "Enter code" step

    def begin_enrolment(self, *, user, issuer: str, now: datetime) -> dict: ...

    def confirm_enrolment(self, *, user, pending: dict, response: str, now: datetime, name: str): ...

    def verify(self, *, method, response: str, now: datetime) -> VerifyOutcome: ...

    def can_verify_now(self, *, method) -> bool: ...


_registry: dict[str, MethodType] = {}


def register(method_type: type) -> type:
    key = method_type.key
    if key in _registry:
        raise DuplicateMethodType(f"method type {key!r} is registered twice")
    _registry[key] = method_type()
    return method_type


def get(key: str) -> MethodType:
    try:
        return _registry[key]
    except KeyError:
        raise UnknownMethodType(detail_key=key) from None


def all_types() -> list[MethodType]:
    return sorted(_registry.values(), key=lambda t: t.preference)


def code_types() -> list[str]:
    return [t.key for t in all_types() if t.verifies_codes]


def load_builtin_types() -> None:
    from watchword.methods import phone, push, totp  # noqa: F401
