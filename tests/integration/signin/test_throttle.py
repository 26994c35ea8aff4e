"""Growing delays after repeated failures, per account name, per IP address and per person's
codes: while a delay runs even the right password (or code) is refused, with a message saying
how long to wait."""

from __future__ import annotations

import itertools
import re

import pytest
from django.test import Client

from tests.support import let_throttle_time_pass
from watchword.methods.services import set_mfa_state
from watchword.signin.models import Throttle
from watchword.signin.throttle import key_for
from tests.support import ACCOUNT_THRESHOLD

pytestmark = pytest.mark.django_db

WRONG = "Wrong-Password-123"
WAIT = re.compile(r"You&#x27;ve tried to sign in too many times with an incorrect account or password\. "
                  r"Wait (\d+) seconds, then try again\.")


def delay_of(key: str) -> float:
    row = Throttle.objects.get(key=key)
    return (row.blocked_until - row.last_failure_at).total_seconds() if row.blocked_until else 0


_addresses = (f"198.18.{n // 256}.{n % 256}" for n in itertools.count(1))


def from_somewhere_new() -> Client:
    """A browser at an address not used before (guesses spread over many addresses)."""
    return Client(REMOTE_ADDR=next(_addresses))


def fail_until_a_four_second_wait(sign_in, client, upn: str, settings) -> None:
    """Wrong passwords for ``upn`` from ever new addresses, up to the account's free allowance,
    then two more, each after the previous delay ran out: the account's waits are 1 s, 2 s and
    then 4 s (long enough for the next request to meet it). ``client`` is not used for them."""
    for _ in range(ACCOUNT_THRESHOLD):
        sign_in.password(from_somewhere_new(), upn, WRONG)
    for _ in range(2):
        let_throttle_time_pass(10)
        sign_in.password(from_somewhere_new(), upn, WRONG)


def waited(response) -> int | None:
    match = WAIT.search(response.content.decode())
    return int(match.group(1)) if match else None


def is_signed_in(client) -> bool:
    return client.get("/myaccount").status_code == 200


def test_the_free_wrong_passwords_do_not_slow_the_person_down(client, sign_in, adele, settings):
    for _ in range(settings.THROTTLE_PAIR_FREE - 1):
        sign_in.password(client, adele.upn, WRONG)

    sign_in.password(client, adele.upn)

    assert is_signed_in(client)


def test_wrong_passwords_from_anywhere_up_to_the_accounts_allowance_do_not_slow_the_person_down(
        client, sign_in, adele, settings):
    for _ in range(ACCOUNT_THRESHOLD - 1):
        sign_in.password(from_somewhere_new(), adele.upn, WRONG)

    sign_in.password(client, adele.upn)

    assert is_signed_in(client)


def test_guessing_from_one_address_slows_that_address_down_for_that_account(sign_in, adele, settings):
    guesser = Client(REMOTE_ADDR="203.0.113.77")
    for _ in range(settings.THROTTLE_PAIR_FREE + 2):
        let_throttle_time_pass(10)
        sign_in.password(guesser, adele.upn, WRONG)

    response = sign_in.password(guesser, adele.upn)

    assert waited(response) is not None
    assert not is_signed_in(guesser)


def test_a_stranger_guessing_from_elsewhere_does_not_hold_the_person_up_at_their_own_address(
        sign_in, adele, settings):
    guesser = Client(REMOTE_ADDR="203.0.113.77")
    for _ in range(settings.THROTTLE_PAIR_FREE + 3):
        let_throttle_time_pass(10)
        sign_in.password(guesser, adele.upn, WRONG)

    adele_at_work = Client(REMOTE_ADDR="192.0.2.44")
    sign_in.password(adele_at_work, adele.upn)

    assert is_signed_in(adele_at_work)


def test_each_wrong_password_past_the_free_ones_doubles_the_accounts_wait(client, sign_in, adele, settings):
    key = key_for("acct", f"{adele.upn}|elsewhere")
    for _ in range(ACCOUNT_THRESHOLD):
        sign_in.password(from_somewhere_new(), adele.upn, WRONG)
    waits = [delay_of(key)]
    for _ in range(2):
        let_throttle_time_pass(10)
        sign_in.password(from_somewhere_new(), adele.upn, WRONG)
        waits.append(delay_of(key))

    assert waits == [1, 2, 4]


def test_while_the_account_waits_the_right_password_is_refused_with_how_long_to_wait(client, sign_in, adele, settings):
    fail_until_a_four_second_wait(sign_in, client, adele.upn, settings)

    response = sign_in.password(client, adele.upn)

    assert 1 <= waited(response) <= 4
    assert not is_signed_in(client)


