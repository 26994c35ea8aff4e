"""Push with number matching through the real views: enrolment in the wizard, sign-in, answers
signed by the companion authenticator's own code, and every way an answer can be refused."""

from __future__ import annotations

import html
import json
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from django.test import Client
from django.utils import timezone

from tests.support import Device, SignIn, number_on
from watchword.audit.models import AuditEvent, SignInEvent
from watchword.directory.models import MfaState
from watchword.methods import push
from watchword.methods.models import FraudReport, Method, PushActivation, PushChallenge, PushDevice

pytestmark = pytest.mark.django_db
pytest.importorskip("watchword_authenticator.crypto", reason="the companion authenticator is not installed")


def location(response) -> str:
    assert response.status_code == 302, (response.status_code, response.content[:500])
    return response["Location"]


def page(response) -> str:
    return html.unescape(response.content.decode())


def activation_code(scan_page: str) -> str:
    payload = re.search(r'id="activation-payload">([^<]+)<', scan_page).group(1).replace("&amp;", "&")
    assert payload.startswith("watchword-push://activate?")
    return parse_qs(urlsplit(payload).query)["code"][0]


def last_signin() -> SignInEvent:
    return SignInEvent.objects.order_by("-id").first()


@pytest.fixture
def enrolled(make_person, enrol_device):
    adele = make_person("Adele Vance", mfa_state="enabled")
    return adele, enrol_device(adele)


def waiting_page(client, sign_in, user):
    """Sign in up to the page that waits for the approval; return it and the request's id."""
    response = sign_in.password(client, user.upn)
    assert response.status_code == 200
    challenge = PushChallenge.objects.filter(user=user).order_by("-created_at").first()
    return response, challenge


# --- enrolment -------------------------------------------------------------------------------------


def test_a_person_enrols_the_authenticator_for_notifications_at_sign_in_and_lands_on_my_account(
        client, sign_in, make_person):
    adele = make_person("Adele Vance", mfa_state="enabled")
    device = Device()
    assert "More information required" in page(sign_in.password(client, adele.upn))
    client.post("/signin/more-information")
    assert location(client.post("/signin/register?step=app")) == "/signin/register?step=scan"
    scan = page(client.get("/signin/register?step=scan"))
    assert "<svg" in scan

    # Next before the app has scanned the code: nothing happens yet.
    early = client.post("/signin/register?step=scan")
    assert early.status_code == 400 and "We haven't heard from your app yet" in page(early)

    assert device.activate(client, activation_code(scan), name="Pixel 9").status_code == 201
    events = client.get("/mysecurityinfo/setup/events?step=scan")
    assert "event: activated" in page(events) and "X-Watchword-Hold" not in events

    assert location(client.post("/signin/register?step=scan")) == "/signin/register?step=try"
    trial = client.get("/signin/register?step=try")
    number = number_on(trial)
    (request,) = device.pending(Client())
    assert request["challenge_id"] == PushChallenge.objects.get(user=adele).id
    assert Method.objects.filter(user=adele).count() == 0  # nothing is saved before the test is approved

    assert device.answer(Client(), request["challenge_id"], "approve", number).json() == {"result": "approved"}
    assert location(client.post("/signin/register?step=try", {"action": "check"})) == "/signin/register?step=done"
    assert "Authenticator app - notification" in page(client.get("/signin/register?step=done"))
    assert location(client.post("/signin/register?step=done")) == "/myaccount"

    method = Method.objects.get(user=adele)
    assert (method.type, method.name, method.device.device_id) == ("push", "Pixel 9", device.device_id)
    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.ENFORCED
    assert client.session["watchword_amr"] == ["pwd", "swk", "mfa"]
    assert (last_signin().result, last_signin().method) == ("success", "push")


def test_the_same_enrolment_gives_codes_that_sign_in(client, sign_in, enrolled):
    adele, device = enrolled
    waiting_page(client, sign_in, adele)
    assert "Use a verification code" in page(client.get("/signin/other"))
    assert location(client.post("/signin/other", {"method": "code"})) == "/signin/verify"
    assert device.pending(Client()) == []  # the request was withdrawn: the phone stops offering it

    response = client.post("/signin/verify", {"code": pyotp.TOTP(device.secret).now()})

    assert location(response) == "/myaccount"
    assert client.session["watchword_amr"] == ["pwd", "otp", "mfa"]


