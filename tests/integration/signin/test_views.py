"""The sign-in pages end to end with the test client: name → password → (new password) →
"More information required" → registration wizard, or → code → My account."""

from __future__ import annotations

import base64
import json
import re
import time

import pyotp
import pytest
from django.test import Client

from tests.support import PASSWORD
from watchword.directory.models import MfaState
from watchword.directory.services import create_user, set_enabled
from watchword.methods.models import Method
from watchword.methods.services import set_mfa_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def adele_app(adele, enrol):
    """Adele with per-user MFA turned on and an authenticator app registered (so: Enforced)."""
    set_mfa_state(adele, "enabled", actor="cli", notify=False)
    return enrol(adele)


def location(response) -> str:
    """Where the sign-in went: a redirect's target, or — when a step's POST answers with the next
    step's page directly — the address that page's form posts to."""
    if response.status_code == 200 and response.request["PATH_INFO"].startswith("/signin"):
        actions = [action for action in re.findall(r'<form method="post" action="(/signin/[^"?]+)"',
                                                   response.content.decode()) if action != "/signin/cancel"]
        assert actions, response.content[:500]
        return actions[-1]
    assert response.status_code == 302, (response.status_code, response.content[:500])
    return response["Location"]


def page(response) -> str:
    return response.content.decode()


def without_tokens(html: str, name: str) -> str:
    """The page with the typed name and the per-request CSRF token blanked out."""
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    html = re.sub(r'name="flow" value="[^"]+"', "", html)  # signed: differs with every name and time
    return html.replace(name, "NAME")


# --- the journeys ---------------------------------------------------------------------------


def test_a_person_without_mfa_signs_in_with_name_and_password_and_reaches_my_account(client, sign_in, adele):
    name_step = client.post("/signin", {"name": adele.upn})
    assert location(name_step) == "/signin/password"
    password_step = client.post("/signin/password", {"password": PASSWORD, "flow": sign_in.flow_token(name_step)})
    assert location(password_step) == "/myaccount"

    response = client.get("/myaccount")
    assert response.status_code == 200
    assert "Adele Vance" in page(response)


def test_a_person_whose_mfa_was_enabled_registers_an_authenticator_at_sign_in_and_reaches_my_account(
        client, sign_in, make_person):
    adele = make_person("Adele Vance", mfa_state="enabled")

    assert location(sign_in.password(client, adele.upn)) == "/signin/more-information"
    interrupt = client.get("/signin/more-information")
    assert "More information required" in page(interrupt)
    assert location(client.post("/signin/more-information")) == "/signin/register"
    assert "Keep your account secure" in page(client.get("/signin/register"))
    assert location(client.post("/signin/register?step=app", {"kind": "totp"})) == "/signin/register?step=scan"
    scan = page(client.get("/signin/register?step=scan"))
    assert "<svg" in scan  # the QR code
    secret = re.search(r'id="secret-key">([A-Z2-7 ]+)<', scan).group(1).replace(" ", "")
    assert location(client.post("/signin/register?step=scan")) == "/signin/register?step=code"
    code = pyotp.TOTP(secret).now()
    assert location(client.post("/signin/register?step=code", {"code": code})) == "/signin/register?step=done"
    assert "Success!" in page(client.get("/signin/register?step=done"))
    assert location(client.post("/signin/register?step=done")) == "/myaccount"

    assert client.get("/myaccount").status_code == 200
    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.ENFORCED
    assert Method.objects.filter(user=adele, type="totp").count() == 1


def test_a_wrong_first_code_in_the_wizard_registers_nothing(client, sign_in, make_person):
    adele = make_person("Adele Vance", mfa_state="enabled")
    sign_in.password(client, adele.upn)
    client.post("/signin/more-information")
    client.post("/signin/register?step=app", {"kind": "totp"})

    response = client.post("/signin/register?step=code", {"code": "000000"})

    assert response.status_code == 200
    assert "That code didn&#x27;t work." in page(response)
    assert not Method.objects.filter(user=adele).exists()


def test_a_person_enforced_before_registering_is_asked_for_more_information(client, sign_in, make_person):
    lee = make_person("Lee Gu", mfa_state="enforced")

    assert location(sign_in.password(client, lee.upn)) == "/signin/more-information"


def test_a_person_with_an_authenticator_signs_in_with_password_and_code(client, sign_in, adele, adele_app):
    assert location(sign_in.password(client, adele.upn)) == "/signin/verify"
    assert "Enter code" in page(client.get("/signin/verify"))

    assert location(client.post("/signin/verify", {"code": adele_app.fresh_code()})) == "/myaccount"
    assert client.get("/myaccount").status_code == 200


