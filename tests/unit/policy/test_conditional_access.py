"""Conditional Access in the pure engine: every condition (with exclusions beating inclusions),
how several policies combine (block wins; grants add up), authentication strengths, report-only,
the what-if text, session controls, broken policies and the error codes."""

from __future__ import annotations

import dataclasses

import pytest

from tests.unit.policy.builders import (
    ADDRESSES,
    GLOBAL_ADMIN_ROLE_ID,
    TEXT_ONLY,
    blocking,
    config,
    facts,
    policy,
)
from watchword.policy import strengths as st
from watchword.policy.conditions import first_unmet
from watchword.policy.engine import SessionControls, evaluate
from watchword.policy.engine import Outcome as O

PHISHING_RESISTANT = st.PHISHING_RESISTANT_MFA.id
PASSWORDLESS = st.PASSWORDLESS_MFA.id


def unmet(compiled, **overrides) -> str:
    return first_unmet(compiled, facts(**overrides), config(compiled))


def applies(compiled, **overrides) -> bool:
    return unmet(compiled, **overrides) == ""


# --- users ----------------------------------------------------------------------------------------


def test_all_users_includes_anyone():
    assert applies(policy(), user_id=1)
    assert applies(policy(), user_id=99999)


def test_a_person_included_by_id_is_in_and_someone_else_is_not():
    compiled = policy(users={"includeUsers": ["7"]})

    assert applies(compiled, user_id=7)
    assert unmet(compiled, user_id=8) == "users: the person is not included"


def test_a_group_includes_its_members_only():
    compiled = policy(users={"includeGroups": ["g-sales"]})

    assert applies(compiled, groups=frozenset({"g-sales", "g-all"}))
    assert unmet(compiled, groups=frozenset({"g-all"})) == "users: the person is not included"
    assert unmet(compiled) == "users: the person is not included"


@pytest.mark.parametrize("role", ["global_admin", GLOBAL_ADMIN_ROLE_ID, GLOBAL_ADMIN_ROLE_ID.upper()])
def test_a_role_includes_its_holders_by_name_or_by_entra_role_template_id(role):
    compiled = policy(users={"includeRoles": [role]})

    assert applies(compiled, roles=frozenset({"global_admin"}))
    assert unmet(compiled, roles=frozenset({"security_admin"})) == "users: the person is not included"


def test_none_includes_nobody():
    compiled = policy(users={"includeUsers": ["None"]})

    assert unmet(compiled) == "users: the person is not included"


@pytest.mark.parametrize(("users", "overrides", "why"), [
    ({"includeUsers": ["All"], "excludeUsers": ["7"]}, {}, "users: the person is excluded"),
    ({"includeUsers": ["7"], "excludeUsers": ["7"]}, {}, "users: the person is excluded"),
    ({"includeUsers": ["7"], "excludeGroups": ["g-break-glass"]}, {"groups": frozenset({"g-break-glass"})},
     "users: excluded by group membership"),
    ({"includeGroups": ["g-staff"], "excludeGroups": ["g-break-glass"]},
     {"groups": frozenset({"g-staff", "g-break-glass"})}, "users: excluded by group membership"),
    ({"includeGroups": ["g-staff"], "excludeRoles": ["global_admin"]},
     {"groups": frozenset({"g-staff"}), "roles": frozenset({"global_admin"})}, "users: excluded by role"),
    ({"includeRoles": ["global_admin"], "excludeRoles": [GLOBAL_ADMIN_ROLE_ID]},
     {"roles": frozenset({"global_admin"})}, "users: excluded by role"),
    ({"includeUsers": ["All"], "excludeUsers": ["7"], "excludeGroups": ["g1"]}, {"groups": frozenset({"g1"})},
     "users: the person is excluded"),
], ids=["all-minus-person", "person-in-and-out", "person-minus-group", "group-minus-group", "group-minus-role",
        "role-minus-same-role-by-id", "person-excluded-twice"])
def test_an_exclusion_beats_every_inclusion(users, overrides, why):
    assert unmet(policy(users=users), **overrides) == why


