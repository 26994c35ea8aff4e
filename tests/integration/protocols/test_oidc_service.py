"""Services (client credentials, RFC 6749 §4.4): a token for the scopes the service is allowed,
and the RFC's error codes for everything it must refuse. Also: new secrets, removal revoking
tokens, and how secrets are stored."""

from __future__ import annotations

import base64

import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client
from oauth2_provider.models import AccessToken, get_application_model

from tests.integration.protocols.oidc_support import (  # noqa: F401 (fixtures)
    authorize_path,
    code_from,
    confidential_app,
    exchange,
    mfa_person,
    pkce_pair,
    public_app,
    sign_in_through,
)
from tests.support import PASSWORD
from watchword.protocols.oidc_clients import add_client, new_secret, remove_client

pytestmark = pytest.mark.django_db


@pytest.fixture
def service():
    return add_client(name="Reporting", kind="service", scopes="users.read logs.read", actor="cli")


def grant(client_id: str, secret: str, *, basic: bool = True, **fields):
    """A client-credentials token request, authenticated with HTTP Basic (RFC 6749 §2.3.1) or
    with the secret in the body."""
    data = {"grant_type": "client_credentials", **fields}
    application = Client(enforce_csrf_checks=True)  # a program, not a page of this site: no CSRF token
    if basic:
        pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
        return application.post("/o/token/", data, HTTP_AUTHORIZATION=f"Basic {pair}")
    return application.post("/o/token/", {**data, "client_id": client_id, "client_secret": secret})


def test_a_service_without_scope_gets_all_its_scopes(service):
    response = grant(service.client_id, service.client_secret)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["token_type"] == "Bearer" and body["access_token"]
    assert set(body["scope"].split()) == {"users.read", "logs.read"}
    assert "refresh_token" not in body and "id_token" not in body
    token = AccessToken.objects.get(application=service.application)
    assert token.user is None and set(token.scope.split()) == {"users.read", "logs.read"}


def test_a_service_may_ask_for_fewer_scopes_with_the_secret_in_the_body(service):
    response = grant(service.client_id, service.client_secret, basic=False, scope="logs.read")
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == "logs.read"


@pytest.mark.parametrize("scope", ["users.write", "users.read users.write", "openid", "no-such-scope"])
def test_a_scope_outside_the_services_own_is_invalid_scope(service, scope):
    response = grant(service.client_id, service.client_secret, scope=scope)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_scope"
    assert not AccessToken.objects.exists()


def test_a_wrong_secret_is_invalid_client(service):
    response = grant(service.client_id, "not-the-secret")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize("client_id", ["no-such-client", "x" * 300, "bad\x01id"])
def test_an_unknown_client_is_invalid_client(client_id):
    response = grant(client_id, "whatever")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_web_application_may_not_use_client_credentials(confidential_app):
    response = grant(confidential_app.client_id, confidential_app.client_secret)
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"


def test_a_single_page_app_cannot_use_client_credentials(public_app):
    response = Client().post("/o/token/", {"grant_type": "client_credentials", "client_id": public_app.client_id})
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("grant_type", ["implicit", "urn:ietf:params:oauth:grant-type:device_code", "nonsense"])
def test_other_grant_types_are_unsupported_grant_type(service, grant_type):
    response = grant(service.client_id, service.client_secret, grant_type=grant_type)
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_a_token_request_without_grant_type_is_invalid_request(service):
    response = Client().post("/o/token/", {"client_id": service.client_id})
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"


def test_the_password_grant_is_refused_before_any_password_is_checked(make_person, public_app):
    """Otherwise the token endpoint would tell right passwords from wrong ones, without the
    sign-in page's throttling or second factor."""
    person = make_person("Megan Bowen")
    answers = set()
    for password in (PASSWORD, "wrong-password"):
        response = Client().post("/o/token/", {"grant_type": "password", "username": person.upn,
                                               "password": password, "client_id": public_app.client_id})
        assert response.status_code == 400
        answers.add(response.content)
    assert len(answers) == 1 and b"unsupported_grant_type" in answers.pop()


def test_a_service_cannot_sign_people_in(make_person, service):
    person = make_person("Megan Bowen")
    browser = Client()
    browser.force_login(person)
    _, challenge = pkce_pair()
    response = browser.get(authorize_path(service.client_id, challenge=challenge))
    assert response.status_code == 400  # no redirect URI of its own to send an error to
    assert "Location" not in response
    assert b"can't be used" in response.content


def test_secrets_are_kept_only_as_a_fast_keyed_hash(service):
    stored = get_application_model().objects.get(pk=service.application.pk).client_secret
    assert stored.startswith("secret_pbkdf2_sha256$1$")
    assert service.client_secret not in stored


def test_a_secret_stored_by_an_earlier_version_still_works(service):
    get_application_model().objects.filter(pk=service.application.pk).update(
        client_secret=make_password(service.client_secret))  # Argon2id, the people's-password hasher
    assert grant(service.client_id, service.client_secret).status_code == 200


def test_a_new_secret_replaces_the_old_one_at_once(service):
    secret = new_secret(service.application, actor="cli")
    assert secret != service.client_secret and len(secret) >= 64
    assert grant(service.client_id, service.client_secret).json()["error"] == "invalid_client"
    assert grant(service.client_id, secret).status_code == 200


def test_removing_a_service_revokes_its_tokens(service):
    token = grant(service.client_id, service.client_secret).json()["access_token"]
    assert token
    assert remove_client(service.application, actor="cli") == 1
    assert not AccessToken.objects.exists()
    assert grant(service.client_id, service.client_secret).status_code == 401


def test_removing_a_web_application_signs_it_out_of_userinfo(mfa_person, public_app):
    person, authenticator = mfa_person
    browser = Client()
    verifier, challenge = pkce_pair()
    path = authorize_path(public_app.client_id, challenge=challenge)
    sign_in_through(browser, path, person.upn, authenticator)
    tokens = exchange(code_from(browser.get(path)), public_app.client_id, code_verifier=verifier).json()
    bearer = f"Bearer {tokens['access_token']}"
    assert Client().get("/o/userinfo/", HTTP_AUTHORIZATION=bearer).status_code == 200
    assert remove_client(public_app.application, actor="cli") == 2  # the access token and its refresh token
    assert Client().get("/o/userinfo/", HTTP_AUTHORIZATION=bearer).status_code == 401
