"""The Twilio provider through Twilio's own Python SDK, pointed (WATCHWORD_TWILIO_API_BASE) at a
local HTTP server that records what the SDK sends and answers as Twilio's API does: the exact
API calls and TwiML, Twilio's errors, and the callbacks signed as Twilio signs them (computed
with the SDK's RequestValidator)."""

from __future__ import annotations

import base64
import json
import xml.etree.ElementTree as ET

import pytest
from django.test import Client
from twilio.request_validator import RequestValidator

from tests.integration.delivery.http_peer import Answer, HttpPeer
from watchword.audit.models import AuditEvent
from watchword.delivery.errors import DeliveryFailed
from watchword.delivery.models import PhoneMessage
from watchword.delivery.phone import place_call, send_text
from watchword.delivery.signals import call_finished

pytestmark = pytest.mark.django_db

SID = "AC" + "0123456789abcdef" * 2
TOKEN = "f3b1c2d4e5a697887766554433221100"
FROM = "+447400900123"
MOBILE = "+447400123456"
GREETING = ("This is Contoso. Press the pound key to finish signing in. If you did not try to sign in, press zero "
            "then pound.")


class TwilioApi:
    """Twilio's REST API as far as Watchword uses it: 201 and a resource with a SID, or the
    error the test asks for."""

    def __init__(self):
        self.error: tuple[int, dict] | None = None
        self.peer = HttpPeer(self.answer).start()

    def answer(self, request):
        if self.error:
            status, body = self.error
            return Answer(status=status, body=json.dumps(body).encode())
        prefix = "SM" if request.path.endswith("/Messages.json") else "CA"
        return Answer(status=201, body=json.dumps({"sid": prefix + "a" * 32, "account_sid": SID,
                                                   "status": "queued"}).encode())

    @property
    def received(self):
        return self.peer.received


@pytest.fixture
def twilio_api(settings):
    api = TwilioApi()
    settings.PHONE_PROVIDER = "twilio"
    settings.PHONE_ALLOWED_COUNTRIES = ()
    settings.TWILIO_ACCOUNT_SID = SID
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.TWILIO_FROM = FROM
    settings.TWILIO_API_BASE = api.peer.url
    yield api
    api.peer.stop()


@pytest.fixture
def results():
    heard = []

    def listen(sender, call_ref, result, **kwargs):
        heard.append((call_ref, result))

    call_finished.connect(listen)
    yield heard
    call_finished.disconnect(listen)


def text(person):
    return send_text(to=MOBILE, body="Use verification code 493817 for Contoso", person=person, purpose="mfa_signin")


def call(person, extension="", call_ref="pc_1"):
    return place_call(to=MOBILE, extension=extension, greeting=GREETING, person=person, purpose="mfa_signin",
                      call_ref=call_ref)


def single(form: dict[str, list[str]]) -> dict[str, str]:
    assert all(len(values) == 1 for values in form.values()), form
    return {name: values[0] for name, values in form.items()}


# --- the API calls -----------------------------------------------------------------------------


def test_a_text_is_one_messages_create_with_to_from_and_body(twilio_api, adele):
    sent = text(adele)

    [request] = twilio_api.received
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    assert single(request.form()) == {"To": MOBILE, "From": FROM, "Body": "Use verification code 493817 for Contoso"}
    assert request.headers["authorization"] == "Basic " + base64.b64encode(f"{SID}:{TOKEN}".encode()).decode()
    assert sent.provider == "twilio"
    assert PhoneMessage.objects.get(pk=sent.id).provider_ref == "SM" + "a" * 32


def test_a_call_is_one_calls_create_with_its_twiml_and_status_callback(twilio_api, adele, settings):
    sent = call(adele)

    [request] = twilio_api.received
    fields = single(request.form())
    base = f"{settings.PUBLIC_URL}/api/phone/v1/twilio/calls/{sent.id}"
    assert request.path == f"/2010-04-01/Accounts/{SID}/Calls.json"
    assert {k: v for k, v in fields.items() if k != "Twiml"} == {
        "To": MOBILE, "From": FROM, "Timeout": "30", "StatusCallback": f"{base}/status",
        "StatusCallbackEvent": "completed", "StatusCallbackMethod": "POST"}
    assert PhoneMessage.objects.get(pk=sent.id).provider_ref == "CA" + "a" * 32


