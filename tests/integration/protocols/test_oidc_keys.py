"""ID-token signing keys: ``watchword oidc keys rotate`` makes a new key that signs from the next
token on, in the running server too; the retired key stays in the JWKS for the grace period so
tokens signed before still verify, and is dropped and deleted after it. The older single key file
keeps working: it becomes the current key."""

from __future__ import annotations

import stat
import time
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.test import Client
from joserfc import jws

from tests.integration.protocols.oidc_support import (  # noqa: F401 (fixtures)
    authorize_path,
    code_from,
    exchange,
    mfa_person,
    pkce_pair,
    public_app,
    sign_in_through,
    verified_claims,
)
from watchword.audit.models import AuditEvent
from watchword.cli import main
from watchword.config import ConfigError
from watchword.protocols import oidc_keys
from watchword.protocols.oidc_signing import refresh_signing_keys

pytestmark = pytest.mark.django_db

DAY = 86400


def kid_of(token: str) -> str:
    return jws.extract_compact(token.encode()).headers()["kid"]


def published_kids() -> set[str]:
    return {key["kid"] for key in Client().get("/o/jwks.json").json()["keys"]}


@pytest.fixture
def tokens(mfa_person, public_app):
    person, authenticator = mfa_person
    browser = Client()
    verifier, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)
    sign_in_through(browser, path, person.upn, authenticator)
    return browser, exchange(code_from(browser.get(path)), public_app.client_id, code_verifier=verifier).json()


def test_after_rotation_old_tokens_verify_and_new_tokens_carry_the_new_kid(tokens, public_app, capsys):
    browser, issued = tokens
    old_kid = kid_of(issued["id_token"])
    assert old_kid in published_kids()

    assert main(["oidc", "keys", "rotate"]) == 0
    out = capsys.readouterr().out
    newest = oidc_keys.stored_keys(settings.OIDC_KEYS_DIR)[-1]
    new_kid = oidc_keys.key_id(newest.pem)
    assert oidc_keys.key_id(settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"]) == new_kid
    assert new_kid != old_kid and new_kid in out and old_kid in out

    assert published_kids() >= {old_kid, new_kid}
    verified_claims(browser, issued["id_token"], public_app.client_id)  # signed before, still verifies

    refreshed = Client().post("/o/token/", {"grant_type": "refresh_token", "refresh_token": issued["refresh_token"],
                                            "client_id": public_app.client_id}).json()
    assert kid_of(refreshed["id_token"]) == new_kid
    verified_claims(browser, refreshed["id_token"], public_app.client_id)

    # an application signing the person out with the ID token from before the rotation
    response = browser.get("/o/logout/?" + urlencode({"id_token_hint": issued["id_token"]}))
    assert response.status_code == 200 and b"You signed out" in response.content

    event = AuditEvent.objects.get(action="oidc.keys.rotate")
    assert event.actor_label == "cli" and event.after["kid"] == new_kid and event.before["kid"] == old_kid
    assert stat.S_IMODE(newest.path.stat().st_mode) == 0o600


def test_retired_keys_are_published_for_the_grace_period_only_then_deleted(settings, tmp_path):
    folder = tmp_path / "oidc"
    folder.mkdir()
    now = time.time()
    pems = [oidc_keys.new_private_key_pem() for _ in range(3)]
    for pem, age in zip(pems, (3 * DAY, 2 * DAY, 3600)):
        oidc_keys._write_key(folder, pem, now - age)
    settings.OIDC_KEYS_DIR = folder
    settings.OIDC_RETIRED_KEY_SECONDS = DAY + 3600
    kids = [oidc_keys.key_id(pem) for pem in pems]
    try:
        refresh_signing_keys()
        # the oldest was retired two days ago (past the grace), the middle one an hour ago
        assert published_kids() == {kids[1], kids[2]}
        assert main(["oidc", "keys", "rotate"]) == 0
        remaining = oidc_keys.stored_keys(folder)
        assert [oidc_keys.key_id(key.pem) for key in remaining][:2] == kids[1:]
        assert len(remaining) == 3 and kids[0] not in {oidc_keys.key_id(key.pem) for key in remaining}
        assert published_kids() == {kids[1], kids[2], oidc_keys.key_id(remaining[-1].pem)}
    finally:
        settings.OIDC_KEYS_DIR = settings.DATA_DIR / "keys" / "oidc"
        refresh_signing_keys()


def test_a_fixed_signing_key_is_not_rotated(settings, capsys):
    settings.OIDC_KEYS_DIR = None
    assert main(["oidc", "keys", "rotate"]) == 1
    assert "[oidc_keys_fixed]" in capsys.readouterr().err


def test_the_single_key_of_earlier_versions_becomes_the_current_key(tmp_path):
    legacy = tmp_path / "oidc.pem"
    pem = oidc_keys.new_private_key_pem()
    legacy.write_text(pem)
    keys = oidc_keys.load_signing_keys(tmp_path / "oidc", legacy=legacy, now=time.time(), grace=DAY)
    assert keys.current.pem == pem and keys.published == ()
    assert not legacy.exists()
    assert stat.S_IMODE(keys.current.path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "oidc").stat().st_mode) == 0o700
    rotation = oidc_keys.rotate(tmp_path / "oidc", legacy=legacy, now=time.time(), grace=DAY)
    assert rotation.retired.pem == pem and rotation.new.pem != pem


def test_a_key_folder_with_something_else_in_a_key_file_stops_start_up(tmp_path):
    folder = tmp_path / "oidc"
    folder.mkdir()
    (folder / oidc_keys.file_name(time.time())).write_text("not a key")
    with pytest.raises(ConfigError, match="does not hold an unencrypted PEM private key"):
        oidc_keys.load_signing_keys(folder, legacy=None, now=time.time(), grace=DAY)


def test_key_file_names_carry_their_time():
    moment = 1795000000.123456
    assert oidc_keys.created_of(oidc_keys.file_name(moment)) == pytest.approx(moment, abs=1e-6)
    assert oidc_keys.created_of("oidc.pem") is None
