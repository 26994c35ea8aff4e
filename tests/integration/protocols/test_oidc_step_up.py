"""``acr_values=urn:watchword:mfa``: an application that asks for a second factor gets one. A
person signed in with a password only is asked for their code (the re-verification Security info
uses) and then sent back to the application, whose ID token then says ``urn:watchword:mfa``; a
person with no method yet is sent to register one. Never a password-only code for such a
request."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, quote, urlsplit

import pyotp
import pytest
from django.conf import settings
from django.test import Client

from tests.integration.protocols.oidc_support import (  # noqa: F401 (fixtures)
    authorize_path,
    code_from,
    exchange,
    pkce_pair,
    public_app,
    sign_in_through,
    verified_claims,
)
from watchword.audit.models import SignInEvent
from watchword.protocols.oidc import ACR_MFA, ACR_PASSWORD, asks_for_mfa

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(("acr_values", "asked"), [
    (ACR_MFA, True),
    (f"{ACR_MFA} {ACR_PASSWORD}", True),
    (f"urn:other:gold {ACR_MFA}", True),
    (f"{ACR_PASSWORD} {ACR_MFA}", False),  # password preferred, so a password session will do
    (ACR_PASSWORD, False),
    ("urn:other:gold", False),
    ("", False),
])
def test_which_acr_values_ask_for_a_second_factor(acr_values, asked):
    assert asks_for_mfa(acr_values) is asked


def step_up_target(response) -> str:
    assert response.status_code == 302, response.content[:300]
    location = urlsplit(response["Location"])
    assert location.path == "/signin/step-up"
    return parse_qs(location.query)["next"][0]


def test_a_password_only_session_is_asked_for_its_code_then_gets_an_mfa_id_token(make_person, enrol, public_app):
    person = make_person("Adele Vance")  # per-user MFA off: her sign-in needs only her password
    authenticator = enrol(person)
    browser = Client()
    verifier, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)
    sign_in_through(browser, path, person.upn)
    assert browser.session["watchword_amr"] == ["pwd"]

    asking = path + "&acr_values=" + quote(ACR_MFA)
    next_url = step_up_target(browser.get(asking))
    assert next_url == asking
    response = browser.get(f"/signin/step-up?next={quote(next_url)}")
    assert response.status_code == 302 and response["Location"] == "/signin/verify"
    code_page = browser.get("/signin/verify")
    assert code_page.status_code == 200 and b'name="code"' in code_page.content
    response = browser.post("/signin/verify", {"code": authenticator.fresh_code()})
    assert response.status_code == 302 and response["Location"] == asking

    code = code_from(browser.get(asking))
    tokens = exchange(code, public_app.client_id, code_verifier=verifier).json()
    claims = verified_claims(browser, tokens["id_token"], public_app.client_id)
    assert claims["acr"] == ACR_MFA and {"pwd", "otp", "mfa"} <= set(claims["amr"])
    event = SignInEvent.objects.filter(user=person, step="reauth").get()
    assert event.result == "success" and event.requirement == "app_requires_mfa"


def test_a_session_that_used_a_second_factor_is_not_asked_again(make_person, enrol, public_app):
    person = make_person("Adele Vance", mfa_state="enforced")
    authenticator = enrol(person)
    browser = Client()
    _, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge, acr_values=ACR_MFA)
    sign_in_through(browser, path, person.upn, authenticator)
    assert code_from(browser.get(path))


def test_a_person_without_a_method_is_sent_to_register_one(make_person, public_app):
    person = make_person("Megan Bowen")
    browser = Client()
    verifier, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge, acr_values=ACR_MFA)
    response = sign_in_through(browser, path, person.upn)  # the password is all her sign-in needs
    next_url = step_up_target(browser.get(response["Location"]))
    response = browser.get(f"/signin/step-up?next={quote(next_url)}")
    assert response["Location"] == "/signin/more-information"
    assert "More information required" in browser.get("/signin/more-information").content.decode()
    # going back to the application without registering gets no code
    assert step_up_target(browser.get(path))

    browser.get(f"/signin/step-up?next={quote(next_url)}")
    assert browser.post("/signin/more-information")["Location"] == "/signin/register"
    browser.post("/signin/register?step=app", {"kind": "totp"})
    scan = browser.get("/signin/register?step=scan").content.decode()
    secret = re.search(r'id="secret-key">([A-Z2-7 ]+)<', scan).group(1).replace(" ", "")
    browser.post("/signin/register?step=scan")
    browser.post("/signin/register?step=code", {"code": pyotp.TOTP(secret).now()})
    response = browser.post("/signin/register?step=done")
    assert response.status_code == 302 and response["Location"] == next_url

    tokens = exchange(code_from(browser.get(next_url)), public_app.client_id, code_verifier=verifier).json()
    claims = verified_claims(browser, tokens["id_token"], public_app.client_id)
    assert claims["acr"] == ACR_MFA and "otp" in claims["amr"]


def test_a_bad_request_asking_for_mfa_is_refused_before_any_step_up(make_person):
    browser = Client()
    browser.force_login(make_person("Megan Bowen"))
    _, challenge = pkce_pair()
    response = browser.get(authorize_path("no-such-client", challenge=challenge, acr_values=ACR_MFA))
    assert response.status_code == 400 and "Location" not in response


def test_step_up_needs_a_signed_in_person_and_keeps_next_on_this_site(make_person):
    response = Client().get("/signin/step-up?next=/o/authorize/")
    assert response.status_code == 302 and response["Location"].startswith(settings.LOGIN_URL)
    browser = Client()
    browser.force_login(make_person("Megan Bowen"))
    browser.get("/signin/step-up?next=https://evil.example/")
    assert browser.session["watchword_signin"]["next_url"] == "/myaccount"


def test_without_acr_values_a_password_only_session_gets_a_password_acr(make_person, public_app):
    person = make_person("Megan Bowen")
    browser = Client()
    verifier, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)
    sign_in_through(browser, path, person.upn)
    tokens = exchange(code_from(browser.get(path)), public_app.client_id, code_verifier=verifier).json()
    assert verified_claims(browser, tokens["id_token"], public_app.client_id)["acr"] == ACR_PASSWORD


def test_discovery_lists_the_acr_values_and_grant_types():
    body = Client().get("/.well-known/openid-configuration").json()
    assert body["acr_values_supported"] == [ACR_PASSWORD, ACR_MFA]
    assert body["grant_types_supported"] == ["authorization_code", "refresh_token", "client_credentials"]
    assert {"amr", "acr", "auth_time"} <= set(body["claims_supported"])
