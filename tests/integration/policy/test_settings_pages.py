"""Admin → Security's settings pages: Security Defaults (and its conflict with enabled Conditional
Access policies), named locations, authentication strengths, the authentication-methods policy
and the MFA settings. Who may open them; each bad value named next to its field (a range by its
line) with nothing saved; each change saved, audited and confirmed; a location or strength in use
kept."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from watchword.audit.models import AuditEvent
from watchword.directory.groups import create_group
from watchword.policy import services
from watchword.policy.mfa_settings import NUMBERS
from watchword.policy.models import AuthenticationStrength, ConditionalAccessPolicy, NamedLocation
from watchword.policy.services import current_settings, save_location, save_policy, save_strength
from watchword.policy.settings_forms import COMBINATION_LABELS
from watchword.policy.strengths import (
    FACTOR_CALL,
    FACTOR_CODE,
    FACTOR_PUSH,
    FACTOR_TEXT,
    KNOWN_COMBINATIONS,
    PHISHING_RESISTANT_MFA,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    """The compiled configuration is cached by version number, which every test's database
    starts again from; a cache left by another test would be taken for this one's."""
    services.forget_cache()
    yield
    services.forget_cache()


# --- people, browsers, pages ---------------------------------------------------------------------

@pytest.fixture
def patti(make_person):
    """Patti Fernandez, a Security Administrator."""
    return make_person("Patti Fernandez", role="security_admin")


@pytest.fixture
def browser_of(sign_in):
    def signed_in(person) -> Client:
        client = Client()
        response = sign_in.password(client, person.upn)
        assert response.status_code == 302, page(response)[:500]
        return client

    return signed_in


@pytest.fixture
def patti_browser(browser_of, patti):
    return browser_of(patti)


@pytest.fixture
def groups():
    """Finance, Field engineers and Contractors (by name → id as a string)."""
    return {name: str(create_group({"name": name}, actor="cli").pk)
            for name in ("Finance", "Field engineers", "Contractors")}


def page(response) -> str:
    return html.unescape(response.content.decode())


def words(fragment: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", fragment).split())


def field_error(response, field: str) -> str:
    match = re.search(rf'<div id="id_{field}_error" role="alert">(.*?)</div>', page(response), re.S)
    return words(match.group(1)) if match else ""


def messages_of(response) -> str:
    match = re.search(r'<div class="messages" role="status">(.*?)</div>', page(response), re.S)
    return words(match.group(1)) if match else ""


def audited(action: str, actor) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action, actor=actor))


def policy_document(name: str, *, state: str = "enabled", locations: dict | None = None,
                    strength: str | None = None) -> dict:
    """A Conditional Access policy as an administrator saves it: everyone, every application."""
    conditions = {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]}}
    if locations is not None:
        conditions["locations"] = locations
    grant = {"operator": "OR", "authenticationStrength": {"id": strength}} if strength else {
        "operator": "OR", "builtInControls": ["mfa"]}
    return {"displayName": name, "state": state, "conditions": conditions, "grantControls": grant}


# --- who may open the pages ----------------------------------------------------------------------

PAGES = ["/admin/security/defaults", "/admin/security/locations", "/admin/security/locations/new",
         "/admin/security/locations/{location}", "/admin/security/locations/{location}/delete",
         "/admin/security/strengths", "/admin/security/strengths/new", "/admin/security/strengths/{strength}",
         "/admin/security/strengths/{strength}/delete", "/admin/security/methods", "/admin/security/settings"]


@pytest.fixture
def saved_things():
    location = save_location(name="Head office", ranges=["203.0.113.0/24"], trusted=True, actor="cli")
    strength = save_strength(name="Authenticator app only", combinations=[FACTOR_PUSH, FACTOR_CODE], actor="cli")
    return {"location": location.pk, "strength": strength.pk}


@pytest.mark.parametrize("template", PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, saved_things, template):
    response = client.get(template.format(**saved_things))

    assert response.status_code == 302 and response["Location"].startswith("/signin?next=")


@pytest.mark.parametrize("template", PAGES)
def test_an_ordinary_user_gets_403(browser_of, adele, saved_things, template):
    assert browser_of(adele).get(template.format(**saved_things)).status_code == 403


@pytest.mark.parametrize("template", PAGES)
def test_an_authentication_administrator_gets_403(browser_of, alex, saved_things, template):
    assert browser_of(alex).get(template.format(**saved_things)).status_code == 403


