"""The RADIUS server's handling of datagrams, in this process (no UDP): who is answered, the
sign-in decisions, codes, push with its number, retransmissions and the sign-in log."""

from __future__ import annotations

import threading
import time

import pyotp
import pytest
from django.db import connection
from django.test import Client
from pyrad import packet as rp

from tests.integration.protocols.radius_support import access_request, read_reply
from tests.support import PASSWORD
from watchword.audit.models import SignInEvent
from watchword.methods.models import ChallengeState, PushChallenge
from watchword.protocols import radius, services

pytestmark = pytest.mark.django_db

SECRET = "correct-horse-battery-staple"
NAS_IP = "192.0.2.10"


@pytest.fixture
def nas():
    client, _ = services.add_client(name="vpn-1", address="192.0.2.0/28", secret=SECRET, actor="test")
    return client


@pytest.fixture
def nestor(make_person):
    """Nestor Wilke: per-user MFA enabled (enforced once he has a method)."""
    return make_person("Nestor Wilke", mfa_state="enabled")


@pytest.fixture
def server(nas):
    srv = radius.Server("127.0.0.1", 0, push_timeout=2)
    yield srv
    srv.stop()


def ask(server, name, password, *, state=None, source=NAS_IP, **kwargs):
    request, raw = access_request(SECRET.encode(), name, password, state=state, **kwargs)
    reply = server.handle(raw, source)
    return None if reply is None else read_reply(request, reply)


def current_code(authenticator) -> str:
    return pyotp.TOTP(authenticator.secret).now()


def test_a_person_without_mfa_is_accepted_and_the_sign_in_is_logged(server, adele):
    assert ask(server, adele.upn, PASSWORD, calling_station="203.0.113.7") == (rp.AccessAccept, "", None)
    event = SignInEvent.objects.filter(user=adele).latest("time")
    assert (event.app, event.result, event.ip) == ("radius:vpn-1", "success", "203.0.113.7")


def test_a_wrong_password_and_an_unknown_name_get_the_same_reply(server, adele):
    wrong = ask(server, adele.upn, "not-the-password")
    unknown = ask(server, "nobody@contoso.example", PASSWORD)
    assert wrong == unknown == (rp.AccessReject, radius.BAD_CREDENTIALS, None)
    assert set(SignInEvent.objects.filter(app="radius:vpn-1").values_list("error_code", flat=True)) == {50126}


def test_packets_from_unknown_sources_without_or_with_a_wrong_message_authenticator_are_dropped(server, adele):
    assert ask(server, adele.upn, PASSWORD, source="198.51.100.1") is None
    assert ask(server, adele.upn, PASSWORD, message_authenticator=False) is None
    request, raw = access_request(b"some-other-secret-entirely", adele.upn, PASSWORD)
    assert server.handle(raw, NAS_IP) is None
    assert not SignInEvent.objects.exists()


def test_malformed_oversized_and_other_packets_are_dropped_and_logged(server, adele, caplog):
    request, raw = access_request(SECRET.encode(), adele.upn, PASSWORD)
    accounting = bytes([rp.AccountingRequest]) + raw[1:]
    truncated = raw[:-5]
    bad_attribute = raw[:20] + bytes([1, 1]) + raw[22:]  # an attribute whose length is below its header's
    oversized = raw[:2] + (4200).to_bytes(2, "big") + raw[4:] + bytes(4200 - len(raw))
    with caplog.at_level("WARNING", logger="watchword.radius"):
        for data in (b"", b"\x01", bytes(19), truncated, bad_attribute, accounting, oversized, bytes(70000)):
            assert server.handle(data, NAS_IP) is None
    messages = [r.getMessage() for r in caplog.records]
    assert sum("malformed packet" in m for m in messages) == 5
    assert sum("oversized packet" in m for m in messages) == 2
    assert sum("only Access-Request is served" in m for m in messages) == 1
    assert not SignInEvent.objects.exists()
    # The server still answers.
    assert ask(server, adele.upn, PASSWORD)[0] == rp.AccessAccept


def test_a_person_who_must_register_is_told_where(server, make_person, settings):
    person = make_person("Lee Gu", mfa_state="enabled")
    code, message, _ = ask(server, person.upn, PASSWORD)
    assert code == rp.AccessReject
    assert message == f"More information required: register your security info at {settings.PUBLIC_URL}/signin first"
    assert SignInEvent.objects.filter(user=person).latest("time").error_code in (50072, 50079)


def test_code_challenge_then_the_code_is_accepted_once(server, nestor, enrol):
    app = enrol(nestor)
    code, message, state = ask(server, nestor.upn, PASSWORD)
    assert (code, message) == (rp.AccessChallenge, radius.CODE_PROMPT) and len(state) == 16
    assert ask(server, nestor.upn, current_code(app), state=state)[0] == rp.AccessAccept
    # The State is spent.
    assert ask(server, nestor.upn, current_code(app), state=state)[0] == rp.AccessReject
    assert SignInEvent.objects.filter(user=nestor, result="success", method="code", app="radius:vpn-1").count() == 1


def test_a_wrong_code_is_challenged_again_and_a_state_is_bound_to_its_person(server, nestor, enrol, make_person):
    app = enrol(nestor)
    _, _, state = ask(server, nestor.upn, PASSWORD)
    code, message, state2 = ask(server, nestor.upn, "000000" if current_code(app) != "000000" else "111111",
                                state=state)
    assert code == rp.AccessChallenge and "didn't work" in message and state2 != state
    assert ask(server, "someone.else@contoso.example", current_code(app), state=state2)[0] == rp.AccessReject


