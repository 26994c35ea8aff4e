"""Growing delays after repeated failures (pure part: how long to wait after n failures)."""

from __future__ import annotations

import pytest

from watchword.signin.throttle import Limit, delay_after, key_for, wait_phrase

ACCOUNT = Limit(free=5, max_delay=300)


@pytest.mark.parametrize("failures", [0, 1, 2, 3, 4])
def test_the_first_free_failures_cost_no_wait(failures):
    assert delay_after(failures, ACCOUNT) == 0


def test_the_first_failure_past_the_free_ones_waits_one_second():
    assert delay_after(5, ACCOUNT) == 1


def test_each_further_failure_doubles_the_wait():
    assert [delay_after(n, ACCOUNT) for n in range(5, 12)] == [1, 2, 4, 8, 16, 32, 64]


def test_the_wait_never_exceeds_the_maximum_delay():
    assert delay_after(14, ACCOUNT) == 300  # 2**9 = 512 would exceed it
    assert delay_after(1000, ACCOUNT) == 300


def test_the_wait_never_decreases_as_failures_grow():
    waits = [delay_after(n, ACCOUNT) for n in range(0, 60)]

    assert waits == sorted(waits)


def test_a_limit_with_one_free_failure_starts_waiting_after_the_first():
    assert [delay_after(n, Limit(free=1, max_delay=900)) for n in range(0, 4)] == [0, 1, 2, 4]


def test_throttle_keys_do_not_contain_the_typed_name():
    key = key_for("acct", "adele.vance@contoso.example")

    assert key.startswith("acct:")
    assert "adele" not in key


def test_throttle_keys_fit_the_table_column_even_for_very_long_values():
    assert len(key_for("acct", "x" * 10_000)) <= 96


def test_a_throttle_key_for_a_name_with_a_lone_surrogate_is_computed_not_crashed():
    assert key_for("acct", "adele\ud800@contoso.example") != key_for("acct", "adele@contoso.example")


@pytest.mark.parametrize("seconds, text", [(1, "Wait 1 second"), (4, "Wait 4 seconds"), (300, "Wait 300 seconds")])
def test_the_wait_is_said_in_plain_words(seconds, text):
    assert wait_phrase(seconds) == text
