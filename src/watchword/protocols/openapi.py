"""The OpenAPI 3.0 description of ``/api/v1``, served at ``/api/v1/openapi.json``. It is the
contract the API's tests hold it to: every status, field and type the API can return is here,
and every constraint declared on input is one the API enforces."""

from __future__ import annotations

from functools import lru_cache

from watchword.protocols.scopes import API_SCOPES

VERSION = "1.0.0"


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict) -> dict:
    return {**schema, "nullable": True}


STRING = {"type": "string"}
DATETIME = {"type": "string", "format": "date-time"}
ID = {"type": "string", "pattern": "^[0-9]+$"}
POLICY_STATES = ("enabled", "disabled", "enabledForReportingButNotEnforced")


def _object(properties: dict, required: list[str] | None = None, *, closed: bool = True) -> dict:
    schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


def _list_of(name: str, paged: bool = True) -> dict:
    properties = {"value": {"type": "array", "items": _ref(name)}}
    if paged:
        properties["nextLink"] = {"type": "string", "format": "uri",
                                  "description": "The next page; absent on the last one."}
    return _object(properties, ["value"])


SCHEMAS = {
    "Error": _object({"error": _object({
        "code": {"type": "string", "description": "Stable, for programs: see docs/api.md."},
        "message": {"type": "string", "description": "For people."},
        "field": {"type": "string", "description": "The field or parameter at fault, when there is one."},
        "retryAfter": {"type": "integer", "description": "Seconds to wait (also the Retry-After header)."},
        "warnings": {"type": "array", "items": _ref("PolicyWarning"),
                     "description": "policy_lockout_risk: why the change could lock administrators out."},
    }, ["code", "message"])}, ["error"]),
    "User": _object({
        "id": ID,
        "userPrincipalName": STRING,
        "displayName": STRING,
        "mail": _nullable(STRING),
        "officePhone": _nullable(STRING),
        "mobilePhone": _nullable(STRING),
        "accountEnabled": {"type": "boolean"},
        "role": {"type": "string", "enum": ["user", "authentication_admin", "global_admin"]},
        "perUserMfaState": {"type": "string", "enum": ["disabled", "enabled", "enforced"]},
        "createdDateTime": DATETIME,
        "onPremisesSyncEnabled": {"type": "boolean", "description": "Synced from a directory connection: the "
                                  "attributes it maps are read-only here (error managed_by_directory)."},
        "onPremisesImmutableId": _nullable({"type": "string", "description": "The directory's objectGUID or "
                                            "entryUUID, for synced people."}),
        "oneTimePassword": {"type": "string", "description": "Only when the user was just created."},
    }, ["id", "userPrincipalName", "displayName", "accountEnabled", "role", "perUserMfaState"]),
    "UserList": _list_of("User"),
    "UserCreate": _object({
        "userPrincipalName": {"type": "string", "format": "email", "maxLength": 254},
        "displayName": {"type": "string", "minLength": 1, "maxLength": 256},
        "mail": _nullable({"type": "string", "maxLength": 254}),
        "officePhone": _nullable({"type": "string", "maxLength": 40}),
        "mobilePhone": _nullable({"type": "string", "maxLength": 40}),
        "role": {"type": "string", "enum": ["user", "authentication_admin", "global_admin"]},
        "accountEnabled": {"type": "boolean"},
    }, ["userPrincipalName", "displayName"]),
    "UserUpdate": _object({
        "userPrincipalName": {"type": "string", "format": "email", "maxLength": 254},
        "displayName": {"type": "string", "minLength": 1, "maxLength": 256},
        "mail": _nullable({"type": "string", "maxLength": 254}),
        "officePhone": _nullable({"type": "string", "maxLength": 40}),
        "mobilePhone": _nullable({"type": "string", "maxLength": 40}),
        "role": {"type": "string", "enum": ["user", "authentication_admin", "global_admin"]},
        "accountEnabled": {"type": "boolean"},
    }),
    "Requirements": _object({"perUserMfaState": {"type": "string", "enum": ["disabled", "enabled", "enforced"]}},
                            ["perUserMfaState"]),
    "Method": _object({
        "id": ID,
        "type": {"type": "string", "enum": ["microsoftAuthenticator", "softwareOath", "phone"]},
        "displayName": STRING,
        "isDefault": {"type": "boolean"},
        "createdDateTime": DATETIME,
        "lastUsedDateTime": _nullable(DATETIME),
        "phoneType": {"type": "string", "enum": ["mobile", "alternateMobile", "office"]},
        "phoneNumber": STRING,
        "deviceTag": _nullable(STRING),
    }, ["id", "type", "displayName", "isDefault"]),
    "MethodList": _list_of("Method", paged=False),
    "PhoneMethodCreate": _object({
        "phoneNumber": {"type": "string", "minLength": 1, "maxLength": 40, "example": "+44 20 7946 0958"},
        "phoneType": {"type": "string", "enum": ["mobile", "alternateMobile", "office"]},
    }, ["phoneNumber", "phoneType"]),
    "SignIn": _object({
        "id": ID,
        "createdDateTime": DATETIME,
        "userPrincipalName": {"type": "string", "description": "As typed"},
        "userId": _nullable(ID),
        "appDisplayName": STRING,
        "ipAddress": _nullable(STRING),
        "userAgent": STRING,
        "step": STRING,
        "result": {"type": "string", "enum": ["success", "failure", "interrupted"]},
        "status": _object({"errorCode": {"type": "integer"}, "failureReason": STRING},
                          ["errorCode", "failureReason"]),
        "authenticationMethod": _nullable(STRING),
        "authenticationRequirement": _nullable(STRING),
        "correlationId": STRING,
    }, ["id", "createdDateTime", "userPrincipalName", "appDisplayName", "result", "status"]),
    "SignInList": _list_of("SignIn"),
    "DirectoryAudit": _object({
        "id": ID,
        "activityDateTime": DATETIME,
        "activityDisplayName": STRING,
        "initiatedBy": STRING,
        "targetResources": {"type": "array", "items": _object(
            {"type": STRING, "id": STRING, "displayName": STRING}, ["type", "id", "displayName"])},
        "before": _nullable({"type": "object"}),
        "after": _nullable({"type": "object"}),
        "ipAddress": _nullable(STRING),
        "result": STRING,
        "resultReason": STRING,
    }, ["id", "activityDateTime", "activityDisplayName", "initiatedBy", "result"]),
    "DirectoryAuditList": _list_of("DirectoryAudit"),
    "VerifyRequest": _object({
        "user": {"type": "string", "minLength": 1, "maxLength": 254,
                 "description": "The person's sign-in name (UPN) or id."},
        "code": {"type": "string", "pattern": "^ *[0-9]( *[0-9]){5,7} *$",
                 "description": "6 to 8 digits: from the authenticator app, or texted by a challenge."},
        "challengeId": {"type": "string", "maxLength": 40,
                        "description": "The text challenge the code answers; without it the code is an authenticator app's."},
        "ipAddress": {"type": "string", "description": "The end user's address, for the log and throttling."},
        "userAgent": {"type": "string", "maxLength": 512},
    }, ["user", "code"]),
    "VerifyResult": _object({
        "result": {"type": "string", "enum": ["accept", "reject"]},
        "method": {"type": "string", "enum": ["code", "sms"]},
        "reason": {"type": "string", "enum": [
            "wrong_code", "code_reused", "no_code_method", "account_disabled", "mfa_blocked", "blocked_by_policy",
            "too_many_attempts",
            "challenge_expired", "challenge_used", "challenge_approved", "challenge_denied"]},
    }, ["result"]),
    "ChallengeRequest": _object({
        "user": {"type": "string", "minLength": 1, "maxLength": 254},
        "method": {"type": "string", "enum": ["push", "sms", "voice"],
                   "description": "Absent: the person's default method."},
        "app": {"type": "string", "minLength": 1, "maxLength": 64,
                "description": "The application's name, shown on the person's device."},
        "ipAddress": {"type": "string"},
        "userAgent": {"type": "string", "maxLength": 512},
    }, ["user"]),
    "Challenge": _object({
        "id": STRING,
        "userId": ID,
        "method": {"type": "string", "enum": ["push", "sms", "voice"]},
        "app": STRING,
        "status": {"type": "string", "enum": ["pending", "approved", "denied", "expired"]},
        "detail": STRING,
        "number": {"type": "string", "description": "Push: the number to show the person, who types it in the app."},
        "phoneNumber": {"type": "string", "description": "Text and voice: the number used, masked."},
        "createdDateTime": DATETIME,
        "expiresDateTime": DATETIME,
    }, ["id", "userId", "method", "app", "status", "createdDateTime", "expiresDateTime"]),
    # Conditional Access and Security Defaults (watchword.policy.api), in Microsoft Graph's shapes.
    "PolicyWarning": _object({"field": STRING, "message": STRING}, ["field", "message"]),
    "ConditionalAccessPolicy": _object({
        "id": STRING,
        "displayName": STRING,
        "state": {"type": "string", "enum": list(POLICY_STATES)},
        "createdDateTime": _nullable(DATETIME),
        "modifiedDateTime": _nullable(DATETIME),
        "conditions": {"type": "object"},
        "grantControls": _nullable({"type": "object"}),
        "sessionControls": _nullable({"type": "object"}),
        "warnings": {"type": "array", "items": _ref("PolicyWarning"),
                     "description": "After a change: each part of the body that was dropped, and what that means."},
    }, ["id", "displayName", "state"], closed=False),
    "ConditionalAccessPolicyList": _object({
        "@odata.context": STRING,
        "value": {"type": "array", "items": _ref("ConditionalAccessPolicy")},
    }, ["value"]),
    "ConditionalAccessPolicyCreate": _object({
        "displayName": {"type": "string", "minLength": 1, "maxLength": 256},
        "state": {"type": "string", "enum": list(POLICY_STATES)},
        "conditions": {"type": "object"},
        "grantControls": _nullable({"type": "object"}),
        "sessionControls": _nullable({"type": "object"}),
    }, ["displayName", "state", "conditions"], closed=False),
    "ConditionalAccessPolicyUpdate": _object({
        "displayName": {"type": "string", "minLength": 1, "maxLength": 256},
        "state": {"type": "string", "enum": list(POLICY_STATES)},
        "conditions": {"type": "object"},
        "grantControls": _nullable({"type": "object"}),
        "sessionControls": _nullable({"type": "object"}),
    }, closed=False),
    "EvaluateRequest": _object({
        "user": {"type": "string", "minLength": 1, "maxLength": 254, "description": "Sign-in name (UPN) or id."},
        "app": {"type": "string", "minLength": 1, "maxLength": 256,
                "description": "An application id: WatchwordPortal, WatchwordAdmin, WatchwordApi, an OpenID "
                               "Connect client ID or radius:<client>."},
        "client": {"type": "string", "enum": ["browser", "mobileAppsAndDesktopClients", "radius", "api", "other"]},
        "ip": _nullable({"type": "string", "maxLength": 64}),
        "platform": {"type": "string", "enum": ["", "android", "iOS", "windows", "macOS", "linux"]},
        "risk": _nullable({"type": "string", "enum": ["none", "low", "medium", "high"],
                           "description": "Absent or null: worked out from Watchword's signals."}),
        "userAction": {"type": "string", "enum": ["", "urn:user:registersecurityinfo"]},
    }, ["user", "app"]),
    "PolicyResult": _object({
        "id": STRING,
        "displayName": STRING,
        "reportOnly": {"type": "boolean"},
        "result": {"type": "string", "enum": [
            "applied", "notApplied", "reportOnlyNotApplied", "reportOnlyWouldBlock", "reportOnlyWouldRequireMfa",
            "reportOnlySuccess"]},
        "controls": {"type": "array", "items": STRING},
        "conditionNotSatisfied": {"type": "string", "description": "The first condition that did not match."},
    }, ["id", "displayName", "reportOnly", "result", "controls", "conditionNotSatisfied"]),
    "Evaluation": _object({
        "outcome": {"type": "string", "enum": ["allow", "require_mfa", "require_registration", "block"]},
        "errorCode": _nullable({"type": "integer"}),
        "reasons": {"type": "array", "items": _object({"source": STRING, "detail": STRING}, ["source", "detail"])},
        "allowedFactors": _nullable({"type": "array", "items": STRING}),
        "signInRisk": {"type": "string", "enum": ["none", "low", "medium", "high"]},
        "signInRiskReason": STRING,
        "appliedPolicies": {"type": "array", "items": _ref("PolicyResult")},
        "notAppliedPolicies": {"type": "array", "items": _ref("PolicyResult")},
    }, ["outcome", "errorCode", "reasons", "appliedPolicies", "notAppliedPolicies"]),
    "SecurityDefaults": _object({
        "id": STRING, "displayName": STRING, "description": STRING, "isEnabled": {"type": "boolean"},
    }, ["id", "isEnabled"]),
    "SecurityDefaultsUpdate": _object({"isEnabled": {"type": "boolean"}}, ["isEnabled"]),
}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


