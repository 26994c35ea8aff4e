"""Sign-in pages: name → password → (new password) → decision → (register | code) → done."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from watchword.audit import codes
from watchword.audit.services import record_signin
from watchword.directory.errors import WeakPassword
from watchword.directory.models import User
from watchword.directory.services import change_own_password
from watchword.core.errors import WatchwordError
from watchword.methods import phone, registry
from watchword.methods.models import PhoneCall
from watchword.methods.services import complete_registration, default_method_of, methods_of
from watchword.policy.engine import Outcome
from watchword.portal import wizard
from watchword.signin import flow as flows
from watchword.signin import throttle
from watchword.signin.flow import STAGE_URLS, Flow, Stage
from watchword.signin.forms import CodeForm, NameForm, NewPasswordForm, PasswordForm
from watchword.signin.guards import signed_in_required
from watchword.policy import strengths as st
from watchword.signin.facts import groups_of, mfa_blocked
from watchword.signin.services import (
    BAD_CREDENTIALS_MESSAGE,
    DIRECTORY_UNAVAILABLE_MESSAGE,
    SESSION_FACTORS,
    app_of,
    client_of,
    check_password,
    current_push,
    decide,
    finish,
    push_status,
    record_unanswered,
    send_push,
    use_approval,
    withdraw_push,
    verify_code,
)
from watchword.signin.waiting import hold_until_answered, hold_until_call_ends


def safe_next(request, value: str | None) -> str:
    if value and url_has_allowed_host_and_scheme(value, allowed_hosts={request.get_host()},
                                                 require_https=request.is_secure()) and value.startswith("/"):
        return value
    return ""


def _continue(request, flow: Flow):
    return redirect(STAGE_URLS[flow.stage])


def _show_stage(request, flow: Flow, *, user: User | None = None, methods=()):
    """Answer a successful POST with the next step's page itself (its form posts to that step's
    own URL), saving the browser a redirect round trip per step. The code page needs the person
    and their methods, which the caller has just read."""
    if flow.stage == Stage.PASSWORD:
        return render(request, "signin/password.html", {"form": PasswordForm(), "flow": flow,
                                                        "flow_token": flows.name_step_token(flow)})
    if flow.stage == Stage.CHANGE_PASSWORD:
        return render(request, "signin/change_password.html", {"form": NewPasswordForm(), "flow": flow})
    if flow.stage == Stage.INTERRUPT:
        return render(request, "signin/interrupt.html", {"flow": flow})
    if flow.stage == Stage.MFA and user is not None:
        return _begin_mfa(request, flow, user, methods)
    return _continue(request, flow)


FACTOR_OF_CHANNEL = {"push": st.FACTOR_PUSH, "code": st.FACTOR_CODE, "text": st.FACTOR_TEXT, "call": st.FACTOR_CALL}


def _ways(flow: Flow, user: User, methods) -> list[tuple[object, str]]:
    """The (method, channel) pairs this sign-in may use: what the authentication-methods policy
    lets the person use, narrowed to the factors the policies that apply accept."""
    from watchword.policy.services import load

    loaded = load()
    groups = groups_of(user)
    allowed = set(flow.allowed) if flow.allowed else None
    ways = []
    for method in methods:
        for channel in loaded.methods.channels(method.type, groups, method.phone or ""):
            if allowed is None or FACTOR_OF_CHANNEL[channel] in allowed:
                ways.append((method, channel))
    return ways


def _can(ways, channel: str) -> bool:
    return any(c == channel for _, c in ways)


def _begin_mfa(request, flow: Flow, user: User, methods):
    """The second factor starts with the person's default method (if the policies accept it,
    else the most secure one they do): a sign-in request to their authenticator (shown with
    its number), the code page, or a text or call."""
    ways = _ways(flow, user, methods)
    if not ways:  # nothing the policies accept: register something that is
        flow.stage = Stage.INTERRUPT
        flows.save(request, flow)
        return redirect("signin:interrupt")
    default = default_method_of(methods)
    order = {"push": 0, "code": 1, "text": 2, "call": 3}
    mine = [w for w in ways if default is not None and w[0].pk == default.pk]
    if default is not None and default.type in phone.PHONE_TYPES:
        mine.sort(key=lambda w: w[1] != default.preferred_channel)
    method, channel = (mine or sorted(ways, key=lambda w: (order[w[1]], registry.get(w[0].type).preference)))[0]
    if channel in ("text", "call"):
        return _start_phone(request, flow, user, method, channel)
    flow.mfa_method = channel
    if channel == "push":
        return _send_push(request, flow, user)
    flows.save(request, flow)
    return _code_page(request, flow, CodeForm(), methods)


def _start_phone(request, flow: Flow, user: User, method, channel: str):
    """Text a code to, or call, one of the person's phones. Delivery's refusals (limits, a
    country not allowed, a provider that failed) are shown with the other ways to sign in."""
    withdraw_push(flow)
    flow.mfa_method, flow.phone_method = channel, method.pk
    flow.phone_code, flow.phone_call = None, ""
    now = timezone.now()
    try:
        if channel == "text":
            flow.phone_code = phone.send_code(user, phone=method.phone, purpose="signin", now=now).pk
        else:
            flow.phone_call = phone.start_call(user, phone=method.phone, method_type=method.type, purpose="signin",
                                               now=now, flow_id=flow.id).id
    except WatchwordError as exc:
        flows.save(request, flow)
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa",
                      result="failure", error_code=codes.MFA_FAILED, reason=f"{channel} not sent: {exc.code}",
                      method=method.type)
        return render(request, "signin/phone_result.html", {"flow": flow, "status": "not_sent",
                                                            "message": exc.public_message}, status=exc.status)
    flows.save(request, flow)
    return redirect("signin:phone")


def _remember_days(flow: Flow) -> int:
    """Days "Don't ask again on this browser" lasts, offered where per-user MFA asked (the
    reference's remember-MFA belongs to per-user MFA); 0: not offered."""
    if flow.reauth or flow.requirement != "per_user_mfa":
        return 0
    from watchword.policy.services import current_settings

    return current_settings().remember_mfa_days


def _note_remember(request, flow: Flow) -> None:
    if request.method == "POST" and request.POST.get("remember") == "1" and _remember_days(flow):
        flow.remember = True


def _code_page(request, flow: Flow, form, methods, status: int = 200):
    ways = _ways(flow, request.user if flow.reauth else _user_of(flow), methods)
    return render(request, "signin/verify.html", {
        "form": form, "flow": flow, "code_methods": [m for m in methods if m.type in registry.code_types()],
        "has_push": _can(ways, "push"), "remember_days": _remember_days(flow)}, status=status)


def _send_push(request, flow: Flow, user: User):
    sent = send_push(flow, user, request)
    flows.save(request, flow)
    if sent.challenge is None:
        return render(request, "signin/push_result.html", {
            "flow": flow, "status": "throttled",
            "wait": f"{throttle.wait_phrase(sent.wait)}, then try again, or use a code instead."}, status=429)
    return _push_page(request, flow, sent.challenge)


def _push_page(request, flow: Flow, challenge):
    left = max(1, int((challenge.expires_at - timezone.now()).total_seconds()))
    return render(request, "signin/push.html", {"flow": flow, "challenge": challenge, "seconds_left": left,
                                                "remember_days": _remember_days(flow)})


def _current(request, stage: str):
    """The flow if it is at ``stage``; otherwise a redirect to where it really is."""
    flow = flows.load(request)
    if flow is None or flow.expired:
        flows.discard(request)
        if flow is not None:
            record_signin(request=request, flow_id=flow.id, typed_name=flow.name, step=flow.stage,
                          result="failure", error_code=codes.FLOW_EXPIRED, reason="sign-in expired")
        return None, redirect(f"{reverse('signin:start')}?expired=1")
    if flow.stage != stage:
        return None, _continue(request, flow)
    return flow, None


def _user_of(flow: Flow) -> User | None:
    return User.objects.filter(pk=flow.user_id, is_active=True).first() if flow.user_id else None


def _back_to_sign_in_in_progress(request):
    """Where a request that carries no usable sign-in goes: the step this browser's sign-in is
    at, if it has one, else the start."""
    ongoing = flows.load(request)
    if ongoing is not None and not ongoing.expired and ongoing.stage != Stage.PASSWORD:
        return _continue(request, ongoing)
    return redirect("signin:start")


def _current_with_user(request, stage: str):
    """The flow at ``stage`` and its (still enabled) person; otherwise where to go instead."""
    flow, elsewhere = _current(request, stage)
    if elsewhere:
        return None, None, elsewhere
    user = _user_of(flow)
    if user is None:
        flows.discard(request)
        return None, None, redirect("signin:start")
    return flow, user, None


def _done(request, flow: Flow):
    """Where a finished sign-in goes: on, or first — after a sign-in with a second factor — the
    registration campaign's nudge to add the authenticator app."""
    target = flow.next_url or reverse("portal:myaccount")
    flows.discard(request)
    if not flow.reauth and request.user.is_authenticated and request.session.get(SESSION_FACTORS):
        from watchword.signin.campaign import nudge_url

        nudge = nudge_url(request, request.user, target)
        if nudge:
            return HttpResponseRedirect(nudge)
    return HttpResponseRedirect(target)


@require_http_methods(["GET", "HEAD", "POST"])
def start(request):
    next_url = safe_next(request, request.GET.get("next") or request.POST.get("next"))
    if request.user.is_authenticated and request.method == "GET" and not request.GET.get("switch"):
        return HttpResponseRedirect(next_url or reverse("portal:myaccount"))
    form = NameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        flows.discard(request)  # an earlier, unfinished sign-in in this browser ends here
        flow = Flow.start(form.cleaned_data["name"].strip(), next_url=next_url)
        return _show_stage(request, flow)
    return render(request, "signin/name.html", {"form": form, "next": next_url,
                                                "expired": request.GET.get("expired") == "1"})


@require_http_methods(["GET", "HEAD", "POST"])
def password(request):
    if request.method != "POST":
        return _back_to_sign_in_in_progress(request)
    try:
        flow = flows.from_name_step_token(request.POST.get("flow"))
    except flows.NameStepExpired as expired:
        if expired.flow is not None:
            record_signin(request=request, flow_id=expired.flow.id, typed_name=expired.flow.name, step="password",
                          result="failure", error_code=codes.FLOW_EXPIRED, reason="sign-in expired")
        return redirect(f"{reverse('signin:start')}?expired=1")
    if flow is None:
        return _back_to_sign_in_in_progress(request)
    form = PasswordForm(request.POST)
    error = ""
    if form.is_valid():
        result = check_password(flow, form.cleaned_data["password"], request)
        if result.wait:
            error = (f"You've tried to sign in too many times with an incorrect account or password. "
                     f"{throttle.wait_phrase(result.wait)}, then try again.")
        elif result.disabled:
            error = "Your account has been disabled. Contact your administrator."
        elif result.unavailable:
            error = DIRECTORY_UNAVAILABLE_MESSAGE
        elif result.user is None:
            error = BAD_CREDENTIALS_MESSAGE
        else:
            flow.user_id = result.user.pk
            flow.amr = ["pwd"]
            if result.user.must_change_password:
                flow.stage = Stage.CHANGE_PASSWORD
                flows.save(request, flow)
                record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=result.user,
                              step="password", result="interrupted", error_code=codes.PASSWORD_CHANGE_REQUIRED,
                              reason="one-time password must be changed")
                return _show_stage(request, flow)
            return _after_primary(request, flow, result.user)
    return render(request, "signin/password.html", {"form": form, "flow": flow, "error": error,
                                                    "flow_token": flows.name_step_token(flow)})


