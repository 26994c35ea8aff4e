"""The WSGI application gunicorn serves: the REST API goes through a shorter middleware stack (no
sessions, CSRF, messages or static files: calls carry bearer tokens), the site through the full one,
and both keep the host check and the security headers."""

from __future__ import annotations

import io
from wsgiref.util import setup_testing_defaults

import pytest

from watchword.wsgi import api_application, application, site_application


def call(path: str, host: str = "127.0.0.1") -> tuple[str, dict]:
    environ: dict = {"PATH_INFO": path, "HTTP_HOST": host, "REQUEST_METHOD": "GET", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    environ["HTTP_HOST"] = host
    seen = {}

    def start_response(status, headers, exc_info=None):
        seen["status"], seen["headers"] = status, dict(headers)

    b"".join(application(environ, start_response))
    return seen["status"], seen["headers"]


@pytest.fixture(autouse=True)
def keep_connection():
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_the_site_keeps_its_full_stack_and_the_api_has_the_short_one():
    from django.conf import settings

    status, headers = call("/signin")
    assert status.startswith("200") and "watchword_csrf=" in headers.get("Set-Cookie", "")  # CSRF is on for pages
    assert headers.get("X-Frame-Options") == "DENY"
    assert site_application._middleware_chain is not api_application._middleware_chain
    assert settings.MIDDLEWARE != settings.API_MIDDLEWARE  # loading the API's stack left the site's alone


@pytest.mark.django_db
def test_api_answers_keep_the_security_headers_and_set_no_cookie():
    status, headers = call("/api/v1/users")
    assert status.startswith("401")
    assert "Content-Security-Policy" in headers and headers.get("X-Content-Type-Options") == "nosniff"
    assert "Set-Cookie" not in headers and "Cookie" not in headers.get("Vary", "")


@pytest.mark.django_db
def test_both_stacks_check_the_host():
    assert call("/api/v1/openapi.json", host="evil.example")[0].startswith("400")
    assert call("/signin", host="evil.example")[0].startswith("400")
    assert call("/api/v1/openapi.json")[0].startswith("200")
