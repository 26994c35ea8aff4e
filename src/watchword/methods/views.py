"""Admin pages for what the push method reports: "No, it's not me" fraud reports."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from watchword.core.errors import WatchwordError
from watchword.methods.models import FraudReport
from watchword.methods.services import review_fraud_report
from watchword.signin.guards import admin_required

PAGE_SIZE = 50


@admin_required
@require_GET
def fraud_reports(request):
    show = request.GET.get("show", "open")
    reports = FraudReport.objects.select_related("user")
    if show != "all":
        show = "open"
        reports = reports.filter(reviewed_at__isnull=True)
    page = Paginator(reports, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "methods/fraud_reports.html", {"page": page, "show": show, "section": "fraud",
                                                          "query": "show=all" if show == "all" else ""})


@admin_required
@require_POST
def review(request, report_id: int):
    try:
        report = review_fraud_report(report_id, actor=request.user, request=request)
    except WatchwordError as exc:
        messages.error(request, exc.public_message)
    else:
        messages.success(request, f"The report by {report.user.display_name} was marked as reviewed"
                                  f"{'; they stay blocked until you unblock them' if report.user.mfa_blocked_at else ''}.")
    return redirect("methods:fraud_reports")
