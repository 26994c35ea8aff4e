"""Properties of the policy engine over generated sign-ins and generated policy documents:
exclusions only narrow, an applying block always blocks, report-only never changes the decision,
another enabled policy never loosens it, and evaluation never fails or lets an enforced person in
without a second factor."""

from __future__ import annotations

import copy
import dataclasses

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs

from tests.unit.policy.builders import ADDRESSES, LOCATIONS, STRENGTHS, TRUSTED_IPS
from watchword.policy import strengths as st
from watchword.policy.conditions import first_unmet
from watchword.policy.document import ACTION_REGISTER, ROLE_IDS, ROLES, compile_policy
from watchword.policy.engine import CLIENTS, MFA_STATES, RANK, RISKS, Outcome, PolicyConfig, SignInFacts, evaluate
from watchword.policy.platforms import PLATFORMS

USER_IDS = (1, 2, 3)
GROUPS = ("g1", "g2", "g3")
ROLE_VALUES = ROLES + tuple(ROLE_IDS)  # by name or by Entra's role template id
APPS = ("WatchwordPortal", "WatchwordAdmin", "WatchwordApi", "radius:vpn")
LOCATION_IDS = tuple(location.id for location in LOCATIONS)
METHODS = ("push", "totp", "phone", "alternate_phone", "office_phone", "carrier-pigeon")
FACTORS = tuple(sorted(st.WATCHWORD_FACTORS | {"fido2", st.FACTOR_HARDWARE_CODE}))
STRENGTH_IDS = (*STRENGTHS, "deleted-strength")