def test_password_comma_code_in_one_request(server, nestor, enrol):
    app = enrol(nestor)
    assert ask(server, nestor.upn, f"{PASSWORD},{current_code(app)}")[0] == rp.AccessAccept
    assert ask(server, nestor.upn, f"{PASSWORD},000000")[0] != rp.AccessAccept


def test_a_retransmission_gets_the_same_reply_and_is_not_processed_twice(server, adele):
    request, raw = access_request(SECRET.encode(), adele.upn, PASSWORD, packet_id=7)
    first = server.handle(raw, NAS_IP)
    assert server.handle(raw, NAS_IP) == first
    assert SignInEvent.objects.filter(user=adele, app="radius:vpn-1").count() == 1


def test_push_number_in_the_challenge_then_approved(server, nestor, enrol_device):
    device = enrol_device(nestor)
    code, message, state = ask(server, nestor.upn, PASSWORD, calling_station="203.0.113.7")
    challenge = PushChallenge.objects.get(user=nestor, purpose="signin")
    assert code == rp.AccessChallenge
    assert message == f"Enter {challenge.number} in your authenticator app, then press OK"
    assert (challenge.app, challenge.ip) == ("vpn-1", "203.0.113.7")
    client = Client()
    assert [c["challenge_id"] for c in device.pending(client)] == [challenge.id]
    assert device.answer(client, challenge.id, "approve", challenge.number).json() == {"result": "approved"}
    assert ask(server, nestor.upn, "", state=state)[0] == rp.AccessAccept
    challenge.refresh_from_db()
    assert challenge.consumed
    assert SignInEvent.objects.filter(user=nestor, result="success", method="push").count() == 1


def test_push_denied_or_unanswered_is_rejected(server, nestor, enrol_device):
    device = enrol_device(nestor)
    _, _, state = ask(server, nestor.upn, PASSWORD)
    challenge = PushChallenge.objects.get(user=nestor, purpose="signin")
    device.answer(Client(), challenge.id, "deny")
    assert ask(server, nestor.upn, "", state=state)[:2] == (rp.AccessReject, "The sign-in request was denied.")
    denial = SignInEvent.objects.get(user=nestor, reason="MFA denied; user declined the authentication")
    assert (denial.app, denial.error_code) == ("radius:vpn-1", 500121)  # logged when the device answered

    _, _, state = ask(server, nestor.upn, PASSWORD)
    started = time.monotonic()
    code, message, _ = ask(server, nestor.upn, "", state=state)  # push_timeout=2
    assert code == rp.AccessReject and "not answered in time" in message
    assert 1.5 < time.monotonic() - started < 5
    assert SignInEvent.objects.filter(user=nestor, app="radius:vpn-1", error_code=500121,
                                      reason="MFA denied; user did not respond to mobile app notification").exists()
    latest = PushChallenge.objects.filter(user=nestor).latest("created_at")
    assert latest.state == ChallengeState.PENDING and latest.expires_at <= latest.created_at.__class__.now(
        latest.expires_at.tzinfo)


@pytest.mark.django_db(transaction=True)
def test_push_approved_while_the_request_waits(adele_tx, enrol_device):
    services.add_client(name="vpn-1", address="192.0.2.0/28", secret=SECRET, actor="test")
    srv = radius.Server("127.0.0.1", 0, push_timeout=10)
    try:
        device = enrol_device(adele_tx)
        _, _, state = ask(srv, adele_tx.upn, PASSWORD)
        challenge = PushChallenge.objects.get(user=adele_tx, purpose="signin")

        def approve():
            time.sleep(0.6)
            device.answer(Client(), challenge.id, "approve", challenge.number)
            connection.close()

        thread = threading.Thread(target=approve)
        thread.start()
        started = time.monotonic()
        assert ask(srv, adele_tx.upn, "", state=state)[0] == rp.AccessAccept
        assert 0.5 < time.monotonic() - started < 5
        thread.join()
    finally:
        srv.stop()


@pytest.fixture
def adele_tx(make_person):
    return make_person("Adele Vance", mfa_state="enabled")


@pytest.mark.parametrize("value, expected", [
    ("192.0.2.10", "192.0.2.10"), ("192.0.2.0/24", "192.0.2.0/24"), ("192.0.2.7/32", "192.0.2.7"),
    ("2001:DB8::/64", "2001:db8::/64"), ("::1", "::1"),
])
def test_addresses_are_stored_canonically(value, expected):
    assert services.clean_address(value) == expected


@pytest.mark.parametrize("value", ["", "vpn", "192.0.2.300", "192.0.2.1/24", "10.0.0.0/33"])
def test_bad_addresses_are_refused(value):
    from watchword.protocols.errors import RadiusClientInvalid

    with pytest.raises(RadiusClientInvalid):
        services.clean_address(value)


def test_the_most_specific_client_wins_and_secrets_are_sealed(nas):
    narrow, secret = services.add_client(name="vpn-2", address="192.0.2.10", actor="test")
    assert len(secret) >= 16 and secret not in narrow.secret_sealed
    assert services.client_for_address("192.0.2.10") == narrow
    assert services.client_for_address("192.0.2.11") == nas
    assert services.client_for_address("::ffff:192.0.2.11") == nas
    assert services.client_for_address("192.0.2.99") is None
    assert services.secret_of(narrow) == secret.encode()