def test_the_password_alone_does_not_sign_in_a_person_who_needs_mfa(client, sign_in, adele, adele_app):
    sign_in.password(client, adele.upn)

    response = client.get("/myaccount")

    assert location(response).startswith("/signin")


def test_a_wrong_code_is_refused_with_a_message_on_the_code_page(client, sign_in, adele, adele_app):
    sign_in.password(client, adele.upn)

    response = client.post("/signin/verify", {"code": adele_app.wrong_code()})

    assert response.status_code == 200
    assert "That code didn&#x27;t work. Check the code and try again." in page(response)
    assert location(client.get("/myaccount")).startswith("/signin")


def test_a_code_used_for_one_sign_in_is_refused_at_the_next(sign_in, adele, adele_app):
    code = adele_app.fresh_code()
    assert location(sign_in.with_code(Client(), adele.upn, code)) == "/myaccount"

    response = sign_in.with_code(Client(), adele.upn, code)

    assert response.status_code == 200
    assert "That code was already used. Wait for the next code in your app and enter it." in page(response)


def test_the_code_that_confirmed_registration_cannot_be_used_again_to_sign_in(client, sign_in, adele, enrol):
    set_mfa_state(adele, "enabled", actor="cli", notify=False)
    app = enrol(adele, minutes_ago=0)  # registered just now: its first code is still inside the time window
    first = app.code_for_step(app.method.last_used_step)

    response = sign_in.with_code(client, adele.upn, first)

    assert "That code was already used." in page(response)
    assert location(client.get("/myaccount")).startswith("/signin")


def test_signing_in_replaces_a_session_id_the_browser_already_had(client, sign_in, adele):
    before = client.session.session_key  # e.g. planted by someone else before the person signs in
    assert client.cookies["watchword_session"].value == before

    sign_in.password(client, adele.upn)

    assert client.get("/myaccount").status_code == 200
    assert client.cookies["watchword_session"].value != before


def test_typing_a_name_stores_nothing_on_the_server(client, adele):
    from django.contrib.sessions.models import Session

    for n in range(5):
        client.post("/signin", {"name": f"someone{n}@contoso.example"})

    assert Session.objects.count() == 0
    assert "watchword_session" not in client.cookies


def test_a_password_form_whose_signed_sign_in_was_tampered_with_starts_again(client, sign_in, adele):
    token = sign_in.flow_token(sign_in.name(client, "nobody@contoso.example"))
    payload, _, rest = token.partition(":")  # signed JSON for nobody@…; sign in as Adele with it instead
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    data["n"] = adele.upn
    forged = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=") \
        + ":" + rest

    response = client.post("/signin/password", {"password": PASSWORD, "flow": forged})

    assert location(response) == "/signin"
    assert location(client.get("/myaccount")).startswith("/signin")


def test_signing_out_ends_the_session(client, sign_in, adele):
    sign_in.password(client, adele.upn)

    response = client.post("/signout")

    assert "You signed out of your account" in page(response)
    assert location(client.get("/myaccount")).startswith("/signin")


def test_a_signed_in_person_who_opens_the_sign_in_page_is_taken_to_my_account(client, sign_in, adele):
    sign_in.password(client, adele.upn)

    assert location(client.get("/signin")) == "/myaccount"


def test_after_sign_in_the_person_lands_on_the_page_they_asked_for(client, sign_in, adele):
    page_ = client.post("/signin?next=/mysecurityinfo", {"name": adele.upn})

    response = client.post("/signin/password", {"password": PASSWORD, "flow": sign_in.flow_token(page_)})

    assert location(response) == "/mysecurityinfo"


@pytest.mark.parametrize("elsewhere", ["https://evil.example/", "//evil.example/", "/\\evil.example",
                                       "javascript:alert(1)"])
def test_a_next_address_on_another_site_is_ignored(client, sign_in, adele, elsewhere):
    page_ = client.post("/signin", {"name": adele.upn, "next": elsewhere})

    response = client.post("/signin/password", {"password": PASSWORD, "flow": sign_in.flow_token(page_)})

    assert location(response) == "/myaccount"


# --- not revealing who has an account -------------------------------------------------------


def test_the_name_step_moves_on_to_the_password_for_an_unknown_name_as_for_a_known_one(adele):
    known = Client().post("/signin", {"name": adele.upn})
    unknown = Client().post("/signin", {"name": "nobody@contoso.example"})

    assert location(known) == location(unknown) == "/signin/password"


