"""The authenticator registration wizard, shared by the sign-in interrupt ("Keep your account
secure") and Security info ("Add sign-in method").

Two kinds, like the reference's Microsoft Authenticator and "I want to use a different
authenticator app":

- ``push`` (the default): ``app`` → ``scan`` (a QR code with a one-time activation payload; the
  page moves on when the device activates) → ``try`` (a test request with a number, which the
  person must approve in the app) → ``done``. The activated device gets the account's TOTP seed
  too, so it also shows codes.
- ``totp``: ``app`` → ``scan`` (an ``otpauth://`` QR code, or the secret for manual entry) →
  ``code`` (enter a current code) → ``done``.

What is pending lives in the session (the seed sealed) until the last check passes; the method
is saved only then.

Only the kinds the authentication-methods policy enables for the person are offered
(``portal.allowed``), narrowed further by ``allowed_kinds`` when the sign-in needs one of them;
a kind that is not offered is refused when posted, not only hidden.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from watchword.audit.services import client_ip, record_change
from watchword.core.errors import WatchwordError
from watchword.directory.phones import (
    PhoneNumberInvalid,
    check_reachable,
    country_choices,
    display_phone,
    parse_phone,
    valid_region,
)
from watchword.methods import phone, push, registry
from watchword.methods.models import PhoneCall, PushActivation, PushChallenge
from watchword.methods.totp import group_secret, provisioning_uri, qr_svg
from watchword.portal.allowed import KIND_REFUSED, NOTHING_ALLOWED, Allowed, allowed_for
from watchword.signin.forms import CodeForm
from watchword.signin.services import push_status, registration_blocked
from watchword.signin.waiting import hold_until_activated, hold_until_answered, hold_until_call_ends

ENROL_KEY = "watchword_enrol"
DONE_KEY = "watchword_enrol_done"  # which person finished which wizard; checked at the Done step
KINDS = {"push": ("app", "scan", "try", "done"), "totp": ("app", "scan", "code", "done"),
         "phone": ("app", "verify", "done")}
STEP_LABELS = {"app": "Get the app", "scan": "Scan the QR code", "try": "Try it out", "code": "Enter code",
               "verify": "Verify", "done": "Done"}
PHONE_STEP_LABELS = {"app": "Phone"}
MAX_TEST_REQUESTS = 5
EVENTS_URL = "/mysecurityinfo/setup/events"


def amr_of(method) -> tuple[str, ...]:
    return registry.get(method.type).amr


def _pending(request, user) -> dict | None:
    pending = request.session.get(ENROL_KEY)
    if isinstance(pending, dict) and pending.get("type") in KINDS and pending.get("user") == user.pk:
        return pending
    return None


def run(request, *, user, on_success, on_done, mode: str, base_url: str, account_name: str,
        allowed_kinds: frozenset[str] | None = None):
    """One step of the wizard. ``allowed_kinds`` narrows what the methods policy allows (None:
    whatever it allows). A Conditional Access policy for the user action "register security
    info" that blocks this request (from an untrusted network, say) stops it here."""
    if registration_blocked(request, user):
        return render(request, "signin/blocked.html", {"registration": True}, status=403)
    step = request.GET.get("step", "app")
    pending = _pending(request, user)
    done = request.session.get(DONE_KEY)
    allowed = allowed_for(user, allowed_kinds)
    layout = "core/card.html" if mode == "interrupt" else "core/app.html"
    if step == "done":
        kind = done.get("kind") if isinstance(done, dict) else None
    elif not allowed.kinds:
        return render(request, "portal/not_allowed.html",
                      {"layout": layout, "mode": mode, "message": NOTHING_ALLOWED}, status=403)
    elif step == "app":
        asked = request.GET.get("kind") or request.POST.get("kind")
        if request.method == "POST" and asked in KINDS and not allowed.offers(asked):
            return _refuse(request, user, asked, layout=layout, mode=mode, base_url=base_url)
        kind = asked if allowed.offers(asked) else allowed.first
    else:
        kind = pending["type"] if pending else None
        if pending and not allowed.still_allows(pending):  # turned off since the set-up began
            request.session.pop(ENROL_KEY, None)
            return redirect(f"{base_url}?step=app")
    if kind not in KINDS:
        kind = allowed.first or "push"
    steps = KINDS[kind]
    if step not in steps:
        return redirect(f"{base_url}?step=app")
    context = {"mode": mode, "step": step, "kind": kind, "base_url": base_url, "offered": allowed.kinds,
               "steps": [(s, (PHONE_STEP_LABELS if kind == "phone" else {}).get(s, STEP_LABELS[s])) for s in steps],
               "layout": layout}

    if step == "done":
        if not (isinstance(done, dict) and done.get("user") == user.pk and done.get("mode") == mode):
            return redirect(f"{base_url}?step=app")
        if request.method == "POST":
            request.session.pop(DONE_KEY, None)
            return on_done()
        label = {"push": "Authenticator app - notification", "totp": registry.get("totp").label}.get(kind, "Phone")
        return render(request, "portal/wizard.html", {**context, "method_label": label})

    if kind == "phone" and step == "app":
        return _phone_start(request, user=user, context=context, base_url=base_url, allowed=allowed)

    if step == "app":
        if request.method == "POST":
            try:
                request.session[ENROL_KEY] = _begin(kind, user)
            except WatchwordError as exc:
                return render(request, "portal/wizard.html", {**context, "error": exc.public_message})
            return redirect(f"{base_url}?step=scan")
        return render(request, "portal/wizard.html", context)

    if pending is None or pending["type"] != kind:
        return redirect(f"{base_url}?step=app")

    def finished(method):
        request.session.pop(ENROL_KEY, None)
        request.session[DONE_KEY] = {"user": user.pk, "mode": mode, "method": method.pk, "kind": kind}
        on_success(method)
        return redirect(f"{base_url}?step=done")

    if kind == "push":
        return _push_step(request, step, pending, user=user, context=context, base_url=base_url,
                          account_name=account_name, finished=finished)
    if kind == "phone":
        return _phone_verify(request, pending, user=user, context=context, base_url=base_url, finished=finished)
    return _totp_step(request, step, pending, user=user, context=context, base_url=base_url,
                      account_name=account_name, finished=finished)


