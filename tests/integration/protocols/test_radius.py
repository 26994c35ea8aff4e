"""``watchword radius serve`` for real, asked by FreeRADIUS's ``radclient`` (Debian package
freeradius-utils): PAP, challenge-response with an authenticator app's code, ``password,code``,
and the packets that must be dropped."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pyotp
import pytest

from tests.serving import cli, server_env
from tests.support import PASSWORD

RADCLIENT = shutil.which("radclient")
if RADCLIENT is None:
    print("radclient not found (apt-get install freeradius-utils): RADIUS tests skipped", file=sys.stderr)
pytestmark = pytest.mark.skipif(RADCLIENT is None, reason="radclient not installed (apt-get install freeradius-utils)")

SECRET = "Testing-Shared-Secret-123"
ENROL = """
import django, pyotp
django.setup()
from datetime import timedelta
from django.utils import timezone
from watchword.directory.models import User
from watchword.methods import registry
from watchword.methods.services import complete_registration, set_mfa_state
user = User.objects.get(upn={upn!r})
user = set_mfa_state(user, "enabled", actor="cli", notify=False)
totp = registry.get("totp")
at = timezone.now() - timedelta(minutes=5)
pending = totp.begin_enrolment(user=user, issuer="Contoso", now=at)
secret = totp.pending_secret(user=user, pending=pending)
method = totp.confirm_enrolment(user=user, pending=pending, response=pyotp.TOTP(secret).at(at), now=at, name="App")
complete_registration(user, method)
print(secret)
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Radius:
    def __init__(self, data_dir: Path):
        self.port = free_udp_port()
        self.env = server_env(data_dir, {"WATCHWORD_RADIUS_PUSH_TIMEOUT": "3"})
        self.log_path = data_dir / "radius.log"
        self.proc = None

    def start(self) -> None:
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "watchword.cli", "radius", "serve", "--bind",
                                      f"127.0.0.1:{self.port}"], env=self.env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while "listening" not in self.log():
            assert self.proc.poll() is None and time.time() < deadline, self.log()
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(timeout=30)
        self._log.close()
        return self.proc.returncode

    def ask(self, *attributes: str, secret: str = SECRET, timeout: int = 3) -> tuple[str, dict]:
        """Send one Access-Request with radclient; the reply's type (Access-Accept, …, or
        "none") and its attributes."""
        done = subprocess.run([RADCLIENT, "-x", "-r", "1", "-t", str(timeout), f"127.0.0.1:{self.port}", "auth",
                               secret], input=", ".join(attributes) + "\n", capture_output=True, text=True,
                              timeout=timeout + 20)
        received = re.search(r"Received (Access-\w+) Id", done.stdout)
        if not received:
            return "none", {}
        reply = done.stdout[received.end():]
        found = dict(re.findall(r"^\s+([\w-]+) = (.*)$", reply, re.M))
        return received.group(1), {k: v.strip('"') for k, v in found.items()}


@pytest.fixture(scope="module")
def radius(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("radius")
    server = Radius(data_dir)
    done = cli(server.env, "init", "--admin", "admin@contoso.example", "--admin-name", "Megan Bowen")
    assert done.returncode == 0, done.stderr
    for upn in ("adele.vance@contoso.example", "nestor.wilke@contoso.example"):
        done = subprocess.run([sys.executable, "-m", "watchword.cli", "user", "add", upn, "--name", upn.split("@")[0],
                               "--password-stdin"], input=PASSWORD + "\n", env=server.env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-c", ENROL.format(upn="nestor.wilke@contoso.example")], env=server.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    server.totp = pyotp.TOTP(done.stdout.strip().splitlines()[-1])
    done = subprocess.run([sys.executable, "-m", "watchword.cli", "radius", "client", "add", "vpn-1", "--address",
                           "127.0.0.1", "--secret-stdin"], input=SECRET + "\n", env=server.env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "Added RADIUS client vpn-1" in done.stdout, done.stderr
    server.start()
    yield server
    assert server.stop() == 0, server.log()


def pap(name: str, password: str, *extra: str, message_authenticator: bool = True) -> list[str]:
    attributes = [f'User-Name = "{name}"', f'User-Password = "{password}"', *extra]
    if message_authenticator:
        attributes.append("Message-Authenticator = 0x00")
    return attributes


ADELE, NESTOR = "adele.vance@contoso.example", "nestor.wilke@contoso.example"


def test_a_person_without_mfa_is_accepted(radius):
    kind, reply = radius.ask(*pap(ADELE, PASSWORD, 'Calling-Station-Id = "203.0.113.7"'))
    assert kind == "Access-Accept"
    assert "Message-Authenticator" in reply


def test_a_wrong_password_and_an_unknown_name_get_the_same_reply(radius):
    wrong = radius.ask(*pap(ADELE, "not-the-password"))
    unknown = radius.ask(*pap("nobody@contoso.example", PASSWORD))
    assert wrong[1].pop("Message-Authenticator") and unknown[1].pop("Message-Authenticator")
    assert wrong == unknown
    assert wrong[0] == "Access-Reject" and wrong[1]["Reply-Message"] == "Your account or password is incorrect."


def test_challenge_then_the_authenticator_code(radius):
    kind, reply = radius.ask(*pap(NESTOR, PASSWORD))
    assert kind == "Access-Challenge"
    assert reply["Reply-Message"] == "Enter the code from your authenticator app"
    state = reply["State"]
    assert re.fullmatch(r"0x[0-9a-f]{32}", state)
    kind, _ = radius.ask(*pap(NESTOR, radius.totp.now(), f"State = {state}"))
    assert kind == "Access-Accept"
    # The State was used once.
    assert radius.ask(*pap(NESTOR, radius.totp.now(), f"State = {state}"))[0] == "Access-Reject"


def test_password_comma_code_in_one_request(radius):
    # The current step's code may have been spent by the previous test: use the next step's.
    code = radius.totp.at(time.time() + 30)
    kind, _ = radius.ask(*pap(NESTOR, f"{PASSWORD},{code}"))
    assert kind == "Access-Accept"  # the next step's code is within the accepted window
    # Only once: the same code again gets a challenge for a fresh one.
    kind, reply = radius.ask(*pap(NESTOR, f"{PASSWORD},{code}"))
    assert kind == "Access-Challenge" and "already used" in reply["Reply-Message"]


def test_a_request_without_message_authenticator_is_dropped(radius):
    assert radius.ask(*pap(ADELE, PASSWORD, message_authenticator=False), timeout=1) == ("none", {})
    assert "without Message-Authenticator" in radius.log()


def test_a_request_with_the_wrong_secret_is_dropped(radius):
    assert radius.ask(*pap(ADELE, PASSWORD), secret="Some-Other-Secret-456", timeout=1) == ("none", {})


def test_a_request_from_an_unknown_nas_is_dropped(radius):
    done = subprocess.run([sys.executable, "-m", "watchword.cli", "radius", "client", "remove", "vpn-1"],
                          env=radius.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    time.sleep(5.5)  # the server re-reads its clients every 5 s
    assert radius.ask(*pap(ADELE, PASSWORD), timeout=1) == ("none", {})
    assert "not a known RADIUS client" in radius.log()
