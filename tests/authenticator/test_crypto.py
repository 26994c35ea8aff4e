"""Canonical JSON, signatures, device tokens and signed answers, checked with ``cryptography``
directly (the server's side) rather than with the module's own helpers alone."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from watchword_authenticator import crypto

NOW = 1764282005


def b64url_decode(text: str) -> bytes:
    assert "=" not in text and "+" not in text and "/" not in text
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def server_side_public_key(public_key_b64: str) -> ec.EllipticCurvePublicKey:
    return serialization.load_der_public_key(b64url_decode(public_key_b64))


@pytest.fixture(scope="module")
def device_key():
    return crypto.new_device_key()


def test_canonical_json_sorts_keys_drops_spaces_and_keeps_unicode():
    data = {"b": 1, "a": {"z": [1, 2], "y": "Zoë"}, "c": "✓"}

    assert crypto.canonical_json(data) == '{"a":{"y":"Zoë","z":[1,2]},"b":1,"c":"✓"}'.encode()


def test_canonical_json_matches_the_protocol_definition():
    data = {"time": NOW, "device_id": "dv_1", "nonce": "abc", "note": "Ünïcode"}

    assert crypto.canonical_json(data) == json.dumps(data, sort_keys=True, separators=(",", ":"),
                                                     ensure_ascii=False).encode("utf-8")


def test_the_public_key_is_base64url_der_subject_public_key_info_on_p256(device_key):
    public = server_side_public_key(crypto.public_key_b64(device_key))

    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert public.curve.name == "secp256r1"


def test_a_signature_is_der_ecdsa_sha256_that_cryptography_verifies(device_key):
    data = crypto.canonical_json({"hello": "world"})
    signature = crypto.sign(device_key, data)

    public = server_side_public_key(crypto.public_key_b64(device_key))
    public.verify(b64url_decode(signature), data, ec.ECDSA(hashes.SHA256()))  # raises if wrong


def test_a_signature_does_not_verify_for_other_bytes(device_key):
    signature = crypto.sign(device_key, b'{"decision":"deny"}')

    public = server_side_public_key(crypto.public_key_b64(device_key))
    with pytest.raises(InvalidSignature):
        public.verify(b64url_decode(signature), b'{"decision":"approve"}', ec.ECDSA(hashes.SHA256()))


def test_the_private_key_survives_pem_round_trip(device_key):
    again = crypto.load_private_key(crypto.private_key_to_pem(device_key))

    assert crypto.public_key_b64(again) == crypto.public_key_b64(device_key)


def test_a_device_token_is_scheme_then_claims_dot_signature(device_key):
    header = crypto.device_token(device_key, device_id="dv_42", now=NOW)

    scheme, value = header.split(" ")
    claims_b64, signature_b64 = value.split(".")
    claims_bytes = b64url_decode(claims_b64)
    claims = json.loads(claims_bytes)
    assert scheme == "Watchword-Device"
    assert set(claims) == {"device_id", "time", "nonce"}
    assert (claims["device_id"], claims["time"]) == ("dv_42", NOW)
    assert len(b64url_decode(claims["nonce"])) >= 16
    assert claims_bytes == crypto.canonical_json(claims)
    server_side_public_key(crypto.public_key_b64(device_key)).verify(
        b64url_decode(signature_b64), claims_bytes, ec.ECDSA(hashes.SHA256()))


def test_every_device_token_has_a_fresh_nonce(device_key):
    nonces = {json.loads(b64url_decode(crypto.device_token(device_key, device_id="dv_42", now=NOW)
                                       .split(" ")[1].split(".")[0]))["nonce"] for _ in range(20)}

    assert len(nonces) == 20


def test_a_device_token_verifies_within_sixty_seconds(device_key):
    header = crypto.device_token(device_key, device_id="dv_42", now=NOW)
    public = device_key.public_key()

    assert crypto.verify_device_token(header, public, now=NOW + 60)["device_id"] == "dv_42"
    with pytest.raises(ValueError, match="too far"):
        crypto.verify_device_token(header, public, now=NOW + 61)


def test_a_device_token_with_changed_claims_does_not_verify(device_key):
    header = crypto.device_token(device_key, device_id="dv_42", now=NOW)
    _, value = header.split(" ")
    signature = value.split(".")[1]
    forged_claims = crypto.b64url_encode(crypto.canonical_json({"device_id": "dv_43", "time": NOW,
                                                                 "nonce": crypto.new_nonce()}))

    with pytest.raises(ValueError, match="signature"):
        crypto.verify_device_token(f"Watchword-Device {forged_claims}.{signature}", device_key.public_key(), now=NOW)


def test_a_device_token_from_another_key_does_not_verify(device_key):
    header = crypto.device_token(crypto.new_device_key(), device_id="dv_42", now=NOW)

    with pytest.raises(ValueError, match="signature"):
        crypto.verify_device_token(header, device_key.public_key(), now=NOW)


def test_an_answer_is_signed_over_the_canonical_json_of_all_other_fields(device_key):
    body = crypto.signed_answer(device_key, device_id="dv_42", challenge_id="ch_7", decision="approve",
                                number="42", now=NOW)

    signed = {name: value for name, value in body.items() if name != "signature"}
    assert set(signed) == {"device_id", "challenge_id", "number", "decision", "nonce", "time"}
    assert (signed["number"], signed["decision"], signed["time"]) == ("42", "approve", NOW)
    server_side_public_key(crypto.public_key_b64(device_key)).verify(
        b64url_decode(body["signature"]), crypto.canonical_json(signed), ec.ECDSA(hashes.SHA256()))


@pytest.mark.parametrize("decision", ["deny", "fraud"])
def test_a_refusal_sends_an_empty_number_whatever_was_typed(device_key, decision):
    body = crypto.signed_answer(device_key, device_id="dv_42", challenge_id="ch_7", decision=decision,
                                number="42", now=NOW)

    assert body["number"] == ""
    assert crypto.verify_signature(device_key.public_key(), crypto.canonical_json(
        {name: value for name, value in body.items() if name != "signature"}), body["signature"])


def test_approving_without_the_number_is_refused(device_key):
    with pytest.raises(ValueError, match="number"):
        crypto.signed_answer(device_key, device_id="dv_42", challenge_id="ch_7", decision="approve",
                             number=None, now=NOW)


def test_an_unknown_decision_is_refused(device_key):
    with pytest.raises(ValueError, match="decision"):
        crypto.signed_answer(device_key, device_id="dv_42", challenge_id="ch_7", decision="maybe",
                             number="42", now=NOW)
