"""Whether one Conditional Access policy applies to a sign-in, and if not, the first condition
that did not match — in the reference's order: users, target resources, client apps, device
platforms, locations, sign-in risk. Exclusions beat inclusions everywhere. Pure."""

from __future__ import annotations

from typing import TYPE_CHECKING

from watchword.policy.document import ALL_TRUSTED, CompiledPolicy

if TYPE_CHECKING:
    from watchword.policy.engine import PolicyConfig, SignInFacts


def _users(policy: CompiledPolicy, facts: "SignInFacts") -> str:
    uid = str(facts.user_id)
    if uid in policy.exclude_users:
        return "users: the person is excluded"
    if policy.exclude_groups & facts.groups:
        return "users: excluded by group membership"
    if policy.exclude_roles & facts.roles:
        return "users: excluded by role"
    if (policy.include_all_users or uid in policy.include_users or policy.include_groups & facts.groups
            or policy.include_roles & facts.roles):
        return ""
    return "users: the person is not included"


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


def _in_locations(ids: frozenset[str], facts: "SignInFacts", config: "PolicyConfig") -> str:
    """The name of the first of ``ids`` the sign-in's address is in, or ""."""
    if facts.ip is None:
        return ""
    for location in config.locations:
        if (location.id in ids or (ALL_TRUSTED in ids and location.trusted)) and location.contains(facts.ip):
            return location.name
    if ALL_TRUSTED in ids and any(facts.ip.version == n.version and facts.ip in n for n in config.mfa_trusted_ips):
        return "MFA trusted IPs"
    return ""


def _locations(policy: CompiledPolicy, facts: "SignInFacts", config: "PolicyConfig") -> str:
    shown = str(facts.ip) if facts.ip is not None else "an unknown address"
    excluded = _in_locations(policy.locations.exclude, facts, config)
    if excluded:
        return f"locations: {shown} is in the excluded location '{excluded}'"
    if policy.locations.everything or _in_locations(policy.locations.include, facts, config):
        return ""
    return f"locations: {shown} is not in an included location"


def _risk(policy: CompiledPolicy, facts: "SignInFacts") -> str:
    if not policy.risk_levels or facts.risk in policy.risk_levels:
        return ""
    return f"sign-in risk: {facts.risk} is not included"


def first_unmet(policy: CompiledPolicy, facts: "SignInFacts", config: "PolicyConfig") -> str:
    return (_users(policy, facts) or _target(policy, facts) or _client(policy, facts)
            or _platform(policy, facts) or _locations(policy, facts, config) or _risk(policy, facts))
