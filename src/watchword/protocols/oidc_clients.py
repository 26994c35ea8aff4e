"""Registering OpenID Connect clients (relying parties): ``watchword oidc client add``."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.db import transaction

from watchword.core.errors import WatchwordError
from watchword.protocols.models import OidcClientScopes

ALLOWED_SCOPES = ("openid", "profile", "email")


class BadClient(WatchwordError):
    code = "oidc_client_invalid"


@dataclass(frozen=True)
class NewClient:
    client_id: str
    client_secret: str  # empty for public clients; shown once, stored hashed
    application: object


def _check_redirect_uri(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.scheme not in ("https", "http") or not parts.netloc or parts.fragment:
        raise BadClient(f"{uri!r} is not an absolute http(s) redirect URI without a fragment")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise BadClient(f"{uri!r}: plain http is only allowed for localhost; use https")
    return uri


def add_client(*, name: str, redirect_uris: list[str], public: bool, scopes: str = "openid profile email") -> NewClient:
    from oauth2_provider.models import get_application_model

    Application = get_application_model()
    name = name.strip()
    if not name:
        raise BadClient("the client needs a name")
    uris = [_check_redirect_uri(uri.strip()) for uri in redirect_uris if uri.strip()]
    if not uris:
        raise BadClient("at least one --redirect-uri is needed")
    wanted = scopes.split()
    unknown = [scope for scope in wanted if scope not in ALLOWED_SCOPES]
    if unknown or "openid" not in wanted:
        raise BadClient(f"scopes must include openid and be among {' '.join(ALLOWED_SCOPES)}")
    secret = "" if public else secrets.token_urlsafe(48)
    with transaction.atomic():
        if Application.objects.filter(name=name).exists():
            raise BadClient(f"an OpenID Connect client named {name!r} exists already")
        application = Application(
            name=name,
            client_type=Application.CLIENT_PUBLIC if public else Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris=" ".join(uris),
            algorithm=Application.RS256_ALGORITHM,
            skip_authorization=True,  # registered by an administrator: no consent page
        )
        if secret:
            application.client_secret = secret  # hashed on save
        application.save()
        OidcClientScopes.objects.create(application=application, scopes=" ".join(dict.fromkeys(wanted)))
    return NewClient(client_id=application.client_id, client_secret=secret, application=application)
