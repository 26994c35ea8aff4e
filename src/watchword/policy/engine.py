"""The sign-in decision, as a pure function of the facts of one sign-in and the compiled policy
configuration.

No ORM, no request, no clock: ``signin`` gathers ``SignInFacts``, ``policy.services`` loads a
``PolicyConfig``, and ``signin`` acts on the ``Decision``. Three rule sets are combined — per-user
MFA, Security Defaults, Conditional Access — and the strictest wins (block > register > MFA >
allow). A second factor required by several rule sets must satisfy all of them: each narrows
the set of factor combinations that will do (``allowed_factors``). Missing or unknown facts fail
closed: they never grant access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import NamedTuple

from watchword.policy import strengths as st
from watchword.policy.conditions import NOT_INCLUDED, first_unmet, locate
from watchword.policy.document import CompiledPolicy
from watchword.policy.errors import FactsInvalid
from watchword.policy.locations import NamedLocation

MFA_STATES = ("disabled", "enabled", "enforced")
CLIENTS = ("browser", "mobileAppsAndDesktopClients", "radius", "api", "other")
RISKS = ("none", "low", "medium", "high")
SECURITY_DEFAULTS_GRACE_DAYS = 14
# Security Defaults registers the authenticator app (notifications or codes), as the reference does.
SECURITY_DEFAULTS_FACTORS = frozenset({st.FACTOR_PUSH, st.FACTOR_CODE})


class Outcome(str, Enum):
    ALLOW = "allow"  # the password alone is enough
    REQUIRE_MFA = "require_mfa"  # a second factor now
    REQUIRE_REGISTRATION = "require_registration"  # "More information required", then register
    BLOCK = "block"


RANK = {Outcome.ALLOW: 0, Outcome.REQUIRE_MFA: 1, Outcome.REQUIRE_REGISTRATION: 2, Outcome.BLOCK: 3}


@dataclass(frozen=True)
class SignInFacts:
    user_id: int
    per_user_mfa_state: str
    registered_methods: tuple[str, ...]  # method types the person has and may use (methods policy applied)
    is_admin: bool = False
    client: str = "browser"
    app: str = "WatchwordPortal"
    mfa_blocked: bool = False  # blocked after reporting a sign-in request as fraud
    roles: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()  # ids (as text) of every group the person is in
    user_action: str = ""  # "urn:user:registersecurityinfo" while registering security info
    platform: str = ""  # from the User-Agent; "" unknown
    ip: object = None  # ipaddress address, or None (unknown)
    risk: str = "none"
    familiar_network: bool = True  # a successful sign-in from this network in the last 30 days
    familiar_browser: bool = True  # this browser finished an MFA for this person in the last 30 days
    mfa_remembered: bool = False  # "Don't ask again" on this browser, still within its days
    registration_days_left: int | None = None  # Security Defaults' grace; None: not started
    satisfied_factors: frozenset[str] = frozenset()  # proven in this session already (step-up)
    mfa_age_seconds: float | None = None  # since the session's last second factor


@dataclass(frozen=True)
class PolicyConfig:
    security_defaults: bool = False
    policies: tuple[CompiledPolicy, ...] = ()
    locations: tuple[NamedLocation, ...] = ()
    strengths: dict = field(default_factory=lambda: dict(st.BUILT_IN))
    mfa_trusted_ips: tuple = ()  # networks where per-user MFA is skipped
    broken: tuple[str, ...] = ()  # names of stored policies that could not be compiled
    # Worked out from the above on first use and kept with them (see ``_prepared``); not an
    # argument, so ``dataclasses.replace`` starts a new one.
    cache: dict = field(default_factory=dict, compare=False, repr=False, init=False)


EMPTY = PolicyConfig()


@dataclass(frozen=True)
class Reason:
    source: str  # "per_user_mfa", "security_defaults", "conditional_access:<id>", "fraud_block"
    detail: str


class PolicyResult(NamedTuple):
    """One Conditional Access policy's part in a sign-in (the sign-in log's
    ``appliedConditionalAccessPolicies``). A named tuple: a sign-in makes one per policy."""

    id: str
    name: str
    report_only: bool
    applied: bool
    result: str  # applied | notApplied | reportOnlyNotApplied | reportOnlyWouldBlock | reportOnlyWouldRequireMfa | reportOnlySuccess
    controls: tuple[str, ...] = ()
    unmet: str = ""  # the first condition that did not match

    def as_dict(self) -> dict:
        return {"id": self.id, "displayName": self.name, "reportOnly": self.report_only, "result": self.result,
                "controls": list(self.controls), "conditionNotSatisfied": self.unmet}


@dataclass(frozen=True)
class SessionControls:
    frequency_seconds: int | None = None  # sign in again after this long; 0: every time
    persistent_browser: str | None = None  # "always" | "never"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    error_code: int | None = None
    allowed_factors: frozenset[str] | None = None  # with REQUIRE_MFA / REGISTRATION: which will do
    policy_results: tuple[PolicyResult, ...] = ()
    session: SessionControls = SessionControls()
    registration_days_left: int | None = None  # registration may be skipped for this many days

    @property
    def needs_second_factor(self) -> bool:
        return self.outcome in (Outcome.REQUIRE_MFA, Outcome.REQUIRE_REGISTRATION)

    @property
    def requirement(self) -> str:
        return self.reasons[0].source if self.reasons else ""


@dataclass(frozen=True)
class _Need:
    """One rule set's requirement: an outcome, the factors that would satisfy it, why."""

    outcome: Outcome
    reason: Reason
    code: int | None = None
    factors: frozenset[str] | None = None  # None: any MFA factor
    skippable_days: int | None = None


