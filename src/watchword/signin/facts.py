"""What the policy engine is told about a sign-in: the person (groups, role, usable methods), the
application and client, the network and browser (familiar or not), the sign-in risk, and what
this session has proven already. Read from the database here; decided in ``policy.engine``.

Familiarity: a network is an IPv4 /24 or IPv6 /48; it is familiar when the person finished a
sign-in from it in the last ``FAMILIAR_DAYS``. A browser is familiar when it finished an MFA for
the person in that time (the ``watchword_device`` cookie, kept as a SHA-256).
"""

from __future__ import annotations

import hashlib
import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from watchword.methods.models import FraudReport, Method
from watchword.policy import strengths as st
from watchword.policy.engine import Decision, SignInFacts, evaluate
from watchword.policy.locations import parse_address
from watchword.policy.models import RegistrationGrace
from watchword.policy.platforms import platform_of
from watchword.policy.risk import RiskSignals, sign_in_risk
from watchword.policy.services import Loaded, current_settings, load
from watchword.signin.models import KnownBrowser, KnownNetwork, Throttle

FAMILIAR_DAYS = 30
DEVICE_COOKIE = "watchword_device"
DEVICE_COOKIE_DAYS = 400  # browsers keep cookies at most 400 days


@dataclass(frozen=True)
class Evaluation:
    """A decision and the facts it was made on (what the sign-in log records)."""

    decision: Decision
    facts: SignInFacts
    loaded: Loaded
    usable: tuple[Method, ...] = ()  # the person's methods the methods policy lets them use
    channels: dict = field(default_factory=dict)  # method pk → the ways it may be used
    risk_reason: str = ""

    @property
    def policy_results(self):
        return self.decision.policy_results

    @property
    def client(self) -> str:
        return self.facts.client

    @property
    def risk(self) -> str:
        return self.facts.risk

    def log_fields(self) -> dict:
        """What the sign-in log records of the decision (JSON-able, kept in the flow)."""
        return {"conditional_access": [r.as_dict() for r in self.decision.policy_results],
                "client_app": self.facts.client, "risk": self.facts.risk}


def network_of(ip: str | None) -> str:
    address = parse_address(ip)
    if address is None:
        return ""
    prefix = 24 if address.version == 4 else 48
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def browser_token(request) -> str:
    value = getattr(request, "COOKIES", {}).get(DEVICE_COOKIE, "") if request is not None else ""
    return value if 20 <= len(value) <= 64 and value.isascii() else ""


def usable_methods(methods, loaded: Loaded, groups: frozenset[str]) -> tuple[tuple[Method, ...], dict]:
    usable, channels = [], {}
    for method in methods:
        ways = loaded.methods.channels(method.type, groups, getattr(method, "phone", "") or "")
        if ways:
            usable.append(method)
            channels[method.pk] = ways
    return tuple(usable), channels


def groups_of(user) -> frozenset[str]:
    return frozenset(str(pk) for pk in user.groups.values_list("pk", flat=True))


def _recent_failures(user, now) -> int:
    from watchword.signin.throttle import key_for

    keys = [key_for("acct", user.upn), key_for("acct", f"{user.upn}|elsewhere")]  # familiar and not
    return sum(row.failures for row in Throttle.objects.filter(key__in=keys).only("failures", "last_failure_at")
               if now - row.last_failure_at <= timedelta(hours=1))


def _fraud_days_ago(user, now) -> int | None:
    when = FraudReport.objects.filter(user=user).order_by("-created_at").values_list("created_at", flat=True).first()
    return None if when is None else (now - when).days


def mfa_blocked(user, loaded: Loaded | None = None, now=None) -> bool:
    """Blocked after a fraud report, for the organisation's days or until an administrator unblocks."""
    blocked_at = user.mfa_blocked_at
    if blocked_at is None:
        return False
    days = (loaded.settings if loaded is not None else current_settings()).fraud_block_days
    return (now or timezone.now()) - blocked_at < timedelta(days=days)


