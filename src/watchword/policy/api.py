"""Conditional Access and Security Defaults in the REST API (docs/api.md), on Microsoft Graph's
paths and shapes so scripts written for the reference need few changes:

- ``/identity/conditionalAccess/policies[/{id}]``: list, add, read, change (``PATCH`` merges
  the body into the policy, as Graph does) and delete policies. Bodies go through
  ``policy.graph``'s import, so a policy copied from the reference is accepted with a warning for
  each part Watchword does not enforce (``"warnings": [{"field", "message"}]``).
- ``/identity/conditionalAccess/evaluate``: the what-if tool.
- ``/policies/identitySecurityDefaultsEnforcementPolicy``: Security Defaults on or off.

Only Global and Security Administrators manage these (as on the admin pages): a personal token of
anyone else is refused whatever its scopes. An application needs only the scope, which a Global
Administrator chose to give it when registering it.
"""

from __future__ import annotations

from django.http import JsonResponse

from watchword.core.errors import PermissionDenied
from watchword.directory import services as directory
from watchword.directory.models import Role
from watchword.policy import graph
from watchword.policy import services as policies
from watchword.policy.errors import LockoutRisk, PolicyInvalid
from watchword.policy.models import ConditionalAccessPolicy
from watchword.policy.resolve import DatabaseResolver
from watchword.policy.whatif import what_if
from watchword.protocols.api import BadRequest, _iso, _only, _query_choice, route

POLICY_ROLES = (Role.GLOBAL_ADMIN, Role.SECURITY_ADMIN)
SECURITY_DEFAULTS_ID = "00000000-0000-0000-0000-000000000005"  # Graph's id for the one policy
POLICIES_PATH = "/api/v1/identity/conditionalAccess/policies"
MAX_DEPTH = 32


def _may_manage_policy(caller) -> None:
    if caller.kind == "personal" and caller.owner_role not in POLICY_ROLES:
        raise PermissionDenied("Only Global and Security Administrators manage Conditional Access and Security "
                               "Defaults; this token's owner is neither.")


def _policy_route(**handlers):
    """``protocols.api.route`` with the role check in front of every handler."""
    def guarded(handler):
        def call(request, caller, body, **kwargs):
            _may_manage_policy(caller)
            return handler(request, caller, body, **kwargs)
        return call

    return route(**{method: (scope, guarded(handler)) for method, (scope, handler) in handlers.items()})


def _check_text(value, path: str = "", depth: int = 0) -> None:
    """No NUL anywhere in a document (databases refuse it in stored JSON), and no absurd nesting."""
    if depth > MAX_DEPTH:
        raise BadRequest("The body is nested too deeply to be a policy.", field=path or None)
    if isinstance(value, str) and "\x00" in value:
        raise BadRequest("A text contains a NUL character.", field=path or None)
    if isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if "\x00" in key:
                raise BadRequest("A field name contains a NUL character.", field=path or None)
            _check_text(item, where, depth + 1)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, f"{path}[{index}]", depth + 1)


def _confirmed(request) -> bool:
    return _query_choice(request, "confirm", ("true", "false")) == "true"


def _warnings_json(import_warnings=(), lockout=()) -> list[dict]:
    return ([{"field": w.field, "message": w.message} for w in import_warnings]
            + [{"field": "state", "message": message} for message in lockout])


def _lockout_response(exc: LockoutRisk) -> JsonResponse:
    """The 409 with each reason, so a client can show them before asking to confirm."""
    body = {**exc.as_dict(), "warnings": _warnings_json(lockout=exc.detail.get("warnings", ()))}
    return JsonResponse({"error": body}, status=exc.status, json_dumps_params={"ensure_ascii": False})


def export(row: ConditionalAccessPolicy) -> dict:
    """A stored policy in Graph's shape; one that no longer compiles is shown as stored rather
    than hidden (the engine already treats it as broken and requires MFA of everyone)."""
    try:
        return graph.export_policy(row.document, id=str(row.pk), created=_iso(row.created_at),
                                   modified=_iso(row.modified_at))
    except PolicyInvalid:
        return {**row.document, "id": str(row.pk), "displayName": row.display_name, "state": row.state,
                "createdDateTime": _iso(row.created_at), "modifiedDateTime": _iso(row.modified_at)}


def merged(current: dict, changes: dict) -> dict:
    """Graph's PATCH: objects merge key by key, anything else (lists included) is replaced."""
    out = dict(current)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


# ----------------------------------------------------------------------------------------------
# Conditional Access policies


def list_policies(request, caller, body):
    return 200, graph.export_many([export(row) for row in ConditionalAccessPolicy.objects.all()])


