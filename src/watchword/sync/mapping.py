"""From directory entries to people: each flavour's defaults, and one entry's values checked
and turned into the fields Watchword stores. Pure: no database, no network.

A value that cannot be used becomes a per-entry warning, never a failed run: a phone number
that does not parse is left empty and named in a warning; an entry without its immutable id or
sign-in name is skipped with a warning.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email

from watchword.directory.phones import PhoneNumberInvalid, parse_phone

# The names a connection may map, with what they mean here.
MAPPING_KEYS = {
    "id": "immutable id",
    "upn": "sign-in name",
    "display_name": "display name",
    "email": "e-mail",
    "office_phone": "office phone",
    "mobile_phone": "mobile phone",
    "disabled": "disabled marker",
    "change": "change marker",
    "group_name": "group name",
    "group_description": "group description",
    "member": "group members",
}

DEFAULTS = {
    "active_directory": {
        "id": "objectGUID", "upn": "userPrincipalName", "display_name": "displayName", "email": "mail",
        "office_phone": "telephoneNumber", "mobile_phone": "mobile", "disabled": "userAccountControl",
        "change": "uSNChanged", "group_name": "cn", "group_description": "description", "member": "member",
    },
    "openldap": {
        "id": "entryUUID", "upn": "uid", "display_name": "displayName", "email": "mail",
        "office_phone": "telephoneNumber", "mobile_phone": "mobile", "disabled": "pwdAccountLockedTime",
        "change": "entryCSN", "group_name": "cn", "group_description": "description", "member": "member",
    },
}

DEFAULT_FILTERS = {
    "active_directory": ("(&(objectCategory=person)(objectClass=user)(!(isCriticalSystemObject=TRUE)))",
                         "(objectClass=group)"),
    "openldap": ("(objectClass=inetOrgPerson)", "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"),
}

# Watchword fields a mapping can make the directory's (read-only here when mapped).
PERSON_FIELDS = ("upn", "display_name", "email", "office_phone", "mobile_phone")

# userAccountControl: ACCOUNTDISABLE.
UAC_DISABLED = 0x2

LIMITS = {"upn": 254, "display_name": 256, "email": 254, "office_phone": 40, "mobile_phone": 40}
MAX_VALUE = 4096  # longer values are never read (oversized attribute warning)
ATTRIBUTE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,63}(;[A-Za-z0-9-]+)*$")


def effective_mapping(flavour: str, overrides: dict | None) -> dict[str, str]:
    """The flavour's defaults with the connection's overrides ('' switches an attribute off)."""
    mapping = dict(DEFAULTS.get(flavour, DEFAULTS["openldap"]))
    for key, value in (overrides or {}).items():
        if key in MAPPING_KEYS:
            mapping[key] = (value or "").strip()
    return mapping


def check_mapping(overrides: object) -> dict[str, str]:
    """Validate a mapping override: known keys, LDAP attribute names. Raises ``ValueError``
    naming the key."""
    if overrides in (None, ""):
        return {}
    if not isinstance(overrides, dict):
        raise ValueError("The attribute mapping must be pairs of name: attribute.")
    cleaned = {}
    for key, value in overrides.items():
        if key not in MAPPING_KEYS:
            raise ValueError(f"Unknown mapping name {key!r}; use one of {', '.join(MAPPING_KEYS)}.")
        if not isinstance(value, str):
            raise ValueError(f"The {MAPPING_KEYS[key]} attribute must be an attribute name.")
        value = value.strip()
        if value and not ATTRIBUTE_NAME.match(value):
            raise ValueError(f"{value!r} is not an LDAP attribute name ({MAPPING_KEYS[key]}).")
        if not value and key in ("id", "upn"):
            raise ValueError(f"The {MAPPING_KEYS[key]} attribute cannot be switched off.")
        cleaned[key] = value
    return cleaned


def managed_fields(connection) -> frozenset[str]:
    """What this connection owns for its people: each mapped person attribute, their enabled
    state and their password (checked against the directory)."""
    mapping = effective_mapping(connection.flavour, connection.mapping)
    owned = {name for name in PERSON_FIELDS if mapping.get(name)}
    if mapping.get("disabled"):
        owned.add("enabled")
    if connection.password_passthrough:
        owned.add("password")
    return frozenset(owned)


_DN_SPACES = re.compile(r"\s*([,=+])\s*")


def normalise_dn(dn: str) -> str:
    """A DN for comparing: lower case, no spaces around separators. (Members are listed by DN,
    and directories are not consistent about case or spacing.)"""
    return _DN_SPACES.sub(r"\1", dn.strip()).lower()


def decode_id(raw: bytes, attribute: str) -> str | None:
    """The immutable id as text: objectGUID's 16 bytes in the usual GUID form, others as text."""
    if attribute.lower() in ("objectguid", "msds-consistencyguid"):
        if len(raw) != 16:
            return None
        return str(uuid.UUID(bytes_le=raw))
    try:
        text = raw.decode("utf-8").strip().lower()
    except UnicodeDecodeError:
        return None
    return text if 0 < len(text) <= 64 else None