def _blocked_page(request, decision):
    return render(request, "signin/blocked.html", {
        "mfa_blocked": decision.requirement == "fraud_block",
        "no_method": decision.requirement != "fraud_block" and any(
            r.source == "authentication_strength" for r in decision.reasons)}, status=403)


def _after_primary(request, flow: Flow, user: User):
    methods = methods_of(user)
    flow.app = app_of(flow.next_url)
    evaluation = decide(user, methods, app=flow.app, client=client_of(flow.app), request=request)
    decision = evaluation.decision
    flow.requirement = decision.requirement if decision.needs_second_factor else ""
    flow.allowed = sorted(decision.allowed_factors or ())
    flow.log = evaluation.log_fields()
    flow.frequency = decision.session.frequency_seconds
    flow.persistent = decision.session.persistent_browser or ""
    flow.skip_days = decision.registration_days_left
    if decision.outcome == Outcome.ALLOW:
        finish(request, flow, user, amr=flow.amr)
        return _done(request, flow)
    if decision.outcome == Outcome.BLOCK:
        flows.discard(request)
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="policy",
                      result="failure", error_code=decision.error_code or 53003,
                      reason="; ".join(r.detail for r in decision.reasons) or "blocked by policy",
                      requirement=decision.requirement, **flow.log)
        return _blocked_page(request, decision)
    if decision.outcome == Outcome.REQUIRE_REGISTRATION:
        flow.stage = Stage.INTERRUPT
        step = "registration"
    else:
        flow.stage = Stage.MFA
        step = "mfa"
    flow.error_code = decision.error_code
    flows.save(request, flow)
    record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step=step,
                  result="interrupted", error_code=decision.error_code, reason=decision.reasons[0].detail,
                  requirement=decision.requirement, **flow.log)
    return _show_stage(request, flow, user=user, methods=methods)