def _refuse(request, user, kind: str, *, layout: str, mode: str, base_url: str):
    """A kind the policy does not offer this person was posted: refused, and audited."""
    record_change(actor=user, action="method.register", target=user, after={"type": kind}, request=request,
                  result="failure", reason="not allowed by the authentication methods policy")
    return render(request, "portal/not_allowed.html", {"layout": layout, "mode": mode, "message": KIND_REFUSED,
                                                       "back_url": f"{base_url}?step=app"}, status=403)


def _begin(kind: str, user) -> dict:
    now = timezone.now()
    if kind == "push":
        row, code = push.start_activation(user, now=now)
        return {"type": "push", "user": user.pk, "activation": row.pk, "code": code, "tests": 0}
    pending = registry.get("totp").begin_enrolment(user=user, issuer=settings.ORGANISATION_NAME, now=now)
    return {**pending, "user": user.pk}


def _push_step(request, step, pending, *, user, context, base_url, account_name, finished):
    now = timezone.now()
    activation = PushActivation.objects.filter(pk=pending["activation"], user=user).select_related("device").first()
    if activation is None:
        request.session.pop(ENROL_KEY, None)
        return redirect(f"{base_url}?step=app")
    if step == "scan":
        error = ""
        if request.method == "POST":
            if activation.device is not None:
                return _send_test(request, pending, user, activation.device, base_url)
            if activation.expires_at <= now:
                request.session.pop(ENROL_KEY, None)
                return render(request, "portal/wizard.html", {**context, "step": "app", "error": (
                    "The QR code expired before your app used it. Choose Next to get a new one.")})
            error = ("We haven't heard from your app yet. Scan the QR code with the authenticator, wait until it "
                     "says the account was added, then choose Next.")
        payload = push.activation_payload(pending["code"], account=account_name)
        return render(request, "portal/wizard.html", {
            **context, "qr": qr_svg(payload, title=f"QR code to set up the authenticator for {account_name}"),
            "payload": payload, "account_name": account_name, "error": error, "events_url": EVENTS_URL,
            "seconds_left": max(1, int((activation.expires_at - now).total_seconds())),
            "activated": activation.device is not None}, status=400 if error else 200)

    # step == "try"
    challenge = PushChallenge.objects.filter(pk=pending.get("challenge", ""), user=user).first()
    if activation.device is None or challenge is None:
        return redirect(f"{base_url}?step=scan")
    if request.method == "POST" and request.POST.get("action") == "resend":
        return _send_test(request, pending, user, activation.device, base_url)
    status = push_status(challenge, now)
    if status == "approved" and request.method == "POST":
        try:
            method = push.confirm_registration(activation.pk, challenge.id, user, now=now)
        except WatchwordError as exc:
            return render(request, "portal/wizard.html", {**context, "error": exc.public_message, "challenge": None})
        return finished(method)
    if status == "reported":
        request.session.pop(ENROL_KEY, None)
    return render(request, "portal/wizard.html", {
        **context, "challenge": challenge, "status": status, "events_url": EVENTS_URL,
        "seconds_left": max(1, int((challenge.expires_at - now).total_seconds())),
        "can_resend": pending.get("tests", 0) < MAX_TEST_REQUESTS})


