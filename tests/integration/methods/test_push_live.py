"""Push through real HTTP: a real ``watchword serve`` (the front holding the streams, gunicorn
behind it), the real companion authenticator as a subprocess, and the pages driven with httpx
as a browser without JavaScript would (the waiting page's event stream read directly)."""

from __future__ import annotations

import html
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.serving import cli, start_server

pytest.importorskip("watchword_authenticator", reason="the companion authenticator is not installed")

PASSWORD = "Lee's long sign-in phrase 9"


@pytest.fixture(scope="module")
def live():
    with tempfile.TemporaryDirectory(prefix="watchword-push-live-") as folder:
        server = start_server(Path(folder), env_extra={"WATCHWORD_ORGANISATION": "Contoso"})
        try:
            yield server
        finally:
            server.stop()


def person(live, name: str) -> str:
    upn = f"{name}@contoso.example"
    done = subprocess.run([sys.executable, "-m", "watchword.cli", "user", "add", upn, "--name", name.title(),
                           "--password-stdin"], env=live.env, input=PASSWORD + "\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert cli(live.env, "mfa", "state", "set", upn, "enabled", "--no-notify").returncode == 0
    return upn


class App:
    def __init__(self, state: Path) -> None:
        self.tool = [sys.executable, "-m", "watchword_authenticator", "--state", str(state)]

    def run(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*self.tool, *args], capture_output=True, text=True, timeout=60)

    def listen(self, *args: str) -> subprocess.Popen:
        return subprocess.Popen([*self.tool, "listen", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)


class Browser:
    """Cookies, CSRF tokens and forms, as a browser without JavaScript posts them."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(base_url=url, follow_redirects=True, timeout=30)
        self.last = ""

    def get(self, path: str) -> str:
        self.last = html.unescape(self.http.get(path).text)
        return self.last

    def post(self, path: str, data: dict | None = None) -> httpx.Response:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', self.last).group(1)
        response = self.http.post(path, data={"csrfmiddlewaretoken": token, **(data or {})})
        self.last = html.unescape(response.text)
        return response

    def sign_in(self, upn: str) -> str:
        self.get("/signin")
        self.post("/signin", {"name": upn})
        flow = re.search(r'name="flow" value="([^"]*)"', self.last).group(1)
        self.post("/signin/password", {"password": PASSWORD, "flow": flow})
        return self.last

    def number(self) -> str:
        return re.search(r'id="push-number"[^>]*>(\d+)<', self.last).group(1)

    def wait_for_event(self, path: str, event: str) -> threading.Thread:
        """Open the page's event stream now (as the page's script does) and wait in the
        background for ``event``; the thread's ``got`` says whether it came."""

        def read():
            with self.http.stream("GET", path, timeout=httpx.Timeout(30, read=70)) as response:
                waiter.held = "text/event-stream" in response.headers.get("content-type", "")
                for line in response.iter_lines():
                    if line == f"event: {event}":
                        waiter.got = True
                        return

        waiter = threading.Thread(target=read, daemon=True)
        waiter.got, waiter.held = False, False
        waiter.start()
        time.sleep(0.3)  # the stream is open and held before anything is answered
        return waiter


def enrol(browser: Browser, app: App, base: str, device_name: str) -> None:
    """The wizard with notifications: scan (add the payload), test request approved, done."""
    browser.get(f"{base}?step=app")
    browser.post(f"{base}?step=app", {"kind": "push"})
    payload = re.search(r'id="activation-payload">([^<]+)<', browser.last).group(1).strip()
    activated = browser.wait_for_event("/mysecurityinfo/setup/events?step=scan", "activated")
    added = app.run("add", payload, "--name", device_name, "--platform", "linux")
    assert added.returncode == 0, added.stderr
    activated.join(10)
    assert activated.got and activated.held
    browser.post(f"{base}?step=scan")
    assert "Let's try it out" in browser.last
    answered = browser.wait_for_event("/mysecurityinfo/setup/events?step=try", "answered")
    approved = app.run("listen", "--once", "--auto", "approve", "--number", browser.number())
    assert approved.returncode == 0, approved.stdout + approved.stderr
    answered.join(10)
    assert answered.got
    browser.post(f"{base}?step=try", {"action": "check"})
    assert "Success!" in browser.last
    browser.post(f"{base}?step=done")


def test_a_request_reaches_a_device_already_listening_and_the_waiting_page_hears_the_answer(live, tmp_path):
    upn = person(live, "lee")
    app = App(tmp_path / "phone.json")
    browser = Browser(live.url)
    browser.sign_in(upn)
    browser.post("/signin/more-information")
    enrol(browser, app, "/signin/register", "Lee's phone")
    assert "My account" in browser.last

    # The device is listening before the sign-in starts: the request is pushed to it live.
    listening = app.listen("--once", "--auto", "deny")
    time.sleep(1.5)
    fresh = Browser(live.url)
    assert "Approve sign in request" in fresh.sign_in(upn)
    answered = fresh.wait_for_event("/signin/push/events", "answered")
    out, err = listening.communicate(timeout=30)
    assert listening.returncode == 0, out + err
    assert "Sign-in request for" in out and "From:" in out and "Denied" in out
    answered.join(10)
    assert answered.got and answered.held
    fresh.post("/signin/push", {"action": "check"})
    assert "Request denied" in fresh.last

    # A request made while the device is offline is waiting for it when it connects.
    third = Browser(live.url)
    third.sign_in(upn)
    time.sleep(1)
    approved = app.run("listen", "--once", "--auto", "approve", "--number", third.number())
    assert approved.returncode == 0, approved.stdout + approved.stderr
    third.post("/signin/push", {"action": "check"})
    assert "My account" in third.last


def test_a_removed_device_is_disconnected_at_once(live, tmp_path):
    upn = person(live, "diego")
    phone, tablet = App(tmp_path / "phone.json"), App(tmp_path / "tablet.json")
    browser = Browser(live.url)
    browser.sign_in(upn)
    browser.post("/signin/more-information")
    enrol(browser, phone, "/signin/register", "Diego's phone")
    enrol(browser, tablet, "/mysecurityinfo/add/authenticator", "Diego's tablet")
    info = browser.get("/mysecurityinfo")
    assert "Diego's phone" in info and "Diego's tablet" in info

    listening = tablet.listen()
    time.sleep(1.5)
    delete = re.search(r'href="(/mysecurityinfo/methods/\d+/delete)" aria-label="Delete Authenticator app[^"]*"',
                       info.split("Diego's tablet")[1]).group(1)
    browser.get(delete)
    browser.post(delete)
    assert "The sign-in method was deleted" in browser.last

    out, err = listening.communicate(timeout=30)
    assert listening.returncode == 1
    assert "not registered" in err
