"""Recording sign-in events and audit events. Codes and secrets never reach these records."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from watchword.audit.models import AuditEvent, SignInEvent


def client_ip(request) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


def _clip(value: str, size: int) -> str:
    return (value or "")[:size]


def record_signin(
    *,
    request,
    flow_id: str,
    typed_name: str,
    user=None,
    step: str,
    result: str,
    error_code: int | None = None,
    reason: str = "",
    method: str = "",
    requirement: str = "",
    app: str = "portal",
    ip: str | None = None,
    conditional_access: list | None = None,
    client_app: str = "",
    risk: str = "",
) -> SignInEvent:
    """One sign-in log row. ``app`` names the application signed in to (``portal`` for the web
    sign-in, ``radius:<NAS>`` for RADIUS). ``ip`` overrides the request's address, for events
    decided away from the sign-in's own request (a device answering a push). ``conditional_access``
    is each Conditional Access policy's result (``signin.facts.Evaluation.log_fields``)."""
    return SignInEvent.objects.create(
        time=timezone.now(),
        flow_id=flow_id,
        typed_name=_clip(typed_name, 300),
        user=user,
        ip=ip if ip is not None else client_ip(request),
        user_agent=_clip(request.META.get("HTTP_USER_AGENT", "") if request is not None else "", 512),
        app=app,
        step=step,
        result=result,
        error_code=error_code,
        reason=_clip(reason, 300),
        method=method,
        requirement=_clip(requirement, 64),
        conditional_access=conditional_access or None,
        client_app=_clip(client_app, 32),
        risk=_clip(risk, 8),
    )


def actor_label(actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return actor.upn


def record_change(
    *,
    actor,
    action: str,
    target=None,
    target_type: str = "",
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    request=None,
    result: str = "success",
    reason: str = "",
) -> AuditEvent:
    """One audit event: who (``actor``: a user, or a label such as ``'cli'``), what, on what,
    before → after."""
    return AuditEvent.objects.create(
        time=timezone.now(),
        actor=actor if hasattr(actor, "pk") else None,
        actor_label=_clip(actor_label(actor), 300),
        action=action,
        target_type=target_type or (type(target).__name__.lower() if target is not None else ""),
        target_id=str(getattr(target, "pk", "") or ""),
        target_label=_clip(str(target) if target is not None else "", 300),
        before=before,
        after=after,
        ip=client_ip(request),
        result=result,
        reason=_clip(reason, 300),
    )
