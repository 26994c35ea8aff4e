"""Push with number matching, as a person walks it in a real browser against real servers, with
the real companion authenticator (``watchword-authenticator``) as the phone:

"More information required" → the authenticator app with notifications → the app scans (adds
the activation payload read from the page) → "Let's try it out": the number on the page is
typed into the app, which approves → success → sign out. Then sign in: the page shows a number,
the app approves with it and the waiting page moves on by itself; a denial stops the sign-in;
"No, it's not me" stops it, blocks the person and tells the admin, who unblocks.

Run twice: on the embedded default (one node, SQLite, in-process fan-out) and on two nodes
sharing PostgreSQL and Redis, with the authenticator listening on node 1 while the person signs
in on node 2.
"""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import parse_qs, urlsplit

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in_admin

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
PASSWORD = "Lee's long sign-in phrase 9"


class App:
    """``watchword-authenticator`` with a state file of its own: the person's phone."""

    def __init__(self, state) -> None:
        self.tool = [sys.executable, "-m", "watchword_authenticator", "--state", str(state)]

    def run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([*self.tool, *args], capture_output=True, text=True, timeout=timeout)

    def answer(self, decision: str, number: str | None = None) -> subprocess.CompletedProcess:
        """Wait for the next sign-in request and answer it, as the person would."""
        args = ["listen", "--once", "--auto", decision] + (["--number", number] if number else [])
        done = self.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        return done


def sign_in(page, url: str, upn: str, password: str = PASSWORD) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Email or sign-in name", exact=True).fill(upn)
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def number_shown(page) -> str:
    number = page.locator("#push-number")
    expect(number).to_have_text(re.compile(r"^\d\d$"))
    return number.inner_text().strip()


def test_enrol_with_notifications_then_approve_deny_and_report(deployment, browser, shots, tmp_path):
    upn = f"lee.gu.{deployment.name}@contoso.example"
    added = deployment.cli("user", "add", upn, "--name", "Lee Gu", "--password-stdin", input=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert deployment.cli("mfa", "state", "set", upn, "enabled", "--no-notify").returncode == 0
    app = App(tmp_path / "phone.json")
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    url = deployment.signin_url

    # "More information required" → the wizard offers the authenticator with notifications first.
    sign_in(page, url, upn)
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_text("I want to use a different authenticator app")).to_be_visible()
    shots(page, f"{deployment.name}-wizard-get-app")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".qr svg")).to_be_visible()
    expect(page.get_by_text("Waiting for your app to scan the code")).to_be_visible()
    shots(page, f"{deployment.name}-wizard-scan")

    # The phone scans: here, the authenticator adds the payload shown under "Can't scan image?".
    page.get_by_text("Can't scan image?").click()
    payload = page.locator("#activation-payload").inner_text().strip()
    assert payload.startswith("watchword-push://activate?")
    assert parse_qs(urlsplit(payload).query)["server"] == [deployment.device_url]
    scanned = app.run("add", payload, "--name", "Lee's phone", "--platform", "android")
    assert scanned.returncode == 0, scanned.stderr

    # The page moves on by itself to the test request, with a number to type into the app.
    expect(page.get_by_role("heading", name="Let's try it out")).to_be_visible()
    number = number_shown(page)
    shots(page, f"{deployment.name}-wizard-try-it-out")
    approved = app.answer("approve", number)
    assert "Approved" in approved.stdout
    assert "Sign-in request for" in approved.stdout
    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    expect(page.get_by_text("Authenticator app - notification")).to_be_visible()
    shots(page, f"{deployment.name}-wizard-success")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # Sign in: a number on the page; the app approves with it; the page moves on without a reload.
    sign_in(page, url, upn)
    expect(page.get_by_role("heading", name="Approve sign in request")).to_be_visible()
    number = number_shown(page)
    shots(page, f"{deployment.name}-approve-sign-in-request")
    shown = app.answer("approve", number)
    assert "App:" in shown.stdout and "From:" in shown.stdout
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()

    # "Sign in another way": the same enrolment gave the app the codes too.
    sign_in(page, url, upn)
    number_shown(page)
    page.get_by_role("link", name="I can't use my authenticator app right now").click()
    expect(page.get_by_role("heading", name="Verify your identity")).to_be_visible()
    shots(page, f"{deployment.name}-sign-in-another-way")
    page.get_by_role("button", name="Use a verification code from my authenticator app").click()
    page.get_by_label("Code", exact=True).fill(app.run("code").stdout.split()[0])
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    page.get_by_role("link", name="Update info").click()
    methods = page.get_by_role("list", name="Your sign-in methods")
    expect(methods).to_contain_text("Lee's phone (android)")
    expect(page.get_by_text("Default sign-in method: Authenticator app - notification")).to_be_visible()
    shots(page, f"{deployment.name}-security-info-device")
    page.get_by_role("button", name="Sign out").click()

    # Denied in the app: this sign-in stops.
    sign_in(page, url, upn)
    number_shown(page)
    app.answer("deny")
    expect(page.get_by_role("heading", name="Request denied")).to_be_visible()
    shots(page, f"{deployment.name}-request-denied")

    # "No, it's not me": stopped, reported, and blocked until the admin unblocks.
    sign_in(page, url, upn)
    number_shown(page)
    app.answer("fraud")
    expect(page.get_by_role("heading", name="Sign-in reported")).to_be_visible()
    shots(page, f"{deployment.name}-sign-in-reported")
    sign_in(page, url, upn)
    expect(page.get_by_role("heading", name="You cannot access this right now")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("reported as not yours")

    admin_context = browser.new_context(viewport={"width": 1280, "height": 860})
    admin = admin_context.new_page()
    sign_in_admin(admin, deployment.server)
    admin.goto(f"{url}/admin/users")
    expect(admin.locator("#fraud-notice")).to_contain_text("reported as fraud")
    admin.get_by_role("link", name="Review fraud reports").click()
    expect(admin.get_by_role("cell", name=upn, exact=False).first).to_be_visible()
    shots(admin, f"{deployment.name}-admin-fraud-reports")
    admin.get_by_role("link", name="Unblock").first.click()
    admin.get_by_role("button", name="Unblock").click()
    expect(admin.get_by_text("MFA unblocked")).to_be_visible()
    admin_context.close()

    sign_in(page, url, upn)
    number = number_shown(page)
    app.answer("approve", number)
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    context.close()