def test_an_exclusion_of_someone_else_leaves_the_person_in():
    compiled = policy(users={"includeUsers": ["All"], "excludeUsers": ["8"], "excludeGroups": ["g-other"],
                             "excludeRoles": ["security_admin"]})

    assert applies(compiled, groups=frozenset({"g-mine"}), roles=frozenset({"global_admin"}))


# --- target resources -----------------------------------------------------------------------------


@pytest.mark.parametrize("app", ["WatchwordPortal", "WatchwordAdmin", "WatchwordApi", "radius:vpn"])
def test_all_applications_covers_every_application(app):
    assert applies(policy(), app=app)


def test_named_applications_cover_only_themselves():
    compiled = policy(applications={"includeApplications": ["WatchwordAdmin"]})

    assert applies(compiled, app="WatchwordAdmin")
    assert unmet(compiled, app="WatchwordPortal") == "applications: WatchwordPortal is not included"


def test_an_excluded_application_is_left_out_of_all():
    compiled = policy(applications={"includeApplications": ["All"], "excludeApplications": ["WatchwordApi"]})

    assert unmet(compiled, app="WatchwordApi") == "applications: WatchwordApi is excluded"
    assert applies(compiled, app="WatchwordPortal")


def test_an_application_both_included_and_excluded_is_excluded():
    compiled = policy(applications={"includeApplications": ["radius:vpn"], "excludeApplications": ["radius:vpn"]})

    assert unmet(compiled, app="radius:vpn") == "applications: radius:vpn is excluded"


def test_no_applications_covers_none():
    compiled = policy(applications={"includeApplications": ["None"]})

    assert unmet(compiled) == "applications: WatchwordPortal is not included"


def test_a_register_security_info_policy_applies_only_while_registering():
    compiled = policy(applications={"includeUserActions": ["urn:user:registersecurityinfo"]})

    assert applies(compiled, user_action="urn:user:registersecurityinfo")
    assert unmet(compiled) == "user action: not registering security info"


def test_an_application_policy_does_not_apply_to_registering_security_info():
    assert unmet(policy(), user_action="urn:user:registersecurityinfo") == (
        "applications: the sign-in is for a user action, not an application")


def test_registering_security_info_can_be_blocked_from_outside_trusted_locations():
    compiled = blocking(applications={"includeUserActions": ["urn:user:registersecurityinfo"]},
                        locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]})
    cfg = config(compiled)

    outside = evaluate(facts(user_action="urn:user:registersecurityinfo", ip=ADDRESSES["elsewhere"]), cfg)
    inside = evaluate(facts(user_action="urn:user:registersecurityinfo", ip=ADDRESSES["office"]), cfg)
    signing_in = evaluate(facts(ip=ADDRESSES["elsewhere"]), cfg)

    assert (outside.outcome, inside.outcome, signing_in.outcome) == (O.BLOCK, O.ALLOW, O.ALLOW)


# --- client apps ----------------------------------------------------------------------------------


@pytest.mark.parametrize("client", ["browser", "mobileAppsAndDesktopClients", "radius", "api", "other"])
def test_without_a_client_condition_or_with_all_every_client_is_covered(client):
    assert applies(policy(), client=client)
    assert applies(policy(client_app_types=["all"]), client=client)


@pytest.mark.parametrize(("client", "covered"), [
    ("browser", False), ("mobileAppsAndDesktopClients", False), ("radius", True), ("api", False), ("other", True),
])
def test_named_client_types_cover_only_themselves(client, covered):
    compiled = policy(client_app_types=["radius", "other"])

    assert applies(compiled, client=client) is covered
    if not covered:
        assert unmet(compiled, client=client) == f"client apps: {client} is not included"


# --- device platforms ------------------------------------------------------------------------------


@pytest.mark.parametrize(("platform", "why"), [
    ("android", ""),
    ("iOS", ""),
    ("windows", "device platforms: windows is not included"),
    ("macOS", "device platforms: macOS is not included"),
    ("linux", "device platforms: linux is not included"),
    ("", "device platforms: unknown is not included"),
])
def test_named_platforms_cover_only_themselves_and_never_an_unknown_platform(platform, why):
    compiled = policy(platforms={"includePlatforms": ["android", "IOS"]})  # names are case-insensitive

    assert unmet(compiled, platform=platform) == why


