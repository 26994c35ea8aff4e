"""Talking to a directory with ldap3: connecting (plain, StartTLS, LDAPS), paged searches, the
server's change counter, and the errors an administrator can act on.

Every failure becomes a ``DirectoryError`` whose message says what is wrong in words
(unreachable, TLS, bad credentials, base not found, filter invalid), with a stable ``code``.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as lx
from ldap3.utils.conv import escape_filter_chars

from watchword.sync.errors import DirectoryError

PAGE_SIZE = 1000
PAGED_RESULTS = "1.2.840.113556.1.4.319"
SHOW_DELETED = "1.2.840.113556.1.4.417"

# Active Directory answers searches of the domain's root with references to its own
# application partitions; they hold no people and are not worth a warning.
AD_PARTITION_PREFIXES = ("dc=domaindnszones,", "dc=forestdnszones,", "cn=configuration,")


@dataclass(frozen=True)
class Endpoint:
    url: str
    start_tls: bool
    ca_certificate: str
    timeout: int
    bind_dn: str
    password: str


def parse_url(url: str) -> tuple[str, int, bool]:
    """(host, port, ldaps) from ldap://host[:port] or ldaps://host[:port]; ``ValueError`` with a
    message otherwise."""
    text = (url or "").strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError("The server URL is not valid; write it like ldap://dc1.example.org:389.") from None
    if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
        raise ValueError("The server URL starts with ldap:// or ldaps:// followed by the server's name.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError("The server URL is only ldap[s]://host[:port]; base DNs and filters have their own fields.")
    ldaps = parts.scheme == "ldaps"
    return parts.hostname, port or (636 if ldaps else 389), ldaps


def _tls(endpoint: Endpoint, host: str) -> ldap3.Tls:
    return ldap3.Tls(validate=ssl.CERT_REQUIRED, ca_certs_data=endpoint.ca_certificate or None,
                     version=None, sni=host, valid_names=[host])


def server_for(endpoint: Endpoint) -> ldap3.Server:
    host, port, ldaps = parse_url(endpoint.url)
    tls = _tls(endpoint, host) if (ldaps or endpoint.start_tls) else None
    return ldap3.Server(host, port=port, use_ssl=ldaps, tls=tls, get_info=ldap3.NONE,
                        connect_timeout=endpoint.timeout, mode=ldap3.IP_V4_PREFERRED)


def _describe_socket_error(exc: Exception, endpoint: Endpoint) -> DirectoryError:
    text = str(exc)
    lowered = text.lower()
    if "certificate" in lowered or "ssl" in lowered or "tls" in lowered or "hostname" in lowered:
        detail = "the certificate is not trusted" if "verify" in lowered else "the TLS handshake failed"
        if "hostname" in lowered or "doesn't match" in lowered or "not match" in lowered:
            detail = "the certificate does not name this server"
        return DirectoryError(f"A secure connection to {endpoint.url} could not be made: {detail}. Check the "
                              "CA certificate and that the URL uses the name on the server's certificate.",
                              code="tls_failed", detail=text[:300])
    if "timed out" in lowered or "timeout" in lowered:
        return DirectoryError(f"{endpoint.url} did not answer within {endpoint.timeout} s.", code="timeout",
                              detail=text[:300])
    return DirectoryError(f"{endpoint.url} cannot be reached: nothing answers there (check the name, port and "
                          "firewall).", code="unreachable", detail=text[:300])


def connect(endpoint: Endpoint, *, bind_dn: str | None = None, password: str | None = None) -> ldap3.Connection:
    """An open, secured and bound connection; ``DirectoryError`` saying what failed."""
    try:
        server = server_for(endpoint)
    except ValueError as exc:
        raise DirectoryError(str(exc), code="invalid_url") from None
    user = endpoint.bind_dn if bind_dn is None else bind_dn
    secret = endpoint.password if password is None else password
    conn = ldap3.Connection(server, user=user or None, password=secret or None, auto_bind=ldap3.AUTO_BIND_NONE,
                            client_strategy=ldap3.SYNC, read_only=True, raise_exceptions=False,
                            auto_referrals=False, receive_timeout=endpoint.timeout,
                            return_empty_attributes=False)
    try:
        conn.open()
        if endpoint.start_tls and not server.ssl:
            conn.start_tls()
        ok = conn.bind()
    except lx.LDAPStartTLSError as exc:
        conn.unbind()
        if "wrap socket" in str(exc):
            raise _describe_socket_error(exc, endpoint) from None
        raise DirectoryError(f"{endpoint.url} refused StartTLS; use ldaps:// or enable TLS on the server.",
                             code="tls_failed", detail=str(exc)[:300]) from None
    except (lx.LDAPSocketOpenError, lx.LDAPSocketReceiveError, lx.LDAPSocketSendError,
            lx.LDAPSessionTerminatedByServerError, OSError) as exc:
        conn.unbind()
        raise _describe_socket_error(exc, endpoint) from None
    except lx.LDAPException as exc:
        conn.unbind()
        raise DirectoryError(f"{endpoint.url}: {exc}", code="ldap_error") from None
    if not ok:
        result = conn.result or {}
        conn.unbind()
        code = result.get("result")
        if code == 49:
            raise DirectoryError("The directory refused the bind DN and password (invalid credentials).",
                                 code="invalid_credentials")
        if code == 8:  # strongerAuthRequired
            raise DirectoryError("The directory requires a secure connection for this bind: use ldaps:// or "
                                 "StartTLS.", code="stronger_auth_required")
        raise DirectoryError(f"The directory refused the bind: {result.get('description', 'unknown')} "
                             f"{result.get('message', '')}".strip(), code="bind_failed")
    return conn


def read_raw_values_only(conn: ldap3.Connection) -> ldap3.Connection:
    """Make this connection's search results carry only the raw values.

    The sync reads ``raw_attributes`` (bytes) and decodes what it uses itself. ldap3 also builds
    a decoded text copy of every value of every entry (``attributes``), which was half of the
    LDAP cost of an import of 100,000 people (14–16 s of 38–50 s). This wraps ldap3's own
    decoder for this one connection so entries skip that copy, built from ldap3's own parts;
    if ldap3's internals are not what this expects, nothing is changed."""
    try:
        from ldap3.operation.search import raw_attributes_to_dict_fast
        from ldap3.utils.conv import to_unicode

        strategy = conn.strategy
        decode = strategy.decode_response_fast
        decode_control = strategy.decode_control_fast
    except (ImportError, AttributeError):
        return conn

    def decode_response_fast(message):
        if message.get("protocolOp") != 4:  # anything but a search result entry: ldap3's own way
            return decode(message)
        payload = message["payload"]
        result = {"raw_dn": payload[0][3], "dn": to_unicode(payload[0][3], from_server=True),
                  "raw_attributes": raw_attributes_to_dict_fast(payload[1][3]), "attributes": {},
                  "type": "searchResEntry"}
        if message.get("controls"):
            result["controls"] = dict(decode_control(control[3]) for control in message["controls"])
        return result

    strategy.decode_response_fast = decode_response_fast
    return conn


