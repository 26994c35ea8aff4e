"""Conditional Access in the real browser: the admin adds a trusted named location and a policy
"MFA outside the office" in report-only; Alex signs in from outside without being asked, and the
sign-in log shows what the policy would have done; the admin turns the policy on; from outside
Alex is now asked for a code, from the office not. The browser reaches the server through
loopback relays whose connections leave from chosen addresses (127.0.0.10 in the office range,
127.0.0.20 outside it), so the server sees those as Alex's IP address."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.relay import LoopbackRelay
from tests.e2e.test_authenticator_journey import Codes

pytestmark = pytest.mark.browser

ALEX = "alex.wilber@contoso.example"
ALEX_PASSWORD = "Alex's long passphrase 31"
OFFICE, OUTSIDE = "127.0.0.10", "127.0.0.20"


def server_port(server) -> int:
    return int(server.url.rsplit(":", 1)[1])


def sign_in_as_alex(page, url: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Email or sign-in name", exact=True).fill(ALEX)
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Password", exact=True).fill(ALEX_PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page, url: str) -> None:
    page.goto(f"{url}/signout")
    page.get_by_role("button", name="Sign out").click()


def enrol_alex(page, server) -> Codes:
    """Alex registers an authenticator app (per-user MFA switched on only for that, then off)."""
    added = server.cli("user", "add", ALEX, "--name", "Alex Wilber", "--password-stdin", input=ALEX_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert server.cli("mfa", "state", "set", ALEX, "enabled", "--no-notify").returncode == 0
    sign_in_as_alex(page, server.url)
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    page.get_by_role("button", name="Next").click()
    page.get_by_role("link", name="I want to use a different authenticator app").click()
    page.get_by_role("button", name="Next").click()
    page.get_by_text("Can't scan image?").click()
    codes = Codes(page.locator("#secret-key").inner_text().replace(" ", ""))
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Code", exact=True).fill(codes.fresh())
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    sign_out(page, server.url)
    assert server.cli("mfa", "state", "set", ALEX, "disabled", "--no-notify").returncode == 0
    return codes


def test_a_policy_in_report_only_then_on_asks_for_mfa_outside_the_office_only(server, browser, admin_page, shots):
    admin = admin_page
    person = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    codes = enrol_alex(person, server)

    # The office: a trusted named location.
    admin.goto(f"{server.url}/admin/security/locations/new")
    admin.get_by_label("Name", exact=True).fill("Head office")
    admin.get_by_label("IP ranges (one per line)").fill("127.0.0.8/29")
    admin.get_by_label("Mark as trusted location").check()
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("cell", name="Head office", exact=True)).to_be_visible()
    shots(admin, "named-locations")

    # The policy, report-only (the default for a new one).
    admin.goto(f"{server.url}/admin/security/policies/new")
    admin.get_by_label("Name", exact=True).fill("MFA outside the office")
    expect(admin.get_by_label("Report-only")).to_be_checked()
    admin.get_by_label("Select users, groups and roles").check()
    admin.get_by_role("textbox", name="Users", exact=True).fill(ALEX)
    admin.get_by_label("All applications").check()
    admin.get_by_label("Any location").check()
    admin.get_by_label("Exclude all trusted locations").check()
    admin.get_by_label("Grant access").check()
    admin.get_by_label("Require multifactor authentication").check()
    shots(admin, "new-policy")
    admin.get_by_role("button", name="Create").click()
    expect(admin.get_by_text("MFA outside the office").first).to_be_visible()
    shots(admin, "policy-created")

    with LoopbackRelay(server_port(server), OUTSIDE) as outside, LoopbackRelay(server_port(server), OFFICE) as office:
        # Report-only: from outside, Alex signs straight in.
        sign_in_as_alex(person, outside.url)
        expect(person.get_by_role("heading", name="My account")).to_be_visible()
        sign_out(person, outside.url)

        # The sign-in log says what the policy would have done.
        admin.goto(f"{server.url}/admin/signins")
        row = admin.get_by_role("row").filter(has_text=ALEX).filter(has_text=OUTSIDE).filter(
            has=admin.locator("details")).first
        expect(row).to_be_visible()
        row.locator("summary").first.click()
        expect(row).to_contain_text("MFA outside the office")
        expect(row).to_contain_text(re.compile("would require MFA", re.I))
        shots(admin, "signin-log-report-only")

        # On.
        admin.goto(f"{server.url}/admin/security/policies")
        admin.get_by_role("link", name="MFA outside the office").click()
        admin.get_by_role("button", name="Turn on").click()
        expect(admin.get_by_text("Policy 'MFA outside the office' is now on.")).to_be_visible()
        shots(admin, "policy-on")

        # From outside: a code is asked for.
        sign_in_as_alex(person, outside.url)
        expect(person.get_by_label("Code", exact=True)).to_be_visible()
        shots(person, "asked-for-code-outside")
        person.get_by_label("Code", exact=True).fill(codes.fresh())
        person.get_by_role("button", name="Verify").click()
        expect(person.get_by_role("heading", name="My account")).to_be_visible()
        sign_out(person, outside.url)

        # From the office: straight in.
        sign_in_as_alex(person, office.url)
        expect(person.get_by_role("heading", name="My account")).to_be_visible()
        shots(person, "office-straight-in")
        sign_out(person, office.url)

    # What if, for both addresses.
    admin.goto(f"{server.url}/admin/security/whatif")
    admin.get_by_label("Person (sign-in name)").fill(ALEX)
    admin.get_by_label("IP address (optional)").fill(OUTSIDE)
    admin.get_by_role("button", name="What if", exact=True).click()
    expect(admin.locator("#outcome")).to_contain_text(re.compile("MFA", re.I))
    shots(admin, "whatif-outside")
    admin.get_by_label("IP address (optional)").fill(OFFICE)
    admin.get_by_role("button", name="What if", exact=True).click()
    expect(admin.get_by_text(re.compile("excluded location 'Head office'"))).to_be_visible()
    shots(admin, "whatif-office")

    # The admin pages on a phone-sized screen.
    phone = browser.new_context(viewport={"width": 390, "height": 844}, storage_state=admin.context.storage_state())
    small = phone.new_page()
    small.goto(f"{server.url}/admin/security/policies")
    expect(small.get_by_role("link", name="MFA outside the office")).to_be_visible()
    shots(small, "policies-phone")
    small.get_by_role("link", name="MFA outside the office").click()
    shots(small, "policy-phone")
    phone.close()

    # Leave the other journeys as they were.
    admin.goto(f"{server.url}/admin/security/policies")
    admin.get_by_role("link", name="MFA outside the office").click()
    admin.get_by_role("button", name="Turn off").click()
    expect(admin.get_by_text("Policy 'MFA outside the office' is now off.")).to_be_visible()
    person.context.close()
