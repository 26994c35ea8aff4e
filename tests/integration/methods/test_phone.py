"""Phone methods through the real views and the embedded outbox: registering a mobile, office or
alternate phone (its number checked first), signing in by text code and by call (# to finish,
0# to report fraud), "Sign in another way", and what the person sees when a text cannot go."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.utils import timezone

from tests.support import SignIn
from watchword.audit.models import AuditEvent, SignInEvent
from watchword.delivery.models import PhoneMessage
from watchword.delivery.signals import call_finished
from watchword.directory.models import MfaState
from watchword.methods import phone
from watchword.methods.models import FraudReport, Method, PhoneCall

pytestmark = pytest.mark.django_db


def location(response) -> str:
    assert response.status_code == 302, (response.status_code, response.content[:500])
    return response["Location"]


def page(response) -> str:
    return html.unescape(response.content.decode())


def texted_code(number: str) -> str:
    """The code in the latest text to ``number``, as the person reads it on their phone."""
    message = PhoneMessage.objects.filter(to=number, kind="text").order_by("-created").first()
    assert message is not None, f"no text to {number}"
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def last_call(number: str) -> PhoneMessage:
    return PhoneMessage.objects.filter(to=number, kind="call").order_by("-created").first()


def answer(number: str, result: str) -> None:
    """The phone rings; the person answers and presses # (or 0#), as the provider reports it."""
    call_finished.send(sender=None, call_ref=last_call(number).call_ref, result=result)


def with_phone(user, method_type: str, number: str) -> Method:
    return phone.register_phone(user, method_type=method_type, phone=number, now=timezone.now())


@pytest.fixture
def adele_enforced(make_person):
    return make_person("Adele Vance", mfa_state="enabled")


def test_a_person_registers_a_mobile_at_sign_in_with_a_texted_code(client, sign_in, adele_enforced):
    adele = adele_enforced
    assert "More information required" in page(sign_in.password(client, adele.upn))
    client.post("/signin/more-information")
    start = page(client.get("/signin/register?step=app"))
    assert "I want to set up a different method" in start

    chooser = page(client.get("/signin/register?step=app&kind=phone"))
    assert "Text me a code" in chooser and "United Kingdom (+44)" in chooser
    response = client.post("/signin/register?step=app&kind=phone", {
        "kind": "phone", "method_type": "phone", "country": "GB", "number": "07400 123456", "channel": "text"})
    assert location(response) == "/signin/register?step=verify"
    assert "We just sent a 6-digit code to +44 7400123456" in page(client.get("/signin/register?step=verify"))
    assert Method.objects.filter(user=adele).count() == 0

    response = client.post("/signin/register?step=verify", {"code": texted_code("+447400123456")})
    assert location(response) == "/signin/register?step=done"
    assert location(client.post("/signin/register?step=done")) == "/myaccount"

    method = Method.objects.get(user=adele)
    assert (method.type, method.phone, method.is_default) == ("phone", "+447400123456", True)
    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.ENFORCED
    assert client.session["watchword_amr"] == ["pwd", "sms", "mfa"]


@pytest.mark.parametrize(("fields", "message"), [
    ({"number": "09065 123456", "channel": "call"}, "Premium-rate numbers can't be used for sign-in"),
    ({"number": "020 7946 0958", "channel": "text"}, "Text messages can only go to a mobile phone, and this is a landline."),
    ({"number": "07400 123456 x12", "channel": "text"}, "Only an office phone can have an extension."),
    ({"number": "07400 12", "channel": "text"}, "This number cannot exist."),
    ({"number": "", "channel": "text"}, "Enter a phone number."),
])
def test_a_number_that_cannot_be_used_is_refused_with_its_reason_and_nothing_is_sent(
        client, sign_in, adele_enforced, fields, message):
    sign_in.password(client, adele_enforced.upn)
    client.post("/signin/more-information")

    response = client.post("/signin/register?step=app&kind=phone", {
        "kind": "phone", "method_type": "phone", "country": "GB", **fields})

    assert response.status_code == 400
    assert message in page(response)
    assert PhoneMessage.objects.count() == 0


