"""The authentication-methods policy where people set up methods: the registration wizard offers
only the kinds enabled for the person (by group, include and exclude), refuses the others when
posted, narrows further when the sign-in needs particular kinds; Security info marks the methods
the policy turns off; and the push request a device receives carries only the additional context
the policy shows."""

from __future__ import annotations

import html
import json
import re

import pytest
from django.test import Client
from django.urls import path
from django.utils import timezone

import watchword.urls
from tests.support import SignIn
from watchword.audit.models import AuditEvent
from watchword.delivery.models import PhoneMessage
from watchword.directory.groups import add_member, create_group
from watchword.methods import phone, push
from watchword.methods.models import Method, PushActivation, PushChallenge
from watchword.methods.services import complete_registration
from watchword.policy.mfa_settings import update_methods_policy
from watchword.policy.services import forget_cache
from watchword.portal import wizard
from watchword.signin.guards import signed_in_required

ADD = "/mysecurityinfo/add/authenticator"
APP_ONLY = "/test/register-app-only"
NOTHING = "Your organisation doesn&#x27;t allow any sign-in method you could set up here. Contact your administrator."


# A registration page as the sign-in shows it under Security Defaults: the authenticator app only.
@signed_in_required
def register_app_only(request):
    from django.http import HttpResponse

    return wizard.run(request, user=request.user, on_success=lambda method: None,
                      on_done=lambda: HttpResponse("done"), mode="interrupt", base_url=APP_ONLY,
                      account_name=request.user.upn, allowed_kinds=frozenset({"push"}))


urlpatterns = [path(APP_ONLY.lstrip("/"), register_app_only), *watchword.urls.urlpatterns]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    """The compiled policy is cached per settings version, which each test's rollback reuses."""
    forget_cache()
    yield
    forget_cache()


def set_policy(**configs) -> None:
    update_methods_policy(configs, actor="cli")


def page(response) -> str:
    return response.content.decode()


def text_of(response) -> str:
    return html.unescape(page(response))


@pytest.fixture
def contractors(adele):
    """A group of contractors; Adele Vance is one of them."""
    group = create_group({"name": "Contractors"}, actor="cli")
    add_member(group, adele, actor="cli")
    return group


@pytest.fixture
def browser(adele):
    return SignIn.browser_with_fresh_mfa(adele)


def method_items(text: str) -> list[str]:
    return re.findall(r"<li>(.*?)</li>", text.split('aria-label="Your sign-in methods"', 1)[1], re.S)


def with_phone(user, method_type: str, number: str) -> Method:
    method = phone.register_phone(user, method_type=method_type, phone=number, now=timezone.now())
    complete_registration(user, method)
    return method


# --- which kinds the wizard offers ------------------------------------------------------------


def test_the_wizard_offers_all_three_kinds_when_the_policy_enables_them(browser):
    text = text_of(browser.get(ADD))

    assert "install the Watchword Authenticator" in text
    assert "I want to use a different authenticator app" in text
    assert "I want to set up a different method" in text


def test_a_turned_off_authenticator_app_is_not_offered_and_the_wizard_starts_with_codes(browser):
    set_policy(microsoftAuthenticator={"state": "disabled"})

    text = text_of(browser.get(ADD))

    assert "Use any authenticator app that shows 6-digit codes" in text
    assert "Watchword Authenticator" not in text
    assert "I want to set up a different method" in text


def test_asking_for_a_turned_off_kind_shows_the_first_allowed_one(browser):
    set_policy(softwareOath={"state": "disabled"})

    text = text_of(browser.get(f"{ADD}?step=app&kind=totp"))

    assert "install the Watchword Authenticator" in text
    assert "I want to use a different authenticator app" not in text


def test_posting_a_turned_off_kind_is_refused_and_audited(browser, adele):
    set_policy(microsoftAuthenticator={"state": "disabled"})

    response = browser.post(f"{ADD}?step=app", {"kind": "push"})

    assert response.status_code == 403
    assert "Your organisation doesn't allow you to set up that sign-in method." in text_of(response)
    assert not PushActivation.objects.filter(user=adele).exists()
    event = AuditEvent.objects.filter(action="method.register").latest("id")
    assert (event.result, event.after, event.actor_id) == ("failure", {"type": "push"}, adele.pk)


