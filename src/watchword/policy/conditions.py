"""Whether one Conditional Access policy applies to a sign-in, and if not, the first condition
that did not match — in the reference's order: users, target resources, client apps, device
platforms, locations, sign-in risk. Exclusions beat inclusions everywhere. Pure.

What depends only on the sign-in (which named locations hold its address, the person's id as
text) is worked out once per evaluation (``Where``), not once per policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from watchword.policy.document import ALL_TRUSTED, CompiledPolicy
from watchword.policy.locations import in_index, index_of

if TYPE_CHECKING:
    from watchword.policy.engine import PolicyConfig, SignInFacts

MFA_TRUSTED_IPS = "MFA trusted IPs"


@dataclass(frozen=True)
class Where:
    """The sign-in's address, placed once: the named locations that hold it, and whether a
    trusted one (or the MFA trusted IPs) does."""

    shown: str
    inside: frozenset[str]
    trusted: str  # the first trusted location holding it (or "MFA trusted IPs"); "" none


def locate(facts: "SignInFacts", config: "PolicyConfig") -> Where:
    ip = facts.ip
    if ip is None:
        return Where("an unknown address", frozenset(), "")
    inside = [location for location in config.locations if location.contains(ip)]
    trusted = next((location.name for location in inside if location.trusted), "")
    if not trusted and config.mfa_trusted_ips:
        index = config.cache.get("trusted_ips")
        if index is None:
            index = config.cache["trusted_ips"] = index_of(config.mfa_trusted_ips)
        trusted = MFA_TRUSTED_IPS if in_index(index, ip) else ""
    return Where(str(ip), frozenset(location.id for location in inside), trusted)


def _users(policy: CompiledPolicy, facts: "SignInFacts", uid: str) -> str:
    if uid in policy.exclude_users:
        return "users: the person is excluded"
    if not policy.exclude_groups.isdisjoint(facts.groups):
        return "users: excluded by group membership"
    if not policy.exclude_roles.isdisjoint(facts.roles):
        return "users: excluded by role"
    if (policy.include_all_users or uid in policy.include_users or not policy.include_groups.isdisjoint(facts.groups)
            or not policy.include_roles.isdisjoint(facts.roles)):
        return ""
    return NOT_INCLUDED


NOT_INCLUDED = "users: the person is not included"


def _target(policy: CompiledPolicy, facts: "SignInFacts") -> str:
    if policy.user_actions:
        return "" if facts.user_action in policy.user_actions else "user action: not registering security info"
    if facts.user_action:
        return "applications: the sign-in is for a user action, not an application"
    if facts.app in policy.apps.exclude:
        return f"applications: {facts.app} is excluded"
    if policy.apps.everything or facts.app in policy.apps.include:
        return ""
    return f"applications: {facts.app} is not included"


def _client(policy: CompiledPolicy, facts: "SignInFacts") -> str:
    if not policy.client_types or facts.client in policy.client_types:
        return ""
    return f"client apps: {facts.client} is not included"


def _platform(policy: CompiledPolicy, facts: "SignInFacts") -> str:
    shown = facts.platform or "unknown"
    if facts.platform and facts.platform in policy.platforms.exclude:
        return f"device platforms: {shown} is excluded"
    if policy.platforms.everything or (facts.platform and facts.platform in policy.platforms.include):
        return ""
    return f"device platforms: {shown} is not included"


def _holding(ids: frozenset[str], where: Where, config: "PolicyConfig") -> str:
    """The name of the first of ``ids`` (a named location, or All trusted) holding the address."""
    if ids.isdisjoint(where.inside) and not (ALL_TRUSTED in ids and where.trusted):
        return ""
    for location in config.locations:
        if location.id in where.inside and (location.id in ids or (ALL_TRUSTED in ids and location.trusted)):
            return location.name
    return where.trusted


def _locations(policy: CompiledPolicy, where: Where, config: "PolicyConfig") -> str:
    if policy.locations.exclude:
        excluded = _holding(policy.locations.exclude, where, config)
        if excluded:
            return f"locations: {where.shown} is in the excluded location '{excluded}'"
    if policy.locations.everything or _holding(policy.locations.include, where, config):
        return ""
    return f"locations: {where.shown} is not in an included location"


def _risk(policy: CompiledPolicy, facts: "SignInFacts") -> str:
    if not policy.risk_levels or facts.risk in policy.risk_levels:
        return ""
    return f"sign-in risk: {facts.risk} is not included"


def first_unmet(policy: CompiledPolicy, facts: "SignInFacts", config: "PolicyConfig", *,
                where: Where | None = None, uid: str | None = None) -> str:
    """"" when the policy applies; else the first condition that did not match, in words.
    ``where`` and ``uid`` are the once-per-evaluation parts (worked out here when not given)."""
    unmet = (_users(policy, facts, uid if uid is not None else str(facts.user_id)) or _target(policy, facts)
             or _client(policy, facts) or _platform(policy, facts))
    if unmet:
        return unmet
    if policy.locations.everything and not policy.locations.exclude:
        return _risk(policy, facts)
    return _locations(policy, where if where is not None else locate(facts, config), config) or _risk(policy, facts)
