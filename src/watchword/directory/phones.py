"""Phone numbers as people type them, stored as E.164 (+ extension), shown in canonical form.

Parsing and validity come from ``phonenumbers`` (libphonenumber's metadata). The canonical
display follows the reference system: ``+44 2079460958`` (one space after the country code),
extension as ``x123``.
"""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers
from phonenumbers import NumberParseException

MAX_INPUT = 40


class PhoneNumberInvalid(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class PhoneNumber:
    e164: str
    extension: str = ""

    @property
    def stored(self) -> str:
        return f"{self.e164}x{self.extension}" if self.extension else self.e164

    @property
    def display(self) -> str:
        parsed = phonenumbers.parse(self.e164)
        text = f"+{parsed.country_code} {phonenumbers.national_significant_number(parsed)}"
        return f"{text} x{self.extension}" if self.extension else text


def parse_phone(text: str, *, default_region: str = "GB", allow_extension: bool = False) -> PhoneNumber:
    value = (text or "").strip()
    if not value:
        raise PhoneNumberInvalid("Enter a phone number.")
    if len(value) > MAX_INPUT:
        raise PhoneNumberInvalid(f"A phone number has at most {MAX_INPUT} characters.")
    if value.startswith("00"):
        value = "+" + value[2:]
    try:
        parsed = phonenumbers.parse(value, default_region)
    except NumberParseException:
        raise PhoneNumberInvalid("This is not a phone number. Include the country code, like +44 20 7946 0958.") from None
    if not phonenumbers.is_valid_number(parsed):
        raise PhoneNumberInvalid("This number cannot exist. Check the digits and the country code.")
    extension = phonenumbers.normalize_digits_only(parsed.extension) if parsed.extension else ""
    if parsed.extension and len(extension) != len(parsed.extension.strip()):
        raise PhoneNumberInvalid("An extension is digits only, like x123.")
    if extension and not allow_extension:
        raise PhoneNumberInvalid("Only an office phone can have an extension.")
    if extension and (not extension.isdigit() or len(extension) > 10):
        raise PhoneNumberInvalid("An extension is up to 10 digits.")
    return PhoneNumber(e164=phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164), extension=extension)


def display_phone(stored: str) -> str:
    if not stored:
        return ""
    e164, _, ext = stored.partition("x")
    try:
        return PhoneNumber(e164=e164, extension=ext).display
    except NumberParseException:
        return stored