ERROR = {"description": "Refused: see the error's code", "content": _json(_ref("Error"))}


def _operation(summary: str, scope: str, ok: tuple[int, str, str | None], *, parameters=(), body: str | None = None,
               errors=(400, 401, 403, 404), description: str = "") -> dict:
    status, text, schema = ok
    responses: dict = {str(status): {"description": text}}
    if schema:
        responses[str(status)]["content"] = _json(_ref(schema))
    for code in errors:
        responses[str(code)] = ERROR
    responses["default"] = ERROR
    operation = {"summary": summary, "security": [{"bearer": []}, {"oauth2": [scope]}],
                 "parameters": list(parameters), "responses": responses}
    if description:
        operation["description"] = description
    if body:
        operation["requestBody"] = {"required": True, "content": _json(_ref(body))}
    return operation


def _path(name: str, description: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1},
            "description": description}


def _query(name: str, schema: dict, description: str) -> dict:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


USER_ID = _path("userId", "The person's id or sign-in name (UPN).")
PAGING = [
    _query("top", {"type": "integer", "minimum": 1, "maximum": 999}, "Items per page (default 100)."),
    _query("skiptoken", {"type": "integer", "minimum": 1}, "From a nextLink."),
]
CONFIRM = _query("confirm", {"type": "string", "enum": ["true", "false"]},
                 "true: save even though the policy could lock administrators out (409 policy_lockout_risk "
                 "otherwise, with the reasons as warnings).")
