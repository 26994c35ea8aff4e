"""Phone numbers as people type them: stored as E.164 (plus extension), shown the reference's
way (``+44 2079460958``), and a clear message, never a crash, for anything else."""

from __future__ import annotations

import pytest

from watchword.directory.phones import PhoneNumberInvalid, display_phone, parse_phone


@pytest.mark.parametrize("typed", [
    "020 7946 0958",
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "0044 20 7946 0958",
    "+442079460958",
    "  020-7946-0958  ",
])
def test_a_london_number_typed_any_usual_way_is_stored_as_e164(typed):
    assert parse_phone(typed).stored == "+442079460958"


def test_a_national_number_is_read_in_the_default_region():
    assert parse_phone("(425) 555-0100", default_region="US").stored == "+14255550100"


def test_a_number_is_shown_with_one_space_after_the_country_code():
    assert parse_phone("020 7946 0958").display == "+44 2079460958"


def test_an_office_number_with_an_extension_keeps_the_extension():
    number = parse_phone("+1 (425) 555-0100 x123", allow_extension=True)

    assert (number.e164, number.extension) == ("+14255550100", "123")
    assert number.stored == "+14255550100x123"
    assert number.display == "+1 4255550100 x123"


@pytest.mark.parametrize("typed", ["+1 (425) 555-0100 x123", "+1 425 555 0100 ext. 123", "+1 425 555 0100 ext 123"])
def test_an_extension_is_refused_where_it_is_not_allowed(typed):
    with pytest.raises(PhoneNumberInvalid) as raised:
        parse_phone(typed, allow_extension=False)

    assert raised.value.message == "Only an office phone can have an extension."


def test_a_mobile_number_is_stored_without_an_extension():
    assert parse_phone("07400 123456").stored == "+447400123456"


def test_an_extension_typed_in_another_script_is_stored_in_ascii_digits():
    number = parse_phone("+1 (425) 555-0100 x١٢٣", allow_extension=True)

    assert number.stored == "+14255550100x123"


@pytest.mark.parametrize(("typed", "message"), [
    ("", "Enter a phone number."),
    ("   ", "Enter a phone number."),
    ("call me", "This is not a phone number. Include the country code, like +44 20 7946 0958."),
    ("+", "This is not a phone number. Include the country code, like +44 20 7946 0958."),
    ("\x00", "This is not a phone number. Include the country code, like +44 20 7946 0958."),
    ("\ud800\udfff", "This is not a phone number. Include the country code, like +44 20 7946 0958."),
    ("+44 20 7946 095", "This number cannot exist. Check the digits and the country code."),
    ("+999 1234 5678", "This is not a phone number. Include the country code, like +44 20 7946 0958."),
    ("1" * 41, "A phone number has at most 40 characters."),
    ("+44 20 7946 0958" + " " * 30 + "9", "A phone number has at most 40 characters."),
], ids=repr)
def test_input_that_is_not_a_valid_number_gives_phone_number_invalid_with_a_message(typed, message):
    with pytest.raises(PhoneNumberInvalid) as raised:
        parse_phone(typed)

    assert raised.value.message == message
    assert str(raised.value) == message


def test_none_is_treated_as_no_number():
    with pytest.raises(PhoneNumberInvalid, match="Enter a phone number"):
        parse_phone(None)


def test_phone_number_invalid_is_a_value_error():
    assert issubclass(PhoneNumberInvalid, ValueError)


def test_display_phone_shows_a_stored_number_in_canonical_form():
    assert display_phone("+442079460958") == "+44 2079460958"


def test_display_phone_shows_a_stored_extension_after_the_number():
    assert display_phone("+14255550100x123") == "+1 4255550100 x123"


def test_display_phone_shows_nothing_for_no_number():
    assert display_phone("") == ""


@pytest.mark.parametrize("stored", ["not a number", "+", "x123"])
def test_display_phone_shows_an_unparsable_stored_value_as_it_is(stored):
    assert display_phone(stored) == stored


def test_what_parse_phone_stores_display_phone_reads_back():
    number = parse_phone("+1 (425) 555-0100 x123", allow_extension=True)

    assert display_phone(number.stored) == number.display