@require_http_methods(["GET", "HEAD", "POST"])
def change_password(request):
    flow, user, elsewhere = _current_with_user(request, Stage.CHANGE_PASSWORD)
    if elsewhere:
        return elsewhere
    form = NewPasswordForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = change_own_password(user, form.cleaned_data["new_password"], request=request)
        except WeakPassword as exc:
            form.add_error("new_password", exc.public_message)
        else:
            return _after_primary(request, flow, user)
    return render(request, "signin/change_password.html", {"form": form, "flow": flow})


@require_http_methods(["GET", "HEAD", "POST"])
def interrupt(request):
    """"More information required" (the reference's registration interrupt)."""
    flow, elsewhere = _current(request, Stage.INTERRUPT)
    if elsewhere:
        return elsewhere
    if request.method == "POST":
        if request.POST.get("action") == "skip" and flow.skip_days and not flow.reauth:
            user = _user_of(flow)
            if user is None:
                flows.discard(request)
                return redirect("signin:start")
            finish(request, flow, user, amr=flow.amr)  # Security Defaults' grace period
            return _done(request, flow)
        flow.stage = Stage.REGISTER
        flows.save(request, flow)
        return redirect("signin:register")
    return render(request, "signin/interrupt.html", {"flow": flow})


@require_http_methods(["GET", "HEAD", "POST"])
def register(request):
    flow, user, elsewhere = _current_with_user(request, Stage.REGISTER)
    if elsewhere:
        return elsewhere

    def on_success(method):
        complete_registration(user, method, request=request)
        flow.amr = flow.amr + list(wizard.amr_of(method))
        flow.mfa_method = method.type
        flows.save(request, flow)

    def on_done():
        if len(flow.amr) < 2:  # no second factor was proven in this sign-in: start the wizard again
            return redirect(f"{reverse('signin:register')}?step=app")
        finish(request, flow, user, amr=flow.amr, method=flow.mfa_method or "totp")
        return _done(request, flow)

    return wizard.run(request, user=user, on_success=on_success, on_done=on_done, mode="interrupt",
                      base_url=reverse("signin:register"), account_name=flow.name,
                      allowed_kinds=_kinds_for(flow.allowed))


