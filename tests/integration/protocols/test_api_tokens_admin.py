"""Admin → API tokens: create (shown once, kept as a hash), use, revoke with a confirm step;
Authentication Administrators see only their own; people without an admin role are kept out;
the CLI does the same."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from watchword.audit.models import AuditEvent
from watchword.cli import main
from watchword.protocols.models import PersonalToken

pytestmark = pytest.mark.django_db


def browser_of(person, sign_in) -> Client:
    client = Client()
    assert sign_in.password(client, person.upn).status_code == 302
    return client


def test_create_use_and_revoke_a_token_from_the_admin_pages(megan, sign_in):
    browser = browser_of(megan, sign_in)
    page = browser.get("/admin/api-tokens")
    assert page.status_code == 200 and b'aria-current="page">API tokens' in page.content
    response = browser.post("/admin/api-tokens", {"name": "ci", "scopes": ["users.read", "logs.read"], "days": "30"})
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    token = re.search(rb'id="api-token">([^<]+)<', response.content).group(1).decode()
    assert token.startswith("wwp_")
    api = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/v1/users").status_code == 200
    assert api.get("/api/v1/users/1/authentication/methods").status_code == 403
    listing = browser.get("/admin/api-tokens").content.decode()
    assert token not in listing and token[:8] in listing and "Never" not in listing  # it was used
    row = PersonalToken.objects.get(name="ci")
    assert b"Revoke API token ci?" in browser.get(f"/admin/api-tokens/{row.pk}/revoke").content
    assert browser.post(f"/admin/api-tokens/{row.pk}/revoke").status_code == 302
    assert api.get("/api/v1/users").status_code == 401
    assert {"api.token.create", "api.token.revoke"} <= set(AuditEvent.objects.values_list("action", flat=True))


@pytest.mark.parametrize("form, message", [
    ({"name": "", "scopes": ["users.read"], "days": "30"}, b"The name must be"),
    ({"name": "ci", "days": "30"}, b"Choose at least one scope"),
    ({"name": "ci", "scopes": ["users.read", "root"], "days": "30"}, b"Unknown scope"),
    ({"name": "ci", "scopes": ["users.read"], "days": "0"}, b"A token lasts 1 to 366 days"),
    ({"name": "ci", "scopes": ["users.read"], "days": "lots"}, b"A token lasts 1 to 366 days"),
])
def test_bad_forms_say_what_is_wrong_and_save_nothing(megan, sign_in, form, message):
    response = browser_of(megan, sign_in).post("/admin/api-tokens", form)
    assert response.status_code == 400 and message in response.content
    assert not PersonalToken.objects.exists()


def test_authentication_admins_see_only_their_own(megan, alex, sign_in):
    from watchword.protocols.tokens import create_token

    theirs, _ = create_token(megan, name="megans", scopes="users.read")
    browser = browser_of(alex, sign_in)
    assert b"megans" not in browser.get("/admin/api-tokens").content
    assert browser.post(f"/admin/api-tokens/{theirs.pk}/revoke").status_code == 404
    assert PersonalToken.objects.get(pk=theirs.pk).revoked_at is None
    assert b"megans" in browser_of(megan, sign_in).get("/admin/api-tokens").content


def test_people_without_an_admin_role_are_kept_out(adele, sign_in):
    response = browser_of(adele, sign_in).get("/admin/api-tokens")
    assert response.status_code in (302, 403)


def test_the_cli_creates_lists_and_revokes(megan, adele, capsys):
    assert main(["api", "token", "create", "--user", megan.upn, "--name", "ci", "--scopes", "verify"]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("wwp_") and "Shown once" in out.err
    assert Client(HTTP_AUTHORIZATION=f"Bearer {token}").post(
        "/api/v1/verify", '{"user": "adele.vance@contoso.example", "code": "123456"}',
        content_type="application/json").json() == {"result": "reject", "reason": "no_code_method"}
    assert main(["api", "token", "list", "--format", "json"]) == 0
    assert '"state": "active"' in capsys.readouterr().out
    row = PersonalToken.objects.get()
    assert main(["api", "token", "revoke", str(row.pk)]) == 0
    assert main(["api", "token", "revoke", "999"]) == 1
    assert "token_not_found" in capsys.readouterr().err
    assert main(["api", "token", "create", "--user", adele.upn, "--name", "x", "--scopes", "verify"]) == 1
    assert "Only enabled administrators" in capsys.readouterr().err
