"""A stand-in for the Watchword push API (docs/push-protocol.md), standard library only: an
``http.server`` on 127.0.0.1 in a thread that records what the authenticator sends and answers
as the protocol says. It checks device tokens the way the server must (signature, clock window,
unseen nonce) so a client that gets them wrong is refused, and records every request for the
test to inspect."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from watchword_authenticator import crypto

API = "/api/push/v1"
TOTP_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


@dataclass
class Recorded:
    activations: list[dict] = field(default_factory=list)
    tokens: list[dict] = field(default_factory=list)  # verified device-token claims, one per stream
    answers: list[tuple[str, dict]] = field(default_factory=list)  # (challenge id in the path, body)


class FakeWatchword:
    def __init__(self) -> None:
        self.recorded = Recorded()
        self.public_key_b64: str | None = None
        self.device_id = "dv_9Qk2"
        self.pending: dict[str, dict] = {}
        self.activation_error: tuple[int, dict] | None = None
        self.answer_error: tuple[int, dict] | None = None
        self.stream_error: tuple[int, dict] | None = None
        self.streams_to_drop = 0  # this many streams close at once, sending nothing
        self.seen_nonces: set[str] = set()
        self.lock = threading.Lock()
        self.answered = threading.Event()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def activation_payload(self, code: str = "Q7M2KX9P") -> str:
        from urllib.parse import quote

        return (f"watchword-push://activate?server={quote(self.url, safe='')}&code={code}"
                "&account=adele%40contoso.example&issuer=Contoso")

    def add_challenge(self, challenge_id: str = "ch_5tYp", *, expires_in: int = 60) -> dict:
        now = int(time.time())
        challenge = {"challenge_id": challenge_id, "account": "adele@contoso.example", "app": "Contoso sign-in",
                     "ip": "203.0.113.7", "location": "Reading, United Kingdom", "created": now,
                     "expires": now + expires_in}
        self.pending[challenge_id] = challenge
        return challenge

    def start(self) -> FakeWatchword:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.answered.set()
        self.server.shutdown()
        self.server.server_close()


def _handler_for(fake: FakeWatchword):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _json(self, status: int, body: dict) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> dict:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))

        def do_POST(self) -> None:
            if self.path == f"{API}/activate":
                body = self._body()
                fake.recorded.activations.append(body)
                if fake.activation_error:
                    return self._json(*fake.activation_error)
                fake.public_key_b64 = body["public_key"]
                return self._json(201, {"device_id": fake.device_id, "account": "adele@contoso.example",
                                        "issuer": "Contoso", "totp": {"secret": TOTP_SECRET, "digits": 6,
                                                                      "period": 30, "algorithm": "SHA1"}})
            prefix, suffix = f"{API}/challenges/", "/answer"
            if self.path.startswith(prefix) and self.path.endswith(suffix):
                challenge_id = self.path[len(prefix):-len(suffix)]
                body = self._body()
                fake.recorded.answers.append((challenge_id, body))
                fake.answered.set()
                if fake.answer_error:
                    return self._json(*fake.answer_error)
                fake.pending.pop(challenge_id, None)
                result = {"approve": "approved", "deny": "denied", "fraud": "reported"}[body["decision"]]
                return self._json(200, {"result": result})
            return self._json(404, {"code": "not_found", "message": "No such endpoint."})

        def do_GET(self) -> None:
            if self.path != f"{API}/stream":
                return self._json(404, {"code": "not_found", "message": "No such endpoint."})
            try:
                claims = crypto.verify_device_token(self.headers.get("Authorization", ""),
                                                    crypto.load_public_key_b64(fake.public_key_b64),
                                                    now=int(time.time()))
            except (ValueError, TypeError) as exc:
                return self._json(401, {"code": "token_invalid", "message": f"Bad device token: {exc}."})
            with fake.lock:
                if claims["nonce"] in fake.seen_nonces:
                    return self._json(401, {"code": "token_replayed", "message": "Nonce already used."})
                fake.seen_nonces.add(claims["nonce"])
                fake.recorded.tokens.append(claims)
                drop = fake.streams_to_drop > 0
                fake.streams_to_drop -= 1 if drop else 0
            if fake.stream_error:
                return self._json(*fake.stream_error)
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            if drop:
                return
            self.wfile.write(b": keep-alive\n\nevent: hello\ndata: {}\n\n")
            for challenge in list(fake.pending.values()):
                self.wfile.write(f"event: challenge\r\ndata: {json.dumps(challenge)}\r\n\r\n".encode())
            self.wfile.flush()
            fake.answered.wait(10)  # hold the stream open like the real server, then close it

    return Handler
