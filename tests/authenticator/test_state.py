"""The state file: created 0600, refused when others can read it, replaced atomically, and
sealed with a passphrase (scrypt + AES-GCM) when asked."""

from __future__ import annotations

import json
import os
import stat

import pytest
from watchword_authenticator import crypto, sealing
from watchword_authenticator import state as state_module
from watchword_authenticator.accounts import CODES, PUSH, Account
from watchword_authenticator.errors import PassphraseWrong, StateExists, StateInsecure, StateUnreadable, StateUnwritable
from watchword_authenticator.payload import parse_payload
from watchword_authenticator.state import default_state_path, load_state, new_state, save_state

from tests.authenticator.support import EXAMPLE_SECRET, EXAMPLE_URI

PASSPHRASE = "correct horse battery staple"


def no_passphrase():
    raise AssertionError("the passphrase was asked for a plain state file")


def a_state_with_accounts():
    state = new_state()
    codes = parse_payload(EXAMPLE_URI)
    state.book.add(Account(kind=CODES, issuer=codes.issuer, account=codes.account, totp=codes.totp, added=1))
    state.book.add(Account(kind=PUSH, issuer="Contoso", account="megan@contoso.example", totp=codes.totp,
                           server="https://mfa.contoso.example", device_id="dv_1", added=2))
    return state


@pytest.fixture
def fast_scrypt(monkeypatch):
    """scrypt at N=2^15 costs about 0.1 s; tests that seal many times use less (the file records N)."""
    monkeypatch.setattr(sealing, "SCRYPT_N", 2**10)


def test_a_new_state_file_is_created_0600_in_a_0700_folder(state_path):
    save_state(state_path, a_state_with_accounts())

    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_path.parent.stat().st_mode) == 0o700


def test_the_state_file_is_0600_even_under_a_permissive_umask(state_path):
    old = os.umask(0)
    try:
        save_state(state_path, a_state_with_accounts())
    finally:
        os.umask(old)

    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600


def test_a_saved_state_loads_back_with_the_same_key_and_accounts(state_path):
    saved = a_state_with_accounts()
    save_state(state_path, saved)

    loaded = load_state(state_path, passphrase=no_passphrase)

    assert crypto.public_key_b64(loaded.device_key) == crypto.public_key_b64(saved.device_key)
    assert loaded.book.accounts == saved.book.accounts
    assert loaded.sealer is None


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_state_file_others_can_read_is_refused_with_the_fix(state_path, mode):
    save_state(state_path, a_state_with_accounts())
    state_path.chmod(mode)

    with pytest.raises(StateInsecure) as refused:
        load_state(state_path, passphrase=no_passphrase)

    assert f"chmod 600 '{state_path}'" in refused.value.message


def test_saving_replaces_the_file_atomically_and_leaves_no_temporary_file(state_path):
    save_state(state_path, new_state())
    before = state_path.stat().st_ino

    save_state(state_path, a_state_with_accounts())

    assert state_path.stat().st_ino != before  # a new file renamed over the old one
    assert sorted(path.name for path in state_path.parent.iterdir()) == ["state.json"]


def test_a_failed_save_leaves_the_old_file_untouched(state_path, monkeypatch):
    save_state(state_path, new_state())
    original = state_path.read_bytes()

    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_module.os, "replace", refuse)
    with pytest.raises(StateUnwritable, match="not changed"):
        save_state(state_path, a_state_with_accounts())

    assert state_path.read_bytes() == original
    assert sorted(path.name for path in state_path.parent.iterdir()) == ["state.json"]


def test_init_refuses_to_replace_an_existing_state(state_path):
    save_state(state_path, new_state())

    with pytest.raises(StateExists):
        save_state(state_path, new_state(), exclusive=True)


def test_a_damaged_state_file_is_reported_not_raised_as_a_traceback(state_path):
    save_state(state_path, new_state())
    state_path.write_text('{"format": "watchword-authenticator-state", "version": 1, "accounts": []}')

    with pytest.raises(StateUnreadable, match="damaged"):
        load_state(state_path, passphrase=no_passphrase)


def test_a_file_that_is_not_json_is_reported(state_path):
    save_state(state_path, new_state())
    state_path.write_text("not json")

    with pytest.raises(StateUnreadable, match="not valid JSON"):
        load_state(state_path, passphrase=no_passphrase)


def test_the_state_path_comes_from_the_environment_or_the_config_folder():
    assert str(default_state_path({"WATCHWORD_AUTHENTICATOR_STATE": "/srv/a.json"})) == "/srv/a.json"
    assert str(default_state_path({})).endswith(".config/watchword-authenticator/state.json")


# --- passphrase encryption --------------------------------------------------------------------


def test_an_encrypted_state_round_trips_with_its_passphrase(state_path):
    saved = a_state_with_accounts()
    saved.sealer = sealing.Sealer.from_passphrase(PASSPHRASE)
    save_state(state_path, saved)

    loaded = load_state(state_path, passphrase=lambda: PASSPHRASE)

    assert loaded.book.accounts == saved.book.accounts
    assert crypto.public_key_b64(loaded.device_key) == crypto.public_key_b64(saved.device_key)
    assert loaded.sealer is not None


def test_an_encrypted_state_file_shows_neither_seeds_nor_key(state_path):
    saved = a_state_with_accounts()
    saved.sealer = sealing.Sealer.from_passphrase(PASSPHRASE)
    save_state(state_path, saved)

    text = state_path.read_text()
    document = json.loads(text)
    assert EXAMPLE_SECRET not in text and "PRIVATE KEY" not in text and "contoso" not in text
    assert document["encryption"]["kdf"] == "scrypt" and document["encryption"]["cipher"] == "AES-256-GCM"
    assert stat.S_IMODE(state_path.stat().st_mode) == 0o600


def test_a_wrong_passphrase_is_a_clear_error_and_changes_nothing(state_path):
    saved = a_state_with_accounts()
    saved.sealer = sealing.Sealer.from_passphrase(PASSPHRASE)
    save_state(state_path, saved)
    before = state_path.read_bytes()

    with pytest.raises(PassphraseWrong, match="nothing was changed"):
        load_state(state_path, passphrase=lambda: "Tr0ub4dor&3")

    assert state_path.read_bytes() == before


def test_weakened_kdf_parameters_fail_like_a_wrong_passphrase(state_path, fast_scrypt):
    saved = new_state()
    saved.sealer = sealing.Sealer.from_passphrase(PASSPHRASE)
    save_state(state_path, saved)
    document = json.loads(state_path.read_text())
    document["encryption"]["n"] = 2**4  # tampering would only help an attacker guess faster
    state_path.write_text(json.dumps(document))

    with pytest.raises(PassphraseWrong):
        load_state(state_path, passphrase=lambda: PASSPHRASE)


def test_every_save_uses_a_fresh_nonce(state_path, fast_scrypt):
    state = new_state()
    state.sealer = sealing.Sealer.from_passphrase(PASSPHRASE)
    nonces = set()
    for _ in range(5):
        save_state(state_path, state)
        nonces.add(json.loads(state_path.read_text())["encryption"]["nonce"])

    assert len(nonces) == 5


def test_clearing_the_passphrase_writes_a_plain_file_again(state_path, fast_scrypt):
    state = a_state_with_accounts()
    state.sealer = sealing.Sealer.from_passphrase(PASSPHRASE)
    save_state(state_path, state)
    loaded = load_state(state_path, passphrase=lambda: PASSPHRASE)

    loaded.sealer = None
    save_state(state_path, loaded)

    assert load_state(state_path, passphrase=no_passphrase).book.accounts == state.book.accounts
