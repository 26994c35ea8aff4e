"""``watchword radius serve`` for real, asked by FreeRADIUS's ``radclient`` (Debian package
freeradius-utils): PAP, challenge-response with an authenticator app's code or a texted code,
``password,code``, a call answered from another process while the request waits, and the
packets that must be dropped."""

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
ADELE, NESTOR = "adele.vance@contoso.example", "nestor.wilke@contoso.example"
LEE, PRADEEP = "lee.gu@contoso.example", "pradeep.gupta@contoso.example"
MOBILE, HOME = "+447400123456", "+442079460958"
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
ADD_PHONE = """
import django
django.setup()
from django.utils import timezone
from watchword.directory.models import User
from watchword.methods import phone
from watchword.methods.services import complete_registration, set_mfa_state
user = set_mfa_state(User.objects.get(upn={upn!r}), "enabled", actor="cli", notify=False)
complete_registration(user, phone.register_phone(user, method_type={kind!r}, phone={number!r}, now=timezone.now()))
"""
# What the person reads on their phone: the outbox keeps every text.
READ_TEXT = """
import django, re
django.setup()
from watchword.delivery.models import PhoneMessage
text = PhoneMessage.objects.filter(to={number!r}, kind="text").order_by("-created").first()
print(re.search(r"\\b(\\d{{6}})\\b", text.body).group(1))
"""
# The phone rings; the person answers and presses #, as the provider reports it.
ANSWER_CALL = """
import django, time
django.setup()
from watchword.delivery.models import PhoneMessage
from watchword.delivery.phone import finish_call
for _ in range(200):
    call = PhoneMessage.objects.filter(to={number!r}, kind="call").first()
    if call is not None:
        break
    time.sleep(0.05)
finish_call(call.id, "confirmed", provider="outbox")
"""


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Radius:
    def __init__(self, data_dir: Path):
        self.port = free_udp_port()
        self.env = server_env(data_dir, {"WATCHWORD_RADIUS_PUSH_TIMEOUT": "10"})
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
        return self.reply_of(self.send(*attributes, secret=secret, timeout=timeout), timeout)

    def send(self, *attributes: str, secret: str = SECRET, timeout: int = 3) -> subprocess.Popen:
        proc = subprocess.Popen([RADCLIENT, "-x", "-r", "1", "-t", str(timeout), f"127.0.0.1:{self.port}", "auth",
                                 secret], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        proc.stdin.write(", ".join(attributes) + "\n")
        proc.stdin.close()
        return proc

    @staticmethod
    def reply_of(proc: subprocess.Popen, timeout: int) -> tuple[str, dict]:
        stdout = proc.stdout.read()
        proc.wait(timeout=timeout + 20)
        received = re.search(r"Received (Access-\w+) Id", stdout)
        if not received:
            return "none", {}
        reply = stdout[received.end():]
        found = dict(re.findall(r"^\s+([\w-]+) = (.*)$", reply, re.M))
        return received.group(1), {k: v.strip('"') for k, v in found.items()}

    def run(self, script: str) -> str:
        done = subprocess.run([sys.executable, "-c", script], env=self.env, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""


@pytest.fixture(scope="module")
def radius(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("radius")
    server = Radius(data_dir)
    done = cli(server.env, "init", "--admin", "admin@contoso.example", "--admin-name", "Megan Bowen")
    assert done.returncode == 0, done.stderr
    for upn in (ADELE, NESTOR, LEE, PRADEEP):
        done = subprocess.run([sys.executable, "-m", "watchword.cli", "user", "add", upn, "--name", upn.split("@")[0],
                               "--password-stdin"], input=PASSWORD + "\n", env=server.env, capture_output=True,
                              text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    done = subprocess.run([sys.executable, "-c", ENROL.format(upn="nestor.wilke@contoso.example")], env=server.env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    server.totp = pyotp.TOTP(done.stdout.strip().splitlines()[-1])
    server.run(ADD_PHONE.format(upn=LEE, kind="phone", number=MOBILE))
    server.run(ADD_PHONE.format(upn=PRADEEP, kind="alternate_phone", number=HOME))
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


def test_challenge_then_the_texted_code(radius):
    kind, reply = radius.ask(*pap(LEE, PASSWORD))
    assert kind == "Access-Challenge"
    assert reply["Reply-Message"] == "Enter the code we texted to +44 XXXXXXXX56"
    state = reply["State"]
    code = radius.run(READ_TEXT.format(number=MOBILE))
    wrong = "000000" if code != "000000" else "111111"
    kind, reply = radius.ask(*pap(LEE, wrong, f"State = {state}"))
    assert kind == "Access-Challenge" and reply["Reply-Message"].startswith("That code didn't work")
    assert radius.ask(*pap(LEE, code, f"State = {reply['State']}"))[0] == "Access-Accept"


def test_a_call_answered_from_another_process_accepts_the_waiting_request(radius):
    waiting = radius.send(*pap(PRADEEP, PASSWORD), timeout=15)
    radius.run(ANSWER_CALL.format(number=HOME))
    assert radius.reply_of(waiting, 15)[0] == "Access-Accept"


def test_a_request_without_message_authenticator_is_dropped(radius):
    assert radius.ask(*pap(ADELE, PASSWORD, message_authenticator=False), timeout=1) == ("none", {})
    assert "without Message-Authenticator" in radius.log()


def test_a_request_with_the_wrong_secret_is_dropped(radius):
    assert radius.ask(*pap(ADELE, PASSWORD), secret="Some-Other-Secret-456", timeout=1) == ("none", {})


def test_malformed_and_oversized_datagrams_are_dropped_and_logged(radius):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(1)
        for datagram in (b"\x01\x07\x00\x10junk", bytes([1, 9]) + (5000).to_bytes(2, "big") + bytes(4996)):
            sock.sendto(datagram, ("127.0.0.1", radius.port))
            with pytest.raises(TimeoutError):
                sock.recv(4096)
    assert "dropped a malformed packet from vpn-1" in radius.log()
    assert "dropped an oversized packet from vpn-1" in radius.log()
    assert radius.ask(*pap(ADELE, PASSWORD))[0] == "Access-Accept"  # still serving


def test_a_request_from_an_unknown_nas_is_dropped(radius):
    done = subprocess.run([sys.executable, "-m", "watchword.cli", "radius", "client", "remove", "vpn-1"],
                          env=radius.env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    time.sleep(5.5)  # the server re-reads its clients every 5 s
    assert radius.ask(*pap(ADELE, PASSWORD), timeout=1) == ("none", {})
    assert "not a known RADIUS client" in radius.log()
