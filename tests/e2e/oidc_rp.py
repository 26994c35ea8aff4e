"""A relying party for the end-to-end tests, made of Authlib's OpenID Connect client (a library
Watchword's code has nothing to do with) behind a tiny ``http.server`` on 127.0.0.1.

It reads the provider's discovery document, sends the browser to the authorization endpoint with
PKCE (S256), a state and a nonce, redeems the code at the token endpoint with its secret, and
has Authlib check the ID token: its signature against the provider's JWKS, and its issuer,
audience, nonce, expiry and ``at_hash``. Its pages show what it learnt, including ``amr``, and
it signs the person out through the provider's end-session endpoint (RP-initiated logout)."""

from __future__ import annotations

import html
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from authlib.integrations.base_client import BaseApp, FrameworkIntegration, OAuth2Mixin, OpenIDMixin
from authlib.integrations.requests_client import OAuth2Session
from joserfc import jws


class _App(OAuth2Mixin, OpenIDMixin, BaseApp):
    """Authlib's OAuth 2 / OpenID Connect client app, as its framework integrations build it."""

    client_cls = OAuth2Session


class RelyingParty:
    def __init__(self, *, issuer_url: str, port: int | None = None) -> None:
        self.issuer_url = issuer_url
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app: _App | None = None
        self.framework = FrameworkIntegration("watchword")
        self.store: dict = {}  # the relying party's own session (one browser in these tests)
        self.signed_in: dict | None = None  # claims of the verified ID token
        self.id_token = ""
        self.verified_kid = ""  # the key ID of the last ID token whose signature Authlib verified
        self.errors: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def callback(self) -> str:
        return f"{self.url}/callback"

    @property
    def signed_out_url(self) -> str:
        return f"{self.url}/signed-out"

    def register(self, client_id: str, client_secret: str) -> None:
        self.app = _App(self.framework, name="watchword", client_id=client_id, client_secret=client_secret,
                        server_metadata_url=f"{self.issuer_url}/.well-known/openid-configuration",
                        client_kwargs={"scope": "openid profile email", "code_challenge_method": "S256"})

    def __enter__(self) -> "RelyingParty":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    # --- the relying party's pages ---------------------------------------------------------

    def _home(self) -> tuple[int, dict, str]:
        if self.signed_in:
            claims = self.signed_in
            body = (f"<h1>Welcome, {html.escape(claims.get('name', ''))}</h1>"
                    f"<p id='verified'>ID token signature verified against the provider's keys</p>"
                    f"<p>amr: <span id='amr'>{html.escape(' '.join(claims.get('amr', [])))}</span></p>"
                    f"<p>acr: <span id='acr'>{html.escape(claims.get('acr', ''))}</span></p>"
                    f"<p><a href='/logout'>Sign out</a></p>")
        else:
            body = "<h1>Contoso Wiki</h1><p><a href='/login'>Sign in with Watchword</a></p>"
        return 200, {}, body

    def _login(self) -> tuple[int, dict, str]:
        started = self.app.create_authorization_url(redirect_uri=self.callback)
        self.framework.set_state_data(self.store, started["state"], {
            "redirect_uri": self.callback, "code_verifier": started["code_verifier"], "nonce": started["nonce"]})
        return 302, {"Location": started["url"]}, ""

    def _callback(self, query: dict) -> tuple[int, dict, str]:
        if "error" in query:
            self.errors.append(query["error"][0])
            return 200, {}, f"<h1>Sign-in failed</h1><p id='error'>{html.escape(query['error'][0])}</p>"
        state = query.get("state", [""])[0]
        data = self.framework.get_state_data(self.store, state)
        if data is None:
            raise ValueError("the state does not match a sign-in this relying party started")
        self.framework.clear_state_data(self.store, state)
        token = self.app.fetch_access_token(redirect_uri=data["redirect_uri"], code=query.get("code", [""])[0],
                                            code_verifier=data["code_verifier"])
        userinfo = self.app.parse_id_token(token, nonce=data["nonce"])  # raises unless signature and claims check
        self.signed_in = dict(userinfo)
        self.id_token = token["id_token"]
        self.verified_kid = jws.extract_compact(self.id_token.encode()).headers()["kid"]
        return 302, {"Location": "/"}, ""

    def _logout(self) -> tuple[int, dict, str]:
        end = self.app.create_logout_url(post_logout_redirect_uri=self.signed_out_url, id_token_hint=self.id_token)
        self.framework.set_state_data(self.store, end["state"], {"logout": True})
        self.signed_in = None
        return 302, {"Location": end["url"]}, ""

    def _signed_out(self, query: dict) -> tuple[int, dict, str]:
        state = query.get("state", [""])[0]
        known = self.framework.get_state_data(self.store, state) is not None
        return 200, {}, f"<h1>Signed out of Contoso Wiki</h1><p id='state-ok'>{'yes' if known else 'no'}</p>"

    def _handler(self):
        rp = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                parts = urlsplit(self.path)
                query = parse_qs(parts.query)
                try:
                    status, headers, body = {
                        "/": lambda: rp._home(),
                        "/login": lambda: rp._login(),
                        "/callback": lambda: rp._callback(query),
                        "/logout": lambda: rp._logout(),
                        "/signed-out": lambda: rp._signed_out(query),
                    }.get(parts.path, lambda: (404, {}, "<h1>Not found</h1>"))()
                except Exception as exc:  # shown on the page and kept for the test to report
                    rp.errors.append(f"{type(exc).__name__}: {exc}")
                    status, headers, body = 500, {}, f"<h1>Error</h1><pre>{html.escape(repr(exc))}</pre>"
                page = f"<!doctype html><title>Contoso Wiki</title>{body}".encode()
                self.send_response(status)
                for name, value in {"Content-Type": "text/html; charset=utf-8", **headers}.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        return Handler

    def describe(self) -> str:
        return json.dumps({"signed_in": self.signed_in, "errors": self.errors})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
