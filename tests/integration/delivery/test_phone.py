"""Texts and calls through the development outbox (the embedded default): kept, logged, shown on
Admin → Outbox, where an admin answers a ringing call as the person would; the send limits per
person, number and country and the allowed countries, each refusing before anything is sent;
and the audit log, which has every send with the number masked and never the code."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta

import pytest
from django.db.models import F
from django.test import Client

from watchword.audit.models import AuditEvent
from watchword.delivery.errors import DestinationInvalid, DestinationNotAllowed, SendLimited
from watchword.delivery.models import PhoneMessage
from watchword.delivery.phone import place_call, send_text
from watchword.delivery.signals import call_finished

pytestmark = pytest.mark.django_db

MOBILE = "+447400123456"
MASKED = "+44 74•••••456"
CODE_TEXT = "Use verification code 493817 for Contoso"
GREETING = ("This is Contoso. Press the pound key to finish signing in. If you did not try to sign in, press zero "
            "then pound.")


@pytest.fixture
def outbox(settings):
    settings.PHONE_PROVIDER = "outbox"
    settings.PHONE_ALLOWED_COUNTRIES = ()


@pytest.fixture
def results():
    """Every call_finished signal sent during the test, as (call_ref, result)."""
    heard = []

    def listen(sender, call_ref, result, **kwargs):
        heard.append((call_ref, result))

    call_finished.connect(listen)
    yield heard
    call_finished.disconnect(listen)


@pytest.fixture
def admin(megan) -> Client:
    browser = Client()
    browser.force_login(megan, backend="watchword.directory.backends.DirectoryBackend")
    return browser


def text(person, to=MOBILE, body=CODE_TEXT):
    return send_text(to=to, body=body, person=person, purpose="mfa_signin")


def call(person, to=MOBILE, call_ref="pc_1", extension=""):
    return place_call(to=to, extension=extension, greeting=GREETING, person=person, purpose="mfa_signin",
                      call_ref=call_ref)


def let_time_pass(seconds: int) -> None:
    PhoneMessage.objects.update(created=F("created") - timedelta(seconds=seconds))


# --- the outbox ------------------------------------------------------------------------------


def test_a_text_is_kept_in_the_outbox_with_its_words(outbox, adele):
    sent = text(adele)

    message = PhoneMessage.objects.get(pk=sent.id)
    assert (sent.provider, message.kind, message.to, message.body, message.status) == (
        "outbox", "text", MOBILE, CODE_TEXT, "sent")
    assert sent.id.startswith("msg_") and message.person == adele and message.purpose == "mfa_signin"


def test_a_text_in_the_outbox_is_written_to_the_server_log(outbox, adele, caplog):
    with caplog.at_level(logging.INFO, logger="watchword.delivery"):
        sent = text(adele)

    assert any(sent.id in line and CODE_TEXT in line and MASKED in line for line in caplog.messages)


def test_the_outbox_page_shows_texts_latest_first_with_their_words(outbox, adele, admin):
    text(adele, body="Use verification code 111111 for Contoso")
    text(adele, body="Use verification code 222222 for Contoso")

    page = admin.get("/admin/outbox").content.decode()

    assert page.index("222222") < page.index("111111")
    assert "this is the development outbox" in page
    assert 'href="/admin/outbox" aria-current="page">Outbox</a>' in page


def test_the_outbox_page_is_paged(outbox, make_person, admin):
    for n in range(26):
        text(make_person(f"Person {n}"), to=f"+4474001234{n:02d}")

    first, second = admin.get("/admin/outbox").content.decode(), admin.get("/admin/outbox?page=2").content.decode()

    assert first.count('<tr id="msg_') == 25 and second.count('<tr id="msg_') == 1
    assert "Page 1 of 2 (26 rows)" in first


def test_the_outbox_page_is_for_administrators_only(outbox, adele):
    browser = Client()
    browser.force_login(adele, backend="watchword.directory.backends.DirectoryBackend")

    assert browser.get("/admin/outbox").status_code == 403
    assert Client().get("/admin/outbox").status_code == 302


def test_a_call_rings_in_the_outbox_until_someone_answers(outbox, adele, admin, results):
    sent = call(adele, extension="123")

    page = admin.get("/admin/outbox").content.decode()
    message = PhoneMessage.objects.get(pk=sent.id)
    assert sent.id.startswith("call_") and message.status == "ringing" and message.extension == "123"
    assert GREETING in page and "Answer and press #" in page and "Don&#x27;t answer" in page
    assert results == []


@pytest.mark.parametrize(("answer", "result"), [("press_hash", "confirmed"), ("press_zero_hash", "fraud"),
                                                ("hang_up", "no_input"), ("no_answer", "failed")])
def test_answering_a_call_on_the_outbox_page_tells_the_caller_the_result_once(
        outbox, adele, admin, results, answer, result):
    sent = call(adele, call_ref="pc_42")

    response = admin.post(f"/admin/outbox/{sent.id}/answer", {"answer": answer}, follow=True)

    assert results == [("pc_42", result)]
    assert f"the call&#x27;s result is {result}" in response.content.decode()
    assert PhoneMessage.objects.get(pk=sent.id).result == result


def test_a_second_answer_to_the_same_call_is_refused_and_tells_nobody(outbox, adele, admin, results):
    sent = call(adele, call_ref="pc_7")
    admin.post(f"/admin/outbox/{sent.id}/answer", {"answer": "press_hash"})

    response = admin.post(f"/admin/outbox/{sent.id}/answer", {"answer": "press_zero_hash"}, follow=True)

    assert results == [("pc_7", "confirmed")]
    assert "This call already has its result (confirmed)." in response.content.decode()
    assert PhoneMessage.objects.get(pk=sent.id).result == "confirmed"


def test_answering_needs_the_forms_csrf_token(outbox, adele, megan, results):
    sent = call(adele)
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(megan, backend="watchword.directory.backends.DirectoryBackend")

    assert browser.post(f"/admin/outbox/{sent.id}/answer", {"answer": "press_hash"}).status_code == 403
    assert results == []


def test_only_an_administrator_can_answer_a_call(outbox, adele, results):
    sent = call(adele)
    browser = Client()
    browser.force_login(adele, backend="watchword.directory.backends.DirectoryBackend")

    assert browser.post(f"/admin/outbox/{sent.id}/answer", {"answer": "press_hash"}).status_code == 403
    assert results == []


def test_answering_is_recorded_in_the_audit_log_with_who_answered(outbox, adele, admin, megan):
    sent = call(adele)

    admin.post(f"/admin/outbox/{sent.id}/answer", {"answer": "press_zero_hash"})

    event = AuditEvent.objects.get(action="delivery.call.result")
    assert (event.actor_label, event.after["result"], event.after["to"], event.target_label) == (
        megan.upn, "fraud", MASKED, str(adele))


# --- limits ----------------------------------------------------------------------------------


def test_a_sixth_text_to_one_person_within_fifteen_minutes_is_refused_and_not_sent(outbox, adele, settings):
    for n in range(settings.PHONE_LIMIT_PER_PERSON):
        text(adele, to=f"+44740012345{n}")

    with pytest.raises(SendLimited) as refused:
        text(adele, to="+447400123459")

    assert refused.value.public_message == "You've hit our limit on text verification codes. Please try again later."
    assert (refused.value.code, refused.value.status) == ("send_limited", 429)
    assert 890 <= refused.value.wait <= 900
    assert PhoneMessage.objects.count() == settings.PHONE_LIMIT_PER_PERSON


def test_calls_have_their_own_limit_and_message(outbox, adele, settings):
    for n in range(settings.PHONE_LIMIT_PER_PERSON):
        text(adele, to=f"+44740012345{n}")
    for n in range(settings.PHONE_LIMIT_PER_PERSON):
        call(adele, to=f"+44740012345{n}", call_ref=f"pc_{n}")

    with pytest.raises(SendLimited) as refused:
        call(adele, call_ref="pc_last")

    assert refused.value.public_message == "You've hit our limit on verification calls. Please try again later."
    assert refused.value.as_dict()["wait"] == refused.value.wait


def test_the_limit_is_a_sliding_window(outbox, adele, settings):
    for _ in range(settings.PHONE_LIMIT_PER_PERSON):
        text(adele)
        let_time_pass(100)
    # the first text was 500 s ago: it leaves the 900 s window in 400 s

    with pytest.raises(SendLimited) as refused:
        text(adele)
    assert 399 <= refused.value.wait <= 400

    let_time_pass(401)
    assert text(adele).provider == "outbox"


def test_texts_to_one_number_are_limited_whoever_they_are_for(outbox, make_person, settings):
    people = [make_person("Lee Gu"), make_person("Nestor Wilke")]
    for n in range(settings.PHONE_LIMIT_PER_NUMBER):
        text(people[n % 2])

    with pytest.raises(SendLimited) as refused:
        text(make_person("Pradeep Gupta"))

    assert refused.value.scope == "per number: 5 texts in 900 s"


def test_texts_to_one_country_are_limited_to_catch_toll_fraud_pumping(outbox, make_person, settings):
    settings.PHONE_LIMIT_PER_COUNTRY = 3
    for n in range(3):
        text(make_person(f"Person {n}"), to=f"+234803123456{n}")  # Nigeria

    with pytest.raises(SendLimited) as refused:
        text(make_person("Person 3"), to="+2348031234569")

    assert refused.value.scope == "per country: 3 texts in 3600 s"
    assert text(make_person("Person 4"), to=MOBILE).provider == "outbox"  # other countries go on


def test_a_number_outside_the_allowed_countries_is_refused_naming_its_country(outbox, adele, settings):
    settings.PHONE_ALLOWED_COUNTRIES = ("GB", "IE")

    with pytest.raises(DestinationNotAllowed) as refused:
        text(adele, to="+2348031234567")

    assert refused.value.public_message == ("Texts and calls to Nigeria (+234) numbers aren't allowed here. Use "
                                            "another phone number, or sign in another way.")
    assert (refused.value.code, refused.value.country) == ("destination_not_allowed", "NG")
    assert not PhoneMessage.objects.exists()


def test_numbers_in_the_allowed_countries_are_sent(outbox, adele, settings):
    settings.PHONE_ALLOWED_COUNTRIES = ("GB", "IE")

    assert text(adele, to="+353861234567").provider == "outbox"
    assert call(adele, to=MOBILE).provider == "outbox"


def test_a_number_that_cannot_exist_is_refused(outbox, adele):
    for bad in ("07400123456", "+4474001", "+44 7400 123456 x12", "", None):
        with pytest.raises(DestinationInvalid):
            text(adele, to=bad)

    assert not PhoneMessage.objects.exists()


# --- audit -----------------------------------------------------------------------------------


def test_every_text_is_in_the_audit_log_with_the_number_masked_and_never_the_code(outbox, adele):
    sent = text(adele)

    event = AuditEvent.objects.get(action="delivery.text.send")
    assert (event.result, event.target_label, event.actor_label) == ("success", str(adele), "system")
    assert event.after == {"provider": "outbox", "purpose": "mfa_signin", "to": MASKED, "country": "GB",
                           "id": sent.id}
    assert "493817" not in json.dumps(event.after) + event.reason and "7400123456" not in json.dumps(event.after)


def test_every_call_is_in_the_audit_log_without_its_greeting(outbox, adele):
    call(adele)

    event = AuditEvent.objects.get(action="delivery.call.place")
    assert event.after["to"] == MASKED and "pound" not in json.dumps(event.after)


def test_a_refused_send_is_in_the_audit_log_with_its_reason(outbox, adele, settings):
    settings.PHONE_LIMIT_PER_PERSON = 1
    text(adele)

    with pytest.raises(SendLimited):
        text(adele)

    event = AuditEvent.objects.filter(action="delivery.text.send", result="refused").get()
    assert event.reason == "send_limited: per person: 1 texts in 900 s"
    assert event.after["to"] == MASKED and 0 < event.after["wait"] <= 900


def test_a_country_refusal_is_in_the_audit_log(outbox, adele, settings):
    settings.PHONE_ALLOWED_COUNTRIES = ("GB",)

    with pytest.raises(DestinationNotAllowed):
        call(adele, to="+12025550123")

    event = AuditEvent.objects.get(action="delivery.call.place")
    assert (event.result, event.reason, event.after["to"], event.after["country"]) == (
        "refused", "destination_not_allowed", "+1 20•••••123", "US")


def test_the_masked_number_on_a_short_number_still_hides_most_digits(outbox, adele):
    text(adele, to="+35312345678")  # Ireland, 9 digits

    assert re.fullmatch(r"\+353 12•+678", AuditEvent.objects.get(action="delivery.text.send").after["to"])


# --- sends at the same moment ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_sends_at_the_same_moment_are_counted_one_after_the_other(outbox, adele, settings):
    """Eight texts to one person at once, with room for three: three are sent, five refused.
    On PostgreSQL (rows locked in key order); SQLite takes its one write lock at the start of
    every transaction, and its in-memory test database cannot be shared by threads that way."""
    import threading

    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip("needs a database server (run with WATCHWORD_DATABASE_URL=postgres://…)")
    settings.PHONE_LIMIT_PER_PERSON = 3
    start = threading.Barrier(8)
    outcomes = []

    def send() -> None:
        try:
            start.wait()
            text(adele)
            outcomes.append("sent")
        except SendLimited:
            outcomes.append("limited")
        finally:
            connection.close()

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert sorted(outcomes) == ["limited"] * 5 + ["sent"] * 3
    assert PhoneMessage.objects.filter(person=adele).count() == 3


def test_old_texts_and_calls_are_forgotten_but_not_those_a_limit_still_counts(settings):
    from datetime import timedelta

    from django.utils import timezone

    from watchword.delivery import phone as delivery_phone
    from watchword.delivery.models import PhoneMessage

    settings.PHONE_HISTORY_DAYS = 1
    now = timezone.now()
    for age, ident in ((timedelta(days=2), "msg_old"), (timedelta(hours=2), "msg_recent")):
        PhoneMessage.objects.create(id=ident, kind="text", to="+447400123456", country="GB", purpose="mfa_signin",
                                    provider="outbox", created=now - age)

    assert delivery_phone.purge_stale(now) == 1
    assert list(PhoneMessage.objects.values_list("id", flat=True)) == ["msg_recent"]
