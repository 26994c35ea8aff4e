"""Admin → Security: Security Defaults, named locations, authentication strengths, the
authentication-methods policy and the MFA settings.

Global and Security Administrators only (``policy_admin_required``). Every change goes through
``policy.services`` or ``policy.mfa_settings`` (validated completely, saved in one transaction and
audited there); these views put each ``PolicyInvalid`` next to the field it names and show a
``PolicyConflict`` (Security Defaults against enabled policies, a location or strength still in
use) in its own words. Nothing is saved while any field is wrong.
"""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from watchword.core.errors import WatchwordError
from watchword.directory.models import Group
from watchword.policy import mfa_settings
from watchword.policy import strengths as st
from watchword.policy.engine import SECURITY_DEFAULTS_GRACE_DAYS
from watchword.policy.errors import PolicyConflict, PolicyNotFound
from watchword.policy.models import AuthenticationStrength, ConditionalAccessPolicy, NamedLocation
from watchword.policy.services import (
    current_settings,
    delete_location,
    delete_strength,
    policies_naming,
    save_location,
    save_strength,
    set_security_defaults,
)
from watchword.policy.settings_forms import (
    LocationForm,
    MethodsPolicyForm,
    MfaSettingsForm,
    SecurityDefaultsForm,
    StrengthForm,
    combinations_in_words,
    location_initial,
    methods_initial,
    mfa_settings_initial,
    strength_initial,
)
from watchword.signin.guards import policy_admin_required

SHOWN_NAMES = 5
PAGE = ["GET", "HEAD"]
FORM = ["GET", "HEAD", "POST"]


def _posted(request):
    return request.POST if request.method == "POST" else None


def _not_found(request, title: str, text: str):
    return render(request, "core/error.html", {"title": title, "text": text}, status=404)


def _status(form, error: WatchwordError | None = None) -> int:
    if error is not None:
        return error.status
    return 400 if form.errors else 200


def _groups() -> list[tuple[str, str]]:
    return [(str(pk), name) for pk, name in Group.objects.order_by("name").values_list("pk", "name")]


def _known(groups: list[tuple[str, str]]) -> frozenset[str]:
    return frozenset(pk for pk, _ in groups)


# --- Security Defaults ---------------------------------------------------------------------------

TURNED_ON = (f"Security Defaults is on. People without a sign-in method are asked to set up the authenticator app "
             f"at their next sign-in and have {SECURITY_DEFAULTS_GRACE_DAYS} days to do so; administrators are asked "
             f"for MFA at every sign-in.")
TURNED_OFF = ("Security Defaults is off. Per-user MFA and Conditional Access policies now decide when MFA is asked "
              "for.")


@policy_admin_required
@require_http_methods(FORM)
def security_defaults(request):
    row = current_settings()
    form = SecurityDefaultsForm(_posted(request), initial={"enabled": "yes" if row.security_defaults else "no"})
    error = None
    if request.method == "POST" and form.is_valid():
        on = form.turned_on()
        try:
            set_security_defaults(on, actor=request.user, request=request)
        except WatchwordError as exc:
            form.add_service_error(exc)
            error = exc
        else:
            messages.success(request, TURNED_ON if on else TURNED_OFF)
            return redirect("policy_settings:defaults")
    enabled = ConditionalAccessPolicy.objects.filter(state="enabled")
    names = list(enabled.values_list("display_name", flat=True)[:SHOWN_NAMES])
    return render(request, "policy/settings_defaults.html", {
        "form": form, "row": row, "grace_days": SECURITY_DEFAULTS_GRACE_DAYS, "enabled_names": names,
        "enabled_more": enabled.count() - len(names) if len(names) == SHOWN_NAMES else 0,
    }, status=_status(form, error))


# --- named locations -----------------------------------------------------------------------------

def _location_or_404(request, location_id):
    location = NamedLocation.objects.filter(pk=location_id).first()
    if location is None:
        return None, _not_found(request, "Named location not found", "There is no such named location.")
    return location, None


@policy_admin_required
@require_http_methods(PAGE)
def location_list(request):
    return render(request, "policy/settings_locations.html", {"locations": NamedLocation.objects.all()})


