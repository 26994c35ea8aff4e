"""Conditional Access policies to and from Microsoft Graph's JSON: what Watchword cannot enforce is
dropped with one warning each, never silently, and never so that a policy grants with nothing."""

from __future__ import annotations

import copy
import json
from dataclasses import fields

import pytest

from watchword.policy.document import APP_ADMIN, APP_PORTAL, compile_policy
from watchword.policy.errors import PolicyInvalid
from watchword.policy.graph import MAX_POLICIES, export_many, export_policy, import_many, import_policy
from watchword.policy.strengths import MFA

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
SECURITY_ADMIN = "194ae4cb-b126-40b2-bd5b-6091b380977d"
AUTHENTICATION_ADMIN = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
EXCHANGE_ADMIN = "29232cdf-9323-42fd-ade2-1d097af3e4de"
BREAK_GLASS = "2a0bc8f5-4d1c-4e53-9fd6-0b6b1f1d1b7e"
FINANCE_GROUP = "4f1e2c3d-2b9a-4c8e-9f7a-1d2c3b4a5e6f"
OFFICE_LOCATION = "3d46dbda-8382-466a-856d-eb00cbc6b910"


class Directory:
    """Maps Graph references to Watchword ids, as the import view's resolver does."""

    def __init__(self, identity: bool = False) -> None:
        self.identity = identity
        self.users = {BREAK_GLASS: "7", "alex@contoso.com": "8"}
        self.groups = {FINANCE_GROUP: "12"}
        self.apps = {APP_PORTAL: APP_PORTAL, APP_ADMIN: APP_ADMIN}
        self.locations = {OFFICE_LOCATION: "3"}
        self.strengths = {MFA.id: MFA.id}

    def _find(self, table: dict, value: str) -> str | None:
        return value if self.identity else table.get(value)

    def user(self, value):
        return self._find(self.users, value)

    def group(self, value):
        return self._find(self.groups, value)

    def app(self, value):
        return self._find(self.apps, value)

    def location(self, value):
        return self._find(self.locations, value)

    def strength(self, value):
        return self._find(self.strengths, value)


def require_mfa_for_admins() -> dict:
    """Microsoft's documented example, as GET /identity/conditionalAccess/policies/{id} returns it."""
    return {
        "id": "6b5e999b-0ba8-4186-a106-e0296c1c4358",
        "templateId": None,
        "displayName": "Require MFA for admins",
        "createdDateTime": "2023-02-12T15:28:36.4453286Z",
        "modifiedDateTime": None,
        "state": "enabled",
        "sessionControls": None,
        "conditions": {
            "userRiskLevels": [],
            "signInRiskLevels": [],
            "clientAppTypes": ["all"],
            "servicePrincipalRiskLevels": [],
            "platforms": None,
            "locations": None,
            "devices": None,
            "clientApplications": None,
            "applications": {
                "includeApplications": ["All"],
                "excludeApplications": [],
                "includeUserActions": [],
                "includeAuthenticationContextClassReferences": [],
                "applicationFilter": None,
            },
            "users": {
                "includeUsers": [],
                "excludeUsers": [BREAK_GLASS],
                "includeGroups": [],
                "excludeGroups": [],
                "includeRoles": [GLOBAL_ADMIN, SECURITY_ADMIN, AUTHENTICATION_ADMIN],
                "excludeRoles": [],
                "includeGuestsOrExternalUsers": None,
                "excludeGuestsOrExternalUsers": None,
            },
        },
        "grantControls": {
            "operator": "OR",
            "builtInControls": ["mfa"],
            "customAuthenticationFactors": [],
            "termsOfUse": [],
            "authenticationStrength@odata.context": "https://graph.microsoft.com/v1.0/$metadata#identity/"
                                                    "conditionalAccess/policies('6b5e999b')/grantControls/"
                                                    "authenticationStrength/$entity",
            "authenticationStrength": None,
        },
    }


def with_changes(change) -> dict:
    policy = require_mfa_for_admins()
    change(policy)
    return policy


def place(policy: dict, path: str, value) -> None:
    """Set ``value`` at a dotted ``path``, creating objects Graph left null."""
    *parents, key = [path] if path.startswith("@") else path.split(".")
    for parent in parents:
        if policy.get(parent) is None:
            policy[parent] = {}
        policy = policy[parent]
    policy[key] = value


def fields_of(result) -> list[str]:
    return [w.field for w in result.warnings]