def _send_test(request, pending, user, device, base_url):
    if pending.get("tests", 0) >= MAX_TEST_REQUESTS:
        return redirect(f"{base_url}?step=try")
    challenge = push.create_challenge(user, purpose="registration", app=f"{settings.ORGANISATION_NAME} security info",
                                      ip=client_ip(request), now=timezone.now(), device=device)
    request.session[ENROL_KEY] = {**pending, "challenge": challenge.id, "tests": pending.get("tests", 0) + 1}
    return redirect(f"{base_url}?step=try")


PHONE_LABELS = (("phone", "Mobile phone (authentication phone)"), ("alternate_phone", "Alternate phone"),
                ("office_phone", "Office phone"))


def _phone_choices(user, change: str, allowed: Allowed) -> list[tuple[str, str]]:
    """The kinds of phone the person may add (one of each, as the methods policy allows), or only
    the one being changed."""
    have = set(user.methods.filter(type__in=phone.PHONE_TYPES).values_list("type", flat=True))
    offered = [(key, label) for key, label in PHONE_LABELS if allowed.ways(key)]
    if change:
        return [(key, label) for key, label in offered if key == change and key in have]
    return [(key, label) for key, label in offered if key not in have]


# A kind of phone, and the number on the person's account it can be set up with.
OFFERED_NUMBERS = (("phone", "mobile_phone"), ("office_phone", "office_phone"))


def _offers(user, choices: list[tuple[str, str]], change: str, allowed: Allowed) -> list[dict]:
    """Numbers already on the person's account (from their directory, or set by an
    administrator), offered ready-made for a kind of phone they have not added yet. Choosing one
    posts the same fields as typing it, so it is still verified by a code or a call. A stored
    number that no longer parses, or cannot be reached that way (or not by the policy), is not
    offered."""
    if change:
        return []
    labels, managed, offers = dict(choices), user.managed_fields(), []
    for method_type, attribute in OFFERED_NUMBERS:
        stored = getattr(user, attribute, "")
        if method_type not in labels or not stored:
            continue
        kind = registry.get(method_type)
        try:
            number = parse_phone(stored, allow_extension=kind.allow_extension)
        except PhoneNumberInvalid:
            continue
        shown, buttons = display_phone(number.stored), []
        for channel in allowed.ways(method_type):
            try:
                check_reachable(number, text=channel == "text")
            except PhoneNumberInvalid:
                continue
            if channel == "text" and allowed.text_refusal(number, method_type):
                continue
            buttons.append((channel, f"Text a code to {shown}" if channel == "text" else f"Call {shown}"))
        if buttons:
            offers.append({"method_type": method_type, "label": labels[method_type], "number": number.stored,
                           "buttons": buttons, "source": "From your organisation's directory"
                           if attribute in managed else "From your account details"})
    return offers


CHANNEL_REFUSED = {"text": "Your organisation doesn't allow codes by text message for this phone.",
                   "call": "Your organisation doesn't allow calls to this phone."}


def _phone_start(request, *, user, context, base_url, allowed: Allowed):
    """Which phone, its number (country picker for numbers without a country code), and text or
    call; the number is checked, then a code is texted or a call placed. ``?change=<kind>``
    (Security info only) gives an existing phone a new number, once the new one is verified.
    Only the phones and ways the methods policy allows are offered; others are refused."""
    change = request.GET.get("change", "") if context["mode"] == "add" else ""
    choices = _phone_choices(user, change, allowed)
    channels = [c for c in ("text", "call") if any(c in allowed.ways(key) for key, _ in choices)]
    values = {"method_type": choices[0][0] if choices else "", "country": settings.DEFAULT_COUNTRY, "number": "",
              "channel": channels[0] if channels else "call"}
    errors: dict[str, str] = {}
    status = 400
    if request.method == "POST" and choices:
        values = {name: str(request.POST.get(name, ""))[:64] for name in values}
        method_type, channel = values["method_type"], values["channel"]
        if method_type not in dict(choices):
            if allowed.ways(method_type) or method_type not in phone.PHONE_TYPES:
                errors["method_type"] = "Choose which phone this is."
            else:
                errors["method_type"], status = "Your organisation doesn't allow this phone for signing in.", 403
        elif channel not in registry.get(method_type).channels and "call" in allowed.ways(method_type):
            channel = values["channel"] = "call"  # only a mobile gets texts
        elif channel not in allowed.ways(method_type):
            errors["channel"], status = CHANNEL_REFUSED.get(channel, "Choose how we should reach you."), 403
        region = values["country"].upper() if valid_region(values["country"]) else None
        if not errors:
            try:
                number = parse_phone(values["number"], default_region=region,
                                     allow_extension=registry.get(method_type).allow_extension)
                check_reachable(number, text=channel == "text")
            except PhoneNumberInvalid as exc:
                errors["number"] = exc.message
            else:
                if channel == "text" and (refusal := allowed.text_refusal(number, method_type)):
                    errors["number"], status = refusal, 403
        if not errors:
            now = timezone.now()
            try:
                if channel == "text":
                    sent = {"code": phone.send_code(user, phone=number.stored, purpose="registration", now=now).pk}
                else:
                    sent = {"call": phone.start_call(user, phone=number.stored, method_type=method_type,
                                                     purpose="registration", now=now).id}
            except WatchwordError as exc:
                errors["number"] = exc.public_message
            else:
                request.session[ENROL_KEY] = {"type": "phone", "user": user.pk, "method_type": method_type,
                                              "phone": number.stored, "channel": channel, "replace": bool(change),
                                              **sent}
                return redirect(f"{base_url}?step=verify")
    return render(request, "portal/wizard.html", {
        **context, "phone_choices": choices, "countries": country_choices(), "values": values, "errors": errors,
        "channels": channels, "change": change, "offers": _offers(user, choices, change, allowed)},
        status=status if errors else 200)


