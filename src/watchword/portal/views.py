"""My account and Security info."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from watchword.audit.services import record_change
from watchword.core.errors import WatchwordError
from watchword.directory.phones import display_phone
from watchword.directory.errors import ManagedByDirectory
from watchword.directory.services import change_own_password, managed_message
from watchword.methods import registry
from watchword.methods.services import (
    complete_registration,
    default_method,
    default_method_of,
    delete_method,
    device_of,
    methods_of,
    set_default_method,
)
from watchword.policy.services import load
from watchword.portal import wizard
from watchword.portal.allowed import allowed_for
from watchword.portal.forms import ChangePasswordForm
from watchword.signin import throttle
from watchword.signin.facts import groups_of, usable_methods
from watchword.signin.guards import fresh_mfa_required, signed_in_required
from watchword.signin.services import count_password_failure, forgive_password_failures, password_throttle_keys
from watchword.signin.views import safe_next

NEXT_KEY = "watchword_add_next"  # where "Add sign-in method" returns to, when it was opened with ?next=


def home(request):
    return redirect("portal:myaccount" if request.user.is_authenticated else "signin:start")


@signed_in_required
@require_http_methods(["GET", "HEAD", "POST"])
def change_password(request):
    """Change your own password: the current one first (counted like a sign-in failure when
    wrong), then the new one twice. Other browsers are signed out; this one stays signed in. A
    password the person's directory checks is changed there, so the page says so instead (and a
    post changes nothing)."""
    if "password" in request.user.managed_fields():
        return render(request, "portal/change_password.html",
                      {"managed": managed_message(request.user, "password", own=True)},
                      status=ManagedByDirectory.status if request.method == "POST" else 200)
    form = ChangePasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = request.user
        now = timezone.now()
        keys = password_throttle_keys(user.upn, request)
        counters = throttle.standing(keys, now)
        if counters.wait:
            form.add_error("current_password",
                           f"Too many wrong passwords. {throttle.wait_phrase(counters.wait)}, then try again.")
        elif not user.check_password(form.cleaned_data["current_password"]):
            count_password_failure(keys, now)
            record_change(actor=user, action="user.password.change", target=user, result="failure",
                          reason="current password wrong", request=request)
            form.add_error("current_password", "Your current password is incorrect.")
        else:
            try:
                user = change_own_password(user, form.cleaned_data["new_password"], request=request)
            except WatchwordError as exc:
                form.add_error("new_password", exc.public_message)
            else:
                forgive_password_failures(keys, counters)
                update_session_auth_hash(request, user)
                messages.success(request, "Your password was changed. Other browsers where you were signed "
                                          "in have been signed out.")
                return redirect("portal:myaccount")
    return render(request, "portal/change_password.html", {"form": form})


@signed_in_required
def myaccount(request):
    user = request.user
    managed = user.managed_fields()
    return render(request, "portal/myaccount.html", {
        "office_phone": display_phone(user.office_phone), "mobile_phone": display_phone(user.mobile_phone),
        "method_count": user.methods.count(),
        "notes": {name: managed_message(user, name, own=True)
                  for name in ("office_phone", "mobile_phone", "password") if name in managed},
    })


def _method_rows(user):
    """Every registered method; one the methods policy turns off for the person is marked so
    (and offers none of its ways as the default), one it narrows offers only the ways left."""
    methods = methods_of(user)
    _, channels = usable_methods(methods, load(), groups_of(user))
    rows = []
    for method in methods:
        kind = registry.get(method.type)
        device = device_of(method)
        number = display_phone(method.phone) if method.phone else ""
        ways = channels.get(method.pk, ())
        if device:
            options = [(str(method.pk), f"{kind.label} - notification ({method.name})")]
        elif number:
            options = [(f"{method.pk}:{channel}", f"{kind.label} - {channel} {number}") for channel in kind.channels
                       if channel in ways or not ways]
        else:
            options = [(str(method.pk), f"{kind.label} - code (added {method.created_at:%d %b %Y %H:%M})")]
        chosen = next((label for value, label in options if value.endswith(f":{method.preferred_channel}")),
                      options[0][1])
        rows.append({"method": method, "label": kind.label, "detail": getattr(kind, "detail", ""), "device": device,
                     "number": number, "choice": chosen, "options": options, "turned_off": not ways})
    return rows


@fresh_mfa_required
def securityinfo(request):
    user = request.user
    request.session.pop(NEXT_KEY, None)  # back on Security info: an "Add" opened from elsewhere is over
    rows = _method_rows(user)
    chosen = default_method_of([row["method"] for row in rows])
    allowed = allowed_for(user)
    return render(request, "portal/securityinfo.html", {
        "rows": rows, "default": next((row for row in rows if chosen and row["method"].pk == chosen.pk), None),
        "add_app": next((kind for kind in allowed.kinds if kind != "phone"), None),
        "add_phone": allowed.offers("phone"), "phone_changes": {key for key in allowed.phones if allowed.ways(key)},
    })


@fresh_mfa_required
@require_http_methods(["GET", "HEAD", "POST"])
def add_authenticator(request):
    user = request.user

    def on_success(method):
        complete_registration(user, method, request=request)

    next_url = safe_next(request, request.GET.get("next"))
    if next_url:  # opened from elsewhere (the registration campaign): Done goes back there
        request.session[NEXT_KEY] = next_url

    def on_done():
        messages.success(request, "Authenticator app added. You can now use it to sign in.")
        return redirect(safe_next(request, request.session.pop(NEXT_KEY, "")) or reverse("portal:securityinfo"))

    return wizard.run(request, user=user, on_success=on_success, on_done=on_done, mode="add",
                      base_url=reverse("portal:add_authenticator"), account_name=user.upn)


def setup_events(request):
    """The set-up wizard's event stream (device activated, test request answered). Serves both
    Security info and the sign-in interrupt, so it checks the wizard's own session state, not a
    signed-in session."""
    return wizard.events(request)


@fresh_mfa_required
@require_http_methods(["GET", "HEAD", "POST"])
def delete(request, method_id: int):
    """"Delete" asks first (GET shows what will be deleted and what that means), then deletes."""
    method = request.user.methods.filter(pk=method_id).first()
    if method is None:
        messages.error(request, "That sign-in method does not exist.")
        return redirect("portal:securityinfo")
    if request.method != "POST":
        return render(request, "portal/delete_method.html", {
            "method": method, "label": registry.get(method.type).label,
            "only_one": request.user.methods.count() == 1})
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
