"""Admin → Security → Conditional Access: who may open the pages, the overview and the list,
creating and editing each kind of assignment, condition and control (stored in Graph's shape),
every validation error next to its input with nothing saved, the lockout confirmation, the
conflict with Security Defaults, the quick state switch, deleting, importing and exporting — and
the sign-in log showing each policy's part in a sign-in."""

from __future__ import annotations

import json
import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.utils import timezone

from tests.integration.policy.conftest import field_error, page, text_of
from tests.support import SignIn
from watchword.audit.models import AuditEvent, SignInEvent
from watchword.policy import document as doc
from watchword.policy import services
from watchword.policy.models import ConditionalAccessPolicy
from watchword.policy.strengths import MFA, PHISHING_RESISTANT_MFA

pytestmark = pytest.mark.django_db

NEW = "/admin/security/policies/new"
REPORT_ONLY = "enabledForReportingButNotEnforced"
GLOBAL_ADMIN_ROLE = "62e90394-69f5-4237-9190-012177145e10"


def form(**values) -> dict:
    """The policy form as an administrator fills it in: everyone, every application, require
    MFA, report-only. ``None`` leaves an input out (an unticked box)."""
    data = {"name": "Require MFA for everyone", "state": REPORT_ONLY, "users_mode": "all", "target_mode": "all",
            "platforms_mode": "any", "locations_mode": "any", "grant_mode": "grant", "require_mfa": "on",
            "operator": "OR", "frequency_mode": "", "frequency_value": "", "frequency_unit": "hours",
            "persistent_browser": "", "strength": "", "include_users": "", "exclude_users": ""}
    data.update(values)
    return {key: value for key, value in data.items() if value is not None}


def stored() -> dict:
    return ConditionalAccessPolicy.objects.get().document


def policy_doc(name: str = "Require MFA", *, state: str = REPORT_ONLY, users=None, apps=None, grant=None,
               **conditions) -> dict:
    return {"displayName": name, "state": state,
            "conditions": {"users": users or {"includeUsers": ["All"]},
                           "applications": apps or {"includeApplications": ["All"]}, **conditions},
            "grantControls": grant or {"operator": "OR", "builtInControls": ["mfa"]}}


def save(document: dict, *, confirm: bool = False) -> ConditionalAccessPolicy:
    return services.save_policy(document, actor="cli", confirm=confirm)[0]


def policy_page(policy) -> str:
    return f"/admin/security/policies/{policy.pk}"


# --- who may open the pages ----------------------------------------------------------------

PAGES = ["/admin/security", "/admin/security/policies", NEW, "/admin/security/policies/import",
         "/admin/security/policies/export", "/admin/security/policies/{p}", "/admin/security/policies/{p}/delete",
         "/admin/security/whatif"]


@pytest.fixture
def existing(org):
    return save(policy_doc("Existing policy"))


@pytest.mark.parametrize("template", PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, existing, template):
    response = client.get(template.format(p=existing.pk))

    assert response.status_code == 302 and response["Location"].startswith("/signin?next=")


@pytest.mark.parametrize("who", ["adele", "alex"])
@pytest.mark.parametrize("template", PAGES)
def test_ordinary_staff_and_authentication_administrators_are_refused(org, browser, existing, who, template):
    response = browser(getattr(org, who)).get(template.format(p=existing.pk))

    assert response.status_code == 403


@pytest.mark.parametrize("template", PAGES)
def test_a_security_administrator_may_open_every_page(patti_browser, existing, template):
    response = patti_browser.get(template.format(p=existing.pk))

    assert response.status_code == 200


def test_an_authentication_administrator_cannot_change_a_policys_state(org, browser, existing):
    response = browser(org.alex).post(f"{policy_page(existing)}/state", {"state": "disabled"})

    existing.refresh_from_db()
    assert (response.status_code, existing.state) == (403, REPORT_ONLY)


def test_the_security_section_is_in_the_admin_menu_for_policy_administrators_only(org, browser):
    assert 'href="/admin/security"' in page(browser(org.patti).get("/admin/users"))
    assert 'href="/admin/security"' not in page(browser(org.alex).get("/admin/users"))


# --- overview and list ---------------------------------------------------------------------

