"""Response headers every page carries (a strict Content-Security-Policy and friends), and the
client's address when the front (``watchword serve``) stands before the workers."""

from __future__ import annotations

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CSP)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if request.path.startswith(("/signin", "/mysecurityinfo", "/myaccount", "/admin")):
            response["Cache-Control"] = "no-store"
        return response


class ClientAddressMiddleware:
    """Under ``watchword serve`` the workers see the front's Unix socket, not the client: the front
    sends the client's address in ``X-Watchword-Client`` (after removing any the client sent).
    Only when ``SERVED_BY_FRONT`` is on (gunicorn started by ``watchword serve``) does that header
    become ``REMOTE_ADDR``; otherwise it is ignored, so it cannot be forged."""

    def __init__(self, get_response):
        from django.conf import settings

        self.get_response = get_response
        self.enabled = getattr(settings, "SERVED_BY_FRONT", False)

    def __call__(self, request):
        if self.enabled:
            address = request.META.get("HTTP_X_WATCHWORD_CLIENT")
            if address:
                request.META["REMOTE_ADDR"] = address
        return self.get_response(request)
