"""The OpenID Connect provider: discovery, keys, the authorization code flow with PKCE through
Watchword's own sign-in pages, ID tokens checked with an independent JOSE library (joserfc),
userinfo, refresh tokens, and the requests it must refuse."""

from __future__ import annotations

import stat
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from django.test import Client

from tests.integration.protocols.oidc_support import (  # noqa: F401 (fixtures)
    REDIRECT_URI,
    authorize_path,
    code_from,
    confidential_app,
    exchange,
    mfa_person,
    pkce_pair,
    public_app,
    sign_in_through,
    verified_claims,
)
from watchword.protocols import oidc_keys
from watchword.protocols.oidc_clients import add_client

pytestmark = pytest.mark.django_db


def test_discovery_describes_the_provider():
    body = Client().get("/.well-known/openid-configuration").json()
    issuer = settings.PUBLIC_URL
    assert body["issuer"] == issuer
    assert body["authorization_endpoint"] == f"{issuer}/o/authorize/"
    assert body["token_endpoint"] == f"{issuer}/o/token/"
    assert body["userinfo_endpoint"] == f"{issuer}/o/userinfo/"
    assert body["jwks_uri"] == f"{issuer}/o/jwks.json"
    assert body["response_types_supported"] == ["code"]
    assert "RS256" in body["id_token_signing_alg_values_supported"]
    assert body["code_challenge_methods_supported"] == ["S256"]
    assert {"openid", "profile", "email"} <= set(body["scopes_supported"])


def test_jwks_publishes_the_public_half_of_the_key_in_the_data_folder():
    keys = Client().get("/o/jwks.json").json()["keys"]
    current = oidc_keys.key_id(settings.OAUTH2_PROVIDER["OIDC_RSA_PRIVATE_KEY"])
    key = next(key for key in keys if key["kid"] == current)
    assert key["kty"] == "RSA" and key["alg"] == "RS256" and key["use"] == "sig"
    assert all("d" not in key and "p" not in key for key in keys)
    path = settings.OIDC_SIGNING_KEY
    assert path.parent == settings.DATA_DIR / "keys" / "oidc" and path.suffix == ".pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_code_flow_with_pkce_for_a_person_with_mfa(mfa_person, public_app):
    person, authenticator = mfa_person
    client = Client()
    verifier, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)
    sign_in_through(client, path, person.upn, authenticator)
    code = code_from(client.get(path))

    response = exchange(code, public_app.client_id, code_verifier=verifier)
    assert response.status_code == 200, response.content
    tokens = response.json()
    assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]

    claims = verified_claims(client, tokens["id_token"], public_app.client_id)
    assert claims["sub"] == str(person.pk)
    assert claims["nonce"] == "n-456"
    assert {"pwd", "otp", "mfa"} <= set(claims["amr"])
    assert claims["acr"] == "urn:watchword:mfa"
    assert claims["email"] == person.email and claims["preferred_username"] == person.upn
    assert isinstance(claims["auth_time"], int)

    info = Client().get("/o/userinfo/", HTTP_AUTHORIZATION=f"Bearer {tokens['access_token']}")
    assert info.status_code == 200
    assert info.json()["sub"] == str(person.pk) and info.json()["name"] == "Adele Vance"

    # the code is single-use
    again = exchange(code, public_app.client_id, code_verifier=verifier)
    assert again.status_code == 400

    # a refresh token gives new tokens, and the new ID token still says how the person signed in
    refreshed = Client().post("/o/token/", {"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"],
                                            "client_id": public_app.client_id})
    assert refreshed.status_code == 200, refreshed.content
    fresh = refreshed.json()
    assert fresh["access_token"] != tokens["access_token"]
    assert fresh["refresh_token"] != tokens["refresh_token"]
    refreshed_claims = verified_claims(client, fresh["id_token"], public_app.client_id)
    assert refreshed_claims["sub"] == str(person.pk)
    assert {"otp", "mfa"} <= set(refreshed_claims["amr"]) and refreshed_claims["acr"] == "urn:watchword:mfa"


def test_password_only_sign_in_says_so(make_person, confidential_app):
    person = make_person("Megan Bowen")
    client = Client()
    path = authorize_path(confidential_app.client_id, challenge=None)
    sign_in_through(client, path, person.upn)
    code = code_from(client.get(path))
    response = exchange(code, confidential_app.client_id, client_secret=confidential_app.client_secret)
    assert response.status_code == 200, response.content
    claims = verified_claims(client, response.json()["id_token"], confidential_app.client_id)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:watchword:pwd"


