"""An administrator connects Watchword to a directory (a real OpenLDAP server) in the browser:
tests the connection, runs the first sync, and finds a synced person whose phone is the
directory's; that person then signs in with their directory password and sees the same on My
account. At desktop and phone sizes."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from tests.ldap_server import Slapd, unavailable_reason

pytestmark = pytest.mark.browser

DIRECTORY_PASSWORD = "Directory-Pass-71"
ADELE = "adele.vance@example.org"
NOTE = "Managed by the directory corp; change it there. The change appears here after the next sync."
OWN_NOTE = ("Your office phone is managed by your organisation's directory. Ask your administrator to change it "
            "there; changes appear here after the next sync.")
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no OpenLDAP test server: {reason}")
    with Slapd(tmp_path_factory.mktemp("slapd")) as server:
        adele = server.add_person("adele.vance", given_name="Adele", sn="Vance", mail=ADELE,
                                  telephone="020 7946 0958", mobile="07400 123456", password=DIRECTORY_PASSWORD)
        lee = server.add_person("lee.gu", given_name="Lee", sn="Gu", mail="lee.gu@example.org",
                                telephone="+1 (425) 555-0100 x123", password="Another-Pass-42")
        zoe = server.add_person("zoe.angstrom", ou="paris", given_name="Zoë", sn="Ångström",
                                mail="zoe.angstrom@example.org", telephone="12345")
        server.add_group("staff", [adele, lee, zoe])
        yield server


def fits_a_phone(page, what: str) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} scrolls sideways on a phone ({width}px wide)"


def run_first_sync(page) -> None:
    """Run now; the scheduler of ``watchword serve`` may have started the first sync already, in
    which case the page says so and the run shows up in the history once it is done."""
    page.get_by_role("button", name="Run now").click()
    messages = page.locator(".messages")
    expect(messages).to_contain_text(re.compile(r"Run now finished|already running"))
    deadline = time.time() + 60
    while "Succeeded" not in page.locator("#history + .table-wrap").inner_text():
        assert time.time() < deadline, page.locator("#history + .table-wrap").inner_text()
        time.sleep(1)
        page.reload()


def test_an_admin_connects_a_directory_and_a_synced_person_signs_in_with_their_directory_password(
        server, browser, admin_page, directory, shots):
    page = admin_page
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Directory sync").click()
    expect(page.get_by_role("heading", name="Directory sync", exact=True)).to_be_visible()
    page.get_by_role("link", name="+ Add connection").click()

    page.get_by_label("Name", exact=True).fill("corp")
    page.get_by_label("OpenLDAP / generic LDAP").check()
    page.get_by_label("Server URL", exact=True).fill(directory.url)
    page.get_by_label("Bind DN", exact=True).fill(directory.service_dn)
    page.get_by_label("Bind password", exact=True).fill(directory.service_password)
    page.get_by_label("Base DNs (one per line)", exact=True).fill(f"{directory.people_dn}\n{directory.groups_dn}")
    page.get_by_label("Sign-in domain", exact=True).fill("example.org")
    page.get_by_label("Country for phone numbers", exact=True).select_option("GB")
    page.get_by_label("Timeout (seconds)", exact=True).fill("5")

    # A wrong password first: the test says which step failed, in words.
    page.get_by_label("Bind password", exact=True).fill("not the password")
    page.get_by_role("button", name="Test connection").click()
    result = page.locator("#test-result")
    expect(result).to_contain_text(re.compile(r"✗ Failed\s+Connect and bind"))
    expect(result).to_contain_text("invalid credentials")
    shots(page, "test-connection-failed")

    page.get_by_label("Bind password", exact=True).fill(directory.service_password)
    page.get_by_role("button", name="Test connection").click()
    expect(result).to_contain_text("Connection test: everything works")
    expect(result.get_by_role("listitem").first).to_contain_text(
        re.compile(rf"✓ Passed\s+Connect and bind\s*Bound as {re.escape(directory.service_dn)}"))
    expect(result.get_by_text("✗")).to_have_count(0)
    shots(page, "test-connection-passed")

    page.get_by_label("Bind password", exact=True).fill(directory.service_password)
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("heading", name="corp", exact=True)).to_be_visible()
    expect(page.locator(".messages")).to_contain_text("Connection corp added.")

    run_first_sync(page)
    history = page.locator("#history + .table-wrap")
    expect(history).to_contain_text("Full import")
    expect(history.get_by_role("row").nth(1)).to_contain_text("3")
    shots(page, "first-sync")

    # Zoë's office phone is five digits: a warning, with her DN and the value.
    history.get_by_role("link", name=re.compile(r"\d{4} \d\d:\d\d:\d\d")).first.click()
    expect(page.get_by_role("cell", name="12345")).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("telephoneNumber"))).to_contain_text("uid=zoe.angstrom")
    shots(page, "run-warnings")

    page.get_by_role("link", name="Users", exact=True).click()
    page.get_by_label("Search", exact=True).fill(ADELE)  # another Adele may exist, made by other journeys
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("link", name="Adele Vance").click()
    expect(page.locator("#synced-from")).to_contain_text("Synced from corp (OpenLDAP / generic LDAP) — DN uid=")
    office = page.get_by_label("Office phone", exact=True)
    expect(office).to_have_value("+44 2079460958")
    expect(office).to_be_disabled()
    expect(page.get_by_text(NOTE).first).to_be_visible()
    expect(page.get_by_label("Role", exact=True)).to_be_enabled()
    expect(page.get_by_role("link", name="Reset password")).to_have_count(0)
    shots(page, "synced-person")
    person_url = page.url

    # The same pages on a phone.
    phone = browser.new_context(viewport=PHONE)
    phone.add_cookies(page.context.cookies())
    small = phone.new_page()
    for url, name in ((f"{server.url}/admin/directory-sync", "phone-list"), (person_url, "phone-synced-person")):
        small.goto(url)
        fits_a_phone(small, url)
        shots(small, name)
    small.get_by_role("link", name="corp").first.click()
    fits_a_phone(small, "the connection page")
    shots(small, "phone-connection")
    small.goto(f"{server.url}/admin/directory-sync/new")
    fits_a_phone(small, "the connection form")
    shots(small, "phone-connection-form")
    phone.close()

    # Adele signs in with her directory password: checked by the directory, never stored here.
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    own = context.new_page()
    own.goto(f"{server.url}/signin")
    own.get_by_label("Email or sign-in name", exact=True).fill(ADELE)
    own.get_by_role("button", name="Next").click()
    own.get_by_label("Password", exact=True).fill(DIRECTORY_PASSWORD)
    own.get_by_role("button", name="Sign in").click()
    expect(own.get_by_role("heading", name="My account")).to_be_visible()
    expect(own.locator("#office-phone-note")).to_have_text(OWN_NOTE)
    expect(own.get_by_role("link", name="Change password")).to_have_count(0)
    shots(own, "my-account")
    own.set_viewport_size(PHONE)
    fits_a_phone(own, "My account")
    shots(own, "phone-my-account")

    # Adding a phone: the directory's mobile is offered ready-made, still verified by a code.
    own.set_viewport_size({"width": 1280, "height": 860})
    own.goto(f"{server.url}/mysecurityinfo/add/authenticator?step=app&kind=phone")
    expect(own.get_by_role("button", name="Text a code to +44 7400123456")).to_be_visible()
    expect(own.get_by_text("From your organisation's directory").first).to_be_visible()
    shots(own, "wizard-offer")
    own.set_viewport_size(PHONE)
    fits_a_phone(own, "the phone wizard")
    shots(own, "phone-wizard-offer")
    own.get_by_role("button", name="Text a code to +44 7400123456").click()
    expect(own.get_by_text("We just sent a 6-digit code to +44 7400123456")).to_be_visible()
    context.close()
