"""The webhook provider against a real HTTP gateway on 127.0.0.1 that checks every request's
signature with its own HMAC code: what it is sent, the retries on 5xx and 429 and none on other
answers, and the signed callbacks with a call's result (good, bad, stale, replayed)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest
from django.test import Client

from tests.integration.delivery.http_peer import Answer, HttpPeer
from watchword.audit.models import AuditEvent
from watchword.delivery.errors import DeliveryFailed
from watchword.delivery.models import PhoneMessage
from watchword.delivery.phone import place_call, send_text
from watchword.delivery.signals import call_finished

pytestmark = pytest.mark.django_db

SECRET = "gateway-shared-secret-7f3a9c1e5b2d8f4a6c0e"
MOBILE = "+447400123456"
GREETING = "This is Contoso. Press the pound key to finish signing in."


def hmac_hex(timestamp: str, body: bytes) -> str:
    """The gateway's own computation of the signature (not Watchword's code)."""
    return hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


class Gateway:
    """An SMS/voice gateway: answers with the statuses it is given, in turn (then 200), and
    remembers whether each request's signature was right."""

    def __init__(self, statuses=()):
        self.statuses = list(statuses)
        self.signatures_valid = []
        self.peer = HttpPeer(self.answer).start()

    def answer(self, request):
        stamp = request.headers.get("x-watchword-timestamp", "")
        self.signatures_valid.append(hmac.compare_digest(request.headers.get("x-watchword-signature", ""),
                                                         "sha256=" + hmac_hex(stamp, request.body)))
        status = self.statuses.pop(0) if self.statuses else 200
        return Answer(status=status, body=b'{"accepted": true}' if status == 200 else b'{"error": "try later"}')

    @property
    def received(self):
        return self.peer.received

    def payloads(self) -> list[dict]:
        return [json.loads(request.body) for request in self.received]


@pytest.fixture
def gateway(settings):
    gateways = []

    def start(*statuses) -> Gateway:
        gateway = Gateway(statuses)
        gateways.append(gateway)
        settings.PHONE_PROVIDER = "webhook"
        settings.PHONE_WEBHOOK_URL = gateway.peer.url + "/send"
        settings.PHONE_WEBHOOK_SECRET = SECRET
        settings.PHONE_ALLOWED_COUNTRIES = ()
        return gateway

    yield start
    for gateway in gateways:
        gateway.peer.stop()


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


# --- what the gateway is sent ------------------------------------------------------------------


def test_a_text_is_posted_to_the_gateway_as_signed_json(gateway, adele):
    gw = gateway()

    sent = text(adele)

    [request] = gw.received
    [payload] = gw.payloads()
    assert sent.provider == "webhook" and request.path == "/send"
    assert payload == {"id": sent.id, "kind": "text", "to": MOBILE, "extension": "",
                       "body": "Use verification code 493817 for Contoso", "purpose": "mfa_signin",
                       "callback_url": None, "time": payload["time"]}
    assert gw.signatures_valid == [True]
    assert request.headers["x-watchword-timestamp"] == str(payload["time"])
    assert abs(payload["time"] - time.time()) < 5
    assert request.headers["content-type"] == "application/json"


def test_a_call_is_posted_with_its_greeting_extension_and_callback_address(gateway, adele, settings):
    gw = gateway()

    sent = call(adele, extension="123")

    [payload] = gw.payloads()
    assert {k: payload[k] for k in ("id", "kind", "to", "extension", "greeting", "callback_url")} == {
        "id": sent.id, "kind": "call", "to": MOBILE, "extension": "123", "greeting": GREETING,
        "callback_url": f"{settings.PUBLIC_URL}/api/phone/v1/webhook/calls/{sent.id}"}
    assert "body" not in payload
    assert PhoneMessage.objects.get(pk=sent.id).status == "ringing"


def test_with_a_real_provider_the_words_are_not_kept(gateway, adele):
    gateway()

    sent = text(adele)

    assert PhoneMessage.objects.get(pk=sent.id).body == ""


def test_a_server_error_is_tried_again_after_half_a_second(gateway, adele):
    gw = gateway(500)
    started = time.monotonic()

    sent = text(adele)

    assert len(gw.received) == 2 and time.monotonic() - started >= 0.5
    assert {p["id"] for p in gw.payloads()} == {sent.id}  # the same message: the gateway can drop a duplicate
    assert gw.signatures_valid == [True, True]


def test_too_many_requests_is_tried_again(gateway, adele):
    gw = gateway(429, 503)

    text(adele)

    assert len(gw.received) == 3


def test_after_three_failed_tries_the_send_fails_with_a_plain_message(gateway, adele):
    gw = gateway(500, 502, 503)

    with pytest.raises(DeliveryFailed) as failed:
        text(adele)

    assert len(gw.received) == 3
    assert failed.value.public_message == "We couldn't reach your phone. Try again, or sign in another way."
    assert (failed.value.code, failed.value.status) == ("delivery_failed", 502)
    assert PhoneMessage.objects.get().status == "failed"


