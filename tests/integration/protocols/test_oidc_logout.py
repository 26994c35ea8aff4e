"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) at /o/logout/: an application
sends the person here with their ID token as ``id_token_hint``; Watchword ends the session as
its own Sign out does, logs the sign-out, revokes the person's tokens and sends the browser back
only to an address the application registered. Anything doubtful is refused or asked about."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.integration.protocols.oidc_support import (  # noqa: F401 (fixtures)
    REDIRECT_URI,
    authorize_path,
    code_from,
    exchange,
    mfa_person,
    pkce_pair,
    sign_in_through,
)
from watchword.audit.models import SignInEvent
from watchword.protocols.oidc_clients import add_client

pytestmark = pytest.mark.django_db

SIGNED_OUT = "https://app.contoso.example/signed-out"


@pytest.fixture
def app():
    return add_client(name="Team wiki", kind="spa", redirect_uris=[REDIRECT_URI],
                      post_logout_redirect_uris=[SIGNED_OUT], actor="cli")


@pytest.fixture
def signed_in(mfa_person, app):
    """A browser signed in to Watchword and to the application, and the application's tokens."""
    person, authenticator = mfa_person
    browser = Client()
    verifier, challenge = pkce_pair()
    path = authorize_path(app.client_id, challenge=challenge)
    sign_in_through(browser, path, person.upn, authenticator)
    tokens = exchange(code_from(browser.get(path)), app.client_id, code_verifier=verifier).json()
    return browser, person, tokens


def logout(browser, **params):
    return browser.get("/o/logout/?" + urlencode(params))


def is_signed_in(browser) -> bool:
    return "_auth_user_id" in browser.session


def test_discovery_names_the_end_session_endpoint():
    body = Client().get("/.well-known/openid-configuration").json()
    assert body["end_session_endpoint"] == f"{settings.PUBLIC_URL}/o/logout/"


def test_a_valid_hint_signs_the_person_out_and_returns_to_the_registered_address(signed_in, app):
    browser, person, tokens = signed_in
    response = logout(browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=SIGNED_OUT, state="s-1")
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == SIGNED_OUT
    assert parse_qs(location.query) == {"state": ["s-1"]}
    assert not is_signed_in(browser)
    assert browser.get("/myaccount").status_code == 302  # to the sign-in page
    event = SignInEvent.objects.filter(user=person, step="signout").get()
    assert event.result == "success" and event.app == "oidc:Team wiki"
    info = Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert info.status_code == 401  # the person's tokens were revoked


def test_without_a_redirect_address_the_signed_out_page_is_shown(signed_in):
    browser, _, tokens = signed_in
    response = logout(browser, id_token_hint=tokens["id_token"])
    assert response.status_code == 200 and b"You signed out of your account" in response.content
    assert not is_signed_in(browser)


@pytest.mark.parametrize("hint", [
    "not-a-token",
    "a.b.c",
    "eyJhbGciOiJSUzI1NiJ9.MTIz.c2ln",  # a payload that is not a JSON object
    "eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln",  # an audience no application has
])
def test_a_malformed_hint_is_refused_and_the_person_stays_signed_in(signed_in, hint):
    browser, _, _ = signed_in
    response = logout(browser, id_token_hint=hint, post_logout_redirect_uri=SIGNED_OUT)
    assert response.status_code == 400 and "Location" not in response
    assert b"can't be used" in response.content
    assert is_signed_in(browser)


def test_a_hint_signed_with_another_key_is_refused(signed_in, app):
    browser, person, _ = signed_in
    claims = {"iss": settings.PUBLIC_URL, "aud": app.client_id, "sub": str(person.pk), "jti": "x", "exp": 4102444800}
    forged = jwt.encode({"alg": "RS256"}, claims, RSAKey.generate_key(2048))
    response = logout(browser, id_token_hint=forged, post_logout_redirect_uri=SIGNED_OUT)
    assert response.status_code == 400 and is_signed_in(browser)


def test_an_unregistered_post_logout_redirect_uri_is_refused(signed_in):
    browser, _, tokens = signed_in
    for uri in ("https://evil.example/", "https://app.contoso.example/signed-out/other", "javascript:alert(1)"):
        response = logout(browser, id_token_hint=tokens["id_token"], post_logout_redirect_uri=uri)
        assert response.status_code == 400 and "Location" not in response
        assert is_signed_in(browser)


@pytest.mark.parametrize("client_id", ["no-such-client", "x" * 500])
def test_an_unknown_client_id_is_refused(signed_in, client_id):
    browser, _, tokens = signed_in
    response = logout(browser, client_id=client_id, post_logout_redirect_uri=SIGNED_OUT)
    assert response.status_code == 400 and is_signed_in(browser)


def test_a_hint_for_another_application_is_refused(signed_in):
    browser, _, tokens = signed_in
    other = add_client(name="Other", kind="spa", redirect_uris=[REDIRECT_URI], actor="cli")
    response = logout(browser, id_token_hint=tokens["id_token"], client_id=other.client_id)
    assert response.status_code == 400 and is_signed_in(browser)


def test_without_a_hint_the_person_is_asked_first(signed_in, app):
    browser, person, _ = signed_in
    page = logout(browser, client_id=app.client_id, post_logout_redirect_uri=SIGNED_OUT)
    assert page.status_code == 200 and b"Team wiki asks to sign you out" in page.content
    assert is_signed_in(browser)
    fields = {"client_id": app.client_id, "post_logout_redirect_uri": SIGNED_OUT}
    stay = browser.post("/o/logout/", fields)
    assert stay.status_code == 200 and b"You are still signed in" in stay.content and is_signed_in(browser)
    out = browser.post("/o/logout/", {**fields, "allow": "on"})
    assert out.status_code == 302 and out["Location"] == SIGNED_OUT
    assert not is_signed_in(browser)


def test_the_confirmation_needs_the_csrf_token(mfa_person):
    person, _ = mfa_person
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(person)
    assert browser.post("/o/logout/", {"allow": "on"}).status_code == 403
    assert is_signed_in(browser)


def test_someone_already_signed_out_is_sent_back_without_a_question(signed_in):
    browser, _, tokens = signed_in
    stranger = Client()
    response = logout(stranger, id_token_hint=tokens["id_token"], post_logout_redirect_uri=SIGNED_OUT)
    assert response.status_code == 302 and response["Location"] == SIGNED_OUT
