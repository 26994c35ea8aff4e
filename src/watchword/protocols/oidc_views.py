"""Admin → Applications: the applications registered with the OpenID Connect provider. List,
add (the client secret is shown once), new secret, remove (asks first). Global Administrators
only, like Admin → RADIUS."""

from __future__ import annotations


from django.conf import settings
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from watchword.core.errors import WatchwordError
from watchword.protocols.oidc_clients import (
    KIND_LABELS,
    SERVICE,
    WEB,
    add_client,
    describe,
    get_client_by_id,
    list_clients,
    new_secret,
    remove_client,
)
from watchword.protocols.scopes import API_SCOPES, OIDC_SCOPES
from watchword.signin.guards import global_admin_required

MAX_FIELD = 50_000


def _endpoints() -> dict:
    issuer = settings.PUBLIC_URL
    return {"issuer": issuer, "discovery": f"{issuer}/.well-known/openid-configuration",
            "token": f"{issuer}/o/token/"}


def _shown_once(request, template: str, context: dict):
    response = render(request, template, {**context, **_endpoints()})
    response["Cache-Control"] = "no-store"
    return response


def _form_values(post) -> dict:
    return {
        "kind": post.get("kind", WEB)[:16],
        "name": post.get("name", "")[:200],
        "redirect_uris": post.get("redirect_uris", "")[:MAX_FIELD],
        "post_logout_redirect_uris": post.get("post_logout_redirect_uris", "")[:MAX_FIELD],
        "scopes": [scope[:64] for scope in post.getlist("scopes")[:32]],
        "api_scopes": [scope[:64] for scope in post.getlist("api_scopes")[:32]],
        "consent": post.get("consent") == "on",
    }


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def applications(request):
    error, field = "", ""
    values = {"kind": WEB, "scopes": ["openid", "profile", "email"], "api_scopes": [], "consent": False}
    if request.method == "POST":
        values = _form_values(request.POST)
        service = values["kind"] == SERVICE
        try:
            new = add_client(name=values["name"], kind=values["kind"],
                             redirect_uris=[] if service else values["redirect_uris"].splitlines(),
                             post_logout_redirect_uris=([] if service
                                                        else values["post_logout_redirect_uris"].splitlines()),
                             scopes=values["api_scopes"] if service else values["scopes"],
                             consent=values["consent"], actor=request.user, request=request)
        except WatchwordError as exc:
            error, field = exc.public_message, exc.field or ""
        else:
            return _shown_once(request, "protocols/application_created.html",
                               {"client": describe(new.application), "secret": new.client_secret})
    return render(request, "protocols/application_list.html", {
        "clients": list_clients(), "error": error, "error_field": field, "values": values,
        "kinds": KIND_LABELS.items(), "oidc_scopes": OIDC_SCOPES.items(), "api_scopes": API_SCOPES.items(),
        **_endpoints()}, status=400 if error else 200)


def _client_or_404(request, app_id):
    try:
        return get_client_by_id(app_id), None
    except WatchwordError:
        return None, render(request, "core/error.html", {"title": "Application not found",
                                                         "text": "There is no such application."}, status=404)


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def application_secret(request, app_id: int):
    application, missing = _client_or_404(request, app_id)
    if missing:
        return missing
    client = describe(application)
    if request.method == "POST":
        try:
            secret = new_secret(application, actor=request.user, request=request)
        except WatchwordError as exc:
            messages.error(request, exc.public_message)
            return redirect("protocols:applications")
        return _shown_once(request, "protocols/application_created.html",
                           {"client": client, "secret": secret, "new_secret": True})
    if not client.confidential:
        messages.error(request, f"{client.name} is a single-page or native app: it has no secret.")
        return redirect("protocols:applications")
    return render(request, "protocols/application_confirm.html", {"client": client, "action": "secret"})


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def application_remove(request, app_id: int):
    application, missing = _client_or_404(request, app_id)
    if missing:
        return missing
    client = describe(application)
    if request.method == "POST":
        revoked = remove_client(application, actor=request.user, request=request)
        messages.success(request, f"Application {client.name} removed; {revoked} token{'s' if revoked != 1 else ''} "
                                  "revoked.")
        return redirect("protocols:applications")
    return render(request, "protocols/application_confirm.html", {"client": client, "action": "remove"})
