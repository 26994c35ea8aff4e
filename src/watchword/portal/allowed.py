"""What a person may set up in the registration wizard and on Security info: the kinds the
authentication-methods policy (``policy.methods``) enables for them, narrowed by the sign-in
when only some kinds would satisfy it (Security Defaults: the authenticator app).

A kind is offered when its configuration is enabled for one of the person's groups:

- ``push`` (the authenticator app with notifications): ``microsoftAuthenticator``;
- ``totp`` ("use a different authenticator app", codes only): ``softwareOath``;
- ``phone``: ``sms`` or ``voice``, per kind of phone (the office phone also needs
  ``isOfficePhoneAllowed``). A text is offered while ``sms`` is enabled; whether it may go to
  the number's country is checked once the number is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from watchword.directory.phones import PhoneNumber, country_choices
from watchword.methods import registry
from watchword.methods.phone import PHONE_TYPES
from watchword.policy.methods import MethodsPolicy
from watchword.policy.services import load
from watchword.signin.facts import groups_of

KINDS = ("push", "totp", "phone")  # in the order they are offered
KIND_CONFIGS = {"push": "microsoftAuthenticator", "totp": "softwareOath"}
NOTHING_ALLOWED = ("Your organisation doesn't allow any sign-in method you could set up here. "
                   "Contact your administrator.")
KIND_REFUSED = "Your organisation doesn't allow you to set up that sign-in method."


@dataclass(frozen=True)
class Allowed:
    kinds: tuple[str, ...]
    phones: dict = field(default_factory=dict)  # phone method type → ways it may be set up ("text", "call")
    policy: MethodsPolicy | None = None

    def offers(self, kind: str | None) -> bool:
        return kind in self.kinds

    @property
    def first(self) -> str | None:
        return self.kinds[0] if self.kinds else None

    def ways(self, method_type: str) -> tuple[str, ...]:
        return self.phones.get(method_type, ()) if self.offers("phone") else ()

    def still_allows(self, pending: dict) -> bool:
        """Whether a set-up begun earlier may go on (the policy may have changed since)."""
        kind = pending.get("type")
        return self.offers(kind) and (kind != "phone" or bool(self.ways(str(pending.get("method_type", "")))))

    def text_refusal(self, number: PhoneNumber, method_type: str) -> str:
        """Why a text may not go to ``number`` ("" when it may)."""
        if self.policy is None or self.policy.text_allowed_to(number.e164):
            return ""
        country = dict(country_choices()).get(number.region, "that country")
        also = " Choose Call me instead." if "call" in self.ways(method_type) else ""
        return f"Your organisation doesn't allow text messages to numbers in {country}.{also}"


def phone_ways(policy: MethodsPolicy, groups: frozenset[str], method_type: str) -> tuple[str, ...]:
    """The ways a phone of ``method_type`` may be set up, before its number is known."""
    ways = policy.channels(method_type, groups)
    if "text" not in ways and "text" in registry.get(method_type).channels and "sms" in policy.enabled_for(groups):
        ways = ("text", *ways)  # texts go to some countries only: checked with the number
    return ways


def allowed_for(user, allowed_kinds: frozenset[str] | None = None) -> Allowed:
    """What ``user`` may set up: the methods policy's choice, within ``allowed_kinds`` if given."""
    policy = load().methods
    groups = groups_of(user)
    enabled = policy.enabled_for(groups)
    phones = {t: ways for t in PHONE_TYPES if (ways := phone_ways(policy, groups, t))}
    kinds = [kind for kind in KINDS if (phones if kind == "phone" else KIND_CONFIGS[kind] in enabled)]
    if allowed_kinds is not None:
        kinds = [kind for kind in kinds if kind in allowed_kinds]
    return Allowed(kinds=tuple(kinds), phones=phones, policy=policy)
