"""The WSGI application gunicorn serves: the site, and the REST API (``/api/v1/``) with a
shorter middleware stack. API calls carry bearer tokens only, so the session, CSRF, login,
messages, framing and static-file layers would only cost time on the busiest path (/verify)."""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchword.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402
from django.core.handlers.wsgi import WSGIHandler  # noqa: E402

django.setup(set_prefix=False)

API_PREFIX = "/api/v1/"


class BearerApiHandler(WSGIHandler):
    """Django's handler with ``settings.API_MIDDLEWARE`` instead of ``settings.MIDDLEWARE``."""

    def load_middleware(self, is_async=False):
        site = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = site


site_application = WSGIHandler()
api_application = BearerApiHandler()


def application(environ, start_response):
    handler = api_application if environ.get("PATH_INFO", "").startswith(API_PREFIX) else site_application
    return handler(environ, start_response)