def check_facts(facts: SignInFacts) -> None:
    if not isinstance(facts.user_id, int) or isinstance(facts.user_id, bool) or facts.user_id <= 0:
        raise FactsInvalid(field="user_id", problem="user_id must be a positive integer")
    if facts.per_user_mfa_state not in MFA_STATES:
        raise FactsInvalid(field="per_user_mfa_state", problem=f"unknown per-user MFA state {facts.per_user_mfa_state!r}")
    for name in ("mfa_blocked", "is_admin", "familiar_network", "familiar_browser", "mfa_remembered"):
        if not isinstance(getattr(facts, name), bool):
            raise FactsInvalid(field=name, problem=f"{name} must be true or false")
    if not isinstance(facts.registered_methods, tuple):
        raise FactsInvalid(field="registered_methods", problem="registered_methods must be a tuple")
    if facts.client not in CLIENTS:
        raise FactsInvalid(field="client", problem=f"unknown client type {facts.client!r}")
    if facts.risk not in RISKS:
        raise FactsInvalid(field="risk", problem=f"unknown risk level {facts.risk!r}")
    if not isinstance(facts.app, str) or not facts.app:
        raise FactsInvalid(field="app", problem="app must name the application")


def _in_trusted_ips(facts: SignInFacts, config: PolicyConfig) -> bool:
    ip = facts.ip
    return ip is not None and any(ip.version == n.version and ip in n for n in config.mfa_trusted_ips)


def evaluate_per_user_mfa(facts: SignInFacts, config: PolicyConfig = EMPTY) -> _Need:
    state = facts.per_user_mfa_state
    if state == "disabled":
        return _Need(Outcome.ALLOW, Reason("per_user_mfa", "per-user MFA is disabled"))
    if not facts.registered_methods:
        # Enabled: "prompted to register at next sign-in"; Enforced without a method: the same,
        # with the reference's "configuration change" code.
        code = 50072 if state == "enabled" else 50079
        return _Need(Outcome.REQUIRE_REGISTRATION,
                     Reason("per_user_mfa", f"per-user MFA is {state} and no method is registered"), code)
    # The reference's two exceptions to "MFA at every sign-in" for per-user MFA.
    if _in_trusted_ips(facts, config):
        return _Need(Outcome.ALLOW, Reason("per_user_mfa", f"per-user MFA is {state}; skipped: MFA trusted IPs"))
    if facts.mfa_remembered:
        return _Need(Outcome.ALLOW, Reason("per_user_mfa", f"per-user MFA is {state}; skipped: MFA remembered "
                                                            f"on this browser"))
    return _Need(Outcome.REQUIRE_MFA, Reason("per_user_mfa", f"per-user MFA is {state}"), 50074)