@pytest.mark.parametrize(("platform", "why"), [
    ("windows", "device platforms: windows is excluded"),
    ("macOS", ""),
    ("", ""),  # an unknown platform cannot be excluded: the policy still applies
])
def test_an_excluded_platform_is_left_out_but_an_unknown_one_stays_in(platform, why):
    compiled = policy(platforms={"includePlatforms": ["all"], "excludePlatforms": ["windows"]})

    assert unmet(compiled, platform=platform) == why


def test_a_platform_both_included_and_excluded_is_excluded():
    compiled = policy(platforms={"includePlatforms": ["linux"], "excludePlatforms": ["linux"]})

    assert unmet(compiled, platform="linux") == "device platforms: linux is excluded"


# --- locations ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("where", "covered"), [
    ("branch", True), ("branch6", True), ("office", False), ("office6", False), ("elsewhere", False),
    ("trusted_ips", False), (None, False),
])
def test_a_named_location_covers_its_ipv4_and_ipv6_ranges_and_never_an_unknown_address(where, covered):
    compiled = policy(locations={"includeLocations": ["branch"]})

    ip = ADDRESSES[where] if where else None
    assert applies(compiled, ip=ip) is covered
    if not covered:
        shown = str(ip) if ip else "an unknown address"
        assert unmet(compiled, ip=ip) == f"locations: {shown} is not in an included location"


@pytest.mark.parametrize(("where", "covered"), [
    ("office", True), ("office6", True), ("trusted_ips", True), ("trusted_ips6", True),
    ("branch", False), ("city", False), ("elsewhere6", False), (None, False),
])
def test_all_trusted_covers_trusted_locations_and_the_mfa_trusted_ips(where, covered):
    compiled = policy(locations={"includeLocations": ["AllTrusted"]})

    assert applies(compiled, ip=ADDRESSES[where] if where else None) is covered


@pytest.mark.parametrize(("where", "why"), [
    ("office", "locations: 10.1.2.3 is in the excluded location 'Office'"),
    ("office6", "locations: 2001:db8:1::5 is in the excluded location 'Office'"),
    ("trusted_ips", "locations: 192.168.50.7 is in the excluded location 'MFA trusted IPs'"),
    ("trusted_ips6", "locations: 2001:db8:50::7 is in the excluded location 'MFA trusted IPs'"),
    ("branch", ""),
    ("elsewhere", ""),
    ("elsewhere6", ""),
    (None, ""),  # an unknown address is never "trusted": the policy applies
])
def test_excluding_all_trusted_leaves_untrusted_and_unknown_addresses_in(where, why):
    compiled = policy(locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]})

    assert unmet(compiled, ip=ADDRESSES[where] if where else None) == why


def test_an_excluded_location_beats_an_included_one_around_it():
    compiled = policy(locations={"includeLocations": ["city"], "excludeLocations": ["office"]})

    assert unmet(compiled, ip=ADDRESSES["office"]) == "locations: 10.1.2.3 is in the excluded location 'Office'"
    assert applies(compiled, ip=ADDRESSES["branch"])
    assert applies(compiled, ip=ADDRESSES["city"])
    assert unmet(compiled, ip=ADDRESSES["elsewhere"]) == "locations: 203.0.113.9 is not in an included location"


def test_an_ipv6_address_is_never_in_an_ipv4_only_location():
    compiled = policy(locations={"includeLocations": ["city"]})

    assert not applies(compiled, ip=ADDRESSES["elsewhere6"])


def test_a_location_the_configuration_no_longer_has_matches_nothing():
    compiled = policy(locations={"includeLocations": ["gone"], "excludeLocations": ["also-gone"]})

    assert not applies(compiled, ip=ADDRESSES["office"])


# --- sign-in risk ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("risk", "covered"), [("none", False), ("low", False), ("medium", True), ("high", True)])
def test_risk_levels_cover_only_themselves(risk, covered):
    compiled = policy(risk=["medium", "high"])

    assert applies(compiled, risk=risk) is covered
    if not covered:
        assert unmet(compiled, risk=risk) == f"sign-in risk: {risk} is not included"


