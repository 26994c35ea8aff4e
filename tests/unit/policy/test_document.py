"""compile_policy: a Graph-shaped Conditional Access policy document → a CompiledPolicy, or a
PolicyInvalid whose ``field`` points at the exact value that is wrong."""

from __future__ import annotations

import copy
import json

import pytest

from tests.unit.policy.builders import GLOBAL_ADMIN_ROLE_ID, policy_doc
from watchword.policy import strengths as st
from watchword.policy.document import MAX_DOCUMENT_BYTES, MAX_LIST, Catalog, compile_policy, references
from watchword.policy.errors import PolicyInvalid

CATALOG = Catalog(users=frozenset({"7", "8"}), groups=frozenset({"g1", "g2", "g3"}),
                  apps=frozenset({"WatchwordPortal", "WatchwordAdmin", "WatchwordApi", "radius:vpn"}),
                  locations=frozenset({"office", "branch"}), strengths=frozenset(st.BUILT_IN))


def refused(document, *, catalog: Catalog | None = None) -> PolicyInvalid:
    with pytest.raises(PolicyInvalid) as raised:
        compile_policy(document, catalog=catalog)
    return raised.value


def changed(path: str, value, base: dict | None = None) -> dict:
    """``base`` (a valid document) with the value at a dotted ``path`` set (or removed, for ...)."""
    document = copy.deepcopy(base if base is not None else policy_doc())
    *parents, last = path.split(".")
    node = document
    for key in parents:
        node = node.setdefault(key, {})
    if value is ...:
        node.pop(last, None)
    else:
        node[last] = value
    return document


# --- what a valid document compiles to ----------------------------------------------------------------


def test_a_full_document_compiles_to_what_it_says():
    document = {
        "id": "p-1", "displayName": "  Admins from outside  ", "state": "enabled",
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies/$entity",
        "conditions": {
            "users": {"includeUsers": ["7"], "excludeUsers": ["8"], "includeGroups": ["g1"], "excludeGroups": ["g2"],
                      "includeRoles": [GLOBAL_ADMIN_ROLE_ID], "excludeRoles": ["security_admin"]},
            "applications": {"includeApplications": ["All"], "excludeApplications": ["WatchwordApi"]},
            "clientAppTypes": ["browser", "mobileAppsAndDesktopClients"],
            "platforms": {"includePlatforms": ["ANDROID", "ios"], "excludePlatforms": ["Windows"]},
            "locations": {"includeLocations": ["All"], "excludeLocations": ["AllTrusted", "office"]},
            "signInRiskLevels": ["high"],
        },
        "grantControls": {"operator": "AND", "builtInControls": ["mfa"]},
        "sessionControls": {"signInFrequency": {"isEnabled": True, "type": "days", "value": 2},
                            "persistentBrowser": {"isEnabled": True, "mode": "never"}},
    }

    compiled = compile_policy(document, catalog=CATALOG)

    assert compiled.id == "p-1"
    assert compiled.name == "Admins from outside"
    assert not compiled.include_all_users
    assert compiled.include_users == {"7"} and compiled.exclude_users == {"8"}
    assert compiled.include_groups == {"g1"} and compiled.exclude_groups == {"g2"}
    assert compiled.include_roles == {"global_admin"} and compiled.exclude_roles == {"security_admin"}
    assert compiled.apps.everything and compiled.apps.exclude == {"WatchwordApi"}
    assert compiled.client_types == {"browser", "mobileAppsAndDesktopClients"}
    assert not compiled.platforms.everything
    assert compiled.platforms.include == {"android", "iOS"} and compiled.platforms.exclude == {"windows"}
    assert compiled.locations.everything and compiled.locations.exclude == {"AllTrusted", "office"}
    assert compiled.risk_levels == {"high"}
    assert (compiled.block, compiled.operator, compiled.controls, compiled.strength) == (False, "AND", ("mfa",), None)
    assert compiled.frequency_seconds == 2 * 86400
    assert compiled.persistent_browser == "never"
    assert compiled.document == document
    assert references(compiled) == {"users": {"7", "8"}, "groups": {"g1", "g2"}, "apps": {"WatchwordApi"},
                                    "locations": {"office"}, "strengths": frozenset()}


def test_the_id_argument_wins_over_the_documents_id():
    assert compile_policy(changed("id", "from-document"), id="from-row").id == "from-row"
    assert compile_policy(policy_doc()).id == ""


