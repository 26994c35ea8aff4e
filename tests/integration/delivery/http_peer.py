"""A real HTTP server on 127.0.0.1, in a thread of the test process, that records every request
it receives and answers each with what the test decides: the far side of a provider (Twilio's
API, an SMS gateway's webhook) without leaving the machine."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable
from urllib.parse import parse_qs, urlsplit


@dataclass
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    body: bytes

    def form(self) -> dict[str, list[str]]:
        """The body as an HTML form (application/x-www-form-urlencoded), every value kept."""
        return parse_qs(self.body.decode(), keep_blank_values=True)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"


@dataclass
class HttpPeer:
    answer: Callable[[Received], Answer]
    received: list[Received] = field(default_factory=list)
    url: str = ""
    _server: ThreadingHTTPServer | None = None

    def start(self) -> HttpPeer:
        peer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - the name http.server calls
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                request = Received(method="POST", path=parts.path, query=parse_qs(parts.query),
                                   headers={k.lower(): v for k, v in self.headers.items()},
                                   body=self.rfile.read(length))
                peer.received.append(request)
                reply = peer.answer(request)
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

            def log_message(self, *args):  # keep the test output quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