@pytest.mark.parametrize("risk", ["none", "low", "medium", "high"])
def test_without_a_risk_condition_every_level_is_covered(risk):
    assert applies(policy(), risk=risk)


# --- the first unmet condition (what-if) -----------------------------------------------------------


NARROW = dict(users={"includeUsers": ["8"]}, applications={"includeApplications": ["WatchwordAdmin"]},
              client_app_types=["mobileAppsAndDesktopClients"], platforms={"includePlatforms": ["android"]},
              locations={"includeLocations": ["branch"]}, risk=["high"])
FIXES = [
    ({}, "users: the person is not included"),
    ({"user_id": 8}, "applications: WatchwordPortal is not included"),
    ({"app": "WatchwordAdmin"}, "client apps: browser is not included"),
    ({"client": "mobileAppsAndDesktopClients"}, "device platforms: unknown is not included"),
    ({"platform": "android"}, "locations: an unknown address is not in an included location"),
    ({"ip": ADDRESSES["branch"]}, "sign-in risk: none is not included"),
    ({"risk": "high"}, ""),
]


@pytest.mark.parametrize("step", range(len(FIXES)), ids=[why or "applies" for _, why in FIXES])
def test_the_first_unmet_condition_follows_users_target_client_platform_location_risk(step):
    overrides: dict = {}
    for fix, _ in FIXES[:step + 1]:
        overrides.update(fix)

    assert unmet(policy(**NARROW), **overrides) == FIXES[step][1]


def test_what_if_lists_the_first_unmet_condition_of_each_policy_that_does_not_apply():
    admins = policy("Admins", users={"includeRoles": ["global_admin"]})
    outside = blocking("Outside", locations={"includeLocations": ["All"], "excludeLocations": ["AllTrusted"]})

    decision = evaluate(facts(ip=ADDRESSES["office"]), config(admins, outside))

    assert [r.as_dict() for r in decision.policy_results] == [
        {"id": "Admins", "displayName": "Admins", "reportOnly": False, "result": "notApplied", "controls": ["mfa"],
         "conditionNotSatisfied": "users: the person is not included"},
        {"id": "Outside", "displayName": "Outside", "reportOnly": False, "result": "notApplied",
         "controls": ["block"], "conditionNotSatisfied": "locations: 10.1.2.3 is in the excluded location 'Office'"},
    ]


# --- combining policies: block wins --------------------------------------------------------------


def test_a_block_policy_blocks_with_53003_and_its_name():
    decision = evaluate(facts(), config(blocking("No legacy")))

    assert decision.outcome == O.BLOCK
    assert decision.error_code == 53003
    assert decision.reasons[0].source == "conditional_access:No legacy"
    assert "No legacy" in decision.reasons[0].detail
    assert decision.allowed_factors is None


def test_block_wins_over_another_policys_grant():
    decision = evaluate(facts(), config(policy("MFA"), blocking("Block")))

    assert decision.outcome == O.BLOCK
    assert [r.result for r in decision.policy_results] == ["applied", "applied"]


def test_block_wins_over_a_grant_already_satisfied_in_this_session():
    decision = evaluate(facts(satisfied_factors=frozenset({st.FACTOR_PUSH}), mfa_age_seconds=10),
                        config(policy("MFA"), blocking("Block")))

    assert decision.outcome == O.BLOCK


@pytest.mark.parametrize("overrides", [
    {"per_user_mfa_state": "disabled"},
    {"per_user_mfa_state": "enforced", "ip": ADDRESSES["trusted_ips"]},
    {"per_user_mfa_state": "enforced", "mfa_remembered": True},
    {"per_user_mfa_state": "enforced"},
    {"per_user_mfa_state": "enabled", "registered_methods": ()},
], ids=["disabled", "trusted-ip", "remembered", "enforced", "must-register"])
def test_block_wins_over_whatever_per_user_mfa_says(overrides):
    decision = evaluate(facts(**overrides), config(blocking()))

    assert decision.outcome == O.BLOCK
    assert decision.error_code == 53003


def test_every_applying_block_is_named():
    decision = evaluate(facts(), config(blocking("First"), policy("MFA"), blocking("Second")))

    assert [r.source for r in decision.reasons] == ["conditional_access:First", "conditional_access:Second"]


