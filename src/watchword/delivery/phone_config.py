"""The ``WATCHWORD_*`` variables for texts and calls, read and checked for ``settings.py``.

Plain functions of the environment (no Django), so a bad value stops start-up with a
``ConfigError`` naming the variable. Provider credentials come only from the environment and
are never logged. See docs/phone-delivery.md.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

import phonenumbers

from watchword.config import ConfigError, env_str

PROVIDERS = ("outbox", "twilio", "webhook")
WEBHOOK_SECRET_MIN_LENGTH = 32


def provider() -> str:
    value = (env_str("WATCHWORD_PHONE_PROVIDER", "outbox") or "").strip().lower()
    if value not in PROVIDERS:
        raise ConfigError(f"WATCHWORD_PHONE_PROVIDER must be one of {', '.join(PROVIDERS)}, got {value!r}")
    return value


def allowed_countries() -> tuple[str, ...]:
    """ISO 3166 codes texts and calls may go to; empty: every country."""
    raw = env_str("WATCHWORD_PHONE_ALLOWED_COUNTRIES", "") or ""
    codes = []
    for item in raw.split(","):
        code = item.strip().upper()
        if not code:
            continue
        if code not in phonenumbers.SUPPORTED_REGIONS:
            raise ConfigError(f"WATCHWORD_PHONE_ALLOWED_COUNTRIES holds {item.strip()!r}, which is not a country code "
                              "like GB, IE or US")
        if code not in codes:
            codes.append(code)
    return tuple(codes)


def is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(name: str, value: str) -> str:
    """An http(s) URL with a host; plain http only to this machine (loopback)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as exc:
        raise ConfigError(f"{name} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an https:// URL, got {value!r}")
    if parts.username or parts.password:
        raise ConfigError(f"{name} must not hold a user name or password")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(f"{name} must use https:// (plain http is allowed only to 127.0.0.1 or ::1)")
    return value


def _required(name: str, wanted_by: str) -> str:
    value = env_str(name)
    if value is None or not value.strip():
        raise ConfigError(f"{name} is needed when WATCHWORD_PHONE_PROVIDER is {wanted_by}")
    return value.strip()


def webhook(*, required: bool) -> tuple[str, str]:
    """(URL, secret) of the webhook provider; ("", "") when it is not the provider."""
    if not required:
        return "", ""
    url = _url("WATCHWORD_PHONE_WEBHOOK_URL", _required("WATCHWORD_PHONE_WEBHOOK_URL", "webhook"))
    secret = _required("WATCHWORD_PHONE_WEBHOOK_SECRET", "webhook")
    if len(secret) < WEBHOOK_SECRET_MIN_LENGTH:
        raise ConfigError(f"WATCHWORD_PHONE_WEBHOOK_SECRET must be at least {WEBHOOK_SECRET_MIN_LENGTH} characters "
                          f"long (it is {len(secret)})")
    return url, secret


def twilio(*, required: bool) -> tuple[str, str, str, str]:
    """(account SID, auth token, from number, API base) of the Twilio provider; empty strings
    when it is not the provider. The API base is empty unless set (the SDK's own address)."""
    if not required:
        return "", "", "", ""
    sid = _required("WATCHWORD_TWILIO_ACCOUNT_SID", "twilio")
    if not (sid.startswith("AC") and len(sid) == 34 and sid[2:].isalnum()):
        raise ConfigError("WATCHWORD_TWILIO_ACCOUNT_SID must be an account SID like AC followed by 32 letters and "
                          "digits")
    token = _required("WATCHWORD_TWILIO_AUTH_TOKEN", "twilio")
    sender = _required("WATCHWORD_TWILIO_FROM", "twilio")
    try:
        parsed = phonenumbers.parse(sender, None)
        valid = sender.startswith("+") and phonenumbers.is_valid_number(parsed)
    except phonenumbers.NumberParseException:
        valid = False
    if not valid:
        raise ConfigError(f"WATCHWORD_TWILIO_FROM must be a phone number in E.164 form like +447400123456, "
                          f"got {sender!r}")
    sender = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    base = env_str("WATCHWORD_TWILIO_API_BASE", "") or ""
    if base:
        base = _url("WATCHWORD_TWILIO_API_BASE", base.strip())
    return sid, token, sender, base
