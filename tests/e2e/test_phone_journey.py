"""Phone methods in a real browser on the embedded default, with the development outbox standing
in for the phone network (an admin reads texts and answers calls on Admin → Outbox):

"More information required" → "I want to set up a different method" → a mobile number typed the
way people type it → the texted code → success. Then sign in by text; then "Sign in another way"
→ a call answered with #, the page moving on by itself; then a call answered with 0#, which
reports fraud.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in_admin

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
PASSWORD = "Diego's long sign-in phrase 3"
UPN = "diego.siciliani@contoso.example"


def sign_in(page, url: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Email or sign-in name", exact=True).fill(UPN)
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def latest_code(admin, url: str) -> str:
    admin.goto(f"{url}/admin/outbox")
    words = admin.locator(".outbox-words").first.inner_text()
    return re.search(r"\b(\d{6})\b", words).group(1)


def answer_latest_call(admin, url: str, button: str) -> None:
    admin.goto(f"{url}/admin/outbox")
    admin.get_by_role("button", name=button).first.click()
    expect(admin.get_by_text("the call's result is")).to_be_visible()


def test_register_a_mobile_then_sign_in_by_text_by_call_and_report_a_call(server, browser, shots):
    added = server.cli("user", "add", UPN, "--name", "Diego Siciliani", "--password-stdin", input=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert server.cli("mfa", "state", "set", UPN, "enabled", "--no-notify").returncode == 0
    admin_context = browser.new_context(viewport={"width": 1280, "height": 860})
    admin = admin_context.new_page()
    sign_in_admin(admin, server)
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()

    # Register a mobile: "I want to set up a different method", the number as people type it.
    sign_in(page, server.url)
    page.get_by_role("button", name="Next").click()
    page.get_by_role("link", name="I want to set up a different method").click()
    expect(page.get_by_role("heading", name="Phone", exact=True)).to_be_visible()
    page.get_by_label("Phone number", exact=True).fill("020 7946 0958")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("Text messages can only go to a mobile phone")
    shots(page, "phone-landline-refused")
    page.get_by_label("Phone number", exact=True).fill("07400 123456")
    shots(page, "phone-number")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("We just sent a 6-digit code to +44 7400123456")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(latest_code(admin, server.url))
    shots(admin, "phone-admin-outbox")
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # Sign in by text.
    sign_in(page, server.url)
    expect(page.get_by_text("We texted your phone +44 XXXXXXXX56")).to_be_visible()
    shots(page, "phone-enter-texted-code")
    page.get_by_label("Code", exact=True).fill(latest_code(admin, server.url))
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # Sign in another way: a call, answered with #; the page moves on by itself.
    sign_in(page, server.url)
    page.get_by_role("link", name="Sign in another way").click()
    page.get_by_role("button", name="Call +44 XXXXXXXX56").click()
    expect(page.get_by_text("We're calling your phone +44 XXXXXXXX56")).to_be_visible()
    shots(page, "phone-calling")
    answer_latest_call(admin, server.url, "Answer and press #")
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # A call answered with 0#: reported, blocked.
    sign_in(page, server.url)
    page.get_by_role("link", name="Sign in another way").click()
    page.get_by_role("button", name="Call +44 XXXXXXXX56").click()
    expect(page.get_by_text("We're calling your phone")).to_be_visible()
    answer_latest_call(admin, server.url, "Answer and press 0#")
    expect(page.get_by_role("heading", name="Sign-in reported")).to_be_visible()
    shots(page, "phone-call-reported")
    admin.goto(f"{server.url}/admin/fraud")
    expect(admin.get_by_role("cell", name=re.compile("Diego Siciliani"))).to_be_visible()
    context.close()
    admin_context.close()