@pytest.mark.parametrize("template", PAGES)
def test_a_security_administrator_opens_every_page(patti_browser, saved_things, template):
    response = patti_browser.get(template.format(**saved_things))

    assert response.status_code == 200
    assert 'href="/admin/security" aria-current="page"' in page(response)


@pytest.mark.parametrize("template", PAGES)
def test_a_global_administrator_opens_every_page(browser_of, megan, saved_things, template):
    assert browser_of(megan).get(template.format(**saved_things)).status_code == 200


def test_an_authentication_administrator_cannot_change_anything(browser_of, alex, saved_things):
    client = browser_of(alex)

    responses = [client.post("/admin/security/defaults", {"enabled": "yes"}),
                 client.post("/admin/security/locations/new", {"name": "Branch", "ranges": "198.51.100.0/24"}),
                 client.post(f"/admin/security/locations/{saved_things['location']}/delete"),
                 client.post(f"/admin/security/strengths/{saved_things['strength']}/delete"),
                 client.post("/admin/security/settings", settings_form(remember_mfa_days="30"))]

    assert [r.status_code for r in responses] == [403] * 5
    assert not current_settings().security_defaults and current_settings().remember_mfa_days == 0
    assert NamedLocation.objects.count() == 1 and AuthenticationStrength.objects.count() == 1


def test_a_built_in_strength_or_an_unknown_location_is_not_found(patti_browser):
    assert patti_browser.get(f"/admin/security/strengths/{PHISHING_RESISTANT_MFA.id}").status_code == 404
    assert patti_browser.get("/admin/security/locations/6f1c1d1e-0000-4000-8000-000000000000").status_code == 404


# --- Security Defaults ---------------------------------------------------------------------------

def test_the_security_defaults_page_says_what_it_does(patti_browser):
    text = words(page(patti_browser.get("/admin/security/defaults")))

    assert "Security Defaults is off" in text
    assert "people without a sign-in method have 14 days to set up the Watchword Authenticator app" in text
    assert "Administrators: MFA at every sign-in" in text and "anyone opening the admin pages" in text
    assert "a network they haven't signed in from in the last 30 days" in text
    assert "a browser that hasn't done MFA for them in the last 30 days" in text
    assert "Password-only clients are blocked" in text


def test_a_security_administrator_turns_security_defaults_on(patti_browser, patti):
    response = patti_browser.post("/admin/security/defaults", {"enabled": "yes"}, follow=True)

    assert messages_of(response).startswith("Security Defaults is on.")
    assert current_settings().security_defaults
    [event] = audited("policy.security_defaults", patti)
    assert event.after == {"security_defaults": True}


def test_security_defaults_is_turned_off_again(patti_browser, patti):
    patti_browser.post("/admin/security/defaults", {"enabled": "yes"}, follow=True)

    response = patti_browser.post("/admin/security/defaults", {"enabled": "no"}, follow=True)

    assert messages_of(response).startswith("Security Defaults is off.")
    assert not current_settings().security_defaults
    assert [e.after for e in audited("policy.security_defaults", patti)] == [{"security_defaults": False},
                                                                             {"security_defaults": True}]


def test_security_defaults_is_refused_while_a_policy_is_on_naming_it(patti_browser, patti, megan):
    save_policy(policy_document("Require MFA for everyone"), actor=megan)

    response = patti_browser.post("/admin/security/defaults", {"enabled": "yes"})

    assert response.status_code == 409
    error = field_error(response, "enabled")
    assert "Security Defaults can't be turned on while Conditional Access policies are on" in error
    assert "'Require MFA for everyone'" in error
    assert not current_settings().security_defaults and not audited("policy.security_defaults", patti)
    assert ConditionalAccessPolicy.objects.get().state == "enabled"


def test_the_page_names_the_enabled_policies_before_anyone_tries(patti_browser, megan):
    save_policy(policy_document("Require MFA for everyone"), actor=megan)
    save_policy(policy_document("Report on guests", state="enabledForReportingButNotEnforced"), actor=megan)

    text = words(page(patti_browser.get("/admin/security/defaults")))

    assert "This Conditional Access policy is on: Require MFA for everyone." in text
    assert "Report on guests" not in text


