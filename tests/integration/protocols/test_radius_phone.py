"""Texts and calls over RADIUS, in this process (no UDP), through the embedded outbox: a texted
code asked for in an Access-Challenge, a call waited for inside the request, and the sign-in log
rows each step leaves."""

from __future__ import annotations

import re
import threading
import time

import pytest
from django.db import OperationalError, connection
from django.utils import timezone
from pyrad import packet as rp

from tests.integration.protocols.radius_support import access_request, read_reply
from tests.support import PASSWORD
from watchword.audit import codes
from watchword.audit.models import SignInEvent
from watchword.delivery.models import PhoneMessage
from watchword.delivery.signals import call_finished
from watchword.methods import phone
from watchword.methods.models import FraudReport, PhoneCode
from watchword.methods.services import complete_registration
from watchword.protocols import radius, radius_signin, services

pytestmark = pytest.mark.django_db

SECRET = "correct-horse-battery-staple"
NAS_IP = "192.0.2.10"
MOBILE, HOME = "+447400123456", "+442079460958"


@pytest.fixture
def nas():
    client, _ = services.add_client(name="vpn-1", address="192.0.2.0/28", secret=SECRET, actor="test")
    return client


@pytest.fixture
def server(nas):
    srv = radius.Server("127.0.0.1", 0, push_timeout=1)
    yield srv
    srv.stop()


def ask(server, name, password, *, state=None):
    request, raw = access_request(SECRET.encode(), name, password, state=state)
    reply = server.handle(raw, NAS_IP)
    return None if reply is None else read_reply(request, reply)


def with_phone(user, method_type: str, number: str, channel: str = ""):
    method = phone.register_phone(user, method_type=method_type, phone=number, now=timezone.now())
    if channel:
        method.preferred_channel = channel
        method.save(update_fields=["preferred_channel"])
    complete_registration(user, method)
    return method


def texted_code(number: str) -> str:
    message = PhoneMessage.objects.filter(to=number, kind="text").order_by("-created").first()
    assert message is not None, f"no text to {number}"
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def wrong(code: str) -> str:
    return "000000" if code != "000000" else "111111"


def last_row(user) -> SignInEvent:
    return SignInEvent.objects.filter(user=user).latest("id")


@pytest.fixture
def lee(make_person):
    """Lee Gu: per-user MFA enabled, a mobile as his only method (a text by default)."""
    person = make_person("Lee Gu", mfa_state="enabled")
    with_phone(person, "phone", MOBILE)
    return person


# --- texts ------------------------------------------------------------------------------------


def test_a_texted_code_is_asked_for_and_accepted(server, lee):
    code, message, state = ask(server, lee.upn, PASSWORD)
    assert (code, message) == (rp.AccessChallenge, "Enter the code we texted to +44 XXXXXXXX56")
    assert len(state) == 16
    assert ask(server, lee.upn, texted_code(MOBILE), state=state) == (rp.AccessAccept, "", None)
    row = last_row(lee)
    assert (row.app, row.step, row.result, row.method) == ("radius:vpn-1", "complete", "success", "phone")


def test_a_wrong_texted_code_is_challenged_again_then_the_right_one_is_accepted(server, lee):
    _, _, state = ask(server, lee.upn, PASSWORD)
    real = texted_code(MOBILE)
    code, message, state2 = ask(server, lee.upn, wrong(real), state=state)
    assert (code, message) == (rp.AccessChallenge, "That code didn't work. Check the code and try again.")
    assert state2 != state
    assert ask(server, lee.upn, real, state=state)[0] == rp.AccessReject  # the first State is spent
    assert ask(server, lee.upn, real, state=state2)[0] == rp.AccessAccept
    failure = SignInEvent.objects.get(user=lee, result="failure", reason="text code invalid")
    assert (failure.app, failure.error_code, failure.method) == ("radius:vpn-1", codes.MFA_FAILED, "phone")


def test_too_many_wrong_texted_codes_reject_the_sign_in(server, lee, settings):
    _, _, state = ask(server, lee.upn, PASSWORD)
    real = texted_code(MOBILE)
    for _ in range(settings.MFA_CODE_ATTEMPTS - 1):
        code, _, state = ask(server, lee.upn, wrong(real), state=state)
        assert code == rp.AccessChallenge
    assert ask(server, lee.upn, wrong(real), state=state)[:2] == (
        rp.AccessReject, "You entered too many wrong codes. For your security, sign in again.")


def test_an_expired_texted_code_is_rejected(server, lee):
    _, _, state = ask(server, lee.upn, PASSWORD)
    PhoneCode.objects.filter(user=lee).update(expires_at=timezone.now())
    assert ask(server, lee.upn, texted_code(MOBILE), state=state)[:2] == (
        rp.AccessReject, "That code has expired. Start again to get a new one.")
    assert last_row(lee).reason == "text code expired"


