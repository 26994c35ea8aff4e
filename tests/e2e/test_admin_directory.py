"""Admins manage people in the browser: CSV import with a report by line, groups, per-user
actions; and the pages hold up on a phone-sized screen."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

CSV = (
    "upn,display_name,email,office_phone,mobile_phone,role\n"
    "lee.gu@contoso.example,Lee Gu,lee.gu@contoso.example,+1 (425) 555-0100 x123,,user\n"
    "not-an-address,Broken Row,,,,user\n"
    "lynne.robbins@contoso.example,Lynne Robbins,,020 7946 0958,,user\n"
    "nestor.wilke@contoso.example,Nestor Wilke,,,12,user\n"
)


def test_admin_imports_people_from_csv_and_sees_bad_rows_by_line(server, admin_page, shots, tmp_path):
    page = admin_page
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(CSV)
    page.goto(f"{server.url}/admin/users/import")
    page.get_by_label("CSV file", exact=True).set_input_files(str(csv_file))
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_text(re.compile(r"2\s+users imported,\s+2\s+rows with problems"))).to_be_visible()
    problems = page.get_by_role("table").first
    expect(problems.get_by_role("row", name=re.compile(r"^3 "))).to_contain_text("name@example.org")
    expect(problems.get_by_role("row", name=re.compile(r"^5 "))).to_contain_text("Mobile phone")
    shots(page, "csv-report")

    # The imported office phone is stored and shown in the canonical form, extension kept.
    page.goto(f"{server.url}/admin/users?q=lee.gu")
    page.get_by_role("link", name="Lee Gu").click()
    expect(page.get_by_label("Office phone", exact=True)).to_have_value("+1 4255550100 x123")
    shots(page, "imported-user")

    # Resetting the password asks first, then shows the new one-time password once.
    page.get_by_role("link", name="Reset password").click()
    expect(page.get_by_role("heading", name="Reset password?")).to_be_visible()
    shots(page, "confirm-reset-password")
    page.get_by_role("button", name="Reset password").click()
    expect(page.locator("#one-time-password")).to_have_text(re.compile(r"^\w{4}-\w{4}-\w{4}-\w{4}$"))


def test_admin_builds_a_group_and_bad_input_gets_a_clear_message(server, admin_page, shots):
    page = admin_page
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Groups").click()
    page.get_by_label("New group name", exact=True).fill("Finance")
    page.get_by_role("button", name="Create group").click()
    expect(page.get_by_role("heading", name="Finance")).to_be_visible()
    page.get_by_label("Add a member (sign-in name)", exact=True).fill(server.admin_upn)
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_role("cell", name=server.admin_upn)).to_be_visible()
    page.get_by_label("Add a member (sign-in name)", exact=True).fill("nobody@contoso.example")
    page.get_by_role("button", name="Add").click()
    expect(page.get_by_text("There is no such user.")).to_be_visible()
    shots(page, "group")

    # A new user with a sign-in name that is not an address and an impossible phone number.
    page.goto(f"{server.url}/admin/users/new")
    page.get_by_label("Sign-in name", exact=True).fill("just a name")
    page.get_by_label("Display name", exact=True).fill("x" * 200)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("A sign-in name looks like name@example.org.")).to_be_visible()
    page.get_by_label("Sign-in name", exact=True).fill("pradeep.gupta@contoso.example")
    page.get_by_label("Mobile phone", exact=True).fill("+44 12")
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text(re.compile("Mobile phone: "))).to_be_visible()
    shots(page, "new-user-errors")


def test_pages_fit_a_phone_screen(server, browser, admin_page, shots):
    cookies = admin_page.context.cookies()
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.add_cookies(cookies)
    page = context.new_page()
    for path, heading in (("/admin/users", "Users and per-user MFA"), ("/admin/signins", "Sign-in logs"),
                          ("/myaccount", "My account")):
        page.goto(f"{server.url}{path}")
        expect(page.get_by_role("heading", name=heading)).to_be_visible()
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} scrolls sideways on a phone ({width}px wide)"
        shots(page, "phone" + path.replace("/", "-"))
    context.close()
