"""Sets the ``watchword_device`` cookie a sign-in asked for (``signin.facts.remember_browser``):
the browser's own long-lived random token, so later sign-ins can tell a familiar browser and a
remembered MFA. HttpOnly, SameSite=Lax, Secure where sessions are."""

from __future__ import annotations

from django.conf import settings

from watchword.signin.facts import DEVICE_COOKIE, DEVICE_COOKIE_DAYS


class DeviceCookieMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        token = (getattr(request, "watchword_cookies", None) or {}).get(DEVICE_COOKIE)
        if token:
            response.set_cookie(DEVICE_COOKIE, token, max_age=DEVICE_COOKIE_DAYS * 86400, httponly=True,
                                secure=settings.SESSION_COOKIE_SECURE, samesite="Lax")
        return response
