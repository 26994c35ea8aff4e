"""Signing in to another application with Watchword, in a real browser against a real server:

the admin registers "Contoso Wiki" on Admin → Applications (consent on) → a person registers an
authenticator app at her first sign-in → on the wiki (a relying party built with Authlib's client)
she clicks "Sign in with Watchword" → signs in with her password and a code (computed by Debian's
``oathtool``) → allows the wiki → is back on the wiki, which has checked the ID token's signature
against Watchword's JWKS and shows ``amr`` → signs out of the wiki, which signs her out of
Watchword too (RP-initiated logout) and brings her back to the wiki.
"""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import sign_in_admin
from tests.e2e.oidc_rp import RelyingParty
from tests.e2e.test_authenticator_journey import Codes, sign_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 860}
ISAIAH = "isaiah.langer@contoso.example"  # a person of this journey only: the embedded server is shared
ISAIAH_PASSWORD = "Isaiah keeps a long passphrase 9"


def register_the_wiki(page, rp: RelyingParty, server, shots) -> tuple[str, str]:
    """The admin adds the wiki on Admin → Applications; returns its client ID and secret."""
    sign_in_admin(page, server)
    page.get_by_role("link", name="Admin").click()
    page.get_by_role("link", name="Applications").click()
    expect(page.get_by_role("heading", name="Applications")).to_be_visible()
    page.get_by_label("Web application").check()
    page.get_by_label("Name", exact=True).fill("Contoso Wiki")
    page.get_by_label("Redirect URIs (web and single-page apps; one per line)").fill(rp.callback)
    page.get_by_label("Sign-out redirect URIs (optional; one per line)").fill(rp.signed_out_url)
    page.get_by_label(re.compile("Ask people for consent")).check()
    shots(page, "admin-applications")
    page.get_by_role("button", name="Add application").click()
    expect(page.get_by_role("heading", name="Application added")).to_be_visible()
    client_id = page.locator("#client-id").inner_text().strip()
    secret = page.locator("#client-secret").inner_text().strip()
    return client_id, secret


def enrol_isaiah(page, deployment) -> Codes:
    """Isaiah (MFA enabled by the admin) signs in at Watchword and registers an authenticator app."""
    added = deployment.cli("user", "add", ISAIAH, "--name", "Isaiah Langer", "--email", ISAIAH, "--password-stdin",
                           input=ISAIAH_PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert deployment.cli("mfa", "state", "set", ISAIAH, "enabled", "--no-notify").returncode == 0
    sign_in(page, deployment.signin_url, ISAIAH, ISAIAH_PASSWORD)
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
    page.get_by_role("button", name="Sign out").click()
    return codes


def test_a_person_signs_in_to_an_authlib_relying_party_with_password_and_code(deployment, browser, shots):
    with RelyingParty(issuer_url=deployment.signin_url) as rp:
        admin_context = browser.new_context(viewport=DESKTOP)
        client_id, secret = register_the_wiki(admin_context.new_page(), rp, deployment.server, shots)
        admin_page = admin_context.pages[0]
        shots(admin_page, "admin-application-added")
        rp.register(client_id, secret)

        context = browser.new_context(viewport=DESKTOP)
        page = context.new_page()
        codes = enrol_isaiah(page, deployment)

        page.goto(rp.url)
        shots(page, "relying-party-start")
        page.get_by_role("link", name="Sign in with Watchword").click()
        page.get_by_label("Email or sign-in name", exact=True).fill(ISAIAH)
        page.get_by_role("button", name="Next").click()
        page.get_by_label("Password", exact=True).fill(ISAIAH_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Enter code")).to_be_visible()
        shots(page, "watchword-enter-code")
        page.get_by_label("Code", exact=True).fill(codes.fresh())
        page.get_by_role("button", name="Verify").click()

        expect(page.get_by_role("heading", name="Allow Contoso Wiki to sign you in?")).to_be_visible()
        expect(page.get_by_text("Your e-mail address")).to_be_visible()
        shots(page, "watchword-consent")
        page.get_by_role("button", name="Allow").click()

        expect(page.get_by_role("heading", name="Welcome, Isaiah Langer")).to_be_visible()
        assert not rp.errors, rp.describe()
        expect(page.locator("#verified")).to_be_visible()
        amr = page.locator("#amr").inner_text().split()
        assert {"pwd", "otp", "mfa"} <= set(amr), rp.describe()
        assert rp.signed_in["acr"] == "urn:watchword:mfa" and rp.signed_in["aud"] == client_id
        published = httpx.get(f"{deployment.signin_url}/o/jwks.json").json()["keys"]
        assert rp.verified_kid in {key["kid"] for key in published}  # Authlib checked it with that key
        shots(page, "relying-party-signed-in")

        page.get_by_role("link", name="Sign out").click()
        expect(page.get_by_role("heading", name="Signed out of Contoso Wiki")).to_be_visible()
        expect(page.locator("#state-ok")).to_have_text("yes")
        shots(page, "relying-party-signed-out")
        page.goto(f"{deployment.signin_url}/myaccount")
        expect(page.get_by_label("Email or sign-in name", exact=True)).to_be_visible()  # signed out of Watchword

        admin_page.goto(f"{deployment.server.url}/admin/signins?user=isaiah")
        expect(admin_page.get_by_role("cell", name="signout", exact=True).first).to_be_visible()
        shots(admin_page, "admin-signin-log")
        context.close()
        admin_context.close()