def evaluate_security_defaults(facts: SignInFacts) -> _Need:
    """Security Defaults, concretely (docs/conditional-access.md):

    - clients that cannot do MFA (``other``: password only) are blocked;
    - no MFA method: register one (the authenticator app), skippable for 14 days from the first
      sign-in after Security Defaults was turned on, then required;
    - admins, and anyone opening the admin pages: MFA at every sign-in;
    - everyone else: MFA when the sign-in is unusual — from a network not used by this person for a
      successful sign-in in 30 days, or (in a browser) from a browser that has not finished an MFA
      for them in 30 days.
    """
    source = "security_defaults"
    if facts.client == "other":
        return _Need(Outcome.BLOCK, Reason(source, "Security Defaults blocks clients that cannot do MFA"), 53003)
    if not facts.registered_methods:
        days = facts.registration_days_left
        days = SECURITY_DEFAULTS_GRACE_DAYS if days is None else max(0, days)
        return _Need(Outcome.REQUIRE_REGISTRATION, Reason(source, "Security Defaults: register an MFA method" + (
            f" ({days} days until required)" if days else " (required now)")), 50079,
            SECURITY_DEFAULTS_FACTORS, skippable_days=days or None)
    why = ""
    if facts.is_admin:
        why = "holds an admin role"
    elif facts.app == "WatchwordAdmin":
        why = "the admin pages"
    elif not facts.familiar_network:
        why = "an unfamiliar network"
    elif facts.client == "browser" and not facts.familiar_browser:
        why = "a browser not used for MFA in 30 days"
    if why:
        # Only the authenticator app counts here too, not just when registering: someone with a
        # phone alone is sent to register the app rather than sent a text.
        return _Need(Outcome.REQUIRE_MFA, Reason(source, f"Security Defaults: MFA for {why}"), 50076,
                     SECURITY_DEFAULTS_FACTORS)
    return _Need(Outcome.ALLOW, Reason(source, "Security Defaults: a familiar sign-in"))


def _policy_factors(policy: CompiledPolicy, config: PolicyConfig) -> frozenset[str] | None:
    """The factor combinations that satisfy one policy's grant controls (AND: all; OR: any)."""
    sets: list[frozenset[str]] = []
    if "mfa" in policy.controls:
        sets.append(st.MFA.combinations)
    if policy.strength is not None:
        strength = config.strengths.get(policy.strength)
        sets.append(strength.combinations if strength is not None else frozenset())  # unknown: nothing will do
    if not sets:
        return None
    if policy.operator == "AND":
        result = sets[0]
        for s in sets[1:]:
            result &= s
        return result
    result = frozenset()
    for s in sets:
        result |= s
    return result


def _controls_of(policy: CompiledPolicy, config: PolicyConfig) -> tuple[str, ...]:
    if policy.block:
        return ("block",)
    names = list(policy.controls)
    if policy.strength is not None:
        strength = config.strengths.get(policy.strength)
        names.append(f"authenticationStrength:{strength.name if strength else policy.strength}")
    if policy.frequency_seconds is not None:
        names.append("signInFrequency")
    if policy.persistent_browser:
        names.append(f"persistentBrowser:{policy.persistent_browser}")
    return tuple(names)


def _fresh_enough(facts: SignInFacts, frequency: int | None) -> frozenset[str]:
    """The factors already proven in this session that still count under a sign-in frequency."""
    if not facts.satisfied_factors:
        return frozenset()
    if frequency is not None and (facts.mfa_age_seconds is None or facts.mfa_age_seconds > max(frequency, 300)):
        return frozenset()  # "every time" still allows the reference's 5 minutes of skew
    return facts.satisfied_factors


@dataclass(frozen=True)
class _Prepared:
    """What a configuration's policies need at every sign-in, worked out once: each policy's
    controls and accepted factors, its "not included" result, and an index of who each policy
    includes, so the policies that cannot include the person are passed over at once."""

    controls: tuple[tuple[str, ...], ...]
    factors: tuple[frozenset[str] | None, ...]
    not_included: tuple[PolicyResult, ...]
    everyone: frozenset[int]  # positions of policies for all users
    by_user: dict
    by_group: dict
    by_role: dict