POLICY_BODY = ("Graph's conditionalAccessPolicy. Parts Watchword does not enforce are dropped with a warning; "
               "people, groups and locations are named by id or name, applications by id.")
WINDOW = [
    _query("since", DATETIME, "From this time (inclusive)."),
    _query("until", DATETIME, "Until this time (exclusive)."),
]


def _paths() -> dict:
    return {
        "/users": {
            "get": _operation("List people", "users.read", (200, "A page of people", "UserList"), parameters=[
                _query("search", {"type": "string", "maxLength": 254}, "Part of the sign-in or display name."),
                _query("perUserMfaState", {"type": "string", "enum": ["disabled", "enabled", "enforced"]}, ""),
                _query("role", {"type": "string", "enum": ["user", "authentication_admin", "global_admin"]}, ""),
                _query("accountEnabled", {"type": "string", "enum": ["true", "false"]}, ""),
                *PAGING]),
            "post": _operation("Add a person", "users.write", (201, "Added, with a one-time password", "User"),
                               body="UserCreate", errors=(400, 401, 403, 409, 413, 415)),
        },
        "/users/{userId}": {
            "parameters": [USER_ID],
            "get": _operation("Read a person", "users.read", (200, "The person", "User")),
            "patch": _operation("Change a person", "users.write", (200, "The person, changed", "User"),
                                body="UserUpdate", errors=(400, 401, 403, 404, 409, 413, 415)),
        },
        "/users/{userId}/authentication/requirements": {
            "parameters": [USER_ID],
            "get": _operation("Read per-user MFA", "users.read", (200, "The person's per-user MFA state",
                                                                  "Requirements")),
            "patch": _operation("Set per-user MFA", "users.write", (200, "The state now (enabled becomes enforced "
                                                                   "for a person who has a method)", "Requirements"),
                                body="Requirements", errors=(400, 401, 403, 404, 413, 415)),
        },
        "/users/{userId}/authentication/methods": {
            "parameters": [USER_ID],
            "get": _operation("List a person's authentication methods", "methods.read",
                              (200, "The methods", "MethodList")),
        },
        "/users/{userId}/authentication/methods/{methodId}": {
            "parameters": [USER_ID, _path("methodId", "The method's id.")],
            "get": _operation("Read a method", "methods.read", (200, "The method", "Method")),
            "delete": _operation("Delete a method", "methods.write", (204, "Deleted", None),
                                 errors=(400, 401, 403, 404, 409)),
        },
        "/users/{userId}/authentication/phoneMethods": {
            "parameters": [USER_ID],
            "post": _operation("Add a phone", "methods.write", (201, "The new phone method", "Method"),
                               body="PhoneMethodCreate", errors=(400, 401, 403, 404, 409, 413, 415)),
        },
        "/users/{userId}/authentication/requireReregistration": {
            "parameters": [USER_ID],
            "post": _operation("Require re-registration", "methods.write",
                               (200, "Methods deleted, sessions revoked", "Requirements"),
                               description="Deletes the person's methods and signs them out everywhere; their next "
                                           "sign-in asks them to register again. Send an empty JSON object.",
                               errors=(400, 401, 403, 404, 413, 415)),
        },
        "/auditLogs/signIns": {
            "get": _operation("Read the sign-in log", "logs.read", (200, "Newest first", "SignInList"), parameters=[
                _query("user", {"type": "string", "maxLength": 254}, "Id or the name as typed."),
                _query("result", {"type": "string", "enum": ["success", "failure", "interrupted"]}, ""),
                _query("errorCode", {"type": "integer", "minimum": 0, "maximum": 999999}, "0: no error code."),
                _query("app", {"type": "string"}, "portal, radius:<client>, api:<client>, an OIDC client's name."),
                *WINDOW, *PAGING]),
        },
        "/auditLogs/directoryAudits": {
            "get": _operation("Read the audit log", "logs.read", (200, "Newest first", "DirectoryAuditList"),
                              parameters=[
                                  _query("initiatedBy", {"type": "string", "maxLength": 300}, "Who, as recorded."),
                                  _query("activity", {"type": "string", "maxLength": 300}, "Like user.mfa.state."),
                                  _query("targetId", {"type": "string", "maxLength": 300}, ""),
                                  *WINDOW, *PAGING]),
        },
        "/verify": {
            "post": _operation("Check a code", "verify", (200, "accept or reject, with the reason", "VerifyResult"),
                               body="VerifyRequest", errors=(400, 401, 403, 404, 413, 415, 429),
                               description="Every call is a sign-in log row under api:<caller>. Codes are usable "
                                           "once; wrong codes are throttled per person (429 with Retry-After)."),
        },
        "/challenges": {
            "post": _operation("Send a push, a text or a call", "verify", (201, "Sent", "Challenge"),
                               body="ChallengeRequest", errors=(400, 401, 403, 404, 409, 413, 415, 429)),
        },
        "/challenges/{challengeId}": {
            "parameters": [_path("challengeId", "From POST /challenges.")],
            "get": _operation("Read a challenge's status", "verify", (200, "The challenge", "Challenge"),
                              description="pending until answered; approved is reported (and logged as a "
                                          "successful sign-in) once the person approved or pressed #."),
            "delete": _operation("Withdraw a challenge", "verify", (200, "Withdrawn (status expired)", "Challenge")),
        },
        "/identity/conditionalAccess/policies": {
            "get": _operation("List Conditional Access policies", "policy.read",
                              (200, "Every policy, in Graph's shape", "ConditionalAccessPolicyList"),
                              errors=(401, 403)),
            "post": _operation("Add a Conditional Access policy", "policy.write",
                               (201, "Added, with a warning for each part dropped", "ConditionalAccessPolicy"),
                               parameters=[CONFIRM], body="ConditionalAccessPolicyCreate",
                               errors=(400, 401, 403, 409, 413, 415), description=POLICY_BODY),
        },
        "/identity/conditionalAccess/policies/{policyId}": {
            "parameters": [_path("policyId", "The policy's id.")],
            "get": _operation("Read a Conditional Access policy", "policy.read",
                              (200, "The policy", "ConditionalAccessPolicy")),
            "patch": _operation("Change a Conditional Access policy", "policy.write",
                                (200, "The policy, changed, with a warning for each part dropped",
                                 "ConditionalAccessPolicy"),
                                parameters=[CONFIRM], body="ConditionalAccessPolicyUpdate",
                                errors=(400, 401, 403, 404, 409, 413, 415),
                                description="The body is merged into the policy: objects key by key, anything "
                                            "else (lists too) replaced. " + POLICY_BODY),
            "delete": _operation("Delete a Conditional Access policy", "policy.write", (204, "Deleted", None)),
        },
        "/identity/conditionalAccess/evaluate": {
            "post": _operation("What if: how the policies treat a sign-in", "policy.read",
                               (200, "The outcome, and which policies apply (or the first condition that did "
                                     "not match)", "Evaluation"),
                               body="EvaluateRequest", errors=(400, 401, 403, 404, 413, 415),
                               description="Nothing is signed in or written."),
        },
        "/policies/identitySecurityDefaultsEnforcementPolicy": {
            "get": _operation("Read Security Defaults", "policy.read", (200, "On or off", "SecurityDefaults"),
                              errors=(401, 403)),
            "patch": _operation("Turn Security Defaults on or off", "policy.write",
                                (200, "On or off now", "SecurityDefaults"), body="SecurityDefaultsUpdate",
                                errors=(400, 401, 403, 409, 413, 415),
                                description="409 policy_conflict while Conditional Access policies are on."),
        },
    }


@lru_cache(maxsize=8)
def document(server_url: str) -> dict:
    token_url = server_url.rsplit("/api/v1", 1)[0] + "/o/token/"
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Watchword API",
            "version": VERSION,
            "description": "People, per-user MFA, authentication methods, the sign-in and audit logs, "
                           "second-factor checks for backends, and Conditional Access and Security Defaults. Errors "
                           "are JSON with a stable code. See docs/api.md.",
        },
        "servers": [{"url": server_url}],
        "paths": _paths(),
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer",
                           "description": "An administrator's personal token (wwp_…) or an OAuth access token."},
                "oauth2": {"type": "oauth2", "flows": {"clientCredentials": {
                    "tokenUrl": token_url, "scopes": dict(API_SCOPES)}}},
            },
        },
    }
