"""Admin → Security: the overview, Conditional Access policies (list, add, edit, state, delete,
import, export) and the what-if tool.

Global and Security Administrators only. Every change goes through ``policy.services`` (validated
completely, audited there); the forms here only turn what was chosen into a policy document and
put each validation error next to the input it is about.
"""

from __future__ import annotations

import json

from django.contrib import messages
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from watchword.policy import document as doc
from watchword.policy import graph, services
from watchword.policy.engine import Outcome
from watchword.policy.errors import LockoutRisk, PolicyConflict, PolicyInvalid, PolicyNotFound
from watchword.policy.forms import (
    ACTION_LABEL,
    RESULT_LABELS,
    ROLE_CHOICES,
    STATE_LABELS,
    ImportForm,
    PolicyForm,
    WhatIfForm,
    control_text,
    field_for,
    initial_for,
)
from watchword.policy.models import AuthenticationStrength, ConditionalAccessPolicy, NamedLocation
from watchword.policy.resolve import DatabaseResolver
from watchword.policy.strengths import BUILT_IN
from watchword.policy.whatif import what_if
from watchword.signin.guards import policy_admin_required

STATE_BADGES = {"enabled": "success", "enabledForReportingButNotEnforced": "enabled", "disabled": ""}
OUTCOMES = {Outcome.ALLOW: "Would be let in with the password alone",
            Outcome.REQUIRE_MFA: "Would be asked for MFA",
            Outcome.REQUIRE_REGISTRATION: "Would be asked to register an MFA method first",
            Outcome.BLOCK: "Would be blocked"}
ROLES = dict(ROLE_CHOICES)


# --- how a policy is described ---------------------------------------------------------------

class Names:
    """Display names for the ids policies hold, read once per page."""

    def __init__(self, users=()):
        from watchword.directory.models import Group, User

        wanted = [int(u) for u in {str(u) for u in users} if u.isdigit() and len(u) < 19]
        self.users = {str(pk): upn for pk, upn in User.objects.filter(pk__in=wanted).values_list("pk", "upn")}
        self.groups = {str(pk): name for pk, name in Group.objects.values_list("pk", "name")}
        self.apps = dict(services.applications())
        self.locations = {str(pk): name for pk, name in NamedLocation.objects.values_list("pk", "display_name")}
        self.strengths = {s.id: s.name for s in BUILT_IN.values()}
        self.strengths.update((str(pk), n) for pk, n in AuthenticationStrength.objects.values_list("pk", "display_name"))


def _listed(ids, names: dict, nouns: str, *, most: int = 3) -> list[str]:
    shown = sorted(names.get(i, f"{i} (not found)") for i in ids)
    return [f"{len(shown)} {nouns}"] if len(shown) > most else shown


def who_text(p: doc.CompiledPolicy, names: Names) -> str:
    if p.include_all_users:
        parts = ["All users"]
    else:
        parts = (_listed(p.include_users, names.users, "people") + _listed(p.include_groups, names.groups, "groups")
                 + [ROLES[r] for r in sorted(p.include_roles)])
    excluded = (_listed(p.exclude_users, names.users, "people") + _listed(p.exclude_groups, names.groups, "groups")
                + [ROLES[r] for r in sorted(p.exclude_roles)])
    return ", ".join(parts) + (f"; excluding {', '.join(excluded)}" if excluded else "")


def target_text(p: doc.CompiledPolicy, names: Names) -> str:
    if p.user_actions:
        return f"User action: {ACTION_LABEL}"
    parts = ["All applications"] if p.apps.everything else _listed(p.apps.include, names.apps, "applications")
    excluded = _listed(p.apps.exclude, names.apps, "applications")
    return ", ".join(parts) + (f"; excluding {', '.join(excluded)}" if excluded else "")


