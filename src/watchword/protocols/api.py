"""The REST API under ``/api/v1`` (docs/api.md; its OpenAPI description is served at
``/api/v1/openapi.json``). Resources are shaped after Microsoft Graph's so administrators
recognise them: users, their per-user MFA state (``/authentication/requirements``), their
authentication methods, the sign-in log and the audit log; plus ``/verify`` and
``/challenges`` for backends that want a second factor checked.

Calls authenticate with ``Authorization: Bearer`` (``protocols.tokens``); no cookies, so no
CSRF. Every refusal is ``{"error": {"code", "message"[, "field"]}}`` with a stable code, and a
refused change changes nothing."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from datetime import timezone as dt_timezone

from django.db import transaction
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.csrf import csrf_exempt

from watchword.audit.models import AuditEvent, SignInEvent
from watchword.audit.services import record_change
from watchword.core.errors import NotFound, PermissionDenied, WatchwordError
from watchword.directory import services as directory
from watchword.directory.models import MfaState, Role, User
from watchword.directory.phones import PhoneNumberInvalid, display_phone, parse_phone
from watchword.methods import phone as phone_methods
from watchword.methods.errors import MethodLimitReached
from watchword.methods.models import Method, PushDevice
from watchword.methods.services import delete_method, require_reregistration, set_mfa_state
from watchword.protocols import openapi, verification
from watchword.protocols.tokens import Caller, ScopeMissing, TokenInvalid, caller_from_header

log = logging.getLogger("watchword.api")

MAX_BODY = 64 * 1024
DEFAULT_TOP = 100
MAX_TOP = 999


class BadRequest(WatchwordError):
    code = "invalid_request"
    message = "The request is not valid."


class UnknownField(WatchwordError):
    code = "unknown_field"
    message = "The request has a field this call does not take."


class BodyTooLarge(WatchwordError):
    code = "body_too_large"
    status = 413
    message = f"The request body is larger than {MAX_BODY // 1024} KiB."


class UnsupportedMediaType(WatchwordError):
    code = "unsupported_media_type"
    status = 415
    message = "Send the request body as JSON (Content-Type: application/json)."


class MethodNotAllowed(WatchwordError):
    code = "method_not_allowed"
    status = 405
    message = "This path does not take that HTTP method."


class Conflict(WatchwordError):
    code = "conflict"
    status = 409


# ----------------------------------------------------------------------------------------------
# Plumbing


def error_response(exc: WatchwordError) -> JsonResponse:
    body = {"code": exc.code, "message": exc.public_message}
    if exc.field:
        body["field"] = exc.field
    if "retry_after" in exc.detail:
        body["retryAfter"] = exc.detail["retry_after"]
    response = JsonResponse({"error": body}, status=exc.status)
    if isinstance(exc, TokenInvalid):
        response["WWW-Authenticate"] = 'Bearer realm="watchword", error="invalid_token"'
    elif isinstance(exc, ScopeMissing):
        response["WWW-Authenticate"] = f'Bearer realm="watchword", error="insufficient_scope", ' \
                                       f'scope="{exc.detail.get("scope", "")}"'
    if "retry_after" in exc.detail:
        response["Retry-After"] = str(exc.detail["retry_after"])
    return response


def _body(request) -> dict:
    if len(request.body) > MAX_BODY:
        raise BodyTooLarge()
    if request.content_type != "application/json":
        raise UnsupportedMediaType()
    try:
        data = json.loads(request.body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise BadRequest("The request body is not valid JSON.") from None
    except RecursionError:
        raise BadRequest("The request body nests too deeply.") from None
    if not isinstance(data, dict):
        raise BadRequest("The request body must be a JSON object.")
    for key, value in data.items():
        if "\x00" in key or (isinstance(value, str) and "\x00" in value):
            raise BadRequest(f"{key} contains a NUL character.", field=key)
    return data


def _only(data: dict, allowed: tuple[str, ...]) -> dict:
    for key in data:
        if key not in allowed:
            raise UnknownField(f"{key!r} is not a field of this call; it takes {', '.join(allowed)}.", field=key)
    return data


def route(**handlers):
    """One path: ``get=("users.read", handler)``, ``post=…``. Authenticates the caller, checks the
    scope, parses the body, turns every refusal into the JSON error shape."""
    allowed = {name.upper(): value for name, value in handlers.items()}

    @csrf_exempt
    def view(request, **kwargs):
        method = "GET" if request.method == "HEAD" else request.method
        if method not in allowed:
            response = error_response(MethodNotAllowed())
            response["Allow"] = ", ".join(sorted(allowed))
            return response
        scope, handler = allowed[method]
        try:
            caller = caller_from_header(request.headers.get("Authorization"))
            if scope not in caller.scopes:
                raise ScopeMissing(f"This call needs the {scope} scope.", scope=scope)
            for name, values in request.GET.lists():
                if any("\x00" in value for value in values):
                    raise BadRequest(f"{name} contains a NUL character.", field=name)
            body = _body(request) if method in ("POST", "PATCH", "PUT") else None
            result = handler(request, caller, body, **kwargs)
        except WatchwordError as exc:
            return error_response(exc)
        except Exception:  # a bug: logged with its traceback, answered in the API's own shape
            log.exception("API: %s %s failed", request.method, request.path)
            return JsonResponse({"error": {"code": "internal_error", "message": "Something went wrong on the "
                                           "server. It has been logged; try again."}}, status=500)
        if isinstance(result, HttpResponse):
            return result
        status, payload = result
        if payload is None:
            return HttpResponse(status=status)
        return JsonResponse(payload, status=status, json_dumps_params={"ensure_ascii": False})

    return view


def _iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _query_int(request, name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.GET.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = None
    if value is None or not low <= value <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}.", field=name)
    return value


def _query_time(request, name: str) -> datetime | None:
    raw = request.GET.get(name)
    if raw is None:
        return None
    try:
        value = parse_datetime(raw)
    except ValueError:
        value = None
    if value is None:
        raise BadRequest(f"{name} must be a date and time like 2026-11-28T09:30:00Z.", field=name)
    try:
        if timezone.is_naive(value):
            value = timezone.make_aware(value, dt_timezone.utc)
        return value.astimezone(dt_timezone.utc)  # databases limit the offsets they take
    except (OverflowError, ValueError):
        raise BadRequest(f"{name} is out of range.", field=name) from None


def _query_choice(request, name: str, choices) -> str | None:
    raw = request.GET.get(name)
    if raw is None:
        return None
    if raw not in choices:
        raise BadRequest(f"{name} must be one of {', '.join(choices)}.", field=name)
    return raw


def _page(request, rows, *, descending: bool, render) -> dict:
    """Keyset paging by id: ``top`` rows, and a ``nextLink`` carrying the last id seen."""
    top = _query_int(request, "top", DEFAULT_TOP, 1, MAX_TOP)
    after = _query_int(request, "skiptoken", None, 1, 2 ** 62)
    if after is not None:
        rows = rows.filter(pk__lt=after) if descending else rows.filter(pk__gt=after)
    items = list(rows.order_by("-pk" if descending else "pk")[:top + 1])
    body: dict = {"value": [render(item) for item in items[:top]]}
    if len(items) > top:
        query = request.GET.copy()
        query["skiptoken"] = str(items[top - 1].pk)
        body["nextLink"] = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
    return body


def _user(value: str) -> User:
    return directory.get_user(value)


def _may_manage(caller: Caller, target: User) -> None:
    """Authentication Administrators manage people without admin roles (as on the admin pages);
    applications and Global Administrators manage everyone."""
    if caller.kind == "personal" and not caller.owner_is_global_admin and target.is_admin:
        raise PermissionDenied("Only a Global Administrator can change people who hold an admin role.")


# ----------------------------------------------------------------------------------------------
# Users

USER_FIELDS = {"userPrincipalName": "upn", "displayName": "display_name", "mail": "email",
               "officePhone": "office_phone", "mobilePhone": "mobile_phone", "role": "role"}
FIELD_NAMES = {value: key for key, value in USER_FIELDS.items()}
NULLABLE_USER_FIELDS = ("mail", "officePhone", "mobilePhone")


def user_json(user: User) -> dict:
    return {
        "id": str(user.pk),
        "userPrincipalName": user.upn,
        "displayName": user.display_name,
        "mail": user.email or None,
        "officePhone": display_phone(user.office_phone) if user.office_phone else None,
        "mobilePhone": display_phone(user.mobile_phone) if user.mobile_phone else None,
        "accountEnabled": user.is_active,
        "role": user.role,
        "perUserMfaState": user.mfa_state,
        "createdDateTime": _iso(user.created_at),
        "onPremisesSyncEnabled": user.directory_connection_id is not None,
        "onPremisesImmutableId": user.external_id or None,
    }


def _renamed(exc: WatchwordError) -> WatchwordError:
    if exc.field in FIELD_NAMES:
        exc.field = FIELD_NAMES[exc.field]
    elif exc.field == "enabled":
        exc.field = "accountEnabled"
    return exc


def _user_data(caller: Caller, body: dict) -> dict:
    data = {}
    for key, value in body.items():
        if key in USER_FIELDS:
            if value is None and key in NULLABLE_USER_FIELDS:
                value = ""
            if not isinstance(value, str):
                raise BadRequest(f"{key} must be text.", field=key)
            data[USER_FIELDS[key]] = value
    if "role" in data and caller.kind != "personal":
        raise PermissionDenied("Admin roles are given by a Global Administrator's personal token, not by an "
                               "application.", field="role")
    return data


def _enabled(body: dict) -> bool | None:
    if "accountEnabled" not in body:
        return None
    value = body["accountEnabled"]
    if not isinstance(value, bool):
        raise BadRequest("accountEnabled must be true or false.", field="accountEnabled")
    return value


def list_users(request, caller, body):
    rows = User.objects.filter(deleted_at__isnull=True)
    search = request.GET.get("search", "").strip()
    if len(search) > 254:
        raise BadRequest("search is at most 254 characters.", field="search")
    if search:
        rows = rows.filter(Q(upn__icontains=search) | Q(display_name__icontains=search))
    state = _query_choice(request, "perUserMfaState", MfaState.values)
    if state:
        rows = rows.filter(mfa_state=state)
    role = _query_choice(request, "role", Role.values)
    if role:
        rows = rows.filter(role=role)
    enabled = _query_choice(request, "accountEnabled", ("true", "false"))
    if enabled:
        rows = rows.filter(is_active=enabled == "true")
    return 200, _page(request, rows, descending=False, render=user_json)


def create_user(request, caller, body):
    _only(body, (*USER_FIELDS, "accountEnabled"))
    data = _user_data(caller, body)
    enabled = _enabled(body)
    try:
        with transaction.atomic():  # all or nothing
            created = directory.create_user(data, actor=caller.actor, request=request)
            if enabled is False:
                directory.set_enabled(created.user, False, actor=caller.actor, request=request)
                created.user.refresh_from_db()
    except WatchwordError as exc:
        raise _renamed(exc) from None
    payload = user_json(created.user)
    payload["oneTimePassword"] = created.one_time_password
    response = JsonResponse(payload, status=201, json_dumps_params={"ensure_ascii": False})
    response["Location"] = request.build_absolute_uri(f"/api/v1/users/{created.user.pk}")
    return response


def read_user(request, caller, body, user_id):
    return 200, user_json(_user(user_id))


def update_user(request, caller, body, user_id):
    _only(body, (*USER_FIELDS, "accountEnabled"))
    user = _user(user_id)
    _may_manage(caller, user)
    data = _user_data(caller, body)
    enabled = _enabled(body)
    try:
        with transaction.atomic():  # all or nothing
            if data:
                user = directory.update_user(user, data, actor=caller.actor, request=request)
            if enabled is not None:
                user = directory.set_enabled(user, enabled, actor=caller.actor, request=request)
    except WatchwordError as exc:
        raise _renamed(exc) from None
    user.refresh_from_db()
    return 200, user_json(user)


# ----------------------------------------------------------------------------------------------
# Per-user MFA and authentication methods


def read_requirements(request, caller, body, user_id):
    return 200, {"perUserMfaState": _user(user_id).mfa_state}


def update_requirements(request, caller, body, user_id):
    _only(body, ("perUserMfaState",))
    user = _user(user_id)
    _may_manage(caller, user)
    if "perUserMfaState" not in body:
        raise BadRequest("perUserMfaState is required: disabled, enabled or enforced.", field="perUserMfaState")
    value = body["perUserMfaState"]
    if value not in MfaState.values:
        raise BadRequest("perUserMfaState must be disabled, enabled or enforced.", field="perUserMfaState")
    user = set_mfa_state(user, value, actor=caller.actor, request=request)
    return 200, {"perUserMfaState": user.mfa_state}


PHONE_TYPE_NAMES = {"phone": "mobile", "alternate_phone": "alternateMobile", "office_phone": "office"}
METHOD_TYPE_NAMES = {"push": "microsoftAuthenticator", "totp": "softwareOath"}


def method_json(method: Method, devices: dict) -> dict:
    item = {
        "id": str(method.pk),
        "type": "phone" if method.type in PHONE_TYPE_NAMES else METHOD_TYPE_NAMES.get(method.type, method.type),
        "displayName": method.name,
        "isDefault": method.is_default,
        "createdDateTime": _iso(method.created_at),
        "lastUsedDateTime": _iso(method.last_used_at),
    }
    if method.type in PHONE_TYPE_NAMES:
        item["phoneType"] = PHONE_TYPE_NAMES[method.type]
        item["phoneNumber"] = display_phone(method.phone)
    if method.type == "push":
        device = devices.get(method.pk)
        item["deviceTag"] = device.platform if device else None
    return item


def list_methods(request, caller, body, user_id):
    user = _user(user_id)
    methods = list(Method.objects.filter(user=user).order_by("created_at", "id"))
    devices = {device.method_id: device for device in PushDevice.objects.filter(user=user, method__isnull=False)}
    return 200, {"value": [method_json(m, devices) for m in methods]}


def add_phone(request, caller, body, user_id):
    _only(body, ("phoneNumber", "phoneType"))
    user = _user(user_id)
    _may_manage(caller, user)
    kind = body.get("phoneType")
    if kind not in verification.PHONE_TYPES:
        raise BadRequest("phoneType must be mobile, alternateMobile or office.", field="phoneType")
    raw = body.get("phoneNumber")
    if not isinstance(raw, str) or not raw.strip() or len(raw) > 40:
        raise BadRequest("phoneNumber must be a phone number like +44 20 7946 0958.", field="phoneNumber")
    try:
        number = parse_phone(raw, allow_extension=kind == "office")
    except PhoneNumberInvalid as exc:
        raise BadRequest(f"phoneNumber: {exc.message}", field="phoneNumber") from None
    method_type = verification.PHONE_TYPES[kind]
    try:
        with transaction.atomic():
            method = phone_methods.register_phone(user, method_type=method_type, phone=number.stored,
                                                  now=timezone.now(), request=request)
            record_change(actor=caller.actor, action="method.add", target=user, request=request,
                          after={"type": method_type, "phone": phone_methods.masked(method.phone),
                                 "method_id": method.pk})
    except MethodLimitReached:
        raise Conflict(f"The person already has a {kind} phone; delete it first.", field="phoneType") from None
    response = JsonResponse(method_json(method, {}), status=201)
    response["Location"] = request.build_absolute_uri(f"/api/v1/users/{user.pk}/authentication/methods/{method.pk}")
    return response


def read_method(request, caller, body, user_id, method_id):
    user = _user(user_id)
    method = Method.objects.filter(user=user, pk=method_id).first() if method_id.isascii() and method_id.isdigit() and len(method_id) < 19 \
        else None
    if method is None:
        raise NotFound("The person has no authentication method with that id.")
    devices = {d.method_id: d for d in PushDevice.objects.filter(method=method)}
    return 200, method_json(method, devices)


def remove_method(request, caller, body, user_id, method_id):
    user = _user(user_id)
    _may_manage(caller, user)
    delete_method(user, method_id, actor=caller.actor, request=request)
    return 204, None


def reregister(request, caller, body, user_id):
    _only(body, ())
    user = _user(user_id)
    _may_manage(caller, user)
    user = require_reregistration(user, actor=caller.actor, request=request)
    return 200, {"perUserMfaState": user.mfa_state}


# ----------------------------------------------------------------------------------------------
# Logs


def signin_json(event: SignInEvent) -> dict:
    return {
        "id": str(event.pk),
        "createdDateTime": _iso(event.time),
        "userPrincipalName": event.typed_name,
        "userId": str(event.user_id) if event.user_id else None,
        "appDisplayName": event.app,
        "ipAddress": event.ip,
        "userAgent": event.user_agent,
        "step": event.step,
        "result": event.result,
        "status": {"errorCode": event.error_code or 0, "failureReason": event.reason},
        "authenticationMethod": event.method or None,
        "authenticationRequirement": event.requirement or None,
        "correlationId": event.flow_id,
    }


def audit_json(event: AuditEvent) -> dict:
    return {
        "id": str(event.pk),
        "activityDateTime": _iso(event.time),
        "activityDisplayName": event.action,
        "initiatedBy": event.actor_label,
        "targetResources": [{"type": event.target_type, "id": event.target_id,
                             "displayName": event.target_label}] if event.target_type else [],
        "before": event.before,
        "after": event.after,
        "ipAddress": event.ip,
        "result": event.result,
        "resultReason": event.reason,
    }


def _time_window(request, rows, field: str):
    since, until = _query_time(request, "since"), _query_time(request, "until")
    if since:
        rows = rows.filter(**{f"{field}__gte": since})
    if until:
        rows = rows.filter(**{f"{field}__lt": until})
    return rows


def list_signins(request, caller, body):
    rows = _time_window(request, SignInEvent.objects.all(), "time")
    who = request.GET.get("user", "").strip()
    if len(who) > 254:
        raise BadRequest("user is at most 254 characters.", field="user")
    if who:
        rows = rows.filter(user_id=int(who)) if who.isascii() and who.isdigit() and len(who) < 19 else rows.filter(
            typed_name__iexact=who)
    result = _query_choice(request, "result", SignInEvent.Result.values)
    if result:
        rows = rows.filter(result=result)
    error_code = _query_int(request, "errorCode", None, 0, 999999)
    if error_code is not None:
        rows = rows.filter(error_code=error_code or None)
    app = request.GET.get("app", "").strip()
    if app:
        rows = rows.filter(app=app[:64])
    return 200, _page(request, rows, descending=True, render=signin_json)


def list_audits(request, caller, body):
    rows = _time_window(request, AuditEvent.objects.all(), "time")
    for name, field in (("initiatedBy", "actor_label"), ("activity", "action"), ("targetId", "target_id")):
        value = request.GET.get(name, "").strip()
        if len(value) > 300:
            raise BadRequest(f"{name} is at most 300 characters.", field=name)
        if value:
            rows = rows.filter(**{field: value})
    return 200, _page(request, rows, descending=True, render=audit_json)


# ----------------------------------------------------------------------------------------------
# Verification


def _end_user(body: dict) -> tuple[str | None, str]:
    """The end user's address and user agent, when the backend passes them: for the sign-in log,
    throttling and the location shown on the person's device."""
    ip = body.get("ipAddress")
    if ip is not None:
        import ipaddress

        try:
            ip = str(ipaddress.ip_address(ip)) if isinstance(ip, str) else None
        except ValueError:
            ip = None
        if ip is None:
            raise BadRequest("ipAddress must be an IPv4 or IPv6 address.", field="ipAddress")
    agent = body.get("userAgent", "")
    if not isinstance(agent, str) or len(agent) > 512:
        raise BadRequest("userAgent must be text of at most 512 characters.", field="userAgent")
    return ip, agent