def test_an_activation_code_works_once_and_for_ten_minutes(make_person):
    adele = make_person("Adele Vance")
    client = Client()
    row, code = push.start_activation(adele, now=timezone.now())
    assert Device().activate(client, code).status_code == 201

    again = Device().activate(client, code)
    assert (again.status_code, again.json()["code"]) == (409, "activation_used")

    old, old_code = push.start_activation(adele, now=timezone.now() - timedelta(minutes=11))
    late = Device().activate(client, old_code)
    assert (late.status_code, late.json()["code"]) == (410, "activation_expired")
    assert PushDevice.objects.filter(user=adele).count() == 1
    assert not PushActivation.objects.filter(code_hash=code).exists()  # only a hash of the code is stored


@pytest.mark.parametrize("body, status, code", [
    ("not json", 400, "bad_request"),
    ("[]", 400, "bad_request"),
    (json.dumps({"activation_code": "x", "public_key": "x", "device_name": "d"}), 400, "bad_request"),
    (json.dumps({"activation_code": "x", "public_key": "x", "device_name": "d", "platform": "p", "more": 1}), 400,
     "bad_request"),
    (json.dumps({"activation_code": 5, "public_key": "x", "device_name": "d", "platform": "p"}), 400, "bad_request"),
    (json.dumps({"activation_code": "x", "public_key": "bm90IGEga2V5", "device_name": "d", "platform": "p"}), 400,
     "public_key_invalid"),
])
def test_a_malformed_activation_is_refused_with_a_stable_code_and_creates_nothing(body, status, code):
    response = Client().post("/api/push/v1/activate", data=body, content_type="application/json")

    assert (response.status_code, response.json()["code"]) == (status, code)
    assert response.json()["message"]
    assert PushDevice.objects.count() == 0


def test_an_unknown_activation_code_is_refused():
    response = Device().activate(Client(), "made-up-code")
    assert (response.status_code, response.json()["code"]) == (404, "activation_invalid")


def test_a_sixth_device_is_refused(make_person, enrol_device):
    adele = make_person("Adele Vance")
    row, code = push.start_activation(adele, now=timezone.now())  # begun while there was still room
    for index in range(5):
        enrol_device(adele, name=f"Phone {index}")

    refused = Device().activate(Client(), code)
    assert (refused.status_code, refused.json()["code"]) == (409, "device_limit_reached")
    with pytest.raises(Exception, match="5 authenticator devices"):
        push.start_activation(adele, now=timezone.now())
    assert PushDevice.objects.filter(user=adele).count() == 5


# --- signing in ----------------------------------------------------------------------------------


def test_a_sign_in_shows_a_number_and_an_approval_with_that_number_signs_the_person_in(
        client, sign_in, enrolled):
    adele, device = enrolled
    response, challenge = waiting_page(client, sign_in, adele)
    number = number_on(response)
    assert "Approve sign in request" in page(response)
    (request,) = device.pending(Client())
    assert request["challenge_id"] == challenge.id
    assert "number" not in request  # number matching: the device never gets it
    assert request["app"] == "Contoso sign-in" or request["app"].endswith(" sign-in")
    assert request["expires"] - request["created"] == 60

    events = client.get("/signin/push/events")
    assert events["X-Watchword-Hold"] == f"challenge:{challenge.id}"

    assert device.answer(Client(), challenge.id, "approve", number).json() == {"result": "approved"}
    assert "event: answered" in page(client.get("/signin/push/events"))
    assert location(client.post("/signin/push", {"action": "check"})) == "/myaccount"
    assert client.session["watchword_amr"] == ["pwd", "swk", "mfa"]
    assert (last_signin().result, last_signin().method) == ("success", "push")
    # The approval is spent: the same request cannot sign in a second browser.
    assert PushChallenge.objects.get(pk=challenge.pk).consumed


def test_each_request_has_its_own_number_and_id(client, sign_in, enrolled):
    adele, device = enrolled
    ids, numbers = set(), []
    for _ in range(4):
        response, challenge = waiting_page(Client(), sign_in, adele)
        ids.add(challenge.id)
        numbers.append(number_on(response))
    assert len(ids) == 4
    assert all(10 <= int(n) <= 99 for n in numbers)


def test_a_wrong_number_denies_and_another_request_has_a_new_number(client, sign_in, enrolled):
    adele, device = enrolled
    response, challenge = waiting_page(client, sign_in, adele)
    wrong = "11" if number_on(response) != "11" else "12"

    assert device.answer(Client(), challenge.id, "approve", wrong).json() == {"result": "denied"}
    result = client.post("/signin/push", {"action": "check"})
    assert "The number didn't match" in page(result)
    assert "Send another request" in page(result)
    assert "MFA denied; the number entered didn't match" == last_signin().reason

    again = client.post("/signin/push", {"action": "resend"})
    second = PushChallenge.objects.filter(user=adele).order_by("-created_at").first()
    assert second.id != challenge.id
    assert device.answer(Client(), second.id, "approve", number_on(again)).json() == {"result": "approved"}
    assert location(client.post("/signin/push", {"action": "check"})) == "/myaccount"