def test_a_block_that_does_not_apply_changes_nothing():
    decision = evaluate(facts(), config(blocking(users={"includeUsers": ["8"]}), policy("MFA")))

    assert decision.outcome == O.REQUIRE_MFA


def test_a_policy_block_keeps_its_own_code_for_a_person_blocked_for_fraud():
    decision = evaluate(facts(mfa_blocked=True), config(blocking()))

    assert decision.error_code == 53003


# --- grants ---------------------------------------------------------------------------------------


def test_require_mfa_asks_for_any_second_factor_watchword_has_with_50076():
    decision = evaluate(facts(), config(policy("MFA")))

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.error_code == 50076
    assert decision.allowed_factors == st.WATCHWORD_FACTORS
    assert decision.reasons[0].source == "conditional_access:MFA"
    assert "requires MFA" in decision.reasons[0].detail


def test_require_mfa_for_someone_with_no_method_sends_them_to_register_with_50079():
    decision = evaluate(facts(registered_methods=()), config(policy("MFA")))

    assert decision.outcome == O.REQUIRE_REGISTRATION
    assert decision.error_code == 50079
    assert decision.registration_days_left is None


def test_grants_of_every_applying_policy_add_up():
    decision = evaluate(facts(registered_methods=("push", "phone")),
                        config(policy("MFA"), policy("Texts", controls=(), strength=TEXT_ONLY.id)))

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.allowed_factors == {st.FACTOR_TEXT}
    assert [r.source for r in decision.reasons] == ["conditional_access:MFA", "conditional_access:Texts"]


def test_a_strength_the_person_has_no_method_for_sends_them_to_register_one_that_satisfies_it():
    decision = evaluate(facts(registered_methods=("push", "totp")),
                        config(policy("Texts", controls=(), strength=TEXT_ONLY.id)))

    assert decision.outcome == O.REQUIRE_REGISTRATION
    assert decision.allowed_factors == {st.FACTOR_TEXT}


@pytest.mark.parametrize("strength", [PHISHING_RESISTANT, PASSWORDLESS])
def test_a_strength_watchword_cannot_satisfy_blocks_with_a_reason(strength):
    decision = evaluate(facts(), config(policy("Strong", controls=(), strength=strength)))

    assert decision.outcome == O.BLOCK
    assert decision.error_code == 53003
    assert decision.reasons[-1].source == "authentication_strength"
    assert "no sign-in method Watchword has" in decision.reasons[-1].detail
    assert decision.reasons[0].source == "conditional_access:Strong"


def test_two_strengths_with_nothing_in_common_block():
    decision = evaluate(facts(registered_methods=("phone",)), config(
        policy("Texts", controls=(), strength=TEXT_ONLY.id),
        policy("Codes", controls=(), strength=st.MFA.id, id="codes"),
        policy("Strong", controls=(), strength=PHISHING_RESISTANT)))

    assert decision.outcome == O.BLOCK


def test_a_strength_that_no_longer_exists_is_satisfied_by_nothing():
    compiled = policy("Custom", controls=(), strength="deleted-strength")

    decision = evaluate(facts(), config(compiled))

    assert decision.outcome == O.BLOCK
    assert decision.policy_results[0].controls == ("authenticationStrength:deleted-strength",)


# One policy with both MFA and a strength cannot be saved (compile_policy refuses it), but the
# engine's AND / OR still decides what a combination of grant controls asks for.
def both(strength: str, operator: str):
    return dataclasses.replace(policy("Both"), strength=strength, operator=operator)


def test_mfa_or_an_unsatisfiable_strength_still_lets_mfa_through():
    decision = evaluate(facts(), config(both(PHISHING_RESISTANT, "OR")))

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.allowed_factors == st.WATCHWORD_FACTORS
    assert "MFA or the authentication strength 'Phishing-resistant MFA'" in decision.reasons[0].detail


def test_mfa_and_an_unsatisfiable_strength_blocks():
    decision = evaluate(facts(), config(both(PHISHING_RESISTANT, "AND")))

    assert decision.outcome == O.BLOCK
    assert decision.reasons[-1].source == "authentication_strength"