def _phone_verify(request, pending, *, user, context, base_url, finished):
    now = timezone.now()
    shown = display_phone(pending["phone"])
    method_type = pending["method_type"]
    if request.method == "POST" and request.POST.get("action") == "resend":
        request.session.pop(ENROL_KEY, None)
        return redirect(f"{base_url}?step=app&kind=phone")
    if pending["channel"] == "text":
        form = CodeForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            result = phone.check_code(pending.get("code"), user, form.cleaned_data["code"], now=now)
            if result.ok:
                try:
                    method = phone.register_phone(user, method_type=method_type, phone=pending["phone"], now=now,
                                                  replace=pending.get("replace", False), request=request)
                except WatchwordError as exc:
                    form.add_error("code", exc.public_message)
                else:
                    return finished(method)
            else:
                form.add_error("code", {
                    "malformed": "Enter the 6-digit code from the text message.",
                    "invalid": "That code didn't work. Check the code and try again.",
                    "expired": "That code has expired. Send a new one.",
                    "used": "That code was already used. Send a new one.",
                    "too_many": "Too many wrong codes. Send a new one."}[result.reason])
        return render(request, "portal/wizard.html", {**context, "form": form, "shown": shown, "channel": "text"})
    call = PhoneCall.objects.filter(pk=pending.get("call", ""), user=user).first()
    status = phone.call_status(call, now)
    if status == "confirmed" and request.method == "POST" and phone.use_call(call):
        try:
            return finished(phone.register_phone(user, method_type=method_type, phone=pending["phone"], now=now,
                                                 replace=pending.get("replace", False), request=request))
        except WatchwordError as exc:
            return render(request, "portal/wizard.html", {**context, "error": exc.public_message, "channel": "call",
                                                          "status": "failed", "shown": shown})
    if status == "fraud":
        request.session.pop(ENROL_KEY, None)
    return render(request, "portal/wizard.html", {
        **context, "channel": "call", "status": status, "shown": shown, "events_url": EVENTS_URL,
        "seconds_left": max(1, int((call.expires_at - now).total_seconds())) if call else 1})


def events(request):
    """The set-up pages' event stream: ``activated`` when the device activates (scan step),
    ``answered`` when the test request is answered (try step)."""
    pending = request.session.get(ENROL_KEY)
    if isinstance(pending, dict) and pending.get("type") == "phone" and pending.get("call"):
        call = PhoneCall.objects.filter(pk=pending["call"], user_id=pending.get("user")).first()
        return hold_until_call_ends(call) if call is not None else HttpResponse(status=204)
    if not (isinstance(pending, dict) and pending.get("type") == "push"):
        return HttpResponse(status=204)
    now = timezone.now()
    if request.GET.get("step") == "try":
        challenge = PushChallenge.objects.filter(pk=pending.get("challenge", ""), user_id=pending.get("user")).first()
        return hold_until_answered(challenge) if challenge is not None else HttpResponse(status=204)
    activation = PushActivation.objects.filter(pk=pending.get("activation"), user_id=pending.get("user")).first()
    if activation is None:
        return HttpResponse(status=204)
    return hold_until_activated(activation.pk, activated=activation.device_id is not None,
                                seconds_left=int((activation.expires_at - now).total_seconds()))


def _totp_step(request, step, pending, *, user, context, base_url, account_name, finished):
    totp = registry.get("totp")
    try:
        secret = totp.pending_secret(user=user, pending=pending)
    except Exception:  # a session from before a key rotation: start again
        request.session.pop(ENROL_KEY, None)
        return redirect(f"{base_url}?step=app&kind=totp")
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
            return finished(method)
    return render(request, "portal/wizard.html", {**context, "form": form})