def test_microsofts_require_mfa_for_admins_example_imports_as_expected_without_warnings():
    result = import_policy(require_mfa_for_admins(), resolve=Directory())

    assert result.warnings == ()
    assert result.document == {
        "displayName": "Require MFA for admins",
        "state": "enabled",
        "conditions": {
            "clientAppTypes": ["all"],
            "applications": {"includeApplications": ["All"]},
            "users": {"excludeUsers": ["7"],
                      "includeRoles": ["global_admin", "security_admin", "authentication_admin"]},
        },
        "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
    }


def test_json_text_and_bytes_import_like_the_object():
    text = json.dumps(require_mfa_for_admins())
    expected = import_policy(require_mfa_for_admins(), resolve=Directory()).document

    assert import_policy(text, resolve=Directory()).document == expected
    assert import_policy(text.encode(), resolve=Directory()).document == expected


def test_invalid_json_text_is_refused_with_a_clear_message():
    with pytest.raises(PolicyInvalid, match="not valid JSON"):
        import_policy('{"displayName": "Broken",', resolve=Directory())


def test_a_policy_over_64_kb_is_refused():
    policy = with_changes(lambda p: p.update(displayName="x" * 70_000))

    with pytest.raises(PolicyInvalid, match="64 KB"):
        import_policy(policy, resolve=Directory())


@pytest.mark.parametrize(("path", "value"), [
    ("conditions.userRiskLevels", ["high"]),
    ("conditions.servicePrincipalRiskLevels", ["medium"]),
    ("conditions.insiderRiskLevels", "elevated"),
    ("conditions.authenticationFlows", {"transferMethods": "deviceCodeFlow"}),
    ("conditions.devices", {"deviceFilter": {"mode": "exclude", "rule": "device.isCompliant -eq True"}}),
    ("conditions.clientApplications", {"includeServicePrincipals": ["All"]}),
    ("conditions.users.excludeGuestsOrExternalUsers", {"guestOrExternalUserTypes": "b2bCollaborationGuest"}),
    ("conditions.applications.applicationFilter", {"mode": "include", "rule": "CustomSecurityAttribute.x -eq 1"}),
    ("sessionControls.applicationEnforcedRestrictions", {"isEnabled": True}),
    ("sessionControls.cloudAppSecurity", {"isEnabled": True, "cloudAppSecurityType": "monitorOnly"}),
    ("sessionControls.continuousAccessEvaluation", {"mode": "strictEnforcement"}),
    ("sessionControls.disableResilienceDefaults", True),
    ("sessionControls.secureSignInSession", {"isEnabled": True}),
    ("templateId", "c7503427-338e-4c5e-902d-abe252abfb43"),
    ("partialEnablementStrategy", "reportOnly"),
    ("deletedDateTime", "2024-01-01T00:00:00Z"),
    ("@odata.context", "https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies/$entity"),
])
def test_each_field_watchword_does_not_enforce_gives_exactly_one_warning_naming_it(path, value):
    policy = require_mfa_for_admins()
    place(policy, path, value)

    result = import_policy(policy, resolve=Directory())

    assert fields_of(result) == [path]
    assert "dropped" in result.warnings[0].message
    assert path.split(".")[-1] not in json.dumps(result.document)


def test_a_null_or_empty_unenforced_field_needs_no_warning():
    def change(policy):
        policy["conditions"].update(userRiskLevels=[], devices=None, insiderRiskLevels=None)
        policy["sessionControls"] = {"disableResilienceDefaults": False, "cloudAppSecurity": None,
                                     "signInFrequency": {"isEnabled": False}}

    assert import_policy(with_changes(change), resolve=Directory()).warnings == ()


def test_a_dropped_user_risk_condition_says_the_policy_now_applies_whatever_the_risk():
    policy = with_changes(lambda p: p["conditions"].update(userRiskLevels=["high"]))

    (warning,) = import_policy(policy, resolve=Directory()).warnings

    assert warning.message == ("User risk (userRiskLevels): Watchword does not evaluate it; dropped. The policy now "
                               "applies whatever the user risk: more sign-ins now get its controls.")


def test_a_condition_dropped_from_a_block_policy_says_it_now_blocks_more():
    def change(policy):
        policy["conditions"]["signInRiskLevels"] = ["high"]
        policy["conditions"]["devices"] = {"deviceFilter": {"mode": "exclude", "rule": "device.isCompliant -eq True"}}
        policy["grantControls"]["builtInControls"] = ["block"]

    (warning,) = import_policy(with_changes(change), resolve=Directory()).warnings

    assert warning.field == "conditions.devices"
    assert warning.message.endswith("whatever the device: it now blocks more sign-ins.")


