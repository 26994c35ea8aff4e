"""The webhook provider: each text and call is POSTed as signed JSON to a gateway of your own
(``WATCHWORD_PHONE_WEBHOOK_URL``), which sends it on; the gateway tells a call's result back,
signed the same way, at the call's ``callback_url``.

Both directions are signed with the shared secret (``WATCHWORD_PHONE_WEBHOOK_SECRET``)::

    X-Watchword-Timestamp: 1767225600
    X-Watchword-Signature: sha256=<hex HMAC-SHA256 of "1767225600." followed by the raw body>

A request is retried on network errors, 5xx and 429 (three tries, 0.5 s and 1 s apart, all
within 12 s, as a person is waiting), never on other answers; then the send fails. A 2xx answer
means the gateway took the message. See docs/phone-delivery.md for the JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import httpx
from django.conf import settings

from watchword.delivery.errors import CallbackSignatureInvalid, CallbackStale
from watchword.delivery.providers import ProviderError

log = logging.getLogger("watchword.delivery")

ATTEMPTS = 3
PAUSES = (0.5, 1.0)  # before the second and the third try
DEADLINE = 12.0  # seconds for all tries together
ATTEMPT_TIMEOUT = 4.0
CALLBACK_MAX_AGE = 300  # seconds a callback's timestamp may be away from our clock
SIGNATURE_PREFIX = "sha256="


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Watchword-Signature`` value for ``body`` sent at ``timestamp`` (pure)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + mac.hexdigest()


def verify(secret: str, *, timestamp: str | None, signature_header: str | None, body: bytes, now: float) -> None:
    """Check a callback's signature, then its age; raise ``CallbackSignatureInvalid`` or
    ``CallbackStale`` (pure)."""
    if not secret or not timestamp or not signature_header or not timestamp.isascii() or not timestamp.isdigit():
        raise CallbackSignatureInvalid()
    if not hmac.compare_digest(signature(secret, timestamp, body).encode(), signature_header.strip().encode()):
        raise CallbackSignatureInvalid()
    if abs(now - int(timestamp)) > CALLBACK_MAX_AGE:
        raise CallbackStale()


def callback_url(message_id: str) -> str:
    return f"{settings.PUBLIC_URL}/api/phone/v1/webhook/calls/{message_id}"


class WebhookProvider:
    name = "webhook"
    keeps_words = False

    def __init__(self, url: str, secret: str) -> None:
        self.url = url
        self.secret = secret

    def send_text(self, message, body: str) -> str:
        return self._deliver({"id": message.id, "kind": "text", "to": message.to, "extension": "", "body": body,
                              "purpose": message.purpose, "callback_url": None})

    def place_call(self, message, greeting: str) -> str:
        return self._deliver({"id": message.id, "kind": "call", "to": message.to, "extension": message.extension,
                              "greeting": greeting, "purpose": message.purpose,
                              "callback_url": callback_url(message.id)})

    def _deliver(self, payload: dict) -> str:
        started = time.monotonic()
        problem, tries = "", 0
        with httpx.Client(follow_redirects=False, headers={"User-Agent": "Watchword"}) as client:
            for attempt in range(ATTEMPTS):
                if attempt:
                    pause = PAUSES[min(attempt, len(PAUSES)) - 1]
                    if time.monotonic() - started + pause >= DEADLINE:
                        break
                    time.sleep(pause)
                remaining = DEADLINE - (time.monotonic() - started)
                now = int(time.time())
                body = json.dumps({**payload, "time": now}, separators=(",", ":")).encode()
                stamp = str(now)
                tries += 1
                try:
                    response = client.post(self.url, content=body, timeout=min(ATTEMPT_TIMEOUT, remaining), headers={
                        "Content-Type": "application/json", "X-Watchword-Timestamp": stamp,
                        "X-Watchword-Signature": signature(self.secret, stamp, body)})
                except httpx.HTTPError as exc:
                    problem = f"the gateway could not be reached ({type(exc).__name__})"
                    log.info("webhook: try %d for %s: %s", tries, payload["id"], problem)
                    continue
                if 200 <= response.status_code < 300:
                    return ""
                problem = f"the gateway answered {response.status_code}"
                if response.status_code != 429 and response.status_code < 500:
                    break
                log.info("webhook: try %d for %s: %s", tries, payload["id"], problem)
        raise ProviderError(f"{problem} (after {tries} tr{'y' if tries == 1 else 'ies'})")


def provider() -> WebhookProvider:
    return WebhookProvider(settings.PHONE_WEBHOOK_URL, settings.PHONE_WEBHOOK_SECRET)