def _kinds_for(allowed: list[str]) -> frozenset[str] | None:
    """The wizard's kinds that can prove a factor the policies accept (None: any)."""
    if not allowed:
        return None
    kinds = {kind for kind, factors in (("push", {st.FACTOR_PUSH}), ("totp", {st.FACTOR_CODE}),
                                        ("phone", {st.FACTOR_TEXT, st.FACTOR_CALL})) if factors & set(allowed)}
    if st.FACTOR_CODE in allowed:
        kinds.add("push")  # the authenticator app's activation gives codes too
    return frozenset(kinds)


def _mfa_user(request, flow: Flow):
    """The person this MFA step is for (signed in already when re-verifying), or None."""
    user = _user_of(flow) if not flow.reauth else request.user
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    return user


def _blocked(request, flow: Flow, user: User):
    flows.discard(request)
    record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa", result="failure",
                  error_code=codes.MFA_DENIED, reason="MFA denied; user is blocked")
    return render(request, "signin/blocked.html", {"mfa_blocked": True}, status=403)


def _mfa_stage(request, *, allow_blocked: bool = False):
    """The flow at the MFA stage and its person; otherwise where to go instead."""
    flow, elsewhere = _current(request, Stage.MFA)
    if elsewhere:
        return None, None, elsewhere
    user = _mfa_user(request, flow)
    if user is None:
        flows.discard(request)
        return None, None, redirect("signin:start")
    if not allow_blocked and mfa_blocked(user):
        return None, None, _blocked(request, flow, user)
    return flow, user, None


