"""Sign-in actions: check a password without revealing whether the account exists, ask the
policy engine what the sign-in needs, verify a second factor, and finish with a session."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import login
from django.contrib.auth.hashers import make_password
from django.utils import timezone

from watchword.audit import codes
from watchword.audit.services import client_ip, record_signin
from watchword.directory.models import User, normalise_upn
from watchword.methods import registry
from watchword.methods import push
from watchword.methods.models import ChallengeState, Method, PushChallenge
from watchword.policy import strengths as st
from watchword.policy.document import APP_ADMIN, APP_PORTAL
from watchword.signin import throttle
from watchword.signin.facts import Evaluation, evaluate_sign_in, remember_browser, remember_network
from watchword.signin.flow import Flow

SESSION_AMR = "watchword_amr"
SESSION_AUTH_TIME = "watchword_auth_time"
SESSION_MFA_TIME = "watchword_mfa_time"
SESSION_FACTORS = "watchword_factors"  # factor combinations proven in this session (policy step-up)
SESSION_FREQUENCY = "watchword_signin_frequency"  # sign in again after this many seconds (a policy's)
BAD_CREDENTIALS_MESSAGE = "Your account or password is incorrect. If you don't remember your password, ask your administrator to reset it."
DIRECTORY_UNAVAILABLE_MESSAGE = ("We couldn't check your password with your organisation's directory right now. "
                                 "Try again in a few minutes; if it keeps happening, tell your administrator.")


def push_limit() -> throttle.Limit:
    return throttle.Limit(settings.PUSH_REQUESTS_FREE, settings.THROTTLE_PAIR_MAX_DELAY)


def account_limit() -> throttle.Limit:
    """Smart lockout (the organisation's MFA settings): after ``lockout_threshold`` wrong
    passwords the account waits ``lockout_seconds``, doubling with each further one up to
    ``WATCHWORD_THROTTLE_ACCOUNT_MAX_DELAY`` (or the first wait, if that is longer)."""
    from watchword.policy.services import current_settings

    row = current_settings()
    return throttle.Limit(row.lockout_threshold, settings.THROTTLE_ACCOUNT_MAX_DELAY, base=row.lockout_seconds)


def pair_limit() -> throttle.Limit:
    return throttle.Limit(settings.THROTTLE_PAIR_FREE, settings.THROTTLE_PAIR_MAX_DELAY)


def ip_limit() -> throttle.Limit:
    return throttle.Limit(settings.THROTTLE_IP_FREE, settings.THROTTLE_IP_MAX_DELAY)


def mfa_limit() -> throttle.Limit:
    return throttle.Limit(settings.MFA_CODE_ATTEMPTS * 2, settings.THROTTLE_IP_MAX_DELAY)


def password_throttle_keys(name: str, request, *, familiar: bool = False) -> list[str]:
    """The counters a password attempt is held against: this name from this address, this name
    from familiar or from unfamiliar networks (smart lockout: the two count apart, so someone
    guessing from elsewhere cannot lock the person out at their usual networks), and this
    address for any name."""
    name = normalise_upn(name)
    keys = [throttle.key_for("acct", name) if familiar else throttle.key_for("acct", f"{name}|elsewhere")]
    ip = client_ip(request)
    if ip:
        keys += [throttle.key_for("pair", f"{name}|{ip}"), throttle.key_for("ip", ip)]
    return keys


def limit_for(key: str) -> throttle.Limit:
    kind = key.split(":", 1)[0]
    return {"acct": account_limit, "pair": pair_limit, "ip": ip_limit}[kind]()


def count_password_failure(keys: list[str], now) -> None:
    for key in keys:
        throttle.record_failure(key, limit_for(key), now)


def forgive_password_failures(keys: list[str], counters: throttle.Standing) -> None:
    """A right password clears the counters of that name; the address keeps counting (one
    person's success does not excuse everything else tried from there)."""
    for key in keys:
        if not key.startswith("ip:"):
            throttle.clear(key, counters)


@dataclass(frozen=True)
class PasswordResult:
    user: User | None
    wait: int = 0  # seconds, when throttled
    disabled: bool = False
    unavailable: bool = False  # the person's directory could not check the password


def _password_matches(user: User, password: str) -> bool:
    """The stored hash, or for people whose directory checks passwords, a bind as them there.
    The hash is computed either way, so a synced name answers in the same time as any other."""
    if user.directory_connection_id is not None and user.directory_connection.password_passthrough:
        from watchword.sync.passthrough import check_password as directory_check

        make_password(password)
        return directory_check(user.directory_connection, user, password)
    return user.check_password(password)  # re-hashes transparently if the parameters changed


def check_password(flow: Flow, password: str, request, *, app: str = "portal") -> PasswordResult:
    """Same work and the same answer for an unknown name as for a wrong password. ``app`` is
    the application the sign-in log shows."""
    now = timezone.now()
    user = User.objects.filter(upn=normalise_upn(flow.name), deleted_at__isnull=True) \
        .select_related("directory_connection").first()
    keys = password_throttle_keys(flow.name, request, familiar=user is not None and is_familiar_network(user, request))
    counters = throttle.standing(keys, now)
    wait = counters.wait
    if wait:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, step="password", result="failure",
                      error_code=codes.THROTTLED, reason=f"throttled for {wait} s", app=app)
        return PasswordResult(user=None, wait=wait)
    if user is None:
        make_password(password)  # spend the same time as a real check
        ok = False
    else:
        from watchword.sync.passthrough import DirectoryUnavailable

        try:
            ok = _password_matches(user, password)
        except DirectoryUnavailable as exc:
            record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="password",
                          result="failure", error_code=codes.DIRECTORY_TIMEOUT if exc.code == "timeout" else
                          codes.DIRECTORY_UNAVAILABLE, reason=f"directory {user.directory_connection.name}: "
                          f"{str(exc)[:200]}", app=app)
            return PasswordResult(user=None, unavailable=True)
    if not ok:
        count_password_failure(keys, now)
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="password",
                      result="failure", error_code=codes.BAD_CREDENTIALS,
                      reason="unknown user" if user is None else "wrong password", app=app)
        return PasswordResult(user=None)
    forgive_password_failures(keys, counters)
    if not user.is_active:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="password",
                      result="failure", error_code=codes.ACCOUNT_DISABLED, reason="account disabled", app=app)
        return PasswordResult(user=None, disabled=True)
    return PasswordResult(user=user)


