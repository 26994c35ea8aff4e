"""ASGI entry point. Not how Watchword is served (``watchword serve`` runs WSGI workers, chosen by
measurement: see bench/README.md); kept so the benchmark can measure the alternative."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchword.settings")
application = get_asgi_application()
