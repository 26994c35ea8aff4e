"""What a QR code (or a pasted link) can hold: a Watchword activation payload or a plain
``otpauth://totp/…`` URI (Google's Key Uri Format).

Errors say which part is wrong but never repeat the text: an otpauth URI carries the seed.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlsplit

from watchword_authenticator.codes import TotpParams, make_totp_params
from watchword_authenticator.errors import PayloadInvalid

ACTIVATION_SCHEME = "watchword-push"
OTPAUTH_SCHEME = "otpauth"


@dataclass(frozen=True)
class ActivationPayload:
    """``watchword-push://activate?server=…&code=…&account=…&issuer=…``. ``account`` and
    ``issuer`` are for display and duplicate checks before activating; the server's answer to
    the activation is what gets stored."""

    server: str
    code: str
    account: str
    issuer: str

    def __repr__(self) -> str:
        return (f"ActivationPayload(server={self.server!r}, code=<hidden>, account={self.account!r}, "
                f"issuer={self.issuer!r})")


@dataclass(frozen=True)
class OtpauthPayload:
    issuer: str
    account: str
    totp: TotpParams


def parse_payload(text: str) -> ActivationPayload | OtpauthPayload:
    text = (text or "").strip()
    try:
        parts = urlsplit(text)
    except ValueError:
        raise PayloadInvalid() from None
    scheme = parts.scheme.lower()
    if scheme == ACTIVATION_SCHEME:
        return parse_activation(parts)
    if scheme == OTPAUTH_SCHEME:
        return parse_otpauth(parts)
    raise PayloadInvalid("That is not a Watchword activation payload (watchword-push://activate?…) "
                         "or an otpauth://totp/… URI.")


def _query(parts, what: str) -> dict[str, str]:
    try:
        pairs = parse_qs(parts.query, keep_blank_values=True, errors="strict")
    except (ValueError, UnicodeDecodeError):
        raise PayloadInvalid(f"The {what}'s query string is malformed.") from None
    repeated = sorted(name for name, values in pairs.items() if len(values) > 1)
    if repeated:
        raise PayloadInvalid(f"The {what} repeats the parameter {repeated[0]!r}.")
    return {name: values[0].strip() for name, values in pairs.items()}


def parse_activation(parts) -> ActivationPayload:
    what = "activation payload"
    if parts.netloc.lower() != "activate" or parts.path not in ("", "/"):
        raise PayloadInvalid("The activation payload must start with watchword-push://activate?")
    query = _query(parts, what)
    code = query.get("code", "")
    if not code:
        raise PayloadInvalid("The activation payload has no activation code.")
    if any(ch.isspace() for ch in code):
        raise PayloadInvalid("The activation code in the payload is malformed.")
    return ActivationPayload(server=normalise_server_url(query.get("server", "")), code=code,
                             account=query.get("account", ""), issuer=query.get("issuer", ""))


def normalise_server_url(url: str) -> str:
    """An ``https://`` base URL, or ``http://`` on a loopback address (development only, as the
    protocol allows); no query or fragment; no trailing slash."""
    if not url:
        raise PayloadInvalid("The activation payload has no server address.")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError:
        raise PayloadInvalid("The server address in the activation payload is malformed.") from None
    if parts.scheme not in ("https", "http") or not host:
        raise PayloadInvalid("The server address in the activation payload must be an https:// URL.")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise PayloadInvalid("The server address in the activation payload must be a plain base URL.")
    if parts.scheme == "http" and not is_loopback(host):
        raise PayloadInvalid("The server address must use https:// "
                             "(plain http:// is only for a server on this computer).")
    return f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}"


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_otpauth(parts) -> OtpauthPayload:
    kind = parts.netloc.lower()
    if kind == "hotp":
        raise PayloadInvalid("Only time-based (otpauth://totp/) accounts are supported, not counter-based (hotp).")
    if kind != "totp":
        raise PayloadInvalid("The otpauth URI must start with otpauth://totp/")
    label = unquote(parts.path.lstrip("/")).strip()
    label_issuer, colon, account = label.partition(":")
    if not colon:
        label_issuer, account = "", label
    account = account.strip()
    if not account:
        raise PayloadInvalid("The otpauth URI has no account name.")
    query = _query(parts, "otpauth URI")
    if "secret" not in query or not query["secret"]:
        raise PayloadInvalid("The otpauth URI has no secret.")
    try:
        totp = make_totp_params(secret=query["secret"], digits=query.get("digits") or 6,
                                period=query.get("period") or 30, algorithm=query.get("algorithm") or "SHA1")
    except ValueError as exc:
        raise PayloadInvalid(f"The otpauth URI is malformed: {exc}.") from None
    # Key Uri Format: the issuer parameter is preferred; the label prefix is the older form.
    return OtpauthPayload(issuer=query.get("issuer") or label_issuer.strip(), account=account, totp=totp)
