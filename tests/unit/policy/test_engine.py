"""The pure policy engine: per-user MFA state × registered methods → a decision with a reason
and the reference's error code; bad facts never grant access."""

from __future__ import annotations

import pytest

from watchword.policy.engine import (
    Decision,
    Outcome,
    Reason,
    SignInFacts,
    evaluate,
    state_after_admin_sets,
    state_after_registration,
)
from watchword.policy.errors import FactsInvalid


def facts(state: str, methods: tuple = (), **overrides) -> SignInFacts:
    values = {"user_id": 42, "per_user_mfa_state": state, "registered_methods": methods, **overrides}
    return SignInFacts(**values)


# state, has a method → outcome, error code
DECISIONS = [
    ("disabled", False, Outcome.ALLOW, None),
    ("disabled", True, Outcome.ALLOW, None),
    ("enabled", False, Outcome.REQUIRE_REGISTRATION, 50072),
    ("enabled", True, Outcome.REQUIRE_MFA, 50074),
    ("enforced", False, Outcome.REQUIRE_REGISTRATION, 50079),
    ("enforced", True, Outcome.REQUIRE_MFA, 50074),
]


@pytest.mark.parametrize(("state", "has_method", "outcome", "code"), DECISIONS)
def test_per_user_state_and_registered_methods_decide_the_outcome_and_error_code(state, has_method, outcome, code):
    decision = evaluate(facts(state, ("totp",) if has_method else ()))

    assert decision.outcome == outcome
    assert decision.error_code == code


@pytest.mark.parametrize(("state", "has_method", "outcome", "code"), DECISIONS)
def test_every_decision_names_per_user_mfa_as_its_reason(state, has_method, outcome, code):
    decision = evaluate(facts(state, ("totp",) if has_method else ()))

    assert decision.reasons
    assert decision.reasons[0].source == "per_user_mfa"
    assert state in decision.reasons[0].detail


@pytest.mark.parametrize(("outcome", "needs"), [
    (Outcome.ALLOW, False),
    (Outcome.REQUIRE_MFA, True),
    (Outcome.REQUIRE_REGISTRATION, True),
    (Outcome.BLOCK, False),
])
def test_only_mfa_and_registration_need_a_second_factor(outcome, needs):
    assert Decision(outcome, (Reason("per_user_mfa", "x"),)).needs_second_factor is needs


def test_the_requirement_of_a_decision_is_the_source_of_its_first_reason():
    decision = evaluate(facts("enforced", ("totp",)))

    assert decision.requirement == "per_user_mfa"


def test_a_decision_without_reasons_has_no_requirement():
    assert Decision(Outcome.ALLOW, ()).requirement == ""


def test_an_admin_with_per_user_mfa_disabled_is_still_decided_by_per_user_state():
    assert evaluate(facts("disabled", is_admin=True)).outcome == Outcome.ALLOW


def test_an_unrecognised_method_type_still_counts_as_a_method_to_challenge():
    # Fail closed: an unknown method never turns "MFA required" into "allow".
    # It can prove no second factor, so the person is sent to register one that can.
    assert evaluate(facts("enforced", ("carrier-pigeon",))).outcome == Outcome.REQUIRE_REGISTRATION


@pytest.mark.parametrize(("overrides", "field"), [
    ({"user_id": 0}, "user_id"),
    ({"user_id": -7}, "user_id"),
    ({"user_id": "42"}, "user_id"),
    ({"user_id": None}, "user_id"),
    ({"per_user_mfa_state": "ENABLED"}, "per_user_mfa_state"),
    ({"per_user_mfa_state": "on"}, "per_user_mfa_state"),
    ({"per_user_mfa_state": ""}, "per_user_mfa_state"),
    ({"per_user_mfa_state": None}, "per_user_mfa_state"),
    ({"registered_methods": ["totp"]}, "registered_methods"),
    ({"registered_methods": None}, "registered_methods"),
    ({"registered_methods": "totp"}, "registered_methods"),
], ids=lambda value: repr(value) if isinstance(value, dict) else value)
def test_bad_facts_raise_facts_invalid_naming_the_field(overrides, field):
    good = {"user_id": 42, "per_user_mfa_state": "enabled", "registered_methods": ("totp",)}

    with pytest.raises(FactsInvalid) as raised:
        evaluate(SignInFacts(**{**good, **overrides}))

    assert raised.value.field == field


def test_facts_invalid_is_a_server_error_with_a_public_message_that_reveals_nothing():
    with pytest.raises(FactsInvalid) as raised:
        evaluate(facts("sometimes"))

    assert raised.value.status == 500
    assert raised.value.as_dict()["message"] == "The sign-in could not be evaluated."


@pytest.mark.parametrize(("requested", "has_method", "result"), [
    ("disabled", False, "disabled"),
    ("disabled", True, "disabled"),
    ("enabled", False, "enabled"),
    ("enabled", True, "enforced"),
    ("enforced", False, "enforced"),
    ("enforced", True, "enforced"),
])
def test_state_after_admin_sets_makes_enabled_enforced_for_someone_with_a_method(requested, has_method, result):
    assert state_after_admin_sets(requested, has_method=has_method) == result


@pytest.mark.parametrize("requested", ["Enabled", "on", "", "mfa"])
def test_state_after_admin_sets_refuses_an_unknown_state(requested):
    with pytest.raises(FactsInvalid):
        state_after_admin_sets(requested, has_method=False)


@pytest.mark.parametrize(("current", "result"), [
    ("disabled", "disabled"),
    ("enabled", "enforced"),
    ("enforced", "enforced"),
])
def test_state_after_registration_moves_enabled_to_enforced_and_leaves_the_others(current, result):
    assert state_after_registration(current) == result


def test_a_second_factor_proven_earlier_in_the_session_satisfies_per_user_mfa_and_says_so():
    decision = evaluate(facts("enforced", ("totp",), satisfied_factors=frozenset({"password,softwareOath"})))

    assert decision.outcome == Outcome.ALLOW
    assert decision.reasons == (Reason("per_user_mfa", "per-user MFA is enforced; satisfied in this session"),)


def test_a_session_factor_never_skips_per_user_registration():
    decision = evaluate(facts("enabled", (), satisfied_factors=frozenset({"password,softwareOath"})))

    assert decision.outcome == Outcome.REQUIRE_REGISTRATION