@pytest.fixture
def three_policies(org):
    """On, report-only and off, with different assignments and controls."""
    legacy = save(policy_doc("Block legacy clients", state="enabled", clientAppTypes=["other"],
                             grant={"operator": "OR", "builtInControls": ["block"]}), confirm=True)
    sales = save(policy_doc("MFA for Sales", users={"includeGroups": [str(org.sales.pk)],
                                                    "excludeUsers": [str(org.adele.pk)]},
                            apps={"includeApplications": [org.wiki.client_id]}))
    vpn = save({**policy_doc("Strong MFA for the VPN", state="disabled",
                             users={"includeRoles": ["security_admin"]}, apps={"includeApplications": [org.vpn]},
                             grant={"operator": "OR", "authenticationStrength": {"id": PHISHING_RESISTANT_MFA.id}}),
                "sessionControls": {"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime"}}})
    return legacy, sales, vpn


def test_the_overview_counts_policies_by_state_and_links_every_security_page(patti_browser, three_policies):
    response = patti_browser.get("/admin/security")

    text = text_of(response)
    assert "Security Defaults Off" in text
    assert "On 1 Report-only 1 Off 1" in text
    for address in ("/admin/security/defaults", "/admin/security/policies", "/admin/security/locations",
                    "/admin/security/strengths", "/admin/security/methods", "/admin/security/settings",
                    "/admin/security/whatif"):
        assert f'href="{address}"' in page(response)


def test_the_overview_says_when_security_defaults_is_on(patti_browser, org):
    services.set_security_defaults(True, actor="cli")

    assert "Security Defaults On" in text_of(patti_browser.get("/admin/security"))


def test_the_list_shows_each_policy_with_its_state_who_target_and_controls(patti_browser, three_policies):
    text = text_of(patti_browser.get("/admin/security/policies"))

    assert "Block legacy clients On All users All applications Block access" in text
    assert ("MFA for Sales Report-only Sales; excluding adele.vance@contoso.example Team wiki (OpenID Connect) "
            "Require MFA") in text
    assert ("Strong MFA for the VPN Off Security Administrator vpn (RADIUS) Require authentication strength "
            "'Phishing-resistant MFA'; sign in again every time") in text


def test_the_list_offers_new_import_and_export(patti_browser, org):
    html = page(patti_browser.get("/admin/security/policies"))

    assert 'href="/admin/security/policies/new"' in html
    assert 'href="/admin/security/policies/import"' in html
    assert 'href="/admin/security/policies/export"' in html
    assert "No Conditional Access policies yet." in html