def is_familiar_network(user: User, request) -> bool:
    from watchword.signin.facts import FAMILIAR_DAYS, network_of
    from watchword.signin.models import KnownNetwork

    network = network_of(client_ip(request))
    return bool(network) and KnownNetwork.objects.filter(
        user=user, network=network, last_seen__gte=timezone.now() - timezone.timedelta(days=FAMILIAR_DAYS)).exists()


def app_of(next_url: str) -> str:
    """The application a browser sign-in is for, from where it continues: an OpenID Connect
    client's authorization request, the admin pages, or Watchword's own pages."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(next_url or "")
    if parts.path.rstrip("/") == "/o/authorize":
        client_id = (parse_qs(parts.query).get("client_id") or [""])[0]
        if client_id and len(client_id) <= 100:
            return client_id
    if parts.path == "/admin" or parts.path.startswith("/admin/"):
        return APP_ADMIN
    return APP_PORTAL


def client_of(app: str) -> str:
    """The client type of a sign-in for ``app``: an OpenID Connect client that is a native app
    (public, redirecting to its own URI scheme or to a loopback address, RFC 8252) is a mobile or
    desktop client; everything else signing in through these pages is a browser."""
    from urllib.parse import urlsplit

    from oauth2_provider.models import get_application_model

    if app.startswith(("Watchword", "radius:")):
        return "browser"
    row = get_application_model().objects.filter(client_id=app).values("client_type", "redirect_uris").first()
    if row is None or row["client_type"] != "public":
        return "browser"
    for uri in (row["redirect_uris"] or "").split():
        parts = urlsplit(uri)
        if parts.scheme not in ("http", "https") or parts.hostname in ("127.0.0.1", "::1", "localhost"):
            return "mobileAppsAndDesktopClients"
    return "browser"


def session_factors(request) -> tuple[frozenset[str], float | None]:
    """The factors this browser session has proven, and how long ago its last second factor was."""
    if request is None or not hasattr(request, "session"):
        return frozenset(), None
    stamp = request.session.get(SESSION_MFA_TIME)
    factors = request.session.get(SESSION_FACTORS) or []
    age = time.time() - stamp if isinstance(stamp, (int, float)) else None
    return frozenset(f for f in factors if isinstance(f, str)), age


def decide(user: User, methods: list[Method], *, app: str = APP_PORTAL, client: str = "browser", request=None,
           user_action: str = "", in_session: bool = False) -> Evaluation:
    """The policies' decision for this sign-in. ``in_session``: the person is already signed in
    here (an application or page asking again), so what the session proved counts."""
    satisfied, age = session_factors(request) if in_session else (frozenset(), None)
    ip = client_ip(request)
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    return evaluate_sign_in(user, methods, app=app, client=client, ip=ip, user_agent=agent, request=request,
                            user_action=user_action, satisfied=satisfied, mfa_age=age)


@dataclass(frozen=True)
class CodeResult:
    ok: bool
    message: str = ""
    finished: bool = False  # the flow is over (too many attempts)
    method: Method | None = None
    # Why a code was refused, for callers that are not people (the API, RADIUS): "throttled",
    # "malformed", "reused", "wrong", "too_many_attempts"; "" when accepted.
    reason: str = ""
    wait: int = 0  # seconds, when throttled


def verify_code(flow: Flow, user: User, code: str, request, *, app: str = "portal") -> CodeResult:
    """Try ``code`` against the person's code-based methods; count the attempt. ``app`` is the
    application the sign-in log shows."""
    now = timezone.now()
    mfa_key = throttle.key_for("mfa", str(user.pk))
    counters = throttle.standing([mfa_key], now)
    wait = counters.wait
    if wait:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa",
                      result="failure", error_code=codes.THROTTLED, reason=f"MFA throttled for {wait} s", app=app)
        return CodeResult(ok=False, message=f"Too many wrong codes. {throttle.wait_phrase(wait)}, then try again.",
                          reason="throttled", wait=wait)
    reasons = set()
    types = registry.code_types()
    methods = list(Method.objects.raw(f"SELECT * FROM {Method._meta.db_table} WHERE user_id = %s AND type IN "
                                      f"({', '.join(['%s'] * len(types))}) ORDER BY created_at, id",
                                      [user.pk, *types]))
    if not methods:  # nothing to guess against: not an attempt (only callers that are not people get here)
        return CodeResult(ok=False, message="Set up an authenticator app first.", reason="no_code_method")
    for method in methods:
        outcome = registry.get(method.type).verify(method=method, response=code, now=now)
        if outcome.ok:
            throttle.clear(mfa_key, counters)
            return CodeResult(ok=True, method=method)
        reasons.add(outcome.reason)
    if reasons == {"malformed"}:
        return CodeResult(ok=False, message="Enter the 6-digit code from your authenticator app.", reason="malformed")
    flow.attempts += 1
    throttle.record_failure(mfa_key, mfa_limit(), now)
    reused = "reused" in reasons
    remaining = settings.MFA_CODE_ATTEMPTS - flow.attempts
    record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa",
                  result="failure", error_code=codes.MFA_FAILED if remaining > 0 else codes.MFA_ATTEMPTS_EXCEEDED,
                  reason="code already used" if reused else "wrong code", method="code", app=app)
    if remaining <= 0:
        return CodeResult(ok=False, finished=True, reason="too_many_attempts",
                          message="You entered too many wrong codes. For your security, sign in again.")
    if reused:
        return CodeResult(ok=False, reason="reused", message="That code was already used. Wait for the next "
                                                             "code in your app and enter it.")
    return CodeResult(ok=False, reason="wrong", message="That code didn't work. Check the code and try again.")


def finish(request, flow: Flow, user: User, *, amr: list[str], method: str = "") -> None:
    """Establish the session (a new session key, against fixation) and log the success."""
    now = time.time()
    if not flow.reauth:
        login(request, user, backend="watchword.directory.backends.DirectoryBackend")
        request.session[SESSION_AUTH_TIME] = now
        request.session.pop(SESSION_FACTORS, None)
        _apply_session_controls(request, flow)
    amr_set = list(dict.fromkeys(amr))
    factor = st.FACTOR_OF_STEP.get(step_of(amr_set, method), "")
    if any(value != "pwd" for value in amr_set):
        if "mfa" not in amr_set:
            amr_set.append("mfa")
        request.session[SESSION_MFA_TIME] = now
        if factor:
            request.session[SESSION_FACTORS] = sorted(set(request.session.get(SESSION_FACTORS) or []) | {factor})
        from watchword.policy.services import current_settings

        cookies: dict = {}
        remember_browser(request, cookies, user,
                         remember_days=current_settings().remember_mfa_days if flow.remember else 0)
        request.watchword_cookies = cookies
    previous = request.session.get(SESSION_AMR) or []
    request.session[SESSION_AMR] = list(dict.fromkeys(previous + amr_set)) if flow.reauth else amr_set
    remember_network(user, client_ip(request))
    record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user,
                  step="reauth" if flow.reauth else "complete", result="success", method=method,
                  requirement=flow.requirement, app=flow.app if flow.app and not flow.app.startswith("Watchword")
                  else "portal", **flow.log)
    if secrets.randbelow(500) == 0:  # now and then, drop sessions that have expired
        purge_expired_sessions()


def registration_blocked(request, user: User) -> bool:
    """Whether the policies block the user action "register security info" for this request
    (logged when they do). Only a block is enforced here: the person registering has, by
    definition, maybe no second factor to satisfy anything else with."""
    from watchword.methods.services import methods_of
    from watchword.policy.document import ACTION_REGISTER
    from watchword.policy.engine import Outcome

    evaluation = decide(user, methods_of(user), request=request, user_action=ACTION_REGISTER, in_session=True)
    decision = evaluation.decision
    if decision.outcome != Outcome.BLOCK:
        return False
    record_signin(request=request, flow_id="register", typed_name=user.upn, user=user, step="registration",
                  result="failure", error_code=decision.error_code or 53003,
                  reason="; ".join(r.detail for r in decision.reasons)[:300], requirement=decision.requirement,
                  **evaluation.log_fields())
    return True


def step_of(amr: list[str], method: str) -> str:
    """How the second factor was done: a text or call (``sms``/``tel``), a push (``swk``), or a code."""
    for value in ("sms", "tel", "swk", "otp"):
        if value in amr:
            return value
    return {"push": "push", "totp": "code"}.get(method, "")


def _apply_session_controls(request, flow: Flow) -> None:
    """The policies' session controls: a persistent browser session (kept after the browser
    closes) or not, and a sign-in frequency."""
    if flow.persistent == "always":
        request.session.set_expiry(settings.SESSION_COOKIE_AGE)
    elif flow.persistent == "never":
        request.session.set_expiry(0)
    if flow.frequency:
        request.session[SESSION_FREQUENCY] = flow.frequency
    else:
        request.session.pop(SESSION_FREQUENCY, None)


def signin_expired(request) -> bool:
    """Whether a policy's sign-in frequency has run out for this session."""
    frequency = request.session.get(SESSION_FREQUENCY)
    signed_in = request.session.get(SESSION_AUTH_TIME)
    return (isinstance(frequency, int) and frequency > 0 and isinstance(signed_in, (int, float))
            and time.time() - signed_in > frequency)