def test_an_expired_state_is_rejected_and_logged(server, lee, monkeypatch):
    monkeypatch.setattr(radius_signin, "STATE_SECONDS", 0)
    _, _, state = ask(server, lee.upn, PASSWORD)
    assert ask(server, lee.upn, texted_code(MOBILE), state=state)[:2] == (
        rp.AccessReject, "Your sign-in took too long. Start again.")
    row = SignInEvent.objects.latest("id")
    assert (row.app, row.error_code, row.typed_name) == ("radius:vpn-1", codes.FLOW_EXPIRED, lee.upn)


def test_a_text_that_cannot_be_sent_rejects_with_the_reason_and_is_logged(server, lee, settings):
    settings.PHONE_ALLOWED_COUNTRIES = ["US"]
    code, message, _ = ask(server, lee.upn, PASSWORD)
    assert code == rp.AccessReject and "aren't allowed here" in message
    row = last_row(lee)
    assert (row.app, row.error_code, row.reason) == ("radius:vpn-1", codes.MFA_FAILED,
                                                     "text not sent: destination_not_allowed")
    assert not PhoneMessage.objects.exists()


def test_password_comma_code_is_an_authenticator_code_even_when_the_default_is_a_text(server, lee, enrol):
    app = enrol(lee)
    phone_default = lee.methods.get(type="phone")
    phone_default.is_default = True
    phone_default.save(update_fields=["is_default"])
    lee.methods.exclude(pk=phone_default.pk).update(is_default=False)
    assert ask(server, lee.upn, f"{PASSWORD},{app.fresh_code()}")[0] == rp.AccessAccept
    assert not PhoneMessage.objects.exists()


def test_password_comma_code_without_an_authenticator_is_rejected_and_nothing_is_sent(server, lee):
    code, message, _ = ask(server, lee.upn, f"{PASSWORD},123456")
    assert code == rp.AccessReject and "for an authenticator app" in message
    assert not PhoneMessage.objects.exists()
    assert last_row(lee).error_code == codes.MFA_FAILED


# --- calls ------------------------------------------------------------------------------------


def test_an_unanswered_call_is_rejected_when_the_wait_ends(server, make_person):
    person = make_person("Pradeep Gupta", mfa_state="enabled")
    with_phone(person, "alternate_phone", HOME)
    started = time.monotonic()
    assert ask(server, person.upn, PASSWORD)[:2] == (rp.AccessReject, "The call was not answered in time. Start again.")
    assert 0.8 < time.monotonic() - started < 5  # push_timeout=1
    assert PhoneMessage.objects.get(to=HOME, kind="call").call_ref.startswith("call_")
    row = last_row(person)
    assert (row.app, row.error_code, row.reason, row.method) == (
        "radius:vpn-1", codes.MFA_DENIED, "MFA denied; the phone call timed out", "alternate_phone")


ANSWERS = [
    ("confirmed", rp.AccessAccept, ""),
    ("fraud", rp.AccessReject, "You reported this sign-in. Contact your administrator."),
    ("no_input", rp.AccessReject, "The call was not answered. Start again."),
    ("failed", rp.AccessReject, "The call was not answered. Start again."),
]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("result", "expected", "message"), ANSWERS, ids=[a[0] for a in ANSWERS])
@pytest.mark.parametrize(("method_type", "number", "channel"), [
    ("alternate_phone", HOME, ""), ("phone", MOBILE, "call")], ids=["alternate", "mobile-by-call"])
def test_a_call_is_waited_for_inside_the_request(make_person, result, expected, message, method_type, number,
                                                  channel):
    services.add_client(name="vpn-1", address="192.0.2.0/28", secret=SECRET, actor="test")
    person = make_person("Pradeep Gupta", mfa_state="enabled")
    with_phone(person, method_type, number, channel)
    srv = radius.Server("127.0.0.1", 0, push_timeout=10)

    def pick_up():
        """The phone rings; the person answers and presses # (or 0#, or hangs up, or never picks up)."""
        try:
            deadline = time.monotonic() + 8
            while time.monotonic() < deadline:
                try:
                    call = PhoneMessage.objects.filter(to=number, kind="call").first()
                    if call is not None:
                        time.sleep(0.3)
                        call_finished.send(sender=None, call_ref=call.call_ref, result=result)
                        return
                except OperationalError as exc:
                    # The test database is SQLite in memory with a shared cache, where a table
                    # another thread is reading is "locked" at once instead of waited for (a
                    # database file waits): try again, as the provider's callback would.
                    if "locked" not in str(exc):
                        raise
                time.sleep(0.05)
        finally:
            connection.close()

    thread = threading.Thread(target=pick_up)
    try:
        thread.start()
        started = time.monotonic()
        assert ask(srv, person.upn, PASSWORD)[:2] == (expected, message)
        assert time.monotonic() - started < 5
        thread.join()
    finally:
        srv.stop()
    rows = SignInEvent.objects.filter(user=person).order_by("id")
    assert {row.app for row in rows} == {"radius:vpn-1"}
    last = rows.last()
    if result == "confirmed":
        assert (last.step, last.result, last.method) == ("complete", "success", method_type)
    else:
        assert (last.error_code, last.method) == (codes.MFA_DENIED, method_type)
        assert last.reason == phone.CALL_DETAILS[result]
    assert FraudReport.objects.filter(user=person).exists() == (result == "fraud")
