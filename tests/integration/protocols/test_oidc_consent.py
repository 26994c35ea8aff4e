"""Consent per application: without it people go straight back to the application; with it they
see what the application will get, and Allow gives it a code while Cancel gives it
``access_denied`` (RFC 6749 §4.1.2.1). The form comes back from the browser, so tampering with
it must end in a clear refusal, never a code for the wrong place or a server error."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from tests.integration.protocols.oidc_support import REDIRECT_URI, authorize_path, code_from, exchange
from watchword.protocols.oidc_clients import add_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def wiki():
    return add_client(name="Contoso Wiki", kind="web", redirect_uris=[REDIRECT_URI], consent=True, actor="cli")


@pytest.fixture
def browser(make_person):
    client = Client()
    client.force_login(make_person("Megan Bowen"))
    return client


def hidden_fields(page) -> dict:
    return {name: html.unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.content.decode())
            if name != "csrfmiddlewaretoken"}


def test_the_consent_page_says_who_asks_for_what(browser, wiki):
    page = browser.get(authorize_path(wiki.client_id, challenge=None))
    assert page.status_code == 200
    text = page.content.decode()
    assert "Allow Contoso Wiki to sign you in?" in text
    for description in ("Sign you in", "Your name and sign-in name", "Your e-mail address"):
        assert f"<li>{description}</li>" in text
    assert 'name="allow"' in text and ">Cancel</button>" in text
    assert "megan.bowen@contoso.example" in text


def test_allow_gives_the_application_a_code(browser, wiki):
    page = browser.get(authorize_path(wiki.client_id, challenge=None))
    response = browser.post("/o/authorize/", {**hidden_fields(page), "allow": "on"})
    code = code_from(response)
    tokens = exchange(code, wiki.client_id, client_secret=wiki.client_secret)
    assert tokens.status_code == 200 and tokens.json()["id_token"]


def test_cancel_returns_access_denied_to_the_application(browser, wiki):
    page = browser.get(authorize_path(wiki.client_id, challenge=None))
    response = browser.post("/o/authorize/", hidden_fields(page))
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["error"] == ["access_denied"] and query["state"] == ["st-123"] and "code" not in query


def test_without_consent_the_application_gets_its_code_straight_away(browser):
    app = add_client(name="Trusted", kind="web", redirect_uris=[REDIRECT_URI], consent=False, actor="cli")
    assert code_from(browser.get(authorize_path(app.client_id, challenge=None)))


@pytest.mark.parametrize("change", [
    {"client_id": "no-such-client"},
    {"client_id": "bad\x00id"},
    {"redirect_uri": "https://evil.example/callback"},
    {"scope": "openid users.write"},
    {"response_type": "token"},
    {"code_challenge_method": "plain", "code_challenge": "x" * 43},
])
def test_a_tampered_consent_form_is_refused_without_a_code(browser, wiki, change):
    page = browser.get(authorize_path(wiki.client_id, challenge=None))
    response = browser.post("/o/authorize/", {**hidden_fields(page), **change, "allow": "on"})
    assert response.status_code in (302, 400)
    location = response.get("Location", "")
    assert "evil.example" not in location and "code=" not in location
    if response.status_code == 400:
        assert b"can't be used" in response.content


def test_an_incomplete_consent_form_is_refused(browser, wiki):
    response = browser.post("/o/authorize/", {"allow": "on"})
    assert response.status_code == 400 and b"consent form was incomplete" in response.content


def test_the_consent_form_needs_the_csrf_token(make_person, wiki):
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_person("Megan Bowen"))
    page = client.get(authorize_path(wiki.client_id, challenge=None))
    response = client.post("/o/authorize/", {**hidden_fields(page), "allow": "on"})
    assert response.status_code == 403


def test_the_consent_page_lets_its_form_lead_back_to_the_application_only(browser):
    """Allow and Cancel end in a redirect to the application, which browsers check against the
    page's ``form-action``; only the registered redirect URIs' origins are added to it."""
    app = add_client(name="Odd", kind="web", consent=True, actor="cli",
                     redirect_uris=[REDIRECT_URI, "https://other.contoso.example:8443/cb;script-src=*"])
    page = browser.get(authorize_path(app.client_id, challenge=None))
    policy = page["Content-Security-Policy"]
    assert "form-action 'self' https://app.contoso.example https://other.contoso.example:8443;" in policy
    assert "script-src 'self';" in policy and "script-src=*" not in policy


def test_other_pages_keep_the_strict_form_action():
    assert "form-action 'self';" in Client().get("/signin")["Content-Security-Policy"]
