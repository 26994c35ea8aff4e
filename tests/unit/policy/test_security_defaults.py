"""Security Defaults in the pure engine: legacy clients blocked, registration of the authenticator
app within 14 days, MFA for admins and the admin pages every time, MFA for unfamiliar sign-ins."""

from __future__ import annotations

import pytest

from tests.unit.policy.builders import ADDRESSES, TRUSTED_IPS, facts
from watchword.policy import strengths as st
from watchword.policy.engine import SECURITY_DEFAULTS_FACTORS, PolicyConfig, evaluate
from watchword.policy.engine import Outcome as O

ON = PolicyConfig(security_defaults=True)
APP_FACTORS = frozenset({st.FACTOR_PUSH, st.FACTOR_CODE})


def decide(**overrides):
    return evaluate(facts(**overrides), ON)


def test_security_defaults_accepts_the_authenticator_app_only():
    assert SECURITY_DEFAULTS_FACTORS == APP_FACTORS


# --- legacy clients -------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [
    {},
    {"is_admin": True},
    {"registered_methods": ()},
    {"familiar_network": False},
    {"satisfied_factors": frozenset({st.FACTOR_PUSH}), "mfa_age_seconds": 1},
], ids=["member", "admin", "no-method", "unfamiliar", "already-did-mfa"])
def test_a_client_that_cannot_do_mfa_is_blocked(overrides):
    decision = decide(client="other", **overrides)

    assert decision.outcome == O.BLOCK
    assert decision.error_code == 53003
    assert decision.reasons[0].source == "security_defaults"
    assert "cannot do MFA" in decision.reasons[0].detail


@pytest.mark.parametrize("client", ["browser", "mobileAppsAndDesktopClients", "radius", "api"])
def test_clients_that_can_do_mfa_are_not_blocked(client):
    assert decide(client=client).outcome == O.ALLOW


# --- registration ----------------------------------------------------------------------------------


def test_someone_without_a_method_is_asked_to_register_the_app_and_may_skip_for_14_days():
    decision = decide(registered_methods=())

    assert decision.outcome == O.REQUIRE_REGISTRATION
    assert decision.error_code == 50079
    assert decision.registration_days_left == 14
    assert decision.allowed_factors == APP_FACTORS
    assert "14 days until required" in decision.reasons[0].detail


@pytest.mark.parametrize(("days_left", "skippable"), [(None, 14), (14, 14), (5, 5), (1, 1), (0, None), (-3, None)])
def test_the_grace_period_counts_down_and_then_registration_is_required(days_left, skippable):
    decision = decide(registered_methods=(), registration_days_left=days_left)

    assert decision.outcome == O.REQUIRE_REGISTRATION
    assert decision.registration_days_left == skippable
    if skippable is None:
        assert "required now" in decision.reasons[0].detail


def test_admins_get_the_same_grace_to_register():
    decision = decide(registered_methods=(), is_admin=True, app="WatchwordAdmin", registration_days_left=3)

    assert decision.outcome == O.REQUIRE_REGISTRATION
    assert decision.registration_days_left == 3


def test_the_grace_period_does_not_apply_when_per_user_mfa_also_asks_to_register():
    decision = decide(registered_methods=(), per_user_mfa_state="enabled")

    assert decision.outcome == O.REQUIRE_REGISTRATION
    assert decision.registration_days_left is None
    assert decision.error_code == 50072
    assert [r.source for r in decision.reasons] == ["per_user_mfa", "security_defaults"]


def test_a_person_with_only_a_phone_must_register_the_app_when_mfa_is_needed():
    decision = decide(registered_methods=("phone",), is_admin=True)

    assert decision.outcome == O.REQUIRE_REGISTRATION
    assert decision.allowed_factors == APP_FACTORS
    assert decision.registration_days_left is None


def test_a_person_with_only_a_phone_is_never_offered_a_text_or_a_call():
    decision = decide(registered_methods=("phone", "office_phone"), familiar_network=False)

    assert decision.allowed_factors is not None
    assert not decision.allowed_factors & {st.FACTOR_TEXT, st.FACTOR_CALL}


def test_a_person_with_the_app_and_a_phone_must_use_the_app():
    decision = decide(registered_methods=("phone", "push"), is_admin=True)

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.allowed_factors == APP_FACTORS