SETTINGS = settings(max_examples=75, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def some(values, min_size: int = 0):
    return hs.lists(hs.sampled_from(values), unique=True, min_size=min_size, max_size=len(values))


# --- sign-ins ---------------------------------------------------------------------------------------


@hs.composite
def sign_ins(draw) -> SignInFacts:
    return SignInFacts(
        user_id=draw(hs.sampled_from(USER_IDS)),
        per_user_mfa_state=draw(hs.sampled_from(MFA_STATES)),
        registered_methods=tuple(draw(some(METHODS))),
        is_admin=draw(hs.booleans()),
        client=draw(hs.sampled_from(CLIENTS)),
        app=draw(hs.sampled_from(APPS)),
        mfa_blocked=draw(hs.booleans()),
        roles=frozenset(draw(some(ROLES))),
        groups=frozenset(draw(some(GROUPS))),
        user_action=draw(hs.sampled_from(("", "", ACTION_REGISTER))),
        platform=draw(hs.sampled_from(("", *PLATFORMS))),
        ip=draw(hs.sampled_from((None, *ADDRESSES.values()))),
        risk=draw(hs.sampled_from(RISKS)),
        familiar_network=draw(hs.booleans()),
        familiar_browser=draw(hs.booleans()),
        mfa_remembered=draw(hs.booleans()),
        registration_days_left=draw(hs.none() | hs.integers(-2, 20)),
        satisfied_factors=frozenset(draw(some(FACTORS))),
        mfa_age_seconds=draw(hs.none() | hs.floats(0, 400 * 86400)),
    )


# --- policy documents ------------------------------------------------------------------------------


@hs.composite
def users_doc(draw) -> dict:
    users: dict = {}
    if draw(hs.booleans()):
        users["includeUsers"] = ["All"]
    else:
        users["includeUsers"] = [str(u) for u in draw(some(USER_IDS))]
        users["includeGroups"] = draw(some(GROUPS))
        users["includeRoles"] = draw(some(ROLE_VALUES))
        if not any(users.values()):
            users["includeUsers"] = ["None"]
    users["excludeUsers"] = [str(u) for u in draw(some(USER_IDS))]
    users["excludeGroups"] = draw(some(GROUPS))
    users["excludeRoles"] = draw(some(ROLE_VALUES))
    return users


@hs.composite
def applications_doc(draw) -> dict:
    kind = draw(hs.sampled_from(("all", "all", "some", "none", "action")))
    if kind == "action":
        return {"includeUserActions": [ACTION_REGISTER]}
    include = {"all": ["All"], "none": ["None"]}.get(kind) or draw(some(APPS, 1))
    return {"includeApplications": include, "excludeApplications": draw(some(APPS))}


@hs.composite
def documents(draw, states=("enabled", "disabled", "enabledForReportingButNotEnforced"), grants=None) -> dict:
    conditions: dict = {"users": draw(users_doc()), "applications": draw(applications_doc())}
    if draw(hs.booleans()):
        conditions["clientAppTypes"] = draw(hs.just(["all"]) | some(CLIENTS, 1))
    if draw(hs.booleans()):
        include = ["all"] if draw(hs.booleans()) else draw(some(PLATFORMS, 1))
        conditions["platforms"] = {"includePlatforms": include, "excludePlatforms": draw(some(PLATFORMS))}
    if draw(hs.booleans()):
        include = ["All"] if draw(hs.booleans()) else draw(some(("AllTrusted", *LOCATION_IDS), 1))
        conditions["locations"] = {"includeLocations": include,
                                   "excludeLocations": draw(some(("AllTrusted", *LOCATION_IDS)))}
    if draw(hs.booleans()):
        conditions["signInRiskLevels"] = draw(some(RISKS, 1))
    grant_kind = draw(hs.sampled_from(grants or ("block", "mfa", "mfa", "strength", "none")))
    grant: dict = {"operator": draw(hs.sampled_from(("AND", "OR"))), "builtInControls": []}
    if grant_kind in ("block", "mfa"):
        grant["builtInControls"] = [grant_kind]
    elif grant_kind == "strength":
        grant["authenticationStrength"] = {"id": draw(hs.sampled_from(STRENGTH_IDS))}
    session: dict = {}
    frequency = draw(hs.sampled_from(("none", "none", "everyTime", "hours", "days")))
    if frequency == "everyTime" or (grant_kind == "none" and frequency == "none"):
        session["signInFrequency"] = {"isEnabled": True, "frequencyInterval": "everyTime"}
    elif frequency == "hours":
        session["signInFrequency"] = {"isEnabled": True, "type": "hours", "value": draw(hs.integers(1, 23))}
    elif frequency == "days":
        session["signInFrequency"] = {"isEnabled": True, "type": "days", "value": draw(hs.integers(1, 365))}
    if conditions["applications"].get("includeApplications") == ["All"] and draw(hs.booleans()):
        session["persistentBrowser"] = {"isEnabled": True, "mode": draw(hs.sampled_from(("always", "never")))}
    state = draw(hs.sampled_from(states))
    if "includeUserActions" in conditions["applications"] and state == "enabledForReportingButNotEnforced":
        conditions["applications"] = {"includeApplications": ["All"]}  # no report-only for a user action
    document = {"displayName": "Generated", "state": state, "conditions": conditions, "grantControls": grant}
    if session:
        document["sessionControls"] = session
    return document


def policies(**kwargs):
    return documents(**kwargs).map(compile_policy)


def numbered(compiled) -> tuple:
    return tuple(dataclasses.replace(p, id=f"p{i}", name=f"Policy {i}") for i, p in enumerate(compiled))


@hs.composite
def configs(draw, states=("enabled", "disabled", "enabledForReportingButNotEnforced")) -> PolicyConfig:
    return PolicyConfig(
        security_defaults=draw(hs.booleans()),
        policies=numbered(draw(hs.lists(policies(states=states), max_size=3))),
        locations=LOCATIONS,
        strengths=dict(STRENGTHS),
        mfa_trusted_ips=draw(hs.sampled_from(((), TRUSTED_IPS))),
        broken=tuple(draw(hs.lists(hs.sampled_from(("Old", "Imported")), max_size=1))),
    )


# Where a sign-in is: the named locations, with and without MFA trusted IPs (all a condition reads).
PLACES = hs.sampled_from((PolicyConfig(locations=LOCATIONS), PolicyConfig(locations=LOCATIONS,
                                                                          mfa_trusted_ips=TRUSTED_IPS)))


def without_results(decision):
    return dataclasses.replace(decision, policy_results=())


# --- (1) an exclusion never widens a policy -----------------------------------------------------------


EXCLUSIONS = {
    "user": ("users", "excludeUsers", [str(u) for u in USER_IDS]),
    "group": ("users", "excludeGroups", GROUPS),
    "role": ("users", "excludeRoles", ROLE_VALUES),
    "app": ("applications", "excludeApplications", APPS),
    "platform": ("platforms", "excludePlatforms", PLATFORMS),
    "location": ("locations", "excludeLocations", ("AllTrusted", *LOCATION_IDS)),
}


@hs.composite
def with_an_exclusion(draw) -> tuple[dict, dict]:
    document = draw(documents())
    kinds = [k for k in EXCLUSIONS if not (k == "app" and "includeUserActions" in
                                           document["conditions"]["applications"])]
    section, key, values = EXCLUSIONS[draw(hs.sampled_from(kinds))]
    value = draw(hs.sampled_from(values))
    widened = copy.deepcopy(document)
    condition = widened["conditions"].setdefault(section, {})
    if section == "platforms":
        condition.setdefault("includePlatforms", ["all"])  # the same as no platform condition
    if section == "locations":
        condition.setdefault("includeLocations", ["All"])  # the same as no location condition
    if value not in condition.setdefault(key, []):
        condition[key].append(value)
    return document, widened


@SETTINGS
@given(pair=with_an_exclusion(), facts=sign_ins(), cfg=PLACES)
def test_adding_an_exclusion_never_makes_a_policy_apply_to_more_sign_ins(pair, facts, cfg):
    before, after = (compile_policy(document) for document in pair)

    if not first_unmet(after, facts, cfg):
        assert not first_unmet(before, facts, cfg)


@SETTINGS
@given(pair=with_an_exclusion(), facts=sign_ins(), cfg=PLACES)
def test_adding_an_exclusion_to_a_policy_that_applies_either_keeps_it_or_names_an_exclusion(pair, facts, cfg):
    before, after = (compile_policy(document) for document in pair)

    if not first_unmet(before, facts, cfg):
        why = first_unmet(after, facts, cfg)
        assert why == "" or "exclude" in why


# --- (2) an applying block always blocks ------------------------------------------------------------


def in_trusted_ips(ip, cfg: PolicyConfig) -> bool:
    return ip is not None and any(ip.version == n.version and ip in n for n in cfg.mfa_trusted_ips)


@hs.composite
def block_for(draw, facts: SignInFacts, cfg: PolicyConfig) -> dict:
    """An enabled block policy built to apply to ``facts``: every inclusion covers the sign-in,
    every exclusion misses it."""
    uid = str(facts.user_id)
    users: dict = {"excludeUsers": [u for u in draw(some([str(u) for u in USER_IDS])) if u != uid],
                   "excludeGroups": [g for g in draw(some(GROUPS)) if g not in facts.groups],
                   "excludeRoles": [r for r in draw(some(ROLES)) if r not in facts.roles]}
    ways_in = ["All", "user"] + (["group"] if facts.groups else []) + (["role"] if facts.roles else [])
    way_in = draw(hs.sampled_from(ways_in))
    if way_in == "All":
        users["includeUsers"] = ["All"]
    elif way_in == "user":
        users["includeUsers"] = [uid]
    elif way_in == "group":
        users["includeGroups"] = [draw(hs.sampled_from(sorted(facts.groups)))]
    else:
        users["includeRoles"] = [draw(hs.sampled_from(sorted(facts.roles)))]
    if facts.user_action:
        applications = {"includeUserActions": [facts.user_action]}
    else:
        applications = {"includeApplications": draw(hs.sampled_from((["All"], [facts.app]))),
                        "excludeApplications": [a for a in draw(some(APPS)) if a != facts.app]}
    conditions: dict = {"users": users, "applications": applications}
    if draw(hs.booleans()):
        conditions["clientAppTypes"] = draw(hs.sampled_from((["all"], [facts.client])))
    if draw(hs.booleans()):
        include = [facts.platform] if facts.platform and draw(hs.booleans()) else ["all"]
        conditions["platforms"] = {"includePlatforms": include,
                                   "excludePlatforms": [p for p in draw(some(PLATFORMS)) if p != facts.platform]}
    if draw(hs.booleans()):
        containing = [loc.id for loc in LOCATIONS if loc.contains(facts.ip)]
        trusted = in_trusted_ips(facts.ip, cfg) or any(loc.trusted and loc.contains(facts.ip) for loc in LOCATIONS)
        inside = containing + (["AllTrusted"] if trusted else [])
        outside = [i for i in ("AllTrusted", *LOCATION_IDS) if i not in inside]
        include = draw(some(inside, 1)) if inside and draw(hs.booleans()) else ["All"]
        conditions["locations"] = {"includeLocations": include, "excludeLocations": draw(some(outside))}
    if draw(hs.booleans()):
        conditions["signInRiskLevels"] = [facts.risk]
    return {"displayName": "Applying block", "state": "enabled", "conditions": conditions,
            "grantControls": {"operator": "OR", "builtInControls": ["block"]}}


@SETTINGS
@given(data=hs.data(), facts=sign_ins(), cfg=configs())
def test_an_enabled_block_that_applies_always_blocks(data, facts, cfg):
    block = compile_policy(data.draw(block_for(facts, cfg)), id="block")
    assert first_unmet(block, facts, cfg) == ""
    position = data.draw(hs.integers(0, len(cfg.policies)))
    policies = cfg.policies[:position] + (block,) + cfg.policies[position:]

    decision = evaluate(facts, dataclasses.replace(cfg, policies=policies))

    assert decision.outcome == Outcome.BLOCK
    assert "conditional_access:block" in [r.source for r in decision.reasons]
    assert decision.error_code == 53003


# --- (3) report-only never changes the decision -----------------------------------------------------


@SETTINGS
@given(data=hs.data(), facts=sign_ins(), cfg=configs(states=("enabled", "disabled")))
def test_report_only_policies_never_change_the_decision(data, facts, cfg):
    reporting = data.draw(hs.lists(policies(states=("enabledForReportingButNotEnforced",)), min_size=1, max_size=4))
    mixed = list(cfg.policies)
    for policy in reporting:
        mixed.insert(data.draw(hs.integers(0, len(mixed))), policy)

    plain = evaluate(facts, cfg)
    with_reporting = evaluate(facts, dataclasses.replace(cfg, policies=tuple(mixed)))

    assert without_results(with_reporting) == without_results(plain)
    enforced_results = tuple(r for r in with_reporting.policy_results if not r.report_only)
    assert enforced_results == plain.policy_results
    assert all(r.result.startswith("reportOnly") for r in with_reporting.policy_results if r.report_only)


# --- (4) another enabled policy never loosens the decision -------------------------------------------


@SETTINGS
@given(data=hs.data(), facts=sign_ins(), cfg=configs())
def test_adding_an_enabled_policy_never_makes_the_outcome_less_strict(data, facts, cfg):
    extra = data.draw(policies(states=("enabled",)))
    position = data.draw(hs.integers(0, len(cfg.policies)))
    policies_after = cfg.policies[:position] + (dataclasses.replace(extra, id="extra"),) + cfg.policies[position:]

    before = evaluate(facts, cfg)
    after = evaluate(facts, dataclasses.replace(cfg, policies=policies_after))

    assert RANK[after.outcome] >= RANK[before.outcome]
    if before.needs_second_factor and after.needs_second_factor:
        assert after.allowed_factors <= before.allowed_factors  # fewer ways through, never more
    if after.registration_days_left is not None:  # registration is never made skippable
        assert after.registration_days_left == before.registration_days_left


@SETTINGS
@given(facts=sign_ins(), cfg=configs())
def test_adding_a_broken_policy_never_makes_the_outcome_less_strict(facts, cfg):
    after = evaluate(facts, dataclasses.replace(cfg, broken=(*cfg.broken, "Unreadable")))

    assert RANK[after.outcome] >= max(RANK[evaluate(facts, cfg).outcome], RANK[Outcome.REQUIRE_MFA])


# --- (5) evaluation never fails, and per-user MFA always asks ---------------------------------------


@SETTINGS
@given(facts=sign_ins(), cfg=configs())
def test_evaluate_never_raises_and_never_lets_an_enforced_person_in_without_a_second_factor(facts, cfg):
    decision = evaluate(facts, cfg)

    proven = facts.satisfied_factors & st.MFA.combinations  # a second factor already done in this session
    exempt = in_trusted_ips(facts.ip, cfg) or facts.mfa_remembered or proven
    if facts.per_user_mfa_state in ("enabled", "enforced") and not exempt:
        assert decision.outcome != Outcome.ALLOW
    if facts.per_user_mfa_state in ("enabled", "enforced") and not facts.registered_methods:
        assert decision.outcome != Outcome.ALLOW  # the exemptions never skip registration


@SETTINGS
@given(facts=sign_ins(), cfg=configs())
def test_a_second_factor_asked_for_is_always_one_watchword_can_prove(facts, cfg):
    decision = evaluate(facts, cfg)

    assert decision.reasons
    if decision.outcome == Outcome.REQUIRE_MFA:
        assert decision.allowed_factors <= st.WATCHWORD_FACTORS
        assert decision.allowed_factors & st.factors_of(facts.registered_methods)  # the person can do it now
        assert not facts.mfa_blocked
    if decision.outcome == Outcome.REQUIRE_REGISTRATION:
        assert decision.allowed_factors
        assert decision.allowed_factors <= st.WATCHWORD_FACTORS
        assert not facts.mfa_blocked
    if decision.outcome == Outcome.BLOCK:
        assert decision.error_code in (53003, 500121)


@SETTINGS
@given(facts=sign_ins(), cfg=configs())
def test_a_decision_is_the_same_whatever_order_the_policies_are_in(facts, cfg):
    forward = evaluate(facts, cfg)
    backward = evaluate(facts, dataclasses.replace(cfg, policies=cfg.policies[::-1]))

    assert backward.outcome == forward.outcome
    assert backward.allowed_factors == forward.allowed_factors
    assert backward.session == forward.session
    assert set(backward.reasons) == set(forward.reasons)
