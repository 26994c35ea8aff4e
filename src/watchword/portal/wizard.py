"""The authenticator-app registration wizard, shared by the sign-in interrupt ("Keep your account
secure") and Security info ("Add sign-in method").

Steps: ``app`` (get the app) → ``scan`` (QR code, or the secret for manual entry) → ``code``
(enter a current code) → ``done``. The pending seed lives sealed in the session until the first
code confirms it; nothing is written to the database before that.
"""

from __future__ import annotations

from django.conf import settings
from django.shortcuts import redirect, render
from django.utils import timezone

from watchword.core.errors import WatchwordError
from watchword.methods import registry
from watchword.methods.totp import group_secret, provisioning_uri, qr_svg
from watchword.signin.forms import CodeForm

ENROL_KEY = "watchword_enrol"
DONE_KEY = "watchword_enrol_done"  # which person finished which wizard; checked at the Done step
STEPS = ("app", "scan", "code", "done")


def amr_of(method) -> tuple[str, ...]:
    return registry.get(method.type).amr


def run(request, *, user, on_success, on_done, mode: str, base_url: str, account_name: str):
    step = request.GET.get("step", "app")
    if step not in STEPS:
        step = "app"
    totp = registry.get("totp")
    pending = request.session.get(ENROL_KEY)
    context = {"mode": mode, "step": step, "base_url": base_url, "steps": STEPS,
               "layout": "core/card.html" if mode == "interrupt" else "core/app.html"}

    if step == "done":
        done = request.session.get(DONE_KEY)
        if not (isinstance(done, dict) and done.get("user") == user.pk and done.get("mode") == mode):
            return redirect(f"{base_url}?step=app")
        if request.method == "POST":
            request.session.pop(DONE_KEY, None)
            return on_done()
        return render(request, "portal/wizard.html", {**context, "method_label": totp.label})

    if step == "app":
        if request.method == "POST":
            try:
                request.session[ENROL_KEY] = totp.begin_enrolment(user=user, issuer=settings.ORGANISATION_NAME,
                                                                  now=timezone.now())
            except WatchwordError as exc:
                return render(request, "portal/wizard.html", {**context, "error": exc.public_message})
            return redirect(f"{base_url}?step=scan")
        return render(request, "portal/wizard.html", context)

    if not isinstance(pending, dict) or pending.get("type") != "totp":
        return redirect(f"{base_url}?step=app")
    try:
        secret = totp.pending_secret(user=user, pending=pending)
    except Exception:  # a session from before a key rotation: start again
        request.session.pop(ENROL_KEY, None)
        return redirect(f"{base_url}?step=app")
    if step == "scan":
        if request.method == "POST":
            return redirect(f"{base_url}?step=code")
        uri = provisioning_uri(secret, account=account_name, issuer=settings.ORGANISATION_NAME)
        return render(request, "portal/wizard.html", {
            **context, "qr": qr_svg(uri, title=f"QR code for {account_name}"), "secret": group_secret(secret),
            "account_name": account_name, "uri": uri})

    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            method = totp.confirm_enrolment(user=user, pending=pending, response=form.cleaned_data["code"],
                                            now=timezone.now(), name=totp.label)
        except WatchwordError as exc:
            if exc.code == "enrolment_expired":
                request.session.pop(ENROL_KEY, None)
            form.add_error("code", exc.public_message)
        else:
            request.session.pop(ENROL_KEY, None)
            request.session[DONE_KEY] = {"user": user.pk, "mode": mode, "method": method.pk}
            on_success(method)
            return redirect(f"{base_url}?step=done")
    return render(request, "portal/wizard.html", {**context, "form": form})