def test_an_office_phone_is_verified_by_a_call_that_dials_the_extension(client, sign_in, adele_enforced):
    sign_in.password(client, adele_enforced.upn)
    client.post("/signin/more-information")
    client.post("/signin/register?step=app&kind=phone", {
        "kind": "phone", "method_type": "office_phone", "country": "US", "number": "(425) 555-0100 x123",
        "channel": "call"})
    assert "We're calling +1 4255550100 x123 now" in page(client.get("/signin/register?step=verify"))
    call = last_call("+14255550100")
    assert call.extension == "123"

    answer("+14255550100", "confirmed")

    assert "event: answered" in page(client.get("/mysecurityinfo/setup/events?step=verify"))
    assert location(client.post("/signin/register?step=verify", {"action": "check"})) == \
        "/signin/register?step=done"
    assert Method.objects.get(user=adele_enforced).phone == "+14255550100x123"


def test_sign_in_by_text_code_and_a_code_works_once(client, sign_in, adele_enforced):
    adele = adele_enforced
    with_phone(adele, "phone", "+447400123456")

    response = sign_in.password(client, adele.upn)
    assert location(response) == "/signin/phone"
    assert "We texted your phone +44 XXXXXXXX56" in page(client.get("/signin/phone"))
    code = texted_code("+447400123456")
    assert location(client.post("/signin/phone", {"code": code})) == "/myaccount"
    assert client.session["watchword_amr"] == ["pwd", "sms", "mfa"]
    assert (SignInEvent.objects.order_by("-id").first().method) == "phone"

    again = Client()
    sign_in.password(again, adele.upn)
    refused = again.post("/signin/phone", {"code": code})
    assert "That code didn't work" in page(refused)  # a new sign-in has a new code; the old one is spent


def test_too_many_wrong_text_codes_end_the_sign_in(client, sign_in, adele_enforced, settings):
    with_phone(adele_enforced, "phone", "+447400123456")
    sign_in.password(client, adele_enforced.upn)
    real = texted_code("+447400123456")
    wrong = "000000" if real != "000000" else "111111"

    for _ in range(settings.MFA_CODE_ATTEMPTS - 1):
        assert "That code didn't work" in page(client.post("/signin/phone", {"code": wrong}))
    final = client.post("/signin/phone", {"code": wrong})

    assert final.status_code == 429 and "too many wrong codes" in page(final)
    assert location(client.post("/signin/phone", {"code": real})).startswith("/signin")  # the sign-in is over


def test_sign_in_by_a_call_answered_with_the_pound_key(client, sign_in, adele_enforced):
    adele = adele_enforced
    with_phone(adele, "alternate_phone", "+442079460958")

    assert location(sign_in.password(client, adele.upn)) == "/signin/phone"
    waiting = page(client.get("/signin/phone"))
    assert "We're calling your phone +44 XXXXXXXX58" in waiting
    assert client.get("/signin/phone/events")["X-Watchword-Hold"].startswith("call:call_")

    answer("+442079460958", "confirmed")

    assert location(client.post("/signin/phone", {"action": "check"})) == "/myaccount"
    assert client.session["watchword_amr"] == ["pwd", "tel", "mfa"]


def test_zero_pound_on_the_call_reports_fraud_and_blocks(client, sign_in, adele_enforced):
    adele = adele_enforced
    with_phone(adele, "alternate_phone", "+442079460958")
    sign_in.password(client, adele.upn)

    answer("+442079460958", "fraud")
    answer("+442079460958", "confirmed")  # a second result for the same call changes nothing

    result = client.post("/signin/phone", {"action": "check"})
    assert result.status_code == 403 and "Sign-in reported" in page(result)
    adele.refresh_from_db()
    assert adele.mfa_blocked_at is not None
    assert FraudReport.objects.get(user=adele).method_type == "alternate_phone"
    assert SignInEvent.objects.filter(reason="MFA denied; fraud code entered", method="alternate_phone").exists()
    assert PhoneCall.objects.get(user=adele).state == "fraud"


def test_an_unanswered_call_offers_to_call_again(client, sign_in, adele_enforced):
    with_phone(adele_enforced, "alternate_phone", "+442079460958")
    sign_in.password(client, adele_enforced.upn)

    answer("+442079460958", "failed")

    result = client.post("/signin/phone", {"action": "check"})
    assert "We didn't hear from you" in page(result) and "Call again" in page(result)
    client.post("/signin/phone", {"action": "resend"})
    assert PhoneMessage.objects.filter(to="+442079460958", kind="call").count() == 2


