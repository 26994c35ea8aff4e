"""Directory connections: one validated path for the admin pages and the CLI; the connection
test; restoring soft-deleted people.

The bind password is sealed at rest (``core.sealing``) and never shown again.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone

from watchword.audit.services import record_change
from watchword.core import sealing
from watchword.directory.models import User
from watchword.directory.phones import valid_region
from watchword.sync import ldap
from watchword.sync.errors import ConnectionExists, ConnectionNotFound, DirectoryError, InvalidConnectionField
from watchword.sync.mapping import DEFAULT_FILTERS, check_mapping, effective_mapping
from watchword.sync.models import DirectoryConnection, Flavour

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# Settings whose change makes the next run a full import (what is in scope, or how it reads).
SCOPE_FIELDS = ("flavour", "url", "base_dns", "user_filter", "group_filter", "upn_domain", "mapping", "phone_country")


def password_purpose(pk: int) -> str:
    return f"sync.connection.{pk}.bind_password"


def _text(data: dict, name: str, label: str, *, max_length: int, required: bool = False, multiline=False) -> str:
    value = data.get(name)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidConnectionField(f"{label} must be text.", field=name)
    value = value.replace("\r\n", "\n").strip()
    if required and not value:
        raise InvalidConnectionField(f"Enter the {label.lower()}.", field=name)
    if len(value) > max_length:
        raise InvalidConnectionField(f"{label} is at most {max_length} characters.", field=name)
    allowed = ("\n",) if multiline else ()
    if any(ch not in allowed and unicodedata.category(ch) in ("Cc", "Cs", "Co") for ch in value):
        raise InvalidConnectionField(f"{label} contains characters that are not allowed.", field=name)
    return value


def _int(data: dict, name: str, label: str, *, minimum: int, maximum: int, default: int | None) -> int | None:
    value = data.get(name)
    if value in (None, ""):
        return default
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise InvalidConnectionField(f"{label} must be a whole number.", field=name) from None
    if not minimum <= number <= maximum:
        raise InvalidConnectionField(f"{label} must be between {minimum} and {maximum}.", field=name)
    return number


def _bool(data: dict, name: str, default: bool) -> bool:
    value = data.get(name)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise InvalidConnectionField(f"{name.replace('_', ' ').capitalize()} must be yes or no.", field=name)


def _dn(value: str, name: str, label: str) -> str:
    from ldap3.core.exceptions import LDAPInvalidDnError
    from ldap3.utils.dn import parse_dn

    try:
        parse_dn(value)
    except (LDAPInvalidDnError, IndexError, ValueError):
        raise InvalidConnectionField(f"{label} {value!r} is not a valid DN (like ou=people,dc=example,dc=org).",
                                     field=name) from None
    return value


def clean_connection(data: dict, *, existing: DirectoryConnection | None = None) -> dict:
    """Validate every setting; raises ``InvalidConnectionField`` naming the first bad one."""
    merged = {**({} if existing is None else {
        k: getattr(existing, k) for k in ("name", "flavour", "url", "start_tls", "ca_certificate", "bind_dn",
                                          "base_dns", "user_filter", "group_filter", "upn_domain", "phone_country",
                                          "mapping", "enabled", "interval_minutes", "continuous", "poll_seconds",
                                          "delete_threshold", "delete_threshold_percent", "password_passthrough",
                                          "timeout_seconds")}), **{k: v for k, v in data.items() if v is not None}}
    c: dict = {}
    c["name"] = _text(merged, "name", "Name", max_length=64, required=True)
    if not NAME.match(c["name"]):
        raise InvalidConnectionField("A name is letters, digits, dots, dashes and underscores (like corp-ad).",
                                     field="name")
    flavour = str(merged.get("flavour") or "").strip()
    aliases = {"ad": Flavour.ACTIVE_DIRECTORY, "activedirectory": Flavour.ACTIVE_DIRECTORY,
               "ldap": Flavour.OPENLDAP, "generic": Flavour.OPENLDAP}
    flavour = aliases.get(flavour.lower().replace("_", "").replace(" ", ""), flavour)
    if flavour not in Flavour.values:
        raise InvalidConnectionField("Choose the directory: Active Directory or OpenLDAP / generic LDAP.",
                                     field="flavour")
    c["flavour"] = flavour
    c["url"] = _text(merged, "url", "Server URL", max_length=512, required=True)
    try:
        ldap.parse_url(c["url"])
    except ValueError as exc:
        raise InvalidConnectionField(str(exc), field="url") from None
    c["start_tls"] = _bool(merged, "start_tls", False)
    if c["start_tls"] and c["url"].lower().startswith("ldaps://"):
        raise InvalidConnectionField("StartTLS is for ldap:// URLs; ldaps:// is already encrypted.", field="start_tls")
    c["ca_certificate"] = _text(merged, "ca_certificate", "CA certificate", max_length=65536, multiline=True)
    if c["ca_certificate"]:
        from cryptography import x509

        try:
            x509.load_pem_x509_certificates(c["ca_certificate"].encode())
        except ValueError:
            raise InvalidConnectionField("The CA certificate must be PEM text (-----BEGIN CERTIFICATE----- …).",
                                         field="ca_certificate") from None
    c["bind_dn"] = _dn(_text(merged, "bind_dn", "Bind DN", max_length=1024, required=True), "bind_dn", "The bind DN")
    bases = [line.strip() for line in _text(merged, "base_dns", "Base DNs", max_length=8192, required=True,
                                            multiline=True).split("\n") if line.strip()]
    if len(bases) > 20:
        raise InvalidConnectionField("At most 20 base DNs.", field="base_dns")
    for base in bases:
        _dn(base, "base_dns", "The base DN")
    c["base_dns"] = "\n".join(bases)
    default_users, default_groups = DEFAULT_FILTERS[flavour]
    user_filter = _text(merged, "user_filter", "User filter", max_length=2048) or default_users
    group_filter = merged.get("group_filter")
    group_filter = default_groups if group_filter is None and existing is None else \
        _text(merged, "group_filter", "Group filter", max_length=2048)
    try:
        c["user_filter"] = ldap.check_filter(user_filter, "user filter")
    except DirectoryError as exc:
        raise InvalidConnectionField(exc.public_message, field="user_filter") from None
    try:
        c["group_filter"] = ldap.check_filter(group_filter, "group filter")
    except DirectoryError as exc:
        raise InvalidConnectionField(exc.public_message, field="group_filter") from None
    c["upn_domain"] = _text(merged, "upn_domain", "Sign-in domain", max_length=253).lower().lstrip("@")
    if c["upn_domain"] and not re.match(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)+$",
                                        c["upn_domain"]):
        raise InvalidConnectionField("The sign-in domain is a domain name like example.org.", field="upn_domain")
    country = _text(merged, "phone_country", "Country for phone numbers", max_length=2).upper()
    if country and not valid_region(country):
        raise InvalidConnectionField("The country for phone numbers is a two-letter code like GB or US.",
                                     field="phone_country")
    c["phone_country"] = country
    try:
        c["mapping"] = check_mapping(merged.get("mapping") or {})
    except ValueError as exc:
        raise InvalidConnectionField(str(exc), field="mapping") from None
    c["enabled"] = _bool(merged, "enabled", True)
    c["interval_minutes"] = _int(merged, "interval_minutes", "The sync interval (minutes)", minimum=1, maximum=10080,
                                 default=30)
    c["continuous"] = _bool(merged, "continuous", False)
    c["poll_seconds"] = _int(merged, "poll_seconds", "The continuous poll interval (seconds)", minimum=2,
                             maximum=3600, default=10)
    c["delete_threshold"] = _int(merged, "delete_threshold", "The deletion threshold", minimum=0,
                                 maximum=10_000_000, default=500)
    c["delete_threshold_percent"] = _int(merged, "delete_threshold_percent", "The deletion threshold (percent)",
                                         minimum=1, maximum=100, default=None)
    c["password_passthrough"] = _bool(merged, "password_passthrough", True)
    c["timeout_seconds"] = _int(merged, "timeout_seconds", "The timeout (seconds)", minimum=1, maximum=120,
                                default=10)
    return c


def create_connection(data: dict, *, password: str, actor, request=None) -> DirectoryConnection:
    cleaned = clean_connection(data)
    _check_password(password, required=True)
    with transaction.atomic():
        if DirectoryConnection.objects.filter(name=cleaned["name"]).exists():
            raise ConnectionExists(field="name")
        try:
            connection = DirectoryConnection.objects.create(**cleaned)
        except IntegrityError:
            raise ConnectionExists(field="name") from None
        connection.bind_password_sealed = sealing.seal(password.encode(), purpose=password_purpose(connection.pk),
                                                       keyring=sealing.default_keyring())
        connection.save(update_fields=["bind_password_sealed"])
        record_change(actor=actor, action="sync.connection.create", target=connection,
                      target_type="directory_connection", after=describe(connection), request=request)
    return connection


def _check_password(password: object, *, required: bool) -> None:
    if password is None or password == "":
        if required:
            raise InvalidConnectionField("Enter the bind password.", field="bind_password")
        return
    if not isinstance(password, str) or len(password) > 1024 or "\x00" in password:
        raise InvalidConnectionField("The bind password is at most 1024 characters, without NUL.",
                                     field="bind_password")


# Where the stored bind password is sent. Changing any of them without typing the password again
# would let whoever holds an admin session point the connection at their own server and receive
# the stored password in the next bind.
DESTINATION_FIELDS = ("url", "start_tls", "ca_certificate", "bind_dn")


def require_password_for_new_destination(connection: DirectoryConnection | None, cleaned: dict,
                                         password: str | None) -> None:
    if connection is None or password:
        return
    changed = [k for k in DESTINATION_FIELDS if getattr(connection, k) != cleaned[k]]
    if changed:
        raise InvalidConnectionField("Type the bind password again: it is only sent to a changed server, TLS "
                                     "setting or bind DN when you give it.", field="bind_password")


def update_connection(connection: DirectoryConnection, data: dict, *, password: str | None = None, actor,
                      request=None) -> DirectoryConnection:
    cleaned = clean_connection(data, existing=connection)
    _check_password(password, required=False)
    require_password_for_new_destination(connection, cleaned, password)
    with transaction.atomic():
        row = DirectoryConnection.objects.select_for_update().get(pk=connection.pk)
        before = describe(row)
        if cleaned["name"] != row.name and DirectoryConnection.objects.filter(name=cleaned["name"]).exists():
            raise ConnectionExists(field="name")
        scope_changed = any(getattr(row, k) != cleaned[k] for k in SCOPE_FIELDS)
        for key, value in cleaned.items():
            setattr(row, key, value)
        if scope_changed:
            row.high_water = ""  # what is in scope changed: the next run reads everything
        if password:
            row.bind_password_sealed = sealing.seal(password.encode(), purpose=password_purpose(row.pk),
                                                    keyring=sealing.default_keyring())
        row.save()
        after = describe(row)
        if after != before or password:
            record_change(actor=actor, action="sync.connection.update", target=row,
                          target_type="directory_connection", before=before,
                          after={**after, **({"bind_password": "changed"} if password else {})}, request=request)
    return row


def describe(connection: DirectoryConnection) -> dict:
    """The settings, for the audit log and the CLI (never the password)."""
    return {k: getattr(connection, k) for k in (
        "name", "flavour", "url", "start_tls", "bind_dn", "base_dns", "user_filter", "group_filter", "upn_domain",
        "phone_country", "mapping", "enabled", "interval_minutes", "continuous", "poll_seconds",
        "delete_threshold", "delete_threshold_percent", "password_passthrough", "timeout_seconds")} | {
        "ca_certificate": "set" if connection.ca_certificate else ""}


def get_connection(name_or_id: object) -> DirectoryConnection:
    text = str(name_or_id or "").strip()
    if not text or len(text) > 64 or "\x00" in text:
        raise ConnectionNotFound()
    query = DirectoryConnection.objects.filter(pk=int(text)) if text.isascii() and text.isdigit() and len(text) < 10 \
        else DirectoryConnection.objects.filter(name=text)
    connection = query.first()
    if connection is None:
        raise ConnectionNotFound()
    return connection


def remove_connection(connection: DirectoryConnection, *, actor, request=None) -> int:
    """Remove a connection. Its people stay, as Watchword-managed people (their attributes
    become editable here) with no usable password until an administrator resets it; its groups
    stay with their members. Returns how many people were kept."""
    with transaction.atomic():
        people = User.objects.filter(directory_connection=connection)
        count = people.count()
        people.update(directory_connection=None, external_id="", external_dn="")
        from watchword.directory.models import Group

        Group.objects.filter(directory_connection=connection).update(directory_connection=None, external_id="",
                                                                    external_dn="")
        record_change(actor=actor, action="sync.connection.delete", target=connection,
                      target_type="directory_connection", before=describe(connection),
                      after={"people_kept": count}, request=request)
        connection.delete()
    return count


def bind_password(connection: DirectoryConnection) -> str:
    if not connection.bind_password_sealed:
        return ""
    return sealing.unseal(connection.bind_password_sealed, purpose=password_purpose(connection.pk),
                          keyring=sealing.default_keyring()).decode()


def endpoint_for(connection: DirectoryConnection, *, password: str | None = None) -> ldap.Endpoint:
    return ldap.Endpoint(url=connection.url, start_tls=connection.start_tls,
                         ca_certificate=connection.ca_certificate, timeout=connection.timeout_seconds,
                         bind_dn=connection.bind_dn, password=bind_password(connection) if password is None else password)


def reseal_passwords(*, old: sealing.Keyring, new: sealing.Keyring) -> int:
    """Part of ``keys rotate``: re-seal every bind password under the new primary key."""
    count = 0
    for connection in DirectoryConnection.objects.select_for_update().exclude(bind_password_sealed=""):
        purpose = password_purpose(connection.pk)
        connection.bind_password_sealed = sealing.seal(
            sealing.unseal(connection.bind_password_sealed, purpose=purpose, keyring=old), purpose=purpose, keyring=new)
        connection.save(update_fields=["bind_password_sealed"])
        count += 1
    return count


@dataclass
class TestStep:
    name: str
    ok: bool
    detail: str


def test_connection(connection: DirectoryConnection, *, password: str | None = None) -> list[TestStep]:
    """Connect, secure, bind, read each base DN and try the filters, stopping at the first step
    that fails; each step says what it found or exactly what is wrong."""
    steps: list[TestStep] = []
    endpoint = endpoint_for(connection, password=password)
    secure = "LDAPS" if endpoint.url.lower().startswith("ldaps://") else ("StartTLS" if endpoint.start_tls else
                                                                           "no encryption")
    try:
        conn = ldap.connect(endpoint)
    except DirectoryError as exc:
        steps.append(TestStep("Connect and bind", False, exc.public_message))
        return steps
    steps.append(TestStep("Connect and bind", True, f"Bound as {endpoint.bind_dn} ({secure})."))
    mapping = effective_mapping(connection.flavour, connection.mapping)
    try:
        for base in connection.base_dn_list:
            try:
                ldap.base_exists(conn, base)
            except DirectoryError as exc:
                steps.append(TestStep(f"Base DN {base}", False, exc.public_message))
                return steps
            steps.append(TestStep(f"Base DN {base}", True, "Found."))
        for label, search_filter, attribute in (("user filter", connection.user_filter, mapping["upn"]),
                                                ("group filter", connection.group_filter, mapping["group_name"])):
            if not search_filter:
                continue
            count, sample = 0, ""
            try:
                for base in connection.base_dn_list:
                    for page in ldap.paged_search(conn, base, search_filter, [attribute], label=label, page_size=100):
                        count += len(page.entries)
                        if not sample and page.entries:
                            sample = page.entries[0][0]
                        break  # the first page is enough to show the filter works
            except DirectoryError as exc:
                steps.append(TestStep(label.capitalize(), False, exc.public_message))
                return steps
            found = f"{count}{'+' if count >= 100 else ''} entr{'y' if count == 1 else 'ies'} found"
            steps.append(TestStep(label.capitalize(), True, f"{found}{f', for example {sample}' if sample else ''}."))
    finally:
        ldap.close(conn)
    return steps


def restore_user(user: User, *, actor, request=None) -> str | None:
    """Bring back a soft-deleted person with their methods. One still linked to a directory
    that no longer has them becomes Watchword-managed, with a one-time password (returned)."""
    from watchword.directory.services import generate_one_time_password

    one_time = None
    with transaction.atomic():
        row = User.objects.select_for_update().get(pk=user.pk)
        if row.deleted_at is None:
            return None
        row.deleted_at = None
        row.is_active = True
        if row.directory_connection_id is not None:
            row.directory_connection = None
            row.external_id = row.external_dn = ""
            one_time = generate_one_time_password()
            row.set_password(one_time)
            row.must_change_password = True
        row.updated_at = timezone.now()
        row.save()
        record_change(actor=actor, action="user.restore", target=row, after={"enabled": True,
                                                                            "watchword_managed": True},
                      request=request)
    return one_time
