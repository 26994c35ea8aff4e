"""Secrets sealed at rest with AES-256-GCM: they open only with the right key, for the right
purpose, unaltered; the keyring file is validated before use."""

from __future__ import annotations

import base64
import json
import stat

import pytest

from watchword.core.sealing import (
    Keyring,
    SealError,
    key_id_of,
    load_keyring,
    new_keyring,
    seal,
    unseal,
    write_keyring,
)

SEED = b"JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
PURPOSE = "totp-seed:user:42"


@pytest.fixture
def ring() -> Keyring:
    return new_keyring()


def tamper(sealed: str) -> str:
    """Change one character in the middle of the ciphertext (a full 6-bit base64 digit)."""
    fmt, kid, body = sealed.split(":")
    middle = len(body) // 2
    replacement = "A" if body[middle] != "A" else "B"
    return f"{fmt}:{kid}:{body[:middle]}{replacement}{body[middle + 1:]}"


def test_a_sealed_secret_opens_to_the_same_bytes(ring):
    assert unseal(seal(SEED, purpose=PURPOSE, keyring=ring), purpose=PURPOSE, keyring=ring) == SEED


def test_a_sealed_value_does_not_contain_the_secret(ring):
    sealed = seal(SEED, purpose=PURPOSE, keyring=ring)

    assert SEED.decode() not in sealed
    assert base64.urlsafe_b64encode(SEED).decode() not in sealed


def test_sealing_the_same_secret_twice_gives_different_values(ring):
    assert seal(SEED, purpose=PURPOSE, keyring=ring) != seal(SEED, purpose=PURPOSE, keyring=ring)


def test_a_sealed_value_names_its_format_and_key(ring):
    sealed = seal(SEED, purpose=PURPOSE, keyring=ring)

    assert sealed.startswith("ww1:")
    assert key_id_of(sealed) == ring.primary


def test_a_tampered_ciphertext_raises_seal_error(ring):
    sealed = seal(SEED, purpose=PURPOSE, keyring=ring)

    with pytest.raises(SealError):
        unseal(tamper(sealed), purpose=PURPOSE, keyring=ring)


def test_a_truncated_ciphertext_raises_seal_error(ring):
    sealed = seal(SEED, purpose=PURPOSE, keyring=ring)

    with pytest.raises(SealError):
        unseal(sealed[:-8], purpose=PURPOSE, keyring=ring)


def test_a_secret_sealed_for_one_person_does_not_open_for_another(ring):
    sealed = seal(SEED, purpose="totp-seed:user:42", keyring=ring)

    with pytest.raises(SealError):
        unseal(sealed, purpose="totp-seed:user:43", keyring=ring)


def test_a_value_sealed_under_a_key_missing_from_the_keyring_raises_seal_error_naming_the_key(ring):
    other = new_keyring()
    sealed = seal(SEED, purpose=PURPOSE, keyring=other)

    with pytest.raises(SealError, match=other.primary):
        unseal(sealed, purpose=PURPOSE, keyring=ring)


def test_a_value_sealed_under_an_older_key_still_opens_after_a_new_primary_is_added(ring):
    sealed = seal(SEED, purpose=PURPOSE, keyring=ring)
    rotated = ring.with_new_primary()

    assert rotated.primary != ring.primary
    assert unseal(sealed, purpose=PURPOSE, keyring=rotated) == SEED
    assert key_id_of(seal(SEED, purpose=PURPOSE, keyring=rotated)) == rotated.primary


def test_keeping_only_the_primary_key_retires_the_older_ones(ring):
    sealed = seal(SEED, purpose=PURPOSE, keyring=ring)
    retired = ring.with_new_primary().only_primary()

    with pytest.raises(SealError):
        unseal(sealed, purpose=PURPOSE, keyring=retired)


@pytest.mark.parametrize("value", ["", "plaintext", "ww2:k1:AAAA", "ww1:k1", "ww1:k1:AAAA:extra"])
def test_something_that_is_not_a_sealed_value_raises_seal_error(ring, value):
    with pytest.raises(SealError):
        unseal(value, purpose=PURPOSE, keyring=ring)


@pytest.mark.parametrize("body", ["", "AAAA", "%%%%", "A"])
def test_a_sealed_value_with_a_garbled_body_raises_seal_error(ring, body):
    with pytest.raises(SealError):
        unseal(f"ww1:{ring.primary}:{body}", purpose=PURPOSE, keyring=ring)


def test_a_keyring_survives_a_round_trip_through_its_json(ring):
    assert Keyring.from_json(ring.to_json()) == ring


def test_a_keyring_file_is_written_readable_by_its_owner_only(tmp_path, ring):
    path = tmp_path / "keys" / "seal.json"

    write_keyring(path, ring)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_keyring(path) == ring


def test_loading_a_missing_keyring_raises_seal_error_telling_to_run_init(tmp_path):
    with pytest.raises(SealError, match="watchword init"):
        load_keyring(tmp_path / "nowhere.json")


def _key() -> str:
    return base64.urlsafe_b64encode(b"k" * 32).decode()


@pytest.mark.parametrize("text", [
    "",
    "not json",
    "null",
    "[]",
    json.dumps({"keys": {"k1": _key()}}),  # no primary
    json.dumps({"primary": "k1"}),  # no keys
    json.dumps({"primary": "k2", "keys": {"k1": _key()}}),  # primary not among the keys
    json.dumps({"primary": "k1", "keys": {"k1": base64.urlsafe_b64encode(b"k" * 16).decode()}}),  # 128 bits
    json.dumps({"primary": "k1", "keys": {"k1": _key(), "k2": ""}}),  # an empty key
    json.dumps({"primary": "k1", "keys": {"k1": "not base64!"}}),
    json.dumps({"primary": "k1", "keys": {"k1": 12345}}),
    json.dumps({"primary": "k1", "keys": [_key()]}),
], ids=repr)
def test_an_invalid_keyring_file_raises_seal_error(text):
    with pytest.raises(SealError, match="keyring file is not valid"):
        Keyring.from_json(text)