def test_security_defaults_is_not_switched_by_a_post_without_the_csrf_token(patti):
    client = Client(enforce_csrf_checks=True)
    client.force_login(patti, backend="watchword.directory.backends.DirectoryBackend")
    form = page(client.get("/admin/security/defaults"))
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)

    assert client.post("/admin/security/defaults", {"enabled": "yes"}).status_code == 403
    assert not current_settings().security_defaults
    assert client.post("/admin/security/defaults", {"enabled": "yes", "csrfmiddlewaretoken": token}).status_code == 302
    assert current_settings().security_defaults


def test_security_defaults_needs_a_yes_or_a_no(patti_browser):
    response = patti_browser.post("/admin/security/defaults", {})

    assert response.status_code == 400 and field_error(response, "enabled") == "Choose Yes or No."


# --- named locations -----------------------------------------------------------------------------

def test_named_locations_are_listed_with_trust_and_range_count(patti_browser):
    save_location(name="Head office", ranges=["203.0.113.0/24", "2001:db8:10::/48"], trusted=True, actor="cli")
    save_location(name="Leeds branch", ranges=["198.51.100.0/24"], trusted=False, actor="cli")

    text = words(page(patti_browser.get("/admin/security/locations")))

    assert "Head office Yes 2" in text and "Leeds branch No 1" in text


def test_a_named_location_is_added_from_one_range_per_line(patti_browser, patti):
    response = patti_browser.post("/admin/security/locations/new", {
        "name": "Head office", "ranges": "203.0.113.0/24\r\n\r\n  2001:db8:10::/48  \r\n", "trusted": "on"},
        follow=True)

    assert messages_of(response) == "Saved: named location Head office (2 ranges)."
    location = NamedLocation.objects.get()
    assert (location.display_name, location.ranges, location.trusted) == (
        "Head office", ["203.0.113.0/24", "2001:db8:10::/48"], True)
    [event] = audited("policy.location.create", patti)
    assert event.target_id == str(location.pk)


@pytest.mark.parametrize(("ranges", "expected"), [
    ("203.0.113.0/24\n\n10.1.2.300/24", "Line 3: '10.1.2.300/24' is not an IP address or range"),
    ("203.0.113.0/24\n10.1.2.3/16", "Line 2: '10.1.2.3/16' has host bits set: the range starts at 10.1.0.0/16."),
    ("10.1.0.0/16\n203.0.113.0/24\n10.1.4.0/24", "Line 3: 10.1.0.0/16 and 10.1.4.0/24 overlap"),
    ("198.51.100.0/24\n10.0.0.0/8", "Line 2: 10.0.0.0/8 is too wide: an IPv4 range must be /9 or narrower."),
    ("2000::/12", "Line 1: 2000::/12 is too wide: an IPv6 range must be /16 or narrower."),
    ("", "A named location needs at least one IP range."),
])
def test_a_bad_range_is_named_by_its_line_and_nothing_is_saved(patti_browser, patti, ranges, expected):
    response = patti_browser.post("/admin/security/locations/new", {"name": "Head office", "ranges": ranges})

    assert response.status_code == 400
    assert field_error(response, "ranges").startswith(expected)
    assert "Nothing was saved" in page(response)
    assert not NamedLocation.objects.exists() and not audited("policy.location.create", patti)


def test_a_second_location_of_the_same_name_is_refused_on_the_name(patti_browser):
    save_location(name="Head office", ranges=["203.0.113.0/24"], trusted=True, actor="cli")

    response = patti_browser.post("/admin/security/locations/new", {"name": "head office", "ranges": "198.51.100.0/24"})

    assert field_error(response, "name") == "There is already a location called 'head office'."
    assert NamedLocation.objects.count() == 1


def test_a_named_location_is_edited(patti_browser, patti):
    location = save_location(name="Head office", ranges=["203.0.113.0/24"], trusted=True, actor="cli")
    form = page(patti_browser.get(f"/admin/security/locations/{location.pk}"))
    assert "203.0.113.0/24</textarea>" in form and re.search(r'name="trusted"[^>]*checked', form)

    response = patti_browser.post(f"/admin/security/locations/{location.pk}",
                                  {"name": "Head office (London)", "ranges": "203.0.113.0/24\n203.0.114.0/24"},
                                  follow=True)

    assert messages_of(response).startswith("Saved: named location Head office (London)")
    location.refresh_from_db()
    assert (location.display_name, location.ranges, location.trusted) == (
        "Head office (London)", ["203.0.113.0/24", "203.0.114.0/24"], False)
    [event] = audited("policy.location.update", patti)
    assert event.before["ranges"] == ["203.0.113.0/24"]