def close(conn: ldap3.Connection | None) -> None:
    if conn is None:
        return
    try:
        conn.unbind()
    except Exception:  # noqa: BLE001 - closing a broken connection
        pass


def check_filter(text: str, label: str) -> str:
    """A filter ldap3 can send; ``DirectoryError`` naming the field otherwise."""
    from ldap3.operation.search import parse_filter

    value = (text or "").strip()
    if not value:
        return value
    if not (value.startswith("(") and value.endswith(")")):
        raise DirectoryError(f"The {label} must be in parentheses, like (objectClass=person).",
                             code="invalid_filter")
    try:
        parse_filter(value, None, auto_escape=True, auto_encode=True, validator=None, check_names=False)
    except lx.LDAPException as exc:
        raise DirectoryError(f"The {label} is not a valid LDAP filter: {exc}.", code="invalid_filter") from None
    return value


@dataclass
class Page:
    entries: list[tuple[str, dict]]  # (dn, raw attributes)
    references: list[str]


def _search_failed(conn: ldap3.Connection, base: str, label: str) -> DirectoryError:
    result = conn.result or {}
    code = result.get("result")
    if code == 32:
        return DirectoryError(f"The base DN {base} does not exist in the directory.", code="base_not_found")
    if code == 87 or code == 7:
        return DirectoryError(f"The directory refused the {label}: {result.get('message') or 'filter error'}.",
                              code="invalid_filter")
    if code == 50:
        return DirectoryError(f"The bind account may not read {base} (insufficient access rights).",
                              code="insufficient_access")
    if code in (3, 51, 52, 80):
        return DirectoryError(f"The directory could not complete the search ({result.get('description')}); "
                              "try again.", code="unavailable")
    if code == 4:
        return DirectoryError("The directory stopped the search at its size limit; allow the bind account "
                              "paged results beyond the limit.", code="size_limit")
    return DirectoryError(f"The search of {base} failed: {result.get('description', 'unknown')} "
                          f"{result.get('message', '')}".strip(), code="search_failed")


