"""A real ``watchword serve`` (the front and gunicorn behind it) on a loopback port, for tests that
need the whole server: ``watchword init`` in a data folder, then serve, then stop with SIGTERM.

Servers started here use ``tests.front_settings`` (the real settings with ``tests.hold_urls``)
and none of the calling environment's ``WATCHWORD_*`` variables, only the ones given.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(data_dir: Path, env_extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WATCHWORD_")}
    env.update({"WATCHWORD_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "tests.front_settings",
                "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))})
    env.update(env_extra or {})
    return env


def cli(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "watchword.cli", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


@dataclass
class RunningServer:
    url: str
    port: int
    data_dir: Path
    env: dict
    proc: subprocess.Popen
    log_path: Path
    admin_one_time_password: str = ""
    _log: object = field(default=None, repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def children(self, *, command: str = "watchword.core.serving") -> list[int]:
        """Process ids of the serve process's children whose command line holds ``command``
        (by default gunicorn's master; ``watchword.cli`` is the sync scheduler)."""
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as fh:
                        parent = int(fh.read().rpartition(")")[2].split()[1])
                    if parent != self.proc.pid:
                        continue
                    with open(f"/proc/{entry}/cmdline", "rb") as fh:
                        if command.encode() in fh.read():
                            found.append(int(entry))
                except (OSError, ValueError, IndexError):
                    pass
        return found

    def stop(self, timeout: float = 30) -> int:
        """SIGTERM, as a service manager would; the exit code."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self._log is not None:
            self._log.close()
            self._log = None
        return self.proc.returncode


def start_server(data_dir: Path, port: int | None = None, env_extra: dict | None = None, *, init: bool = True,
                 workers: int = 2) -> RunningServer:
    """``watchword init`` (unless ``init=False``) and ``watchword serve`` on 127.0.0.1:``port``;
    returns once the port answers HTTP."""
    data_dir = Path(data_dir)
    port = port or free_port()
    env = server_env(data_dir, {"WATCHWORD_PUBLIC_URL": f"http://127.0.0.1:{port}", **(env_extra or {})})
    one_time = ""
    if init:
        done = cli(env, "init", "--admin", "admin@contoso.example", "--admin-name", "Megan Bowen")
        assert done.returncode == 0, done.stderr
        match = re.search(r"One-time password:\s+(\S+)", done.stdout)
        one_time = match.group(1) if match else ""
    log_path = data_dir / f"serve-{port}.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "watchword.cli", "serve", "--bind", f"127.0.0.1:{port}",
                             "--workers", str(workers)], env=env, stdout=log, stderr=subprocess.STDOUT)
    server = RunningServer(url=f"http://127.0.0.1:{port}", port=port, data_dir=data_dir, env=env, proc=proc,
                           log_path=log_path, admin_one_time_password=one_time, _log=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        if proc.poll() is not None:
            server.stop()
            raise AssertionError(f"watchword serve exited with {proc.returncode}:\n{server.log()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                sock.sendall(b"HEAD /signin HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if sock.recv(64).startswith(b"HTTP/1.1 200"):
                    return server
        except OSError:
            pass
        time.sleep(0.1)
    server.stop()
    raise AssertionError(f"watchword serve did not answer within 60 s:\n{server.log()}")


# --- two nodes: PostgreSQL shared, Redis between the fronts --------------------------------------

PG_URL = os.environ.get("WATCHWORD_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("WATCHWORD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _pg_params(dbname: str | None = None) -> dict:
    import dj_database_url

    cfg = dj_database_url.parse(PG_URL)
    return dict(host=cfg["HOST"], port=cfg["PORT"] or 5432, user=cfg["USER"], dbname=dbname or cfg["NAME"],
                password=cfg["PASSWORD"] or None)


def two_node_services_or_skip() -> None:
    """Skip (saying why) unless the test PostgreSQL server and Redis both answer."""
    import psycopg
    import pytest
    import redis

    try:
        psycopg.connect(**_pg_params(), connect_timeout=3).close()
    except Exception as exc:
        print(f"two-node test skipped: PostgreSQL at {PG_URL} is not reachable: {exc}")
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable")
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
    except Exception as exc:
        print(f"two-node test skipped: Redis at {REDIS_URL} is not reachable: {exc}")
        pytest.skip(f"Redis at {REDIS_URL} is not reachable")


@contextlib.contextmanager
def postgres_database(prefix: str = "watchword_test"):
    """A database of its own on the test PostgreSQL server (its URL), dropped afterwards."""
    import psycopg

    two_node_services_or_skip()
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(**_pg_params(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(**_pg_params(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def two_node_env(database_url: str) -> dict:
    return {"WATCHWORD_DATABASE_URL": database_url, "WATCHWORD_REDIS_URL": REDIS_URL,
            "WATCHWORD_SECRET_KEY": "a shared secret key for both nodes, long enough"}