def test_an_unused_location_is_deleted(patti_browser, patti):
    location = save_location(name="Leeds branch", ranges=["198.51.100.0/24"], trusted=False, actor="cli")

    response = patti_browser.post(f"/admin/security/locations/{location.pk}/delete", follow=True)

    assert messages_of(response) == "Deleted: named location Leeds branch."
    assert not NamedLocation.objects.exists() and len(audited("policy.location.delete", patti)) == 1


def test_a_location_a_policy_uses_is_not_deleted(patti_browser, patti, megan):
    location = save_location(name="Head office", ranges=["203.0.113.0/24"], trusted=True, actor="cli")
    save_policy(policy_document("MFA outside the office", locations={"includeLocations": ["All"],
                                                                     "excludeLocations": [str(location.pk)]}),
                actor=megan)

    response = patti_browser.post(f"/admin/security/locations/{location.pk}/delete")

    assert response.status_code == 409
    assert "'Head office' is used by 'MFA outside the office'; remove it from those policies first." in page(response)
    assert NamedLocation.objects.filter(pk=location.pk).exists() and not audited("policy.location.delete", patti)


def test_the_delete_page_of_a_location_in_use_says_so_without_a_delete_button(patti_browser, megan):
    location = save_location(name="Head office", ranges=["203.0.113.0/24"], trusted=True, actor="cli")
    save_policy(policy_document("MFA outside the office", locations={"includeLocations": ["All"],
                                                                     "excludeLocations": [str(location.pk)]}),
                actor=megan)

    text = page(patti_browser.get(f"/admin/security/locations/{location.pk}/delete"))

    assert "Head office is used by MFA outside the office." in words(text)
    assert "Delete location</button>" not in text


# --- authentication strengths --------------------------------------------------------------------

def test_the_built_in_strengths_are_listed_in_words_with_the_passkey_note(patti_browser):
    text = words(page(patti_browser.get("/admin/security/strengths")))

    mfa, _, rest = text.partition("Passwordless MFA Passkeys")
    assert ("Password + Authenticator notification Password + Authenticator code Password + text message "
            "Password + voice call") in mfa
    assert "Also listed, not available in Watchword yet: Password + hardware token code; Passkey" in mfa
    assert "Phishing-resistant MFA Passkeys and certificates bound to the site." in rest
    assert rest.count("Not available in Watchword yet Its combinations: Passkey (FIDO2 security key)") == 2
    assert "need passkeys (or similar), which Watchword does not have yet" in text


def test_every_combination_a_strength_may_list_has_words():
    assert set(COMBINATION_LABELS) == KNOWN_COMBINATIONS


def test_the_strength_form_offers_combinations_in_words_grouped(patti_browser):
    text = words(page(patti_browser.get("/admin/security/strengths/new")))

    available, _, later = text.partition("Not available in Watchword yet")
    for label in ("Password + Authenticator notification", "Password + Authenticator code",
                  "Password + text message", "Password + voice call"):
        assert label in available and label not in later
    assert "Password + hardware token code" in later and "Temporary Access Pass (one-time use)" in later


def test_a_custom_strength_is_added(patti_browser, patti):
    response = patti_browser.post("/admin/security/strengths/new", {
        "name": "Authenticator app only", "description": "For the finance system.",
        "combinations": [FACTOR_PUSH, FACTOR_CODE]}, follow=True)

    assert messages_of(response) == "Saved: authentication strength Authenticator app only."
    strength = AuthenticationStrength.objects.get()
    assert strength.combinations == sorted([FACTOR_PUSH, FACTOR_CODE])
    assert strength.description == "For the finance system."
    assert "Password + Authenticator notification; Password + Authenticator code" in words(page(response))
    assert len(audited("policy.strength.create", patti)) == 1


