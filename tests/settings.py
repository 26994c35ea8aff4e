"""Test settings: the real settings, on a data folder of the test run's own."""

import os
import tempfile

os.environ["WATCHWORD_DATA_DIR"] = os.environ.get("WATCHWORD_TEST_DATA_DIR") or tempfile.mkdtemp(prefix="watchword-test-")

from watchword.settings import *  # noqa: E402,F401,F403