@require_http_methods(["GET", "HEAD", "POST"])
def verify(request):
    flow, user, elsewhere = _mfa_stage(request)
    if elsewhere:
        return elsewhere
    methods = methods_of(user)
    if not flow.mfa_method:  # re-verification starts here rather than after a password
        if request.method != "POST":
            return _begin_mfa(request, flow, user, methods)
        flow.mfa_method = "code"
    if flow.mfa_method == "push":
        return redirect("signin:push")
    if flow.mfa_method in ("text", "call"):
        return redirect("signin:phone")
    if not _can(_ways(flow, user, methods), "code"):
        return redirect("signin:other")
    _note_remember(request, flow)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        result = verify_code(flow, user, form.cleaned_data["code"], request)
        if result.ok:
            finish(request, flow, user, amr=flow.amr + ["otp"], method=result.method.type)
            return _done(request, flow)
        if result.finished:
            flows.discard(request)
            return render(request, "signin/too_many.html", {"message": result.message}, status=429)
        flows.save(request, flow)
        form.add_error("code", result.message)
    return _code_page(request, flow, form, methods)


PUSH_RESULT_STATUS = {"declined": 403, "reported": 403, "wrong_number": 200, "expired": 200}


@require_http_methods(["GET", "HEAD", "POST"])
def push(request):
    """Waiting for the person to approve the request on their authenticator. The page listens
    for the answer (``push_events``) and posts here when it comes; without JavaScript the person
    presses Continue. Approved ⇒ signed in; declined or reported ⇒ this sign-in ends; wrong
    number or no answer in time ⇒ they may send another request or use a code."""
    flow, user, elsewhere = _mfa_stage(request, allow_blocked=True)
    if elsewhere:
        return elsewhere
    if flow.mfa_method != "push":
        return redirect("signin:verify")
    if not _can(_ways(flow, user, methods_of(user)), "push"):
        return redirect("signin:other")
    _note_remember(request, flow)
    action = request.POST.get("action", "check") if request.method == "POST" else "show"
    challenge = current_push(flow, user)
    status = push_status(challenge)
    if status != "reported" and mfa_blocked(user):  # blocked meanwhile, by another report
        return _blocked(request, flow, user)
    if action == "resend":
        return _send_push(request, flow, user)
    if status == "missing":
        return _send_push(request, flow, user) if request.method == "POST" else redirect("signin:other")
    if status == "pending":
        return _push_page(request, flow, challenge)
    if status == "approved":
        if use_approval(challenge, user):
            finish(request, flow, user, amr=flow.amr + list(registry.get("push").amr), method="push")
            return _done(request, flow)
        return redirect("signin:push")
    if status == "expired":
        record_unanswered(flow, user, request)
        flow.push_challenge = ""
        flows.save(request, flow)
    elif status == "wrong_number":
        flow.attempts += 1
        flow.push_challenge = ""
        if flow.attempts >= settings.MFA_CODE_ATTEMPTS:
            flows.discard(request)
            return render(request, "signin/too_many.html", {
                "message": "The number was wrong too many times. For your security, sign in again."}, status=429)
        flows.save(request, flow)
    else:  # declined or reported: this sign-in is over
        flows.discard(request)
    return render(request, "signin/push_result.html", {
        "flow": flow, "status": status, "blocked": status == "reported" and settings.FRAUD_REPORT_BLOCKS},
        status=PUSH_RESULT_STATUS.get(status, 200))