def test_a_json_text_compiles_like_the_object():
    document = policy_doc()

    assert compile_policy(json.dumps(document)) == compile_policy(document)
    assert compile_policy(json.dumps(document).encode()) == compile_policy(document)


def test_defaults_cover_every_client_platform_location_and_risk():
    compiled = compile_policy(policy_doc())

    assert compiled.include_all_users
    assert compiled.client_types == frozenset()
    assert compiled.platforms.everything and compiled.locations.everything
    assert compiled.risk_levels == frozenset()
    assert compiled.operator == "OR"


def test_client_type_all_means_any_client():
    assert compile_policy(policy_doc(client_app_types=["all"])).client_types == frozenset()


@pytest.mark.parametrize(("role", "canonical"), [
    ("62e90394-69f5-4237-9190-012177145e10", "global_admin"),
    ("62E90394-69F5-4237-9190-012177145E10", "global_admin"),
    ("194ae4cb-b126-40b2-bd5b-6091b380977d", "security_admin"),
    ("c4e39bd9-1100-46d3-8c65-fb160da0071f", "authentication_admin"),
    ("authentication_admin", "authentication_admin"),
])
def test_entra_role_template_ids_map_to_watchword_roles(role, canonical):
    compiled = compile_policy(policy_doc(users={"includeRoles": [role], "excludeRoles": [role]}))

    assert compiled.include_roles == compiled.exclude_roles == {canonical}


def test_a_strength_is_named_by_id_and_checked_against_the_catalog():
    document = policy_doc(controls=[], strength=st.PHISHING_RESISTANT_MFA.id)
    document["grantControls"]["authenticationStrength"].update(
        displayName="Phishing-resistant MFA", policyType="builtIn", allowedCombinations=["fido2"])

    compiled = compile_policy(document, catalog=CATALOG)

    assert compiled.strength == st.PHISHING_RESISTANT_MFA.id
    assert references(compiled)["strengths"] == {st.PHISHING_RESISTANT_MFA.id}


@pytest.mark.parametrize(("session", "seconds"), [
    ({"isEnabled": True, "type": "hours", "value": 1}, 3600),
    ({"isEnabled": True, "type": "hours", "value": 23}, 23 * 3600),
    ({"isEnabled": True, "type": "days", "value": 1}, 86400),
    ({"isEnabled": True, "type": "days", "value": 365}, 365 * 86400),
    ({"isEnabled": True, "frequencyInterval": "timeBased", "type": "days", "value": 90}, 90 * 86400),
    ({"isEnabled": True, "type": "hours", "value": 4, "authenticationType": "primaryAndSecondaryAuthentication"},
     4 * 3600),
    ({"isEnabled": True, "frequencyInterval": "everyTime"}, 0),
    ({"isEnabled": True, "frequencyInterval": "everyTime", "type": "hours", "value": 99}, 0),
    ({"isEnabled": False, "type": "weeks", "value": -1}, None),
    ({}, None),
])
def test_sign_in_frequency_in_seconds(session, seconds):
    compiled = compile_policy(policy_doc(session={"signInFrequency": session}))

    assert compiled.frequency_seconds == seconds


@pytest.mark.parametrize("mode", ["always", "never"])
def test_a_persistent_browser_session_for_all_applications(mode):
    compiled = compile_policy(policy_doc(controls=[], session={"persistentBrowser": {"isEnabled": True,
                                                                                     "mode": mode}}))

    assert compiled.persistent_browser == mode
    assert not compiled.has_grant


def test_a_disabled_persistent_browser_setting_is_no_session_control():
    compiled = compile_policy(policy_doc(applications={"includeApplications": ["WatchwordPortal"]},
                                         session={"persistentBrowser": {"isEnabled": False, "mode": "x"}}))

    assert compiled.persistent_browser is None


@pytest.mark.parametrize("state", ["enabled", "disabled", "enabledForReportingButNotEnforced"])
def test_every_state_compiles(state):
    compiled = compile_policy(policy_doc(state=state))

    assert compiled.state == state
    assert compiled.report_only is (state == "enabledForReportingButNotEnforced")