@dataclass
class Warning:
    message: str
    dn: str = ""
    person: str = ""
    attribute: str = ""
    value: str = ""


@dataclass
class Incoming:
    """One person as the directory has them, ready to compare with the stored row."""

    external_id: str
    dn: str  # normalised
    fields: dict  # upn, display_name, email, office_phone, mobile_phone (only the mapped ones)
    disabled: bool | None  # None when the connection maps no disabled marker
    change: str = ""  # the entry's change marker, for the high-water mark
    warnings: list[Warning] = field(default_factory=list)


def values_of(raw: dict, attribute: str) -> list[bytes]:
    """An attribute's raw values. Servers answer with their own case for names, and Active
    Directory names a ranged part of a big attribute ``member;range=0-1499``."""
    if not attribute:
        return []
    values = raw.get(attribute)
    if values is not None:
        return values
    lowered = attribute.lower()
    for name, candidate in raw.items():
        name = name.lower()
        if name == lowered or name.startswith(lowered + ";range="):
            return candidate
    return []


def _first(raw: dict, attribute: str) -> bytes | None:
    values = values_of(raw, attribute)
    return values[0] if values else None


def _text(value: bytes | None) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", errors="replace")


def clean_text(value: str) -> str:
    """Single-line, without control characters (a directory may hold anything)."""
    if value.isprintable():  # nearly always: no control, surrogate, private-use or line-separator characters
        return value.strip()
    value = value.replace("\r", " ").replace("\n", " ").replace("\t", " ")
    return "".join(ch for ch in value if unicodedata.category(ch) not in ("Cc", "Cs", "Co", "Zl", "Zp")).strip()


def change_marker(raw: dict, attribute: str) -> str:
    value = _text(_first(raw, attribute))
    return value.strip() if value else ""


def later_marker(a: str, b: str) -> str:
    """The later of two change markers: numbers (uSNChanged) compare as numbers, CSNs and
    generalized times as text."""
    if not a:
        return b
    if not b:
        return a
    if a.isdigit() and b.isdigit():
        return a if int(a) >= int(b) else b
    return max(a, b)