def test_the_gateways_own_error_goes_to_the_audit_log_only(gateway, adele):
    gateway(500, 500, 500)

    with pytest.raises(DeliveryFailed):
        text(adele)

    event = AuditEvent.objects.get(action="delivery.text.send")
    assert (event.result, event.reason) == ("failure", "the gateway answered 500 (after 3 tries)")


def test_a_refusal_by_the_gateway_is_not_tried_again(gateway, adele):
    gw = gateway(400)

    with pytest.raises(DeliveryFailed):
        text(adele)

    assert len(gw.received) == 1


def test_a_gateway_that_is_not_there_fails_the_send(gateway, adele, settings):
    gw = gateway()
    gw.peer.stop()  # nothing listens on its port any more

    with pytest.raises(DeliveryFailed):
        text(adele)

    assert AuditEvent.objects.get(action="delivery.text.send").reason == (
        "the gateway could not be reached (ConnectError) (after 3 tries)")


def test_a_failed_call_fires_no_result(gateway, adele, results):
    gateway(500, 500, 500)

    with pytest.raises(DeliveryFailed):
        call(adele)

    assert results == []


# --- the callback with a call's result ---------------------------------------------------------


def signed_post(message_id: str, body: bytes, *, at: int | None = None, signature: str | None = None):
    stamp = str(int(time.time()) if at is None else at)
    return Client().post(f"/api/phone/v1/webhook/calls/{message_id}", data=body, content_type="application/json",
                         headers={"X-Watchword-Timestamp": stamp,
                                  "X-Watchword-Signature": signature or "sha256=" + hmac_hex(stamp, body)})


def result_body(result: str) -> bytes:
    return json.dumps({"result": result}).encode()


@pytest.mark.parametrize("result", ["confirmed", "fraud", "no_input", "failed"])
def test_a_signed_result_finishes_the_call_and_tells_the_caller(gateway, adele, results, result):
    gateway()
    sent = call(adele, call_ref="pc_9")

    response = signed_post(sent.id, result_body(result))

    assert (response.status_code, response.json()) == (200, {"id": sent.id, "result": result})
    assert results == [("pc_9", result)]


def test_a_replayed_result_is_refused_and_tells_nobody_again(gateway, adele, results):
    gateway()
    sent = call(adele)
    first = signed_post(sent.id, result_body("confirmed"))

    again = signed_post(sent.id, result_body("fraud"))

    assert first.status_code == 200
    assert (again.status_code, again.json()["code"]) == (409, "call_finished")
    assert results == [("pc_1", "confirmed")]


def test_a_wrong_signature_is_refused(gateway, adele, results):
    gateway()
    sent = call(adele)

    response = signed_post(sent.id, result_body("confirmed"), signature="sha256=" + "0" * 64)

    assert (response.status_code, response.json()["code"]) == (401, "signature_invalid")
    assert results == [] and PhoneMessage.objects.get(pk=sent.id).status == "ringing"


def test_a_result_signed_for_another_body_is_refused(gateway, adele, results):
    gateway()
    sent = call(adele)
    stamp = str(int(time.time()))

    response = signed_post(sent.id, result_body("confirmed"), at=int(stamp),
                           signature="sha256=" + hmac_hex(stamp, result_body("fraud")))

    assert response.status_code == 401 and results == []


def test_a_missing_signature_is_refused(gateway, adele, results):
    gateway()
    sent = call(adele)

    response = Client().post(f"/api/phone/v1/webhook/calls/{sent.id}", data=result_body("confirmed"),
                             content_type="application/json")

    assert (response.status_code, response.json()["code"]) == (401, "signature_invalid")
    assert results == []


def test_a_result_signed_more_than_five_minutes_ago_is_refused(gateway, adele, results):
    gateway()
    sent = call(adele)

    response = signed_post(sent.id, result_body("confirmed"), at=int(time.time()) - 301)

    assert (response.status_code, response.json()["code"]) == (401, "stale_callback")
    assert results == []


def test_a_result_for_an_unknown_call_is_not_found(gateway, adele):
    gateway()

    response = signed_post("call_nothere", result_body("confirmed"))

    assert (response.status_code, response.json()["code"]) == (404, "call_not_found")


def test_a_result_for_a_text_is_not_found(gateway, adele):
    gateway()
    sent = text(adele)

    assert signed_post(sent.id, result_body("confirmed")).status_code == 404


@pytest.mark.parametrize("body", [b"not json", b'["confirmed"]', b'{"result": "maybe"}', b"{}"])
def test_a_result_that_is_not_one_of_the_four_is_refused(gateway, adele, results, body):
    gateway()
    sent = call(adele)

    response = signed_post(sent.id, body)

    assert (response.status_code, response.json()["code"]) == (400, "callback_invalid")
    assert results == []


def test_the_callback_takes_only_post(gateway, adele):
    gateway()
    sent = call(adele)

    assert Client().get(f"/api/phone/v1/webhook/calls/{sent.id}").status_code == 405
