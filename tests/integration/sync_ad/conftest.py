"""One real Samba Active Directory domain controller for the whole session (its ports are
fixed, so there can only be one), shared by the harness tests and the AD sync tests."""

from __future__ import annotations

import pytest

from tests.samba_dc import SambaDC, samba_available


@pytest.fixture(scope="session")
def dc():
    reason = samba_available()
    if reason:
        pytest.skip(f"no Samba AD DC: {reason}")
    with SambaDC() as running:
        yield running
