"""Phone numbers as ``delivery`` handles them: checked E.164, their country, and masked for
the audit log and the server log (``+44 74•••••456``). Pure functions over libphonenumber."""

from __future__ import annotations

from dataclasses import dataclass

import phonenumbers

from watchword.delivery.errors import DestinationInvalid

NON_GEOGRAPHIC = "001"  # libphonenumber's region for +800, +808, +870, +878, +881, +882, +883, +888, +979


@dataclass(frozen=True)
class Destination:
    e164: str
    country: str  # ISO 3166 code, or "001" for a non-geographic number
    masked: str


def destination(to: str) -> Destination:
    """The number to send to, checked: E.164 and valid by libphonenumber's metadata (pure)."""
    if not isinstance(to, str) or not to.startswith("+") or len(to) > 20:
        raise DestinationInvalid()
    try:
        parsed = phonenumbers.parse(to, None)
    except phonenumbers.NumberParseException:
        raise DestinationInvalid() from None
    if parsed.extension or not phonenumbers.is_valid_number(parsed):
        raise DestinationInvalid()
    e164 = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    return Destination(e164=e164, country=phonenumbers.region_code_for_number(parsed) or NON_GEOGRAPHIC,
                       masked=mask_number(e164))


def mask_number(e164: str) -> str:
    """``+447400123456`` → ``+44 74•••••456``: enough to tell numbers apart in the audit log,
    not enough to call one (pure)."""
    try:
        parsed = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return "+•••"
    digits = phonenumbers.national_significant_number(parsed)
    head, tail = (2, 3) if len(digits) >= 8 else (1, 2) if len(digits) >= 5 else (0, 1)
    return f"+{parsed.country_code} {digits[:head]}{'•' * (len(digits) - head - tail)}{digits[len(digits) - tail:]}"


def country_place(country: str, e164: str) -> str:
    """How a refusal names the number's country: "Nigeria (+234) numbers"."""
    code = phonenumbers.parse(e164, None).country_code
    if country == NON_GEOGRAPHIC:
        return f"international non-geographic (+{code}) numbers"
    from phonenumbers.geocoder import country_name_for_number

    example = phonenumbers.example_number(country)
    name = (country_name_for_number(example, "en") if example else "") or country
    return f"{name} (+{code}) numbers"