def test_a_compliant_device_or_mfa_policy_keeps_mfa_and_says_it_is_stricter():
    policy = with_changes(lambda p: p["grantControls"].update(builtInControls=["mfa", "compliantDevice"]))

    result = import_policy(policy, resolve=Directory())

    assert result.document["grantControls"] == {"operator": "OR", "builtInControls": ["mfa"]}
    (warning,) = result.warnings
    assert warning.field == "grantControls.builtInControls[1]"
    assert warning.message.startswith("Require compliant device: Watchword has no device management; dropped.")
    assert "still requires MFA" in warning.message and "stricter" in warning.message


def test_a_control_dropped_from_require_all_warns_that_the_policy_is_weaker():
    policy = with_changes(lambda p: p["grantControls"].update(operator="AND",
                                                               builtInControls=["mfa", "domainJoinedDevice"]))

    (warning,) = import_policy(policy, resolve=Directory()).warnings

    assert warning.field == "grantControls.builtInControls[1]"
    assert "weaker" in warning.message and "only requires MFA" in warning.message


def test_terms_of_use_beside_mfa_is_dropped_with_one_warning():
    policy = with_changes(lambda p: p["grantControls"].update(operator="AND", termsOfUse=["b1e2e3f4-tou"]))

    result = import_policy(policy, resolve=Directory())

    assert fields_of(result) == ["grantControls.termsOfUse[0]"]
    assert "termsOfUse" not in result.document["grantControls"]


@pytest.mark.parametrize("controls", [["compliantDevice"], ["compliantDevice", "approvedApplication"],
                                      ["passwordChange"]])
def test_a_policy_whose_every_control_is_dropped_is_refused(controls):
    policy = with_changes(lambda p: p["grantControls"].update(builtInControls=controls))

    with pytest.raises(PolicyInvalid, match="No control remains") as caught:
        import_policy(policy, resolve=Directory())

    assert caught.value.field == "grantControls.builtInControls"


def test_a_policy_left_with_only_dropped_session_controls_is_refused():
    def change(policy):
        policy["grantControls"] = None
        policy["sessionControls"] = {"cloudAppSecurity": {"isEnabled": True, "cloudAppSecurityType": "blockDownloads"}}

    with pytest.raises(PolicyInvalid, match="would do nothing") as caught:
        import_policy(with_changes(change), resolve=Directory())

    assert caught.value.field == "sessionControls.cloudAppSecurity"


def test_an_unknown_group_is_an_error_naming_its_path_and_value():
    policy = with_changes(lambda p: p["conditions"]["users"].update(excludeGroups=[FINANCE_GROUP, "Contractors"]))

    with pytest.raises(PolicyInvalid, match="'Contractors'") as caught:
        import_policy(policy, resolve=Directory())

    assert caught.value.field == "conditions.users.excludeGroups[1]"
    assert "Map it" in caught.value.public_message


def test_users_groups_and_locations_are_resolved_to_watchword_ids():
    def change(policy):
        policy["conditions"]["users"].update(includeUsers=["alex@contoso.com"], includeGroups=[FINANCE_GROUP])
        policy["conditions"]["locations"] = {"includeLocations": ["All"], "excludeLocations": [OFFICE_LOCATION,
                                                                                               "AllTrusted"]}

    conditions = import_policy(with_changes(change), resolve=Directory()).document["conditions"]

    assert conditions["users"]["includeUsers"] == ["8"]
    assert conditions["users"]["includeGroups"] == ["12"]
    assert conditions["locations"] == {"includeLocations": ["All"], "excludeLocations": ["3", "AllTrusted"]}


def test_guests_or_external_users_are_dropped_with_a_warning():
    policy = with_changes(lambda p: p["conditions"]["users"].update(excludeUsers=[BREAK_GLASS,
                                                                                  "GuestsOrExternalUsers"]))

    result = import_policy(policy, resolve=Directory())

    assert fields_of(result) == ["conditions.users.excludeUsers[1]"]
    assert "guest" in result.warnings[0].message
    assert result.document["conditions"]["users"]["excludeUsers"] == ["7"]


def test_a_policy_only_for_guests_is_refused_as_it_would_target_nobody():
    def change(policy):
        policy["conditions"]["users"].update(includeRoles=[], includeUsers=["GuestsOrExternalUsers"])

    with pytest.raises(PolicyInvalid, match="target nobody") as caught:
        import_policy(with_changes(change), resolve=Directory())

    assert caught.value.field == "conditions.users.includeUsers[0]"


