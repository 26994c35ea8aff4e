"""RFC 6238 time-based codes: the published vectors, the drift window, replay, and what a
person might type instead of six digits."""

from __future__ import annotations

import base64
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from watchword.methods.totp import code_at, match_totp, provisioning_uri, time_step

# RFC 6238 Appendix B: the SHA-1 seed is the ASCII string "12345678901234567890".
RFC_SECRET = base64.b32encode(b"12345678901234567890").decode()

# (Unix time, the RFC's 8-digit TOTP); a 6-digit code is the last six digits of the same value.
RFC_VECTORS = [
    (59, "94287082"),
    (1111111109, "07081804"),
    (1111111111, "14050471"),
    (1234567890, "89005924"),
    (2000000000, "69279037"),
    (20000000000, "65353130"),
]


def at(unix: int) -> datetime:
    return datetime.fromtimestamp(unix, tz=timezone.utc)


@pytest.mark.parametrize(("unix", "rfc_code"), RFC_VECTORS)
def test_code_at_matches_the_rfc_6238_sha1_vectors(unix, rfc_code):
    assert code_at(RFC_SECRET, unix // 30) == rfc_code[-6:]


@pytest.mark.parametrize(("unix", "rfc_code"), RFC_VECTORS)
def test_match_totp_accepts_the_rfc_code_at_its_time_and_reports_its_step(unix, rfc_code):
    outcome = match_totp(RFC_SECRET, rfc_code[-6:], now=at(unix), after_step=-1)

    assert outcome.ok
    assert outcome.step == unix // 30


def test_time_step_counts_thirty_second_steps_from_the_unix_epoch():
    assert time_step(at(59)) == 1
    assert time_step(at(60)) == 2
    assert time_step(at(1111111109)) == 37037036


def test_a_code_from_one_step_earlier_is_accepted_for_clock_drift():
    now = 1234567890
    earlier = code_at(RFC_SECRET, now // 30 - 1)

    outcome = match_totp(RFC_SECRET, earlier, now=at(now), after_step=-1)

    assert outcome.ok and outcome.step == now // 30 - 1


def test_a_code_from_one_step_later_is_accepted_for_clock_drift():
    now = 1234567890
    later = code_at(RFC_SECRET, now // 30 + 1)

    outcome = match_totp(RFC_SECRET, later, now=at(now), after_step=-1)

    assert outcome.ok and outcome.step == now // 30 + 1


@pytest.mark.parametrize("offset", [-2, 2])
def test_a_code_two_steps_away_is_refused_as_invalid(offset):
    now = 1234567890
    code = code_at(RFC_SECRET, now // 30 + offset)
    assert code not in {code_at(RFC_SECRET, now // 30 + d) for d in (-1, 0, 1)}  # the vector set is not degenerate

    outcome = match_totp(RFC_SECRET, code, now=at(now), after_step=-1)

    assert not outcome.ok
    assert outcome.reason == "invalid"


def test_a_code_whose_step_was_already_accepted_is_refused_as_reused():
    now = 1111111111
    code = code_at(RFC_SECRET, now // 30)

    outcome = match_totp(RFC_SECRET, code, now=at(now), after_step=now // 30)

    assert not outcome.ok
    assert outcome.reason == "reused"


def test_an_older_code_is_refused_once_a_newer_step_was_accepted():
    now = 1111111111
    older = code_at(RFC_SECRET, now // 30 - 1)

    outcome = match_totp(RFC_SECRET, older, now=at(now), after_step=now // 30)

    assert not outcome.ok
    assert outcome.reason == "reused"


def test_the_next_code_is_accepted_after_the_previous_step_was_used():
    now = 1111111111
    code = code_at(RFC_SECRET, now // 30)

    outcome = match_totp(RFC_SECRET, code, now=at(now), after_step=now // 30 - 1)

    assert outcome.ok and outcome.step == now // 30


def test_a_wrong_code_is_refused_as_invalid():
    now = 1111111111
    valid = {code_at(RFC_SECRET, now // 30 + d) for d in (-1, 0, 1)}
    wrong = next(f"{n:06d}" for n in range(1000000) if f"{n:06d}" not in valid)

    outcome = match_totp(RFC_SECRET, wrong, now=at(now), after_step=-1)

    assert not outcome.ok
    assert outcome.reason == "invalid"


@pytest.mark.parametrize("typed", ["050 471", "050-471", " 050471 "])
def test_a_code_typed_with_spaces_or_a_dash_is_accepted(typed):
    assert match_totp(RFC_SECRET, typed, now=at(1111111111), after_step=-1).ok


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "05047",  # five digits
        "0504711",  # seven digits
        "abcdef",
        "05047a",
        "+50471",
        "０５０４７１",  # full-width digits look right but are not ASCII
        "٠٥٠٤٧١",  # Arabic-Indic digits
        "050471\x00",
        None,
        50471,
        b"050471",
    ],
    ids=repr,
)
def test_anything_but_six_ascii_digits_is_refused_as_malformed(typed):
    outcome = match_totp(RFC_SECRET, typed, now=at(1111111111), after_step=-1)

    assert not outcome.ok
    assert outcome.reason == "malformed"


def _parse(uri: str):
    parts = urlsplit(uri)
    return parts, {key: values[0] for key, values in parse_qs(parts.query).items()}


def test_the_provisioning_uri_is_an_otpauth_totp_uri_labelled_issuer_colon_account():
    parts, _ = _parse(provisioning_uri(RFC_SECRET, account="adele.vance@contoso.example", issuer="Contoso"))

    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    assert unquote(parts.path) == "/Contoso:adele.vance@contoso.example"


def test_the_provisioning_uri_carries_the_secret_and_the_issuer():
    _, query = _parse(provisioning_uri(RFC_SECRET, account="adele.vance@contoso.example", issuer="Contoso"))

    assert query["secret"] == RFC_SECRET
    assert query["issuer"] == "Contoso"


def test_the_provisioning_uri_spells_out_sha1_six_digits_and_thirty_seconds():
    _, query = _parse(provisioning_uri(RFC_SECRET, account="adele.vance@contoso.example", issuer="Contoso"))

    assert (query["algorithm"], query["digits"], query["period"]) == ("SHA1", "6", "30")


def test_the_provisioning_uri_names_each_parameter_once():
    uri = provisioning_uri(RFC_SECRET, account="adele.vance@contoso.example", issuer="Contoso")

    names = [pair.split("=")[0] for pair in urlsplit(uri).query.split("&")]
    assert len(names) == len(set(names))


def test_an_issuer_with_a_space_is_percent_encoded_and_reads_back_unchanged():
    parts, query = _parse(provisioning_uri(RFC_SECRET, account="adele.vance@contoso.example", issuer="Contoso Ltd"))

    assert " " not in parts.path and " " not in parts.query
    assert unquote(parts.path) == "/Contoso Ltd:adele.vance@contoso.example"
    assert query["issuer"] == "Contoso Ltd"