def test_mfa_and_a_strength_asks_for_what_both_accept():
    decision = evaluate(facts(registered_methods=("phone",)), config(both(TEXT_ONLY.id, "AND")))

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.allowed_factors == {st.FACTOR_TEXT}


def test_a_policy_with_only_session_controls_asks_for_nothing():
    compiled = policy("Hourly", controls=(), session={"signInFrequency": {"isEnabled": True, "type": "hours",
                                                                         "value": 1}})

    decision = evaluate(facts(), config(compiled))

    assert decision.outcome == O.ALLOW
    assert decision.session == SessionControls(frequency_seconds=3600)


def test_the_policy_results_name_each_policys_controls():
    decision = evaluate(facts(), config(
        policy("MFA"), blocking("Block"), policy("Strong", controls=(), strength=PHISHING_RESISTANT),
        policy("Session", controls=(), session={"signInFrequency": {"isEnabled": True, "frequencyInterval":
                                                                    "everyTime"},
                                                "persistentBrowser": {"isEnabled": True, "mode": "never"}})))

    assert [r.controls for r in decision.policy_results] == [
        ("mfa",), ("block",), ("authenticationStrength:Phishing-resistant MFA",),
        ("signInFrequency", "persistentBrowser:never")]


# --- report-only ----------------------------------------------------------------------------------


def report_only(compiled):
    return dataclasses.replace(compiled, state="enabledForReportingButNotEnforced")


@pytest.mark.parametrize(("compiled", "overrides", "result"), [
    (blocking(state="enabledForReportingButNotEnforced"), {}, "reportOnlyWouldBlock"),
    (policy(state="enabledForReportingButNotEnforced"), {}, "reportOnlyWouldRequireMfa"),
    (policy(state="enabledForReportingButNotEnforced", controls=(), strength=PHISHING_RESISTANT), {},
     "reportOnlyWouldBlock"),  # enforced, nothing Watchword has could satisfy it
    (policy(state="enabledForReportingButNotEnforced"),
     {"satisfied_factors": frozenset({st.FACTOR_CODE}), "mfa_age_seconds": 60}, "reportOnlySuccess"),
    (policy(state="enabledForReportingButNotEnforced", controls=(),
            session={"persistentBrowser": {"isEnabled": True, "mode": "never"}}), {}, "reportOnlySuccess"),
    (blocking(state="enabledForReportingButNotEnforced", users={"includeUsers": ["8"]}), {},
     "reportOnlyNotApplied"),
], ids=["would-block", "would-require-mfa", "would-require-strength", "success", "session-only", "not-applied"])
def test_report_only_results_are_recorded_and_never_enforced(compiled, overrides, result):
    decision = evaluate(facts(**overrides), config(compiled))

    assert decision.outcome == O.ALLOW
    assert decision.session == SessionControls()
    assert [(r.result, r.report_only, r.applied) for r in decision.policy_results] == [
        (result, True, result != "reportOnlyNotApplied")]


def test_a_report_only_policy_that_does_not_apply_says_why():
    compiled = policy(state="enabledForReportingButNotEnforced", risk=["high"])

    decision = evaluate(facts(), config(compiled))

    assert decision.policy_results[0].unmet == "sign-in risk: none is not included"
    assert decision.policy_results[0].as_dict()["reportOnly"] is True


@pytest.mark.parametrize("enforced", [
    policy("Enforced MFA"), blocking("Enforced block"), policy("Enforced strength", controls=(),
                                                               strength=TEXT_ONLY.id),
], ids=lambda p: p.name)
def test_report_only_policies_leave_the_enforced_decision_exactly_as_it_was(enforced):
    reporting = [report_only(blocking("RO block")), report_only(policy("RO MFA")),
                 report_only(policy("RO strong", controls=(), strength=PHISHING_RESISTANT))]
    person = facts(registered_methods=("phone",))

    alone = evaluate(person, config(enforced))
    with_reporting = evaluate(person, config(*reporting, enforced))

    assert dataclasses.replace(with_reporting, policy_results=()) == dataclasses.replace(alone, policy_results=())


# --- disabled and empty -----------------------------------------------------------------------------