def frequency_text(seconds: int) -> str:
    if seconds == 0:
        return "every time"
    hours = seconds // 3600
    amount, unit = (hours // 24, "day") if hours % 24 == 0 else (hours, "hour")
    return f"every {unit}" if amount == 1 else f"every {amount} {unit}s"


def grant_text(p: doc.CompiledPolicy, names: Names) -> str:
    if p.block:
        parts = ["Block access"]
    else:
        controls = (["Require MFA"] if "mfa" in p.controls else []) + (
            [f"Require authentication strength '{names.strengths.get(p.strength, p.strength)}'"] if p.strength else [])
        parts = [(" and " if p.operator == "AND" else " or ").join(controls)] if controls else []
    if p.frequency_seconds is not None:
        parts.append(f"sign in again {frequency_text(p.frequency_seconds)}")
    if p.persistent_browser:
        parts.append(f"persistent browser session: {p.persistent_browser}")
    return "; ".join(parts)


def _row(policy: ConditionalAccessPolicy, compiled, names: Names) -> dict:
    row = {"policy": policy, "badge": STATE_BADGES.get(policy.state, "")}
    if isinstance(compiled, PolicyInvalid):
        row["broken"] = compiled.public_message
    else:
        row.update(who=who_text(compiled, names), target=target_text(compiled, names),
                   grant=grant_text(compiled, names))
    return row


def _compiled(policy: ConditionalAccessPolicy):
    try:
        return doc.compile_policy(policy.document, id=str(policy.pk))
    except PolicyInvalid as exc:
        return exc


# --- overview and list -----------------------------------------------------------------------

@policy_admin_required
@require_http_methods(["GET", "HEAD"])
def security_home(request):
    counts = {state: ConditionalAccessPolicy.objects.filter(state=state).count()
              for state in ("enabled", "enabledForReportingButNotEnforced", "disabled")}
    return render(request, "policy/ca_home.html", {
        "settings": services.current_settings(), "counts": [(STATE_LABELS[s], n) for s, n in counts.items()],
        "total": sum(counts.values()), "broken": services.load().config.broken,
        "locations": NamedLocation.objects.count(), "strengths": AuthenticationStrength.objects.count(),
        "built_in": len(BUILT_IN),
    })


@policy_admin_required
@require_http_methods(["GET", "HEAD"])
def policy_list(request):
    policies = list(ConditionalAccessPolicy.objects.all())
    compiled = [_compiled(p) for p in policies]
    names = Names(u for c in compiled if not isinstance(c, PolicyInvalid) for u in c.include_users | c.exclude_users)
    return render(request, "policy/ca_list.html", {
        "rows": [_row(p, c, names) for p, c in zip(policies, compiled)],
        "security_defaults": services.current_settings().security_defaults,
    })


@policy_admin_required
@require_http_methods(["GET", "HEAD"])
def policy_export(request):
    exported = []
    for policy in ConditionalAccessPolicy.objects.order_by("created_at"):
        try:
            exported.append(graph.export_policy(policy.document, id=str(policy.pk),
                                                created=policy.created_at.isoformat(),
                                                modified=policy.modified_at.isoformat()))
        except PolicyInvalid:  # cannot be read any more: exported as stored, so nothing is lost
            exported.append({"id": str(policy.pk), **policy.document})
    response = JsonResponse(graph.export_many(exported), json_dumps_params={"indent": 2})
    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="conditional-access-policies-{stamp}.json"'
    return response


# --- add and edit ----------------------------------------------------------------------------

def _policy_or_404(request, policy_id):
    try:
        return services.get_policy(policy_id), None
    except PolicyNotFound:
        return None, render(request, "core/error.html", {"title": "Policy not found",
                                                         "text": "There is no such Conditional Access policy."},
                            status=404)


def _put_error(form, exc) -> None:
    name = field_for(exc.field)
    form.add_error(name if name in form.fields else None, exc.public_message)


def _graph_json(policy: ConditionalAccessPolicy) -> str:
    try:
        shown = graph.export_policy(policy.document, id=str(policy.pk), created=policy.created_at.isoformat(),
                                    modified=policy.modified_at.isoformat())
    except PolicyInvalid:
        shown = policy.document
    return json.dumps(shown, indent=2, ensure_ascii=False)


def _policy_page(request, policy: ConditionalAccessPolicy | None):
    initial, problem, named = None, None, {}
    if policy is not None:
        users = (policy.document.get("conditions") or {}).get("users") or {}
        names = Names([*(users.get("includeUsers") or ()), *(users.get("excludeUsers") or ())])
        initial = initial_for(policy.document, upns=names.users)
        named = {**{pk: pk for pk in names.users}, **{upn: pk for pk, upn in names.users.items()}}
        compiled = _compiled(policy)
        problem = compiled if isinstance(compiled, PolicyInvalid) else None
    form = PolicyForm(request.POST or None, named=named, **({"initial": initial} if initial else {}))
    lockout, status = [], 200
    if request.method == "POST":
        if form.is_valid():
            document = form.document(keep=policy.document if policy else None)
            try:
                saved, warnings = services.save_policy(
                    document, actor=request.user, policy_id=policy.pk if policy else None,
                    confirm=form.cleaned_data["confirm_lockout"], request=request)
            except LockoutRisk as exc:
                lockout, status = exc.detail.get("warnings") or [exc.public_message], 409
            except (PolicyInvalid, PolicyConflict) as exc:
                _put_error(form, exc)
            else:
                done = "saved" if policy else "created"
                messages.success(request, f"Policy '{saved.display_name}' {done}; it is "
                                          f"{saved.state_label.lower()}." + (" " + " ".join(warnings) if warnings else ""))
                return redirect("policy:policy", policy_id=saved.pk)
        if form.errors:
            status = 400
    context = {"form": form, "policy": policy, "lockout": lockout, "problem": problem,
               "title": f"Edit {policy.display_name}" if policy else "New Conditional Access policy",
               "security_defaults": services.current_settings().security_defaults}
    if policy is not None:
        context.update(json=_graph_json(policy), badge=STATE_BADGES.get(policy.state, ""),
                       states=list(STATE_LABELS.items()))
    return render(request, "policy/ca_form.html", context, status=status)


@policy_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def policy_new(request):
    return _policy_page(request, None)


@policy_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def policy_edit(request, policy_id):
    policy, missing = _policy_or_404(request, policy_id)
    return missing or _policy_page(request, policy)


@policy_admin_required
@require_http_methods(["POST"])
def policy_state(request, policy_id):
    """The quick switch: On, Report-only or Off, without opening the form."""
    policy, missing = _policy_or_404(request, policy_id)
    if missing:
        return missing
    state = request.POST.get("state", "")
    if state not in STATE_LABELS:
        messages.error(request, "Choose On, Report-only or Off.")
        return redirect("policy:policy", policy_id=policy.pk)
    try:
        saved, _ = services.set_policy_state(policy.pk, state, actor=request.user,
                                             confirm=request.POST.get("confirm_lockout") == "on", request=request)
    except LockoutRisk as exc:
        return render(request, "policy/ca_state_confirm.html", {
            "policy": policy, "state": state, "state_label": STATE_LABELS[state],
            "warnings": exc.detail.get("warnings") or [exc.public_message]}, status=409)
    except (PolicyInvalid, PolicyConflict) as exc:
        messages.error(request, exc.public_message)
    else:
        messages.success(request, f"Policy '{saved.display_name}' is now {saved.state_label.lower()}.")
    return redirect("policy:policy", policy_id=policy.pk)


@policy_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def policy_delete(request, policy_id):
    policy, missing = _policy_or_404(request, policy_id)
    if missing:
        return missing
    if request.method == "POST":
        services.delete_policy(policy.pk, actor=request.user, request=request)
        messages.success(request, f"Policy '{policy.display_name}' deleted.")
        return redirect("policy:policies")
    return render(request, "policy/ca_delete.html", {"policy": policy, "state_label": policy.state_label})


# --- import ----------------------------------------------------------------------------------

def _save_all(results, *, request, confirm: bool, keep: bool) -> tuple[list[dict], bool]:
    """Save every imported policy in one transaction, kept only if ``keep`` and all saved. Each
    policy's outcome: its name, state, import warnings, and the error or lockout warnings."""
    outcomes, failed = [], False
    with transaction.atomic():
        for index, result in enumerate(results):
            document = result.document
            outcome = {"number": index + 1, "name": document.get("displayName", ""),
                       "state": STATE_LABELS.get(document.get("state"), document.get("state", "")),
                       "warnings": result.warnings, "error": None, "lockout": []}
            try:
                with transaction.atomic():
                    services.save_policy(document, actor=request.user, confirm=confirm, request=request,
                                         action="policy.import")
            except LockoutRisk as exc:
                outcome["lockout"], failed = exc.detail.get("warnings") or [exc.public_message], True
            except (PolicyInvalid, PolicyConflict) as exc:
                outcome["error"], failed = (exc.public_message, exc.field or ""), True
            outcomes.append(outcome)
        if failed or not keep:
            transaction.set_rollback(True)
    return outcomes, failed


def _text_of(payload: bytes) -> str:
    try:
        return payload.decode("utf-8-sig")
    except UnicodeDecodeError:
        return ""


@policy_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def policy_import(request):
    form = ImportForm(request.POST or None, request.FILES or None)
    outcomes, failed, status = None, False, 200
    action = request.POST.get("action", "check")
    if request.method == "POST" and form.is_valid():
        payload = form.payload()
        try:
            results = graph.import_many(payload, resolve=DatabaseResolver())
        except PolicyInvalid as exc:
            form.add_error(form.source_field, exc.public_message + (f" (at {exc.field})" if exc.field else ""))
        else:
            if not results:
                form.add_error(form.source_field, "There is no policy in this JSON.")
            else:
                outcomes, failed = _save_all(results, request=request, keep=action == "import",
                                             confirm=form.cleaned_data["confirm_lockout"])
                if action == "import" and not failed:
                    warned = [o for o in outcomes if o["warnings"]]
                    messages.success(request, f"Imported {len(outcomes)} polic{'y' if len(outcomes) == 1 else 'ies'}"
                                              f", each in its own state.")
                    for o in warned:
                        messages.warning(request, f"'{o['name']}': " + " ".join(w.message for w in o["warnings"]))
                    return redirect("policy:policies")
                if form.source_field == "file":  # kept in the box, so Import needs no second upload
                    form = ImportForm(initial={"text": _text_of(payload)})
    if form.errors or failed:
        status = 400
    return render(request, "policy/ca_import.html", {
        "form": form, "outcomes": outcomes, "failed": failed, "checked": action == "check",
        "lockout": any(o["lockout"] for o in outcomes or ()),
        "security_defaults": services.current_settings().security_defaults}, status=status)


# --- what if ---------------------------------------------------------------------------------

def _evaluation_view(evaluation) -> dict:
    decision = evaluation.decision
    applied = [r for r in decision.policy_results if r.applied]
    skipped = [r for r in decision.policy_results if not r.applied]
    session = decision.session
    return {
        "outcome": OUTCOMES[decision.outcome], "badge": {Outcome.BLOCK: "failure", Outcome.ALLOW: "success"}.get(
            decision.outcome, "enabled"),
        "code": decision.error_code, "reasons": [r.detail for r in decision.reasons],
        "risk": evaluation.facts.risk, "risk_reason": evaluation.risk_reason,
        "frequency": frequency_text(session.frequency_seconds) if session.frequency_seconds is not None else "",
        "persistent": session.persistent_browser or "",
        "applied": [{"result": r, "state": "Report-only" if r.report_only else "On",
                     "outcome": RESULT_LABELS.get(r.result, r.result),
                     "controls": [control_text(c) for c in r.controls]} for r in applied],
        "skipped": [{"result": r, "state": "Report-only" if r.report_only else "On", "unmet": r.unmet}
                    for r in skipped],
        "off": ConditionalAccessPolicy.objects.filter(state="disabled").count(),
    }


@policy_admin_required
@require_http_methods(["GET", "HEAD"])
def whatif(request):
    bound = "user" in request.GET
    form = WhatIfForm(request.GET if bound else None)
    result, status = None, 200
    if bound and form.is_valid():
        d = form.cleaned_data
        try:
            evaluation = what_if(user=d["user"], app=d["app"], client=d["client"] or "browser", ip=d["ip"].strip(),
                                 platform=d["platform"], risk=d["risk"] or None,
                                 user_action=doc.ACTION_REGISTER if d["user_action"] else "")
        except PolicyInvalid as exc:
            name = WhatIfForm.FIELDS.get(exc.field or "")
            form.add_error(name, exc.public_message)
        else:
            result = _evaluation_view(evaluation)
            result["person"] = d["user"]
    if form.errors:
        status = 400
    return render(request, "policy/whatif.html", {"form": form, "result": result}, status=status)
