"""Phone numbers as people in many countries really type them: stored as E.164 (plus an office
extension), shown the reference's way, or refused with a specific message; and no input at all
makes the parser raise anything but that message."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watchword.directory.phones import (
    PhoneNumberInvalid,
    check_reachable,
    country_choices,
    parse_phone,
    valid_region,
)

# (typed, country picked or default, stored)
VALID = [
    # United Kingdom
    ("020 7946 0958", "GB", "+442079460958"),
    ("+44 20 7946 0958", "GB", "+442079460958"),
    ("+44 2079460958", "GB", "+442079460958"),  # the reference's own "+44 xxxxxxxx" style
    ("+44 (0)20 7946 0958", "GB", "+442079460958"),
    ("0044 20 7946 0958", "GB", "+442079460958"),
    ("(020) 7946-0958", "GB", "+442079460958"),
    ("07400 123456", "GB", "+447400123456"),
    ("+44 7400 123456", "GB", "+447400123456"),
    ("+447400123456", "US", "+447400123456"),  # a country code wins over the picker
    ("0161 496 0000", "GB", "+441614960000"),
    ("0131 496 0000", "GB", "+441314960000"),
    ("028 9018 1234", "GB", "+442890181234"),
    # Ireland
    ("087 123 4567", "IE", "+353871234567"),
    ("+353 1 234 5678", "GB", "+35312345678"),
    ("01 234 5678", "IE", "+35312345678"),
    # United States and Canada
    ("(425) 555-0100", "US", "+14255550100"),
    ("+1 (425) 555-0100", "GB", "+14255550100"),
    ("425.555.0100", "US", "+14255550100"),
    ("1-425-555-0100", "US", "+14255550100"),
    ("+1 202 555 0143", "GB", "+12025550143"),
    ("(416) 555-0199", "CA", "+14165550199"),
    ("+1 604 555 0123", "GB", "+16045550123"),
    # Germany, Austria, Switzerland
    ("030 123456789", "DE", "+4930123456789"),
    ("+49 30 123456789", "GB", "+4930123456789"),
    ("0151 23456789", "DE", "+4915123456789"),
    ("+49 (0)151 23456789", "GB", "+4915123456789"),
    ("0664 1234567", "AT", "+436641234567"),
    ("+43 1 234567890", "GB", "+431234567890"),
    ("044 668 18 00", "CH", "+41446681800"),
    ("+41 78 123 45 67", "GB", "+41781234567"),
    # France, Belgium, Netherlands, Luxembourg
    ("01 23 45 67 89", "FR", "+33123456789"),
    ("06 12 34 56 78", "FR", "+33612345678"),
    ("+33 6 12 34 56 78", "GB", "+33612345678"),
    ("0470 12 34 56", "BE", "+32470123456"),
    ("+32 2 555 12 12", "GB", "+3225551212"),
    ("06 12345678", "NL", "+31612345678"),
    ("+31 20 123 4567", "GB", "+31201234567"),
    ("+352 621 123 456", "GB", "+352621123456"),
    # Southern and northern Europe
    ("+34 612 34 56 78", "GB", "+34612345678"),
    ("91 123 45 67", "ES", "+34911234567"),
    ("+39 06 1234 5678", "GB", "+390612345678"),  # Italy keeps the leading 0
    ("312 345 6789", "IT", "+393123456789"),
    ("+351 912 345 678", "GB", "+351912345678"),
    ("+46 70 123 45 67", "GB", "+46701234567"),
    ("08-123 456 78", "SE", "+46812345678"),
    ("+47 412 34 567", "GB", "+4741234567"),
    ("+45 20 12 34 56", "GB", "+4520123456"),
    ("+358 40 1234567", "GB", "+358401234567"),
    ("+48 512 345 678", "GB", "+48512345678"),
    ("+420 601 123 456", "GB", "+420601123456"),
    ("+30 691 234 5678", "GB", "+306912345678"),
    # Asia and Oceania
    ("+91 98765 43210", "GB", "+919876543210"),
    ("098765 43210", "IN", "+919876543210"),
    ("+81 90-1234-5678", "GB", "+819012345678"),
    ("03-1234-5678", "JP", "+81312345678"),
    ("+86 138 0013 8000", "GB", "+8613800138000"),
    ("+65 8123 4567", "GB", "+6581234567"),
    ("+852 5123 4567", "GB", "+85251234567"),
    ("+82 10-1234-5678", "GB", "+821012345678"),
    ("0412 345 678", "AU", "+61412345678"),
    ("+61 2 9876 5432", "GB", "+61298765432"),
    ("021 123 4567", "NZ", "+64211234567"),
    # Africa, the Middle East and the Americas
    ("+27 82 123 4567", "GB", "+27821234567"),
    ("0803 123 4567", "NG", "+2348031234567"),
    ("+254 712 345678", "GB", "+254712345678"),
    ("+971 50 123 4567", "GB", "+971501234567"),
    ("+972 50-234-5678", "GB", "+972502345678"),
    ("+55 11 91234-5678", "GB", "+5511912345678"),
    ("+52 55 1234 5678", "GB", "+525512345678"),
    ("+54 9 11 2345-6789", "GB", "+5491123456789"),
    # Digits from other scripts
    ("+44 ٢٠ ٧٩٤٦ ٠٩٥٨", "GB", "+442079460958"),
    ("０２０ ７９４６ ０９５８", "GB", "+442079460958"),
]


@pytest.mark.parametrize(("typed", "country", "stored"), VALID)
def test_a_real_number_typed_the_way_people_type_it_is_stored_as_e164(typed, country, stored):
    assert parse_phone(typed, default_region=country).stored == stored


@pytest.mark.parametrize(("typed", "country", "stored", "shown"), [
    ("+1 (425) 555-0100 x123", "GB", "+14255550100x123", "+1 4255550100 x123"),
    ("+1 425 555 0100 ext. 4567", "GB", "+14255550100x4567", "+1 4255550100 x4567"),
    ("020 7946 0958 ext 12", "GB", "+442079460958x12", "+44 2079460958 x12"),
    ("+49 30 123456789;ext=99", "GB", "+4930123456789x99", "+49 30123456789 x99"),
    ("030 123456789 x 7", "DE", "+4930123456789x7", "+49 30123456789 x7"),
])
def test_an_office_number_keeps_its_extension(typed, country, stored, shown):
    number = parse_phone(typed, default_region=country, allow_extension=True)

    assert (number.stored, number.display) == (stored, shown)


@pytest.mark.parametrize(("typed", "country", "message"), [
    ("", "GB", "Enter a phone number."),
    ("call me maybe", "GB", "This is not a phone number."),
    ("+44 20 7946", "GB", "This number cannot exist."),
    ("020 7946 09588888", "GB", "This number cannot exist."),
    ("+999 123 456 789", "GB", "This is not a phone number."),
    ("+1 555 0100", "GB", "This number cannot exist."),
    ("12", "DE", "This number cannot exist."),
    ("+44 20 7946 0958 x12", "GB", "Only an office phone can have an extension."),
    ("4" * 41, "GB", "A phone number has at most 40 characters."),
])
def test_a_number_that_cannot_be_right_gets_a_specific_message(typed, country, message):
    with pytest.raises(PhoneNumberInvalid) as raised:
        parse_phone(typed, default_region=country)

    assert raised.value.message.startswith(message)


@pytest.mark.parametrize(("typed", "text", "message"), [
    ("09065 123456", False, "Premium-rate numbers can't be used for sign-in"),
    ("+44 870 123 4567", False, "Premium-rate numbers can't be used for sign-in"),
    ("+1 900 555 0123", False, "Premium-rate numbers can't be used for sign-in"),
    ("03000 200 123", False, "This is a company's universal access number"),
    ("020 7946 0958", True, "Text messages can only go to a mobile phone, and this is a landline."),
    ("0800 123 4567", True, "Text messages can only go to a mobile phone, and this is a freephone number."),
    ("056 1234 5678", True, "Text messages can only go to a mobile phone, and this is an internet (VoIP) number."),
])
def test_a_number_that_cannot_take_a_sign_in_call_or_text_is_refused_with_the_reason(typed, text, message):
    with pytest.raises(PhoneNumberInvalid) as raised:
        check_reachable(parse_phone(typed, default_region="GB"), text=text)

    assert raised.value.message.startswith(message)


@pytest.mark.parametrize(("typed", "text"), [
    ("07400 123456", True), ("07400 123456", False), ("020 7946 0958", False), ("0800 123 4567", False),
    ("+1 425 555 0100", True),  # North America: the metadata cannot tell mobile from landline
])
def test_a_number_that_can_take_it_passes(typed, text):
    check_reachable(parse_phone(typed, default_region="GB"), text=text)


def test_the_number_knows_its_country():
    assert parse_phone("+44 7624 123456").region == "IM"  # the Isle of Man shares +44
    assert parse_phone("+1 416 555 0199").region == "CA"


def test_the_country_picker_names_every_country_with_its_calling_code():
    choices = dict(country_choices())
    assert choices["GB"] == "United Kingdom (+44)"
    assert choices["XK"] == "Kosovo (+383)"
    assert len(choices) > 240 and all(valid_region(code) for code in choices)
    assert not valid_region("ZZ") and not valid_region(None)


@settings(max_examples=400, deadline=None)
@given(typed=st.text(max_size=60), country=st.sampled_from(["GB", "US", "DE", "IN", "JP", "BR"]),
       allow_extension=st.booleans())
def test_no_input_makes_the_parser_raise_anything_but_its_message(typed, country, allow_extension):
    try:
        number = parse_phone(typed, default_region=country, allow_extension=allow_extension)
    except PhoneNumberInvalid as exc:
        assert exc.message
        return
    assert number.stored.startswith("+")
    assert number.display
    for text in (True, False):
        try:
            check_reachable(number, text=text)
        except PhoneNumberInvalid as exc:
            assert exc.message


@settings(max_examples=300, deadline=None)
@given(typed=st.from_regex(r"\+?[0-9 ()\-.]{0,30}( ?(x|ext\.?) ?[0-9]{0,12})?", fullmatch=True))
def test_number_shaped_input_never_raises_anything_else_either(typed):
    try:
        parse_phone(typed, allow_extension=True, default_region="GB")
    except PhoneNumberInvalid as exc:
        assert exc.message