@pytest.mark.parametrize(("data", "field", "expected"), [
    ({"name": "Phone only"}, "combinations", "Choose at least one allowed combination of methods."),
    ({"name": "Phone only", "combinations": [FACTOR_TEXT, "carrierPigeon"]}, "combinations",
     "'carrierPigeon' is not a combination Watchword knows."),
    ({"name": "Phishing-resistant MFA", "combinations": [FACTOR_PUSH]}, "name",
     "That is the name of a built-in strength."),
    ({"name": "", "combinations": [FACTOR_PUSH]}, "name", "Give the strength a name of at most 128 characters."),
])
def test_a_bad_strength_is_refused_on_its_field(patti_browser, patti, data, field, expected):
    response = patti_browser.post("/admin/security/strengths/new", data)

    assert response.status_code == 400 and field_error(response, field) == expected
    assert not AuthenticationStrength.objects.exists() and not audited("policy.strength.create", patti)


def test_a_custom_strength_is_edited(patti_browser, patti):
    strength = save_strength(name="Phone", combinations=[FACTOR_TEXT], actor="cli")
    form = page(patti_browser.get(f"/admin/security/strengths/{strength.pk}"))
    assert re.search(rf'value="{re.escape(FACTOR_TEXT)}"[^>]*checked', form)

    patti_browser.post(f"/admin/security/strengths/{strength.pk}",
                       {"name": "Phone", "combinations": [FACTOR_TEXT, FACTOR_CALL]})

    strength.refresh_from_db()
    assert strength.combinations == sorted([FACTOR_TEXT, FACTOR_CALL])
    assert len(audited("policy.strength.update", patti)) == 1


def test_a_strength_a_policy_requires_is_not_deleted(patti_browser, patti, megan):
    strength = save_strength(name="Authenticator app only", combinations=[FACTOR_PUSH], actor="cli")
    save_policy(policy_document("Finance system", strength=str(strength.pk)), actor=megan)

    response = patti_browser.post(f"/admin/security/strengths/{strength.pk}/delete")

    assert response.status_code == 409 and "is used by 'Finance system'" in page(response)
    assert AuthenticationStrength.objects.filter(pk=strength.pk).exists()
    assert not audited("policy.strength.delete", patti)


def test_an_unused_strength_is_deleted(patti_browser, patti):
    strength = save_strength(name="Phone", combinations=[FACTOR_TEXT], actor="cli")

    response = patti_browser.post(f"/admin/security/strengths/{strength.pk}/delete", follow=True)

    assert messages_of(response) == "Deleted: authentication strength Phone."
    assert not AuthenticationStrength.objects.exists() and len(audited("policy.strength.delete", patti)) == 1


# --- the authentication-methods policy -----------------------------------------------------------

def methods_form(**overrides) -> dict:
    """The methods page as it comes: every method on for all users, no exclusions."""
    values = {"authenticator_show_app_name": "on", "authenticator_show_location": "on", "text_allowed_countries": "",
              "voice_office_phone": "on"}
    for prefix in ("authenticator", "codes", "text", "voice"):
        values.update({f"{prefix}_state": "enabled", f"{prefix}_target": "all"})
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def test_the_methods_page_shows_each_method_with_number_matching_always_on(patti_browser):
    text = words(page(patti_browser.get("/admin/security/methods")))

    for title in ("Authenticator app notifications", "Authenticator codes", "Text message", "Voice call"):
        assert title in text
    assert "Number matching: always on." in text
    assert "Show application name" in text and "Show geographic location" in text
    assert "Allowed countries" in text and "Allow office phone" in text


def test_the_methods_policy_is_saved(patti_browser, patti, groups):
    response = patti_browser.post("/admin/security/methods", methods_form(
        codes_target="groups", codes_include_groups=[groups["Finance"], groups["Field engineers"]],
        codes_exclude_groups=[groups["Contractors"]], text_allowed_countries="gb, US",
        authenticator_show_location=None, voice_state="disabled", voice_office_phone=None), follow=True)

    assert messages_of(response).startswith("Saved.")
    stored = current_settings().methods_policy
    assert stored["softwareOath"] == {"state": "enabled", "excludeGroups": [groups["Contractors"]],
                                      "includeGroups": sorted([groups["Finance"], groups["Field engineers"]])}
    assert stored["sms"]["allowedCountries"] == ["GB", "US"]
    assert stored["microsoftAuthenticator"]["showLocation"] is False
    assert stored["microsoftAuthenticator"]["showAppName"] is True
    assert stored["voice"] == {"state": "disabled", "includeGroups": ["all"], "excludeGroups": [],
                               "isOfficePhoneAllowed": False}
    [event] = audited("policy.methods_policy", patti)
    assert event.after == stored


