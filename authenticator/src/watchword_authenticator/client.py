"""HTTP calls of the push protocol (docs/push-protocol.md): activate, open the challenge
stream, answer. One request each; reconnecting is ``listener``'s job.

Every failure becomes an ``AuthenticatorError``: ``ServerUnreachable`` for the network,
``ServerRefused`` (carrying the protocol's ``code``) for an error answer, and
``ServerResponseInvalid`` for an answer the protocol does not describe.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from urllib.parse import quote

import httpx

from watchword_authenticator.codes import TotpParams, make_totp_params
from watchword_authenticator.errors import ServerRefused, ServerResponseInvalid, ServerUnreachable
from watchword_authenticator.sse import ServerEvent, parse_event_stream

API = "/api/push/v1"
REQUEST_TIMEOUT = httpx.Timeout(15.0)
# The server sends a keep-alive comment every 15 s; three missed ones mean the connection is dead.
STREAM_TIMEOUT = httpx.Timeout(15.0, read=45.0)


def _user_agent() -> str:
    try:
        return f"watchword-authenticator/{version('watchword-authenticator')}"
    except PackageNotFoundError:
        return "watchword-authenticator"


@dataclass(frozen=True)
class Activation:
    device_id: str
    account: str
    issuer: str
    totp: TotpParams


@dataclass(frozen=True)
class Challenge:
    challenge_id: str
    account: str
    app: str
    ip: str
    location: str
    created: int
    expires: int


class PushClient:
    """Wraps one ``httpx.Client`` (pass your own to reuse connections or for tests)."""

    def __init__(self, http: httpx.Client | None = None):
        self.http = http or httpx.Client(headers={"User-Agent": _user_agent()}, follow_redirects=False)

    def close(self) -> None:
        self.http.close()

    def activate(self, server: str, *, activation_code: str, public_key: str, device_name: str,
                 platform: str) -> Activation:
        body = {"activation_code": activation_code, "public_key": public_key, "device_name": device_name,
                "platform": platform}
        response = self._send("POST", f"{server}{API}/activate", server=server, json=body)
        _raise_for_error(response, doing="activating this device")
        if response.status_code not in (200, 201):
            raise ServerResponseInvalid(f"The server answered the activation with HTTP {response.status_code}.")
        return parse_activation(_json_object(response))

    def answer(self, server: str, *, body: dict) -> str:
        """Send a signed answer (``crypto.signed_answer``); return ``approved``, ``denied`` or ``reported``."""
        url = f"{server}{API}/challenges/{quote(body['challenge_id'], safe='')}/answer"
        response = self._send("POST", url, server=server, json=body)
        _raise_for_error(response, doing="sending your answer")
        result = _json_object(response).get("result") if response.status_code == 200 else None
        if result not in ("approved", "denied", "reported"):
            raise ServerResponseInvalid("The server's reply to the answer had no known result.")
        return result

    @contextmanager
    def stream(self, server: str, *, authorization: str) -> Iterator[Iterator[ServerEvent]]:
        """Open ``GET /stream`` and yield an iterator of its events; leaving the ``with`` closes it."""
        request = self.http.build_request("GET", f"{server}{API}/stream", timeout=STREAM_TIMEOUT,
                                          headers={"Authorization": authorization, "Accept": "text/event-stream",
                                                   "Cache-Control": "no-cache"})
        try:
            response = self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise _unreachable(server, exc) from None
        try:
            if response.status_code != 200:
                response.read()
                _raise_for_error(response, doing="listening for sign-in requests")
                raise ServerResponseInvalid(f"The stream answered HTTP {response.status_code}.")
            content_type = response.headers.get("content-type", "")
            if not content_type.startswith("text/event-stream"):
                raise ServerResponseInvalid(f"The stream answered with {content_type or 'no content type'}, "
                                            "not text/event-stream.")
            yield _events(response, server)
        finally:
            response.close()

    def _send(self, method: str, url: str, *, server: str, json: dict) -> httpx.Response:
        try:
            return self.http.request(method, url, json=json, timeout=REQUEST_TIMEOUT)
        except httpx.TransportError as exc:
            raise _unreachable(server, exc) from None


def _events(response: httpx.Response, server: str) -> Iterator[ServerEvent]:
    try:
        yield from parse_event_stream(response.iter_lines())
    except httpx.TransportError as exc:
        raise _unreachable(server, exc) from None


def _unreachable(server: str, exc: httpx.TransportError) -> ServerUnreachable:
    reason = str(exc) or type(exc).__name__
    return ServerUnreachable(f"Could not reach {server} ({reason}).")


def _raise_for_error(response: httpx.Response, *, doing: str) -> None:
    """The protocol's errors are ``{"code": …, "message": …}`` with a 4xx/5xx status."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("code"), str):
        message = body.get("message") if isinstance(body.get("message"), str) else ""
        text = f"{message.rstrip('.')} ({body['code']})" if message else body["code"]
        raise ServerRefused(f"The server refused {doing}: {text}.", server_code=body["code"],
                            status=response.status_code)
    raise ServerRefused(f"The server refused {doing}: HTTP {response.status_code} {response.reason_phrase}.",
                        status=response.status_code)


def _json_object(response: httpx.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        raise ServerResponseInvalid("The server's answer was not JSON.") from None
    if not isinstance(body, dict):
        raise ServerResponseInvalid("The server's answer was not a JSON object.")
    return body


def parse_activation(body: dict) -> Activation:
    device_id, account, issuer, totp = (body.get(name) for name in ("device_id", "account", "issuer", "totp"))
    if not (isinstance(device_id, str) and device_id and isinstance(account, str) and account
            and isinstance(issuer, str) and isinstance(totp, dict)):
        raise ServerResponseInvalid("The activation answer lacks the device id, account, issuer or TOTP settings.")
    try:
        params = make_totp_params(secret=totp.get("secret"), digits=totp.get("digits", 6),
                                  period=totp.get("period", 30), algorithm=totp.get("algorithm", "SHA1"))
    except ValueError as exc:
        raise ServerResponseInvalid(f"The activation answer's TOTP settings are invalid: {exc}.") from None
    return Activation(device_id=device_id, account=account, issuer=issuer, totp=params)


def parse_challenge(data: str) -> Challenge:
    """The ``data`` of an ``event: challenge``; ``ValueError`` when it is not one."""
    try:
        body = json.loads(data)
    except ValueError:
        raise ValueError("challenge data is not JSON") from None
    if not isinstance(body, dict) or not isinstance(body.get("challenge_id"), str) or not body["challenge_id"]:
        raise ValueError("challenge has no challenge_id")
    created, expires = body.get("created"), body.get("expires")
    if not all(isinstance(value, int) and not isinstance(value, bool) for value in (created, expires)):
        raise ValueError("challenge times are not integer Unix seconds")
    return Challenge(challenge_id=body["challenge_id"], account=_text(body, "account"), app=_text(body, "app"),
                     ip=_text(body, "ip"), location=_text(body, "location"), created=created, expires=expires)


def _text(body: dict, name: str) -> str:
    value = body.get(name)
    return value if isinstance(value, str) else ""