def test_sign_in_another_way_lists_every_phone_and_channel(client, sign_in, adele_enforced, enrol):
    adele = adele_enforced
    enrol(adele)
    with_phone(adele, "phone", "+447400123456")
    with_phone(adele, "office_phone", "+442079460958x12")
    sign_in.password(client, adele.upn)

    choices = page(client.get("/signin/other"))
    for label in ("Use a verification code from my authenticator app", "Text +44 XXXXXXXX56",
                  "Call +44 XXXXXXXX56", "Call +44 XXXXXXXX58"):
        assert label in choices
    method = Method.objects.get(user=adele, type="phone")
    assert location(client.post("/signin/other", {"method": f"text:{method.pk}"})) == "/signin/phone"
    assert location(client.post("/signin/phone", {"code": texted_code("+447400123456")})) == "/myaccount"


def test_a_text_over_the_limit_says_so_in_the_references_words(client, sign_in, adele_enforced):
    with_phone(adele_enforced, "phone", "+447400123456")
    sign_in.password(client, adele_enforced.upn)
    for _ in range(10):
        response = client.post("/signin/phone", {"action": "resend"})
        if response.status_code == 429:
            break
    assert response.status_code == 429
    assert "You've hit our limit on text verification codes" in page(response)
    assert "Sign in another way" in page(response)


def test_a_phone_is_added_and_deleted_on_security_info(adele_enforced, enrol):
    adele = adele_enforced
    enrol(adele)
    browser = SignIn.browser_with_fresh_mfa(adele)
    base = "/mysecurityinfo/add/authenticator"

    assert "+ Add phone" in page(browser.get("/mysecurityinfo"))
    browser.post(f"{base}?step=app&kind=phone", {"kind": "phone", "method_type": "phone", "country": "GB",
                                                 "number": "+44 7400 123456", "channel": "text"})
    assert location(browser.post(f"{base}?step=verify", {"code": texted_code("+447400123456")})) == \
        f"{base}?step=done"
    assert location(browser.post(f"{base}?step=done")) == "/mysecurityinfo"
    info = page(browser.get("/mysecurityinfo"))
    assert "<strong>Phone</strong> · +44 7400123456" in info
    assert "Mobile phone" not in page(browser.get(f"{base}?step=app&kind=phone"))  # one of each kind

    method = Method.objects.get(user=adele, type="phone")

    # Change: the new number is verified first; until then the old one stays.
    change = f"{base}?step=app&kind=phone&change=phone"
    form = page(browser.get(change))
    assert "Mobile phone (authentication phone)" in form and ">Office phone<" not in form
    assert location(browser.post(change, {"kind": "phone", "method_type": "phone", "country": "GB",
                                          "number": "07400 654321", "channel": "text"})) == f"{base}?step=verify"
    assert Method.objects.get(pk=method.pk).phone == "+447400123456"
    browser.post(f"{base}?step=verify", {"code": texted_code("+447400654321")})
    assert Method.objects.get(pk=method.pk).phone == "+447400654321"
    assert Method.objects.filter(user=adele, type="phone").count() == 1
    assert AuditEvent.objects.filter(action="method.change", after__phone="+44 XXXXXXXX21").exists()

    assert location(browser.post(f"/mysecurityinfo/methods/{method.pk}/delete")) == "/mysecurityinfo"
    assert not Method.objects.filter(user=adele, type="phone").exists()


def test_the_admin_sees_a_persons_phones_with_their_numbers(megan, adele_enforced):
    with_phone(adele_enforced, "office_phone", "+442079460958x12")
    admin = Client()
    admin.force_login(megan, backend="watchword.directory.backends.DirectoryBackend")

    detail = page(admin.get(f"/admin/users/{adele_enforced.pk}"))

    assert "Office phone · +44 2079460958 x12" in detail


def test_a_call_to_the_mobile_can_be_the_default_way_to_sign_in(client, sign_in, adele_enforced):
    adele = adele_enforced
    mobile = with_phone(adele, "phone", "+447400123456")
    browser = SignIn.browser_with_fresh_mfa(adele)
    choices = page(browser.get("/mysecurityinfo/default"))
    assert "Phone - text +44 7400123456" in choices and "Phone - call +44 7400123456" in choices

    browser.post("/mysecurityinfo/default", {"method": f"{mobile.pk}:call"})

    assert "Default sign-in method:</strong> Phone - call +44 7400123456" in page(browser.get("/mysecurityinfo"))
    sign_in.password(client, adele.upn)
    assert "We're calling your phone +44 XXXXXXXX56" in page(client.get("/signin/phone"))
    assert browser.post("/mysecurityinfo/default", {"method": f"{mobile.pk}:fax"}).status_code == 302
    assert Method.objects.get(pk=mobile.pk).preferred_channel == "call"  # an unknown way changes nothing