def verify(request, caller, body):
    _only(body, ("user", "code", "challengeId", "ipAddress", "userAgent"))
    user = verification.clean_user(body.get("user"))
    code = verification.clean_code(body.get("code"))
    challenge_id = body.get("challengeId") or ""
    if not isinstance(challenge_id, str) or len(challenge_id) > 40:
        raise BadRequest("challengeId must be the id of a text challenge.", field="challengeId")
    ip, agent = _end_user(body)
    result = verification.verify(caller, user=user, code=code, challenge_id=challenge_id, ip=ip, user_agent=agent)
    if result.reason == "throttled":
        raise verification.Throttled(retry_after=result.retry_after)
    payload = {"result": "accept" if result.accepted else "reject"}
    if result.accepted:
        payload["method"] = result.method
    else:
        payload["reason"] = result.reason
    return 200, payload


def challenge_json(row) -> dict:
    body = {
        "id": row.id,
        "userId": str(row.user_id),
        "method": row.method,
        "app": row.app,
        "status": row.status,
        "createdDateTime": _iso(row.created_at),
        "expiresDateTime": _iso(row.expires_at),
    }
    if row.detail:
        body["detail"] = row.detail
    if getattr(row, "number", None):
        body["number"] = row.number
    if getattr(row, "phone", None):
        body["phoneNumber"] = row.phone
    return body


