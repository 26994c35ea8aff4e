"""Reconnecting the challenge stream: backoff, fresh tokens, and when to give up."""

from __future__ import annotations

import threading
from contextlib import contextmanager

import pytest
from watchword_authenticator import crypto
from watchword_authenticator.accounts import PUSH, Account
from watchword_authenticator.codes import TotpParams
from watchword_authenticator.errors import ServerRefused, ServerUnreachable
from watchword_authenticator.listener import (
    CHALLENGE,
    CONNECTED,
    DISCONNECTED,
    NOTICE,
    STOPPED,
    Backoff,
    listen_to_account,
)
from watchword_authenticator.sse import ServerEvent

ACCOUNT = Account(kind=PUSH, issuer="Contoso", account="adele@contoso.example",
                  totp=TotpParams(secret="JBSWY3DPEHPK3PXP"), server="https://mfa.contoso.example", device_id="dv_1")
CHALLENGE_DATA = ('{"challenge_id": "ch_1", "account": "adele@contoso.example", "app": "Contoso sign-in", '
                  '"ip": "203.0.113.7", "location": "", "created": 1764282000, "expires": 1764282060}')


class ScriptedClient:
    """Each ``stream`` call plays the next step: an exception to raise, or a list of events."""

    def __init__(self, steps, stop: threading.Event):
        self.steps, self.stop, self.authorizations = list(steps), stop, []

    @contextmanager
    def stream(self, server, *, authorization):
        self.authorizations.append(authorization)
        step = self.steps.pop(0)
        try:
            if isinstance(step, Exception):
                raise step
            yield iter(step)
        finally:
            if not self.steps:  # the script is played out: let the listener stop
                self.stop.set()


class NoWait(threading.Event):
    def wait(self, timeout=None):
        return self.is_set()


def run(steps):
    stop = NoWait()
    client, updates = ScriptedClient(steps, stop), []
    listen_to_account(ACCOUNT, key=crypto.new_device_key(), client=client, deliver=updates.append, stop=stop,
                      clock=lambda: 1764282005.0, backoff=Backoff())
    return client, updates


def test_backoff_doubles_up_to_a_minute_with_jitter():
    backoff = Backoff()
    delays = [backoff.next_delay() for _ in range(10)]

    for delay, ceiling in zip(delays, [1, 2, 4, 8, 16, 32, 60, 60, 60, 60], strict=True):
        assert ceiling / 2 <= delay <= ceiling
    backoff.reset()
    assert backoff.next_delay() <= 1


def test_challenges_are_delivered_and_a_dropped_stream_is_reopened_with_a_new_token():
    client, updates = run([[ServerEvent("challenge", CHALLENGE_DATA), ServerEvent("ping", "{}")],
                           ServerUnreachable("Could not reach it."), []])

    assert [update.kind for update in updates] == [CONNECTED, CHALLENGE, DISCONNECTED, DISCONNECTED, CONNECTED]
    assert updates[1].challenge.challenge_id == "ch_1"
    assert len(set(client.authorizations)) == 3


def test_a_malformed_challenge_is_reported_and_skipped():
    _, updates = run([[ServerEvent("challenge", "{oops"), ServerEvent("challenge", CHALLENGE_DATA)]])

    assert [update.kind for update in updates] == [CONNECTED, NOTICE, CHALLENGE]


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_server_trouble_is_retried(status):
    _, updates = run([ServerRefused("busy", server_code="unavailable", status=status), []])

    assert [update.kind for update in updates] == [DISCONNECTED, CONNECTED]


@pytest.mark.parametrize("status", [401, 403, 404])
def test_a_refused_device_stops_listening_for_that_account(status):
    client, updates = run([ServerRefused("The server refused: gone (device_unknown).", server_code="device_unknown",
                                         status=status), []])

    assert [update.kind for update in updates] == [STOPPED]
    assert "device_unknown" in updates[0].message and len(client.authorizations) == 1
