"""Measurement only (not a recommendation as is): sessions kept in a signed cookie, to show what
the session table's reads and writes cost per sign-in."""

from watchword.settings import *  # noqa: F401,F403

SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
