"""The OpenID Connect endpoints other than authorization, on django-oauth-toolkit's views:
discovery (with Watchword's ``acr`` values and grant types), the token endpoint, the JWKS and
RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0).

The endpoints that sign or verify with the ID-token keys first pick up a key rotation made since
they last looked (``oidc_signing.refresh_signing_keys``)."""

from __future__ import annotations

import json

from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.debug import sensitive_post_parameters
from oauth2_provider import views
from oauth2_provider.exceptions import InvalidOIDCClientError, LogoutDenied
from oauth2_provider.models import get_application_model

from watchword.audit.services import record_signin
from watchword.protocols.oidc import ACR_VALUES, allowing_forms_to
from watchword.protocols.oidc_signing import refresh_signing_keys


class KeysFresh:
    """Picks up a key rotation before the view signs or verifies. (Its ``dispatch`` hides the
    decorators DOT put on its views' ``dispatch``, such as ``csrf_exempt``: views below restate
    the ones they need.)"""

    def dispatch(self, request, *args, **kwargs):
        refresh_signing_keys()
        return super().dispatch(request, *args, **kwargs)


class DiscoveryView(views.ConnectDiscoveryInfoView):
    """DOT's discovery document, plus what it does not know: the ``acr`` values Watchword
    issues and honours in ``acr_values``, the grant types it offers, and its own claims."""

    def get(self, request, *args, **kwargs):
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["acr_values_supported"] = list(ACR_VALUES)
        data["grant_types_supported"] = ["authorization_code", "refresh_token", "client_credentials"]
        data["claims_supported"] = sorted(set(data.get("claims_supported", [])) | {"amr", "acr", "auth_time"})
        shown = JsonResponse(data)
        shown["Access-Control-Allow-Origin"] = "*"
        return shown


GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")


@method_decorator(csrf_exempt, name="dispatch")  # applications post here, not pages of this site
class TokenView(KeysFresh, views.TokenView):
    """DOT's token endpoint for the grant types Watchword offers, and no others. Above all not
    the resource owner password grant (RFC 9700 §2.4): oauthlib checks the password before it
    asks whether the client may use that grant, which would make this endpoint a way to test
    passwords without the sign-in page's throttling and second factor."""

    def post(self, request, *args, **kwargs):
        grant_type = request.POST.get("grant_type", "")
        if grant_type not in GRANT_TYPES:
            error = ({"error": "invalid_request", "error_description": "The grant_type parameter is missing."}
                     if not grant_type else
                     {"error": "unsupported_grant_type",
                      "error_description": f"Supported grant types: {', '.join(GRANT_TYPES)}."})
            response = JsonResponse(error, status=400)
            response["Cache-Control"] = "no-store"
            return response
        return self.token_response(request)

    @method_decorator(sensitive_post_parameters("client_secret", "code_verifier", "refresh_token", "code"))
    def token_response(self, request):
        """DOT's ``authorization_flow_token_response`` without reading back the token it has
        just written, which DOT does only to send its ``app_authorized`` signal; Watchword does
        not listen to it, and the read is a sixth of a client-credentials grant's cost."""
        url, headers, body, status = self.create_token_response(request)
        response = HttpResponse(content=body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response


class JwksView(KeysFresh, views.JwksInfoView):
    pass


class LogoutView(KeysFresh, views.RPInitiatedLogoutView):
    """RP-initiated logout at ``/o/logout/``: with an ``id_token_hint`` of the signed-in person
    it signs them out at once; otherwise it asks first. The Watchword session ends as the
    portal's Sign out ends it (and the sign-in log says so); the person's tokens are revoked;
    the browser goes to the application's ``post_logout_redirect_uri`` only if registered."""

    template_name = "protocols/oidc_logout.html"

    def render_to_response(self, context, **response_kwargs):
        response = super().render_to_response(context, **response_kwargs)
        application = context.get("application")
        return allowing_forms_to(response, application.post_logout_redirect_uris.split()) if application else response

    def get_request_application(self, id_token, client_id):
        if client_id:
            try:
                return get_application_model().objects.get(client_id=client_id)
            except (get_application_model().DoesNotExist, ValueError):
                raise InvalidOIDCClientError() from None
        return super().get_request_application(id_token, client_id)

    def do_logout(self, application=None, post_logout_redirect_uri=None, state=None, token_user=None):
        user = self.request.user
        if user.is_authenticated:
            record_signin(request=self.request, flow_id="signout", typed_name=user.upn, user=user, step="signout",
                          result="success", app=f"oidc:{application.name}"[:64] if application else "oidc")
        response = super().do_logout(application, post_logout_redirect_uri, state, token_user)
        if post_logout_redirect_uri:
            return response
        return render(self.request, "signin/signed_out.html")

    def error_response(self, error):
        if isinstance(error, LogoutDenied):  # Cancel on the confirmation page: still signed in
            return self.render_to_response({"cancelled": True})
        return super().error_response(error)