def test_the_saved_methods_policy_is_shown_again(patti_browser, groups):
    patti_browser.post("/admin/security/methods", methods_form(
        text_target="groups", text_include_groups=[groups["Field engineers"]], text_allowed_countries="GB"))

    form = page(patti_browser.get("/admin/security/methods"))

    assert re.search(r'value="groups"[^>]*id="id_text_target_1"[^>]*checked', form)
    assert re.search(rf'name="text_include_groups" value="{groups["Field engineers"]}"[^>]*checked', form)
    assert 'value="GB"' in form


@pytest.mark.parametrize(("overrides", "field", "expected"), [
    ({"text_allowed_countries": "GB, XX"}, "text_allowed_countries",
     "'XX' is not a country code (like GB, US, DE)."),
    ({"voice_target": "groups", "voice_include_groups": ["999999"]}, "voice_include_groups",
     "There is no group '999999'."),
    ({"authenticator_exclude_groups": ["999999"]}, "authenticator_exclude_groups", "There is no group '999999'."),
    ({"codes_target": "groups"}, "codes_include_groups", "Choose who may use it: all users, or groups."),
    ({"text_state": None}, "text_state", "Choose Yes or No."),
])
def test_a_bad_methods_policy_is_refused_on_its_field(patti_browser, patti, groups, overrides, field, expected):
    response = patti_browser.post("/admin/security/methods", methods_form(**overrides))

    assert response.status_code == 400 and field_error(response, field) == expected
    assert current_settings().methods_policy == {} and not audited("policy.methods_policy", patti)


def test_every_wrong_method_setting_is_shown_at_once(patti_browser, groups):
    response = patti_browser.post("/admin/security/methods", methods_form(
        text_allowed_countries="Britain", voice_exclude_groups=["999999"]))

    assert field_error(response, "text_allowed_countries") == "'Britain' is not a country code (like GB, US, DE)."
    assert field_error(response, "voice_exclude_groups") == "There is no group '999999'."
    summary = words(page(response).split('id="error-summary"')[1].split("</div>")[0])
    assert "Text message: Allowed countries" in summary and "Voice call: Excluded groups" in summary


# --- MFA settings --------------------------------------------------------------------------------

def settings_form(**overrides) -> dict:
    """The MFA settings page as it comes with the defaults."""
    values = {"remember_mfa_days": "0", "mfa_trusted_ips": "", "lockout_threshold": "20", "lockout_seconds": "1",
              "fraud_block_days": "90", "campaign_snooze_days": "1", "campaign_snoozes_allowed": "3",
              "campaign_enforce": "on"}
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def test_the_settings_page_explains_each_setting(patti_browser):
    text = words(page(patti_browser.get("/admin/security/settings")))

    for heading in ("Remember MFA", "MFA trusted IPs", "Smart lockout", "Fraud reports", "Registration campaign"):
        assert heading in text
    assert "0 turns it off. From 0 to 365." in text
    assert "skip per-user MFA" in text and "At most 50 ranges." in text


def test_the_mfa_settings_are_saved(patti_browser, patti, groups):
    response = patti_browser.post("/admin/security/settings", settings_form(
        remember_mfa_days="30", mfa_trusted_ips="192.168.50.0/24\n2001:db8:50::/48", lockout_threshold="5",
        lockout_seconds="30", fraud_block_days="30", campaign_enabled="on", campaign_snooze_days="7",
        campaign_snoozes_allowed="2", campaign_enforce=None, campaign_include_groups=[groups["Field engineers"]],
        campaign_exclude_groups=[groups["Contractors"]]), follow=True)

    assert messages_of(response).startswith("Saved.")
    row = current_settings()
    assert (row.remember_mfa_days, row.lockout_threshold, row.lockout_seconds, row.fraud_block_days) == (30, 5, 30, 30)
    assert row.mfa_trusted_ips == ["192.168.50.0/24", "2001:db8:50::/48"]
    assert (row.campaign_enabled, row.campaign_snooze_days, row.campaign_snoozes_allowed, row.campaign_enforce) == (
        True, 7, 2, False)
    assert (row.campaign_include_groups, row.campaign_exclude_groups) == ([groups["Field engineers"]],
                                                                           [groups["Contractors"]])
    [event] = audited("policy.mfa_settings", patti)
    assert event.after["remember_mfa_days"] == 30 and "fraud_block_days" in event.before


