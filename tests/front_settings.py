"""Settings for servers that tests start with ``watchword serve`` (tests/serving.py): the real
settings, with the test URLconf ``tests.hold_urls`` (the real pages plus a few test-only views)."""

from watchword.settings import *  # noqa: F401,F403

ROOT_URLCONF = "tests.hold_urls"
