"""OpenID Connect provider on django-oauth-toolkit (docs/oidc.md).

Sign-in happens on Watchword's own pages (LOGIN_URL). At the authorization endpoint the session's
``amr`` and sign-in time are recorded against the authorization code (``OidcSignIn``); the ID
tokens issued for that code, and later for its refresh tokens, carry them as ``amr``, ``acr`` and
``auth_time``. ``prompt=login`` and a ``max_age`` older than the session's sign-in send the person
through sign-in again (the sign-in page asks even when they are signed in) before a code is issued."""

from __future__ import annotations

import hashlib
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpResponseRedirect
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.views import AuthorizationView as _AuthorizationView

from watchword.protocols.models import OidcClientScopes, OidcSignIn
from watchword.signin.services import SESSION_AMR, SESSION_AUTH_TIME

ACR_MFA = "urn:watchword:mfa"
ACR_PASSWORD = "urn:watchword:pwd"


def acr_of(amr) -> str:
    return ACR_MFA if "mfa" in (amr or []) else ACR_PASSWORD


def _code_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


class WatchwordValidator(OAuth2Validator):
    """DOT's validator with Watchword's claims: profile and e-mail claims of the person, and in
    ID tokens how they signed in (``amr``, ``acr``, ``auth_time``)."""

    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope}

    def get_additional_claims(self, request):
        user = request.user
        return {
            "name": user.display_name,
            "preferred_username": user.upn,
            "email": user.email,
            "email_verified": False,
        }

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        if not super().validate_scopes(client_id, scopes, client, request, *args, **kwargs):
            return False
        allowed = OidcClientScopes.objects.filter(application=client).values_list("scopes", flat=True).first()
        return allowed is not None and set(scopes) <= set(allowed.split())

    # -- how the person signed in, from the authorization endpoint to the ID tokens ----------

    def _create_authorization_code(self, request, code, expires=None):
        grant = super()._create_authorization_code(request, code, expires)
        OidcSignIn.objects.create(grant_code_hash=_code_hash(code["code"]), user=request.user,
                                  amr=list(getattr(request, "watchword_amr", None) or []),
                                  auth_time=float(getattr(request, "watchword_auth_time", None) or time.time()))
        return grant

    def _sign_in_of(self, request) -> OidcSignIn | None:
        found = getattr(request, "_watchword_sign_in", None)
        if found is not None:
            return found
        if request.grant_type == "authorization_code" and request.code:
            found = OidcSignIn.objects.filter(grant_code_hash=_code_hash(request.code)).first()
        elif request.grant_type == "refresh_token":
            previous = getattr(request, "refresh_token_instance", None)
            if previous is not None and previous.token_family:
                found = OidcSignIn.objects.filter(token_family=previous.token_family).first()
        request._watchword_sign_in = found
        return found

    def get_id_token_dictionary(self, token, token_handler, request):
        claims, expiration_time = super().get_id_token_dictionary(token, token_handler, request)
        sign_in = self._sign_in_of(request)
        amr = list(sign_in.amr) if sign_in else []
        claims["amr"] = amr
        claims["acr"] = acr_of(amr)
        if sign_in:
            claims["auth_time"] = int(sign_in.auth_time)
        return claims, expiration_time

    def _create_refresh_token(self, request, refresh_token_code, access_token, previous_refresh_token):
        refresh_token = super()._create_refresh_token(request, refresh_token_code, access_token,
                                                      previous_refresh_token)
        if previous_refresh_token is None and request.grant_type == "authorization_code":
            sign_in = self._sign_in_of(request)
            if sign_in is not None and sign_in.token_family is None:
                sign_in.token_family = refresh_token.token_family
                sign_in.save(update_fields=["token_family"])
        return refresh_token


def _without(full_path: str, *names: str) -> str:
    parts = urlsplit(full_path)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key not in names]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


class AuthorizationView(_AuthorizationView):
    """The authorization endpoint: DOT's, with a fresh sign-in for ``prompt=login`` and
    ``max_age``, and the session's sign-in details handed to the validator."""

    def get(self, request, *args, **kwargs):
        prompt = set(request.GET.get("prompt", "").split())
        if "login" in prompt:
            return self._sign_in_again(request, _without(request.get_full_path(), "prompt"))
        max_age = request.GET.get("max_age", "")
        if max_age:
            try:
                seconds = int(max_age)
            except ValueError:
                seconds = None
            signed_in_at = request.session.get(SESSION_AUTH_TIME)
            if seconds is not None and (not isinstance(signed_in_at, (int, float))
                                        or time.time() - signed_in_at > seconds):
                return self._sign_in_again(request, request.get_full_path())
        return super().get(request, *args, **kwargs)

    def _sign_in_again(self, request, next_path: str):
        """To the sign-in page, which asks again even for a signed-in person (``switch=1``); the
        session is not ended here, so a link from another site cannot sign anyone out. The code
        is issued only after the new sign-in, whose time the ID token's ``auth_time`` carries."""
        return HttpResponseRedirect(f"{self.get_login_url()}?{urlencode({'switch': '1', 'next': next_path})}")

    def create_authorization_response(self, request, scopes, credentials, allow):
        credentials["watchword_amr"] = list(request.session.get(SESSION_AMR) or [])
        credentials["watchword_auth_time"] = request.session.get(SESSION_AUTH_TIME)
        return super().create_authorization_response(request, scopes, credentials, allow)


__all__ = ["AuthorizationView", "WatchwordValidator", "acr_of"]