def test_a_wrong_password_gives_the_same_message_for_an_unknown_account_as_for_a_known_one(sign_in, adele):
    known = sign_in.password(Client(), adele.upn, "Wrong-Password-123")
    unknown = sign_in.password(Client(), "nobody@contoso.example", "Wrong-Password-123")

    assert known.status_code == unknown.status_code == 200
    assert sign_in.error_text(known) == sign_in.error_text(unknown) == (
        "Your account or password is incorrect. If you don&#x27;t remember your password, ask your administrator "
        "to reset it.")
    assert without_tokens(page(known), adele.upn) == without_tokens(page(unknown), "nobody@contoso.example")


def test_a_disabled_account_with_the_right_password_is_told_it_is_disabled(client, sign_in, adele, megan):
    set_enabled(adele, False, actor=megan)

    response = sign_in.password(client, adele.upn)

    assert sign_in.error_text(response) == "Your account has been disabled. Contact your administrator."
    assert location(client.get("/myaccount")).startswith("/signin")


def test_a_disabled_account_with_a_wrong_password_gets_the_usual_message(client, sign_in, adele, megan):
    set_enabled(adele, False, actor=megan)

    response = sign_in.password(client, adele.upn, "Wrong-Password-123")

    assert sign_in.error_text(response).startswith("Your account or password is incorrect.")


# --- a new password at first sign-in --------------------------------------------------------


@pytest.fixture
def lee_one_time():
    """Lee Gu, just created by an admin: a one-time password that must be changed."""
    created = create_user({"upn": "lee.gu@contoso.example", "display_name": "Lee Gu"}, actor="cli")
    return created.user, created.one_time_password


def test_a_person_with_a_one_time_password_must_choose_a_new_one_before_going_on(client, sign_in, lee_one_time):
    lee, one_time = lee_one_time

    assert location(sign_in.password(client, lee.upn, one_time)) == "/signin/password/change"
    assert location(client.get("/myaccount")).startswith("/signin")
    response = client.post("/signin/password/change", {"new_password": "Copper-Meadow-Ninety-7",
                                                       "confirm_password": "Copper-Meadow-Ninety-7"})

    assert location(response) == "/myaccount"
    lee.refresh_from_db()
    assert lee.check_password("Copper-Meadow-Ninety-7") and not lee.must_change_password


def test_a_new_password_that_does_not_match_its_confirmation_is_refused(client, sign_in, lee_one_time):
    lee, one_time = lee_one_time
    sign_in.password(client, lee.upn, one_time)

    response = client.post("/signin/password/change", {"new_password": "Copper-Meadow-Ninety-7",
                                                       "confirm_password": "Copper-Meadow-Ninety-8"})

    assert "The passwords don&#x27;t match." in page(response)
    lee.refresh_from_db()
    assert lee.check_password(one_time)


def test_a_weak_new_password_is_refused_with_the_reason(client, sign_in, lee_one_time):
    lee, one_time = lee_one_time
    sign_in.password(client, lee.upn, one_time)

    response = client.post("/signin/password/change", {"new_password": "short", "confirm_password": "short"})

    assert "This password is too short." in page(response)
    assert location(client.get("/myaccount")).startswith("/signin")


def test_a_person_with_mfa_enabled_registers_after_changing_the_one_time_password(client, sign_in, lee_one_time):
    lee, one_time = lee_one_time
    set_mfa_state(lee, "enabled", actor="cli", notify=False)
    sign_in.password(client, lee.upn, one_time)

    response = client.post("/signin/password/change", {"new_password": "Copper-Meadow-Ninety-7",
                                                       "confirm_password": "Copper-Meadow-Ninety-7"})

    assert location(response) == "/signin/more-information"


# --- the code-attempt limit -----------------------------------------------------------------


def test_too_many_wrong_codes_end_the_sign_in(client, sign_in, adele, adele_app, settings):
    sign_in.password(client, adele.upn)
    wrong = adele_app.wrong_code()

    statuses = [client.post("/signin/verify", {"code": wrong}).status_code for _ in range(settings.MFA_CODE_ATTEMPTS)]

    assert statuses == [200] * (settings.MFA_CODE_ATTEMPTS - 1) + [429]
    assert location(client.get("/signin/verify")).startswith("/signin")


def test_a_right_code_after_the_attempt_limit_does_not_sign_in(client, sign_in, adele, adele_app, settings):
    sign_in.password(client, adele.upn)
    for _ in range(settings.MFA_CODE_ATTEMPTS):
        last = client.post("/signin/verify", {"code": adele_app.wrong_code()})
    assert "You entered too many wrong codes. For your security, sign in again." in page(last)

    client.post("/signin/verify", {"code": adele_app.fresh_code()})

    assert location(client.get("/myaccount")).startswith("/signin")


