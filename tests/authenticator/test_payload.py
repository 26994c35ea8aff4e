"""Parsing what a QR code holds: Watchword activation payloads and otpauth:// URIs."""

from __future__ import annotations

import pytest
from watchword_authenticator.errors import PayloadInvalid
from watchword_authenticator.payload import ActivationPayload, OtpauthPayload, parse_payload

from tests.authenticator.support import EXAMPLE_SECRET, EXAMPLE_URI

ACTIVATION = ("watchword-push://activate?server=https%3A%2F%2Fmfa.contoso.example%2F&code=Q7M2-KX9P"
              "&account=adele%40contoso.example&issuer=Contoso%20Ltd")


def test_an_activation_payload_gives_server_code_account_and_issuer():
    payload = parse_payload(ACTIVATION)

    assert payload == ActivationPayload(server="https://mfa.contoso.example", code="Q7M2-KX9P",
                                        account="adele@contoso.example", issuer="Contoso Ltd")


def test_an_activation_payload_may_point_at_plain_http_on_loopback_for_development():
    payload = parse_payload("watchword-push://activate?server=http%3A%2F%2F127.0.0.1%3A8000&code=abc")

    assert payload.server == "http://127.0.0.1:8000"


def test_an_activation_payload_keeps_a_server_path_prefix():
    payload = parse_payload("watchword-push://activate?server=https%3A%2F%2Fcontoso.example%2Fmfa%2F&code=abc")

    assert payload.server == "https://contoso.example/mfa"


def test_the_activation_code_is_hidden_from_repr():
    assert "Q7M2-KX9P" not in repr(parse_payload(ACTIVATION))


def test_an_otpauth_uri_from_the_server_gives_issuer_account_and_seed():
    payload = parse_payload(EXAMPLE_URI + "&algorithm=SHA1&digits=6&period=30")

    assert isinstance(payload, OtpauthPayload)
    assert (payload.issuer, payload.account) == ("Contoso", "adele@contoso.example")
    assert (payload.totp.secret, payload.totp.digits, payload.totp.period, payload.totp.algorithm) == (
        EXAMPLE_SECRET, 6, 30, "SHA1")


def test_an_otpauth_uri_without_issuer_parameter_takes_it_from_the_label():
    payload = parse_payload(f"otpauth://totp/GitHub:adele?secret={EXAMPLE_SECRET.lower()}")

    assert (payload.issuer, payload.account, payload.totp.secret) == ("GitHub", "adele", EXAMPLE_SECRET)


def test_an_otpauth_uri_may_ask_for_eight_digits_sha256_and_sixty_seconds():
    payload = parse_payload(f"otpauth://totp/adele?secret={EXAMPLE_SECRET}&digits=8&algorithm=sha256&period=60")

    assert (payload.issuer, payload.totp.digits, payload.totp.algorithm, payload.totp.period) == ("", 8, "SHA256", 60)


def test_the_seed_is_hidden_from_repr():
    assert EXAMPLE_SECRET not in repr(parse_payload(EXAMPLE_URI))


@pytest.mark.parametrize(("text", "complaint"), [
    ("", "not a Watchword activation payload"),
    ("https://mfa.contoso.example/enrol", "not a Watchword activation payload"),
    ("watchword-push://enrol?server=https%3A%2F%2Fa.example&code=abc", "must start with watchword-push://activate"),
    ("watchword-push://activate?server=https%3A%2F%2Fa.example", "no activation code"),
    ("watchword-push://activate?code=abc", "no server address"),
    ("watchword-push://activate?server=ftp%3A%2F%2Fa.example&code=abc", "must be an https:// URL"),
    ("watchword-push://activate?server=http%3A%2F%2Fmfa.contoso.example&code=abc", "must use https://"),
    ("watchword-push://activate?server=https%3A%2F%2Fa.example%3Fx%3D1&code=abc", "plain base URL"),
    ("watchword-push://activate?server=https%3A%2F%2Fa.example%3A99999&code=abc", "malformed"),
    ("watchword-push://activate?server=https%3A%2F%2Fa.example&code=abc&code=def", "repeats the parameter 'code'"),
    ("otpauth://hotp/Contoso:adele?secret=JBSWY3DPEHPK3PXP&counter=1", "Only time-based"),
    ("otpauth://totp/Contoso:adele", "no secret"),
    ("otpauth://totp/Contoso:?secret=JBSWY3DPEHPK3PXP", "no account name"),
    ("otpauth://totp/Contoso:adele?secret=not*base32!", "not valid Base32"),
    ("otpauth://totp/Contoso:adele?secret=JBSWY3DPEHPK3PXP&digits=5", "digits must be 6, 7 or 8"),
    ("otpauth://totp/Contoso:adele?secret=JBSWY3DPEHPK3PXP&algorithm=MD5", "algorithm must be one of"),
    ("otpauth://totp/Contoso:adele?secret=JBSWY3DPEHPK3PXP&period=0", "period must be between"),
    ("otpauth://totp/Contoso:adele?secret=JBSWY3DPEHPK3PXP&period=thirty", "period must be a whole number"),
])
def test_a_malformed_payload_is_refused_with_a_reason(text, complaint):
    with pytest.raises(PayloadInvalid) as refused:
        parse_payload(text)

    assert complaint in refused.value.message
    assert refused.value.code == "payload_invalid"


def test_a_refusal_never_repeats_the_seed():
    with pytest.raises(PayloadInvalid) as refused:
        parse_payload(f"otpauth://totp/Contoso:adele?secret={EXAMPLE_SECRET}&digits=12")

    assert EXAMPLE_SECRET not in refused.value.message