@pytest.fixture
def unreadable(org):
    """A stored policy the current rules no longer accept (saved before a rule was added)."""
    now = timezone.now()
    document = {"displayName": "Old rules", "state": REPORT_ONLY, "conditions": {
        "users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]}, "times": {"x": 1}},
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
    services.forget_cache()
    return ConditionalAccessPolicy.objects.create(display_name="Old rules", state=REPORT_ONLY, document=document,
                                                  created_at=now, modified_at=now)


def test_a_policy_that_can_no_longer_be_read_is_pointed_out_everywhere(patti_browser, unreadable):
    listed = text_of(patti_browser.get("/admin/security/policies"))
    opened = text_of(patti_browser.get(policy_page(unreadable)))
    overview = text_of(patti_browser.get("/admin/security"))

    assert "Old rules Report-only This policy can no longer be read: 'times' is not a field Watchword knows" in listed
    assert "(at conditions.times) Until it is corrected and saved, everyone is asked for MFA" in opened
    assert "Old rules can no longer be read, so everyone is asked for MFA until it is fixed." in overview


# --- creating ------------------------------------------------------------------------------

def test_a_new_policy_starts_as_report_only(patti_browser, org):
    html = page(patti_browser.get(NEW))

    assert 'name="state" value="enabledForReportingButNotEnforced" id="id_state_0" checked' in html


def test_creating_a_policy_stores_it_in_graphs_shape_and_opens_it(patti_browser, org):
    response = patti_browser.post(NEW, form())

    policy = ConditionalAccessPolicy.objects.get()
    assert response.status_code == 302 and response["Location"] == policy_page(policy)
    assert policy.document == {"displayName": "Require MFA for everyone", "state": REPORT_ONLY,
                               "conditions": {"users": {"includeUsers": ["All"]},
                                              "applications": {"includeApplications": ["All"]}},
                               "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}
    created = AuditEvent.objects.get(action="policy.create")
    assert created.actor_label == org.patti.upn


def test_people_typed_by_sign_in_name_groups_and_roles_are_stored_by_id(patti_browser, org):
    patti_browser.post(NEW, form(
        users_mode="some", include_users="Adele.Vance@contoso.example, lee.gu@contoso.example\n",
        include_groups=[str(org.sales.pk)], include_roles=["global_admin"],
        exclude_users=f"{org.megan.upn}\n", exclude_groups=[str(org.finance.pk)], exclude_roles=["security_admin"]))

    assert stored()["conditions"]["users"] == {
        "includeUsers": [str(org.adele.pk), str(org.lee.pk)], "excludeUsers": [str(org.megan.pk)],
        "includeGroups": [str(org.sales.pk)], "excludeGroups": [str(org.finance.pk)],
        "includeRoles": ["global_admin"], "excludeRoles": ["security_admin"]}


def test_chosen_applications_include_an_oidc_application_and_a_radius_client(patti_browser, org):
    patti_browser.post(NEW, form(target_mode="some", include_apps=[org.wiki.client_id, org.vpn]))

    assert stored()["conditions"]["applications"] == {"includeApplications": [org.wiki.client_id, org.vpn]}


def test_all_applications_can_exclude_some(patti_browser, org):
    patti_browser.post(NEW, form(exclude_apps=[doc.APP_PORTAL]))

    assert stored()["conditions"]["applications"] == {"includeApplications": ["All"],
                                                      "excludeApplications": [doc.APP_PORTAL]}


def test_the_user_action_register_security_info_is_a_target(patti_browser, org):
    patti_browser.post(NEW, form(target_mode="action", exclude_apps=[doc.APP_PORTAL], state="disabled"))

    assert stored()["conditions"]["applications"] == {"includeUserActions": [doc.ACTION_REGISTER]}


def test_a_user_action_policy_cannot_be_report_only(patti_browser, org):
    response = patti_browser.post(NEW, form(target_mode="action"))

    assert "Report-only is not available" in field_error(response, "state")
    assert not ConditionalAccessPolicy.objects.exists()


def test_client_apps_platforms_and_sign_in_risk_are_stored(patti_browser, org):
    patti_browser.post(NEW, form(client_types=["browser", "radius"], platforms_mode="some",
                                 include_platforms=["android", "iOS"], exclude_platforms=["windows"],
                                 risk_levels=["high", "medium"]))

    conditions = stored()["conditions"]
    assert conditions["clientAppTypes"] == ["browser", "radius"]
    assert conditions["platforms"] == {"includePlatforms": ["android", "iOS"], "excludePlatforms": ["windows"]}
    assert conditions["signInRiskLevels"] == ["high", "medium"]


def test_any_platform_but_some_is_stored_as_all_with_exclusions(patti_browser, org):
    patti_browser.post(NEW, form(exclude_platforms=["linux"]))

    assert stored()["conditions"]["platforms"] == {"includePlatforms": ["all"], "excludePlatforms": ["linux"]}


@pytest.mark.parametrize("choice, expected", [
    ({"exclude_trusted": "on"}, {"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]}),
    ({"locations_mode": "trusted"}, {"includeLocations": ["AllTrusted"]}),
    ({"locations_mode": "some", "include_locations": ["branch"], "exclude_locations": ["office"]},
     {"includeLocations": ["branch"], "excludeLocations": ["office"]}),
], ids=["any-but-trusted", "all-trusted", "named"])
def test_locations_are_stored_as_chosen(patti_browser, org, choice, expected):
    ids = {"branch": str(org.branch.pk), "office": str(org.office.pk)}
    choice = {k: [ids[v] for v in value] if isinstance(value, list) else value for k, value in choice.items()}
    expected = {k: [ids.get(v, v) for v in value] for k, value in expected.items()}

    patti_browser.post(NEW, form(**choice))

    assert stored()["conditions"]["locations"] == expected


def test_block_access_stands_alone(patti_browser, org):
    patti_browser.post(NEW, form(grant_mode="block", strength=MFA.id))

    assert stored()["grantControls"] == {"operator": "OR", "builtInControls": ["block"]}


def test_an_authentication_strength_can_be_required_with_require_all(patti_browser, org):
    patti_browser.post(NEW, form(require_mfa=None, strength=PHISHING_RESISTANT_MFA.id, operator="AND"))

    assert stored()["grantControls"] == {"operator": "AND", "builtInControls": [],
                                         "authenticationStrength": {"id": PHISHING_RESISTANT_MFA.id}}


def test_a_custom_authentication_strength_is_offered(patti_browser, org):
    custom = services.save_strength(name="Authenticator only", combinations=["password,microsoftAuthenticatorPush"],
                                    actor="cli")

    patti_browser.post(NEW, form(require_mfa=None, strength=str(custom.pk)))

    assert stored()["grantControls"]["authenticationStrength"] == {"id": str(custom.pk)}


def test_sign_in_frequency_and_persistent_browser_are_session_controls(patti_browser, org):
    patti_browser.post(NEW, form(frequency_mode="periodic", frequency_value="12", frequency_unit="hours",
                                 persistent_browser="never"))

    session = stored()["sessionControls"]
    assert (session["signInFrequency"]["type"], session["signInFrequency"]["value"]) == ("hours", 12)
    assert session["persistentBrowser"] == {"isEnabled": True, "mode": "never"}


def test_sign_in_frequency_every_time(patti_browser, org):
    patti_browser.post(NEW, form(require_mfa=None, frequency_mode="every_time"))

    assert stored()["sessionControls"]["signInFrequency"]["frequencyInterval"] == "everyTime"
    assert "grantControls" not in stored()


# --- every validation error on its input, nothing saved -------------------------------------

INVALID = [
    ({"name": "  "}, "name", "Give the policy a name."),
    ({"state": None}, "state", "state must be enabled (on)"),
    ({"users_mode": "some"}, "users_mode", "Choose who the policy is for"),
    ({"users_mode": "some", "include_users": "adele.vance@contoso.example, nobody@contoso.example\nghost"},
     "include_users", "There is no one with the sign-in name 'nobody@contoso.example'. | There is no one with the "
                      "sign-in name 'ghost'."),
    ({"exclude_users": "nobody@contoso.example"}, "exclude_users", "no one with the sign-in name"),
    ({"include_roles": ["owner"]}, "include_roles", "Choose from the list"),
    ({"target_mode": "some"}, "target_mode", "Choose the target"),
    ({"platforms_mode": "some"}, "include_platforms", "Include the platforms"),
    ({"locations_mode": "some"}, "include_locations", "Include the locations"),
    ({"require_mfa": None}, "grant_mode", "Choose what the policy does"),
    ({"strength": MFA.id}, "strength", "cannot be in the same policy"),
    ({"strength": "not-a-strength"}, "strength", "Choose a strength from the list."),
    ({"frequency_mode": "periodic", "frequency_value": "30"}, "frequency_value", "from 1 to 23"),
    ({"frequency_mode": "periodic", "frequency_value": "soon"}, "frequency_value", "whole number of hours"),
    ({"frequency_mode": "periodic", "frequency_value": "400", "frequency_unit": "days"}, "frequency_value",
     "from 1 to 365"),
    ({"persistent_browser": "always", "target_mode": "some", "include_apps": [doc.APP_PORTAL]},
     "persistent_browser", "only be set for All applications"),
]


@pytest.mark.parametrize("values, field, message", INVALID, ids=[f"{c[1]}-{i}" for i, c in enumerate(INVALID)])
def test_each_mistake_is_shown_on_its_input_and_nothing_is_saved(patti_browser, org, values, field, message):
    response = patti_browser.post(NEW, form(**values))

    assert response.status_code == 400
    assert message in field_error(response, field)
    assert "Nothing was saved." in page(response)
    assert not ConditionalAccessPolicy.objects.exists()


def test_an_error_is_linked_to_its_input_for_screen_readers(patti_browser, org):
    named = page(patti_browser.post(NEW, form(name="")))
    chosen = page(patti_browser.post(NEW, form(users_mode="some")))

    assert 'aria-invalid="true" aria-describedby="id_name_error" id="id_name"' in named
    assert '<a href="#id_name">Name</a>: Give the policy a name.' in named
    assert '<fieldset class="field has-error" id="id_users_mode" aria-describedby="id_users_mode_error">' in chosen


def test_a_mistake_while_editing_leaves_the_policy_as_it_was(patti_browser, existing):
    before = existing.document

    response = patti_browser.post(policy_page(existing), form(name="Renamed", target_mode="some"))

    existing.refresh_from_db()
    assert response.status_code == 400 and existing.document == before


# --- editing -------------------------------------------------------------------------------

@pytest.fixture
def detailed(org):
    return save({**policy_doc(
        "Finance MFA", users={"includeUsers": [str(org.lee.pk)], "includeGroups": [str(org.finance.pk)],
                              "includeRoles": [GLOBAL_ADMIN_ROLE], "excludeUsers": [str(org.megan.pk)]},
        apps={"includeApplications": [org.wiki.client_id]}, clientAppTypes=["browser"],
        locations={"includeLocations": ["All"], "excludeLocations": [str(org.office.pk)]}),
        "description": "Kept when edited"})


def test_the_edit_page_shows_the_policy_as_chosen_with_people_by_sign_in_name(patti_browser, org, detailed):
    html = page(patti_browser.get(policy_page(detailed)))

    assert f">\n{org.lee.upn}</textarea>" in html
    assert f'<option value="{org.finance.pk}" selected>Finance</option>' in html
    assert 'value="global_admin" id="id_include_roles_0" checked' in html
    assert f'value="{org.wiki.client_id}" id="id_include_apps_' in html and \
        f'name="include_apps" value="{org.wiki.client_id}"' in html


def test_the_edit_page_shows_the_policy_as_graph_json(patti_browser, detailed):
    html = page(patti_browser.get(policy_page(detailed)))

    shown = html.split('id="policy-json"', 1)[1].split(">", 1)[1].split("</pre>", 1)[0]
    graph = json.loads(shown)
    assert graph["id"] == str(detailed.pk)
    assert graph["conditions"]["users"]["includeRoles"] == [GLOBAL_ADMIN_ROLE]


def test_saving_an_edit_replaces_the_document_and_keeps_its_description(patti_browser, org, detailed):
    response = patti_browser.post(policy_page(detailed), form(
        name="Finance MFA (all apps)", users_mode="some", include_users=org.lee.upn,
        include_groups=[str(org.finance.pk)], exclude_users=org.megan.upn, locations_mode="any",
        exclude_locations=[str(org.office.pk)]))

    detailed.refresh_from_db()
    assert response.status_code == 302
    assert detailed.display_name == "Finance MFA (all apps)"
    assert detailed.document["conditions"]["applications"] == {"includeApplications": ["All"]}
    assert detailed.document["conditions"]["locations"] == {"includeLocations": ["All"],
                                                            "excludeLocations": [str(org.office.pk)]}
    assert detailed.document["description"] == "Kept when edited"
    assert AuditEvent.objects.filter(action="policy.update").exists()


def test_a_person_the_policy_names_can_stay_named_after_leaving(patti_browser, org, detailed):
    from watchword.directory.models import User

    User.objects.filter(pk=org.lee.pk).update(deleted_at=timezone.now())  # gone from the directory (sync)

    response = patti_browser.post(policy_page(detailed), form(
        name="Finance MFA", users_mode="some", include_users=org.lee.upn, include_groups=[str(org.finance.pk)]))
    refused = patti_browser.post(policy_page(detailed), form(users_mode="some", include_users=org.adele.upn,
                                                             exclude_users=org.lee.upn.replace("lee", "lee2")))

    detailed.refresh_from_db()
    assert response.status_code == 302
    assert detailed.document["conditions"]["users"]["includeUsers"] == [str(org.lee.pk)]
    assert "There is no one with the sign-in name 'lee2.gu@contoso.example'." == field_error(refused, "exclude_users")


def test_an_unknown_policy_is_not_found(patti_browser, org):
    assert patti_browser.get(f"/admin/security/policies/{uuid.uuid4()}").status_code == 404


# --- don't lock yourself out; Security Defaults ----------------------------------------------

def blocking_admin_pages(**values) -> dict:
    return form(name="Block the admin pages", state="enabled", grant_mode="block", require_mfa=None,
                target_mode="some", include_apps=[doc.APP_ADMIN], **values)


def test_a_policy_that_would_lock_administrators_out_asks_first_and_saves_nothing(megan_browser, org):
    response = megan_browser.post(NEW, blocking_admin_pages())

    text = text_of(response)
    assert response.status_code == 409
    assert "Don't lock yourself out!" in text
    assert f"This policy blocks you ({org.megan.upn}) from the admin pages." in text
    assert "I understand, save anyway" in text
    assert not ConditionalAccessPolicy.objects.exists()


def test_i_understand_saves_it_anyway(megan_browser, org):
    response = megan_browser.post(NEW, blocking_admin_pages(confirm_lockout="on"))

    assert response.status_code == 302
    assert ConditionalAccessPolicy.objects.get().state == "enabled"


def test_a_blocking_policy_that_excludes_you_saves_without_asking(megan_browser, org, make_person):
    make_person("Isaiah Langer", role="global_admin")  # still blocked: not every Global Administrator is

    response = megan_browser.post(NEW, blocking_admin_pages(exclude_users=org.megan.upn))

    assert response.status_code == 302


def test_a_policy_cannot_be_turned_on_while_security_defaults_is_on(patti_browser, org):
    services.set_security_defaults(True, actor="cli")

    response = patti_browser.post(NEW, form(state="enabled"))

    assert response.status_code == 400
    assert "turn off Security Defaults" in field_error(response, "state")
    assert "Security Defaults is on" in text_of(response)
    assert not ConditionalAccessPolicy.objects.exists()


def test_a_report_only_policy_can_be_saved_while_security_defaults_is_on(patti_browser, org):
    services.set_security_defaults(True, actor="cli")

    assert patti_browser.post(NEW, form()).status_code == 302


# --- quick state switch ----------------------------------------------------------------------

def test_the_state_switches_between_on_report_only_and_off_from_the_policy_page(patti_browser, existing):
    html = page(patti_browser.get(policy_page(existing)))
    assert ">Turn on</button>" in html and ">Turn off</button>" in html

    response = patti_browser.post(f"{policy_page(existing)}/state", {"state": "enabled"}, follow=True)
    existing.refresh_from_db()
    assert existing.state == "enabled"
    assert "Policy 'Existing policy' is now on." in text_of(response)

    patti_browser.post(f"{policy_page(existing)}/state", {"state": "disabled"})
    existing.refresh_from_db()
    assert existing.state == "disabled"


def test_switching_on_under_security_defaults_says_why_not(patti_browser, existing):
    services.set_security_defaults(True, actor="cli")

    response = patti_browser.post(f"{policy_page(existing)}/state", {"state": "enabled"}, follow=True)

    existing.refresh_from_db()
    assert existing.state == REPORT_ONLY
    assert "You must first turn off Security Defaults" in text_of(response)


def test_switching_a_blocking_policy_on_asks_first(megan_browser, org):
    policy = save(policy_doc("Block everything", grant={"operator": "OR", "builtInControls": ["block"]}))

    asked = megan_browser.post(f"{policy_page(policy)}/state", {"state": "enabled"})
    policy.refresh_from_db()
    assert (asked.status_code, policy.state) == (409, REPORT_ONLY)
    assert "Don't lock yourself out!" in text_of(asked)

    megan_browser.post(f"{policy_page(policy)}/state", {"state": "enabled", "confirm_lockout": "on"})
    policy.refresh_from_db()
    assert policy.state == "enabled"


def test_the_state_switch_needs_the_forms_csrf_token(org, existing):
    cross_site = Client(enforce_csrf_checks=True)
    cross_site.force_login(org.patti, backend="watchword.directory.backends.DirectoryBackend")
    SignIn.make_mfa_fresh(cross_site)

    response = cross_site.post(f"{policy_page(existing)}/state", {"state": "disabled"})

    existing.refresh_from_db()
    assert (response.status_code, existing.state) == (403, REPORT_ONLY)


def test_the_state_switch_is_a_post_only(patti_browser, existing):
    assert patti_browser.get(f"{policy_page(existing)}/state").status_code == 405


# --- delete ------------------------------------------------------------------------------------

def test_deleting_asks_for_confirmation_then_deletes_and_records_it(patti_browser, existing):
    confirm = patti_browser.get(f"{policy_page(existing)}/delete")
    assert "Delete the policy Existing policy?" in text_of(confirm)
    assert ConditionalAccessPolicy.objects.exists()

    response = patti_browser.post(f"{policy_page(existing)}/delete")

    assert response.status_code == 302 and response["Location"] == "/admin/security/policies"
    assert not ConditionalAccessPolicy.objects.exists()
    assert AuditEvent.objects.get(action="policy.delete").before["document"]["displayName"] == "Existing policy"


# --- export and import ---------------------------------------------------------------------

IMPORT = "/admin/security/policies/import"


def entra_policy(org, **changes) -> dict:
    """A policy as Graph returns it from Entra ID: roles by template id, Microsoft Admin Portals,
    a role and a control Watchword does not have."""
    policy = {
        "id": "9c3e4d5a-1111-4222-8333-444455556666", "displayName": "Admins need MFA", "state": REPORT_ONLY,
        "createdDateTime": "2024-05-01T10:00:00Z", "modifiedDateTime": None, "templateId": None,
        "conditions": {
            "userRiskLevels": [], "signInRiskLevels": [], "clientAppTypes": ["all"], "platforms": None,
            "locations": None, "devices": None,
            "applications": {"includeApplications": ["MicrosoftAdminPortals"], "excludeApplications": [],
                             "includeUserActions": []},
            "users": {"includeUsers": [], "excludeUsers": [org.patti.upn], "includeGroups": ["Finance"],
                      "excludeGroups": [], "excludeRoles": [],
                      "includeRoles": [GLOBAL_ADMIN_ROLE, "fe930be7-5e62-47db-91af-98c3a49a38b1"]},
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa", "compliantDevice"],
                          "customAuthenticationFactors": [], "termsOfUse": []},
        "sessionControls": None,
    }
    policy.update(changes)
    return policy


def test_export_all_downloads_every_policy_in_graphs_shape(patti_browser, three_policies):
    response = patti_browser.get("/admin/security/policies/export")

    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"].startswith('attachment; filename="conditional-access-policies-')
    exported = json.loads(response.content)
    assert [p["displayName"] for p in exported["value"]] == ["Block legacy clients", "MFA for Sales",
                                                              "Strong MFA for the VPN"]
    assert exported["value"][2]["conditions"]["users"]["includeRoles"] == ["194ae4cb-b126-40b2-bd5b-6091b380977d"]


def test_an_export_imports_back_to_the_same_policies(patti_browser, three_policies):
    exported = patti_browser.get("/admin/security/policies/export").content.decode()
    before = {p.display_name: doc.compile_policy(p.document) for p in three_policies}
    for policy in three_policies:
        services.delete_policy(policy.pk, actor="cli")

    response = patti_browser.post(IMPORT, {"text": exported, "action": "import", "confirm_lockout": "on"})

    assert response.status_code == 302
    after = {p.display_name: doc.compile_policy(p.document) for p in ConditionalAccessPolicy.objects.all()}
    assert after == before


def test_checking_an_import_shows_each_warning_and_saves_nothing(patti_browser, org):
    response = patti_browser.post(IMPORT, {"text": json.dumps(entra_policy(org)), "action": "check"})

    text = text_of(response)
    assert response.status_code == 200
    assert "Checked: ready to import" in text and "Can be imported" in text
    assert "conditions.applications.includeApplications[0] : MicrosoftAdminPortals" in text
    assert "conditions.users.includeRoles[1] : Directory role fe930be7-5e62-47db-91af-98c3a49a38b1" in text
    assert "grantControls.builtInControls[1] : Require compliant device" in text
    assert not ConditionalAccessPolicy.objects.exists()


def test_importing_saves_the_policy_with_references_resolved_to_watchwords_ids(patti_browser, org):
    response = patti_browser.post(IMPORT, {"text": json.dumps(entra_policy(org)), "action": "import"}, follow=True)

    document = stored()
    assert "Imported 1 policy" in text_of(response)
    assert "Require compliant device" in text_of(response)  # its warning, kept after the import
    assert document["state"] == REPORT_ONLY
    assert document["conditions"]["users"] == {"excludeUsers": [str(org.patti.pk)],
                                               "includeGroups": [str(org.finance.pk)],
                                               "includeRoles": ["global_admin"]}
    assert document["conditions"]["applications"] == {"includeApplications": [doc.APP_ADMIN]}
    assert AuditEvent.objects.filter(action="policy.import").count() == 1


def test_an_import_with_an_unknown_reference_names_the_field_and_saves_nothing(patti_browser, org):
    second = entra_policy(org, displayName="Marketing MFA")
    second["conditions"]["users"]["includeGroups"] = ["Marketing"]

    response = patti_browser.post(IMPORT, {"text": json.dumps({"value": [entra_policy(org), second]}),
                                           "action": "import"})

    assert response.status_code == 400
    error = field_error(response, "text")
    assert "Policy 2 ('Marketing MFA'): There is no group 'Marketing' here." in error
    assert "(at value[1].conditions.users.includeGroups[0])" in error
    assert not ConditionalAccessPolicy.objects.exists()


def test_when_one_policy_cannot_be_saved_none_are_imported(patti_browser, org):
    services.set_security_defaults(True, actor="cli")
    turned_on = entra_policy(org, displayName="On already", state="enabled")

    response = patti_browser.post(IMPORT, {"text": json.dumps([entra_policy(org), turned_on]), "action": "import"})

    text = text_of(response)
    assert response.status_code == 400
    assert "Nothing was imported" in text
    assert "You must first turn off Security Defaults" in text and "(at state )" in text
    assert not ConditionalAccessPolicy.objects.exists()


def test_an_imported_policy_that_could_lock_administrators_out_needs_the_confirmation(megan_browser, org):
    blocking = json.dumps(policy_doc("Block all", state="enabled",
                                     grant={"operator": "OR", "builtInControls": ["block"]}))

    asked = megan_browser.post(IMPORT, {"text": blocking, "action": "import"})
    assert asked.status_code == 400 and "Don't lock yourself out!" in text_of(asked)
    assert "I understand, import anyway" in text_of(asked)
    assert not ConditionalAccessPolicy.objects.exists()

    megan_browser.post(IMPORT, {"text": blocking, "action": "import", "confirm_lockout": "on"})
    assert stored()["state"] == "enabled"


def test_a_json_file_can_be_uploaded_and_is_kept_for_the_import(patti_browser, org):
    upload = SimpleUploadedFile("policies.json", json.dumps([entra_policy(org)]).encode(), "application/json")

    checked = patti_browser.post(IMPORT, {"file": upload, "action": "check"})

    assert "Checked: ready to import" in text_of(checked)
    assert '"displayName": "Admins need MFA"' in page(checked)  # now in the box: Import needs no second upload


def test_text_that_is_not_json_is_reported_on_the_box(patti_browser, org):
    response = patti_browser.post(IMPORT, {"text": "{not json", "action": "check"})

    assert response.status_code == 400
    assert "This is not valid JSON" in field_error(response, "text")


def test_an_empty_import_asks_for_the_json(patti_browser, org):
    response = patti_browser.post(IMPORT, {"text": "", "action": "check"})

    assert "Paste the policies' JSON, or choose a file to upload." in field_error(response, "text")


# --- the sign-in log ---------------------------------------------------------------------------

def signin(name: str, result: str, policies: list[dict] | None, **fields) -> SignInEvent:
    return SignInEvent.objects.create(time=timezone.now(), flow_id=name[:8], typed_name=name, step="mfa",
                                      result=result, conditional_access=policies, **fields)


def outcome(name: str, result: str, controls=("mfa",), unmet: str = "", report_only: bool | None = None) -> dict:
    return {"id": str(uuid.uuid4()), "displayName": name, "result": result, "controls": list(controls),
            "reportOnly": result.startswith("reportOnly") if report_only is None else report_only,
            "conditionNotSatisfied": unmet}


@pytest.fixture
def logged(org):
    blocked = signin("lee.gu@contoso.example", "failure", [
        outcome("Block legacy clients", "applied", ("block",)),
        outcome("MFA for Sales", "notApplied", unmet="users: the person is not included"),
    ], error_code=53003, client_app="other")
    asked = signin("adele.vance@contoso.example", "success", [
        outcome("MFA for Sales", "applied"),
        outcome("Try blocking Android", "reportOnlyWouldBlock", ("block",)),
        outcome("Try strong MFA", "reportOnlyWouldRequireMfa", ("authenticationStrength:Phishing-resistant MFA",)),
        outcome("Try MFA", "reportOnlySuccess"),
        outcome("Try the VPN", "reportOnlyNotApplied", unmet="applications: WatchwordPortal is not included"),
    ], client_app="browser", risk="low")
    untouched = signin("megan.bowen@contoso.example", "success", None)
    return blocked, asked, untouched


def test_the_sign_in_log_shows_each_policys_result_in_words(patti_browser, logged):
    text = text_of(patti_browser.get("/admin/signins"))

    assert "Block legacy clients : Applied (Block access)" in text
    assert "MFA for Sales : Not applied (Require MFA) Condition not met: users: the person is not included" in text
    assert "Try blocking Android : Report-only: would block" in text
    assert "Try strong MFA : Report-only: would require MFA (Require authentication strength 'Phishing-resistant " \
           "MFA')" in text
    assert "Try MFA : Report-only: success" in text
    assert "Try the VPN : Report-only: not applied (Require MFA) Condition not met: applications: WatchwordPortal " \
           "is not included" in text
    assert "Client app: browser · Sign-in risk: low" in text


def test_the_sign_in_log_shows_the_conditional_access_status_of_each_sign_in(patti_browser, logged):
    html = page(patti_browser.get("/admin/signins"))

    rows = {name: html.split(name, 1)[1].split("</tr>", 1)[0] for name in (
        "lee.gu@contoso.example", "adele.vance@contoso.example", "megan.bowen@contoso.example")}
    assert '<span class="badge failure">Failure</span>' in rows["lee.gu@contoso.example"]
    assert '<span class="badge success">Success</span>' in rows["adele.vance@contoso.example"]
    assert '<span class="badge ">Not applied</span>' in rows["megan.bowen@contoso.example"]
    assert "<details>" in rows["adele.vance@contoso.example"]
    assert "<details>" not in rows["megan.bowen@contoso.example"]


@pytest.mark.parametrize("status, shown", [
    ("failure", {"lee.gu@contoso.example"}),
    ("success", {"adele.vance@contoso.example"}),
    ("notApplied", {"megan.bowen@contoso.example"}),
])
def test_the_sign_in_log_filters_by_conditional_access_status(patti_browser, logged, status, shown):
    html = page(patti_browser.get("/admin/signins", {"ca": status}))

    names = {"lee.gu@contoso.example", "adele.vance@contoso.example", "megan.bowen@contoso.example"}
    assert {n for n in names if f"<td>{n}" in html} == shown
