"""The first journey, as people walk it in a real browser against a real server:

admin changes the one-time password → enables MFA for a person → the person signs in → "More
information required" → enrols an authenticator (codes computed by Debian's ``oathtool``, an
independent implementation, from the secret shown on the page) → signs out → signs in with a
code → a wrong code is refused → a reused code is refused → Security info shows the method.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in_admin

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def oathtool_code(secret: str, step: int) -> str:
    if not shutil.which("oathtool"):
        pytest.skip("oathtool is not installed; scripts/test installs it (apt-get install oathtool)")
    out = subprocess.run(["oathtool", "--totp", "-b", secret, "-N", f"@{step * 30}"], capture_output=True,
                         text=True, check=True)
    return out.stdout.strip()


class Codes:
    """Codes for steps never used before, as a person waiting for the next code would get."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.last = -1

    def fresh(self) -> str:
        step = max(int(time.time()) // 30, self.last + 1)
        while step > int(time.time()) // 30 + 1:  # beyond the accepted drift: wait for the next code
            time.sleep(30 - time.time() % 30 + 0.5)
        self.last = step
        return oathtool_code(self.secret, step)

    def wrong(self) -> str:
        real = {oathtool_code(self.secret, s) for s in range(int(time.time()) // 30 - 2, int(time.time()) // 30 + 3)}
        candidate = 123456
        while f"{candidate:06d}" in real:
            candidate += 1
        return f"{candidate:06d}"


def sign_in(page, url: str, upn: str, password: str) -> None:
    page.goto(f"{url}/signin")
    page.get_by_label("Email or sign-in name", exact=True).fill(upn)
    page.get_by_role("button", name="Next").click()
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="You signed out of your account")).to_be_visible()


def scan_with_authenticator(image, state) -> str:
    """Add the account from a picture of the QR code with ``watchword-authenticator`` and return
    the code it shows."""
    tool = [sys.executable, "-m", "watchword_authenticator", "--state", str(state)]
    added = subprocess.run([*tool, "add", "--image", str(image)], capture_output=True, text=True, timeout=60)
    assert added.returncode == 0, added.stderr
    shown = subprocess.run([*tool, "code"], capture_output=True, text=True, timeout=60, check=True)
    return shown.stdout.split()[0]


def test_admin_enables_mfa_and_person_enrols_and_signs_in_with_codes(server, browser, shots, tmp_path):
    admin_ctx = browser.new_context(viewport=DESKTOP)
    admin = admin_ctx.new_page()

    # The first admin signs in with the printed one-time password and must change it.
    admin.goto(f"{server.url}/signin")
    shots(admin, "signin-name")
    sign_in_admin(admin, server, shots)

    # The admin creates a person and turns on per-user MFA for them.
    admin.get_by_role("link", name="Admin").click()
    admin.get_by_role("link", name="+ New user").click()
    admin.get_by_label("Sign-in name", exact=True).fill("adele.vance@contoso.example")
    admin.get_by_label("Display name", exact=True).fill("Adele Vance")
    admin.get_by_label("E-mail", exact=True).fill("adele.vance@contoso.example")
    admin.get_by_label("Mobile phone", exact=True).fill("+44 7911 123456")
    admin.get_by_role("button", name="Create").click()
    expect(admin.get_by_role("heading", name="User created")).to_be_visible()
    adele_password = admin.locator("#one-time-password").inner_text().strip()
    shots(admin, "admin-user-created")
    admin.get_by_role("link", name="Back to users").click()
    admin.get_by_label("Select Adele Vance", exact=True).check()
    admin.get_by_role("button", name="Enable MFA").click()
    expect(admin.get_by_text("MFA state updated for 1 person.")).to_be_visible()
    row = admin.get_by_role("row", name=re.compile("Adele Vance"))
    expect(row.locator(".badge")).to_have_text("Enabled")
    shots(admin, "admin-mfa-enabled")
    admin.get_by_role("link", name="Mail").click()
    expect(admin.get_by_text("your account now needs a second sign-in step")).to_be_visible()
    expect(admin.get_by_text("More information required").first).to_be_visible()
    shots(admin, "admin-mail-notice")

    # Adele signs in on her phone: new password, then "More information required".
    person_ctx = browser.new_context(viewport=PHONE)
    page = person_ctx.new_page()
    sign_in(page, server.url, "adele.vance@contoso.example", "not her password")
    expect(page.get_by_role("alert")).to_contain_text("Your account or password is incorrect")
    shots(page, "person-wrong-password")
    page.get_by_label("Password", exact=True).fill(adele_password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("New password", exact=True).fill("Adele's own long passphrase 7")
    page.get_by_label("Confirm password", exact=True).fill("Adele's own long passphrase 7")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="More information required")).to_be_visible()
    shots(page, "person-more-information-required")
    page.get_by_role("button", name="Next").click()

    # The registration wizard: get the app, scan the QR code, enter a code.
    expect(page.get_by_role("heading", name="Keep your account secure")).to_be_visible()
    page.get_by_role("link", name="I want to use a different authenticator app").click()
    shots(page, "person-wizard-get-app")
    page.get_by_role("button", name="Next").click()
    expect(page.locator(".qr svg")).to_be_visible()
    shots(page, "person-wizard-qr")
    page.get_by_text("Can't scan image?").click()
    secret = page.locator("#secret-key").inner_text().replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    # The QR code on the screen scans: the companion authenticator reads it from a picture of it
    # and shows the same code oathtool computes from the secret written beside it.
    qr_png = tmp_path / "qr.png"
    page.locator(".qr").screenshot(path=str(qr_png))
    scanned = scan_with_authenticator(qr_png, tmp_path / "authenticator.json")
    assert scanned == oathtool_code(secret, int(time.time()) // 30) or \
        scanned == oathtool_code(secret, int(time.time()) // 30 - 1)
    shots(page, "person-wizard-secret")
    page.get_by_role("button", name="Next").click()
    codes = Codes(secret)
    page.get_by_label("Code", exact=True).fill(codes.wrong())
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("alert")).to_contain_text("That code didn't work")
    page.get_by_label("Code", exact=True).fill(codes.fresh())
    page.get_by_role("button", name="Next").click()
    expect(page.get_by_role("heading", name="Success!")).to_be_visible()
    shots(page, "person-wizard-success")
    page.get_by_role("button", name="Done").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    shots(page, "person-my-account")
    sign_out(page)

    # Per-user MFA became Enforced automatically after registration.
    assert server.cli("mfa", "state", "get", "adele.vance@contoso.example").stdout.strip() == "enforced"

    # Next sign-in: password, then a code. A wrong code is refused; the right one works.
    sign_in(page, server.url, "adele.vance@contoso.example", "Adele's own long passphrase 7")
    expect(page.get_by_role("heading", name="Enter code")).to_be_visible()
    page.get_by_label("Code", exact=True).fill(codes.wrong())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("That code didn't work")
    shots(page, "person-wrong-code")
    used = codes.fresh()
    page.get_by_label("Code", exact=True).fill(used)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()
    sign_out(page)

    # The same code again is refused, even with the right password.
    sign_in(page, server.url, "adele.vance@contoso.example", "Adele's own long passphrase 7")
    page.get_by_label("Code", exact=True).fill(used)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("alert")).to_contain_text("already used")
    shots(page, "person-reused-code")
    page.get_by_label("Code", exact=True).fill(codes.fresh())
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_role("heading", name="My account")).to_be_visible()

    # My account → Security info lists the authenticator app as the default method.
    page.get_by_role("link", name="Update info").click()
    expect(page.get_by_role("heading", name="Security info")).to_be_visible()
    expect(page.get_by_text("Default sign-in method: Authenticator app")).to_be_visible()
    expect(page.get_by_role("list", name="Your sign-in methods").get_by_text("Authenticator app")).to_be_visible()
    shots(page, "person-security-info")

    # Deleting the only method of an Enforced person is refused with an explanation.
    page.get_by_role("link", name=re.compile("^Delete Authenticator app")).click()
    expect(page.get_by_role("heading", name="Delete authenticator app?")).to_be_visible()
    page.get_by_role("button", name="Delete").click()
    expect(page.get_by_text("You can't delete your only sign-in method")).to_be_visible()
    shots(page, "person-delete-refused")

    # My account → Change password: the current one first, then the new one twice.
    page.get_by_role("link", name="My account").click()
    page.get_by_role("link", name="Change password").click()
    page.get_by_label("Current password", exact=True).fill("Adele's own long passphrase 7")
    page.get_by_label("New password", exact=True).fill("Adele's newer passphrase 8")
    page.get_by_label("Confirm password", exact=True).fill("Adele's newer passphrase 8")
    shots(page, "person-change-password")
    page.get_by_role("button", name="Change password").click()
    expect(page.get_by_text("Your password was changed.")).to_be_visible()
    shots(page, "person-password-changed")

    # The admin sees the whole story in the sign-in log.
    admin.goto(f"{server.url}/admin/signins?user=adele")
    expect(admin.get_by_role("cell", name="50126").first).to_be_visible()
    expect(admin.get_by_role("cell", name="50072").first).to_be_visible()
    expect(admin.get_by_role("cell", name="50076").first).to_be_visible()
    shots(admin, "admin-signin-log")
    admin.goto(f"{server.url}/admin/audit?target=adele")
    expect(admin.get_by_role("cell", name="user.mfa.state").first).to_be_visible()
    shots(admin, "admin-audit-log")
    person_ctx.close()
    admin_ctx.close()
