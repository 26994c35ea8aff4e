"""Named locations and MFA trusted IPs: ranges parsed and checked once (malformed, host bits set,
too wide, overlapping, too many), then matched against a sign-in's IPv4 or IPv6 address."""

from __future__ import annotations

import ipaddress

import pytest

from watchword.policy.errors import PolicyInvalid
from watchword.policy.locations import (
    MAX_RANGES,
    MAX_TRUSTED_IPS,
    NamedLocation,
    compile_location,
    parse_address,
    parse_ranges,
)

net = ipaddress.ip_network
addr = ipaddress.ip_address


def refused(values, **kwargs) -> PolicyInvalid:
    with pytest.raises(PolicyInvalid) as raised:
        parse_ranges(values, **kwargs)
    return raised.value


# --- parsing ----------------------------------------------------------------------------------------


def test_ranges_parse_as_typed_ipv4_and_ipv6():
    assert parse_ranges(["10.1.0.0/16", "2001:db8::/48", " 192.0.2.7 ", "2001:db8:1::1"]) == (
        net("10.1.0.0/16"), net("2001:db8::/48"), net("192.0.2.7/32"), net("2001:db8:1::1/128"))


def test_ranges_may_be_one_text_separated_by_commas_spaces_or_new_lines():
    assert parse_ranges("10.1.0.0/16, 10.2.0.0/16\n2001:db8::/48  192.0.2.1") == (
        net("10.1.0.0/16"), net("10.2.0.0/16"), net("2001:db8::/48"), net("192.0.2.1/32"))


def test_no_ranges_is_an_empty_tuple():
    assert parse_ranges([]) == ()
    assert parse_ranges("  ") == ()


@pytest.mark.parametrize("value", ["10.0.0.300/24", "10.0.0.0/33", "not-an-ip", "10.0.0.0/", "2001:db8::g/48",
                                   "10.0.0.0/255.0.255.0", "2001:db8::/129"])
def test_a_malformed_range_is_refused_naming_it_and_its_position(value):
    error = refused(["10.1.0.0/16", value], field="ipRanges")

    assert error.field == "ipRanges[1]"
    assert "is not an IP address or range" in error.public_message
    assert repr(value[:60]) in error.public_message


@pytest.mark.parametrize("value", ["", "   ", 10, None, ["10.0.0.0/16"]])
def test_an_entry_that_is_not_text_is_refused(value):
    error = refused(["10.1.0.0/16", "10.2.0.0/16", value])

    assert error.field == "ranges[2]"


@pytest.mark.parametrize("values", [42, {"10.0.0.0/16": True}, None])
def test_ranges_must_be_a_list_or_a_text(values):
    assert refused(values, field="locations[0].ipRanges").field == "locations[0].ipRanges"


@pytest.mark.parametrize(("value", "start"), [
    ("10.1.2.3/16", "10.1.0.0/16"),
    ("192.0.2.130/25", "192.0.2.128/25"),
    ("2001:db8::1/48", "2001:db8::/48"),
])
def test_a_range_with_host_bits_set_is_refused_showing_where_it_starts(value, start):
    error = refused([value])

    assert error.field == "ranges[0]"
    assert "host bits set" in error.public_message
    assert start in error.public_message


@pytest.mark.parametrize(("value", "accepted"), [
    ("10.0.0.0/8", False),
    ("0.0.0.0/0", False),
    ("10.0.0.0/9", True),
    ("10.128.0.0/9", True),
    ("2000::/3", False),
    ("2000::/15", False),
    ("2001::/16", True),
])
def test_a_range_wider_than_ipv4_slash_9_or_ipv6_slash_16_is_refused(value, accepted):
    if accepted:
        assert parse_ranges([value]) == (net(value),)
    else:
        error = refused(["192.0.2.0/24", value])
        assert error.field == "ranges[1]"
        assert "too wide" in error.public_message


@pytest.mark.parametrize(("values", "first", "second", "index"), [
    (["10.1.0.0/16", "10.1.5.0/24"], "10.1.0.0/16", "10.1.5.0/24", 1),
    (["10.1.5.0/24", "192.0.2.0/24", "10.1.0.0/16"], "10.1.0.0/16", "10.1.5.0/24", 2),
    (["10.1.0.0/16", "10.1.0.0/16"], "10.1.0.0/16", "10.1.0.0/16", 1),
    (["192.0.2.9", "192.0.2.0/24"], "192.0.2.0/24", "192.0.2.9/32", 1),
    (["2001:db8::/32", "2001:db8:5::/48"], "2001:db8::/32", "2001:db8:5::/48", 1),
    (["10.0.0.0/9", "10.1.0.0/16", "10.200.0.0/16", "10.100.0.0/16"], "10.0.0.0/9", "10.1.0.0/16", 1),
], ids=["nested", "nested-apart", "duplicate", "address-in-range", "ipv6", "many"])
def test_overlapping_ranges_in_one_location_are_refused_naming_both(values, first, second, index):
    error = refused(values)

    assert f"{first} and {second} overlap" in error.public_message
    assert error.field == f"ranges[{index}]"


