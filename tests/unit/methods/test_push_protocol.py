"""The server's checks of the push protocol, fed by the companion authenticator's own signing
code (the client half, written separately), so both halves are held to docs/push-protocol.md."""

from __future__ import annotations

import pytest

from watchword.methods.errors import PushProtocolError
from watchword.methods.push_protocol import (
    ChallengeView,
    load_public_key,
    new_number,
    verify_answer,
    verify_device_token,
)

client = pytest.importorskip("watchword_authenticator.crypto",
                             reason="the companion authenticator is not installed (pip install -e ./authenticator)")

NOW = 1_764_282_000


@pytest.fixture
def device():
    key = client.new_device_key()
    return key, load_public_key(client.public_key_b64(key))


def challenge(number="42", *, created=NOW - 5, answered=False, devices=("dv_1",)):
    return ChallengeView(id="ch_1", device_ids=frozenset(devices), number=number, created=created, answered=answered)


def answer(key, *, decision="approve", number="42", now=NOW, device_id="dv_1", challenge_id="ch_1", nonce=None):
    return client.signed_answer(key, device_id=device_id, challenge_id=challenge_id, decision=decision,
                                number=number if decision == "approve" else None, now=now, nonce=nonce)


def refused(code, fn, *args, **kwargs):
    with pytest.raises(PushProtocolError) as raised:
        fn(*args, **kwargs)
    assert raised.value.code == code
    return raised.value


# --- device tokens ------------------------------------------------------------------------------

def test_a_token_signed_by_the_registered_device_is_accepted(device):
    key, public = device
    token = verify_device_token(client.device_token(key, device_id="dv_1", now=NOW), public_key=public,
                                now=NOW + 3, nonce_seen=False)
    assert token.device_id == "dv_1"


def test_a_token_signed_by_another_key_is_refused(device):
    _, public = device
    other = client.new_device_key()
    refused("signature_invalid", verify_device_token, client.device_token(other, device_id="dv_1", now=NOW),
            public_key=public, now=NOW, nonce_seen=False)


def test_a_token_for_a_device_that_is_not_registered_is_refused(device):
    key, _ = device
    refused("device_unknown", verify_device_token, client.device_token(key, device_id="dv_9", now=NOW),
            public_key=None, now=NOW, nonce_seen=False)


def test_a_token_used_twice_is_refused(device):
    key, public = device
    header = client.device_token(key, device_id="dv_1", now=NOW)
    refused("token_replayed", verify_device_token, header, public_key=public, now=NOW, nonce_seen=True)


@pytest.mark.parametrize("skew", [61, -61, 3600])
def test_a_token_from_a_clock_more_than_a_minute_off_is_refused_and_says_our_time(device, skew):
    key, public = device
    error = refused("stale_token", verify_device_token, client.device_token(key, device_id="dv_1", now=NOW + skew),
                    public_key=public, now=NOW, nonce_seen=False)
    assert error.detail["server_time"] == NOW


@pytest.mark.parametrize("header", ["", "Bearer abc", "Watchword-Device nodot", "Watchword-Device !!!.x",
                                    "Watchword-Device e30.sig", None, 12, "Watchword-Device " + "A" * 5000])
def test_a_malformed_token_is_refused_with_a_stable_code(device, header):
    _, public = device
    refused("token_invalid", verify_device_token, header, public_key=public, now=NOW, nonce_seen=False)


def test_a_key_that_is_not_p256_is_refused():
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    other_curve = ec.generate_private_key(ec.SECP384R1()).public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    refused("public_key_invalid", load_public_key, client.b64url_encode(other_curve))
    refused("public_key_invalid", load_public_key, "not base64!")


# --- answers ------------------------------------------------------------------------------------

def test_an_approval_with_the_right_number_approves(device):
    key, public = device
    result = verify_answer(answer(key), public_key=public, challenge=challenge(), now=NOW, nonce_seen=False)
    assert result.approved and result.decision == "approve"


def test_an_approval_with_the_wrong_number_is_a_valid_answer_that_does_not_approve(device):
    key, public = device
    result = verify_answer(answer(key, number="17"), public_key=public, challenge=challenge(), now=NOW,
                           nonce_seen=False)
    assert not result.approved and not result.number_matches


@pytest.mark.parametrize("decision", ["deny", "fraud"])
def test_deny_and_report_are_accepted_without_a_number(device, decision):
    key, public = device
    result = verify_answer(answer(key, decision=decision), public_key=public, challenge=challenge(), now=NOW,
                           nonce_seen=False)
    assert result.decision == decision and not result.approved


def test_an_answer_with_a_changed_field_fails_its_signature(device):
    key, public = device
    body = answer(key, decision="deny")
    body["decision"] = "approve"
    body["number"] = "42"
    refused("signature_invalid", verify_answer, body, public_key=public, challenge=challenge(), now=NOW,
            nonce_seen=False)


def test_a_replayed_answer_is_refused(device):
    key, public = device
    refused("answer_replayed", verify_answer, answer(key), public_key=public, challenge=challenge(), now=NOW,
            nonce_seen=True)


def test_an_answer_to_a_challenge_already_answered_is_refused(device):
    key, public = device
    refused("challenge_answered", verify_answer, answer(key), public_key=public,
            challenge=challenge(answered=True), now=NOW, nonce_seen=False)


def test_an_answer_after_the_challenge_expired_is_refused(device):
    key, public = device
    refused("challenge_expired", verify_answer, answer(key, now=NOW + 70), public_key=public,
            challenge=challenge(created=NOW), now=NOW + 70, nonce_seen=False)


def test_an_answer_signed_long_ago_is_refused_as_stale(device):
    key, public = device
    refused("stale_answer", verify_answer, answer(key, now=NOW - 300), public_key=public,
            challenge=challenge(created=NOW - 10), now=NOW, nonce_seen=False)


def test_an_answer_from_a_device_removed_since_is_refused(device):
    key, public = device
    refused("device_unknown", verify_answer, answer(key), public_key=None, challenge=challenge(), now=NOW,
            nonce_seen=False)


def test_an_answer_from_another_persons_device_is_refused(device):
    key, public = device
    refused("device_unknown", verify_answer, answer(key, device_id="dv_other"), public_key=public,
            challenge=challenge(devices=("dv_1",)), now=NOW, nonce_seen=False)


def test_an_answer_to_an_unknown_challenge_is_refused(device):
    key, public = device
    refused("challenge_unknown", verify_answer, answer(key, challenge_id="ch_9"), public_key=public,
            challenge=challenge(), now=NOW, nonce_seen=False)


@pytest.mark.parametrize("mutate", [
    lambda b: b.pop("nonce"),
    lambda b: b.update(time="1764282000"),
    lambda b: b.update(decision="maybe"),
    lambda b: b.update(extra="x"),
    lambda b: b.update(number="4" * 10_000),
])
def test_a_malformed_answer_is_refused_with_a_stable_code(device, mutate):
    key, public = device
    body = answer(key)
    mutate(body)
    refused("answer_malformed", verify_answer, body, public_key=public, challenge=challenge(), now=NOW,
            nonce_seen=False)


def test_numbers_are_two_digits_and_vary():
    numbers = {new_number() for _ in range(500)}
    assert all(len(n) == 2 and 10 <= int(n) <= 99 for n in numbers)
    assert len(numbers) > 60