def test_the_saved_settings_are_shown_again(patti_browser):
    patti_browser.post("/admin/security/settings", settings_form(remember_mfa_days="14",
                                                                 mfa_trusted_ips="192.168.50.0/24"))

    form = page(patti_browser.get("/admin/security/settings"))

    assert 'name="remember_mfa_days" value="14"' in form and ">\n192.168.50.0/24</textarea>" in form


def out_of_range(name: str) -> str:
    low, high, label = NUMBERS[name]
    return f"{label} must be a whole number from {low} to {high}."


@pytest.mark.parametrize(("field", "value"), [
    ("remember_mfa_days", "366"), ("remember_mfa_days", "-1"), ("remember_mfa_days", "ten"),
    ("remember_mfa_days", "\u00b2"), ("remember_mfa_days", "1e2"),
    ("lockout_threshold", "0"), ("lockout_threshold", str(NUMBERS["lockout_threshold"][1] + 1)),
    ("lockout_seconds", str(NUMBERS["lockout_seconds"][1] + 1)), ("fraud_block_days", ""),
    ("fraud_block_days", "3651"), ("campaign_snooze_days", "15"), ("campaign_snoozes_allowed", "21"),
])
def test_an_out_of_range_number_is_refused_on_its_field(patti_browser, patti, field, value):
    form = {**settings_form(remember_mfa_days="30", fraud_block_days="30"), field: value}

    response = patti_browser.post("/admin/security/settings", form)

    assert response.status_code == 400 and field_error(response, field) == out_of_range(field)
    row = current_settings()
    assert (row.remember_mfa_days, row.fraud_block_days) == (0, 90) and not audited("policy.mfa_settings", patti)


@pytest.mark.parametrize(("ranges", "expected"), [
    ("192.168.50.0/24\n192.168.50.300", "Line 2: '192.168.50.300' is not an IP address or range"),
    ("192.168.50.0/24\n\n192.168.50.128/25", "Line 3: 192.168.50.0/24 and 192.168.50.128/25 overlap"),
    ("10.0.0.0/8", "Line 1: 10.0.0.0/8 is too wide"),
    ("\n".join(f"192.168.{n}.0/24" for n in range(51)), "At most 50 IP ranges are allowed here; there are 51."),
])
def test_bad_mfa_trusted_ips_are_refused_and_nothing_is_saved(patti_browser, patti, ranges, expected):
    response = patti_browser.post("/admin/security/settings", settings_form(remember_mfa_days="30",
                                                                            mfa_trusted_ips=ranges))

    assert response.status_code == 400 and field_error(response, "mfa_trusted_ips").startswith(expected)
    row = current_settings()
    assert row.mfa_trusted_ips == [] and row.remember_mfa_days == 0 and not audited("policy.mfa_settings", patti)


def test_fifty_mfa_trusted_ips_are_allowed(patti_browser):
    ranges = "\n".join(f"192.168.{n}.0/24" for n in range(50))

    patti_browser.post("/admin/security/settings", settings_form(mfa_trusted_ips=ranges))

    assert len(current_settings().mfa_trusted_ips) == 50


def test_an_unknown_campaign_group_is_refused(patti_browser, patti, groups):
    response = patti_browser.post("/admin/security/settings", settings_form(
        campaign_enabled="on", campaign_include_groups=[groups["Finance"], "999999"]))

    assert field_error(response, "campaign_include_groups") == "There is no group '999999'."
    assert not current_settings().campaign_enabled and not audited("policy.mfa_settings", patti)


def test_every_wrong_setting_is_shown_at_once_and_linked_to_its_input(patti_browser):
    response = patti_browser.post("/admin/security/settings", settings_form(
        remember_mfa_days="400", lockout_threshold="0", mfa_trusted_ips="not-a-network"))

    text = page(response)
    assert field_error(response, "remember_mfa_days") and field_error(response, "lockout_threshold")
    assert field_error(response, "mfa_trusted_ips").startswith("Line 1:")
    assert re.search(r'name="remember_mfa_days"[^>]*aria-invalid="true"[^>]*'
                     r'aria-describedby="id_remember_mfa_days_helptext id_remember_mfa_days_error"', text)
    assert 'href="#id_lockout_threshold">Smart lockout threshold (wrong passwords)</a>' in text
