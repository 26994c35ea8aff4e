"""``watchword serve`` runs the sync scheduler by itself: a connection added while it runs is
imported without anyone pressing Sync now, changes follow in continuous mode, and the scheduler
stops with the server. ``WATCHWORD_SYNC_SCHEDULER=off`` leaves it to ``watchword worker``."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.serving import start_server

pytestmark = pytest.mark.skipif(bool(os.environ.get("WATCHWORD_DATABASE_URL")),
                                reason="runs once, in the SQLite pass (the server has a data folder of its own)")


def wait_for(check, seconds: float = 30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    return check()


def synced_phone(data_dir, upn: str):
    with sqlite3.connect(data_dir / "watchword.sqlite3", timeout=30) as db:
        row = db.execute("SELECT office_phone FROM directory_user WHERE upn = ? AND directory_connection_id IS NOT "
                         "NULL", [upn]).fetchone()
    return row[0] if row else None


def add_connection(server, slapd, scope):
    done = subprocess.run([sys.executable, "-m", "watchword.cli", "sync", "connection", "add", "corp", "--flavour",
                           "openldap", "--url", slapd.url, "--bind-dn", slapd.service_dn, "--base-dn",
                           scope.people_dn, "--upn-domain", "example.org", "--phone-country", "GB", "--continuous",
                           "--poll", "2", "--bind-password-stdin"], env=server.env, input=slapd.service_password,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_serve_imports_a_new_connection_and_follows_changes_by_itself(tmp_path, slapd, scope):
    dn = scope.person("anna", telephone="+44 20 7946 0100")
    server = start_server(tmp_path / "node")
    try:
        [scheduler] = server.children(command="worker")
        add_connection(server, slapd, scope)

        first = wait_for(lambda: synced_phone(server.data_dir, "anna@example.org"))
        slapd.modify(dn, {"telephoneNumber": "+44 20 7946 0199"})
        followed = wait_for(lambda: synced_phone(server.data_dir, "anna@example.org") == "+442079460199")
    finally:
        code = server.stop()

    assert first == "+442079460100"
    assert followed, server.log()
    assert code == 0 and "Traceback" not in server.log()
    assert not os.path.exists(f"/proc/{scheduler}")  # stopped with the server


def test_the_scheduler_can_be_left_to_a_worker(tmp_path):
    server = start_server(tmp_path / "node", env_extra={"WATCHWORD_SYNC_SCHEDULER": "off"})
    try:
        assert server.children(command="worker") == []
        assert len(server.children()) == 1  # gunicorn only
    finally:
        server.stop()
