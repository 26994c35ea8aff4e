"""OpenID Connect provider on django-oauth-toolkit (docs/oidc.md).

Sign-in happens on Watchword's own pages (LOGIN_URL). At the authorization endpoint the session's
``amr`` and sign-in time are recorded against the authorization code (``OidcSignIn``); the ID
tokens issued for that code, and later for its refresh tokens, carry them as ``amr``, ``acr`` and
``auth_time``. ``prompt=login`` and a ``max_age`` older than the session's sign-in send the person
through sign-in again (the sign-in page asks even when they are signed in) before a code is issued;
``acr_values=urn:watchword:mfa`` sends a person whose session has no second factor through one
(``signin:step_up``). Applications with consent on see a consent page (Allow / Cancel)."""

from __future__ import annotations

import hashlib
import re
import time
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from django.http import HttpResponseRedirect
from django.urls import reverse
from jwcrypto import jws
from oauth2_provider.exceptions import OAuthToolkitError
from oauth2_provider.models import get_application_model
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.utils import jwk_from_pem
from oauth2_provider.views import AuthorizationView as _AuthorizationView

from watchword.core.middleware import CSP
from watchword.protocols.models import OidcClientScopes, OidcSignIn
from watchword.signin.services import SESSION_AMR, SESSION_AUTH_TIME

ACR_MFA = "urn:watchword:mfa"
ACR_PASSWORD = "urn:watchword:pwd"
ACR_VALUES = (ACR_PASSWORD, ACR_MFA)  # as discovery lists them


def acr_of(amr) -> str:
    return ACR_MFA if "mfa" in (amr or []) else ACR_PASSWORD


def asks_for_mfa(acr_values: str) -> bool:
    """Whether an authorization request's ``acr_values`` (OpenID Connect Core 1.0 §3.1.2.1: a
    space-separated list in order of preference) asks for a second factor: its first value that
    Watchword knows is ``urn:watchword:mfa``. Values Watchword does not know are ignored."""
    known = [value for value in (acr_values or "").split() if value in ACR_VALUES]
    return bool(known) and known[0] == ACR_MFA


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

    def _load_application(self, client_id, request):
        """DOT's, with the application's allowed scopes read in the same query (a service's token
        request needs both; one query fewer per grant)."""
        if not request.client and client_id:
            try:
                request.client = (get_application_model().objects.select_related("watchword_scopes")
                                  .get(client_id=client_id))
            except (get_application_model().DoesNotExist, ValueError):
                pass  # DOT's own lookup says so
        return super()._load_application(client_id, request)

    def _allowed_scopes(self, client) -> list[str] | None:
        try:
            return client.watchword_scopes.scopes.split()  # cached on the application object
        except OidcClientScopes.DoesNotExist:
            return None

    def validate_scopes(self, client_id, scopes, client, request, *args, **kwargs):
        """Only the scopes registered for the application (else ``invalid_scope``)."""
        if not super().validate_scopes(client_id, scopes, client, request, *args, **kwargs):
            return False
        allowed = self._allowed_scopes(client)
        return allowed is not None and set(scopes) <= set(allowed)

    def get_default_scopes(self, client_id, request, *args, **kwargs):
        """A service's token request without ``scope`` gets every scope it is allowed (RFC 6749
        §3.3 lets the server choose); for other applications, ``openid``."""
        client = request.client
        if client is not None and client.authorization_grant_type == client.GRANT_CLIENT_CREDENTIALS:
            return self._allowed_scopes(client) or []
        return super().get_default_scopes(client_id, request, *args, **kwargs)

    def validate_user(self, username, password, client, request, *args, **kwargs):
        """Never: passwords are checked only on Watchword's sign-in pages, with their throttling
        and second factor (the token endpoint refuses the password grant before this)."""
        return False

    def _get_key_for_token(self, token):
        """The key a token (an ``id_token_hint``) names with its ``kid``: the current one or a
        retired one still published, so hints signed before a key rotation are still honoured.
        ``None`` for anything that is not a token of an application here."""
        try:
            key = super()._get_key_for_token(token)
            unverified = jws.JWS()
            unverified.deserialize(token)
            kid = unverified.jose_header.get("kid")
        except (ValueError, TypeError, KeyError, AttributeError, jws.InvalidJWSObject):
            return None
        if key is None or not kid or key.get("kty") != "RSA" or key.thumbprint() == kid:
            return key
        for pem in oauth2_settings.OIDC_RSA_PRIVATE_KEYS_INACTIVE:
            retired = jwk_from_pem(pem)
            if retired.thumbprint() == kid:
                return retired
        return key

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


_HOST = re.compile(r"^(?:[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])$")