def purge_expired_sessions() -> int:
    from django.contrib.sessions.models import Session

    deleted, _ = Session.objects.filter(expire_date__lt=timezone.now()).delete()
    return deleted


def mfa_is_fresh(request) -> bool:
    stamp = request.session.get(SESSION_MFA_TIME)
    return isinstance(stamp, (int, float)) and time.time() - stamp <= settings.MFA_FRESHNESS_SECONDS


# ----------------------------------------------------------------------------------------------
# Push: approve a sign-in request on the authenticator


def push_app_name() -> str:
    return f"{settings.ORGANISATION_NAME} sign-in"


@dataclass(frozen=True)
class PushSend:
    challenge: PushChallenge | None
    wait: int = 0


def send_push(flow: Flow, user: User, request, *, app: str = "portal", shown_as: str = "") -> PushSend:
    """Send a new sign-in request to the person's devices, unless they have been sent too many
    lately (each request counts until a sign-in succeeds: a defence against MFA fatigue).
    ``app`` is the application the sign-in log shows (the device's answer is logged under it
    too); ``shown_as`` the name the device shows (the organisation's sign-in by default)."""
    now = timezone.now()
    key = throttle.key_for("push", str(user.pk))
    wait = throttle.standing([key], now).wait
    if wait:
        record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa",
                      result="failure", error_code=codes.THROTTLED, reason=f"sign-in requests throttled for {wait} s",
                      method=push.PushMethod.key, app=app)
        return PushSend(None, wait)
    throttle.record_failure(key, push_limit(), now)
    withdraw_push(flow)
    challenge = push.create_challenge(user, purpose="signin", app=shown_as or push_app_name(), ip=client_ip(request),
                                      now=now, flow_id=flow.id, log_app=app)
    flow.push_challenge = challenge.id
    return PushSend(challenge)


