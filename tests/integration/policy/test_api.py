"""Conditional Access and Security Defaults in the REST API, through Django's test client with real
personal tokens: who may call (scopes, and only Global and Security Administrators), policies in
Graph's shape (warnings for dropped parts, field paths for errors, the lockout check and
``?confirm=true``, Graph's merging PATCH), the what-if call and Security Defaults."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from watchword.audit.models import AuditEvent
from watchword.directory.models import Group
from watchword.policy import services
from watchword.policy.models import ConditionalAccessPolicy
from watchword.protocols.tokens import create_token

pytestmark = pytest.mark.django_db

POLICIES = "/identity/conditionalAccess/policies"
EVALUATE = "/identity/conditionalAccess/evaluate"
SECURITY_DEFAULTS = "/policies/identitySecurityDefaultsEnforcementPolicy"
POLICY_SCOPES = "policy.read policy.write"


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    """The compiled configuration is cached by version number, and each test's database starts
    again at version 1."""
    services.forget_cache()
    yield
    services.forget_cache()


class Api:
    def __init__(self, token: str) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def get(self, path: str, **params):
        return self.client.get(f"/api/v1{path}", params, **self.headers)

    def post(self, path: str, body, *, query: str = ""):
        return self.client.post(f"/api/v1{path}{query}", json.dumps(body), content_type="application/json",
                                **self.headers)

    def patch(self, path: str, body, *, query: str = ""):
        return self.client.patch(f"/api/v1{path}{query}", json.dumps(body), content_type="application/json",
                                 **self.headers)

    def delete(self, path: str):
        return self.client.delete(f"/api/v1{path}", **self.headers)


def api_for(person, scopes: str = POLICY_SCOPES) -> Api:
    return Api(create_token(person, name="policy", scopes=scopes)[1])


def error_of(response) -> dict:
    assert response["Content-Type"] == "application/json", response.content[:200]
    return response.json()["error"]


@pytest.fixture
def admin_api(megan):
    return api_for(megan)


@pytest.fixture
def sales(adele):
    group = Group.objects.create(name="Sales")
    group.members.add(adele)
    return group


def require_mfa(name="Require MFA for Sales", *, group="Sales", state="enabled") -> dict:
    return {"displayName": name, "state": state,
            "conditions": {"users": {"includeGroups": [group]}, "applications": {"includeApplications": ["All"]}},
            "grantControls": {"operator": "OR", "builtInControls": ["mfa"]}}


def block_admin_pages() -> dict:
    return {"displayName": "Block admin pages", "state": "enabled",
            "conditions": {"users": {"includeUsers": ["All"]},
                           "applications": {"includeApplications": ["WatchwordAdmin"]}},
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}}


def created(api, document: dict) -> dict:
    response = api.post(POLICIES, document)
    assert response.status_code == 201, response.content
    return response.json()


# --- who may call ------------------------------------------------------------------------------


class TestWhoMayCall:
    def test_a_security_administrator_manages_policies(self, make_person, sales):
        patti = make_person("Patti Fernandez", role="security_admin")

        response = api_for(patti).post(POLICIES, require_mfa())

        assert response.status_code == 201
        assert AuditEvent.objects.get(action="policy.create").actor_label == patti.upn

    @pytest.mark.parametrize("method, path", [("get", POLICIES), ("post", POLICIES), ("post", EVALUATE),
                                              ("get", SECURITY_DEFAULTS), ("patch", SECURITY_DEFAULTS)])
    def test_an_authentication_administrators_token_is_refused_whatever_its_scopes(self, alex, method, path):
        api = api_for(alex)
        response = api.get(path) if method == "get" else getattr(api, method)(path, {"isEnabled": True})

        assert response.status_code == 403
        assert error_of(response)["code"] == "permission_denied"
        assert not services.current_settings().security_defaults

    def test_reading_needs_policy_read(self, megan):
        response = api_for(megan, "users.read").get(POLICIES)

        assert response.status_code == 403
        assert error_of(response)["code"] == "insufficient_scope"
        assert 'scope="policy.read"' in response["WWW-Authenticate"]

    def test_changing_needs_policy_write(self, megan, sales):
        api = api_for(megan, "policy.read")

        assert api.get(POLICIES).status_code == 200
        response = api.post(POLICIES, require_mfa())
        assert response.status_code == 403 and 'scope="policy.write"' in response["WWW-Authenticate"]
        assert api.patch(SECURITY_DEFAULTS, {"isEnabled": True}).status_code == 403
        assert not ConditionalAccessPolicy.objects.exists()


# --- policies ----------------------------------------------------------------------------------


class TestPolicies:
    def test_a_policy_from_the_reference_is_added_with_a_warning_for_each_dropped_part(self, admin_api, sales):
        document = require_mfa()
        document["id"] = "9f3c1d5e-1111-4a4a-9b9b-222233334444"
        document["grantControls"]["builtInControls"] = ["mfa", "compliantDevice"]

        response = admin_api.post(POLICIES, document)

        assert response.status_code == 201
        body = response.json()
        assert response["Location"].endswith(f"/api/v1{POLICIES}/{body['id']}")
        assert body["id"] != document["id"]
        assert body["conditions"]["users"]["includeGroups"] == [str(sales.pk)]
        assert body["grantControls"]["builtInControls"] == ["mfa"]
        assert [w["field"] for w in body["warnings"]] == ["grantControls.builtInControls[1]"]
        assert body["warnings"][0]["message"].startswith("Require compliant device")

    def test_list_and_read_give_graphs_shape(self, admin_api, sales):
        policy = created(admin_api, require_mfa())

        listed = admin_api.get(POLICIES).json()
        read = admin_api.get(f"{POLICIES}/{policy['id']}").json()

        assert listed["@odata.context"].endswith("#identity/conditionalAccess/policies")
        assert listed["value"] == [read]
        assert "warnings" not in read
        assert read["createdDateTime"].endswith("Z") and read["state"] == "enabled"

    def test_an_unknown_group_is_refused_with_its_field_path_and_nothing_is_saved(self, admin_api, sales):
        response = admin_api.post(POLICIES, require_mfa(group="Finance"))

        assert response.status_code == 400
        error = error_of(response)
        assert error["code"] == "policy_invalid"
        assert error["field"] == "conditions.users.includeGroups[0]"
        assert "There is no group 'Finance' here." in error["message"]
        assert not ConditionalAccessPolicy.objects.exists()

    def test_a_policy_that_could_lock_administrators_out_is_409_until_confirmed(self, admin_api, megan):
        response = admin_api.post(POLICIES, block_admin_pages())

        assert response.status_code == 409
        error = error_of(response)
        assert error["code"] == "policy_lockout_risk"
        assert {w["field"] for w in error["warnings"]} == {"state"}
        assert any(f"blocks you ({megan.upn})" in w["message"] for w in error["warnings"])
        assert not ConditionalAccessPolicy.objects.exists()

        response = admin_api.post(POLICIES, block_admin_pages(), query="?confirm=true")

        assert response.status_code == 201
        assert any("blocks every Global Administrator" in w["message"] for w in response.json()["warnings"])

    def test_confirm_takes_only_true_or_false(self, admin_api, sales):
        response = admin_api.post(POLICIES, require_mfa(), query="?confirm=yes")

        assert response.status_code == 400
        assert error_of(response)["field"] == "confirm"

    def test_patch_merges_the_body_into_the_policy(self, admin_api, sales):
        policy = created(admin_api, require_mfa())

        response = admin_api.patch(f"{POLICIES}/{policy['id']}", {
            "state": "enabledForReportingButNotEnforced", "conditions": {"signInRiskLevels": ["high", "medium"]}})

        assert response.status_code == 200, response.content
        body = response.json()
        assert body["state"] == "enabledForReportingButNotEnforced"
        assert body["conditions"]["signInRiskLevels"] == ["high", "medium"]
        assert body["conditions"]["users"]["includeGroups"] == [str(sales.pk)]  # kept
        assert body["warnings"] == []
        assert AuditEvent.objects.filter(action="policy.update").count() == 1

    def test_patch_with_a_bad_value_names_the_field_and_changes_nothing(self, admin_api, sales):
        policy = created(admin_api, require_mfa())

        response = admin_api.patch(f"{POLICIES}/{policy['id']}", {"conditions": {"clientAppTypes": ["fax"]}})

        assert response.status_code == 400
        assert error_of(response)["field"] == "conditions.clientAppTypes[0]"
        unchanged = {key: value for key, value in policy.items() if key != "warnings"}
        assert admin_api.get(f"{POLICIES}/{policy['id']}").json() == unchanged

    def test_delete_removes_it(self, admin_api, sales):
        policy = created(admin_api, require_mfa())

        response = admin_api.delete(f"{POLICIES}/{policy['id']}")

        assert response.status_code == 204
        assert admin_api.get(f"{POLICIES}/{policy['id']}").status_code == 404

    @pytest.mark.parametrize("policy_id", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
    def test_an_unknown_policy_is_404(self, admin_api, policy_id):
        response = admin_api.get(f"{POLICIES}/{policy_id}")

        assert response.status_code == 404
        assert error_of(response)["code"] == "policy_not_found"

    def test_a_policy_cannot_be_turned_on_while_security_defaults_is_on(self, admin_api, sales):
        assert admin_api.patch(SECURITY_DEFAULTS, {"isEnabled": True}).status_code == 200

        response = admin_api.post(POLICIES, require_mfa())

        assert response.status_code == 409
        error = error_of(response)
        assert (error["code"], error["field"]) == ("policy_conflict", "state")
        report_only = admin_api.post(POLICIES, require_mfa(state="enabledForReportingButNotEnforced"))
        assert report_only.status_code == 201

    def test_a_nul_character_anywhere_in_the_body_is_refused(self, admin_api, sales):
        document = require_mfa()
        document["conditions"]["users"]["includeGroups"] = ["Sa\x00les"]

        response = admin_api.post(POLICIES, document)

        assert response.status_code == 400
        assert error_of(response)["field"] == "conditions.users.includeGroups[0]"


# --- what if -----------------------------------------------------------------------------------


class TestEvaluate:
    @pytest.fixture
    def policies(self, admin_api, sales):
        created(admin_api, require_mfa())
        created(admin_api, {"displayName": "Block Android", "state": "enabledForReportingButNotEnforced",
                            "conditions": {"users": {"includeUsers": ["All"]},
                                           "applications": {"includeApplications": ["All"]},
                                           "platforms": {"includePlatforms": ["android"]}},
                            "grantControls": {"operator": "OR", "builtInControls": ["block"]}})

    def test_it_says_which_policies_apply_and_the_first_unmet_condition_of_the_others(self, admin_api, adele,
                                                                                       enrol, policies):
        enrol(adele)

        response = admin_api.post(EVALUATE, {"user": adele.upn, "app": "WatchwordPortal", "ip": "203.0.113.9",
                                             "risk": "none"})

        assert response.status_code == 200, response.content
        found = response.json()
        assert (found["outcome"], found["errorCode"]) == ("require_mfa", 50076)
        assert [p["displayName"] for p in found["appliedPolicies"]] == ["Require MFA for Sales"]
        assert found["appliedPolicies"][0]["controls"] == ["mfa"]
        assert found["notAppliedPolicies"] == [{
            "id": found["notAppliedPolicies"][0]["id"], "displayName": "Block Android", "reportOnly": True,
            "result": "reportOnlyNotApplied", "controls": ["block"],
            "conditionNotSatisfied": "device platforms: unknown is not included"}]
        assert found["reasons"][0]["source"].startswith("conditional_access:")

    def test_report_only_policies_say_what_they_would_have_done(self, admin_api, adele, policies):
        found = admin_api.post(EVALUATE, {"user": str(adele.pk), "app": "WatchwordPortal", "platform": "android",
                                          "client": "mobileAppsAndDesktopClients"}).json()

        assert {p["displayName"]: p["result"] for p in found["appliedPolicies"]}["Block Android"] == \
            "reportOnlyWouldBlock"
        assert found["outcome"] != "block"

    @pytest.mark.parametrize("body, field", [
        ({"app": "WatchwordPortal"}, "user"),
        ({"user": "adele.vance@contoso.example"}, "app"),
        ({"user": "adele.vance@contoso.example", "app": "Payroll"}, "app"),
        ({"user": "adele.vance@contoso.example", "app": "WatchwordPortal", "ip": "nowhere"}, "ip"),
        ({"user": "adele.vance@contoso.example", "app": "WatchwordPortal", "client": None}, "client"),
        ({"user": "adele.vance@contoso.example", "app": "WatchwordPortal", "risk": "extreme"}, "risk"),
        ({"user": "adele.vance@contoso.example", "app": "WatchwordPortal", "userAction": "urn:x"}, "userAction"),
        ({"user": "adele.vance@contoso.example", "app": "WatchwordPortal", "device": "x"}, "device"),
    ])
    def test_a_bad_field_is_400_naming_it(self, admin_api, adele, body, field):
        response = admin_api.post(EVALUATE, body)

        assert response.status_code == 400
        assert error_of(response)["field"] == field

    def test_an_unknown_person_is_404(self, admin_api):
        response = admin_api.post(EVALUATE, {"user": "nobody@contoso.example", "app": "WatchwordPortal"})

        assert response.status_code == 404
        assert error_of(response)["code"] == "user_not_found"


# --- Security Defaults -------------------------------------------------------------------------


class TestSecurityDefaults:
    def test_it_is_read_and_turned_on_and_off(self, admin_api):
        assert admin_api.get(SECURITY_DEFAULTS).json()["isEnabled"] is False

        response = admin_api.patch(SECURITY_DEFAULTS, {"isEnabled": True})

        assert response.status_code == 200
        assert response.json() == admin_api.get(SECURITY_DEFAULTS).json()
        assert response.json()["isEnabled"] is True and response.json()["id"] == \
            "00000000-0000-0000-0000-000000000005"
        assert admin_api.patch(SECURITY_DEFAULTS, {"isEnabled": False}).json()["isEnabled"] is False

    def test_it_cannot_be_turned_on_while_a_policy_is_on(self, admin_api, sales):
        created(admin_api, require_mfa())

        response = admin_api.patch(SECURITY_DEFAULTS, {"isEnabled": True})

        assert response.status_code == 409
        error = error_of(response)
        assert (error["code"], error["field"]) == ("policy_conflict", "isEnabled")
        assert not services.current_settings().security_defaults

    @pytest.mark.parametrize("body, field", [({}, "isEnabled"), ({"isEnabled": "yes"}, "isEnabled"),
                                             ({"isEnabled": True, "displayName": "x"}, "displayName")])
    def test_a_bad_body_is_400_naming_the_field(self, admin_api, body, field):
        response = admin_api.patch(SECURITY_DEFAULTS, body)

        assert response.status_code == 400
        assert error_of(response)["field"] == field
