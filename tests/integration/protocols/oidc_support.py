"""Helpers and fixtures the OpenID Connect tests share: authorization requests with PKCE, the
sign-in pages walked with Django's test client, codes redeemed at the token endpoint, and ID
tokens verified with an independent JOSE library (joserfc) against the published JWKS."""

from __future__ import annotations

import base64
import hashlib
import secrets
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.test import Client
from joserfc import jwt
from joserfc.jwk import KeySet

from tests.support import PASSWORD
from watchword.protocols.oidc_clients import add_client

REDIRECT_URI = "https://app.contoso.example/callback"


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def authorize_path(client_id: str, *, challenge: str | None, redirect_uri: str = REDIRECT_URI, **extra) -> str:
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
              "scope": "openid profile email", "state": "st-123", "nonce": "n-456", **extra}
    if challenge:
        params.update(code_challenge=challenge, code_challenge_method="S256")
    return "/o/authorize/?" + urlencode(params)


def sign_in_through(client, path: str, upn: str, authenticator=None):
    """Follow the authorization endpoint to /signin, sign in there (password, then the app's code)
    and return the response that sends the browser back to ``path``."""
    response = client.get(path)
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == settings.LOGIN_URL
    next_url = parse_qs(target.query)["next"][0]
    page = client.post("/signin", {"name": upn, "next": next_url})
    token = page.content.decode().split('name="flow" value="')[1].split('"')[0]
    response = client.post("/signin/password", {"password": PASSWORD, "flow": token})
    if authenticator is not None:
        response = client.post("/signin/verify", {"code": authenticator.fresh_code()})
    assert response.status_code == 302, response.content.decode()[:500]
    assert response["Location"] == next_url
    return response


def code_from(response) -> str:
    assert response.status_code == 302
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    query = parse_qs(location.query)
    assert query["state"] == ["st-123"]
    return query["code"][0]


def exchange(code: str, client_id: str, **fields):
    """The application redeems an authorization code at the token endpoint."""
    application = Client(enforce_csrf_checks=True)  # a program, not a page of this site: no CSRF token
    return application.post("/o/token/", {"grant_type": "authorization_code", "code": code,
                                          "redirect_uri": REDIRECT_URI, "client_id": client_id, **fields})


def jwks(client) -> KeySet:
    return KeySet.import_key_set(client.get("/o/jwks.json").json())


def verified_claims(client, id_token: str, client_id: str) -> dict:
    token = jwt.decode(id_token, jwks(client), algorithms=["RS256"])
    assert token.header["alg"] == "RS256"
    jwt.JWTClaimsRegistry(iss={"essential": True, "value": settings.PUBLIC_URL},
                          aud={"essential": True, "value": client_id},
                          sub={"essential": True}, exp={"essential": True}).validate(token.claims)
    return token.claims


@pytest.fixture
def public_app():
    return add_client(name="Team wiki", redirect_uris=[REDIRECT_URI], public=True, actor="cli")


@pytest.fixture
def confidential_app():
    return add_client(name="Expenses", redirect_uris=[REDIRECT_URI], public=False, actor="cli")


@pytest.fixture
def mfa_person(make_person, enrol):
    person = make_person("Adele Vance", mfa_state="enforced")
    return person, enrol(person)
