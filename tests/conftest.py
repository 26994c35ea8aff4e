"""Shared fixtures: a sealing keyring for the run, people in realistic states."""

from __future__ import annotations

import pytest
from django.conf import settings

from watchword.core import sealing


@pytest.fixture(scope="session", autouse=True)
def keyring():
    if not settings.SEAL_KEYRING.exists():
        sealing.write_keyring(settings.SEAL_KEYRING, sealing.new_keyring())
    return sealing.load_keyring(settings.SEAL_KEYRING)
