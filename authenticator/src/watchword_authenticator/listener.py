"""Keep one push account's challenge stream open: connect with a fresh device token, pass each
challenge on, and reconnect with growing, jittered delays when the connection drops.

Runs in a thread per account; it reports through ``deliver`` and stops when ``stop`` is set or
the server refuses the device for good (a 4xx other than 408/429: unknown device, bad token).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric import ec

from watchword_authenticator.accounts import Account
from watchword_authenticator.client import Challenge, PushClient, parse_challenge
from watchword_authenticator.crypto import device_token
from watchword_authenticator.errors import AuthenticatorError, ServerRefused

CONNECTED, CHALLENGE, DISCONNECTED, STOPPED, NOTICE = "connected", "challenge", "disconnected", "stopped", "notice"
STABLE_SECONDS = 10.0  # a connection that lasted this long resets the backoff


@dataclass(frozen=True)
class StreamUpdate:
    kind: str
    account: Account
    challenge: Challenge | None = None
    message: str = ""
    retry_in: float | None = None


@dataclass
class Backoff:
    """Exponential backoff with "equal jitter": half the delay fixed, half random, so many
    devices dropped by one server restart do not all come back in the same second."""

    initial: float = 1.0
    maximum: float = 60.0
    factor: float = 2.0
    attempt: int = 0

    def next_delay(self) -> float:
        delay = min(self.maximum, self.initial * self.factor ** self.attempt)
        self.attempt += 1
        return delay / 2 + random.uniform(0, delay / 2)

    def reset(self) -> None:
        self.attempt = 0


def is_permanent(error: AuthenticatorError) -> bool:
    status = error.status if isinstance(error, ServerRefused) else None
    return status is not None and 400 <= status < 500 and status not in (408, 429)


def run_listener_thread(account: Account, *, make_client: Callable[[], PushClient], **options) -> None:
    """Thread target: the thread owns its HTTP client, so nothing closes it under a blocked read."""
    client = make_client()
    try:
        listen_to_account(account, client=client, **options)
    finally:
        client.close()


def listen_to_account(account: Account, *, key: ec.EllipticCurvePrivateKey, client: PushClient,
                      deliver: Callable[[StreamUpdate], None], stop: threading.Event,
                      clock: Callable[[], float] = time.time, backoff: Backoff | None = None) -> None:
    backoff = backoff or Backoff()
    while not stop.is_set():
        connected_at = None
        token = device_token(key, device_id=account.device_id, now=int(clock()))
        try:
            with client.stream(account.server, authorization=token) as events:
                connected_at = clock()
                deliver(StreamUpdate(CONNECTED, account))
                for event in events:
                    if stop.is_set():
                        return
                    if event.event != "challenge":
                        continue
                    try:
                        challenge = parse_challenge(event.data)
                    except ValueError as exc:
                        deliver(StreamUpdate(NOTICE, account, message=f"Ignored a malformed sign-in request ({exc})."))
                        continue
                    deliver(StreamUpdate(CHALLENGE, account, challenge=challenge))
            reason = "The server closed the connection."
        except AuthenticatorError as exc:
            if is_permanent(exc):
                deliver(StreamUpdate(STOPPED, account, message=exc.message))
                return
            reason = exc.message
        except Exception as exc:  # a long-running listener reports and retries rather than dying silently
            if stop.is_set():
                return
            reason = f"Unexpected error ({type(exc).__name__}: {exc})."
        if stop.is_set():
            return
        if connected_at is not None and clock() - connected_at >= STABLE_SECONDS:
            backoff.reset()
        delay = backoff.next_delay()
        deliver(StreamUpdate(DISCONNECTED, account, message=reason, retry_in=delay))
        stop.wait(delay)