def allowing_forms_to(response, uris):
    """The page's Content-Security-Policy with ``form-action`` widened to the origins of
    ``uris``: the consent and sign-out forms end in a redirect to the application, which
    browsers check against ``form-action`` too (CSP Level 3)."""
    origins = []
    for uri in uris:
        try:
            parts = urlsplit(uri)
            host = parts.hostname or ""
            port = parts.port
        except ValueError:
            continue
        host = f"[{host}]" if ":" in host else host
        if parts.scheme in ("http", "https") and _HOST.match(host):
            origins.append(f"{parts.scheme}://{host}{f':{port}' if port else ''}")
    if origins:
        widened = " ".join(["'self'", *dict.fromkeys(origins)])
        response["Content-Security-Policy"] = CSP.replace("form-action 'self'", f"form-action {widened}")
    return response


def _without(full_path: str, *names: str) -> str:
    parts = urlsplit(full_path)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key not in names]
    return urlunsplit(("", "", parts.path, urlencode(query), ""))


class AuthorizationView(_AuthorizationView):
    """The authorization endpoint: DOT's, with a fresh sign-in for ``prompt=login`` and
    ``max_age``, a second factor for ``acr_values=urn:watchword:mfa``, Watchword's consent page,
    and the session's sign-in details handed to the validator."""

    template_name = "protocols/oidc_consent.html"

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
        if request.user.is_authenticated:
            answer = self._apply_policies(request)
            if answer is not None:
                return answer
        session_amr = request.session.get(SESSION_AMR) or []
        if asks_for_mfa(request.GET.get("acr_values", "")) and "mfa" not in session_amr:
            try:
                self.validate_authorization_request(request)  # a bad request is refused before any step-up
            except OAuthToolkitError as error:
                return self.error_response(error, application=None)
            step_up = reverse("signin:step_up")
            return HttpResponseRedirect(f"{step_up}?{urlencode({'next': request.get_full_path()})}")
        return super().get(request, *args, **kwargs)

    def _apply_policies(self, request):
        """The policies for this application, for the person already signed in here: blocked,
        a second factor first (step-up), sign in again (sign-in frequency), or nothing to do."""
        from watchword.audit.services import record_signin
        from watchword.methods.services import methods_of
        from watchword.policy.engine import Outcome
        from watchword.signin.services import client_of, decide, signin_expired

        if signin_expired(request):
            return self._sign_in_again(request, request.get_full_path())
        client_id = request.GET.get("client_id", "")[:100] or "unknown"
        evaluation = decide(request.user, methods_of(request.user), app=client_id, client=client_of(client_id),
                            request=request, in_session=True)
        decision = evaluation.decision
        if decision.outcome == Outcome.ALLOW:
            return None
        try:
            self.validate_authorization_request(request)  # a bad request is refused before anything else
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        if decision.outcome == Outcome.BLOCK:
            record_signin(request=request, flow_id="sso", typed_name=request.user.upn, user=request.user,
                          step="policy", result="failure", error_code=decision.error_code or 53003,
                          reason="; ".join(r.detail for r in decision.reasons)[:300], app=client_id,
                          requirement=decision.requirement, **evaluation.log_fields())
            from django.shortcuts import render

            return render(request, "signin/blocked.html", {"mfa_blocked": decision.requirement == "fraud_block"},
                          status=403)
        step_up = reverse("signin:step_up")
        return HttpResponseRedirect(f"{step_up}?{urlencode({'next': request.get_full_path()})}")

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        application = context.get("application")
        return allowing_forms_to(response, application.redirect_uris.split()) if application else response

    def form_valid(self, form):
        """Allow or Cancel on the consent page. The form's hidden fields come back from the
        browser, so an application that does not exist is refused here, not with a crash; the
        rest of the request is validated again by DOT (Cancel gives the application
        ``access_denied``, RFC 6749 §4.1.2.1)."""
        try:
            known = get_application_model().objects.filter(client_id=form.cleaned_data["client_id"]).exists()
        except ValueError:  # a value no database column can hold (a NUL byte, on PostgreSQL)
            known = False
        if not known:
            return self.render_to_response({"error": {"error": "invalid_client",
                                                      "description": "That application is not registered here."}},
                                           status=400)
        return super().form_valid(form)

    def form_invalid(self, form):
        return self.render_to_response({"error": {"error": "invalid_request",
                                                  "description": "The consent form was incomplete. Go back to the "
                                                                 "application and sign in again."}}, status=400)

    def _sign_in_again(self, request, next_path: str):
        """To the sign-in page, which asks again even for a signed-in person (``switch=1``); the
        session is not ended here, so a link from another site cannot sign anyone out. The code
        is issued only after the new sign-in, whose time the ID token's ``auth_time`` carries."""
        return HttpResponseRedirect(f"{self.get_login_url()}?{urlencode({'switch': '1', 'next': next_path})}")

    def create_authorization_response(self, request, scopes, credentials, allow):
        credentials["watchword_amr"] = list(request.session.get(SESSION_AMR) or [])
        credentials["watchword_auth_time"] = request.session.get(SESSION_AUTH_TIME)
        return super().create_authorization_response(request, scopes, credentials, allow)


__all__ = ["ACR_MFA", "ACR_PASSWORD", "AuthorizationView", "WatchwordValidator", "acr_of", "asks_for_mfa"]
