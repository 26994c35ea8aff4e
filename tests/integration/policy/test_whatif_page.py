"""Admin → Security → What if: the outcome of a described sign-in in words, why, the policies that
would apply (with their controls) and those that would not (with the first condition that did
not match); each mistake in the description on its input."""

from __future__ import annotations

import re

import pytest

from tests.integration.policy.conftest import field_error, page, text_of
from watchword.policy import document as doc
from watchword.policy import services
from watchword.policy.strengths import PHISHING_RESISTANT_MFA

pytestmark = pytest.mark.django_db

WHATIF = "/admin/security/whatif"
REPORT_ONLY = "enabledForReportingButNotEnforced"
BRANCH_IP, OFFICE_IP = "203.0.113.9", "198.51.100.7"


def save(name: str, *, state: str = "enabled", users=None, apps=None, grant=None, **conditions):
    document = {"displayName": name, "state": state,
                "conditions": {"users": users or {"includeUsers": ["All"]},
                               "applications": apps or {"includeApplications": ["All"]}, **conditions},
                "grantControls": grant or {"operator": "OR", "builtInControls": ["mfa"]}}
    return services.save_policy(document, actor="cli", confirm=True)[0]


BLOCK = {"operator": "OR", "builtInControls": ["block"]}


@pytest.fixture
def policies(org):
    """Five policies: two on, two report-only, one off."""
    authenticator_only = services.save_strength(name="Authenticator only", actor="cli",
                                                combinations=["password,microsoftAuthenticatorPush"])
    save("MFA for the admin pages", users={"includeRoles": ["global_admin", "security_admin"]},
         apps={"includeApplications": [doc.APP_ADMIN]})
    save("Block legacy clients", state=REPORT_ONLY, clientAppTypes=["other"], grant=BLOCK)
    save("MFA for Sales on the wiki", users={"includeGroups": [str(org.sales.pk)]},
         apps={"includeApplications": [org.wiki.client_id]},
         locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]})
    save("Authenticator on Android", state=REPORT_ONLY, platforms={"includePlatforms": ["android"]},
         grant={"operator": "OR", "authenticationStrength": {"id": str(authenticator_only.pk)}})
    save("Old VPN policy", state="disabled", apps={"includeApplications": [org.vpn]})


@pytest.fixture
def adele_with_app(org, enrol):
    enrol(org.adele)
    return org.adele


def ask(browser, **values):
    query = {"user": "adele.vance@contoso.example", "app": doc.APP_PORTAL, "client": "browser", "ip": "",
             "platform": "", "risk": ""}
    query.update(values)
    return browser.get(WHATIF, {k: v for k, v in query.items() if v is not None})


def rows(response, table: str) -> list[str]:
    body = page(response).split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    return [re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", row)).strip()
            for row in re.findall(r"<tr>(.*?)</tr>", body.split("<tbody>", 1)[1], re.S)]


def test_the_empty_page_offers_the_form_and_no_result(patti_browser, policies):
    response = patti_browser.get(WHATIF)

    assert response.status_code == 200
    assert 'id="result"' not in page(response)
    assert '<label for="id_user">Person (sign-in name)</label>' in page(response)


def test_a_report_only_strength_nobody_can_prove_here_would_block(patti_browser, org, adele_with_app):
    save("Phishing-resistant everywhere", state=REPORT_ONLY,
         grant={"operator": "OR", "authenticationStrength": {"id": PHISHING_RESISTANT_MFA.id}})

    response = ask(patti_browser)

    assert rows(response, "applied") == ["Phishing-resistant everywhere Report-only Require authentication strength "
                                         "'Phishing-resistant MFA' Report-only: would block"]


def test_a_sign_in_a_policy_asks_mfa_for_says_so_and_why(patti_browser, org, policies, adele_with_app):
    response = ask(patti_browser, app=org.wiki.client_id, ip=BRANCH_IP, platform="android")

    text = text_of(response)
    assert "adele.vance@contoso.example: Would be asked for MFA" in text
    assert "Conditional Access policy 'MFA for Sales on the wiki' requires MFA" in text


def test_the_policies_that_would_apply_are_listed_with_state_controls_and_result(patti_browser, org, policies,
                                                                                adele_with_app):
    response = ask(patti_browser, app=org.wiki.client_id, ip=BRANCH_IP, platform="android")

    assert rows(response, "applied") == [
        "MFA for Sales on the wiki On Require MFA Applied",
        "Authenticator on Android Report-only Require authentication strength 'Authenticator only' "
        "Report-only: would require MFA",
    ]