@pytest.mark.parametrize("values", [
    ["10.1.0.0/25", "10.1.0.128/25"],
    ["10.1.0.0/16", "10.2.0.0/16", "10.3.0.0/16"],
    ["10.0.0.0/24", "::ffff:10.0.0.0/120"],
    ["2001:db8::/48", "2001:db8:1::/48", "10.1.0.0/16"],
], ids=["adjacent", "disjoint", "ipv4-and-mapped-ipv6", "mixed"])
def test_ranges_that_only_touch_are_accepted(values):
    assert len(parse_ranges(values)) == len(values)


def test_at_most_2000_ranges():
    ranges = [f"10.{i // 256}.{i % 256}.0/24" for i in range(MAX_RANGES + 1)]

    assert len(parse_ranges(ranges[:MAX_RANGES])) == MAX_RANGES
    error = refused(ranges, field="ipRanges")
    assert error.field == "ipRanges"
    assert str(MAX_RANGES + 1) in error.public_message


def test_a_smaller_limit_for_the_mfa_trusted_ips():
    ranges = [f"192.0.{i}.0/24" for i in range(MAX_TRUSTED_IPS + 1)]

    assert len(parse_ranges(ranges[:MAX_TRUSTED_IPS], limit=MAX_TRUSTED_IPS)) == MAX_TRUSTED_IPS
    assert "At most 50" in refused(ranges, limit=MAX_TRUSTED_IPS).public_message


# --- named locations --------------------------------------------------------------------------------


def test_a_named_location_compiles_with_its_ranges():
    location = compile_location(id=5, name="  Head office ", ranges="10.1.0.0/16 2001:db8:1::/48", trusted=True)

    assert location == NamedLocation(id="5", name="Head office", ranges=(net("10.1.0.0/16"), net("2001:db8:1::/48")),
                                     trusted=True)


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": ""}, "locations[3].displayName"),
    ({"name": None}, "locations[3].displayName"),
    ({"name": "x" * 257}, "locations[3].displayName"),
    ({"trusted": "yes"}, "locations[3].isTrusted"),
    ({"ranges": []}, "locations[3].ipRanges"),
    ({"ranges": ["10.1.0.0/16", "10.1.0.0/8"]}, "locations[3].ipRanges[1]"),
    ({"ranges": ["10.1.0.0/16", "10.1.2.0/24"]}, "locations[3].ipRanges[1]"),
])
def test_a_bad_named_location_is_refused_naming_the_field(fields, field):
    values = {"id": "x", "name": "Office", "ranges": ["10.1.0.0/16"], "trusted": False, **fields}

    with pytest.raises(PolicyInvalid) as raised:
        compile_location(field="locations[3]", **values)

    assert raised.value.field == field


def test_without_a_field_prefix_the_fields_are_bare():
    with pytest.raises(PolicyInvalid) as raised:
        compile_location(id="x", name="Office", ranges=["nope"])

    assert raised.value.field == "ipRanges[0]"


OFFICE = compile_location(id="office", name="Office", ranges=["10.1.0.0/16", "2001:db8:1::/48"])


@pytest.mark.parametrize(("address", "inside"), [
    ("10.1.0.0", True), ("10.1.255.255", True), ("10.2.0.0", False), ("10.0.255.255", False),
    ("2001:db8:1::", True), ("2001:db8:1:ffff:ffff:ffff:ffff:ffff", True), ("2001:db8:2::1", False),
    ("::ffff:10.1.0.1", False),  # a mapped address is IPv6 here: parse_address turns it into IPv4 first
])
def test_a_location_contains_the_addresses_in_its_ranges_of_the_same_version(address, inside):
    assert OFFICE.contains(addr(address)) is inside


def test_a_location_never_contains_an_unknown_address():
    assert not OFFICE.contains(None)


# --- the sign-in's address -------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "address"), [
    ("10.1.2.3", addr("10.1.2.3")),
    ("2001:db8::1", addr("2001:db8::1")),
    ("fe80::1%eth0", addr("fe80::1")),
    ("::ffff:10.1.2.3", addr("10.1.2.3")),
    ("", None),
    (None, None),
    ("unknown", None),
    ("10.1.2.3:443", None),
])
def test_parse_address_reads_an_address_or_gives_none(text, address):
    assert parse_address(text) == address


def test_an_ipv4_client_behind_a_dual_stack_listener_is_found_in_its_ipv4_location():
    assert OFFICE.contains(parse_address("::ffff:10.1.2.3"))