def test_malformed_codes_do_not_use_up_attempts(client, sign_in, adele, adele_app, settings):
    sign_in.password(client, adele.upn)
    for _ in range(settings.MFA_CODE_ATTEMPTS + 1):
        response = client.post("/signin/verify", {"code": "abcdef"})
        assert "Enter the 6-digit code from your authenticator app." in page(response)

    assert location(client.post("/signin/verify", {"code": adele_app.fresh_code()})) == "/myaccount"


# --- no skipping a stage --------------------------------------------------------------------


@pytest.mark.parametrize("stage", ["/signin/password", "/signin/password/change", "/signin/more-information",
                                   "/signin/register", "/signin/verify"])
def test_opening_a_sign_in_stage_without_a_sign_in_in_progress_goes_back_to_the_start(client, stage):
    response = client.get(stage)

    assert location(response).split("?")[0] == "/signin"


@pytest.mark.parametrize("stage", ["/signin/password/change", "/signin/more-information", "/signin/register",
                                   "/signin/verify"])
def test_a_later_stage_cannot_be_reached_before_the_password(client, adele, stage):
    client.post("/signin", {"name": adele.upn})

    assert location(client.get(stage)).split("?")[0] == "/signin"
    assert location(client.post(stage, {"code": "123456"})).split("?")[0] == "/signin"


def test_opening_the_password_step_while_a_code_is_awaited_goes_to_the_code_page(client, sign_in, adele, adele_app):
    sign_in.password(client, adele.upn)

    assert location(client.get("/signin/password")) == "/signin/verify"
    assert location(client.post("/signin/password", {"password": PASSWORD})) == "/signin/verify"


@pytest.mark.parametrize("stage", ["/signin/more-information", "/signin/register?step=app",
                                   "/signin/password/change"])
def test_a_person_asked_for_a_code_cannot_go_to_registration_instead(client, sign_in, adele, adele_app, stage):
    sign_in.password(client, adele.upn)

    assert location(client.post(stage)) == "/signin/verify"
    assert Method.objects.filter(user=adele).count() == 1


def test_registration_cannot_begin_before_more_information_required_is_acknowledged(client, sign_in, make_person):
    lee = make_person("Lee Gu", mfa_state="enabled")
    sign_in.password(client, lee.upn)

    assert location(client.post("/signin/register?step=app", {"kind": "totp"})) == "/signin/more-information"


def test_the_registration_wizard_cannot_be_jumped_to_done(client, sign_in, make_person):
    lee = make_person("Lee Gu", mfa_state="enabled")
    sign_in.password(client, lee.upn)
    client.post("/signin/more-information")

    response = client.post("/signin/register?step=done")

    assert location(response) == "/signin/register?step=app"
    assert location(client.get("/myaccount")).startswith("/signin")


def test_a_registration_finished_in_one_sign_in_does_not_let_the_next_sign_in_skip_registering(
        client, sign_in, make_person):
    diego, lee = make_person("Diego Siciliani", mfa_state="enabled"), make_person("Lee Gu", mfa_state="enabled")
    sign_in.password(client, diego.upn)
    client.post("/signin/more-information")
    client.post("/signin/register?step=app", {"kind": "totp"})
    scan = page(client.get("/signin/register?step=scan"))
    secret = re.search(r'id="secret-key">([A-Z2-7 ]+)<', scan).group(1).replace(" ", "")
    client.post("/signin/register?step=code", {"code": pyotp.TOTP(secret).now()})  # Diego never presses Done
    sign_in.password(client, lee.upn)  # the same browser, another account that must register
    client.post("/signin/more-information")

    client.post("/signin/register?step=done")

    assert location(client.get("/myaccount")).startswith("/signin")
    assert not Method.objects.filter(user=lee).exists()


def test_an_account_disabled_between_password_and_code_cannot_finish_signing_in(client, sign_in, adele, adele_app,
                                                                                 megan):
    sign_in.password(client, adele.upn)
    set_enabled(adele, False, actor=megan)

    response = client.post("/signin/verify", {"code": adele_app.fresh_code()})

    assert location(response) == "/signin"
    assert location(client.get("/myaccount")).startswith("/signin")


def test_a_sign_in_left_longer_than_the_limit_expires(client, sign_in, adele, settings, monkeypatch):
    from django.core import signing

    long_ago = time.time() - settings.SIGNIN_FLOW_SECONDS - 5
    monkeypatch.setattr(signing.time, "time", lambda: long_ago)
    token = sign_in.flow_token(sign_in.name(client, adele.upn))
    monkeypatch.undo()

    response = client.post("/signin/password", {"password": PASSWORD, "flow": token})

    assert location(response) == "/signin?expired=1"
    assert "Your sign-in took too long and expired." in page(client.get("/signin?expired=1"))