def start_challenge(request, caller, body):
    _only(body, ("user", "method", "app", "ipAddress", "userAgent"))
    user = verification.clean_user(body.get("user"))
    method = verification.clean_method(body.get("method"))
    app = verification.clean_app(body.get("app"))
    ip, agent = _end_user(body)
    row = verification.start(caller, user=user, method=method, app=app, ip=ip, user_agent=agent)
    response = JsonResponse(challenge_json(row), status=201)
    response["Location"] = request.build_absolute_uri(f"/api/v1/challenges/{row.id}")
    return response


def read_challenge(request, caller, body, challenge_id):
    return 200, challenge_json(verification.status(verification.get(caller, challenge_id)))


def cancel_challenge(request, caller, body, challenge_id):
    row = verification.cancel(caller, verification.get(caller, challenge_id))
    return 200, challenge_json(row)


# ----------------------------------------------------------------------------------------------
# Routes

users = route(get=("users.read", list_users), post=("users.write", create_user))
user = route(get=("users.read", read_user), patch=("users.write", update_user))
requirements = route(get=("users.read", read_requirements), patch=("users.write", update_requirements))
methods = route(get=("methods.read", list_methods))
method = route(get=("methods.read", read_method), delete=("methods.write", remove_method))
phone_methods_route = route(post=("methods.write", add_phone))
reregistration = route(post=("methods.write", reregister))
signins = route(get=("logs.read", list_signins))
audits = route(get=("logs.read", list_audits))
verify_route = route(post=("verify", verify))
challenges = route(post=("verify", start_challenge))
challenge = route(get=("verify", read_challenge), delete=("verify", cancel_challenge))


def openapi_document(request):
    """The OpenAPI description; public, like the API's documentation."""
    if request.method not in ("GET", "HEAD"):
        response = error_response(MethodNotAllowed())
        response["Allow"] = "GET, HEAD"
        return response
    return JsonResponse(openapi.document(request.build_absolute_uri("/api/v1")),
                        json_dumps_params={"indent": 1})


def not_found(request, rest: str = ""):
    return error_response(NotFound("There is no such API path; see /api/v1/openapi.json."))
