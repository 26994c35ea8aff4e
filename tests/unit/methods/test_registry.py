"""The registry of method types fails loudly: no duplicate type, no unknown type."""

from __future__ import annotations

from typing import ClassVar

import pytest

from watchword.methods import registry
from watchword.methods.errors import DuplicateMethodType, UnknownMethodType


class CarrierPigeon:
    key: ClassVar[str] = "pigeon"
    label: ClassVar[str] = "Carrier pigeon"
    amr: ClassVar[tuple[str, ...]] = ("pigeon",)
    preference: ClassVar[int] = 99
    per_user_limit: ClassVar[int] = 1


@pytest.fixture
def empty_registry(monkeypatch):
    """A registry of this test's own, so registering test types leaves the real one untouched."""
    monkeypatch.setattr(registry, "_registry", {})
    return registry


def test_registering_the_same_type_twice_raises_duplicate_method_type(empty_registry):
    empty_registry.register(CarrierPigeon)

    with pytest.raises(DuplicateMethodType, match="pigeon"):
        empty_registry.register(CarrierPigeon)


def test_a_second_module_claiming_the_totp_key_is_refused_and_the_first_stays_registered():
    registry.load_builtin_types()
    original = registry.get("totp")

    class ImpostorTotp(CarrierPigeon):
        key: ClassVar[str] = "totp"

    with pytest.raises(DuplicateMethodType):
        registry.register(ImpostorTotp)
    assert registry.get("totp") is original


def test_looking_up_an_unknown_type_raises_unknown_method_type():
    with pytest.raises(UnknownMethodType) as raised:
        registry.get("carrier-pigeon")

    assert raised.value.code == "unknown_method_type"


def test_an_empty_type_name_is_unknown():
    with pytest.raises(UnknownMethodType):
        registry.get("")


def test_the_builtin_totp_type_is_registered_with_its_contract():
    registry.load_builtin_types()
    totp = registry.get("totp")

    assert totp.key == "totp"
    assert totp.amr == ("otp",)
    assert totp.per_user_limit == 5


def test_all_types_are_listed_most_preferred_first(empty_registry):
    class Passkey(CarrierPigeon):
        key: ClassVar[str] = "passkey"
        preference: ClassVar[int] = 10

    class Code(CarrierPigeon):
        key: ClassVar[str] = "code"
        preference: ClassVar[int] = 30

    empty_registry.register(Code)
    empty_registry.register(CarrierPigeon)
    empty_registry.register(Passkey)

    assert [t.key for t in empty_registry.all_types()] == ["passkey", "code", "pigeon"]