def test_the_calls_twiml_says_the_greeting_and_gathers_keys_up_to_the_pound_key(twilio_api, adele, settings):
    sent = call(adele)

    twiml = ET.fromstring(single(twilio_api.received[0].form())["Twiml"])
    base = f"{settings.PUBLIC_URL}/api/phone/v1/twilio/calls/{sent.id}"
    gather, redirect = list(twiml)
    assert twiml.tag == "Response" and gather.tag == "Gather" and redirect.tag == "Redirect"
    assert gather.attrib == {"action": base, "method": "POST", "finishOnKey": "#", "numDigits": "2",
                             "timeout": "10"}
    assert [(say.tag, say.text) for say in gather] == [("Say", GREETING)]
    assert (redirect.text, redirect.attrib) == (f"{base}/no-input", {"method": "POST"})


def test_an_office_phones_extension_is_dialled_after_the_call_connects(twilio_api, adele):
    call(adele, extension="123")

    assert single(twilio_api.received[0].form())["SendDigits"] == "ww123"


def test_twilios_refusal_fails_the_send_and_its_words_go_to_the_audit_log_only(twilio_api, adele):
    twilio_api.error = (400, {"code": 21211, "message": "The 'To' number +447400123456 is not a valid phone number.",
                              "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400})

    with pytest.raises(DeliveryFailed) as failed:
        text(adele)

    assert failed.value.public_message == "We couldn't reach your phone. Try again, or sign in another way."
    event = AuditEvent.objects.get(action="delivery.text.send")
    assert event.result == "failure"
    assert event.reason.startswith("Twilio answered 400 (error 21211): ")
    assert PhoneMessage.objects.get().status == "failed"


def test_twilio_out_of_reach_fails_the_send(twilio_api, adele):
    twilio_api.peer.stop()

    with pytest.raises(DeliveryFailed):
        call(adele)

    assert AuditEvent.objects.get(action="delivery.call.place").reason == "Twilio could not be reached (ConnectionError)"


# --- the callbacks -----------------------------------------------------------------------------


def twilio_post(path: str, fields: dict[str, str], *, token: str = TOKEN, signed_url: str | None = None):
    """POST ``fields`` to ``path`` as Twilio would, signed with ``token`` for the public URL."""
    from django.conf import settings

    url = signed_url or settings.PUBLIC_URL + path
    signature = RequestValidator(token).compute_signature(url, fields)
    return Client().post(path, fields, headers={"X-Twilio-Signature": signature})


def gathered(message_id: str, digits: str | None, **kwargs):
    fields = {"AccountSid": SID, "CallSid": "CA" + "a" * 32, "CallStatus": "in-progress"}
    if digits is not None:
        fields["Digits"] = digits
    return twilio_post(f"/api/phone/v1/twilio/calls/{message_id}", fields, **kwargs)


@pytest.mark.parametrize(("digits", "result"), [("", "confirmed"), ("#", "confirmed"), ("0", "fraud"),
                                                ("5", "no_input"), ("00", "no_input"), (None, "no_input")])
def test_the_keys_pressed_give_the_calls_result(twilio_api, adele, results, digits, result):
    sent = call(adele, call_ref="pc_5")

    response = gathered(sent.id, digits)

    assert response.status_code == 200 and response["Content-Type"].startswith("text/xml")
    assert ET.fromstring(response.content).find("Say").text == "Thank you. Goodbye."
    assert results == [("pc_5", result)]


def test_silence_until_the_gather_times_out_is_no_input(twilio_api, adele, results):
    sent = call(adele)

    response = twilio_post(f"/api/phone/v1/twilio/calls/{sent.id}/no-input", {"AccountSid": SID, "CallSid": "CA1"})

    assert response.status_code == 200 and b"We didn't get your answer. Goodbye." in response.content
    assert results == [("pc_1", "no_input")]


@pytest.mark.parametrize("status", ["busy", "no-answer", "failed", "canceled"])
def test_a_call_nobody_answered_failed(twilio_api, adele, results, status):
    sent = call(adele)

    response = twilio_post(f"/api/phone/v1/twilio/calls/{sent.id}/status", {"AccountSid": SID, "CallStatus": status})

    assert response.status_code == 204
    assert results == [("pc_1", "failed")]


def test_a_call_answered_and_hung_up_before_any_key_is_no_input(twilio_api, adele, results):
    sent = call(adele)

    twilio_post(f"/api/phone/v1/twilio/calls/{sent.id}/status", {"AccountSid": SID, "CallStatus": "completed"})

    assert results == [("pc_1", "no_input")]


def test_the_status_callback_after_a_result_changes_nothing(twilio_api, adele, results):
    sent = call(adele)
    gathered(sent.id, "")

    response = twilio_post(f"/api/phone/v1/twilio/calls/{sent.id}/status", {"AccountSid": SID,
                                                                              "CallStatus": "completed"})

    assert response.status_code == 204
    assert results == [("pc_1", "confirmed")]
    assert PhoneMessage.objects.get(pk=sent.id).result == "confirmed"


def test_a_replayed_gather_is_refused_and_tells_nobody_again(twilio_api, adele, results):
    sent = call(adele)
    gathered(sent.id, "")

    again = gathered(sent.id, "0")

    assert again.status_code == 409 and b"already finished" in again.content
    assert results == [("pc_1", "confirmed")]


def test_a_callback_signed_with_another_token_is_refused(twilio_api, adele, results):
    sent = call(adele)

    response = gathered(sent.id, "", token="0" * 32)

    assert (response.status_code, response.json()["code"]) == (403, "signature_invalid")
    assert results == [] and PhoneMessage.objects.get(pk=sent.id).status == "ringing"


def test_a_signature_for_another_address_is_refused(twilio_api, adele, results):
    sent = call(adele)
    other = call(adele, call_ref="pc_2")

    response = gathered(sent.id, "", signed_url=f"http://127.0.0.1:8000/api/phone/v1/twilio/calls/{other.id}")

    assert response.status_code == 403 and results == []


def test_a_callback_without_a_signature_is_refused(twilio_api, adele, results):
    sent = call(adele)

    response = Client().post(f"/api/phone/v1/twilio/calls/{sent.id}", {"Digits": ""})

    assert response.status_code == 403 and results == []


def test_changed_fields_break_the_signature(twilio_api, adele, results):
    sent = call(adele)
    path = f"/api/phone/v1/twilio/calls/{sent.id}"
    from django.conf import settings

    signature = RequestValidator(TOKEN).compute_signature(settings.PUBLIC_URL + path, {"Digits": "0"})
    response = Client().post(path, {"Digits": ""}, headers={"X-Twilio-Signature": signature})

    assert response.status_code == 403 and results == []


def test_a_callback_for_an_unknown_call_is_not_found(twilio_api):
    response = gathered("call_nothere", "")

    assert response.status_code == 404


def test_a_call_placed_through_twilio_cannot_be_finished_through_the_webhook(twilio_api, adele, results, settings):
    import hashlib
    import hmac
    import time

    sent = call(adele)
    settings.PHONE_WEBHOOK_SECRET = secret = "x" * 40
    body, stamp = b'{"result":"confirmed"}', str(int(time.time()))
    mac = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()

    response = Client().post(f"/api/phone/v1/webhook/calls/{sent.id}", data=body, content_type="application/json",
                             headers={"X-Watchword-Timestamp": stamp, "X-Watchword-Signature": "sha256=" + mac})

    assert response.status_code == 404 and results == []
