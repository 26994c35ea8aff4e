"""Activation, the challenge stream and answers, against a standard-library stand-in for the
server (``fake_server``), through the real command line in a subprocess."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from watchword_authenticator import crypto
from watchword_authenticator.codes import TotpParams, current_code

from tests.authenticator.fake_server import TOTP_SECRET, FakeWatchword

PREFIX = "watchword-authenticator: "


@pytest.fixture
def server():
    fake = FakeWatchword().start()
    yield fake
    fake.stop()


@pytest.fixture
def activated(run_cli, server):
    """This device activated for Adele at the fake server."""
    result = run_cli("add", server.activation_payload(), "--name", "Adele's laptop", "--platform", "linux")
    assert result.returncode == 0, result.stderr
    return server


def verify_answer(public_key_b64: str, body: dict) -> None:
    """Check the answer's signature the way a server would, with ``cryptography`` only."""
    public = serialization.load_der_public_key(crypto.b64url_decode(public_key_b64))
    signed = {name: value for name, value in body.items() if name != "signature"}
    data = json.dumps(signed, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    public.verify(crypto.b64url_decode(body["signature"]), data, ec.ECDSA(hashes.SHA256()))


# --- activation -------------------------------------------------------------------------------


def test_add_sends_the_activation_json_the_protocol_describes(activated):
    (sent,) = activated.recorded.activations

    assert set(sent) == {"activation_code", "public_key", "device_name", "platform"}
    assert (sent["activation_code"], sent["device_name"], sent["platform"]) == ("Q7M2KX9P", "Adele's laptop", "linux")
    public = serialization.load_der_public_key(crypto.b64url_decode(sent["public_key"]))
    assert isinstance(public, ec.EllipticCurvePublicKey) and public.curve.name == "secp256r1"


def test_an_activated_account_is_listed_as_push_with_its_device_id(run_cli, activated):
    listed = run_cli("list").stdout.splitlines()[1].split()

    assert listed == ["Contoso", "adele@contoso.example", "push+codes", "dv_9Qk2"]


def test_an_activated_account_shows_codes_from_the_seed_the_server_sent(run_cli, activated):
    before = current_code(TotpParams(secret=TOTP_SECRET), now=time.time()).code
    shown = run_cli("code", "Contoso").stdout.split()[0]
    after = current_code(TotpParams(secret=TOTP_SECRET), now=time.time()).code

    assert shown in {before, after}


def test_the_same_account_cannot_be_activated_twice_and_the_code_is_not_spent(run_cli, activated):
    result = run_cli("add", activated.activation_payload(code="SECOND"))

    assert result.returncode == 1 and "already added" in result.stderr
    assert len(activated.recorded.activations) == 1


def test_a_server_error_during_activation_is_one_line_with_its_code(run_cli, server):
    server.activation_error = (410, {"code": "activation_expired", "message": "This activation code has expired."})

    result = run_cli("add", server.activation_payload())

    assert result.returncode == 1
    assert result.stderr == (f"{PREFIX}The server refused activating this device: "
                             "This activation code has expired (activation_expired).\n")
    assert "No accounts yet" in run_cli("list").stdout


# --- listening and answering ------------------------------------------------------------------


def test_listen_once_approves_with_the_number_and_a_signature_that_verifies(run_cli, activated):
    activated.add_challenge("ch_5tYp")

    result = run_cli("listen", "--once", "--auto", "approve", "--number", "42", timeout=30)

    assert result.returncode == 0, result.stderr
    assert "Sign-in request for Contoso: adele@contoso.example" in result.stdout
    assert "Contoso sign-in" in result.stdout and "203.0.113.7 (Reading, United Kingdom)" in result.stdout
    assert "Approved" in result.stdout
    ((path_id, body),) = activated.recorded.answers
    assert path_id == "ch_5tYp"
    assert {name: body[name] for name in ("device_id", "challenge_id", "number", "decision")} == {
        "device_id": "dv_9Qk2", "challenge_id": "ch_5tYp", "number": "42", "decision": "approve"}
    assert abs(body["time"] - time.time()) < 30 and len(crypto.b64url_decode(body["nonce"])) >= 16
    verify_answer(activated.recorded.activations[0]["public_key"], body)


def test_the_stream_is_opened_with_a_device_token_the_server_verifies(run_cli, activated):
    activated.add_challenge()

    run_cli("listen", "--once", "--auto", "deny", timeout=30)

    (claims,) = activated.recorded.tokens  # the fake refuses a token that does not verify
    assert claims["device_id"] == "dv_9Qk2"


@pytest.mark.parametrize(("decision", "shown"), [("deny", "Denied"), ("fraud", "Reported")])
def test_listen_once_can_deny_or_report(run_cli, activated, decision, shown):
    activated.add_challenge()

    result = run_cli("listen", "--once", "--auto", decision, timeout=30)

    assert result.returncode == 0 and shown in result.stdout
    ((_, body),) = activated.recorded.answers
    assert (body["decision"], body["number"]) == (decision, "")
    verify_answer(activated.public_key_b64, body)


def test_listen_asks_for_the_number_then_the_decision(run_cli, activated):
    activated.add_challenge()

    result = run_cli("listen", "--once", stdin="17\na\n", timeout=30)

    assert result.returncode == 0, result.stderr
    assert "Enter the number shown to sign in" in result.stdout and "No, it's not me" in result.stdout
    ((_, body),) = activated.recorded.answers
    assert (body["decision"], body["number"]) == ("approve", "17")


def test_an_empty_number_then_n_reports_it_was_not_me(run_cli, activated):
    activated.add_challenge()

    result = run_cli("listen", "--once", stdin="\nn\n", timeout=30)

    assert result.returncode == 0 and "Reported" in result.stdout
    assert activated.recorded.answers[0][1]["decision"] == "fraud"


def test_listen_reconnects_with_a_new_token_after_the_stream_drops(run_cli, activated):
    activated.add_challenge()
    activated.streams_to_drop = 1

    result = run_cli("listen", "--once", "--auto", "approve", "--number", "42", timeout=30)

    assert result.returncode == 0, result.stderr
    assert "Lost the connection" in result.stderr and "Trying again" in result.stderr
    first, second = activated.recorded.tokens
    assert first["nonce"] != second["nonce"]


def test_a_refused_answer_exits_1_with_the_server_code(run_cli, activated):
    activated.add_challenge()
    activated.answer_error = (400, {"code": "number_mismatch", "message": "The number didn't match."})

    result = run_cli("listen", "--once", "--auto", "approve", "--number", "99", timeout=30)

    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (f"{PREFIX}The server refused sending your answer: "
                                              "The number didn't match (number_mismatch).")


def test_an_expired_request_is_skipped_not_answered(run_cli, activated):
    activated.add_challenge("ch_old", expires_in=-5)
    activated.add_challenge("ch_new")

    result = run_cli("listen", "--once", "--auto", "deny", timeout=30)

    assert result.returncode == 0 and "Skipped an expired sign-in request" in result.stderr
    assert [path_id for path_id, _ in activated.recorded.answers] == ["ch_new"]


def test_a_device_the_server_no_longer_knows_stops_listening_with_exit_1(run_cli, activated):
    activated.stream_error = (401, {"code": "device_unknown", "message": "This device is not registered."})

    result = run_cli("listen", "--once", "--auto", "deny", timeout=30)

    assert result.returncode == 1
    assert "device_unknown" in result.stderr and "Traceback" not in result.stderr


def test_ctrl_c_stops_listening_cleanly(activated, state_path, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "watchword_authenticator", "--state", str(state_path), "listen"],
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 20
        while not activated.recorded.tokens and time.time() < deadline:
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=20)
    finally:
        process.kill()

    assert process.returncode == 0, err
    assert "Stopped listening." in err and "Traceback" not in err
