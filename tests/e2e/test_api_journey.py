"""An administrator creates a personal API token in the browser, a script uses it against the
real server (through the front) to read people and set per-user MFA, and the change shows in
the admin pages and the audit log; the token page holds up on a phone-sized screen."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_admin_creates_a_token_and_a_script_uses_it(server, admin_page, browser, shots):
    page = admin_page
    page.goto(f"{server.url}/admin/users")
    page.get_by_role("link", name="API tokens").click()
    expect(page.get_by_role("heading", name="API tokens")).to_be_visible()
    page.get_by_label("Name", exact=True).fill("nightly report")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("alert")).to_have_text("Choose at least one scope: users.read, users.write, "
                                                   "methods.read, methods.write, logs.read, verify, policy.read, "
                                                   "policy.write.")
    page.get_by_label(re.compile(r"users\.read —")).check()
    page.get_by_label(re.compile(r"users\.write —")).check()
    shots(page, "new-token-form")
    page.get_by_role("button", name="Create token").click()
    expect(page.get_by_role("heading", name="API token created")).to_be_visible()
    token = page.locator("#api-token").inner_text()
    assert token.startswith("wwp_")
    shots(page, "token-shown-once")

    with httpx.Client(base_url=f"{server.url}/api/v1", headers={"Authorization": f"Bearer {token}"}) as api:
        admin = api.get("/users", params={"search": "admin@"}).json()["value"][0]
        assert admin["userPrincipalName"] == server.admin_upn
        created = api.post("/users", json={"userPrincipalName": "lidia.holloway@contoso.example",
                                           "displayName": "Lidia Holloway"})
        assert created.status_code == 201, created.text
        answer = api.patch(f"/users/{created.json()['id']}/authentication/requirements",
                           json={"perUserMfaState": "enabled"})
        assert answer.json() == {"perUserMfaState": "enabled"}
        refused = api.get("/auditLogs/signIns")
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "insufficient_scope"
        assert api.get("/openapi.json").json()["info"]["title"] == "Watchword API"

    page.goto(f"{server.url}/admin/users?q=lidia")
    expect(page.get_by_role("row", name=re.compile("Lidia Holloway"))).to_contain_text("Enabled")
    page.goto(f"{server.url}/admin/audit")
    expect(page.get_by_role("row", name=re.compile("user.mfa.state")).first).to_contain_text(server.admin_upn)

    page.goto(f"{server.url}/admin/api-tokens")
    row = page.get_by_role("row", name=re.compile("nightly report"))
    expect(row).to_contain_text("Active")
    row.get_by_role("link", name="Revoke").click()
    page.get_by_role("button", name="Revoke token").click()
    expect(page.locator(".messages")).to_contain_text("API token nightly report of admin@contoso.example revoked")
    expect(page.get_by_role("row", name=re.compile("nightly report"))).to_contain_text("Revoked")
    shots(page, "token-revoked")
    assert httpx.get(f"{server.url}/api/v1/users", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=page.context.storage_state())
    small = phone.new_page()
    small.goto(f"{server.url}/admin/api-tokens")
    expect(small.get_by_role("heading", name="API tokens")).to_be_visible()
    assert small.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    shots(small, "tokens-on-a-phone")
    phone.close()