def test_a_denied_request_ends_the_sign_in(client, sign_in, enrolled):
    adele, device = enrolled
    _, challenge = waiting_page(client, sign_in, adele)

    assert device.answer(Client(), challenge.id, "deny").json() == {"result": "denied"}
    result = client.post("/signin/push", {"action": "check"})

    assert result.status_code == 403 and "Request denied" in page(result)
    row = last_signin()
    assert (row.result, row.error_code, row.reason) == ("failure", 500121,
                                                        "MFA denied; user declined the authentication")
    assert location(client.get("/signin/push")).startswith("/signin?")  # nothing left to resume
    assert not client.session.get("_auth_user_id")


def test_no_its_not_me_refuses_reports_and_blocks_until_an_admin_unblocks(client, sign_in, enrolled, megan):
    adele, device = enrolled
    _, challenge = waiting_page(client, sign_in, adele)

    assert device.answer(Client(), challenge.id, "fraud").json() == {"result": "reported"}

    result = client.post("/signin/push", {"action": "check"})
    assert result.status_code == 403 and "Sign-in reported" in page(result)
    row = SignInEvent.objects.filter(reason="MFA denied; fraud code entered").get()
    assert (row.user_id, row.error_code, row.method) == (adele.pk, 500121, "push")
    adele.refresh_from_db()
    assert adele.mfa_blocked_at is not None
    report = FraudReport.objects.get(user=adele)
    assert (report.blocked, report.challenge_id) == (True, challenge.id)
    assert AuditEvent.objects.filter(action="user.mfa.fraud_report",
                                     reason="Fraud reported - user is blocked for MFA").exists()

    # Blocked: the next sign-in is refused before any request is sent.
    blocked = sign_in.password(Client(), adele.upn)
    assert blocked.status_code == 403 and "reported as not yours" in page(blocked)
    assert PushChallenge.objects.filter(user=adele, purpose="signin").count() == 1

    # The admin sees it, and unblocks.
    admin = Client()
    admin.force_login(megan, backend="watchword.directory.backends.DirectoryBackend")
    assert "reported as fraud" in page(admin.get("/admin/users"))
    assert adele.upn in page(admin.get("/admin/fraud"))
    assert location(admin.post(f"/admin/users/{adele.pk}/unblock")) == f"/admin/users/{adele.pk}"
    adele.refresh_from_db()
    assert adele.mfa_blocked_at is None
    assert FraudReport.objects.get(user=adele).reviewed_by == megan.upn
    assert "reported as fraud" not in page(admin.get("/admin/users"))
    assert sign_in.password(Client(), adele.upn).status_code == 200  # a request is sent again


def test_a_fraud_report_can_be_recorded_without_blocking(settings, client, sign_in, enrolled):
    settings.FRAUD_REPORT_BLOCKS = False
    adele, device = enrolled
    _, challenge = waiting_page(client, sign_in, adele)

    device.answer(Client(), challenge.id, "fraud")

    adele.refresh_from_db()
    assert adele.mfa_blocked_at is None
    assert FraudReport.objects.get(user=adele).blocked is False
    assert AuditEvent.objects.filter(reason="Fraud reported - no action taken").exists()


