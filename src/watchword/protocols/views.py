"""Admin pages for RADIUS clients (Global Administrators only): list, add (the shared secret is
shown once), remove."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from watchword.core.errors import WatchwordError
from watchword.protocols.services import MIN_SECRET, add_client, get_client_by_id, list_clients, remove_client
from watchword.signin.guards import global_admin_required


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def radius_clients(request):
    error, field, values = "", "", {}
    if request.method == "POST":
        values = {"name": request.POST.get("name", "")[:64], "address": request.POST.get("address", "")[:64]}
        secret = request.POST.get("secret", "") if request.POST.get("secret_choice") == "given" else None
        try:
            client, secret = add_client(name=values["name"], address=values["address"], secret=secret,
                                        actor=request.user, request=request)
        except WatchwordError as exc:
            error, field = exc.public_message, exc.field or ""
        else:
            response = render(request, "protocols/radius_created.html", {"client": client, "secret": secret})
            response["Cache-Control"] = "no-store"
            return response
    return render(request, "protocols/radius_list.html", {"clients": list_clients(), "error": error,
                                                          "error_field": field, "values": values,
                                                          "min_secret": MIN_SECRET},
                  status=400 if error else 200)


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def radius_client_remove(request, client_id: int):
    try:
        client = get_client_by_id(client_id)
    except WatchwordError:
        return render(request, "core/error.html", {"title": "RADIUS client not found",
                                                   "text": "There is no such RADIUS client."}, status=404)
    if request.method == "POST":
        remove_client(client, actor=request.user, request=request)
        messages.success(request, f"RADIUS client {client.name} removed.")
        return redirect("protocols:radius_clients")
    return render(request, "protocols/radius_remove.html", {"client": client})
