"""Admin pages for the sign-in log and the audit log, filterable and paged."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

from django import forms
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import render
from django.utils import timezone

from watchword.audit.codes import DESCRIPTIONS
from watchword.audit.models import AuditEvent, SignInEvent
from watchword.policy.forms import RESULT_LABELS, control_text
from watchword.signin.guards import admin_required


# The sign-in's Conditional Access status (``SignInEvent.conditional_access_status``), in words.
CA_STATUSES = {"success": "Success", "failure": "Failure", "notApplied": "Not applied", "interrupted": "Interrupted"}
CA_BADGES = {"success": "success", "failure": "failure", "interrupted": "interrupted", "notApplied": ""}
# An enforced policy applied: the only result written exactly so (report-only ones all start
# "reportOnly"). Matched in the stored JSON text, which SQLite and PostgreSQL both write this way.
_APPLIED = Q(conditional_access__icontains='"result": "applied"')


class SignInFilter(forms.Form):
    user = forms.CharField(label="User", max_length=254, required=False)
    result = forms.ChoiceField(label="Result", required=False,
                               choices=[("", "Any")] + list(SignInEvent.Result.choices))
    ca = forms.ChoiceField(label="Conditional Access", required=False,
                           choices=[("", "Any")] + list(CA_STATUSES.items()))
    code = forms.IntegerField(label="Error code", required=False, min_value=0, max_value=9_999_999)
    ip = forms.GenericIPAddressField(label="IP address", required=False)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))


class AuditFilter(forms.Form):
    actor = forms.CharField(label="Who", max_length=254, required=False)
    target = forms.CharField(label="Target", max_length=254, required=False)
    action = forms.CharField(label="Action", max_length=64, required=False)
    since = forms.DateField(label="From", required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label="To", required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _day_range(rows, data):
    tz = timezone.get_current_timezone()
    if data.get("since"):
        rows = rows.filter(time__gte=datetime.combine(data["since"], time.min, tzinfo=tz))
    if data.get("until") and data["until"] < date.max:
        rows = rows.filter(time__lt=datetime.combine(data["until"] + timedelta(days=1), time.min, tzinfo=tz))
    return rows


def _query(request):
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


def _ca_status(rows, status: str):
    """Sign-ins by ``SignInEvent.conditional_access_status``: a policy blocking is a failed
    sign-in, so among those with an enforced policy applied, the sign-in's result decides."""
    if status == "notApplied":
        return rows.filter(Q(conditional_access__isnull=True) | ~_APPLIED)
    return rows.filter(_APPLIED, result=status)


def _with_conditional_access(event: SignInEvent) -> SignInEvent:
    """The row with its Conditional Access status and each policy's result, in words."""
    status = event.conditional_access_status
    event.ca_label, event.ca_badge = CA_STATUSES.get(status, status), CA_BADGES.get(status, "")
    event.ca_policies = [{
        "name": str(r.get("displayName") or r.get("id") or ""),
        "result": RESULT_LABELS.get(r.get("result"), str(r.get("result", ""))),
        "controls": ", ".join(control_text(c) for c in r.get("controls") or ()),
        "unmet": str(r.get("conditionNotSatisfied") or ""),
    } for r in event.conditional_access or () if isinstance(r, dict)]
    return event


@admin_required
def signin_log(request):
    form = SignInFilter(request.GET)  # bound even when empty: no filter shows everything
    rows = SignInEvent.objects.select_related("user")
    if form.is_valid():
        data = form.cleaned_data
        if data["user"]:
            rows = rows.filter(typed_name__icontains=data["user"])
        if data["result"]:
            rows = rows.filter(result=data["result"])
        if data["ca"]:
            rows = _ca_status(rows, data["ca"])
        if data["code"] is not None:
            rows = rows.filter(error_code=data["code"])
        if data["ip"]:
            rows = rows.filter(ip=data["ip"])
        rows = _day_range(rows, data)
    else:
        rows = rows.none()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    for event in page:
        _with_conditional_access(event)
    return render(request, "audit/signin_log.html", {"form": form, "page": page, "descriptions": DESCRIPTIONS,
                                                     "query": _query(request)})


@admin_required
def audit_log(request):
    form = AuditFilter(request.GET)  # bound even when empty: no filter shows everything
    rows = AuditEvent.objects.all()
    if form.is_valid():
        data = form.cleaned_data
        if data["actor"]:
            rows = rows.filter(actor_label__icontains=data["actor"])
        if data["target"]:
            rows = rows.filter(target_label__icontains=data["target"])
        if data["action"]:
            rows = rows.filter(action__icontains=data["action"])
        rows = _day_range(rows, data)
    else:
        rows = rows.none()
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "audit/audit_log.html", {"form": form, "page": page, "query": _query(request)})