def test_a_role_watchword_does_not_have_is_dropped_with_a_warning_per_role():
    policy = with_changes(lambda p: p["conditions"]["users"].update(includeRoles=[GLOBAL_ADMIN, EXCHANGE_ADMIN]))

    result = import_policy(policy, resolve=Directory())

    assert fields_of(result) == ["conditions.users.includeRoles[1]"]
    assert EXCHANGE_ADMIN in result.warnings[0].message
    assert result.document["conditions"]["users"]["includeRoles"] == ["global_admin"]


def test_a_policy_only_for_roles_watchword_does_not_have_is_refused():
    policy = with_changes(lambda p: p["conditions"]["users"].update(includeRoles=[EXCHANGE_ADMIN]))

    with pytest.raises(PolicyInvalid, match="target nobody") as caught:
        import_policy(policy, resolve=Directory())

    assert caught.value.field == "conditions.users.includeRoles[0]"


def test_microsoft_admin_portals_is_mapped_to_the_admin_pages_with_a_warning():
    policy = with_changes(lambda p: p["conditions"]["applications"].update(includeApplications=[
        "MicrosoftAdminPortals"]))

    result = import_policy(policy, resolve=Directory())

    assert result.document["conditions"]["applications"]["includeApplications"] == [APP_ADMIN]
    assert fields_of(result) == ["conditions.applications.includeApplications[0]"]
    assert APP_ADMIN in result.warnings[0].message


def test_office_365_is_an_error_until_it_is_mapped():
    policy = with_changes(lambda p: p["conditions"]["applications"].update(includeApplications=["Office365"]))

    with pytest.raises(PolicyInvalid, match="Office365") as caught:
        import_policy(policy, resolve=Directory())

    assert caught.value.field == "conditions.applications.includeApplications[0]"


def test_exchange_activesync_is_dropped_and_other_legacy_clients_are_kept():
    policy = with_changes(lambda p: p["conditions"].update(clientAppTypes=["exchangeActiveSync", "other"]))

    result = import_policy(policy, resolve=Directory())

    assert result.document["conditions"]["clientAppTypes"] == ["other"]
    assert fields_of(result) == ["conditions.clientAppTypes[0]"]


def test_a_client_list_left_empty_is_refused_because_empty_would_mean_every_client():
    def change(policy):
        policy["conditions"]["clientAppTypes"] = ["exchangeActiveSync"]
        policy["grantControls"]["builtInControls"] = ["block"]

    with pytest.raises(PolicyInvalid, match="empty list would mean any") as caught:
        import_policy(with_changes(change), resolve=Directory())

    assert caught.value.field == "conditions.clientAppTypes"


def test_windows_phone_is_dropped_from_the_platforms():
    policy = with_changes(lambda p: p["conditions"].update(platforms={"includePlatforms": ["android", "windowsPhone"],
                                                                      "excludePlatforms": []}))

    result = import_policy(policy, resolve=Directory())

    assert result.document["conditions"]["platforms"] == {"includePlatforms": ["android"]}
    assert fields_of(result) == ["conditions.platforms.includePlatforms[1]"]


def test_a_sign_in_frequency_for_the_second_factor_only_keeps_the_frequency_with_a_warning():
    policy = with_changes(lambda p: p.update(sessionControls={"signInFrequency": {
        "value": 4, "type": "hours", "authenticationType": "secondaryAuthentication",
        "frequencyInterval": "timeBased", "isEnabled": True}}))

    result = import_policy(policy, resolve=Directory())

    assert compile_policy(result.document).frequency_seconds == 4 * 3600
    assert fields_of(result) == ["sessionControls.signInFrequency.authenticationType"]


def test_an_authentication_strength_keeps_only_its_resolved_id():
    def change(policy):
        policy["grantControls"].update(builtInControls=[], authenticationStrength={
            "id": MFA.id, "displayName": "Multifactor authentication", "policyType": "builtIn",
            "requirementsSatisfied": "mfa", "allowedCombinations": ["password,sms", "fido2"]})

    result = import_policy(with_changes(change), resolve=Directory())

    assert result.document["grantControls"] == {"operator": "OR", "builtInControls": [],
                                                "authenticationStrength": {"id": MFA.id}}
    assert result.warnings == ()


def test_graphs_list_envelope_imports_every_policy():
    envelope = {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies",
                "value": [require_mfa_for_admins(), require_mfa_for_admins()]}

    results = import_many(json.dumps(envelope), resolve=Directory())

    assert [r.document["displayName"] for r in results] == ["Require MFA for admins"] * 2


def test_import_many_accepts_a_list_or_a_single_policy():
    assert len(import_many([require_mfa_for_admins()], resolve=Directory())) == 1
    assert len(import_many(require_mfa_for_admins(), resolve=Directory())) == 1


