"""The pure rules behind texts and calls: masking numbers, the sliding-window wait, what the
keys pressed on a Twilio call mean, and the webhook's signatures."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

import pytest

from watchword.delivery.errors import CallbackSignatureInvalid, CallbackStale, DestinationInvalid
from watchword.delivery.limits import Limit, wait_after
from watchword.delivery.numbers import destination, mask_number
from watchword.delivery.providers import twilio, webhook

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
SECRET = "k" * 40


@pytest.mark.parametrize(("e164", "masked"), [
    ("+447400123456", "+44 74•••••456"),
    ("+12025550123", "+1 20•••••123"),
    ("+35312345678", "+353 12•••678"),
    ("+4212345", "+421 •••5"),  # too short to be real: still never shown whole
])
def test_a_number_is_masked_to_its_first_two_and_last_three_digits(e164, masked):
    assert mask_number(e164) == masked


def test_a_destination_knows_its_country():
    assert (destination("+447400123456").country, destination("+12025550123").country,
            destination("+80012345678").country) == ("GB", "US", "001")


@pytest.mark.parametrize("to", ["447400123456", "+44740012", "+447400123456;ext=1", "+44 7400 123456 x9"])
def test_a_destination_that_is_not_a_valid_e164_number_is_refused(to):
    with pytest.raises(DestinationInvalid):
        destination(to)


def test_below_the_limit_there_is_no_wait():
    assert wait_after(4, None, Limit("person", 5, 900), NOW) == 0


def test_at_the_limit_the_wait_lasts_until_the_oldest_counted_send_leaves_the_window():
    assert wait_after(5, NOW - timedelta(seconds=600), Limit("person", 5, 900), NOW) == 300


def test_the_wait_is_never_less_than_a_second():
    assert wait_after(5, NOW - timedelta(seconds=899.9), Limit("person", 5, 900), NOW) == 1


@pytest.mark.parametrize(("digits", "result"), [
    ("", "confirmed"), ("#", "confirmed"), ("0", "fraud"), ("0#", "fraud"), ("1", "no_input"), ("00", "no_input"),
    ("*", "no_input"), (None, "no_input")])
def test_the_keys_pressed_on_a_twilio_call_map_to_a_result(digits, result):
    assert twilio.result_of_digits(digits) == result


def test_the_webhook_signature_is_the_hmac_of_the_timestamp_a_dot_and_the_body():
    body = b'{"result":"confirmed"}'

    assert webhook.signature(SECRET, "1767603600", body) == "sha256=" + hmac.new(
        SECRET.encode(), b"1767603600." + body, hashlib.sha256).hexdigest()


def test_a_callback_signed_now_is_accepted():
    body = b"{}"

    webhook.verify(SECRET, timestamp="1000", signature_header=webhook.signature(SECRET, "1000", body), body=body,
                   now=1000 + 300)


@pytest.mark.parametrize(("timestamp", "signature"), [
    ("1000", None), (None, "sha256=00"), ("10e2", "x"), ("1000", "sha256=" + "0" * 64), ("", "")])
def test_a_callback_without_a_right_signature_is_refused(timestamp, signature):
    with pytest.raises(CallbackSignatureInvalid):
        webhook.verify(SECRET, timestamp=timestamp, signature_header=signature, body=b"{}", now=1000)


@pytest.mark.parametrize("now", [1000 + 301, 1000 - 301])
def test_a_callback_more_than_five_minutes_from_our_clock_is_stale(now):
    with pytest.raises(CallbackStale):
        webhook.verify(SECRET, timestamp="1000", signature_header=webhook.signature(SECRET, "1000", b"{}"),
                       body=b"{}", now=now)


def test_without_a_secret_no_callback_is_accepted():
    with pytest.raises(CallbackSignatureInvalid):
        webhook.verify("", timestamp="1000", signature_header=webhook.signature("", "1000", b"{}"), body=b"{}",
                       now=1000)
