"""Admin pages for personal API tokens: an administrator creates tokens for themselves (the
token is shown once), lists and revokes them; a Global Administrator sees and can revoke
everyone's."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from watchword.core.errors import WatchwordError
from watchword.protocols.scopes import API_SCOPES
from watchword.protocols.tokens import DEFAULT_DAYS, MAX_DAYS, create_token, get_token, revoke_token, token_state, \
    tokens_of
from watchword.signin.guards import admin_required


def _rows(request):
    owner = None if request.user.is_global_admin else request.user
    now = timezone.now()
    return [{"token": t, "state": token_state(t, now), "scopes": t.scopes.split()} for t in tokens_of(owner)]


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def api_tokens(request):
    error, field, values = "", "", {"name": "", "scopes": [], "days": str(DEFAULT_DAYS)}
    if request.method == "POST":
        values = {"name": request.POST.get("name", "")[:64],
                  "scopes": [s for s in request.POST.getlist("scopes") if s in API_SCOPES],
                  "days": request.POST.get("days", "")[:4]}
        try:
            row, token = create_token(request.user, name=values["name"], scopes=request.POST.getlist("scopes"),
                                      days=values["days"], request=request)
        except WatchwordError as exc:
            error, field = exc.public_message, exc.field or ""
        else:
            response = render(request, "protocols/api_token_created.html", {"row": row, "token": token})
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "protocols/api_tokens.html", {
        "rows": _rows(request), "scopes": API_SCOPES.items(), "error": error, "error_field": field,
        "values": values, "max_days": MAX_DAYS}, status=400 if error else 200)


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def api_token_revoke(request, token_id: int):
    try:
        row = get_token(token_id, owner=None if request.user.is_global_admin else request.user)
    except WatchwordError:
        return render(request, "core/error.html", {"title": "API token not found",
                                                   "text": "There is no such API token."}, status=404)
    if request.method == "POST":
        if revoke_token(row, actor=request.user, request=request):
            messages.success(request, f"API token {row.name} of {row.user.upn} revoked. Calls with it now get "
                                      "401 invalid_token.")
        else:
            messages.info(request, f"API token {row.name} was already revoked.")
        return redirect("api:tokens")
    return render(request, "protocols/api_token_revoke.html", {"row": row})
