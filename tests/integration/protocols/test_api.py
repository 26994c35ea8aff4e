"""The REST API (/api/v1) through Django's test client: who may call it (personal tokens and
client-credentials tokens, scopes, roles), people and per-user MFA, methods, the logs, code
verification and challenges (push answered by the authenticator's own signatures, texts read
from the outbox), and the refusals each bad input gets."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.support import let_throttle_time_pass
from watchword.audit.models import AuditEvent, SignInEvent
from watchword.directory.models import User
from watchword.methods.models import Method
from watchword.protocols.models import PersonalToken
from watchword.protocols.scopes import API_SCOPES
from watchword.protocols.tokens import create_token, revoke_token

pytestmark = pytest.mark.django_db

ALL = " ".join(API_SCOPES)


class Api:
    """A backend calling the API with one bearer token."""

    def __init__(self, token: str) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def get(self, path: str, **params):
        return self.client.get(f"/api/v1{path}", params, **self.headers)

    def post(self, path: str, body=None, *, raw: bytes | None = None, content_type: str = "application/json"):
        data = raw if raw is not None else json.dumps({} if body is None else body)
        return self.client.post(f"/api/v1{path}", data, content_type=content_type, **self.headers)

    def patch(self, path: str, body):
        return self.client.patch(f"/api/v1{path}", json.dumps(body), content_type="application/json", **self.headers)

    def delete(self, path: str):
        return self.client.delete(f"/api/v1{path}", **self.headers)


def error_of(response) -> dict:
    assert response["Content-Type"] == "application/json", response.content[:200]
    return response.json()["error"]


@pytest.fixture
def admin_api(megan):
    _, token = create_token(megan, name="tests", scopes=ALL)
    return Api(token)


@pytest.fixture
def helpdesk_api(alex):
    _, token = create_token(alex, name="helpdesk", scopes=ALL)
    return Api(token)


def service_token(scopes: str) -> str:
    """A client-credentials access token, obtained from the token endpoint like any backend."""
    from oauth2_provider.models import get_application_model

    from watchword.protocols.models import OidcClientScopes

    Application = get_application_model()
    app = Application(name="Payroll", client_type=Application.CLIENT_CONFIDENTIAL,
                      authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS, client_secret="s3cret-" * 6)
    app.save()
    OidcClientScopes.objects.create(application=app, scopes=scopes)
    response = Client().post("/o/token/", {"grant_type": "client_credentials", "scope": scopes},
                             HTTP_AUTHORIZATION="Basic " + __import__("base64").b64encode(
                                 f"{app.client_id}:{'s3cret-' * 6}".encode()).decode())
    assert response.status_code == 200, response.content
    return response.json()["access_token"]


# --- who may call ----------------------------------------------------------------------------


class TestAuthentication:
    def test_no_token_is_401_with_the_rfc_6750_challenge(self, adele):
        response = Client().get("/api/v1/users")
        assert response.status_code == 401
        assert error_of(response)["code"] == "invalid_token"
        assert 'error="invalid_token"' in response["WWW-Authenticate"]

    @pytest.mark.parametrize("header", ["Bearer", "Bearer wwp_notarealtoken", "Basic dXNlcjpwYXNz", "Bearer \u00e9t\u00e9",
                                        "Bearer " + "x" * 600, "bearer  "])
    def test_bad_tokens_are_401(self, header):
        response = Client().get("/api/v1/users", HTTP_AUTHORIZATION=header)
        assert response.status_code == 401
        assert error_of(response)["code"] == "invalid_token"

    def test_a_missing_scope_is_403_naming_it(self, megan):
        _, token = create_token(megan, name="reader", scopes="logs.read")
        response = Api(token).get("/users")
        assert response.status_code == 403
        assert error_of(response)["code"] == "insufficient_scope"
        assert 'scope="users.read"' in response["WWW-Authenticate"]

    def test_revoked_and_expired_tokens_stop_working(self, megan):
        row, token = create_token(megan, name="short", scopes="users.read")
        api = Api(token)
        assert api.get("/users").status_code == 200
        PersonalToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
        assert api.get("/users").status_code == 401
        PersonalToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() + timedelta(days=1))
        assert api.get("/users").status_code == 200
        assert revoke_token(row, actor=megan) is True
        assert revoke_token(row, actor=megan) is False
        assert api.get("/users").status_code == 401

    def test_a_token_stops_working_when_its_owner_is_no_longer_an_admin(self, megan, alex):
        _, token = create_token(alex, name="helpdesk", scopes="users.read")
        api = Api(token)
        assert api.get("/users").status_code == 200
        User.objects.filter(pk=alex.pk).update(role="user")
        assert api.get("/users").status_code == 401

    def test_only_admins_get_tokens_and_only_known_scopes(self, adele, megan):
        from watchword.core.errors import WatchwordError

        with pytest.raises(WatchwordError, match="administrators"):
            create_token(adele, name="mine", scopes="users.read")
        with pytest.raises(WatchwordError, match="Unknown scope 'admin'"):
            create_token(megan, name="x", scopes="users.read admin")
        with pytest.raises(WatchwordError, match="1 to 366 days"):
            create_token(megan, name="x", scopes="users.read", days="400")
        assert not PersonalToken.objects.exists()

    def test_tokens_are_kept_only_as_their_hash(self, megan):
        row, token = create_token(megan, name="ci", scopes="users.read")
        stored = json.dumps(list(PersonalToken.objects.values()), default=str)
        assert token not in stored and token[4:] not in stored
        assert row.hint == token[:8]
        assert AuditEvent.objects.filter(action="api.token.create", actor=megan).exists()

    def test_client_credentials_tokens_work_with_their_scopes(self, adele):
        api = Api(service_token("users.read logs.read"))
        assert api.get("/users").status_code == 200
        assert api.get("/auditLogs/signIns").status_code == 200
        response = api.get(f"/users/{adele.pk}/authentication/methods")
        assert response.status_code == 403 and error_of(response)["code"] == "insufficient_scope"

    def test_unknown_paths_and_methods_get_json_errors(self, admin_api):
        response = admin_api.get("/nothing/here")
        assert response.status_code == 404 and error_of(response)["code"] == "not_found"
        response = admin_api.client.put("/api/v1/users", "{}", content_type="application/json", **admin_api.headers)
        assert response.status_code == 405 and response["Allow"] == "GET, POST"


# --- people and per-user MFA ------------------------------------------------------------------


class TestUsers:
    def test_list_filters_and_pages(self, admin_api, make_person):
        for index in range(5):
            make_person(f"Person {index}", mfa_state="enforced" if index % 2 else "disabled")
        first = admin_api.get("/users", top=2)
        assert first.status_code == 200
        body = first.json()
        assert len(body["value"]) == 2 and "nextLink" in body
        seen = [u["id"] for u in body["value"]]
        while "nextLink" in body:
            body = admin_api.client.get(body["nextLink"], **admin_api.headers).json()
            seen += [u["id"] for u in body["value"]]
        assert len(seen) == len(set(seen)) == User.objects.count()
        enforced = admin_api.get("/users", perUserMfaState="enforced").json()["value"]
        assert {u["displayName"] for u in enforced} == {"Person 1", "Person 3"}
        assert [u["displayName"] for u in admin_api.get("/users", search="person 4").json()["value"]] == ["Person 4"]

    @pytest.mark.parametrize("params, field", [({"top": "0"}, "top"), ({"top": "abc"}, "top"),
                                               ({"top": "1000"}, "top"), ({"skiptoken": "-3"}, "skiptoken"),
                                               ({"perUserMfaState": "on"}, "perUserMfaState"),
                                               ({"role": "root"}, "role")])
    def test_bad_query_parameters_name_the_parameter(self, admin_api, params, field):
        response = admin_api.get("/users", **params)
        assert response.status_code == 400
        assert error_of(response)["field"] == field

    def test_read_by_id_or_upn(self, admin_api, adele):
        by_id = admin_api.get(f"/users/{adele.pk}").json()
        assert by_id == admin_api.get(f"/users/{adele.upn.upper()}").json()
        assert by_id["userPrincipalName"] == adele.upn
        assert by_id["officePhone"] == "+44 2079460958 x123"
        assert by_id["perUserMfaState"] == "disabled"
        response = admin_api.get("/users/nobody@contoso.example")
        assert response.status_code == 404 and error_of(response)["code"] == "user_not_found"

    def test_create_returns_a_one_time_password_and_is_audited(self, admin_api, megan):
        response = admin_api.post("/users", {"userPrincipalName": "Nestor.Wilke@Contoso.example",
                                             "displayName": "Nestor Wilke", "mobilePhone": "+1 425 555 0100"})
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["userPrincipalName"] == "nestor.wilke@contoso.example"
        assert body["mobilePhone"] == "+1 4255550100"
        assert len(body["oneTimePassword"]) == 19
        assert response["Location"].endswith(f"/api/v1/users/{body['id']}")
        user = User.objects.get(pk=body["id"])
        assert user.must_change_password and user.check_password(body["oneTimePassword"])
        assert AuditEvent.objects.filter(action="user.create", actor=megan, target_id=body["id"]).exists()

    @pytest.mark.parametrize("body, status, code, field", [
        ({"displayName": "No Name"}, 400, "invalid_user_field", "userPrincipalName"),
        ({"userPrincipalName": "not-an-address", "displayName": "X"}, 400, "invalid_user_field", "userPrincipalName"),
        ({"userPrincipalName": "x@contoso.example", "displayName": ""}, 400, "invalid_user_field", "displayName"),
        ({"userPrincipalName": "x@contoso.example", "displayName": "X", "mobilePhone": "12"}, 400, "invalid_user_field",
         "mobilePhone"),
        ({"userPrincipalName": "x@contoso.example", "displayName": "X", "shoeSize": 9}, 400, "unknown_field",
         "shoeSize"),
        ({"userPrincipalName": "x@contoso.example", "displayName": 5}, 400, "invalid_request", "displayName"),
        ({"userPrincipalName": "x@contoso.example", "displayName": "X", "accountEnabled": "yes"}, 400,
         "invalid_request", "accountEnabled"),
        ({"userPrincipalName": "megan.bowen@contoso.example", "displayName": "Again"}, 409, "user_exists",
         "userPrincipalName"),
    ])
    def test_bad_users_are_refused_naming_the_field_and_nothing_is_saved(self, admin_api, megan, body, status, code,
                                                                         field):
        before = User.objects.count()
        response = admin_api.post("/users", body)
        assert response.status_code == status, response.content
        error = error_of(response)
        assert (error["code"], error.get("field")) == (code, field)
        assert User.objects.count() == before

    @pytest.mark.parametrize("raw, content_type, status, code", [
        (b"{not json", "application/json", 400, "invalid_request"),
        (b"[1, 2]", "application/json", 400, "invalid_request"),
        (b"\xff\xfe", "application/json", 400, "invalid_request"),
        (b"userPrincipalName=x", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        (b'{"displayName": "' + b"x" * 70000 + b'"}', "application/json", 413, "body_too_large"),
    ])
    def test_bodies_that_are_not_json_objects_are_refused(self, admin_api, raw, content_type, status, code):
        response = admin_api.post("/users", raw=raw, content_type=content_type)
        assert response.status_code == status
        assert error_of(response)["code"] == code

    def test_update_and_disable(self, admin_api, adele):
        response = admin_api.patch(f"/users/{adele.pk}", {"displayName": "Adele V.", "accountEnabled": False})
        assert response.status_code == 200, response.content
        assert response.json()["displayName"] == "Adele V." and response.json()["accountEnabled"] is False
        adele.refresh_from_db()
        assert adele.display_name == "Adele V." and not adele.is_active

    def test_applications_cannot_hand_out_admin_roles(self, adele):
        api = Api(service_token("users.read users.write"))
        response = api.patch(f"/users/{adele.pk}", {"role": "global_admin"})
        assert response.status_code == 403 and error_of(response)["field"] == "role"
        adele.refresh_from_db()
        assert adele.role == "user"

    def test_authentication_admins_cannot_change_admins(self, helpdesk_api, megan, adele):
        response = helpdesk_api.patch(f"/users/{megan.pk}", {"accountEnabled": False})
        assert response.status_code == 403 and error_of(response)["code"] == "permission_denied"
        assert User.objects.get(pk=megan.pk).is_active
        assert helpdesk_api.patch(f"/users/{adele.pk}", {"displayName": "Adele"}).status_code == 200
        response = helpdesk_api.patch(f"/users/{adele.pk}", {"role": "global_admin"})
        assert response.status_code == 403

    def test_the_last_global_admin_cannot_be_disabled(self, admin_api, megan):
        response = admin_api.patch(f"/users/{megan.pk}", {"accountEnabled": False})
        assert response.status_code in (400, 409) and error_of(response)["code"] == "last_global_admin"
        assert User.objects.get(pk=megan.pk).is_active

    def test_per_user_mfa_state(self, admin_api, adele, enrol, megan):
        path = f"/users/{adele.pk}/authentication/requirements"
        assert admin_api.get(path).json() == {"perUserMfaState": "disabled"}
        assert admin_api.patch(path, {"perUserMfaState": "enabled"}).json() == {"perUserMfaState": "enabled"}
        enrol(adele)  # registration completes: enabled becomes enforced, as in the reference
        assert admin_api.get(path).json() == {"perUserMfaState": "enforced"}
        response = admin_api.patch(path, {"perUserMfaState": "on"})
        assert response.status_code == 400 and error_of(response)["field"] == "perUserMfaState"
        assert admin_api.patch(path, {}).status_code == 400
        assert AuditEvent.objects.filter(action="user.mfa.state", actor=megan).exists()


# --- methods ----------------------------------------------------------------------------------


class TestMethods:
    def test_list_add_phone_delete(self, admin_api, adele, enrol, megan):
        enrol(adele)
        base = f"/users/{adele.pk}/authentication"
        response = admin_api.post(f"{base}/phoneMethods", {"phoneNumber": "07400 123456", "phoneType": "mobile"})
        assert response.status_code == 201, response.content
        phone = response.json()
        assert phone["type"] == "phone" and phone["phoneType"] == "mobile" and phone["phoneNumber"] == "+44 7400123456"
        listed = admin_api.get(f"{base}/methods").json()["value"]
        assert [m["type"] for m in listed] == ["softwareOath", "phone"]
        assert admin_api.get(f"{base}/methods/{phone['id']}").json() == phone
        again = admin_api.post(f"{base}/phoneMethods", {"phoneNumber": "07400 123457", "phoneType": "mobile"})
        assert again.status_code == 409 and error_of(again)["field"] == "phoneType"
        assert admin_api.delete(f"{base}/methods/{phone['id']}").status_code == 204
        assert admin_api.get(f"{base}/methods/{phone['id']}").status_code == 404
        assert admin_api.delete(f"{base}/methods/{phone['id']}").status_code == 404
        actions = set(AuditEvent.objects.filter(actor=megan).values_list("action", flat=True))
        assert {"method.add", "method.delete"} <= actions

    @pytest.mark.parametrize("body, field", [({"phoneNumber": "12", "phoneType": "mobile"}, "phoneNumber"),
                                             ({"phoneNumber": "+44 20 7946 0958", "phoneType": "fax"}, "phoneType"),
                                             ({"phoneNumber": "+44 7400 123456 x12", "phoneType": "mobile"},
                                              "phoneNumber"),
                                             ({"phoneNumber": 447700900123, "phoneType": "mobile"}, "phoneNumber")])
    def test_bad_phones_are_refused(self, admin_api, adele, body, field):
        response = admin_api.post(f"/users/{adele.pk}/authentication/phoneMethods", body)
        assert response.status_code == 400, response.content
        assert error_of(response)["field"] == field
        assert not Method.objects.filter(user=adele).exists()

    def test_office_phone_keeps_its_extension(self, admin_api, adele):
        response = admin_api.post(f"/users/{adele.pk}/authentication/phoneMethods",
                                  {"phoneNumber": "+44 20 7946 0958 x123", "phoneType": "office"})
        assert response.status_code == 201
        assert response.json()["phoneNumber"] == "+44 2079460958 x123"

    def test_the_last_method_of_an_enforced_person_stays(self, admin_api, adele, enrol, megan):
        from watchword.methods.services import set_mfa_state

        set_mfa_state(adele, "enforced", actor=megan, notify=False)
        auth = enrol(adele)
        response = admin_api.delete(f"/users/{adele.pk}/authentication/methods/{auth.method.pk}")
        assert response.status_code in (400, 409) and error_of(response)["code"] == "last_method_required"
        assert Method.objects.filter(user=adele).exists()

    def test_require_reregistration(self, admin_api, adele, enrol, megan):
        from watchword.methods.services import set_mfa_state

        set_mfa_state(adele, "enabled", actor=megan, notify=False)
        enrol(adele)
        response = admin_api.post(f"/users/{adele.pk}/authentication/requireReregistration", {})
        assert response.status_code == 200 and response.json() == {"perUserMfaState": "enabled"}
        assert not Method.objects.filter(user=adele).exists()


# --- logs -------------------------------------------------------------------------------------


class TestLogs:
    def test_sign_ins_newest_first_with_filters(self, admin_api, adele, sign_in):
        for _ in range(3):
            sign_in.password(Client(), adele.upn, "wrong password")
        sign_in.password(Client(), adele.upn)
        rows = admin_api.get("/auditLogs/signIns", user=adele.upn).json()["value"]
        assert [r["result"] for r in rows][:4] == ["success", "failure", "failure", "failure"]
        assert rows[1]["status"] == {"errorCode": 50126, "failureReason": "wrong password"}
        failures = admin_api.get("/auditLogs/signIns", errorCode="50126", top="2").json()
        assert len(failures["value"]) == 2 and "nextLink" in failures
        assert admin_api.get("/auditLogs/signIns", since="2999-01-01T00:00:00Z").json()["value"] == []
        response = admin_api.get("/auditLogs/signIns", since="yesterday")
        assert response.status_code == 400 and error_of(response)["field"] == "since"

    def test_odd_times_and_nul_characters_are_answered_not_crashed_on(self, admin_api, adele):
        # PostgreSQL takes no offset beyond ±16 h and no NUL in text: both must be a clear answer.
        assert admin_api.get("/auditLogs/signIns", since="2026-01-01T00:00:00-18:56").status_code == 200
        response = admin_api.get("/auditLogs/directoryAudits", initiatedBy="a\x00b")
        assert response.status_code == 400 and error_of(response)["field"] == "initiatedBy"
        response = admin_api.post("/verify", {"user": adele.upn, "code": "123456", "userAgent": "x\x00"})
        assert response.status_code == 400 and error_of(response)["field"] == "userAgent"
        assert admin_api.get("/challenges/apc_%00x").status_code == 404
        # Digits that are not ASCII digits ("³" passes str.isdigit) are names, not ids.
        assert admin_api.get("/users/%C2%B3").status_code == 404
        assert admin_api.get(f"/users/{adele.pk}/authentication/methods/%C2%B3").status_code == 404
        assert admin_api.get("/auditLogs/signIns", user="\u00b3").status_code == 200

    def test_audit_log(self, admin_api, adele, megan):
        admin_api.patch(f"/users/{adele.pk}/authentication/requirements", {"perUserMfaState": "enforced"})
        rows = admin_api.get("/auditLogs/directoryAudits", activity="user.mfa.state").json()["value"]
        assert rows[0]["initiatedBy"] == megan.upn
        assert rows[0]["after"] == {"mfa_state": "enforced"}
        assert rows[0]["targetResources"][0]["id"] == str(adele.pk)


# --- verification -----------------------------------------------------------------------------


class TestVerify:
    def test_accept_once_then_reject_the_replay(self, admin_api, adele, enrol):
        auth = enrol(adele)
        code = auth.fresh_code()
        response = admin_api.post("/verify", {"user": adele.upn, "code": code, "ipAddress": "203.0.113.9"})
        assert response.json() == {"result": "accept", "method": "code"}
        assert admin_api.post("/verify", {"user": adele.upn, "code": code}).json() == {
            "result": "reject", "reason": "code_reused"}
        assert admin_api.post("/verify", {"user": adele.upn, "code": auth.wrong_code()}).json() == {
            "result": "reject", "reason": "wrong_code"}
        rows = list(SignInEvent.objects.filter(user=adele).order_by("id"))
        assert [(r.app, r.result) for r in rows] == [("api:megan.bowen@contoso.example/tests", "success")] + \
            [("api:megan.bowen@contoso.example/tests", "failure")] * 2
        assert rows[0].ip == "203.0.113.9"

    def test_codes_checked_by_oathtool_are_accepted(self, admin_api, adele, enrol):
        import subprocess
        import time

        auth = enrol(adele)
        if time.time() % 30 > 27:
            time.sleep(3.1)
        code = subprocess.run(["oathtool", "--totp", "--base32", auth.secret], capture_output=True, text=True,
                              check=True).stdout.strip()
        assert admin_api.post("/verify", {"user": adele.upn, "code": code}).json()["result"] == "accept"

    def test_wrong_codes_are_throttled_per_person(self, admin_api, adele, enrol):
        auth = enrol(adele)
        statuses = [admin_api.post("/verify", {"user": adele.upn, "code": auth.wrong_code()}).status_code
                    for _ in range(12)]
        assert statuses[0] == 200 and statuses[-1] == 429
        response = admin_api.post("/verify", {"user": adele.upn, "code": auth.fresh_code()})
        assert response.status_code == 429
        assert error_of(response)["code"] == "throttled" and int(response["Retry-After"]) > 0
        let_throttle_time_pass(3600)
        assert admin_api.post("/verify", {"user": adele.upn, "code": auth.fresh_code()}).json()["result"] == "accept"

    def test_people_who_cannot_pass(self, admin_api, adele, megan, enrol):
        from watchword.directory.services import set_enabled

        assert admin_api.post("/verify", {"user": adele.upn, "code": "123456"}).json() == {
            "result": "reject", "reason": "no_code_method"}
        auth = enrol(adele)
        User.objects.filter(pk=adele.pk).update(mfa_blocked_at=timezone.now())
        assert admin_api.post("/verify", {"user": adele.upn, "code": auth.fresh_code()}).json()["reason"] == \
            "mfa_blocked"
        User.objects.filter(pk=adele.pk).update(mfa_blocked_at=None)
        set_enabled(adele, False, actor=megan)
        assert admin_api.post("/verify", {"user": adele.upn, "code": auth.fresh_code()}).json()["reason"] == \
            "account_disabled"

    def test_a_conditional_access_policy_blocking_the_verification_api_refuses_the_person(
            self, admin_api, adele, enrol):
        from watchword.audit.models import SignInEvent
        from watchword.policy.services import save_policy

        auth = enrol(adele)
        save_policy({"displayName": "No API for Adele", "state": "enabled",
                     "conditions": {"users": {"includeUsers": [str(adele.pk)]},
                                    "applications": {"includeApplications": ["WatchwordApi"]},
                                    "clientAppTypes": ["api"]},
                     "grantControls": {"operator": "OR", "builtInControls": ["block"]}}, actor="cli")

        assert admin_api.post("/verify", {"user": adele.upn, "code": auth.fresh_code()}).json() == {
            "result": "reject", "reason": "blocked_by_policy"}
        assert SignInEvent.objects.filter(user=adele, step="policy", error_code=53003, client_app="api").exists()

    @pytest.mark.parametrize("body, status, field", [
        ({"code": "123456"}, 400, "user"), ({"user": "", "code": "123456"}, 400, "user"),
        ({"user": ["a"], "code": "123456"}, 400, "user"), ({"user": "adele.vance@contoso.example"}, 400, "code"),
        ({"user": "adele.vance@contoso.example", "code": "12345"}, 400, "code"),
        ({"user": "adele.vance@contoso.example", "code": 123456}, 400, "code"),
        ({"user": "adele.vance@contoso.example", "code": "١٢٣٤٥٦"}, 400, "code"),
        ({"user": "adele.vance@contoso.example", "code": "123456", "ipAddress": "300.1.1.1"}, 400, "ipAddress"),
        ({"user": "nobody@contoso.example", "code": "123456"}, 404, None),
    ])
    def test_bad_requests_name_the_field(self, admin_api, adele, body, status, field):
        response = admin_api.post("/verify", body)
        assert response.status_code == status
        assert error_of(response).get("field") == field
        assert not SignInEvent.objects.filter(user=adele).exists()


class TestChallenges:
    def test_push_approved_on_the_device(self, admin_api, adele, enrol_device):
        device = enrol_device(adele)
        response = admin_api.post("/challenges", {"user": adele.upn, "app": "Payroll", "ipAddress": "198.51.100.7"})
        assert response.status_code == 201, response.content
        challenge = response.json()
        assert challenge["method"] == "push" and challenge["status"] == "pending" and challenge["app"] == "Payroll"
        assert re.fullmatch(r"\d{2}", challenge["number"])
        path = f"/challenges/{challenge['id']}"
        assert admin_api.get(path).json()["status"] == "pending"
        [pending] = device.pending(Client())
        assert pending["app"] == "Payroll"
        device.answer(Client(), pending["challenge_id"], "approve", challenge["number"])
        assert admin_api.get(path).json()["status"] == "approved"
        assert admin_api.get(path).json()["status"] == "approved"  # settled: reads again the same
        successes = SignInEvent.objects.filter(user=adele, result="success")
        assert successes.count() == 1 and successes.get().method == "push"

    def test_push_denied_and_withdrawn(self, admin_api, adele, enrol_device):
        device = enrol_device(adele)
        first = admin_api.post("/challenges", {"user": adele.upn, "method": "push"}).json()
        device.answer(Client(), device.pending(Client())[0]["challenge_id"], "deny")
        assert admin_api.get(f"/challenges/{first['id']}").json()["status"] == "denied"
        second = admin_api.post("/challenges", {"user": adele.upn, "method": "push"}).json()
        withdrawn = admin_api.delete(f"/challenges/{second['id']}").json()
        assert withdrawn["status"] == "expired" and withdrawn["detail"] == "cancelled"
        assert device.pending(Client()) == []

    def test_another_caller_cannot_see_a_challenge(self, admin_api, adele, enrol_device, alex):
        enrol_device(adele)
        challenge = admin_api.post("/challenges", {"user": adele.upn}).json()
        _, token = create_token(alex, name="other", scopes="verify")
        response = Api(token).get(f"/challenges/{challenge['id']}")
        assert response.status_code == 404 and error_of(response)["code"] == "challenge_not_found"

    def test_text_code_then_verify(self, admin_api, adele, settings, tmp_path):
        from watchword.delivery.models import PhoneMessage

        admin_api.post(f"/users/{adele.pk}/authentication/phoneMethods",
                       {"phoneNumber": "+44 7400 123456", "phoneType": "mobile"})
        response = admin_api.post("/challenges", {"user": adele.upn, "method": "sms"})
        assert response.status_code == 201, response.content
        challenge = response.json()
        assert challenge["phoneNumber"].startswith("+44 ") and "123456" not in challenge["phoneNumber"]
        text = PhoneMessage.objects.filter(kind="text").latest("id")
        code = re.search(r"\b(\d{6})\b", text.body).group(1)
        assert admin_api.post("/verify", {"user": adele.upn, "code": "000000" if code != "000000" else "111111",
                                          "challengeId": challenge["id"]}).json()["reason"] == "wrong_code"
        # Without the challenge's id the code is taken for an authenticator code, which she has none of.
        assert admin_api.post("/verify", {"user": adele.upn, "code": code}).json()["reason"] == "no_code_method"
        assert admin_api.post("/verify", {"user": adele.upn, "code": code, "challengeId": challenge["id"]}).json() == {
            "result": "accept", "method": "sms"}
        assert admin_api.get(f"/challenges/{challenge['id']}").json()["status"] == "approved"
        assert admin_api.post("/verify", {"user": adele.upn, "code": code,
                                          "challengeId": challenge["id"]}).json()["reason"] == "challenge_approved"

    def test_no_method_of_that_kind(self, admin_api, adele, enrol):
        response = admin_api.post("/challenges", {"user": adele.upn})
        assert response.status_code == 409 and error_of(response)["code"] == "method_unavailable"
        enrol(adele)
        response = admin_api.post("/challenges", {"user": adele.upn})
        assert response.status_code == 409 and "/api/v1/verify" in error_of(response)["message"]
        response = admin_api.post("/challenges", {"user": adele.upn, "method": "voice"})
        assert response.status_code == 409

    @pytest.mark.parametrize("body, field", [({"user": "adele.vance@contoso.example", "method": "email"}, "method"),
                                             ({"user": "adele.vance@contoso.example", "app": ""}, "app"),
                                             ({"user": "adele.vance@contoso.example", "app": "a\nb"}, "app"),
                                             ({"user": "adele.vance@contoso.example", "app": "x" * 65}, "app"),
                                             ({"method": "push"}, "user")])
    def test_bad_challenges_name_the_field(self, admin_api, adele, body, field):
        response = admin_api.post("/challenges", body)
        assert response.status_code == 400
        assert error_of(response)["field"] == field

    def test_push_requests_are_throttled_against_fatigue(self, admin_api, adele, enrol_device, settings):
        enrol_device(adele)
        settings.PUSH_REQUESTS_FREE = 3
        statuses = [admin_api.post("/challenges", {"user": adele.upn}).status_code for _ in range(5)]
        assert statuses[:3] == [201] * 3 and statuses[-1] == 429


def test_openapi_document_is_served_and_describes_every_path(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.0")
    from django.urls import get_resolver

    from watchword.protocols import api_urls

    served = {str(p.pattern).replace("api/v1", "").replace("<str:", "{").replace(">", "}")
              for p in api_urls.urlpatterns
              if str(p.pattern).startswith("api/v1/") and "openapi" not in str(p.pattern)}
    named = {re.sub(r"\{(\w+)\}", lambda m: "{" + {"userId": "user_id", "methodId": "method_id",
                                                   "challengeId": "challenge_id",
                                                   "policyId": "policy_id"}[m.group(1)] + "}", path)
             for path in document["paths"]}
    assert served == named
    assert get_resolver() is not None
