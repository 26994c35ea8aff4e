"""``watchword serve``: gunicorn's synchronous WSGI workers behind the asyncio front.

Chosen by measurement (docs/design figures and bench/): Django's request/response path costs
3–4× less CPU per request on WSGI workers than under ASGI on this class of machine. Long-lived
connections (push streams, sign-in pages waiting for an approval) cannot live in those workers,
so the front (``watchword.delivery.hub``) owns the public address, passes every request to
gunicorn on a Unix socket in a private folder, and holds the streams itself.

The process model: this process binds the public address (and the front's message socket), starts
gunicorn as a child (``python -m watchword.core.serving``) with ``WATCHWORD_SERVED_BY_FRONT=1``,
waits until gunicorn's socket accepts, then runs the front. SIGTERM or SIGINT: the front stops
accepting, ends held streams, lets requests in progress finish; then gunicorn is stopped. If
gunicorn dies on its own, the front stops and ``watchword serve`` exits 1.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

ACCESS_LOG_FORMAT = '%({x-watchword-client}i)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s "%(f)s" "%(a)s"'
START_SECONDS = 60
STOP_SECONDS = 20


class ServeError(Exception):
    """``watchword serve`` cannot start or had to stop; the message is one line for the operator."""


class AccessLogger(Logger):
    """gunicorn's logger, gathering only the fields of ``ACCESS_LOG_FORMAT`` for each access-log
    line (the same line). gunicorn's own gathers every request and response header and every WSGI
    variable and escapes each, for a line that uses nine of them: 37–45 µs of a worker's CPU per
    request, against 17–21 µs this way (bench/README.md, *Serving cost per request*)."""

    def atoms(self, resp, req, environ, request_time):
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        return {
            "{x-watchword-client}i": environ.get("HTTP_X_WATCHWORD_CLIENT", "-"),
            "l": "-",
            "u": self._get_user(environ) or "-",
            "t": self.now(),
            "r": f"{environ['REQUEST_METHOD']} {environ['RAW_URI']} {environ['SERVER_PROTOCOL']}",
            "s": status,
            "b": "-" if sent is None else str(sent),
            "f": environ.get("HTTP_REFERER", "-"),
            "a": environ.get("HTTP_USER_AGENT", "-"),
        }


class WatchwordServer(BaseApplication):
    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from watchword.wsgi import application

        return application


def default_workers() -> int:
    # One worker per core: sign-in is CPU-bound (Argon2id, local SQLite), and bench/signin.py measured
    # a higher sign-in rate with one worker per core than with two (ratio 0.41 vs 0.38).
    return max(2, os.cpu_count() or 1)


def control_socket_options() -> dict:
    """gunicorn's control socket (for ``gunicornc``) in this installation's data folder, so two
    installations on one machine never share one; off when the path is too long for a socket."""
    from django.conf import settings

    path = settings.DATA_DIR / "gunicorn.ctl"
    if len(str(path)) > 100:
        return {"control_socket_disable": True}
    return {"control_socket": str(path)}


def gunicorn_options(socket_path: str, workers: int) -> dict:
    return {
        **control_socket_options(),
        "bind": f"unix:{socket_path}",
        "workers": workers,
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        "access_log_format": ACCESS_LOG_FORMAT,  # the client's address, as the front saw it
        "logger_class": AccessLogger,
        "errorlog": "-",
        "loglevel": "info",
        "preload_app": True,
        # gunicorn trusts every peer on a Unix socket; the front passes scheme headers on only
        # from 127.0.0.1, the rule this setting made when gunicorn listened on TCP itself
        "forwarded_allow_ips": "127.0.0.1",
        "limit_request_line": 8190,
    }


def parse_bind(bind: str) -> tuple[str, int]:
    host, sep, port = bind.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ServeError(f"--bind must be host:port, like 127.0.0.1:8000 or [::1]:8000 (got {bind!r})")
    return host, int(port)


def open_listener(bind: str) -> socket.socket:
    host, port = parse_bind(bind)
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as exc:
        raise ServeError(f"cannot listen on {bind}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = {errno.EADDRINUSE: "the address is already in use (is another server running there?)",
                  errno.EACCES: "permission denied (ports below 1024 need privileges)",
                  errno.EADDRNOTAVAIL: "this machine has no such address"}.get(exc.errno, exc.strerror)
        raise ServeError(f"cannot listen on {bind}: {reason}") from None
    sock.setblocking(False)
    return sock


def open_message_socket(data_dir) -> socket.socket:
    """The front's end of ``fanout``'s datagrams, named after the data folder."""
    from watchword.delivery.fanout import hub_address

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    try:
        sock.bind(hub_address(data_dir))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeError(f"another 'watchword serve' is already running for the data folder {data_dir}; "
                             "stop it first, or set WATCHWORD_REDIS_URL to run several") from None
        raise ServeError(f"cannot open the front's message socket: {exc.strerror}") from None
    return sock


def _die_with_parent() -> None:  # in the child, between fork and exec
    import ctypes

    ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG: never outlive the front


def start_gunicorn(socket_path: str, workers: int) -> subprocess.Popen:
    env = {**os.environ, "WATCHWORD_SERVED_BY_FRONT": "1"}
    env.setdefault("DJANGO_SETTINGS_MODULE", "watchword.settings")
    # Its own process group: Ctrl+C reaches the front alone, which then stops gunicorn in order.
    return subprocess.Popen([sys.executable, "-m", "watchword.core.serving", socket_path, str(workers)],
                            env=env, process_group=0, preexec_fn=_die_with_parent)


def start_scheduler() -> subprocess.Popen:
    """The directory-sync scheduler (``watchword worker``), in a process of its own that dies
    with the front."""
    env = {**os.environ}
    env.setdefault("DJANGO_SETTINGS_MODULE", "watchword.settings")
    return subprocess.Popen([sys.executable, "-m", "watchword.cli", "worker"], env=env, process_group=0,
                            preexec_fn=_die_with_parent)


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_until_accepting(proc: subprocess.Popen, socket_path: str) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        if proc.poll() is not None:
            raise ServeError(f"gunicorn (the page workers) did not start: it exited with code {proc.returncode}; "
                             "see its messages above")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(socket_path)
                return
            except OSError:
                pass
        if time.monotonic() > deadline:
            raise ServeError(f"gunicorn (the page workers) did not start within {START_SECONDS} s")
        time.sleep(0.05)


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()  # graceful: workers finish their request (graceful_timeout)
        try:
            proc.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:  # workers left behind by a master that died (gunicorn's process group is its own)
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


class _Stopped(Exception):
    pass


def _stop_now(signum, frame):
    raise _Stopped


def serve(*, bind: str, workers: int | None = None, ready=None) -> int:
    """Run the front on ``bind`` and gunicorn behind it until SIGTERM/SIGINT (0) or until gunicorn
    dies (1). Problems before serving raise ``ServeError``."""
    import asyncio

    from django.conf import settings

    from watchword.delivery import hub

    listener = open_listener(bind)
    messages = None if settings.REDIS_URL else open_message_socket(settings.DATA_DIR)
    private = tempfile.mkdtemp(prefix="watchword-")  # 0700: only this user reaches gunicorn
    socket_path = os.path.join(private, "web.sock")
    proc = scheduler = None
    previous = signal.signal(signal.SIGTERM, _stop_now)  # until the front's own handlers take over
    try:
        proc = start_gunicorn(socket_path, workers or default_workers())
        if settings.SYNC_SCHEDULER:
            scheduler = start_scheduler()
        wait_until_accepting(proc, socket_path)
        config = hub.FrontConfig(upstream=socket_path, keepalive_seconds=settings.HUB_KEEPALIVE_SECONDS,
                                 max_connections=settings.HUB_MAX_CONNECTIONS, redis_url=settings.REDIS_URL)
        reason = asyncio.run(hub.run(config, listener, datagrams=messages, child_pid=proc.pid, ready=ready))
        if reason == "child":
            proc.wait()
            raise ServeError(f"gunicorn (the page workers) stopped unexpectedly (exit code {proc.returncode}); "
                             "the front stopped too")
        return 0
    except (_Stopped, KeyboardInterrupt):
        return 0
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
        if messages is not None:
            messages.close()
        if scheduler is not None:
            stop_process(scheduler)
        if proc is not None:
            stop_gunicorn(proc)
        shutil.rmtree(private, ignore_errors=True)


def _gunicorn_main(socket_path: str, workers: int) -> None:
    """The child: Django set up once (the workers are forked from it), then gunicorn."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchword.settings")
    import django
    from django.db import connections

    django.setup()
    connections.close_all()  # workers are forked: none may inherit this process's connections
    WatchwordServer(gunicorn_options(socket_path, workers)).run()


if __name__ == "__main__":
    _gunicorn_main(sys.argv[1], int(sys.argv[2]))
