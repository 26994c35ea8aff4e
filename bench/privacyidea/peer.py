"""privacyIDEA, the peer bench/verify.py measures Watchword's verification API against.

- ``ensure_venv()`` installs privacyIDEA from PyPI into bench/privacyidea/.venv (once; the pins are
  in requirements.txt beside this file).
- ``ensure_template(tokens)`` makes, once per set of tokens, a data folder with the keys
  (``pi-manage setup create_enckey`` / ``create_audit_keys``), the tables (``create_tables``) and the
  TOTP tokens (enrol.py, privacyIDEA's ``init_token``), and keeps it in bench/privacyidea/data/.
- ``prepare_run(folder)`` copies that template into a run's own folder, so every run starts from
  tokens that were never used.
- ``start_server(...)`` serves it with gunicorn sync workers on 127.0.0.1.

Runs under Watchword's Python (standard library only); privacyIDEA runs in its own processes.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VERSION = "3.14"
HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv"
PYTHON = VENV / "bin" / "python"
TEMPLATES = HERE / "data"
TEMPLATE_FILES = ("pi.sqlite", "enckey", "private.pem", "public.pem", "uuid.txt", "secrets.json")

CONFIG = """\
# privacyIDEA's configuration for one bench run (see bench/privacyidea/peer.py).
import logging
SQLALCHEMY_DATABASE_URI = "sqlite:///{folder}/pi.sqlite"
SECRET_KEY = "{secret_key}"
PI_PEPPER = "{pepper}"
PI_ENCFILE = "{folder}/enckey"
PI_AUDIT_KEY_PRIVATE = "{folder}/private.pem"
PI_AUDIT_KEY_PUBLIC = "{folder}/public.pem"
PI_LOGFILE = "{folder}/privacyidea.log"
PI_LOGLEVEL = logging.INFO
PI_UUID_FILE = "{folder}/uuid.txt"
PI_NODE = "bench"
"""


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def installed_version() -> str | None:
    if not PYTHON.exists():
        return None
    probe = subprocess.run([str(PYTHON), "-c", "import importlib.metadata as m; print(m.version('privacyIDEA'))"],
                           capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def ensure_venv() -> None:
    """privacyIDEA in a virtual environment of its own, installed from PyPI the first time."""
    if installed_version() == VERSION:
        return
    log(f"privacyIDEA: installing privacyIDEA=={VERSION} into {VENV} (once; about a minute)")
    base = getattr(sys, "_base_executable", None) or sys.executable
    subprocess.run([base, "-m", "venv", "--clear", str(VENV)], check=True)
    subprocess.run([str(PYTHON), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                    "-r", str(HERE / "requirements.txt")], check=True)
    if installed_version() != VERSION:
        raise RuntimeError(f"privacyIDEA {VERSION} did not install into {VENV}")


def environment(folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "WATCHWORD_", "VIRTUAL_ENV"))}
    env["PRIVACYIDEA_CONFIGFILE"] = str(folder / "pi.cfg")
    env["PATH"] = os.pathsep.join([str(VENV / "bin"), env.get("PATH", "")])
    return env


def write_config(folder: Path) -> None:
    values = json.loads((folder / "secrets.json").read_text())
    (folder / "pi.cfg").write_text(CONFIG.format(folder=folder, **values))


def _pi_manage(folder: Path, *args: str) -> None:
    result = subprocess.run([str(VENV / "bin" / "pi-manage"), *args], env=environment(folder),
                            capture_output=True, text=True, timeout=600)
    if result.returncode:
        raise RuntimeError(f"pi-manage {' '.join(args)} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}")


def ensure_template(tokens: list[tuple[str, str]]) -> Path:
    """A data folder holding ``tokens`` (serial, base32 seed), made once and kept."""
    digest = hashlib.sha256(json.dumps([VERSION, tokens]).encode()).hexdigest()[:16]
    template = TEMPLATES / f"totp-{len(tokens)}-{digest}"
    if (template / "complete").exists():
        return template
    TEMPLATES.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix=".making-", dir=TEMPLATES))
    try:
        t0 = time.monotonic()
        log(f"privacyIDEA: making a data folder with {len(tokens)} TOTP tokens (once; kept in {template})")
        (folder / "secrets.json").write_text(json.dumps({"secret_key": secrets.token_hex(24),
                                                         "pepper": secrets.token_hex(24)}))
        write_config(folder)
        _pi_manage(folder, "setup", "create_enckey")
        _pi_manage(folder, "setup", "create_audit_keys")
        _pi_manage(folder, "setup", "create_tables")
        tokens_file = folder / "tokens.json"
        tokens_file.write_text(json.dumps(tokens))
        enrol = subprocess.run([str(PYTHON), str(HERE / "enrol.py"), str(tokens_file)], env=environment(folder),
                               timeout=3600)
        if enrol.returncode:
            raise RuntimeError("privacyIDEA: enrolling the tokens failed (see above)")
        with sqlite3.connect(folder / "pi.sqlite") as db:
            count = db.execute("SELECT count(*) FROM token WHERE tokentype = 'totp'").fetchone()[0]
        if count != len(tokens):
            raise RuntimeError(f"privacyIDEA: {count} tokens in the database, expected {len(tokens)}")
        tokens_file.unlink()
        (folder / "complete").write_text(f"privacyIDEA {VERSION}, {count} TOTP tokens\n")
        shutil.rmtree(template, ignore_errors=True)
        folder.rename(template)
        log(f"privacyIDEA: {count} tokens enrolled in {time.monotonic() - t0:.0f} s")
        return template
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def prepare_run(template: Path, folder: Path, journal: str) -> None:
    """A run's own copy of the template; ``journal`` is the SQLite journal mode of its database
    ('delete' is SQLite's and privacyIDEA's default, 'wal' is what Watchword uses)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in TEMPLATE_FILES:
        if (template / name).exists():
            shutil.copy2(template / name, folder / name)
    write_config(folder)
    with sqlite3.connect(folder / "pi.sqlite") as db:
        mode = db.execute(f"PRAGMA journal_mode={'WAL' if journal == 'wal' else 'DELETE'}").fetchone()[0]
    if mode.lower() != journal:
        raise RuntimeError(f"privacyIDEA: could not set the SQLite journal mode to {journal} (got {mode})")


def start_server(folder: Path, port: int, workers: int) -> subprocess.Popen:
    """gunicorn sync workers (like ``watchword serve``'s), loopback only, in a session of its own."""
    cmd = [str(VENV / "bin" / "gunicorn"), "wsgi:application", "--chdir", str(HERE),
           "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--worker-class", "sync",
           "--timeout", "30", "--graceful-timeout", "10", "--error-logfile", "-", "--log-level", "warning",
           "--no-control-socket"]  # gunicorn's default control socket is one path for the whole machine
    log_file = open(folder / "gunicorn.log", "w")
    proc = subprocess.Popen(cmd, env=environment(folder), stdout=log_file, stderr=subprocess.STDOUT,
                            start_new_session=True)
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"privacyIDEA's gunicorn exited:\n{(folder / 'gunicorn.log').read_text()[-3000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/healthz/")
            status = conn.getresponse().status
            conn.close()
            if status < 500:
                return proc
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("privacyIDEA did not answer within 120 s")