def _save(request, caller, document: dict, *, policy_id=None, status: int):
    _check_text(document)
    confirm = _confirmed(request)
    imported = graph.import_policy(document, resolve=DatabaseResolver())
    try:
        row, lockout = policies.save_policy(imported.document, actor=caller.actor, policy_id=policy_id,
                                            confirm=confirm, request=request)
    except LockoutRisk as exc:
        return _lockout_response(exc)
    payload = {**export(row), "warnings": _warnings_json(imported.warnings, lockout)}
    response = JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": False})
    if status == 201:
        response["Location"] = request.build_absolute_uri(f"{POLICIES_PATH}/{row.pk}")
    return response


def create_policy(request, caller, body):
    return _save(request, caller, body, status=201)


def read_policy(request, caller, body, policy_id):
    return 200, export(policies.get_policy(policy_id))


def update_policy(request, caller, body, policy_id):
    row = policies.get_policy(policy_id)
    return _save(request, caller, merged(export(row), body), policy_id=row.pk, status=200)


def remove_policy(request, caller, body, policy_id):
    policies.delete_policy(policy_id, actor=caller.actor, request=request)
    return 204, None


# ----------------------------------------------------------------------------------------------
# What if


EVALUATE_FIELDS = ("user", "app", "client", "ip", "platform", "risk", "userAction")


def _text(body: dict, name: str, *, required: bool = False, nullable: bool = False, limit: int = 256):
    if name not in body and not required:
        return None
    value = body.get(name)
    if value is None and nullable:
        return None
    if not isinstance(value, str) or (required and not value.strip()) or len(value) > limit:
        kind = "a non-empty text" if required else "text"
        raise BadRequest(f"{name} must be {kind} of at most {limit} characters"
                         f"{' (or null)' if nullable else ''}.", field=name)
    return value


def evaluation_json(evaluation) -> dict:
    """What the what-if tool found, for the API and ``watchword policy whatif --json``."""
    decision = evaluation.decision
    results = [result.as_dict() for result in decision.policy_results]
    return {
        "outcome": decision.outcome.value,
        "errorCode": decision.error_code,
        "reasons": [{"source": reason.source, "detail": reason.detail} for reason in decision.reasons],
        "allowedFactors": sorted(decision.allowed_factors) if decision.allowed_factors is not None else None,
        "signInRisk": evaluation.facts.risk,
        "signInRiskReason": evaluation.risk_reason,
        "appliedPolicies": [r for r, p in zip(results, decision.policy_results) if p.applied],
        "notAppliedPolicies": [r for r, p in zip(results, decision.policy_results) if not p.applied],
    }


def evaluate(request, caller, body):
    _only(body, EVALUATE_FIELDS)
    upn = _text(body, "user", required=True, limit=254)
    app = _text(body, "app", required=True)
    client = _text(body, "client")
    ip = _text(body, "ip", nullable=True, limit=64)
    platform = _text(body, "platform") or ""
    risk = _text(body, "risk", nullable=True)
    action = _text(body, "userAction") or ""
    evaluation = what_if(user=directory.get_user(upn), app=app, client="browser" if client is None else client,
                         ip=ip, platform=platform, risk=risk, user_action=action)
    return 200, evaluation_json(evaluation)


# ----------------------------------------------------------------------------------------------
# Security Defaults


def security_defaults_json() -> dict:
    return {"id": SECURITY_DEFAULTS_ID, "displayName": "Security Defaults",
            "description": "Basic protection for everyone: each person registers the authenticator app; MFA "
                           "for administrators, the admin pages and unusual sign-ins; clients that cannot do MFA "
                           "are blocked.",
            "isEnabled": policies.current_settings().security_defaults}


def read_security_defaults(request, caller, body):
    return 200, security_defaults_json()


def update_security_defaults(request, caller, body):
    _only(body, ("isEnabled",))
    if not isinstance(body.get("isEnabled"), bool):
        raise BadRequest("isEnabled is required: true or false.", field="isEnabled")
    policies.set_security_defaults(body["isEnabled"], actor=caller.actor, request=request)
    return 200, security_defaults_json()


# ----------------------------------------------------------------------------------------------
# Routes

policies_route = _policy_route(get=("policy.read", list_policies), post=("policy.write", create_policy))
policy_route = _policy_route(get=("policy.read", read_policy), patch=("policy.write", update_policy),
                             delete=("policy.write", remove_policy))
evaluate_route = _policy_route(post=("policy.read", evaluate))
security_defaults_route = _policy_route(get=("policy.read", read_security_defaults),
                                        patch=("policy.write", update_security_defaults))