def test_unused_reference_fields_and_graph_metadata_are_accepted_when_empty():
    document = policy_doc()
    document.update({"createdDateTime": "2024-01-01T00:00:00Z", "modifiedDateTime": None, "templateId": None,
                     "description": "", "@odata.type": "#microsoft.graph.conditionalAccessPolicy"})
    document["grantControls"].update(customAuthenticationFactors=[], termsOfUse=[])
    document["sessionControls"] = {"applicationEnforcedRestrictions": None, "cloudAppSecurity": None,
                                   "disableResilienceDefaults": False}

    assert compile_policy(document).controls == ("mfa",)


# --- whole document ---------------------------------------------------------------------------------


@pytest.mark.parametrize("document", [None, [], 42, "[]", "null"])
def test_a_policy_must_be_an_object(document):
    error = refused(document)

    assert error.field is None
    assert "JSON object" in error.public_message


def test_text_that_is_not_json_is_refused():
    assert "not valid JSON" in refused("{displayName: 1}").public_message


def test_json_text_over_64_kb_is_refused_before_parsing():
    text = json.dumps(policy_doc()) + " " * MAX_DOCUMENT_BYTES

    assert "64 KB" in refused(text).public_message


def test_a_document_over_64_kb_is_refused():
    document = changed("description", "x" * MAX_DOCUMENT_BYTES)

    assert "64 KB" in refused(document).public_message


def test_a_document_of_exactly_64_kb_compiles():
    document = policy_doc(users={"includeUsers": ["All"], "excludeGroups": []})
    groups = document["conditions"]["users"]["excludeGroups"]
    while len(json.dumps(document)) + 260 < MAX_DOCUMENT_BYTES:
        groups.append(f"{len(groups):04d}".ljust(200, "x"))
    groups.append("")
    groups[-1] = "y" * (MAX_DOCUMENT_BYTES - len(json.dumps(document)))

    assert len(json.dumps(document)) == MAX_DOCUMENT_BYTES
    compile_policy(document)
    groups[-1] += "y"
    assert "64 KB" in refused(document).public_message


# --- every error names its field ---------------------------------------------------------------------