def gather(user, methods, *, app: str, client: str = "browser", ip: str | None = None, user_agent: str = "",
           request=None, user_action: str = "", satisfied: frozenset[str] = frozenset(),
           mfa_age: float | None = None, risk: str | None = None, platform: str | None = None,
           familiar_network: bool | None = None, familiar_browser: bool | None = None,
           now=None, read_only: bool = False) -> tuple[SignInFacts, Loaded, tuple, dict, str]:
    """The facts of one sign-in. ``risk``, ``platform`` and the familiarity flags override what
    would be read (the what-if tool, which is also ``read_only``: it starts nobody's Security
    Defaults grace period)."""
    now = now or timezone.now()
    loaded = load()
    groups = groups_of(user)
    usable, channels = usable_methods(methods, loaded, groups)
    network = network_of(ip)
    since = now - timedelta(days=FAMILIAR_DAYS)
    if familiar_network is None:
        familiar_network = bool(network) and KnownNetwork.objects.filter(user=user, network=network,
                                                                         last_seen__gte=since).exists()
    remembered = False
    token = browser_token(request)
    if familiar_browser is None:
        row = KnownBrowser.objects.filter(user=user, token_hash=token_hash(token)).first() if token else None
        familiar_browser = row is not None and row.mfa_at >= since
        remembered = (row is not None and loaded.settings.remember_mfa_days > 0 and row.remember_until is not None
                      and row.remember_until > now
                      and row.mfa_at >= now - timedelta(days=loaded.settings.remember_mfa_days))
    risk_reason = ""
    if risk is None:
        risk, risk_reason = sign_in_risk(RiskSignals(recent_failures=_recent_failures(user, now),
                                                     unfamiliar_network=not familiar_network,
                                                     fraud_reported_days_ago=_fraud_days_ago(user, now)))
    days_left = None
    if loaded.config.security_defaults and not usable:
        grace = RegistrationGrace.objects.filter(user=user).first() if read_only else _grace(user, now)[0]
        days_left = 14 - (now - grace.started_at).days if grace is not None else 14
    facts = SignInFacts(
        user_id=user.pk, per_user_mfa_state=user.mfa_state, registered_methods=tuple(m.type for m in usable),
        is_admin=user.is_admin, client=client, app=app, mfa_blocked=mfa_blocked(user, loaded, now),
        roles=frozenset({user.role}), groups=groups, user_action=user_action,
        platform=platform if platform is not None else platform_of(user_agent), ip=parse_address(ip), risk=risk,
        familiar_network=familiar_network, familiar_browser=familiar_browser, mfa_remembered=remembered,
        registration_days_left=days_left, satisfied_factors=satisfied, mfa_age_seconds=mfa_age)
    return facts, loaded, usable, channels, risk_reason


def _grace(user, now):
    try:
        with transaction.atomic():
            return RegistrationGrace.objects.get_or_create(user=user, defaults={"started_at": now})
    except IntegrityError:
        return RegistrationGrace.objects.get(user=user), False


def evaluate_sign_in(user, methods, **kwargs) -> Evaluation:
    facts, loaded, usable, channels, risk_reason = gather(user, methods, **kwargs)
    return Evaluation(evaluate(facts, loaded.config), facts, loaded, usable, channels, risk_reason)


# --- remembering networks and browsers ----------------------------------------------------------

def remember_network(user, ip: str | None, now=None) -> None:
    network = network_of(ip)
    if not network:
        return
    now = now or timezone.now()
    if KnownNetwork.objects.filter(user=user, network=network).update(last_seen=now) == 0:
        try:
            with transaction.atomic():
                KnownNetwork.objects.create(user=user, network=network, last_seen=now)
        except IntegrityError:
            pass


def remember_browser(request, response_cookies: dict, user, *, remember_days: int = 0, now=None) -> None:
    """After an MFA in this browser: mark it familiar (and MFA remembered for ``remember_days``).
    A browser without the cookie gets one (set on the response by ``DeviceCookieMiddleware``)."""
    now = now or timezone.now()
    token = browser_token(request)
    if not token:
        token = secrets.token_urlsafe(32)
        response_cookies[DEVICE_COOKIE] = token
    until = now + timedelta(days=remember_days) if remember_days else None
    digest = token_hash(token)
    values = {"mfa_at": now}
    if until is not None:
        values["remember_until"] = until
    if KnownBrowser.objects.filter(user=user, token_hash=digest).update(**values) == 0:
        try:
            with transaction.atomic():
                KnownBrowser.objects.create(user=user, token_hash=digest, mfa_at=now, remember_until=until)
        except IntegrityError:
            pass


def forget_remembered_mfa(user) -> int:
    """"Revoke MFA sessions": no browser skips MFA for the person any more."""
    return KnownBrowser.objects.filter(user=user, remember_until__isnull=False).update(remember_until=None)


def factor_of_step(step: str) -> str:
    return st.FACTOR_OF_STEP.get(step, "")


__all__ = ["DEVICE_COOKIE", "DEVICE_COOKIE_DAYS", "Evaluation", "evaluate_sign_in", "forget_remembered_mfa",
           "gather", "network_of", "remember_browser", "remember_network"]
