"""Applications registered with the OpenID Connect provider (DOT's ``Application``): add, list,
new secret, remove. Used by ``watchword oidc client …`` and Admin → Applications.

Three kinds, each a fixed pair of DOT's client type and grant type:

- ``web``: a web application with a server side that keeps a secret (confidential,
  authorization code; PKCE honoured when sent);
- ``spa``: a single-page or native app, which cannot keep a secret (public, authorization code
  with PKCE required);
- ``service``: a program calling the REST API as itself (confidential, client credentials), with
  API scopes and no redirect URIs.

The scopes an application may ask for are kept in ``OidcClientScopes``. Client secrets are shown
once and stored hashed (``CLIENT_SECRET_HASHER``)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction

from watchword.audit.services import record_change
from watchword.protocols.errors import OidcClientExists, OidcClientInvalid, OidcClientNotFound
from watchword.protocols.models import OidcClientScopes
from watchword.protocols.scopes import API_SCOPES, OIDC_SCOPES

WEB, SPA, SERVICE = "web", "spa", "service"
KIND_LABELS = {WEB: "Web application", SPA: "Single-page or native app", SERVICE: "Service (client credentials)"}
DEFAULT_SIGN_IN_SCOPES = ("openid", "profile", "email")
MAX_NAME = 100
MAX_URIS = 20
MAX_URI = 2000
LOOPBACK = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str  # empty for public clients; shown once, stored hashed
    application: object


@dataclass(frozen=True)
class ClientRow:
    """What may be shown of an application: never its secret."""

    pk: int
    name: str
    client_id: str
    kind: str
    redirect_uris: tuple[str, ...]
    post_logout_redirect_uris: tuple[str, ...]
    scopes: tuple[str, ...]
    consent: bool
    created: object

    @property
    def kind_label(self) -> str:
        return KIND_LABELS[self.kind]

    @property
    def confidential(self) -> bool:
        return self.kind != SPA


def _application_model():
    from oauth2_provider.models import get_application_model

    return get_application_model()


def kind_of(application) -> str:
    Application = _application_model()
    if application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS:
        return SERVICE
    return SPA if application.client_type == Application.CLIENT_PUBLIC else WEB


# --- checking what is asked for ---------------------------------------------------------------

def clean_name(value: object) -> str:
    name = str(value or "").strip()
    if not name or len(name) > MAX_NAME:
        raise OidcClientInvalid(f"The name must be 1 to {MAX_NAME} characters long.", field="name")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in name):
        raise OidcClientInvalid("The name cannot contain control characters.", field="name")
    return name


def clean_kind(value: object) -> str:
    kind = str(value or "").strip().lower()
    if kind not in KIND_LABELS:
        raise OidcClientInvalid("The kind must be web, spa or service.", field="kind")
    return kind


def _clean_uri(uri: str, field: str) -> str:
    if len(uri) > MAX_URI:
        raise OidcClientInvalid(f"{uri[:60]}… is longer than {MAX_URI} characters.", field=field)
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in uri):
        raise OidcClientInvalid(f"{uri!r} contains spaces or control characters.", field=field)
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        parts, host = None, None
    if parts is None or parts.scheme not in ("https", "http") or not host or parts.fragment:
        raise OidcClientInvalid(f"{uri} is not an absolute http(s) address without a #fragment "
                                "(like https://app.example.org/callback).", field=field)
    if parts.scheme == "http" and host not in LOOPBACK:
        raise OidcClientInvalid(f"{uri}: plain http is only allowed for localhost; use https.", field=field)
    return uri


def clean_uris(values, field: str = "redirect_uris") -> list[str]:
    """Addresses given one per item (or several in one item, separated by spaces or new lines),
    each checked; duplicates dropped, order kept."""
    if isinstance(values, str):
        values = [values]
    uris = []
    for value in values or ():
        uris.extend(str(value).split())
    uris = list(dict.fromkeys(_clean_uri(uri, field) for uri in uris))
    if len(uris) > MAX_URIS:
        raise OidcClientInvalid(f"At most {MAX_URIS} addresses may be registered.", field=field)
    return uris


def clean_scopes(kind: str, value) -> list[str]:
    """The scopes an application of ``kind`` may ask for: OpenID Connect ones (with ``openid``)
    for applications that sign people in, API ones for services."""
    if value is None or value == "":  # not given (an empty list is a choice of none)
        if kind == SERVICE:
            raise OidcClientInvalid(f"Choose at least one API scope for a service: {' '.join(API_SCOPES)}.",
                                    field="scopes")
        return list(DEFAULT_SIGN_IN_SCOPES)
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    wanted = list(dict.fromkeys(str(scope).strip() for scope in value if str(scope).strip()))
    allowed = API_SCOPES if kind == SERVICE else OIDC_SCOPES
    unknown = [scope for scope in wanted if scope not in allowed]
    if unknown:
        what = "API scopes" if kind == SERVICE else "OpenID Connect scopes"
        raise OidcClientInvalid(f"{', '.join(unknown)[:200]}: not among the {what} a {KIND_LABELS[kind].lower()} "
                                f"may have ({' '.join(allowed)}).", field="scopes")
    if kind == SERVICE and not wanted:
        raise OidcClientInvalid(f"Choose at least one API scope for a service: {' '.join(API_SCOPES)}.",
                                field="scopes")
    if kind != SERVICE and "openid" not in wanted:
        raise OidcClientInvalid("An application that signs people in needs the openid scope.", field="scopes")
    return wanted


# --- changes ----------------------------------------------------------------------------------

def add_client(*, name: object, kind: object = None, redirect_uris=(), post_logout_redirect_uris=(),
               scopes=None, consent: bool = False, public: bool | None = None, actor, request=None) -> NewClient:
    """Register an application; returns its client ID and, for a confidential one, its secret
    (shown once). ``public`` is the older way of saying ``kind="spa"``."""
    Application = _application_model()
    if kind is None:
        kind = SPA if public else WEB
    kind = clean_kind(kind)
    if public is not None and bool(public) != (kind == SPA):
        raise OidcClientInvalid("--public is for single-page and native apps (kind spa) only.", field="kind")
    name = clean_name(name)
    uris = clean_uris(redirect_uris)
    logout_uris = clean_uris(post_logout_redirect_uris, "post_logout_redirect_uris")
    if kind == SERVICE and (uris or logout_uris):
        raise OidcClientInvalid("A service signs nobody in, so it has no redirect URIs.", field="redirect_uris")
    if kind != SERVICE and not uris:
        raise OidcClientInvalid("Give at least one redirect URI: where the application receives the code.",
                                field="redirect_uris")
    wanted = clean_scopes(kind, scopes)
    secret = "" if kind == SPA else secrets.token_urlsafe(48)
    with transaction.atomic():
        if Application.objects.filter(name=name).exists():
            raise OidcClientExists(f"An application named {name} already exists.", field="name")
        application = Application(
            name=name,
            client_type=Application.CLIENT_PUBLIC if kind == SPA else Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=(Application.GRANT_CLIENT_CREDENTIALS if kind == SERVICE
                                      else Application.GRANT_AUTHORIZATION_CODE),
            redirect_uris=" ".join(uris),
            post_logout_redirect_uris=" ".join(logout_uris),
            algorithm=Application.RS256_ALGORITHM if kind != SERVICE else Application.NO_ALGORITHM,
            skip_authorization=kind == SERVICE or not consent,
        )
        if secret:
            application.client_secret = secret  # hashed on save
        application.save()
        OidcClientScopes.objects.create(application=application, scopes=" ".join(wanted))
        record_change(actor=actor, action="oidc.client.add", target=application, target_type="oidc_client",
                      after=_described(application, wanted), request=request)
    return NewClient(client_id=application.client_id, client_secret=secret, application=application)


def new_secret(application, *, actor, request=None) -> str:
    """A new secret for a confidential application, shown once; the old one stops working now."""
    if kind_of(application) == SPA:
        raise OidcClientInvalid(f"{application.name} is a single-page or native app: it has no secret.")
    secret = secrets.token_urlsafe(48)
    with transaction.atomic():
        application.client_secret = secret  # hashed on save
        application.save(update_fields=["client_secret", "updated"])
        record_change(actor=actor, action="oidc.client.secret", target=application, target_type="oidc_client",
                      after={"name": application.name, "client_id": application.client_id}, request=request)
    return secret


def remove_client(application, *, actor, request=None) -> int:
    """Remove an application and every token issued to it; returns how many tokens that was."""
    from oauth2_provider.models import get_access_token_model, get_refresh_token_model

    with transaction.atomic():
        before = _described(application, scopes_of(application))
        revoked = (get_access_token_model().objects.filter(application=application).count()
                   + get_refresh_token_model().objects.filter(application=application, revoked__isnull=True).count())
        record_change(actor=actor, action="oidc.client.remove", target=application, target_type="oidc_client",
                      before=before, after={"tokens_revoked": revoked}, request=request)
        application.delete()  # grants, access, refresh and ID tokens go with it
    return revoked


# --- reading ----------------------------------------------------------------------------------

def scopes_of(application) -> list[str]:
    allowed = OidcClientScopes.objects.filter(application=application).values_list("scopes", flat=True).first()
    return (allowed or "").split()


def _described(application, scopes) -> dict:
    return {"name": application.name, "client_id": application.client_id, "kind": kind_of(application),
            "redirect_uris": application.redirect_uris.split(),
            "post_logout_redirect_uris": application.post_logout_redirect_uris.split(),
            "scopes": list(scopes), "consent": not application.skip_authorization}


def _row(application) -> ClientRow:
    kind = kind_of(application)
    scopes = getattr(getattr(application, "watchword_scopes", None), "scopes", "")
    return ClientRow(pk=application.pk, name=application.name, client_id=application.client_id, kind=kind,
                     redirect_uris=tuple(application.redirect_uris.split()),
                     post_logout_redirect_uris=tuple(application.post_logout_redirect_uris.split()),
                     scopes=tuple(scopes.split()), consent=kind != SERVICE and not application.skip_authorization,
                     created=application.created)


def list_clients() -> list[ClientRow]:
    Application = _application_model()
    return [_row(app) for app in Application.objects.select_related("watchword_scopes").order_by("name", "pk")]


def describe(application) -> ClientRow:
    return _row(application)


def get_client(name_or_client_id: object):
    """An application by its name, or else by its client ID."""
    Application = _application_model()
    key = str(name_or_client_id or "").strip()
    try:
        found = (Application.objects.filter(name=key).order_by("pk").first()
                 or Application.objects.filter(client_id=key).first()) if key else None
    except ValueError:  # a value no database column can hold (a NUL byte, on PostgreSQL)
        found = None
    if found is None:
        raise OidcClientNotFound(f"There is no application named {key[:100]!r} (nor with that client ID).")
    return found


def get_client_by_id(pk: object):
    Application = _application_model()
    try:
        found = Application.objects.filter(pk=int(pk)).first()
    except (TypeError, ValueError, OverflowError):
        found = None
    if found is None:
        raise OidcClientNotFound()
    return found