USERS = "conditions.users"
APPS = "conditions.applications"
FIELD_ERRORS = [
    # top level
    (changed("owner", "someone"), "owner"),
    (changed("displayName", ...), "displayName"),
    (changed("displayName", "   "), "displayName"),
    (changed("displayName", 7), "displayName"),
    (changed("displayName", "x" * 257), "displayName"),
    (changed("state", "on"), "state"),
    (changed("state", ...), "state"),
    (changed("conditions", []), "conditions"),
    (changed("conditions.devices", {}), "conditions.devices"),
    (changed("conditions.userRiskLevels", ["high"]), "conditions.userRiskLevels"),
    # users
    (changed(USERS, "All"), USERS),
    (changed(f"{USERS}.includeGuestsOrExternalUsers", {}), f"{USERS}.includeGuestsOrExternalUsers"),
    (changed(f"{USERS}.includeUsers", "All"), f"{USERS}.includeUsers"),
    (changed(f"{USERS}.includeUsers", ["All", "7"]), f"{USERS}.includeUsers"),
    (changed(f"{USERS}.includeUsers", ["All", "None"]), f"{USERS}.includeUsers"),
    (changed(f"{USERS}.includeUsers", ["AllTrusted"]), f"{USERS}.includeUsers"),
    (changed(f"{USERS}.includeUsers", ["7", ""]), f"{USERS}.includeUsers[1]"),
    (changed(f"{USERS}.includeUsers", ["7", "8", 9]), f"{USERS}.includeUsers[2]"),
    (changed(f"{USERS}.includeUsers", ["x" * 257]), f"{USERS}.includeUsers[0]"),
    (changed(f"{USERS}.excludeUsers", ["All"]), f"{USERS}.excludeUsers"),
    (changed(f"{USERS}.excludeUsers", ["None"]), f"{USERS}.excludeUsers"),
    (changed(f"{USERS}.includeGroups", ["g1", "g2", None]), f"{USERS}.includeGroups[2]"),
    (changed(f"{USERS}.includeGroups", ["All"]), f"{USERS}.includeGroups"),
    (changed(f"{USERS}.excludeGroups", ["g1", "All"]), f"{USERS}.excludeGroups"),
    (changed(f"{USERS}.includeRoles", ["global_admin", "owner"]), f"{USERS}.includeRoles[1]"),
    (changed(f"{USERS}.excludeRoles", ["00000000-0000-0000-0000-000000000000"]), f"{USERS}.excludeRoles[0]"),
    (changed(USERS, {}), f"{USERS}.includeUsers"),
    (changed(USERS, {"excludeUsers": ["7"]}), f"{USERS}.includeUsers"),
    (changed("conditions", ...), f"{USERS}.includeUsers"),
    # applications
    (changed(f"{APPS}.includeAuthenticationContextClassReferences", ["c1"]),
     f"{APPS}.includeAuthenticationContextClassReferences"),
    (changed(APPS, {}), f"{APPS}.includeApplications"),
    (changed(APPS, {"excludeApplications": ["WatchwordApi"]}), f"{APPS}.includeApplications"),
    (changed(f"{APPS}.includeApplications", ["All", "WatchwordApi"]), f"{APPS}.includeApplications"),
    (changed(f"{APPS}.excludeApplications", ["All"]), f"{APPS}.excludeApplications"),
    (changed(f"{APPS}.includeApplications", ["AllTrusted"]), f"{APPS}.includeApplications"),
    (changed(APPS, {"includeUserActions": ["urn:user:registerdevice"]}), f"{APPS}.includeUserActions[0]"),
    (changed(APPS, {"includeUserActions": ["urn:user:registersecurityinfo"], "includeApplications": ["All"]}),
     f"{APPS}.includeUserActions"),
    (changed(APPS, {"includeUserActions": ["urn:user:registersecurityinfo"], "excludeApplications": ["x"]}),
     f"{APPS}.includeUserActions"),
    # client apps, platforms, locations, risk
    (changed("conditions.clientAppTypes", ["browser", "exchangeActiveSync"]), "conditions.clientAppTypes[1]"),
    (changed("conditions.clientAppTypes", "browser"), "conditions.clientAppTypes"),
    (changed("conditions.clientAppTypes", ["browser", "all"]), "conditions.clientAppTypes"),
    (changed("conditions.platforms", {"includePlatforms": ["windowsPhone"]}),
     "conditions.platforms.includePlatforms[0]"),
    (changed("conditions.platforms", {"includePlatforms": ["all"], "excludePlatforms": ["ios", "symbian"]}),
     "conditions.platforms.excludePlatforms[1]"),
    (changed("conditions.platforms", {"includePlatforms": ["all"], "excludePlatforms": ["windows", "ALL"]}),
     "conditions.platforms.excludePlatforms[1]"),
    (changed("conditions.platforms", {"excludePlatforms": ["windows"]}), "conditions.platforms.includePlatforms"),
    (changed("conditions.platforms", {}), "conditions.platforms.includePlatforms"),
    (changed("conditions.platforms", {"includePlatforms": ["all"], "filter": "x"}), "conditions.platforms.filter"),
    (changed("conditions.locations", {"excludeLocations": ["office"]}), "conditions.locations.includeLocations"),
    (changed("conditions.locations", {"includeLocations": ["All", "office"]}),
     "conditions.locations.includeLocations"),
    (changed("conditions.locations", {"includeLocations": ["All"], "excludeLocations": ["All"]}),
     "conditions.locations.excludeLocations"),
    (changed("conditions.locations", {"includeLocations": ["None"]}), "conditions.locations.includeLocations"),
    (changed("conditions.locations", {"includeLocations": [""]}), "conditions.locations.includeLocations[0]"),
    (changed("conditions.locations", "All"), "conditions.locations"),
    (changed("conditions.signInRiskLevels", ["low", "hidden"]), "conditions.signInRiskLevels[1]"),
    # grant controls
    (changed("grantControls", ["mfa"]), "grantControls"),
    (changed("grantControls.operator", "XOR"), "grantControls.operator"),
    (changed("grantControls.operator", "and"), "grantControls.operator"),
    (changed("grantControls.builtInControls", ["mfa", "compliantDevice"]), "grantControls.builtInControls[1]"),
    (changed("grantControls.builtInControls", ["block", "mfa"]), "grantControls.builtInControls"),
    (changed("grantControls.builtInControls", []), "grantControls.builtInControls"),
    (changed("grantControls", ...), "grantControls.builtInControls"),
    (changed("grantControls.termsOfUse", ["tou-1"]), "grantControls.termsOfUse"),
    (changed("grantControls.customAuthenticationFactors", ["duo"]), "grantControls.customAuthenticationFactors"),
    (changed("grantControls.sessionLifetime", 1), "grantControls.sessionLifetime"),
    (changed("grantControls.authenticationStrength", {"id": st.MFA.id}), "grantControls.authenticationStrength"),
    (changed("grantControls", {"builtInControls": ["block"], "authenticationStrength": {"id": st.MFA.id}}),
     "grantControls.builtInControls"),
    (changed("grantControls", {"authenticationStrength": {"displayName": "MFA"}}),
     "grantControls.authenticationStrength.id"),
    (changed("grantControls", {"authenticationStrength": {"id": ""}}), "grantControls.authenticationStrength.id"),
    (changed("grantControls", {"authenticationStrength": {"id": st.MFA.id, "combinationConfigurations": []}}),
     "grantControls.authenticationStrength.combinationConfigurations"),
    (changed("grantControls", {"authenticationStrength": st.MFA.id}), "grantControls.authenticationStrength"),
    # session controls
    (changed("sessionControls", "1h"), "sessionControls"),
    (changed("sessionControls", {"cloudAppSecurity": {"isEnabled": True}}), "sessionControls.cloudAppSecurity"),
    (changed("sessionControls", {"applicationEnforcedRestrictions": {"isEnabled": True}}),
     "sessionControls.applicationEnforcedRestrictions"),
    (changed("sessionControls", {"secureSignInSession": {"isEnabled": True}}), "sessionControls.secureSignInSession"),
    (changed("sessionControls", {"tokenProtection": {}}), "sessionControls.tokenProtection"),
    (changed("sessionControls", {"disableResilienceDefaults": True}), "sessionControls.disableResilienceDefaults"),
    (changed("description", "x" * 1025), "description"),
    (changed("templateId", 7), "templateId"),
]
FREQUENCY = "sessionControls.signInFrequency"
FIELD_ERRORS += [
    (changed("sessionControls", {"signInFrequency": frequency}), where) for frequency, where in [
        ({"isEnabled": "yes", "type": "hours", "value": 1}, f"{FREQUENCY}.isEnabled"),
        ({"type": "hours", "value": 1}, f"{FREQUENCY}.isEnabled"),
        ({"isEnabled": True, "frequencyInterval": "sometimes"}, f"{FREQUENCY}.frequencyInterval"),
        ({"isEnabled": True, "type": "minutes", "value": 30}, f"{FREQUENCY}.type"),
        ({"isEnabled": True, "value": 1}, f"{FREQUENCY}.type"),
        ({"isEnabled": True, "type": "hours", "value": 0}, f"{FREQUENCY}.value"),
        ({"isEnabled": True, "type": "hours", "value": 24}, f"{FREQUENCY}.value"),
        ({"isEnabled": True, "type": "days", "value": 366}, f"{FREQUENCY}.value"),
        ({"isEnabled": True, "type": "days", "value": -1}, f"{FREQUENCY}.value"),
        ({"isEnabled": True, "type": "days", "value": 1.5}, f"{FREQUENCY}.value"),
        ({"isEnabled": True, "type": "days", "value": "7"}, f"{FREQUENCY}.value"),
        ({"isEnabled": True, "type": "days", "value": True}, f"{FREQUENCY}.value"),
        ({"isEnabled": True, "type": "days"}, f"{FREQUENCY}.value"),
        ({"isEnabled": True, "type": "days", "value": 1, "unit": "d"}, f"{FREQUENCY}.unit"),
        ({"isEnabled": True, "type": "days", "value": 1, "authenticationType": "secondaryAuthentication"},
         f"{FREQUENCY}.authenticationType"),
        ([1, "hours"], FREQUENCY),
    ]
]
PERSISTENT = "sessionControls.persistentBrowser"
FIELD_ERRORS += [
    (changed("sessionControls", {"persistentBrowser": {"isEnabled": True, "mode": "sometimes"}}), f"{PERSISTENT}.mode"),
    (changed("sessionControls", {"persistentBrowser": {"isEnabled": True}}), f"{PERSISTENT}.mode"),
    (changed("sessionControls", {"persistentBrowser": {"isEnabled": 1, "mode": "never"}}), f"{PERSISTENT}.isEnabled"),
    (changed("sessionControls", {"persistentBrowser": {"isEnabled": True, "mode": "never"}},
             policy_doc(applications={"includeApplications": ["WatchwordPortal"]})), PERSISTENT),
    (changed("sessionControls", {"persistentBrowser": {"isEnabled": True, "mode": "never"}},
             policy_doc(applications={"includeUserActions": ["urn:user:registersecurityinfo"]})), PERSISTENT),
]