def _prepared(config: PolicyConfig) -> _Prepared:
    prepared = config.cache.get("prepared")
    if prepared is not None:
        return prepared
    controls, factors, not_included = [], [], []
    everyone: set[int] = set()
    by_user: dict[str, set[int]] = {}
    by_group: dict[str, set[int]] = {}
    by_role: dict[str, set[int]] = {}
    for position, policy in enumerate(config.policies):
        controls.append(_controls_of(policy, config))
        factors.append(_policy_factors(policy, config))
        not_included.append(PolicyResult(policy.id, policy.name, policy.report_only, False,
                                         "reportOnlyNotApplied" if policy.report_only else "notApplied",
                                         controls[-1], NOT_INCLUDED))
        if policy.include_all_users:
            everyone.add(position)
        for index, keys in ((by_user, policy.include_users), (by_group, policy.include_groups),
                            (by_role, policy.include_roles)):
            for key in keys:
                index.setdefault(key, set()).add(position)
    prepared = _Prepared(tuple(controls), tuple(factors), tuple(not_included), frozenset(everyone),
                         by_user, by_group, by_role)
    config.cache["prepared"] = prepared
    return prepared


def _included(prepared: _Prepared, uid: str, facts: SignInFacts) -> set[int]:
    """Positions of the policies whose users include the person (before exclusions)."""
    found = set(prepared.everyone)
    found |= prepared.by_user.get(uid, set())
    for group in facts.groups:
        found |= prepared.by_group.get(group, set())
    for role in facts.roles:
        found |= prepared.by_role.get(role, set())
    return found


def evaluate_conditional_access(facts: SignInFacts, config: PolicyConfig):
    """Every enabled and report-only policy: whether it applies (or the first condition that did
    not match), and the enforced policies' combined requirement."""
    results: list[PolicyResult] = []
    needs: list[_Need] = []
    frequency: int | None = None
    persistent: str | None = None
    prepared = _prepared(config)
    uid = str(facts.user_id)
    included = _included(prepared, uid, facts)
    where = locate(facts, config) if config.locations or config.mfa_trusted_ips else None
    for position, policy in enumerate(config.policies):
        if policy.state == "disabled":
            continue
        if position not in included:
            results.append(prepared.not_included[position])
            continue
        unmet = first_unmet(policy, facts, config, where=where, uid=uid)
        controls = prepared.controls[position]
        if unmet:
            results.append(PolicyResult(policy.id, policy.name, policy.report_only, False,
                                        "reportOnlyNotApplied" if policy.report_only else "notApplied", controls, unmet))
            continue
        factors = prepared.factors[position]
        if policy.report_only:
            if policy.block or (factors is not None and not factors & st.WATCHWORD_FACTORS):
                result = "reportOnlyWouldBlock"  # enforced, nothing Watchword has could satisfy it
            elif factors is not None and not (_fresh_enough(facts, policy.frequency_seconds) & factors):
                result = "reportOnlyWouldRequireMfa"
            else:
                result = "reportOnlySuccess"
            results.append(PolicyResult(policy.id, policy.name, True, True, result, controls))
            continue
        results.append(PolicyResult(policy.id, policy.name, False, True, "applied", controls))
        source = f"conditional_access:{policy.id}"
        if policy.block:
            needs.append(_Need(Outcome.BLOCK, Reason(source, f"blocked by Conditional Access policy "
                                                             f"'{policy.name}'"), 53003))
            continue
        if policy.frequency_seconds is not None:
            frequency = policy.frequency_seconds if frequency is None else min(frequency, policy.frequency_seconds)
        if policy.persistent_browser:
            persistent = "never" if "never" in (persistent, policy.persistent_browser) else "always"
        if factors is not None:
            if _fresh_enough(facts, policy.frequency_seconds) & factors:
                needs.append(_Need(Outcome.ALLOW, Reason(source, f"'{policy.name}': satisfied in this session")))
            else:
                needs.append(_Need(Outcome.REQUIRE_MFA, Reason(source, f"Conditional Access policy "
                                                                       f"'{policy.name}' requires "
                                                                       f"{_describe(policy, config)}"), 50076, factors))
    for name in config.broken:  # a stored policy that no longer compiles: MFA for everyone, never less
        needs.append(_Need(Outcome.REQUIRE_MFA, Reason("conditional_access:broken", f"policy '{name}' could not be "
                                                                                     f"read; MFA required to be safe"),
                           50076))
    return tuple(results), needs, SessionControls(frequency, persistent)