def test_the_policies_that_would_not_apply_are_listed_with_the_first_condition_not_met(patti_browser, org,
                                                                                      policies, adele_with_app):
    response = ask(patti_browser, app=org.wiki.client_id, ip=BRANCH_IP, platform="android")

    assert rows(response, "skipped") == [
        "MFA for the admin pages On Users: the person is not included",
        "Block legacy clients Report-only Client apps: browser is not included",
    ]
    assert "1 policy is off and not evaluated." in text_of(response)


def test_a_trusted_location_excluded_by_the_policy_lets_the_person_in(patti_browser, org, policies, adele_with_app):
    response = ask(patti_browser, app=org.wiki.client_id, ip=OFFICE_IP)

    assert "Would be let in with the password alone" in text_of(response)
    assert ("MFA for Sales on the wiki On Locations: 198.51.100.7 is in the excluded location 'Head office'"
            in rows(response, "skipped"))


def test_a_report_only_block_is_shown_but_not_enforced(patti_browser, org, policies):
    response = ask(patti_browser, user=org.lee.upn, client="other")

    assert "Would be let in with the password alone" in text_of(response)
    assert "Block legacy clients Report-only Block access Report-only: would block" in rows(response, "applied")


def test_an_enabled_block_would_block_with_its_code(patti_browser, org):
    save("Block the VPN from outside", apps={"includeApplications": [org.vpn]}, grant=BLOCK,
         locations={"includeLocations": ["All"], "excludeLocations": [str(org.office.pk)]})

    response = ask(patti_browser, user=org.megan.upn, app=org.vpn, client="radius", ip=BRANCH_IP)

    text = text_of(response)
    assert "Would be blocked (code 53003)" in text
    assert "Blocked by Conditional Access policy 'Block the VPN from outside'" in text


def test_someone_without_a_method_would_be_asked_to_register(patti_browser, org, policies):
    response = ask(patti_browser, app=org.wiki.client_id, ip=BRANCH_IP)

    assert "Would be asked to register an MFA method first" in text_of(response)


def test_the_register_security_info_action_is_a_sign_in_of_its_own(patti_browser, org):
    save("Register only from the office", apps={"includeUserActions": [doc.ACTION_REGISTER]}, grant=BLOCK,
         locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]})

    registering = ask(patti_browser, ip=BRANCH_IP, user_action="on")
    signing_in = ask(patti_browser, ip=BRANCH_IP)

    assert "Would be blocked" in text_of(registering)
    assert ("Register only from the office On User action: not registering security info"
            in rows(signing_in, "skipped"))


def test_the_risk_comes_from_watchwords_signals_unless_chosen(patti_browser, org):
    save("Block high risk", state=REPORT_ONLY, signInRiskLevels=["high"], grant=BLOCK)

    from_signals = ask(patti_browser, ip=BRANCH_IP)
    chosen = ask(patti_browser, ip=BRANCH_IP, risk="high")

    assert "Sign-in risk Low (an unfamiliar network)" in text_of(from_signals)
    assert "Block high risk Report-only Sign-in risk: low is not included" in rows(from_signals, "skipped")
    assert "Block high risk Report-only Block access Report-only: would block" in rows(chosen, "applied")


def test_a_disabled_account_is_pointed_out(patti_browser, org, policies):
    from watchword.directory.services import set_enabled

    set_enabled(org.adele, False, actor="cli")

    assert "This account is disabled: the sign-in would fail at the password (code 50057)" in text_of(
        ask(patti_browser, app=org.wiki.client_id))


@pytest.mark.parametrize("values, field, message", [
    ({"user": ""}, "user", "Type the sign-in name of the person signing in."),
    ({"user": "nobody@contoso.example"}, "user", "There is no one with the sign-in name 'nobody@contoso.example'."),
    ({"ip": "10.0.0.300"}, "ip", "'10.0.0.300' is not an IP address."),
    ({"app": "SomeOtherApp"}, "app", "Choose an application from the list."),
    ({"client": "telnet"}, "client", "Choose a client app from the list."),
    ({"risk": "extreme"}, "risk", "Choose a risk level from the list."),
], ids=["no-user", "unknown-user", "ip", "app", "client", "risk"])
def test_each_mistake_is_shown_on_its_input(patti_browser, org, values, field, message):
    response = ask(patti_browser, **values)

    assert response.status_code == 400
    assert field_error(response, field) == message
    assert 'id="result"' not in page(response)
