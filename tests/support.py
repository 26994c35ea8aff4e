"""Helpers the test suites share: a password every validator accepts, the authenticator app a
person holds (codes computed with pyotp from the seed), and the sign-in pages driven with
Django's test client."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import timedelta

import pyotp

# A password every validator accepts (long, uncommon, unlike any of the people's names).
PASSWORD = "Harbour-Lantern-Quiet-42"


def upn_of(display_name: str) -> str:
    return display_name.lower().replace(" ", ".") + "@contoso.example"


@dataclass
class Authenticator:
    """What the person's phone holds: the seed, from which pyotp computes the codes the app shows.
    Remembers the last step it handed out, as a person who waits for a new code would."""

    secret: str
    method: object
    last_step: int

    def code_for_step(self, step: int) -> str:
        return pyotp.TOTP(self.secret).at(step * 30)

    def fresh_code(self) -> str:
        """A code for a time step not used before and inside the server's ±1 step window."""
        if time.time() % 30 > 25:  # too close to the next step for an old code to stay valid
            time.sleep(30 - time.time() % 30 + 0.05)
        current = int(time.time()) // 30
        for step in (current - 1, current, current + 1):
            if step > self.last_step:
                self.last_step = step
                return self.code_for_step(step)
        raise AssertionError("no unused code left in the accepted window; use fewer codes in one test")

    def wrong_code(self) -> str:
        current = int(time.time()) // 30
        valid = {self.code_for_step(step) for step in range(current - 3, current + 4)}
        candidate = 907513  # no digits of the fixtures' phone numbers
        while f"{candidate:06d}" in valid:
            candidate += 1
        return f"{candidate:06d}"


class SignIn:
    """The sign-in pages, driven with Django's test client as a browser would post them."""

    @staticmethod
    def name(client, upn: str, **extra):
        return client.post("/signin", {"name": upn}, **extra)

    @staticmethod
    def flow_token(response) -> str:
        """The signed sign-in flow the password page carries in its form."""
        match = re.search(r'name="flow" value="([^"]*)"', response.content.decode())
        return match.group(1) if match else ""

    @classmethod
    def password(cls, client, upn: str, password: str = PASSWORD, **extra):
        page = cls.name(client, upn, **extra)
        return client.post("/signin/password", {"password": password, "flow": cls.flow_token(page)}, **extra)

    @classmethod
    def with_code(cls, client, upn: str, code: str, password: str = PASSWORD):
        cls.password(client, upn, password)
        return client.post("/signin/verify", {"code": code})

    @staticmethod
    def error_text(response) -> str:
        match = re.search(r'<p class="error"[^>]*>(.*?)</p>', response.content.decode(), re.S)
        return match.group(1).strip() if match else ""

    @staticmethod
    def make_mfa_stale(client, seconds_ago: int = 601) -> None:
        session = client.session
        session["watchword_mfa_time"] = time.time() - seconds_ago
        session.save()

    @classmethod
    def browser_with_fresh_mfa(cls, user):
        """A browser where ``user`` is signed in and did MFA just now (Security info opens)."""
        from django.test import Client

        browser = Client()
        browser.force_login(user, backend="watchword.directory.backends.DirectoryBackend")
        cls.make_mfa_fresh(browser)
        return browser

    @staticmethod
    def make_mfa_fresh(client) -> None:
        session = client.session
        session["watchword_mfa_time"] = time.time()
        session.save()


def let_throttle_time_pass(seconds: int) -> None:
    """Move every throttle counter back by ``seconds``, as if that much time had passed."""
    from django.db.models import F

    from watchword.signin.models import Throttle

    Throttle.objects.update(last_failure_at=F("last_failure_at") - timedelta(seconds=seconds),
                            blocked_until=F("blocked_until") - timedelta(seconds=seconds))


class Device:
    """An authenticator device, talking the push protocol through a Django test client with the
    companion authenticator's own signing code (``watchword_authenticator.crypto``)."""

    def __init__(self, key=None, device_id: str = "", secret: str = ""):
        from watchword_authenticator import crypto

        self.crypto = crypto
        self.key = key or crypto.new_device_key()
        self.device_id = device_id
        self.secret = secret

    def activate(self, client, code: str, *, name: str = "Adele's phone", platform: str = "android"):
        response = client.post("/api/push/v1/activate", content_type="application/json", data={
            "activation_code": code, "public_key": self.crypto.public_key_b64(self.key), "device_name": name,
            "platform": platform})
        if response.status_code == 201:
            body = response.json()
            self.device_id, self.secret = body["device_id"], body["totp"]["secret"]
        return response

    def token(self, *, now: int | None = None, nonce: str | None = None) -> str:
        return self.crypto.device_token(self.key, device_id=self.device_id, now=int(now or time.time()), nonce=nonce)

    def stream(self, client, token: str | None = None):
        return client.get("/api/push/v1/stream", HTTP_AUTHORIZATION=token or self.token())

    def pending(self, client) -> list[dict]:
        """The sign-in requests the server sends this device when it connects."""
        import json

        response = self.stream(client)
        assert response.status_code == 200, response.content
        events = []
        for block in response.content.decode().split("\n\n"):
            lines = block.split("\n")
            if "event: challenge" in lines:
                events.append(json.loads("".join(line[6:] for line in lines if line.startswith("data: "))))
        return events

    def answer_body(self, challenge_id: str, decision: str = "approve", number: str | None = None, *,
                    now: int | None = None, nonce: str | None = None) -> dict:
        return self.crypto.signed_answer(self.key, device_id=self.device_id, challenge_id=challenge_id,
                                         decision=decision, number=number, now=int(now or time.time()), nonce=nonce)

    def answer(self, client, challenge_id: str, decision: str = "approve", number: str | None = None, **kwargs):
        body = self.answer_body(challenge_id, decision, number, **kwargs)
        return client.post(f"/api/push/v1/challenges/{challenge_id}/answer", data=body,
                           content_type="application/json")


def number_on(response) -> str:
    """The two-digit number a waiting page shows."""
    match = re.search(r'id="push-number"[^>]*>(\d+)<', response.content.decode())
    assert match, response.content.decode()[:2000]
    return match.group(1)


# Smart lockout's default threshold (wrong passwords for one account before it waits).
ACCOUNT_THRESHOLD = 20