def test_a_disabled_policy_is_not_evaluated_at_all():
    decision = evaluate(facts(), config(blocking(state="disabled"), policy("Off", state="disabled")))

    assert decision.outcome == O.ALLOW
    assert decision.policy_results == ()


def test_with_no_policies_per_user_mfa_alone_decides():
    assert evaluate(facts(), config()).outcome == O.ALLOW
    assert evaluate(facts(per_user_mfa_state="enforced"), config()).outcome == O.REQUIRE_MFA
    assert evaluate(facts(), config()).policy_results == ()


def test_a_policy_that_applies_to_nobody_here_lets_the_sign_in_through():
    decision = evaluate(facts(), config(policy(users={"includeUsers": ["None"]})))

    assert decision.outcome == O.ALLOW
    assert decision.policy_results[0].result == "notApplied"


# --- sign-in frequency ---------------------------------------------------------------------------


def hourly(**fields):
    return policy("Hourly MFA", session={"signInFrequency": {"isEnabled": True, "type": "hours", "value": 1}},
                  **fields)


def every_time(**fields):
    return policy("MFA every time", session={"signInFrequency": {"isEnabled": True,
                                                                  "frequencyInterval": "everyTime"}}, **fields)


@pytest.mark.parametrize(("compiled", "age", "outcome"), [
    (policy("MFA"), 10, O.ALLOW),
    (policy("MFA"), 400 * 86400, O.ALLOW),  # no frequency: the session's second factor keeps counting
    (policy("MFA"), None, O.ALLOW),
    (hourly(), 3599, O.ALLOW),
    (hourly(), 3600, O.ALLOW),
    (hourly(), 3601, O.REQUIRE_MFA),
    (hourly(), None, O.REQUIRE_MFA),
    (every_time(), 0, O.ALLOW),
    (every_time(), 300, O.ALLOW),  # the reference's five minutes of clock skew
    (every_time(), 301, O.REQUIRE_MFA),
], ids=["mfa-fresh", "mfa-old", "mfa-age-unknown", "hourly-fresh", "hourly-edge", "hourly-stale",
        "hourly-age-unknown", "every-time-now", "every-time-skew", "every-time-stale"])
def test_a_second_factor_from_earlier_in_the_session_counts_while_the_sign_in_frequency_allows(compiled, age,
                                                                                               outcome):
    decision = evaluate(facts(satisfied_factors=frozenset({st.FACTOR_PUSH}), mfa_age_seconds=age), config(compiled))

    assert decision.outcome == outcome
    if outcome == O.ALLOW:
        assert "satisfied in this session" in decision.reasons[-1].detail


def test_nothing_proven_in_the_session_satisfies_nothing():
    decision = evaluate(facts(satisfied_factors=frozenset(), mfa_age_seconds=1), config(policy("MFA")))

    assert decision.outcome == O.REQUIRE_MFA


def test_a_factor_from_earlier_that_the_strength_does_not_accept_does_not_count():
    decision = evaluate(facts(registered_methods=("push", "phone"), satisfied_factors=frozenset({st.FACTOR_PUSH}),
                              mfa_age_seconds=5),
                        config(policy("MFA"), policy("Texts", controls=(), strength=TEXT_ONLY.id)))

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.allowed_factors == {st.FACTOR_TEXT}
    assert [r.source for r in decision.reasons] == ["conditional_access:Texts"]


def test_the_shortest_sign_in_frequency_of_the_applying_policies_is_the_sessions():
    decision = evaluate(facts(), config(
        policy("Days", session={"signInFrequency": {"isEnabled": True, "type": "days", "value": 7}}), hourly(),
        every_time(users={"includeUsers": ["8"]})))

    assert decision.session.frequency_seconds == 3600


def test_every_time_is_the_shortest_frequency():
    decision = evaluate(facts(), config(hourly(), every_time()))

    assert decision.session.frequency_seconds == 0


def test_a_blocked_sign_in_still_reports_the_session_controls_of_the_applying_grants():
    decision = evaluate(facts(), config(hourly(), blocking()))

    assert decision.outcome == O.BLOCK
    assert decision.session.frequency_seconds == 3600