def withdraw_push(flow: Flow) -> None:
    """This sign-in no longer waits for its request (another way was chosen, or a new request
    replaces it): end it, so the person's devices stop offering it."""
    if flow.push_challenge:
        push.withdraw(flow.push_challenge, timezone.now())
        flow.push_challenge = ""


def current_push(flow: Flow, user: User) -> PushChallenge | None:
    if not flow.push_challenge:
        return None
    return PushChallenge.objects.filter(pk=flow.push_challenge, user=user, purpose="signin").first()


def push_status(challenge: PushChallenge | None, now=None) -> str:
    """``pending``, ``approved``, ``expired`` (unanswered in time), ``wrong_number``,
    ``declined``, ``reported`` or ``missing``."""
    if challenge is None:
        return "missing"
    if challenge.state == ChallengeState.PENDING:
        return "expired" if challenge.expires_at <= (now or timezone.now()) else "pending"
    if challenge.state == ChallengeState.APPROVED:
        return "approved" if not challenge.consumed else "missing"
    if challenge.state == ChallengeState.REPORTED:
        return "reported"
    return challenge.result_detail or "declined"


def use_approval(challenge: PushChallenge, user: User) -> bool:
    """Spend an approval on this sign-in, once (compare-and-set), and forgive the requests sent."""
    won = PushChallenge.objects.filter(pk=challenge.pk, state=ChallengeState.APPROVED, consumed=False).update(
        consumed=True) == 1
    if won:
        throttle.clear(throttle.key_for("push", str(user.pk)))
    return won


def record_unanswered(flow: Flow, user: User, request, *, app: str = "portal") -> None:
    record_signin(request=request, flow_id=flow.id, typed_name=flow.name, user=user, step="mfa", result="failure",
                  error_code=codes.MFA_DENIED, reason="MFA denied; user did not respond to mobile app notification",
                  method=push.PushMethod.key, app=app)