def paged_search(conn: ldap3.Connection, base: str, search_filter: str, attributes: list[str], *,
                 label: str = "filter", controls: list | None = None, page_size: int = PAGE_SIZE) -> Iterator[Page]:
    """Pages of (dn, raw attributes) under ``base``, using the paged-results control so no
    page holds more than ``page_size`` entries in memory."""
    cookie = None
    while True:
        try:
            ok = conn.search(base, search_filter, search_scope=ldap3.SUBTREE, attributes=attributes,
                             paged_size=page_size, paged_cookie=cookie, controls=controls)
        except lx.LDAPInvalidFilterError as exc:
            raise DirectoryError(f"The {label} is not a valid LDAP filter: {exc}.", code="invalid_filter") from None
        except (lx.LDAPSocketReceiveError, lx.LDAPSocketSendError, lx.LDAPSessionTerminatedByServerError,
                lx.LDAPSocketOpenError, OSError) as exc:
            raise DirectoryError(f"The connection to the directory was lost during the search: {exc}.",
                                 code="unavailable") from None
        result = conn.result or {}
        if not ok and result.get("result") not in (0, None):
            raise _search_failed(conn, base, label)
        entries, references = [], []
        for item in conn.response or ():
            kind = item.get("type")
            if kind == "searchResEntry":
                entries.append((item["dn"], item["raw_attributes"]))
            elif kind == "searchResRef":
                references.extend(item.get("uri") or [])
        yield Page(entries, references)
        cookie = (result.get("controls") or {}).get(PAGED_RESULTS, {}).get("value", {}).get("cookie")
        if not cookie:
            return


def root_dse(conn: ldap3.Connection, attributes: list[str]) -> dict:
    try:
        conn.search("", "(objectClass=*)", search_scope=ldap3.BASE, attributes=attributes)
    except lx.LDAPException as exc:
        raise DirectoryError(f"The directory's root entry could not be read: {exc}.", code="unavailable") from None
    for item in conn.response or ():
        if item.get("type") == "searchResEntry":
            return {k.lower(): v for k, v in item["raw_attributes"].items()}
    return {}


def highest_usn(conn: ldap3.Connection) -> str:
    """Active Directory's highest committed update sequence number (the delta's upper bound)."""
    values = root_dse(conn, ["highestCommittedUSN"]).get("highestcommittedusn") or []
    return values[0].decode() if values else ""


def base_exists(conn: ldap3.Connection, base: str) -> None:
    try:
        conn.search(base, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["1.1"])
    except lx.LDAPException as exc:
        raise DirectoryError(f"The base DN {base} could not be read: {exc}.", code="unavailable") from None
    if (conn.result or {}).get("result") not in (0, None):
        raise _search_failed(conn, base, "base DN")


def by_id_filter(attribute: str, external_id: str) -> str:
    """A filter matching one entry by its immutable id (objectGUID as escaped bytes)."""
    import uuid

    if attribute.lower() == "objectguid":
        escaped = "".join("\\%02x" % byte for byte in uuid.UUID(external_id).bytes_le)
        return f"({attribute}={escaped})"
    return f"({attribute}={escape_filter_chars(external_id)})"


def is_ad_partition_reference(uri: str) -> bool:
    path = urlsplit(uri).path.lstrip("/").lower()
    return path.startswith(AD_PARTITION_PREFIXES)