@require_GET
def push_events(request):
    """The waiting page's event stream: one ``answered`` event when the request is answered or
    runs out. Until then the front holds the connection on the request's channel."""
    flow = flows.load(request)
    if flow is None or flow.expired or flow.stage != Stage.MFA or not flow.push_challenge:
        return HttpResponse(status=204)  # EventSource stops reconnecting on 204
    user = _mfa_user(request, flow)
    challenge = current_push(flow, user) if user is not None else None
    if challenge is None:
        return HttpResponse(status=204)
    return hold_until_answered(challenge)


def _phone_method(flow: Flow, user: User):
    return user.methods.filter(pk=flow.phone_method, type__in=phone.PHONE_TYPES).first() if flow.phone_method else None


@require_http_methods(["GET", "HEAD", "POST"])
def phone_step(request):
    """A code sent by text, or a call to answer: the page for either, and its answers."""
    flow, user, elsewhere = _mfa_stage(request, allow_blocked=True)
    if elsewhere:
        return elsewhere
    method = _phone_method(flow, user)
    if flow.mfa_method not in ("text", "call") or method is None:
        return redirect("signin:verify")
    if not _can(_ways(flow, user, [method]), flow.mfa_method):
        return redirect("signin:other")
    _note_remember(request, flow)
    action = request.POST.get("action", "check") if request.method == "POST" else "show"
    if not (flow.mfa_method == "call" and action == "check") and mfa_blocked(user):
        return _blocked(request, flow, user)
    if action == "resend":
        return _start_phone(request, flow, user, method, flow.mfa_method)
    shown = phone.masked(method.phone)
    now = timezone.now()
    if flow.mfa_method == "text":
        form = CodeForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and form.is_valid():
            result = phone.check_code(flow.phone_code, user, form.cleaned_data["code"], now=now)
            if result.ok:
                finish(request, flow, user, amr=flow.amr + ["sms"], method=method.type)
                return _done(request, flow)
            record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa",
                          result="failure", error_code=codes.MFA_FAILED, reason=f"text code {result.reason}",
                          method=method.type)
            if result.reason == "too_many":
                flows.discard(request)
                return render(request, "signin/too_many.html", {
                    "message": "You entered too many wrong codes. For your security, sign in again."}, status=429)
            form.add_error("code", {
                "malformed": "Enter the 6-digit code from the text message.",
                "invalid": "That code didn't work. Check the code and try again.",
                "expired": "That code has expired. Send a new code.",
                "used": "That code was already used. Send a new code."}[result.reason])
        return render(request, "signin/phone_code.html", {"flow": flow, "form": form, "shown": shown,
                                                          "remember_days": _remember_days(flow)})
    call = PhoneCall.objects.filter(pk=flow.phone_call, user=user).first()
    status = phone.call_status(call, now)
    if status == "ringing":
        return render(request, "signin/phone_call.html", {
            "flow": flow, "shown": shown, "seconds_left": max(1, int((call.expires_at - now).total_seconds()))})
    if status == "confirmed" and phone.use_call(call):
        finish(request, flow, user, amr=flow.amr + ["tel"], method=method.type)
        return _done(request, flow)
    if status == "fraud":
        flows.discard(request)
        return render(request, "signin/push_result.html", {
            "flow": flow, "status": "reported", "blocked": settings.FRAUD_REPORT_BLOCKS}, status=403)
    if status == "expired":
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa",
                      result="failure", error_code=codes.MFA_DENIED, reason="MFA denied; the phone call timed out",
                      method=method.type)
    return render(request, "signin/phone_result.html", {"flow": flow, "status": "no_answer", "shown": shown})