def test_confidential_client_needs_its_secret(make_person, confidential_app):
    person = make_person("Megan Bowen")
    client = Client()
    path = authorize_path(confidential_app.client_id, challenge=None)
    sign_in_through(client, path, person.upn)
    code = code_from(client.get(path))
    response = exchange(code, confidential_app.client_id, client_secret="not-the-secret")
    assert response.status_code == 401
    assert "id_token" not in response.content.decode()


def test_public_client_without_pkce_is_refused(make_person, public_app):
    person = make_person("Megan Bowen")
    client = Client()
    client.force_login(person)
    response = client.get(authorize_path(public_app.client_id, challenge=None))
    assert response.status_code == 302
    query = parse_qs(urlsplit(response["Location"]).query)
    assert query["error"] == ["invalid_request"]
    assert "code" not in query


def test_plain_pkce_is_refused(make_person, public_app):
    person = make_person("Megan Bowen")
    client = Client()
    client.force_login(person)
    response = client.get(authorize_path(public_app.client_id, challenge=None, code_challenge="x" * 43,
                                         code_challenge_method="plain"))
    query = parse_qs(urlsplit(response.get("Location", "")).query)
    assert "code" not in query


def test_wrong_verifier_is_refused(mfa_person, public_app):
    person, authenticator = mfa_person
    client = Client()
    _, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)
    sign_in_through(client, path, person.upn, authenticator)
    code = code_from(client.get(path))
    response = exchange(code, public_app.client_id, code_verifier=pkce_pair()[0])
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("redirect_uri", ["https://evil.example/callback", "https://app.contoso.example/other"])
def test_unregistered_redirect_uri_is_refused_without_a_redirect(make_person, public_app, redirect_uri):
    person = make_person("Megan Bowen")
    client = Client()
    client.force_login(person)
    _, challenge = pkce_pair()
    response = client.get(authorize_path(public_app.client_id, challenge=challenge, redirect_uri=redirect_uri))
    assert response.status_code == 400
    assert "Location" not in response


def test_unknown_scope_for_the_client_is_refused(make_person):
    app = add_client(name="Narrow", redirect_uris=[REDIRECT_URI], public=True, scopes="openid", actor="cli")
    person = make_person("Megan Bowen")
    client = Client()
    client.force_login(person)
    _, challenge = pkce_pair()
    response = client.get(authorize_path(app.client_id, challenge=challenge))
    query = parse_qs(urlsplit(response.get("Location", "")).query)
    assert query.get("error") == ["invalid_scope"]


def test_prompt_login_forces_a_fresh_sign_in(mfa_person, public_app):
    person, authenticator = mfa_person
    client = Client()
    _, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)
    sign_in_through(client, path, person.upn, authenticator)
    response = client.get(path + "&prompt=login")
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == settings.LOGIN_URL
    assert "prompt" not in parse_qs(urlsplit(parse_qs(target.query)["next"][0]).query)
    assert parse_qs(target.query)["switch"] == ["1"]
    assert "_auth_user_id" in client.session  # a link alone signs nobody out
    name_page = client.get(response["Location"])
    assert name_page.status_code == 200 and 'name="name"' in name_page.content.decode()  # asked again


def test_max_age_forces_a_fresh_sign_in_once_passed(mfa_person, public_app):
    person, authenticator = mfa_person
    client = Client()
    _, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)
    sign_in_through(client, path, person.upn, authenticator)
    assert client.get(path + "&max_age=300")["Location"].startswith(REDIRECT_URI)
    session = client.session
    session["watchword_auth_time"] -= 301
    session.save()
    response = client.get(path + "&max_age=300")
    assert urlsplit(response["Location"]).path == settings.LOGIN_URL


def test_cli_adds_clients(capsys):
    from watchword.cli import main

    assert main(["oidc", "client", "add", "Grafana", "--redirect-uri", REDIRECT_URI]) == 0
    out = capsys.readouterr().out
    assert "Client ID:" in out and "Client secret:" in out
    assert main(["oidc", "client", "add", "SPA", "--redirect-uri", "http://localhost:5173/cb", "--public"]) == 0
    out = capsys.readouterr().out
    assert "Client ID:" in out and "Client secret:" not in out
    assert main(["oidc", "client", "add", "Bad", "--redirect-uri", "http://app.example/cb"]) != 0