def test_a_set_up_under_way_stops_when_its_kind_is_turned_off(browser, adele):
    assert browser.post(f"{ADD}?step=app", {"kind": "totp"})["Location"] == f"{ADD}?step=scan"
    set_policy(softwareOath={"state": "disabled"})

    response = browser.get(f"{ADD}?step=scan")

    assert response["Location"] == f"{ADD}?step=app"
    assert "watchword_enrol" not in browser.session


def test_nothing_allowed_shows_a_plain_page(browser):
    set_policy(microsoftAuthenticator={"state": "disabled"}, softwareOath={"state": "disabled"},
               sms={"state": "disabled"}, voice={"state": "disabled"})

    response = browser.get(ADD)

    assert response.status_code == 403
    assert NOTHING in page(response)
    assert browser.post(f"{ADD}?step=app", {"kind": "totp"}).status_code == 403


# --- groups -------------------------------------------------------------------------------------


def test_a_kind_enabled_for_a_group_is_offered_to_its_members_only(browser, adele, make_person):
    others = create_group({"name": "Field staff"}, actor="cli")
    lee = make_person("Lee Gu")
    add_member(others, lee, actor="cli")
    set_policy(microsoftAuthenticator={"state": "enabled", "includeGroups": [str(others.pk)]})

    assert browser.post(f"{ADD}?step=app", {"kind": "push"}).status_code == 403
    lees = SignIn.browser_with_fresh_mfa(lee)
    assert lees.post(f"{ADD}?step=app", {"kind": "push"})["Location"] == f"{ADD}?step=scan"


def test_an_excluded_group_wins_over_all_users(browser, contractors, make_person):
    set_policy(softwareOath={"state": "enabled", "includeGroups": ["all"], "excludeGroups": [str(contractors.pk)]})

    assert "I want to use a different authenticator app" not in text_of(browser.get(ADD))
    assert browser.post(f"{ADD}?step=app", {"kind": "totp"}).status_code == 403
    lee = SignIn.browser_with_fresh_mfa(make_person("Lee Gu"))
    assert lee.post(f"{ADD}?step=app", {"kind": "totp"})["Location"] == f"{ADD}?step=scan"


# --- phones -----------------------------------------------------------------------------------


def test_the_office_phone_is_not_offered_when_the_policy_does_not_allow_it(browser):
    set_policy(voice={"state": "enabled", "isOfficePhoneAllowed": False})

    text = text_of(browser.get(f"{ADD}?step=app&kind=phone"))

    assert '<option value="phone"' in text and '<option value="alternate_phone"' in text
    assert '<option value="office_phone"' not in text
    assert "Call +44 2079460958 x123" not in text  # Adele's office number is not offered either


def test_posting_an_office_phone_the_policy_does_not_allow_is_refused_without_a_call(browser, adele):
    set_policy(voice={"state": "enabled", "isOfficePhoneAllowed": False})

    response = browser.post(f"{ADD}?step=app&kind=phone", {
        "kind": "phone", "method_type": "office_phone", "country": "US", "number": "(425) 555-0100 x123",
        "channel": "call"})

    assert response.status_code == 403
    assert "Your organisation doesn't allow this phone for signing in." in text_of(response)
    assert PhoneMessage.objects.count() == 0
    assert "watchword_enrol" not in browser.session


def test_an_office_phone_set_up_under_way_stops_when_office_phones_are_turned_off(browser, adele):
    started = browser.post(f"{ADD}?step=app&kind=phone", {
        "kind": "phone", "method_type": "office_phone", "country": "US", "number": "(425) 555-0100 x123",
        "channel": "call"})
    assert started["Location"] == f"{ADD}?step=verify"
    set_policy(voice={"state": "enabled", "isOfficePhoneAllowed": False})

    assert browser.get(f"{ADD}?step=verify")["Location"] == f"{ADD}?step=app"
    assert not Method.objects.filter(user=adele).exists()