def test_the_account_wait_applies_from_another_ip_address_too(sign_in, adele, settings):
    fail_until_a_four_second_wait(sign_in, Client(REMOTE_ADDR="192.0.2.10"), adele.upn, settings)
    elsewhere = Client(REMOTE_ADDR="198.51.100.20")

    response = sign_in.password(elsewhere, adele.upn)

    assert waited(response) is not None
    assert not is_signed_in(elsewhere)


def test_the_account_wait_applies_however_the_name_is_typed(client, sign_in, adele, settings):
    fail_until_a_four_second_wait(sign_in, client, adele.upn, settings)

    response = sign_in.password(client, "  ADELE.Vance@Contoso.Example ")

    assert waited(response) is not None


def test_an_unknown_account_is_slowed_down_exactly_like_a_known_one(sign_in, adele, settings):
    known, unknown = (Client(), adele.upn), (Client(REMOTE_ADDR="192.0.2.99"), "nobody@contoso.example")
    for _ in range(ACCOUNT_THRESHOLD):
        for client, name in (known, unknown):
            sign_in.password(client, name, WRONG)
    for _ in range(2):
        let_throttle_time_pass(10)
        for client, name in (known, unknown):
            sign_in.password(client, name, WRONG)

    messages = [WAIT.sub("WAIT", sign_in.error_text(sign_in.password(client, name)))
                for client, name in (known, unknown)]

    assert messages[0] == messages[1]
    assert "WAIT" in messages[0]


def test_one_accounts_wait_does_not_stop_another_person(client, sign_in, adele, make_person, settings):
    lee = make_person("Lee Gu")
    fail_until_a_four_second_wait(sign_in, client, adele.upn, settings)

    other = Client()
    sign_in.password(other, lee.upn)

    assert is_signed_in(other)


def test_a_successful_sign_in_starts_the_account_count_again(sign_in, adele, settings):
    for _ in range(ACCOUNT_THRESHOLD - 1):
        sign_in.password(from_somewhere_new(), adele.upn, WRONG)
    sign_in.password(Client(), adele.upn)
    for _ in range(ACCOUNT_THRESHOLD - 1):
        sign_in.password(from_somewhere_new(), adele.upn, WRONG)

    client = Client()
    sign_in.password(client, adele.upn)

    assert is_signed_in(client)


def test_failures_are_forgotten_after_an_hour_without_one(client, sign_in, adele, settings):
    for _ in range(ACCOUNT_THRESHOLD):
        sign_in.password(from_somewhere_new(), adele.upn, WRONG)
    let_throttle_time_pass(3601)

    sign_in.password(client, adele.upn, WRONG)

    assert Throttle.objects.get(key=key_for("acct", f"{adele.upn}|elsewhere")).failures == 1


def test_many_wrong_passwords_from_one_ip_address_slow_down_every_account_from_it(sign_in, adele, settings):
    settings.THROTTLE_IP_FREE = 3
    attacker = Client(REMOTE_ADDR="203.0.113.5")
    names = iter(f"guess{n}@contoso.example" for n in range(10))
    for _ in range(settings.THROTTLE_IP_FREE):
        sign_in.password(attacker, next(names), WRONG)
    for _ in range(2):
        let_throttle_time_pass(10)
        sign_in.password(attacker, next(names), WRONG)
    assert delay_of(key_for("ip", "203.0.113.5")) == 4

    response = sign_in.password(attacker, adele.upn)

    assert 1 <= waited(response) <= 4
    assert not is_signed_in(attacker)


def test_an_ip_address_that_is_slowed_down_does_not_affect_other_addresses(sign_in, adele, settings):
    settings.THROTTLE_IP_FREE = 3
    attacker = Client(REMOTE_ADDR="203.0.113.5")
    for n in range(settings.THROTTLE_IP_FREE):
        sign_in.password(attacker, f"guess{n}@contoso.example", WRONG)

    office = Client(REMOTE_ADDR="192.0.2.44")
    sign_in.password(office, adele.upn)

    assert is_signed_in(office)


def test_wrong_codes_across_several_sign_ins_slow_down_further_codes(sign_in, adele, enrol, settings):
    set_mfa_state(adele, "enabled", actor="cli", notify=False)
    app = enrol(adele)
    wrong = app.wrong_code()
    for _ in range(2):  # two sign-ins, each ended by the attempt limit: 2 × 5 wrong codes
        client = Client()
        sign_in.password(client, adele.upn)
        for _ in range(settings.MFA_CODE_ATTEMPTS):
            client.post("/signin/verify", {"code": wrong})
    right = app.fresh_code()  # before the waits below start running (fresh_code may pause near a step's end)
    client = Client()
    sign_in.password(client, adele.upn)
    for _ in range(2):
        let_throttle_time_pass(10)
        client.post("/signin/verify", {"code": wrong})

    response = client.post("/signin/verify", {"code": right})

    assert re.search(r"Too many wrong codes\. Wait [1-4] seconds, then try again\.", response.content.decode())
    assert not is_signed_in(client)

