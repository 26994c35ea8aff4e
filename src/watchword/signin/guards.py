"""View guards: signed in, fresh MFA, admin role."""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from watchword.core.views import permission_denied
from watchword.signin.services import SESSION_MFA_TIME, mfa_is_fresh, signin_expired


def signed_in_required(view):
    """A signed-in person, whose sign-in is not older than a policy's sign-in frequency allows
    (then they sign in again, and come back)."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated and signin_expired(request):
            logout(request)
            return redirect(f"{reverse('signin:start')}?{urlencode({'next': request.get_full_path()})}")
        if not request.user.is_authenticated:
            return redirect(f"{reverse('signin:start')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapper


def fresh_mfa_required(view):
    """Security info needs an MFA completed within the last 10 minutes (when the person has a
    method to do it with)."""

    @wraps(view)
    @signed_in_required
    def wrapper(request, *args, **kwargs):
        if request.user.methods.exists() and not mfa_is_fresh(request):
            return redirect(f"{reverse('signin:reverify')}?{urlencode({'next': request.get_full_path()})}")
        return view(request, *args, **kwargs)

    return wrapper


def admin_required(view):
    """Admin pages: an admin role, and — for an admin who has a second factor — a session in which
    it was used (as the reference insists on MFA for its admin portals). An admin still without
    one is reminded on every admin page to set it up."""

    @wraps(view)
    @signed_in_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_admin:
            return permission_denied(request)
        answer = _admin_pages_policy(request)
        if answer is not None:
            return answer
        if request.session.get(SESSION_MFA_TIME) is None:
            if request.user.methods.exists():
                return redirect(f"{reverse('signin:reverify')}?{urlencode({'next': request.get_full_path()})}")
            request.admin_without_second_factor = True  # the admin pages show a reminder
        return view(request, *args, **kwargs)

    return wrapper


ADMIN_POLICY_KEY = "watchword_admin_policy"  # the policy version the admin pages were last allowed under


def _admin_pages_policy(request):
    """Conditional Access and Security Defaults for the admin pages (the reference's "Microsoft
    Admin Portals"), evaluated once per session and policy version: blocked, or a second factor
    first (re-verification), or allowed."""
    from django.shortcuts import render

    from watchword.methods.services import methods_of
    from watchword.policy.document import APP_ADMIN
    from watchword.policy.engine import Outcome
    from watchword.policy.services import current_settings
    from watchword.signin.services import decide

    version = current_settings().version
    if request.session.get(ADMIN_POLICY_KEY) == version:
        return None
    decision = decide(request.user, methods_of(request.user), app=APP_ADMIN, request=request,
                      in_session=True).decision
    if decision.outcome == Outcome.BLOCK:
        return render(request, "signin/blocked.html", {"mfa_blocked": decision.requirement == "fraud_block"},
                      status=403)
    if decision.outcome == Outcome.REQUIRE_MFA:
        return redirect(f"{reverse('signin:step_up')}?{urlencode({'next': request.get_full_path()})}")
    if decision.outcome == Outcome.ALLOW:
        request.session[ADMIN_POLICY_KEY] = version
    return None  # registration: the admin pages already remind an admin without a second factor


def global_admin_required(view):
    """Pages that decide who and what may sign people in (applications, RADIUS clients): Global
    Administrators only; Authentication Administrators are helpdesk."""

    @wraps(view)
    @admin_required
    def wrapper(request, *args, **kwargs):
        if not request.user.is_global_admin:
            return permission_denied(request)
        return view(request, *args, **kwargs)

    return wrapper


def policy_admin_required(view):
    """Security Defaults, Conditional Access, named locations, strengths, the methods policy and
    the MFA settings: Global and Security Administrators (the reference's split)."""

    @wraps(view)
    @admin_required
    def wrapper(request, *args, **kwargs):
        if not request.user.manages_policy:
            return permission_denied(request)
        return view(request, *args, **kwargs)

    return wrapper