def _location_form(request, location: NamedLocation | None):
    form = LocationForm(_posted(request), initial=location_initial(location) if location else None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = save_location(**form.location_data(), actor=request.user, request=request,
                                  location_id=location.pk if location else None)
        except PolicyNotFound:
            return _not_found(request, "Named location not found", "The named location was deleted meanwhile.")
        except WatchwordError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Saved: named location {saved.display_name} ({len(saved.ranges)} "
                                      f"range{'s' if len(saved.ranges) != 1 else ''}).")
            return redirect("policy_settings:locations")
    return render(request, "policy/settings_location_form.html", {
        "form": form, "location": location,
        "used_by": policies_naming("locations", str(location.pk)) if location else [],
        "title": f"Edit {location.display_name}" if location else "Add a named location",
    }, status=_status(form))


@policy_admin_required
@require_http_methods(FORM)
def location_add(request):
    return _location_form(request, None)


@policy_admin_required
@require_http_methods(FORM)
def location_edit(request, location_id):
    location, missing = _location_or_404(request, location_id)
    return missing or _location_form(request, location)


@policy_admin_required
@require_http_methods(FORM)
def location_delete(request, location_id):
    location, missing = _location_or_404(request, location_id)
    if missing:
        return missing
    error = None
    if request.method == "POST":
        try:
            delete_location(location.pk, actor=request.user, request=request)
        except PolicyNotFound:
            return _not_found(request, "Named location not found", "The named location was deleted meanwhile.")
        except PolicyConflict as exc:
            error = exc
        else:
            messages.success(request, f"Deleted: named location {location.display_name}.")
            return redirect("policy_settings:locations")
    return render(request, "policy/settings_location_delete.html", {
        "location": location, "error": error.public_message if error else "",
        "used_by": policies_naming("locations", str(location.pk)),
    }, status=error.status if error else 200)


# --- authentication strengths --------------------------------------------------------------------

def _strength_or_404(request, strength_id):
    strength = AuthenticationStrength.objects.filter(pk=strength_id).first()
    if strength is None:
        return None, _not_found(request, "Authentication strength not found",
                                "There is no such custom authentication strength (the built-in ones can't be "
                                "changed).")
    return strength, None


@policy_admin_required
@require_http_methods(PAGE)
def strength_list(request):
    def shown(strength, combinations) -> dict:
        usable, not_yet = combinations_in_words(combinations)
        return {"strength": strength, "usable": usable, "not_yet": not_yet}

    built_in = [shown(s, s.combinations) for s in st.BUILT_IN.values()]
    custom = [shown(s, s.combinations) for s in AuthenticationStrength.objects.all()]
    return render(request, "policy/settings_strengths.html", {"built_in": built_in, "custom": custom})


def _strength_form(request, strength: AuthenticationStrength | None):
    form = StrengthForm(_posted(request), initial=strength_initial(strength) if strength else None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = save_strength(**form.strength_data(), actor=request.user, request=request,
                                  strength_id=strength.pk if strength else None)
        except PolicyNotFound:
            return _not_found(request, "Authentication strength not found",
                              "The authentication strength was deleted meanwhile.")
        except WatchwordError as exc:
            form.add_service_error(exc)
        else:
            messages.success(request, f"Saved: authentication strength {saved.display_name}.")
            return redirect("policy_settings:strengths")
    return render(request, "policy/settings_strength_form.html", {
        "form": form, "strength": strength,
        "used_by": policies_naming("strengths", str(strength.pk)) if strength else [],
        "title": f"Edit {strength.display_name}" if strength else "Add an authentication strength",
    }, status=_status(form))


@policy_admin_required
@require_http_methods(FORM)
def strength_add(request):
    return _strength_form(request, None)


@policy_admin_required
@require_http_methods(FORM)
def strength_edit(request, strength_id):
    strength, missing = _strength_or_404(request, strength_id)
    return missing or _strength_form(request, strength)


@policy_admin_required
@require_http_methods(FORM)
def strength_delete(request, strength_id):
    strength, missing = _strength_or_404(request, strength_id)
    if missing:
        return missing
    error = None
    if request.method == "POST":
        try:
            delete_strength(strength.pk, actor=request.user, request=request)
        except PolicyNotFound:
            return _not_found(request, "Authentication strength not found",
                              "The authentication strength was deleted meanwhile.")
        except PolicyConflict as exc:
            error = exc
        else:
            messages.success(request, f"Deleted: authentication strength {strength.display_name}.")
            return redirect("policy_settings:strengths")
    return render(request, "policy/settings_strength_delete.html", {
        "strength": strength, "error": error.public_message if error else "",
        "used_by": policies_naming("strengths", str(strength.pk)),
    }, status=error.status if error else 200)


# --- the authentication-methods policy -----------------------------------------------------------

@policy_admin_required
@require_http_methods(FORM)
def methods_policy(request):
    groups = _groups()
    form = MethodsPolicyForm(_posted(request), groups=groups, initial=methods_initial(mfa_settings.methods_policy()))
    if request.method == "POST" and form.is_valid():
        form.check_each(_known(groups))
        if not form.errors:
            try:
                mfa_settings.update_methods_policy(form.policy_data(), actor=request.user, request=request)
            except WatchwordError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, "Saved. The authentication methods policy applies from each person's "
                                          "next sign-in.")
                return redirect("policy_settings:methods")
    return render(request, "policy/settings_methods.html", {"form": form, "has_groups": bool(groups)},
                  status=_status(form))


# --- MFA settings --------------------------------------------------------------------------------

@policy_admin_required
@require_http_methods(FORM)
def mfa_settings_page(request):
    groups = _groups()
    form = MfaSettingsForm(_posted(request), groups=groups, initial=mfa_settings_initial(current_settings()))
    if request.method == "POST" and form.is_valid():
        values = form.settings_values()
        form.check_each(values, _known(groups))
        if not form.errors:
            try:
                mfa_settings.update(values, actor=request.user, request=request)
            except WatchwordError as exc:
                form.add_service_error(exc)
            else:
                messages.success(request, "Saved. The MFA settings apply from the next sign-in.")
                return redirect("policy_settings:settings")
    return render(request, "policy/settings_mfa.html", {"form": form, "has_groups": bool(groups)},
                  status=_status(form))
