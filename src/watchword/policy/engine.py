"""The sign-in decision, as a pure function of the facts of one sign-in.

No ORM, no request, no clock: ``signin`` gathers ``SignInFacts`` and acts on the ``Decision``.
Today the engine knows per-user MFA state (the reference's Disabled / Enabled / Enforced);
Security Defaults and Conditional Access plug in as further rule sets whose requirements are
combined here. Missing or unknown facts fail closed: they never grant access.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from watchword.policy.errors import FactsInvalid

MFA_STATES = ("disabled", "enabled", "enforced")


class Outcome(str, Enum):
    ALLOW = "allow"  # the password alone is enough
    REQUIRE_MFA = "require_mfa"  # a second factor now
    REQUIRE_REGISTRATION = "require_registration"  # "More information required", then register
    BLOCK = "block"


@dataclass(frozen=True)
class SignInFacts:
    user_id: int
    per_user_mfa_state: str
    registered_methods: tuple[str, ...]
    is_admin: bool = False
    client: str = "browser"
    app: str = "portal"
    mfa_blocked: bool = False  # blocked after reporting a sign-in request as fraud


@dataclass(frozen=True)
class Reason:
    source: str  # "per_user_mfa", later "security_defaults", "conditional_access:<id>"
    detail: str


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reasons: tuple[Reason, ...]
    error_code: int | None = None

    @property
    def needs_second_factor(self) -> bool:
        return self.outcome in (Outcome.REQUIRE_MFA, Outcome.REQUIRE_REGISTRATION)

    @property
    def requirement(self) -> str:
        return self.reasons[0].source if self.reasons else ""


def check_facts(facts: SignInFacts) -> None:
    if not isinstance(facts.user_id, int) or facts.user_id <= 0:
        raise FactsInvalid(field="user_id", problem="user_id must be a positive integer")
    if facts.per_user_mfa_state not in MFA_STATES:
        raise FactsInvalid(field="per_user_mfa_state", problem=f"unknown per-user MFA state {facts.per_user_mfa_state!r}")
    if not isinstance(facts.mfa_blocked, bool):
        raise FactsInvalid(field="mfa_blocked", problem="mfa_blocked must be true or false")
    if not isinstance(facts.registered_methods, tuple):
        raise FactsInvalid(field="registered_methods", problem="registered_methods must be a tuple")


def evaluate_per_user_mfa(facts: SignInFacts) -> Decision:
    state = facts.per_user_mfa_state
    has_method = bool(facts.registered_methods)
    if state == "disabled":
        return Decision(Outcome.ALLOW, (Reason("per_user_mfa", "per-user MFA is disabled"),))
    if not has_method:
        # Enabled: "prompted to register at next sign-in"; Enforced without a method: the same,
        # with the reference's "configuration change" code.
        code = 50072 if state == "enabled" else 50079
        return Decision(Outcome.REQUIRE_REGISTRATION,
                        (Reason("per_user_mfa", f"per-user MFA is {state} and no method is registered"),), code)
    return Decision(Outcome.REQUIRE_MFA, (Reason("per_user_mfa", f"per-user MFA is {state}"),), 50074)


def evaluate(facts: SignInFacts) -> Decision:
    """Combine every rule set; the strictest requirement wins (block > register > MFA > allow)."""
    check_facts(facts)
    decisions = [evaluate_per_user_mfa(facts)]
    rank = {Outcome.ALLOW: 0, Outcome.REQUIRE_MFA: 1, Outcome.REQUIRE_REGISTRATION: 2, Outcome.BLOCK: 3}
    strictest = max(decisions, key=lambda d: rank[d.outcome])
    if facts.mfa_blocked and strictest.needs_second_factor:
        # The reference: "MFA attempts auto-denied" for a blocked person, registration included.
        return Decision(Outcome.BLOCK, (Reason("fraud_block", "MFA denied; user is blocked"),), 500121)
    reasons = tuple(r for d in decisions if d.outcome == strictest.outcome for r in d.reasons)
    return Decision(strictest.outcome, reasons, strictest.error_code)


def state_after_admin_sets(requested: str, *, has_method: bool) -> str:
    """Graph's rule: setting ``enabled`` for a person who already has an MFA method makes them
    ``enforced``."""
    if requested not in MFA_STATES:
        raise FactsInvalid(field="mfa_state", problem=f"unknown per-user MFA state {requested!r}")
    return "enforced" if requested == "enabled" and has_method else requested


def state_after_registration(current: str) -> str:
    """Completing registration moves Enabled to Enforced automatically."""
    return "enforced" if current == "enabled" else current