def test_an_error_in_a_listed_policy_names_the_policy_index():
    bad = with_changes(lambda p: p["conditions"]["users"].update(includeGroups=["Unknown group"]))

    with pytest.raises(PolicyInvalid, match="Policy 2") as caught:
        import_many({"value": [require_mfa_for_admins(), bad]}, resolve=Directory())

    assert caught.value.field == "value[1].conditions.users.includeGroups[0]"


def test_more_than_a_thousand_policies_are_refused():
    with pytest.raises(PolicyInvalid, match=str(MAX_POLICIES)):
        import_many({"value": [{}] * (MAX_POLICIES + 1)}, resolve=Directory())


def test_one_page_of_a_paged_list_is_refused_so_no_policy_is_left_behind():
    envelope = {"value": [require_mfa_for_admins()], "@odata.nextLink": "https://graph.microsoft.com/next"}

    with pytest.raises(PolicyInvalid, match="nextLink"):
        import_many(envelope, resolve=Directory())


def test_export_has_every_graph_key_with_roles_as_entra_template_ids():
    document = import_policy(require_mfa_for_admins(), resolve=Directory()).document

    exported = export_policy(document, id="p1", created="2025-01-02T03:04:05Z", modified=None)

    assert exported["id"] == "p1" and exported["sessionControls"] is None
    assert exported["conditions"]["users"]["includeRoles"] == [GLOBAL_ADMIN, SECURITY_ADMIN, AUTHENTICATION_ADMIN]
    assert exported["conditions"]["userRiskLevels"] == [] and exported["conditions"]["platforms"] is None
    assert exported["grantControls"] == {"operator": "OR", "builtInControls": ["mfa"],
                                         "customAuthenticationFactors": [], "termsOfUse": [],
                                         "authenticationStrength": None}
    assert export_many([exported]) == {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#identity/conditionalAccess/policies",
        "value": [exported]}


ROUND_TRIP = [
    import_policy(require_mfa_for_admins(), resolve=Directory()).document,
    {"displayName": "Block legacy clients", "state": "enabledForReportingButNotEnforced",
     "conditions": {"users": {"includeUsers": ["All"], "excludeUsers": ["7"], "excludeGroups": ["12"]},
                    "applications": {"includeApplications": ["All"], "excludeApplications": ["radius:vpn"]},
                    "clientAppTypes": ["other", "radius"]},
     "grantControls": {"operator": "OR", "builtInControls": ["block"]}},
    {"displayName": "Strong MFA outside the office", "state": "enabled",
     "conditions": {"users": {"includeGroups": ["12"], "excludeRoles": ["global_admin"]},
                    "applications": {"includeApplications": [APP_PORTAL, APP_ADMIN]},
                    "platforms": {"includePlatforms": ["all"], "excludePlatforms": ["iOS"]},
                    "locations": {"includeLocations": ["All"], "excludeLocations": ["3", "AllTrusted"]},
                    "signInRiskLevels": ["medium", "high"]},
     "grantControls": {"operator": "AND", "authenticationStrength": {"id": MFA.id}},
     "sessionControls": {"signInFrequency": {"isEnabled": True, "type": "days", "value": 7}}},
    {"displayName": "Register security info", "state": "disabled",
     "conditions": {"users": {"includeUsers": ["All"]},
                    "applications": {"includeUserActions": ["urn:user:registersecurityinfo"]}},
     "grantControls": {"operator": "OR", "builtInControls": ["mfa"]},
     "sessionControls": {"signInFrequency": {"isEnabled": True, "frequencyInterval": "everyTime"}}},
    {"displayName": "Never stay signed in", "state": "enabled",
     "conditions": {"users": {"includeUsers": ["All"]}, "applications": {"includeApplications": ["All"]}},
     "sessionControls": {"persistentBrowser": {"isEnabled": True, "mode": "never"}}},
]


@pytest.mark.parametrize("document", ROUND_TRIP, ids=[d["displayName"] for d in ROUND_TRIP])
def test_export_then_import_gives_back_an_equal_compiled_policy_without_warnings(document):
    exported = export_policy(copy.deepcopy(document), id="p1", created=None, modified=None)

    (result,) = import_many(json.dumps(export_many([exported])), resolve=Directory(identity=True))

    before, after = compile_policy(document, id="p1"), compile_policy(result.document, id="p1")
    assert [getattr(before, f.name) for f in fields(before) if f.compare] == \
           [getattr(after, f.name) for f in fields(after) if f.compare]
    assert result.warnings == ()