@pytest.mark.parametrize(("document", "field"), FIELD_ERRORS, ids=[f"{i}-{f}" for i, (_, f) in enumerate(FIELD_ERRORS)])
def test_each_problem_is_refused_naming_its_field(document, field):
    error = refused(document)

    assert error.field == field
    assert error.as_dict()["field"] == field
    assert error.code == "policy_invalid"
    assert error.status == 400


def test_a_list_of_2000_entries_is_accepted_and_2001_refused():
    ids = [f"user-{i}" for i in range(MAX_LIST + 1)]

    assert len(compile_policy(policy_doc(users={"includeUsers": ids[:MAX_LIST]})).include_users) == MAX_LIST
    error = refused(policy_doc(users={"includeUsers": ["All"], "excludeGroups": ids}))
    assert error.field == "conditions.users.excludeGroups"
    assert "2001" in error.public_message


def test_block_stands_alone():
    error = refused(policy_doc(controls=["block", "mfa"]))

    assert "stands alone" in error.public_message


def test_require_mfa_and_a_strength_together_are_refused():
    error = refused(policy_doc(controls=["mfa"], strength=st.MFA.id, operator="OR"))

    assert error.field == "grantControls.authenticationStrength"
    assert "cannot be in the same policy" in error.public_message


def test_unknown_fields_are_named_with_the_known_ones():
    error = refused(changed("conditions.users.includeGuests", []))

    assert error.field == "conditions.users.includeGuests"
    assert "includeUsers" in error.public_message