def _describe(policy: CompiledPolicy, config: PolicyConfig) -> str:
    parts = ["MFA"] if "mfa" in policy.controls else []
    if policy.strength is not None:
        strength = config.strengths.get(policy.strength)
        parts.append(f"the authentication strength '{strength.name if strength else policy.strength}'")
    return f" {'and' if policy.operator == 'AND' else 'or'} ".join(parts)


def _proven_in_session(need: _Need, facts: SignInFacts) -> bool:
    """Per-user MFA and Security Defaults ask once per sign-in: a factor this session already
    proved satisfies them (Conditional Access weighs its own sign-in frequency instead)."""
    if need.outcome != Outcome.REQUIRE_MFA or need.reason.source not in ("per_user_mfa", "security_defaults"):
        return False
    return bool(facts.satisfied_factors & (need.factors if need.factors is not None else st.MFA.combinations))


def evaluate(facts: SignInFacts, config: PolicyConfig = EMPTY) -> Decision:
    """Combine every rule set; the strictest requirement wins (block > register > MFA > allow),
    and a second factor must satisfy every rule set that asks for one."""
    check_facts(facts)
    needs = [evaluate_per_user_mfa(facts, config)]
    if config.security_defaults:
        needs.append(evaluate_security_defaults(facts))
    results, ca_needs, session = evaluate_conditional_access(facts, config)
    needs += ca_needs
    blocks = [n for n in needs if n.outcome == Outcome.BLOCK]
    if blocks:
        return Decision(Outcome.BLOCK, tuple(n.reason for n in blocks), blocks[0].code, policy_results=results,
                        session=session)
    asking = [n for n in needs if n.outcome in (Outcome.REQUIRE_MFA, Outcome.REQUIRE_REGISTRATION)
              and not _proven_in_session(n, facts)]
    if facts.mfa_blocked and asking:
        # The reference: "MFA attempts auto-denied" for a blocked person, registration included.
        return Decision(Outcome.BLOCK, (Reason("fraud_block", "MFA denied; user is blocked"),), 500121,
                        policy_results=results, session=session)
    if not asking:
        # A requirement met by a factor proven earlier in this session is still a reason.
        allowed = [n.reason if n.outcome == Outcome.ALLOW else
                   Reason(n.reason.source, f"{n.reason.detail}; satisfied in this session") for n in needs
                   if n.outcome == Outcome.ALLOW or _proven_in_session(n, facts)]
        return Decision(Outcome.ALLOW, tuple(allowed), policy_results=results, session=session)
    factors = st.MFA.combinations
    for need in asking:
        if need.factors is not None:
            factors = factors & need.factors
    reasons = tuple(n.reason for n in asking)
    doable = factors & st.WATCHWORD_FACTORS
    if not doable:
        return Decision(Outcome.BLOCK, reasons + (Reason("authentication_strength", "no sign-in method Watchword "
                                                         "has satisfies every policy that applies"),), 53003,
                        allowed_factors=factors, policy_results=results, session=session)
    registered = st.factors_of(facts.registered_methods)
    register = [n for n in asking if n.outcome == Outcome.REQUIRE_REGISTRATION]
    if register or not (registered & doable):
        skip = None
        if register and all(n.skippable_days for n in register) and len(register) == len(asking):
            skip = min(n.skippable_days for n in register)
        code = register[0].code if register else 50079
        ordered = register + [n for n in asking if n not in register]
        return Decision(Outcome.REQUIRE_REGISTRATION, tuple(n.reason for n in ordered), code,
                        allowed_factors=doable, policy_results=results, session=session,
                        registration_days_left=skip)
    first = asking[0]
    return Decision(Outcome.REQUIRE_MFA, reasons, first.code, allowed_factors=doable, policy_results=results,
                    session=session)


def state_after_admin_sets(requested: str, *, has_method: bool) -> str:
    """Graph's rule: setting ``enabled`` for a person who already has an MFA method makes them
    ``enforced``."""
    if requested not in MFA_STATES:
        raise FactsInvalid(field="mfa_state", problem=f"unknown per-user MFA state {requested!r}")
    return "enforced" if requested == "enabled" and has_method else requested


def state_after_registration(current: str) -> str:
    """Completing registration moves Enabled to Enforced automatically."""
    return "enforced" if current == "enabled" else current