def test_a_code_app_is_enough():
    decision = decide(registered_methods=("totp",), is_admin=True)

    assert decision.outcome == O.REQUIRE_MFA


# --- when MFA is asked --------------------------------------------------------------------------


@pytest.mark.parametrize(("overrides", "why"), [
    ({"is_admin": True}, "holds an admin role"),
    ({"is_admin": True, "client": "mobileAppsAndDesktopClients"}, "holds an admin role"),
    ({"app": "WatchwordAdmin"}, "the admin pages"),
    ({"familiar_network": False}, "an unfamiliar network"),
    ({"familiar_network": False, "client": "radius", "app": "radius:vpn"}, "an unfamiliar network"),
    ({"familiar_browser": False}, "a browser not used for MFA in 30 days"),
], ids=["admin", "admin-desktop", "admin-pages", "unfamiliar-network", "unfamiliar-network-vpn",
        "unfamiliar-browser"])
def test_mfa_is_asked_with_50076(overrides, why):
    decision = decide(**overrides)

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.error_code == 50076
    assert decision.reasons[0].source == "security_defaults"
    assert decision.reasons[0].detail == f"Security Defaults: MFA for {why}"


@pytest.mark.parametrize("overrides", [
    {"mfa_remembered": True},
    {"ip": ADDRESSES["office"]},
    {"familiar_browser": True, "familiar_network": True},
], ids=["remembered", "any-address", "familiar"])
def test_admins_are_asked_for_mfa_every_time(overrides):
    assert decide(is_admin=True, **overrides).outcome == O.REQUIRE_MFA


def test_a_familiar_sign_in_is_allowed():
    decision = decide()

    assert decision.outcome == O.ALLOW
    assert "a familiar sign-in" in decision.reasons[-1].detail


@pytest.mark.parametrize("client", ["mobileAppsAndDesktopClients", "radius", "api"])
def test_an_unfamiliar_browser_matters_only_in_a_browser(client):
    assert decide(client=client, familiar_browser=False).outcome == O.ALLOW


def test_without_security_defaults_none_of_this_applies():
    person = facts(is_admin=True, app="WatchwordAdmin", familiar_network=False, familiar_browser=False,
                   client="other", registered_methods=())

    assert evaluate(person, PolicyConfig()).outcome == O.ALLOW


# --- alongside per-user MFA and the fraud block --------------------------------------------------


def test_per_user_mfa_enforced_still_asks_on_a_familiar_sign_in():
    decision = decide(per_user_mfa_state="enforced")

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.error_code == 50074


def test_a_per_user_trusted_ip_does_not_skip_security_defaults():
    cfg = PolicyConfig(security_defaults=True, mfa_trusted_ips=TRUSTED_IPS)
    decision = evaluate(facts(per_user_mfa_state="enforced", ip=ADDRESSES["trusted_ips"], is_admin=True), cfg)

    assert decision.outcome == O.REQUIRE_MFA
    assert [r.source for r in decision.reasons] == ["security_defaults"]


def test_someone_blocked_for_fraud_is_blocked_when_security_defaults_asks_for_mfa():
    decision = decide(is_admin=True, mfa_blocked=True)

    assert (decision.outcome, decision.error_code) == (O.BLOCK, 500121)


def test_someone_blocked_for_fraud_signs_in_on_a_familiar_sign_in():
    assert decide(mfa_blocked=True).outcome == O.ALLOW


# --- a second factor proven earlier in the session ------------------------------------------------


def test_an_app_factor_proven_earlier_in_the_session_satisfies_security_defaults():
    decision = decide(is_admin=True, satisfied_factors=frozenset({st.FACTOR_PUSH}), mfa_age_seconds=30)

    assert decision.outcome == O.ALLOW
    assert decision.reasons[-1].source == "security_defaults"
    assert "satisfied in this session" in decision.reasons[-1].detail


def test_a_text_proven_earlier_in_the_session_does_not_satisfy_security_defaults():
    decision = decide(is_admin=True, registered_methods=("push", "phone"),
                      satisfied_factors=frozenset({st.FACTOR_TEXT}), mfa_age_seconds=30)

    assert decision.outcome == O.REQUIRE_MFA
    assert decision.allowed_factors == APP_FACTORS