def test_a_policy_with_only_a_sign_in_frequency_is_accepted():
    compiled = compile_policy(policy_doc(controls=[], session={"signInFrequency": {"isEnabled": True,
                                                                                    "frequencyInterval": "everyTime"}}))

    assert compiled.frequency_seconds == 0
    assert not compiled.has_grant


# --- references, given a catalog -----------------------------------------------------------------


CATALOG_ERRORS = [
    (policy_doc(users={"includeUsers": ["7", "9"]}), "conditions.users.includeUsers[1]"),
    (policy_doc(users={"includeUsers": ["All"], "excludeUsers": ["404"]}), "conditions.users.excludeUsers[0]"),
    (policy_doc(users={"includeGroups": ["g1", "g2", "g-gone"]}), "conditions.users.includeGroups[2]"),
    (policy_doc(users={"includeUsers": ["All"], "excludeGroups": ["g-gone"]}), "conditions.users.excludeGroups[0]"),
    (policy_doc(applications={"includeApplications": ["WatchwordPortal", "radius:wifi"]}),
     "conditions.applications.includeApplications[1]"),
    (policy_doc(applications={"includeApplications": ["All"], "excludeApplications": ["Office 365"]}),
     "conditions.applications.excludeApplications[0]"),
    (policy_doc(locations={"includeLocations": ["office", "head-office"]}), "conditions.locations.includeLocations[1]"),
    (policy_doc(locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted", "gone"]}),
     "conditions.locations.excludeLocations[1]"),
    (policy_doc(controls=[], strength="custom-deleted"), "grantControls.authenticationStrength.id"),
]


@pytest.mark.parametrize(("document", "field"), CATALOG_ERRORS, ids=[f for _, f in CATALOG_ERRORS])
def test_a_reference_to_something_that_does_not_exist_is_refused_naming_it(document, field):
    compile_policy(document)  # the shape alone is fine

    error = refused(document, catalog=CATALOG)

    assert error.field == field
    assert "There is no" in error.public_message


@pytest.mark.parametrize("document", [
    policy_doc(users={"includeUsers": ["All"]}),
    policy_doc(users={"includeUsers": ["None"], "includeGroups": ["g3"]}),
    policy_doc(applications={"includeApplications": ["None"]}),
    policy_doc(locations={"includeLocations": ["AllTrusted"], "excludeLocations": ["office"]}),
    policy_doc(controls=[], strength=st.PASSWORDLESS_MFA.id),
], ids=["all-users", "none-users", "no-apps", "all-trusted", "built-in-strength"])
def test_the_special_values_and_built_in_strengths_need_no_catalog_entry(document):
    compile_policy(document, catalog=CATALOG)


def test_an_empty_catalog_refuses_every_named_reference():
    error = refused(policy_doc(users={"includeUsers": ["7"]}), catalog=Catalog())

    assert error.field == "conditions.users.includeUsers[0]"