# --- persistent browser ---------------------------------------------------------------------------


def persistent(mode: str, name: str = "", **fields):
    return policy(name or f"Persistent {mode}", controls=(),
                  session={"persistentBrowser": {"isEnabled": True, "mode": mode}}, **fields)


@pytest.mark.parametrize(("modes", "result"), [
    ((), None),
    (("always",), "always"),
    (("never",), "never"),
    (("always", "always"), "always"),
    (("always", "never"), "never"),
    (("never", "always"), "never"),
    (("always", "never", "always"), "never"),
])
def test_never_persisting_the_browser_wins_over_always(modes, result):
    policies = [persistent(mode, f"{mode} {i}") for i, mode in enumerate(modes)]

    assert evaluate(facts(), config(*policies)).session.persistent_browser == result


def test_a_persistent_browser_setting_of_a_policy_that_does_not_apply_is_ignored():
    decision = evaluate(facts(), config(persistent("always"), persistent("never", users={"includeUsers": ["8"]})))

    assert decision.session.persistent_browser == "always"


# --- broken policies -------------------------------------------------------------------------------


def test_a_policy_that_could_not_be_read_requires_mfa_from_everyone():
    decision = evaluate(facts(), config(broken=("Old import",)))

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.error_code == 50076
    assert decision.reasons[0].source == "conditional_access:broken"
    assert "Old import" in decision.reasons[0].detail


def test_a_broken_policy_cannot_be_skipped_by_the_per_user_exceptions():
    person = facts(per_user_mfa_state="enforced", ip=ADDRESSES["trusted_ips"], mfa_remembered=True)

    assert evaluate(person, config(broken=("x",))).outcome == O.REQUIRE_MFA


def test_a_broken_policy_sends_someone_without_a_method_to_register():
    assert evaluate(facts(registered_methods=()), config(broken=("x",))).outcome == O.REQUIRE_REGISTRATION


def test_each_broken_policy_is_named():
    decision = evaluate(facts(), config(broken=("A", "B")))

    assert [r.detail.split("'")[1] for r in decision.reasons] == ["A", "B"]


def test_a_block_still_wins_over_a_broken_policy():
    assert evaluate(facts(), config(blocking(), broken=("x",))).outcome == O.BLOCK


# --- fraud block and error codes -------------------------------------------------------------------


def test_someone_blocked_for_reporting_fraud_is_blocked_when_mfa_is_asked_with_500121():
    decision = evaluate(facts(mfa_blocked=True), config(policy("MFA")))

    assert decision.outcome == O.BLOCK
    assert decision.error_code == 500121
    assert decision.requirement == "fraud_block"


def test_someone_blocked_for_fraud_is_also_blocked_from_registering():
    decision = evaluate(facts(mfa_blocked=True, registered_methods=()), config(policy("MFA")))

    assert (decision.outcome, decision.error_code) == (O.BLOCK, 500121)


def test_someone_blocked_for_fraud_still_signs_in_where_no_second_factor_is_asked():
    decision = evaluate(facts(mfa_blocked=True), config(policy("MFA", users={"includeUsers": ["8"]})))

    assert decision.outcome == O.ALLOW


@pytest.mark.parametrize(("compiled", "overrides", "outcome", "code"), [
    (blocking(), {}, O.BLOCK, 53003),
    (policy("Strong", controls=(), strength=PHISHING_RESISTANT), {}, O.BLOCK, 53003),
    (policy(), {}, O.REQUIRE_MFA, 50076),
    (policy(), {"registered_methods": ()}, O.REQUIRE_REGISTRATION, 50079),
    (policy(), {"mfa_blocked": True}, O.BLOCK, 500121),
    (policy(), {"per_user_mfa_state": "enforced"}, O.REQUIRE_MFA, 50074),
], ids=["block", "strength", "mfa", "register", "fraud", "per-user-first"])
def test_error_codes(compiled, overrides, outcome, code):
    decision = evaluate(facts(**overrides), config(compiled))

    assert (decision.outcome, decision.error_code) == (outcome, code)


def test_an_allowed_sign_in_has_no_error_code():
    assert evaluate(facts(), config(policy(users={"includeUsers": ["8"]}))).error_code is None
