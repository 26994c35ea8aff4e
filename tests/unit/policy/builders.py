"""Builders for the policy-engine tests: policies written as the Graph-shaped documents an admin
saves (and compiled the same way), sign-in facts with ordinary defaults, and a small set of named
locations to sign in from."""

from __future__ import annotations

import ipaddress

from watchword.policy import strengths as st
from watchword.policy.document import CompiledPolicy, compile_policy
from watchword.policy.engine import PolicyConfig, SignInFacts
from watchword.policy.locations import compile_location

# An office (trusted), a branch (not trusted) and a city-wide network around both.
OFFICE = compile_location(id="office", name="Office", ranges=["10.1.0.0/16", "2001:db8:1::/48"], trusted=True)
BRANCH = compile_location(id="branch", name="Branch", ranges=["10.2.0.0/16", "2001:db8:2::/48"])
CITY = compile_location(id="city", name="City network", ranges=["10.0.0.0/12"])
LOCATIONS = (OFFICE, BRANCH, CITY)
TRUSTED_IPS = (ipaddress.ip_network("192.168.50.0/24"), ipaddress.ip_network("2001:db8:50::/48"))

ADDRESSES = {
    "office": ipaddress.ip_address("10.1.2.3"),
    "office6": ipaddress.ip_address("2001:db8:1::5"),
    "branch": ipaddress.ip_address("10.2.2.3"),
    "branch6": ipaddress.ip_address("2001:db8:2::5"),
    "city": ipaddress.ip_address("10.9.0.1"),
    "trusted_ips": ipaddress.ip_address("192.168.50.7"),
    "trusted_ips6": ipaddress.ip_address("2001:db8:50::7"),
    "elsewhere": ipaddress.ip_address("203.0.113.9"),
    "elsewhere6": ipaddress.ip_address("2001:db8:ff::1"),
}

# A custom strength Watchword can satisfy only with a text message.
TEXT_ONLY = st.Strength("custom-text-only", "Text message only", frozenset({st.FACTOR_TEXT}))
STRENGTHS = {**st.BUILT_IN, TEXT_ONLY.id: TEXT_ONLY}

GLOBAL_ADMIN_ROLE_ID = "62e90394-69f5-4237-9190-012177145e10"


def policy_doc(name: str = "Require MFA", *, state: str = "enabled", users: dict | None = None,
               applications: dict | None = None, client_app_types: list | None = None,
               platforms: dict | None = None, locations: dict | None = None, risk: list | None = None,
               controls: tuple | list = ("mfa",), strength: str | None = None, operator: str = "OR",
               session: dict | None = None) -> dict:
    """A policy document; by default: enabled, everyone, every application, require MFA."""
    conditions: dict = {"users": users if users is not None else {"includeUsers": ["All"]},
                        "applications": applications if applications is not None
                        else {"includeApplications": ["All"]}}
    if client_app_types is not None:
        conditions["clientAppTypes"] = client_app_types
    if platforms is not None:
        conditions["platforms"] = platforms
    if locations is not None:
        conditions["locations"] = locations
    if risk is not None:
        conditions["signInRiskLevels"] = risk
    grant: dict = {"operator": operator, "builtInControls": list(controls)}
    if strength is not None:
        grant["authenticationStrength"] = {"id": strength}
    document = {"displayName": name, "state": state, "conditions": conditions, "grantControls": grant}
    if session is not None:
        document["sessionControls"] = session
    return document


def policy(name: str = "Require MFA", *, id: str | None = None, **fields) -> CompiledPolicy:
    """A compiled policy (see ``policy_doc``); its id defaults to its name."""
    return compile_policy(policy_doc(name, **fields), id=id if id is not None else name)


def blocking(name: str = "Block", **fields) -> CompiledPolicy:
    return policy(name, controls=("block",), **fields)


def facts(**overrides) -> SignInFacts:
    """A person with the authenticator app, per-user MFA disabled, in a browser on the portal."""
    values = {"user_id": 7, "per_user_mfa_state": "disabled", "registered_methods": ("push",)}
    values.update(overrides)
    if isinstance(values.get("ip"), str):
        values["ip"] = ipaddress.ip_address(values["ip"])
    return SignInFacts(**values)


def config(*policies: CompiledPolicy, **fields) -> PolicyConfig:
    """A configuration with the named locations, the MFA trusted IPs and the test strengths."""
    values = {"policies": tuple(policies), "locations": LOCATIONS, "mfa_trusted_ips": TRUSTED_IPS,
              "strengths": dict(STRENGTHS)}
    values.update(fields)
    return PolicyConfig(**values)