def test_an_unanswered_request_says_so_and_offers_another(client, sign_in, enrolled):
    adele, device = enrolled
    _, challenge = waiting_page(client, sign_in, adele)
    PushChallenge.objects.filter(pk=challenge.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    result = client.post("/signin/push", {"action": "check"})

    assert "We didn't hear from you" in page(result)
    assert last_signin().reason == "MFA denied; user did not respond to mobile app notification"
    late = device.answer(Client(), challenge.id, "approve", challenge.number)
    assert (late.status_code, late.json()["code"]) == (410, "challenge_expired")


def test_requests_sent_again_and_again_are_slowed_down(settings, client, sign_in, enrolled):
    settings.PUSH_REQUESTS_FREE = 3
    adele, device = enrolled
    waiting_page(client, sign_in, adele)
    client.post("/signin/push", {"action": "resend"})
    client.post("/signin/push", {"action": "resend"})

    throttled = client.post("/signin/push", {"action": "resend"})

    assert throttled.status_code == 429 and "too many sign-in requests" in page(throttled)
    assert PushChallenge.objects.filter(user=adele, purpose="signin").count() == 3
    assert len(device.pending(Client())) == 1  # each new request replaced the one before


def test_cancelling_the_sign_in_withdraws_its_request(client, sign_in, enrolled):
    adele, device = enrolled
    response, challenge = waiting_page(client, sign_in, adele)

    client.post("/signin/cancel")

    late = device.answer(Client(), challenge.id, "approve", number_on(response))
    assert (late.status_code, late.json()["code"]) == (410, "challenge_expired")


# --- refused answers change nothing -----------------------------------------------------------


def test_a_replayed_approval_is_refused(client, sign_in, enrolled):
    adele, device = enrolled
    response, challenge = waiting_page(client, sign_in, adele)
    body = device.answer_body(challenge.id, "approve", number_on(response))
    url = f"/api/push/v1/challenges/{challenge.id}/answer"
    assert Client().post(url, data=body, content_type="application/json").status_code == 200

    replay = Client().post(url, data=body, content_type="application/json")
    assert (replay.status_code, replay.json()["code"]) == (409, "answer_replayed")
    fresh = device.answer(Client(), challenge.id, "deny")
    assert (fresh.status_code, fresh.json()["code"]) == (409, "challenge_answered")
    assert PushChallenge.objects.get(pk=challenge.pk).state == "approved"


def test_a_stale_answer_is_refused_and_the_request_stays_open(client, sign_in, enrolled):
    adele, device = enrolled
    response, challenge = waiting_page(client, sign_in, adele)

    stale = device.answer(Client(), challenge.id, "approve", number_on(response), now=int(time.time()) - 300)

    assert (stale.status_code, stale.json()["code"]) == (400, "stale_answer")
    assert "server_time" in stale.json()
    assert PushChallenge.objects.get(pk=challenge.pk).state == "pending"


def test_a_forged_signature_is_refused(client, sign_in, enrolled):
    adele, device = enrolled
    response, challenge = waiting_page(client, sign_in, adele)
    impostor = Device(device_id=device.device_id)  # knows the device id, not the key

    forged = impostor.answer(Client(), challenge.id, "approve", number_on(response))

    assert (forged.status_code, forged.json()["code"]) == (401, "signature_invalid")
    assert PushChallenge.objects.get(pk=challenge.pk).state == "pending"


def test_another_persons_device_cannot_answer(client, sign_in, enrolled, make_person, enrol_device):
    adele, _ = enrolled
    lee = make_person("Lee Gu")
    lees_device = enrol_device(lee, name="Lee's phone")
    response, challenge = waiting_page(client, sign_in, adele)

    refused = lees_device.answer(Client(), challenge.id, "approve", number_on(response))

    assert (refused.status_code, refused.json()["code"]) == (401, "device_unknown")
    assert PushChallenge.objects.get(pk=challenge.pk).state == "pending"


@pytest.mark.parametrize("body", ["{", "[]", json.dumps({"device_id": "dv_x"}), "x" * 9000])
def test_a_malformed_answer_is_refused(client, sign_in, enrolled, body):
    adele, _ = enrolled
    _, challenge = waiting_page(client, sign_in, adele)

    response = Client().post(f"/api/push/v1/challenges/{challenge.id}/answer", data=body,
                             content_type="application/json")

    assert response.status_code == 400 and response.json()["code"] in ("bad_request", "answer_malformed")
    assert PushChallenge.objects.get(pk=challenge.pk).state == "pending"


def test_a_removed_device_can_neither_listen_nor_answer(client, sign_in, enrolled, enrol_device):
    adele, device = enrolled
    enrol_device(adele, name="Spare phone")  # so the first one may be deleted
    response, challenge = waiting_page(client, sign_in, adele)
    adele_browser = SignIn.browser_with_fresh_mfa(adele)
    method = Method.objects.get(device__device_id=device.device_id)

    assert location(adele_browser.post(f"/mysecurityinfo/methods/{method.pk}/delete")) == "/mysecurityinfo"

    refused = device.answer(Client(), challenge.id, "approve", number_on(response))
    assert (refused.status_code, refused.json()["code"]) == (401, "device_unknown")
    stream = device.stream(Client())
    assert (stream.status_code, stream.json()["code"]) == (401, "device_unknown")


# --- the device's stream ------------------------------------------------------------------------


def test_a_device_that_reconnects_is_sent_its_pending_requests_again(client, sign_in, enrolled):
    adele, device = enrolled
    _, challenge = waiting_page(client, sign_in, adele)

    assert [r["challenge_id"] for r in device.pending(Client())] == [challenge.id]
    assert [r["challenge_id"] for r in device.pending(Client())] == [challenge.id]


def test_the_stream_is_held_on_the_devices_channel(enrolled):
    _, device = enrolled
    response = device.stream(Client())
    assert response["Content-Type"] == "text/event-stream"
    assert response["X-Watchword-Hold"] == f"device:{device.device_id}"


def test_a_replayed_or_stale_device_token_is_refused(enrolled):
    _, device = enrolled
    token = device.token()
    assert device.stream(Client(), token).status_code == 200

    replay = device.stream(Client(), token)
    assert (replay.status_code, replay.json()["code"]) == (401, "token_replayed")
    stale = device.stream(Client(), device.token(now=int(time.time()) - 600))
    assert (stale.status_code, stale.json()["code"]) == (401, "stale_token")
    assert abs(stale.json()["server_time"] - time.time()) < 5


@pytest.mark.parametrize("header", ["", "Bearer abc", "Watchword-Device", "Watchword-Device x.y", "Watchword-Device " + "a" * 5000])
def test_a_malformed_device_token_is_refused(header):
    response = Client().get("/api/push/v1/stream", HTTP_AUTHORIZATION=header)
    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")


# --- administration -----------------------------------------------------------------------------


def test_an_admin_removes_a_persons_device(megan, enrolled, enrol_device):
    adele, device = enrolled
    enrol_device(adele, name="Spare phone")
    admin = Client()
    admin.force_login(megan, backend="watchword.directory.backends.DirectoryBackend")
    detail = page(admin.get(f"/admin/users/{adele.pk}"))
    assert "Adele's phone (android)" in detail
    method = Method.objects.get(device__device_id=device.device_id)
    assert "Remove sign-in method?" in page(admin.get(f"/admin/users/{adele.pk}/methods/{method.pk}/remove"))

    assert location(admin.post(f"/admin/users/{adele.pk}/methods/{method.pk}/remove")) == f"/admin/users/{adele.pk}"

    assert not PushDevice.objects.filter(device_id=device.device_id).exists()
    assert AuditEvent.objects.filter(action="method.delete", actor_label=megan.upn).exists()


def test_require_reregistration_removes_every_device(megan, enrolled):
    adele, device = enrolled
    admin = Client()
    admin.force_login(megan, backend="watchword.directory.backends.DirectoryBackend")

    admin.post(f"/admin/users/{adele.pk}/reregister")

    assert not PushDevice.objects.filter(user=adele).exists()
    assert device.stream(Client()).status_code == 401


def test_security_info_lists_the_device_with_its_name_and_platform(enrolled):
    adele, device = enrolled
    browser = SignIn.browser_with_fresh_mfa(adele)

    info = page(browser.get("/mysecurityinfo"))

    assert "Adele's phone (android)" in info
    assert "Authenticator app - notification" in info


def test_device_keys_are_sealed_and_survive_a_key_rotation(private_keyring, enrolled):
    from watchword.cli import main

    adele, device = enrolled
    stored = PushDevice.objects.get(device_id=device.device_id).public_key_sealed
    assert stored.startswith("ww1:") and device.crypto.public_key_b64(device.key) not in stored

    assert main(["keys", "rotate"]) == 0

    assert PushDevice.objects.get(device_id=device.device_id).public_key_sealed != stored
    assert device.stream(Client()).status_code == 200


def test_a_second_device_is_added_from_security_info(enrolled):
    adele, _ = enrolled
    browser = SignIn.browser_with_fresh_mfa(adele)
    tablet = Device()
    base = "/mysecurityinfo/add/authenticator"

    assert location(browser.post(f"{base}?step=app", {"kind": "push"})) == f"{base}?step=scan"
    assert tablet.activate(Client(), activation_code(page(browser.get(f"{base}?step=scan"))),
                           name="Tablet").status_code == 201
    assert location(browser.post(f"{base}?step=scan")) == f"{base}?step=try"
    number = number_on(browser.get(f"{base}?step=try"))
    (request,) = tablet.pending(Client())
    tablet.answer(Client(), request["challenge_id"], "approve", number)
    assert location(browser.post(f"{base}?step=try", {"action": "check"})) == f"{base}?step=done"
    assert location(browser.post(f"{base}?step=done")) == "/mysecurityinfo"

    assert sorted(Method.objects.filter(user=adele).values_list("name", flat=True)) == ["Adele's phone", "Tablet"]
