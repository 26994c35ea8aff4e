"""Phone numbers as people type them, stored as E.164 (+ extension), shown in canonical form.

Parsing and validity come from ``phonenumbers`` (libphonenumber's metadata). A number typed
without a country code is read in the country the person picked, or the installation's default
(``WATCHWORD_DEFAULT_COUNTRY``). The canonical display follows the reference system:
``+44 2079460958`` (one space after the country code), extension as ``x123``.

Whether a number can be used to sign in is a second question (``check_reachable``): a
premium-rate or voicemail number must not be called, and a text can only go to a mobile.
"""

from __future__ import annotations

from dataclasses import dataclass

import functools

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType

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
    def region(self) -> str:
        """ISO 3166 code of the number's country ("GB"), or "" when it has none (e.g. +800)."""
        return phonenumbers.region_code_for_number(phonenumbers.parse(self.e164)) or ""

    @property
    def kind(self) -> int:
        return phonenumbers.number_type(phonenumbers.parse(self.e164))

    @property
    def display(self) -> str:
        parsed = phonenumbers.parse(self.e164)
        text = f"+{parsed.country_code} {phonenumbers.national_significant_number(parsed)}"
        return f"{text} x{self.extension}" if self.extension else text


def default_region() -> str:
    from django.conf import settings

    return getattr(settings, "DEFAULT_COUNTRY", "GB")


def country_choices() -> list[tuple[str, str]]:
    """Every country libphonenumber knows, as (ISO code, "United Kingdom (+44)"), by name."""
    return _country_choices()


# Regions whose numbers share another country's metadata, so libphonenumber names none.
_NAMES = {"AC": "Ascension Island", "BL": "Saint Barthélemy", "EH": "Western Sahara", "MF": "Saint Martin",
          "TA": "Tristan da Cunha", "XK": "Kosovo"}


@functools.lru_cache(maxsize=1)
def _country_choices() -> list[tuple[str, str]]:
    from phonenumbers.geocoder import country_name_for_number

    choices = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(region)
        name = _NAMES.get(region) or (country_name_for_number(example, "en") if example else "")
        code = phonenumbers.country_code_for_region(region)
        choices.append((region, f"{name or region} (+{code})"))
    return sorted(choices, key=lambda choice: choice[1])


def valid_region(value: object) -> bool:
    return isinstance(value, str) and value.upper() in phonenumbers.SUPPORTED_REGIONS


def parse_phone(text: str, *, default_region: str | None = None, allow_extension: bool = False) -> PhoneNumber:
    if default_region is None:
        default_region = globals()["default_region"]()
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


# What a number can be used for in sign-in. Fixed-line numbers take calls; a text needs a mobile
# (or a number that may be either, as in North America, where the metadata cannot tell).
_NEVER = {
    PhoneNumberType.PREMIUM_RATE: "Premium-rate numbers can't be used for sign-in: calls and texts to them cost "
                                  "money. Use your own mobile or landline number.",
    PhoneNumberType.SHARED_COST: "Shared-cost numbers can't be used for sign-in. Use your own mobile or landline "
                                 "number.",
    PhoneNumberType.VOICEMAIL: "This is a voicemail access number; it can't answer a sign-in call. Use your own "
                               "phone number.",
    PhoneNumberType.PAGER: "Pagers can't receive sign-in calls or codes. Use a mobile or landline number.",
    PhoneNumberType.UAN: "This is a company's universal access number; it can't reach you personally. Use your "
                         "own phone number.",
}
_TEXTABLE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}


def check_reachable(number: PhoneNumber, *, text: bool) -> None:
    """Refuse, with a specific message, a number that cannot take a sign-in call (``text`` =
    False) or text message (``text`` = True)."""
    kind = number.kind
    if kind in _NEVER:
        raise PhoneNumberInvalid(_NEVER[kind])
    if text and kind not in _TEXTABLE:
        what = {PhoneNumberType.FIXED_LINE: "a landline", PhoneNumberType.TOLL_FREE: "a freephone number",
                PhoneNumberType.VOIP: "an internet (VoIP) number"}.get(kind, "not a mobile number")
        raise PhoneNumberInvalid(f"Text messages can only go to a mobile phone, and this is {what}. Enter a mobile "
                                 "number, or choose to get a call instead.")
