"""Who is calling the REST API: an application with an OAuth access token from the client
credentials grant, or an administrator with a personal token (``wwp_…``). Both arrive as
``Authorization: Bearer <token>``; both carry scopes (``protocols.scopes.API_SCOPES``).

Personal tokens are 256 random bits, shown once and kept only as their SHA-256 (a hash of a
high-entropy random value needs no salt or stretching). Each call re-reads the owner: a
disabled person or one who lost their admin role has tokens that no longer work."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta
from functools import cached_property

from django.db import connection, transaction
from django.utils import timezone

from watchword.audit.services import record_change
from watchword.core.errors import WatchwordError
from watchword.protocols.models import PersonalToken
from watchword.protocols.scopes import API_SCOPES

PREFIX = "wwp_"
DEFAULT_DAYS = 90
MAX_DAYS = 366
MAX_TOKENS_PER_PERSON = 20
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$")
# Touching ``last_used_at`` on every call would turn each read into a write; once a minute is
# precise enough to tell which tokens are in use.
LAST_USED_RESOLUTION = timedelta(seconds=60)


class TokenInvalid(WatchwordError):
    code = "invalid_token"
    status = 401
    message = "The access token is missing, malformed, expired or revoked."


class ScopeMissing(WatchwordError):
    code = "insufficient_scope"
    status = 403
    message = "The access token does not carry the scope this call needs."


class TokenRequestInvalid(WatchwordError):
    code = "token_invalid_request"
    message = "Check the token's details."


class TokenNotFound(WatchwordError):
    code = "token_not_found"
    status = 404
    message = "There is no such API token."


@dataclass(frozen=True)
class Caller:
    """Who made an API call: ``kind`` is "application" or "personal"; ``user_id`` the token's
    owner (personal tokens only; ``user`` loads them when a call needs more than the id) and
    ``owner_role`` their role at this call; ``key`` names the caller for ownership of
    challenges; ``label`` names it in logs."""

    kind: str
    key: str
    label: str
    scopes: frozenset[str]
    user_id: int | None = None
    name: str = ""
    owner_is_global_admin: bool = False
    owner_role: str = ""

    @cached_property
    def user(self):
        from watchword.directory.models import User

        return User.objects.get(pk=self.user_id) if self.user_id is not None else None

    @property
    def actor(self):
        """What the audit log records as having made a change."""
        return self.user if self.user_id is not None else self.label

    @property
    def log_app(self) -> str:
        """The application the sign-in log shows for verifications made by this caller."""
        return f"api:{self.name}"[:64]


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def clean_scopes(value: object, *, field_name: str = "scopes") -> list[str]:
    if isinstance(value, (list, tuple)):
        items = [str(item) for item in value]
    else:
        items = str(value or "").replace(",", " ").split()
    if not items:
        raise TokenRequestInvalid(f"Choose at least one scope: {', '.join(API_SCOPES)}.", field=field_name)
    unknown = [item for item in items if item not in API_SCOPES]
    if unknown:
        raise TokenRequestInvalid(f"Unknown scope {unknown[0]!r}; the scopes are {', '.join(API_SCOPES)}.",
                                  field=field_name)
    return list(dict.fromkeys(items))


def clean_token_name(value: object) -> str:
    name = str(value or "").strip()
    if not NAME_RE.match(name):
        raise TokenRequestInvalid("The name must be 1 to 64 letters, digits, spaces, dots, dashes or underscores "
                                  "(like ci-pipeline).", field="name")
    return name


def clean_days(value: object) -> int:
    if value in (None, ""):
        return DEFAULT_DAYS
    try:
        days = int(str(value).strip())
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        raise TokenRequestInvalid(f"A token lasts 1 to {MAX_DAYS} days.", field="days")
    return days


def create_token(owner, *, name: object, scopes: object, days: object = None, actor=None,
                 request=None) -> tuple[PersonalToken, str]:
    """A new personal token for ``owner`` (an administrator); returns the row and the token,
    which is shown once."""
    if not getattr(owner, "is_admin", False) or not owner.is_active:
        raise TokenRequestInvalid("Only enabled administrators can have API tokens.", field="user")
    name = clean_token_name(name)
    scope_list = clean_scopes(scopes)
    lifetime = clean_days(days)
    token = PREFIX + secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        live = PersonalToken.objects.filter(user=owner, revoked_at__isnull=True, expires_at__gt=now)
        if live.count() >= MAX_TOKENS_PER_PERSON:
            raise TokenRequestInvalid(f"A person can hold at most {MAX_TOKENS_PER_PERSON} live tokens; revoke one "
                                      "first.", field="name")
        row = PersonalToken.objects.create(user=owner, name=name, token_hash=digest(token), hint=token[:8],
                                           scopes=" ".join(scope_list), created_at=now,
                                           expires_at=now + timedelta(days=lifetime))
        record_change(actor=actor or owner, action="api.token.create", target=row, target_type="api_token",
                      after={"owner": owner.upn, "name": name, "scopes": scope_list,
                             "expires": row.expires_at.isoformat()}, request=request)
    return row, token


def tokens_of(owner=None) -> list[PersonalToken]:
    rows = PersonalToken.objects.select_related("user")
    if owner is not None:
        rows = rows.filter(user=owner)
    return list(rows.order_by("-created_at"))


def get_token(token_id: object, owner=None) -> PersonalToken:
    try:
        row = PersonalToken.objects.select_related("user").filter(pk=int(str(token_id))).first()
    except (TypeError, ValueError, OverflowError):
        row = None
    if row is None or (owner is not None and row.user_id != owner.pk):
        raise TokenNotFound()
    return row


def revoke_token(row: PersonalToken, *, actor, request=None) -> bool:
    """Revoke once; False when it was revoked already."""
    with transaction.atomic():
        done = PersonalToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()) == 1
        if done:
            record_change(actor=actor, action="api.token.revoke", target=row, target_type="api_token",
                          before={"owner": row.user.upn, "name": row.name}, request=request)
    return done


def token_state(row: PersonalToken, now=None) -> str:
    now = now or timezone.now()
    if row.revoked_at is not None:
        return "revoked"
    if row.expires_at <= now:
        return "expired"
    return "active"


# ----------------------------------------------------------------------------------------------
# Authenticating a call


def caller_from_header(header: str | None) -> Caller:
    """The caller of a request with this ``Authorization`` header, or ``TokenInvalid``."""
    scheme, _, token = (header or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > 512 or not token.isascii():
        raise TokenInvalid()
    now = timezone.now()
    if token.startswith(PREFIX):
        return _personal(token, now)
    return _application(token, now)


# Every API call starts here, so each kind of token is looked up with one prepared statement
# (Django's raw cursor) rather than a query the ORM builds anew on each call: on the busiest
# call, /verify, building it cost more than the rest of the lookup.


def _personal(token: str, now) -> Caller:
    from watchword.directory.models import Role, User

    ops = connection.ops
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.id, t.name, t.scopes, t.user_id, u.upn, u.is_active, u.role, "
            f"CASE WHEN t.last_used_at IS NULL OR t.last_used_at < %s THEN 1 ELSE 0 END "
            f"FROM {PersonalToken._meta.db_table} t JOIN {User._meta.db_table} u ON u.id = t.user_id "
            f"WHERE t.token_hash = %s AND t.revoked_at IS NULL AND t.expires_at > %s",
            [ops.adapt_datetimefield_value(now - LAST_USED_RESOLUTION), digest(token),
             ops.adapt_datetimefield_value(now)])
        row = cursor.fetchone()
    if row is None:
        raise TokenInvalid()
    token_id, name, scopes, user_id, upn, active, role, stale = row
    if not active or role not in (Role.GLOBAL_ADMIN, Role.AUTHENTICATION_ADMIN, Role.SECURITY_ADMIN):
        raise TokenInvalid("The token's owner is no longer an enabled administrator.")
    if stale:
        PersonalToken.objects.filter(pk=token_id).update(last_used_at=now)
    return Caller(kind="personal", key=f"token:{token_id}", label=upn, scopes=frozenset(scopes.split()),
                  user_id=user_id, name=f"{upn}/{name}", owner_is_global_admin=role == Role.GLOBAL_ADMIN,
                  owner_role=role)


def _application(token: str, now) -> Caller:
    from oauth2_provider.models import get_access_token_model, get_application_model

    Application = get_application_model()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT a.client_id, a.name, t.scope "
            f"FROM {get_access_token_model()._meta.db_table} t "
            f"JOIN {Application._meta.db_table} a ON a.id = t.application_id "
            f"WHERE t.token_checksum = %s AND t.expires > %s AND t.user_id IS NULL "
            f"AND a.authorization_grant_type = %s",
            [hashlib.sha256(token.encode()).hexdigest(), connection.ops.adapt_datetimefield_value(now),
             Application.GRANT_CLIENT_CREDENTIALS])
        row = cursor.fetchone()
    if row is None:
        raise TokenInvalid()
    client_id, name, scope = row
    return Caller(kind="application", key=f"app:{client_id}"[:80], label=f"app:{name}", scopes=frozenset(scope.split()),
                  name=name)