@require_GET
def phone_events(request):
    """The call page's event stream: ``answered`` once the call has a result."""
    flow = flows.load(request)
    user = _mfa_user(request, flow) if flow is not None and not flow.expired else None
    call = PhoneCall.objects.filter(pk=flow.phone_call, user=user).first() if user and flow.phone_call else None
    if call is None:
        return HttpResponse(status=204)
    return hold_until_call_ends(call)


@require_http_methods(["GET", "HEAD", "POST"])
def other(request):
    """"Sign in another way": the person's ways to verify, the default first."""
    flow, user, elsewhere = _mfa_stage(request)
    if elsewhere:
        return elsewhere
    methods = methods_of(user)
    ways = _ways(flow, user, methods)
    choices = []
    if _can(ways, "push"):
        choices.append(("push", "Approve a request on my authenticator app"))
    if _can(ways, "code"):
        choices.append(("code", "Use a verification code from my authenticator app"))
    phones = {}
    for method, channel in sorted(((m, c) for m, c in ways if c in ("text", "call")),
                                  key=lambda w: registry.get(w[0].type).preference):
        key = f"{channel}:{method.pk}"
        phones[key] = (method, channel)
        choices.append((key, f"{'Text' if channel == 'text' else 'Call'} {phone.masked(method.phone)}"))
    if request.method == "POST":
        choice = request.POST.get("method")
        if choice in phones:
            return _start_phone(request, flow, user, *phones[choice])
        if choice in dict(choices):
            flow.mfa_method = choice
            if choice == "push":
                return _send_push(request, flow, user)
            withdraw_push(flow)
            flows.save(request, flow)
            return redirect("signin:verify")
    return render(request, "signin/other.html", {"flow": flow, "choices": choices})


@signed_in_required
def reverify(request):
    """Fresh MFA for Security info: the person is signed in; ask for a code again."""
    next_url = safe_next(request, request.GET.get("next")) or reverse("portal:securityinfo")
    flow = Flow.start(request.user.upn, next_url=next_url, reauth=True, user_id=request.user.pk, stage=Stage.MFA)
    flow.requirement = "security_info_fresh_mfa"
    flows.save(request, flow)
    return redirect("signin:verify")


@signed_in_required
def step_up(request):
    """A second factor for a signed-in person whose session has none, because an application
    asked for one (OpenID Connect ``acr_values=urn:watchword:mfa``, docs/oidc.md): the same
    re-verification Security info asks for; or, for someone with no method yet, "More information
    required" and registration. Then back to ``next``."""
    next_url = safe_next(request, request.GET.get("next")) or reverse("portal:myaccount")
    user = request.user
    methods = methods_of(user)
    flow = Flow.start(user.upn, next_url=next_url, reauth=True, user_id=user.pk, stage=Stage.MFA)
    flow.amr = ["pwd"]
    flow.requirement = "app_requires_mfa"
    flow.app = app_of(next_url)
    evaluation = decide(user, methods, app=flow.app, client=client_of(flow.app), request=request, in_session=True)
    decision = evaluation.decision
    if decision.outcome == Outcome.BLOCK:
        return _blocked_page(request, decision)
    if decision.needs_second_factor:  # a policy asks: its requirement, and only the factors it accepts
        flow.requirement = decision.requirement
        flow.allowed = sorted(decision.allowed_factors or ())
        flow.log = evaluation.log_fields()
    has_way = bool(methods) and (decision.outcome != Outcome.REQUIRE_REGISTRATION)
    flow.stage = Stage.MFA if has_way else Stage.INTERRUPT
    flows.save(request, flow)
    return redirect("signin:verify" if has_way else "signin:interrupt")


@require_http_methods(["GET", "HEAD", "POST"])
def signout(request):
    if request.method == "POST":
        if request.user.is_authenticated:
            record_signin(request=request, flow_id="signout", typed_name=request.user.upn, user=request.user,
                          step="signout", result="success")
        logout(request)
        return render(request, "signin/signed_out.html")
    if not request.user.is_authenticated:
        return render(request, "signin/signed_out.html")
    return render(request, "signin/signout_confirm.html")


@require_POST
def cancel(request):
    flow = flows.load(request)
    if flow is not None:
        withdraw_push(flow)
    flows.discard(request)
    return redirect("signin:start")
