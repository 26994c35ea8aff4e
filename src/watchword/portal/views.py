"""My account and Security info."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from watchword.core.errors import WatchwordError
from watchword.directory.phones import display_phone
from watchword.methods import registry
from watchword.methods.services import (
    complete_registration,
    default_method,
    delete_method,
    methods_of,
    set_default_method,
)
from watchword.portal import wizard
from watchword.signin.guards import fresh_mfa_required, signed_in_required


def home(request):
    return redirect("portal:myaccount" if request.user.is_authenticated else "signin:start")


@signed_in_required
def myaccount(request):
    user = request.user
    return render(request, "portal/myaccount.html", {
        "office_phone": display_phone(user.office_phone), "mobile_phone": display_phone(user.mobile_phone),
        "method_count": user.methods.count(),
    })


def _method_rows(user):
    rows = []
    for method in methods_of(user):
        kind = registry.get(method.type)
        rows.append({"method": method, "label": kind.label, "detail": getattr(kind, "detail", "")})
    return rows


@fresh_mfa_required
def securityinfo(request):
    user = request.user
    return render(request, "portal/securityinfo.html", {
        "rows": _method_rows(user), "default": default_method(user),
    })


@fresh_mfa_required
@require_http_methods(["GET", "HEAD", "POST"])
def add_authenticator(request):
    user = request.user

    def on_success(method):
        complete_registration(user, method, request=request)

    def on_done():
        messages.success(request, "Authenticator app added. You can now use it to sign in.")
        return redirect("portal:securityinfo")

    return wizard.run(request, user=user, on_success=on_success, on_done=on_done, mode="add",
                      base_url=reverse("portal:add_authenticator"), account_name=user.upn)


@fresh_mfa_required
@require_POST
def delete(request, method_id: int):
    try:
        delete_method(request.user, method_id, actor=request.user, request=request)
    except WatchwordError as exc:
        messages.error(request, exc.public_message)
    else:
        messages.success(request, "The sign-in method was deleted.")
    return redirect("portal:securityinfo")


@fresh_mfa_required
@require_http_methods(["GET", "HEAD", "POST"])
def change_default(request):
    user = request.user
    if request.method == "POST":
        try:
            set_default_method(user, request.POST.get("method", ""), actor=user, request=request)
        except WatchwordError as exc:
            messages.error(request, exc.public_message)
        else:
            messages.success(request, "Your default sign-in method was changed.")
        return redirect("portal:securityinfo")
    return render(request, "portal/change_default.html", {"rows": _method_rows(user), "default": default_method(user)})