def test_a_text_to_a_country_the_policy_does_not_allow_is_refused_but_a_call_goes(browser):
    set_policy(sms={"state": "enabled", "allowedCountries": ["GB"]})
    typed = {"kind": "phone", "method_type": "phone", "country": "FR", "number": "06 12 34 56 78"}

    refused = browser.post(f"{ADD}?step=app&kind=phone", {**typed, "channel": "text"})

    assert refused.status_code == 403
    assert ("Your organisation doesn't allow text messages to numbers in France (+33). Choose Call me instead."
            in text_of(refused))
    assert PhoneMessage.objects.count() == 0
    called = browser.post(f"{ADD}?step=app&kind=phone", {**typed, "channel": "call"})
    assert called["Location"] == f"{ADD}?step=verify"
    assert PhoneMessage.objects.get().to == "+33612345678"


def test_a_text_to_an_allowed_country_goes(browser):
    set_policy(sms={"state": "enabled", "allowedCountries": ["GB"]})

    response = browser.post(f"{ADD}?step=app&kind=phone", {
        "kind": "phone", "method_type": "phone", "country": "GB", "number": "07400 123456", "channel": "text"})

    assert response["Location"] == f"{ADD}?step=verify"
    assert PhoneMessage.objects.get().kind == "text"


def test_the_directory_mobile_is_offered_only_a_call_when_texts_may_not_go_to_its_country(browser):
    set_policy(sms={"state": "enabled", "allowedCountries": ["FR"]})

    text = text_of(browser.get(f"{ADD}?step=app&kind=phone"))

    assert "Call +44 7400123456" in text and "Text a code to +44 7400123456" not in text
    assert "Text me a code" in text  # other numbers may still be in France


def test_without_texts_only_calls_are_offered_and_a_posted_text_is_refused(browser):
    set_policy(sms={"state": "disabled"})

    text = text_of(browser.get(f"{ADD}?step=app&kind=phone"))
    assert "Text me a code" not in text and "Call me" in text

    response = browser.post(f"{ADD}?step=app&kind=phone", {
        "kind": "phone", "method_type": "phone", "country": "GB", "number": "07400 123456", "channel": "text"})
    assert response.status_code == 403
    assert "Your organisation doesn't allow codes by text message for this phone." in text_of(response)
    assert PhoneMessage.objects.count() == 0


def test_phones_are_not_offered_when_texts_and_calls_are_both_off(browser):
    set_policy(sms={"state": "disabled"}, voice={"state": "disabled"})

    assert "I want to set up a different method" not in text_of(browser.get(ADD))
    assert browser.post(f"{ADD}?step=app&kind=phone", {
        "kind": "phone", "method_type": "phone", "country": "GB", "number": "07400 123456",
        "channel": "call"}).status_code == 403


# --- what the sign-in allows --------------------------------------------------------------------


def test_the_sign_in_can_narrow_the_wizard_to_the_authenticator_app(browser):
    text = text_of(browser.get(APP_ONLY))

    assert "install the Watchword Authenticator" in text
    assert "I want to use a different authenticator app" not in text
    assert "I want to set up a different method" not in text
    assert browser.post(f"{APP_ONLY}?step=app", {"kind": "totp"}).status_code == 403
    assert browser.post(f"{APP_ONLY}?step=app&kind=phone", {
        "kind": "phone", "method_type": "phone", "country": "GB", "number": "07400 123456",
        "channel": "text"}).status_code == 403
    assert PhoneMessage.objects.count() == 0


def test_nothing_is_left_when_the_sign_in_needs_a_kind_the_policy_turns_off(browser):
    set_policy(microsoftAuthenticator={"state": "disabled"})

    response = browser.get(APP_ONLY)

    assert response.status_code == 403
    assert NOTHING in page(response)
    assert "Use a different account" in page(response)


# --- Security info ------------------------------------------------------------------------------


def test_security_info_marks_a_method_the_policy_turns_off(adele, enrol):
    enrol(adele)
    with_phone(adele, "phone", "+447400123456")
    set_policy(softwareOath={"state": "disabled"})
    browser = SignIn.browser_with_fresh_mfa(adele)

    text = text_of(browser.get("/mysecurityinfo"))

    (codes,) = [item for item in method_items(text) if "<strong>Authenticator app</strong>" in item]
    (mobile,) = [item for item in method_items(text) if "<strong>Phone</strong>" in item]
    assert "Turned off by your organisation" in codes
    assert "Turned off by your organisation" not in mobile