def read_person(dn: str, raw: dict, mapping: dict[str, str], *, upn_domain: str, region: str | None) -> Incoming:
    """Turn one entry into an ``Incoming`` person. One that cannot be synced comes back with no
    ``fields`` and a warning. ``raw`` is the entry's raw attributes (name -> list of bytes)."""
    warnings: list[Warning] = []
    ndn = normalise_dn(dn)
    raw_id = _first(raw, mapping["id"])
    external_id = decode_id(raw_id, mapping["id"]) if raw_id is not None else None
    if external_id is None:
        return _skip(dn, "", "The entry has no usable immutable id; it was not synced.", mapping["id"],
                     "" if raw_id is None else repr(raw_id[:40]))

    upn_raw = _text(_first(raw, mapping["upn"]))
    upn = clean_text(upn_raw or "")
    if upn and "@" not in upn and upn_domain:
        upn = f"{upn}@{upn_domain}"
    upn = upn.lower()
    if not upn:
        return _skip(dn, "", "The entry has no sign-in name; it was not synced.", mapping["upn"], "",
                     external_id=external_id)
    if len(upn) > LIMITS["upn"]:
        return _skip(dn, upn[:80], f"The sign-in name is longer than {LIMITS['upn']} characters; the entry was "
                                   "not synced.", mapping["upn"], upn[:200], external_id=external_id)
    try:
        validate_email(upn)
    except ValidationError:
        return _skip(dn, upn, "The sign-in name is not like name@example.org (set a sign-in domain for uid "
                              "names); the entry was not synced.", mapping["upn"], upn, external_id=external_id)

    fields: dict = {"upn": upn}
    if mapping.get("display_name"):
        display = clean_text(_text(_first(raw, mapping["display_name"])) or "")
        if not display:
            display = clean_text(_text(_first(raw, "cn")) or "") or upn
        if len(display) > LIMITS["display_name"]:
            warnings.append(Warning(f"The display name is longer than {LIMITS['display_name']} characters; it "
                                    "was shortened.", dn, upn, mapping["display_name"], display[:200]))
            display = display[:LIMITS["display_name"]].rstrip()
        fields["display_name"] = display
    if mapping.get("email"):
        email = clean_text(_text(_first(raw, mapping["email"])) or "")
        if email:
            try:
                if len(email) > LIMITS["email"]:
                    raise ValidationError("long")
                validate_email(email)
            except ValidationError:
                warnings.append(Warning("The e-mail address is not valid; it was left empty.", dn, upn,
                                        mapping["email"], email[:200]))
                email = ""
        fields["email"] = email
    for name, label, extension in (("office_phone", "office phone", True), ("mobile_phone", "mobile phone", False)):
        attribute = mapping.get(name)
        if not attribute:
            continue
        value = clean_text(_text(_first(raw, attribute)) or "")
        stored = ""
        if value:
            try:
                if len(value) > LIMITS[name]:
                    raise PhoneNumberInvalid(f"longer than {LIMITS[name]} characters")
                stored = parse_phone(value.removeprefix("tel:"), default_region=region,
                                     allow_extension=extension).stored
            except PhoneNumberInvalid as exc:
                warnings.append(Warning(f"The {label} is not a valid phone number, so it was left empty: "
                                        f"{exc.message}", dn, upn, attribute, value[:200]))
        fields[name] = stored

    disabled: bool | None = None
    if mapping.get("disabled"):
        value = _text(_first(raw, mapping["disabled"]))
        if mapping["disabled"].lower() == "useraccountcontrol":
            try:
                disabled = bool(int(value or "0") & UAC_DISABLED)
            except ValueError:
                warnings.append(Warning("userAccountControl is not a number; the account state was not changed.",
                                        dn, upn, mapping["disabled"], (value or "")[:200]))
        else:
            # Present and not false: pwdAccountLockedTime, nsAccountLock=TRUE, a custom flag.
            disabled = value is not None and value.strip().lower() not in ("", "false", "0", "no")
    return Incoming(external_id=external_id, dn=ndn, fields=fields, disabled=disabled,
                    change=change_marker(raw, mapping.get("change", "")), warnings=warnings)


def _skip(dn: str, person: str, message: str, attribute: str, value: str, *, external_id: str = "") -> Incoming:
    """An entry that is not synced: no fields, one warning. If it has an id, the id still
    counts as seen (a person whose sign-in name became unusable is not deleted for it)."""
    return Incoming(external_id=external_id, dn=normalise_dn(dn), fields={}, disabled=None,
                    warnings=[Warning(message, dn, person, attribute, value)])
