"""Admin → Applications: Global Administrators list, add (the secret shown once), give a new
secret and remove (asking first) the applications registered with the OpenID Connect provider.
Every change is audited; every bad input is answered with a message, never a server error."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from oauth2_provider.models import get_application_model

from watchword.audit.models import AuditEvent
from watchword.protocols.oidc_clients import add_client, get_client, kind_of, scopes_of

pytestmark = pytest.mark.django_db

CALLBACK = "https://wiki.contoso.example/callback"


@pytest.fixture
def admin_browser(megan, sign_in):
    client = Client()
    assert sign_in.password(client, megan.upn).status_code == 302
    return client


def secret_on(response) -> str:
    match = re.search(rb'id="client-secret">([^<]+)<', response.content)
    return match.group(1).decode() if match else ""


def web_form(**overrides) -> dict:
    return {"kind": "web", "name": "Contoso Wiki", "redirect_uris": f"{CALLBACK}\r\nhttps://wiki.contoso.example/cb2",
            "post_logout_redirect_uris": "https://wiki.contoso.example/", "scopes": ["openid", "profile"],
            **overrides}


def test_the_page_is_in_the_admin_navigation(admin_browser):
    page = admin_browser.get("/admin/applications")
    assert page.status_code == 200
    assert b'href="/admin/applications" aria-current="page">Applications</a>' in page.content
    assert b"No applications yet." in page.content
    assert b'href="/admin/applications">Applications</a>' in admin_browser.get("/admin/radius").content


def test_an_admin_adds_a_web_application_and_sees_its_secret_once(admin_browser):
    response = admin_browser.post("/admin/applications", web_form(consent="on"))
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = secret_on(response)
    app = get_client("Contoso Wiki")
    assert secret and secret not in app.client_secret
    assert app.client_id.encode() in response.content
    assert kind_of(app) == "web" and not app.skip_authorization
    assert app.redirect_uris.split() == [CALLBACK, "https://wiki.contoso.example/cb2"]
    assert app.post_logout_redirect_uris == "https://wiki.contoso.example/"
    assert scopes_of(app) == ["openid", "profile"]
    listing = admin_browser.get("/admin/applications").content.decode()
    assert "Contoso Wiki" in listing and app.client_id in listing and secret not in listing
    event = AuditEvent.objects.get(action="oidc.client.add")
    assert event.actor_label.startswith("megan.bowen") or "Megan" in event.actor_label


def test_a_service_takes_the_api_scopes_and_ignores_the_sign_in_ones(admin_browser):
    response = admin_browser.post("/admin/applications", {
        "kind": "service", "name": "Reporting", "scopes": ["openid", "profile"], "api_scopes": ["logs.read"],
        "redirect_uris": CALLBACK})
    assert response.status_code == 200 and secret_on(response)
    app = get_client("Reporting")
    assert kind_of(app) == "service" and scopes_of(app) == ["logs.read"] and app.redirect_uris == ""
    assert b"client_credentials" in response.content


def test_a_single_page_app_has_no_secret(admin_browser):
    response = admin_browser.post("/admin/applications", web_form(kind="spa", name="Dashboard",
                                                                  redirect_uris="http://localhost:5173/cb"))
    assert response.status_code == 200 and not secret_on(response)
    assert b"New secret" not in admin_browser.get("/admin/applications").content


@pytest.mark.parametrize(("form", "message"), [
    (web_form(name=""), "The name must be 1 to 100 characters"),
    (web_form(name="x" * 150), "The name must be 1 to 100 characters"),
    (web_form(kind="desktop"), "The kind must be web, spa or service"),
    (web_form(redirect_uris=""), "Give at least one redirect URI"),
    (web_form(redirect_uris="http://wiki.contoso.example/cb"), "plain http is only allowed for localhost"),
    (web_form(redirect_uris="javascript:alert(1)"), "is not an absolute http(s) address"),
    (web_form(redirect_uris="https://[::1/cb"), "is not an absolute http(s) address"),
    (web_form(post_logout_redirect_uris="ftp://wiki.contoso.example/"), "is not an absolute http(s) address"),
    (web_form(redirect_uris="\n".join(f"https://wiki.contoso.example/{i}" for i in range(25))), "At most 20"),
    (web_form(scopes=[]), "needs the openid scope"),
    (web_form(scopes=["openid", "users.write"]), "users.write: not among the OpenID Connect scopes"),
    (web_form(kind="service", api_scopes=[]), "Choose at least one API scope"),
    (web_form(kind="service", api_scopes=["root"]), "root: not among the API scopes"),
])
def test_bad_input_is_refused_with_a_specific_message(admin_browser, form, message):
    response = admin_browser.post("/admin/applications", form)
    assert response.status_code == 400
    assert message in re.search(r'id="application-error">([^<]*)<', response.content.decode()).group(1)
    assert not get_application_model().objects.exists()
    assert not AuditEvent.objects.filter(action__startswith="oidc.").exists()


def test_a_duplicate_name_is_refused(admin_browser):
    add_client(name="Contoso Wiki", redirect_uris=[CALLBACK], actor="cli")
    response = admin_browser.post("/admin/applications", web_form())
    assert response.status_code == 400 and b"already exists" in response.content


def test_a_new_secret_asks_first_then_replaces_the_old_one(admin_browser):
    new = add_client(name="Reporting", kind="service", scopes="logs.read", actor="cli")
    app = new.application
    confirm = admin_browser.get(f"/admin/applications/{app.pk}/secret")
    assert confirm.status_code == 200 and b"The current secret stops working at once" in confirm.content
    assert get_client("Reporting").client_secret == app.client_secret
    response = admin_browser.post(f"/admin/applications/{app.pk}/secret")
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    secret = secret_on(response)
    assert secret and secret != new.client_secret and get_client("Reporting").client_secret != app.client_secret
    assert AuditEvent.objects.filter(action="oidc.client.secret").exists()


def test_a_single_page_app_cannot_be_given_a_secret(admin_browser):
    app = add_client(name="Dashboard", kind="spa", redirect_uris=[CALLBACK], actor="cli").application
    response = admin_browser.get(f"/admin/applications/{app.pk}/secret", follow=True)
    assert b"has no secret" in response.content
    response = admin_browser.post(f"/admin/applications/{app.pk}/secret", follow=True)
    assert b"has no secret" in response.content and not AuditEvent.objects.filter(action="oidc.client.secret")


def test_removing_asks_first(admin_browser):
    app = add_client(name="Contoso Wiki", redirect_uris=[CALLBACK], actor="cli").application
    confirm = admin_browser.get(f"/admin/applications/{app.pk}/remove")
    assert confirm.status_code == 200 and b"every token issued to it stops working" in confirm.content
    assert get_application_model().objects.exists()
    response = admin_browser.post(f"/admin/applications/{app.pk}/remove", follow=True)
    assert b"Application Contoso Wiki removed; 0 tokens revoked." in response.content
    assert not get_application_model().objects.exists()
    assert AuditEvent.objects.filter(action="oidc.client.remove", target_label="Contoso Wiki").exists()


@pytest.mark.parametrize("path", ["/admin/applications/9999/remove", "/admin/applications/9999/secret",
                                  "/admin/applications/99999999999999999999999/remove"])
def test_an_unknown_application_is_not_found(admin_browser, path):
    assert admin_browser.get(path).status_code == 404
    assert admin_browser.post(path).status_code == 404


def test_changes_need_the_csrf_token(megan, sign_in):
    client = Client(enforce_csrf_checks=True)
    client.force_login(megan)
    assert client.post("/admin/applications", web_form()).status_code == 403
    assert not get_application_model().objects.exists()


@pytest.mark.parametrize("who", ["alex", "adele"])
def test_only_global_administrators_may_manage_applications(request, sign_in, who):
    person = request.getfixturevalue(who)
    app = add_client(name="Contoso Wiki", redirect_uris=[CALLBACK], actor="cli").application
    client = Client()
    sign_in.password(client, person.upn)
    assert client.get("/admin/applications").status_code == 403
    assert client.post("/admin/applications", web_form(name="Other")).status_code == 403
    assert client.post(f"/admin/applications/{app.pk}/remove").status_code == 403
    assert client.post(f"/admin/applications/{app.pk}/secret").status_code == 403
    assert get_application_model().objects.count() == 1
    if who == "alex":
        assert b'href="/admin/applications"' not in client.get("/admin/radius").content
