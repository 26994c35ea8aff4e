"""Sign-in risk from Watchword's own signals, and the device platform read from a User-Agent."""

from __future__ import annotations

import pytest

from tests.unit.policy.builders import config, facts, policy
from watchword.policy.engine import Outcome, evaluate
from watchword.policy.platforms import PLATFORMS, platform_of
from watchword.policy.risk import FRAUD_WINDOW_DAYS, LEVELS, MANY_FAILURES, SOME_FAILURES, RiskSignals, sign_in_risk

# --- sign-in risk ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("signals", "level"), [
    (RiskSignals(), "none"),
    (RiskSignals(recent_failures=MANY_FAILURES - 1), "none"),  # a familiar network: failures alone are not "low"
    (RiskSignals(unfamiliar_network=True), "low"),
    (RiskSignals(unfamiliar_network=True, recent_failures=SOME_FAILURES - 1), "low"),
    (RiskSignals(unfamiliar_network=True, recent_failures=SOME_FAILURES), "medium"),
    (RiskSignals(unfamiliar_network=True, recent_failures=MANY_FAILURES - 1), "medium"),
    (RiskSignals(recent_failures=MANY_FAILURES), "high"),
    (RiskSignals(unfamiliar_network=True, recent_failures=MANY_FAILURES), "high"),
    (RiskSignals(fraud_reported_days_ago=0), "high"),
    (RiskSignals(fraud_reported_days_ago=FRAUD_WINDOW_DAYS), "high"),
    (RiskSignals(fraud_reported_days_ago=FRAUD_WINDOW_DAYS + 1), "none"),
    (RiskSignals(fraud_reported_days_ago=FRAUD_WINDOW_DAYS + 1, unfamiliar_network=True), "low"),
], ids=["quiet", "failures-familiar", "unfamiliar", "unfamiliar-few-failures", "unfamiliar-some-failures",
        "unfamiliar-almost-many", "many-failures", "many-failures-unfamiliar", "fraud-today", "fraud-window-edge",
        "fraud-long-ago", "fraud-long-ago-unfamiliar"])
def test_the_signals_set_the_level(signals, level):
    assert sign_in_risk(signals)[0] == level


@pytest.mark.parametrize(("signals", "why"), [
    (RiskSignals(), ""),
    (RiskSignals(unfamiliar_network=True), "an unfamiliar network"),
    (RiskSignals(unfamiliar_network=True, recent_failures=4), "an unfamiliar network after 4 wrong passwords"),
    (RiskSignals(recent_failures=12), "12 wrong passwords in the last hour"),
    (RiskSignals(fraud_reported_days_ago=3, recent_failures=12),
     "a sign-in request was reported as fraud 3 days ago"),
])
def test_the_level_comes_with_the_signal_that_set_it(signals, why):
    assert sign_in_risk(signals)[1] == why


def test_every_level_is_one_a_policy_can_name():
    produced = {sign_in_risk(s)[0] for s in (RiskSignals(), RiskSignals(unfamiliar_network=True),
                                              RiskSignals(unfamiliar_network=True, recent_failures=SOME_FAILURES),
                                              RiskSignals(recent_failures=MANY_FAILURES))}

    assert produced == set(LEVELS)


@pytest.mark.parametrize(("signals", "outcome"), [
    (RiskSignals(), Outcome.ALLOW),
    (RiskSignals(unfamiliar_network=True), Outcome.ALLOW),
    (RiskSignals(unfamiliar_network=True, recent_failures=SOME_FAILURES), Outcome.REQUIRE_MFA),
    (RiskSignals(fraud_reported_days_ago=1), Outcome.BLOCK),
])
def test_risk_based_policies_act_on_the_computed_level(signals, outcome):
    cfg = config(policy("Risky MFA", risk=["medium"]), policy("High risk block", controls=("block",), risk=["high"]))

    assert evaluate(facts(risk=sign_in_risk(signals)[0]), cfg).outcome == outcome


# --- device platform ------------------------------------------------------------------------------


AGENTS = {
    "android": [
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Mobile "
        "Safari/537.36",
        "Mozilla/5.0 (Android 13; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
        "Dalvik/2.1.0 (Linux; U; Android 12; SM-G991B Build/SP1A.210812.016)",
    ],
    "iOS": [
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.4 Mobile/15E148 Safari/604.1",
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Mobile/15E148 Safari/604.1",  # iPadOS asking for the desktop site
    ],
    "windows": [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
        "Safari/537.36 Edg/124.0",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
    ],
    "macOS": [
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 "
        "Safari/605.1.15",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.4; rv:125.0) Gecko/20100101 Firefox/125.0",
        "CFNetwork/1494.0.7 Darwin/23.4.0",
    ],
    "linux": [
        "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 "
        "Safari/537.36",
    ],
    "": [
        "",
        None,
        "curl/8.5.0",
        "python-requests/2.31",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    ],
}


@pytest.mark.parametrize(("agent", "platform"), [(a, p) for p, agents in AGENTS.items() for a in agents],
                         ids=[f"{p or 'unknown'}-{i}" for p, agents in AGENTS.items() for i in range(len(agents))])
def test_the_platform_is_read_from_the_user_agent(agent, platform):
    assert platform_of(agent) == platform


def test_every_platform_read_is_one_a_policy_can_name():
    assert {platform_of(a) for agents in AGENTS.values() for a in agents} - {""} == set(PLATFORMS)


def test_only_the_first_512_characters_are_read():
    assert platform_of("x" * 512 + " (Windows NT 10.0)") == ""
    assert platform_of("x" * 400 + " (Windows NT 10.0)") == "windows"


def test_a_platform_read_from_an_agent_matches_a_platform_policy():
    cfg = config(policy("Mobile MFA", platforms={"includePlatforms": ["android", "iOS"]}))

    assert evaluate(facts(platform=platform_of(AGENTS["iOS"][0])), cfg).outcome == Outcome.REQUIRE_MFA
    assert evaluate(facts(platform=platform_of(AGENTS["windows"][0])), cfg).outcome == Outcome.ALLOW
    assert evaluate(facts(platform=platform_of("curl/8.5.0")), cfg).outcome == Outcome.ALLOW
