"""Serving under gunicorn's synchronous WSGI workers.

Chosen by measurement (docs/design figures and bench/): Django's request/response path costs
3–4× less CPU per request on WSGI workers than under ASGI on this class of machine.
"""

from __future__ import annotations

import os

from gunicorn.app.base import BaseApplication


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


def serve(*, bind: str, workers: int | None = None) -> None:
    WatchwordServer({
        **control_socket_options(),
        "bind": bind,
        "workers": workers or default_workers(),
        "worker_class": "sync",
        "timeout": 30,
        "graceful_timeout": 10,
        "accesslog": "-",
        "errorlog": "-",
        "loglevel": "info",
        "preload_app": True,
        "forwarded_allow_ips": "127.0.0.1",
        "limit_request_line": 8190,
    }).run()
