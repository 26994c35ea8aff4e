"""Fixtures for the companion authenticator's tests: a state file of the test's own and a way
to run the real command line in a subprocess. Nothing here touches the database."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("watchword_authenticator",
                    reason="the authenticator is not installed: pip install -e ./authenticator")


@pytest.fixture
def state_path(tmp_path) -> Path:
    return tmp_path / "config" / "watchword-authenticator" / "state.json"


@pytest.fixture
def run_cli(tmp_path, state_path):
    """Run ``python -m watchword_authenticator --state <this test's file> ARGS`` and return the
    completed process (text mode). ``env`` adds variables; HOME points into the test's folder;
    ``state=False`` leaves ``--state`` out."""

    def run(*args: str, env: dict | None = None, stdin: str | None = None, state: Path | bool | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess:
        environ = {name: value for name, value in os.environ.items() if name != "WATCHWORD_AUTHENTICATOR_STATE"}
        environ.update(HOME=str(tmp_path / "home"), PYTHONUNBUFFERED="1", **(env or {}))
        chosen = [] if state is False else ["--state", str(state or state_path)]
        command = [sys.executable, "-m", "watchword_authenticator", *chosen, *args]
        return subprocess.run(command, capture_output=True, text=True, env=environ, input=stdin, timeout=timeout)

    return run