def test_security_info_offers_only_the_kinds_the_policy_allows(browser):
    set_policy(microsoftAuthenticator={"state": "disabled"}, sms={"state": "disabled"},
               voice={"state": "disabled"})

    text = text_of(browser.get("/mysecurityinfo"))

    assert f'href="{ADD}?step=app&amp;kind=totp">+ Add sign-in method' in page(browser.get("/mysecurityinfo"))
    assert "+ Add phone" not in text


def test_security_info_says_when_nothing_may_be_added(browser):
    set_policy(microsoftAuthenticator={"state": "disabled"}, softwareOath={"state": "disabled"},
               sms={"state": "disabled"}, voice={"state": "disabled"})

    text = text_of(browser.get("/mysecurityinfo"))

    assert "+ Add" not in text
    assert "Your organisation doesn't allow you to add sign-in methods here." in text


def test_an_office_phone_the_policy_no_longer_allows_cannot_be_changed(adele):
    with_phone(adele, "office_phone", "+442079460958x123")
    set_policy(voice={"state": "enabled", "isOfficePhoneAllowed": False})
    browser = SignIn.browser_with_fresh_mfa(adele)

    text = text_of(browser.get("/mysecurityinfo"))

    assert "Turned off by your organisation" in text
    assert "kind=phone&change=office_phone" not in text
    changing = text_of(browser.get(f"{ADD}?step=app&kind=phone&change=office_phone"))
    assert "You can't change that phone here." in changing


# --- the push request's additional context -----------------------------------------------------


@pytest.fixture
def device(adele, enrol_device):
    return enrol_device(adele)


def sign_in_request(user) -> PushChallenge:
    return push.create_challenge(user, purpose="signin", app="Contoso HR", ip="203.0.113.7", now=timezone.now())


def test_the_device_is_shown_the_app_name_and_location_by_default(adele, device):
    challenge = sign_in_request(adele)

    (request,) = device.pending(Client())

    assert (request["challenge_id"], request["app"], request["ip"]) == (challenge.id, "Contoso HR", "203.0.113.7")


def test_the_app_name_is_left_out_when_the_policy_hides_it(adele, device):
    set_policy(microsoftAuthenticator={"state": "enabled", "showAppName": False})
    sign_in_request(adele)

    (request,) = device.pending(Client())

    assert (request["app"], request["ip"]) == ("", "203.0.113.7")


def test_the_location_is_left_out_when_the_policy_hides_it(adele, device):
    set_policy(microsoftAuthenticator={"state": "enabled", "showLocation": False})
    push.create_challenge(adele, purpose="signin", app="Contoso HR", ip="127.0.0.1", now=timezone.now())

    (request,) = device.pending(Client())

    assert (request["app"], request["ip"], request["location"]) == ("Contoso HR", "", "")


def test_the_request_pushed_as_it_is_made_leaves_out_the_hidden_context_too(adele, device, monkeypatch):
    set_policy(microsoftAuthenticator={"state": "enabled", "showAppName": False, "showLocation": False})
    sent = []
    monkeypatch.setattr(push.fanout, "publish_on_commit", lambda channel, event, data, **kw: sent.append(data))

    challenge = sign_in_request(adele)

    (data,) = [json.loads(item) for item in sent]
    assert (data["challenge_id"], data["app"], data["ip"], data["location"]) == (challenge.id, "", "", "")
    stored = PushChallenge.objects.get(pk=challenge.id)
    assert (stored.app, stored.ip) == ("Contoso HR", "203.0.113.7")  # kept for the sign-in log


def test_hidden_context_does_not_turn_off_number_matching(adele, device):
    set_policy(microsoftAuthenticator={"state": "enabled", "showAppName": False, "showLocation": False})
    challenge = sign_in_request(adele)
    wrong = "10" if challenge.number != "10" else "11"

    answer = device.answer(Client(), challenge.id, "approve", wrong)

    assert answer.json() == {"result": "denied"}
    assert PushChallenge.objects.get(pk=challenge.id).result_detail == "wrong_number"
