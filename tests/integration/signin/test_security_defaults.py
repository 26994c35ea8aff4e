"""Security Defaults through real sign-ins: 14 days to register the authenticator app (then no
more skipping), MFA at every sign-in for administrators, MFA for everyone else when the sign-in
is unusual (a network or a browser not used lately), the authenticator app as the only method
that will do, and the sign-in log naming Security Defaults as the requirement."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.integration.signin.pages import asked_for_code, is_signed_in, text_of, went_to
from watchword.audit.models import SignInEvent
from watchword.delivery.models import PhoneMessage
from watchword.methods import phone
from watchword.methods.services import complete_registration
from watchword.policy import services
from watchword.policy.models import RegistrationGrace

pytestmark = pytest.mark.django_db

OFFICE = "192.0.2.10"  # where the person usually signs in
CAFE = "203.0.113.5"  # somewhere they have never signed in from
MOBILE = "+447400123456"


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    services.forget_cache()
    yield
    services.forget_cache()


@pytest.fixture
def security_defaults():
    return services.set_security_defaults(True, actor="cli")




def sign_in_with_code(sign_in, browser, person, authenticator, **extra):
    assert asked_for_code(sign_in.password(browser, person.upn, **extra))
    response = browser.post("/signin/verify", {"code": authenticator.fresh_code()}, **extra)
    assert response.status_code == 302 and response["Location"] == "/myaccount", response.content[:500]
    return response


def sign_out(browser) -> None:
    browser.post("/signout")
    assert not is_signed_in(browser)


def with_a_phone_only(person):
    complete_registration(person, phone.register_phone(person, method_type="phone", phone=MOBILE,
                                                       now=timezone.now()))
    return person


# --- registering: 14 days to do it ------------------------------------------------------------


def test_a_person_without_a_method_is_asked_for_more_information_with_14_days_to_skip(
        client, sign_in, adele, security_defaults):
    response = sign_in.password(client, adele.upn)

    assert went_to(response) == "/signin/more-information"
    assert "More information required" in text_of(response)
    assert "Skip for now (14 days until this is required)" in text_of(response)


def test_skipping_for_now_signs_the_person_in(client, sign_in, adele, security_defaults):
    sign_in.password(client, adele.upn)

    response = client.post("/signin/more-information", {"action": "skip"})

    assert response.status_code == 302 and response["Location"] == "/myaccount"
    assert is_signed_in(client)


def test_the_14_days_count_from_the_first_sign_in_after_security_defaults_was_turned_on(
        sign_in, adele, security_defaults):
    sign_in.password(Client(), adele.upn)
    RegistrationGrace.objects.filter(user=adele).update(started_at=timezone.now() - timedelta(days=10))

    response = sign_in.password(Client(), adele.upn)

    assert "Skip for now (4 days until this is required)" in text_of(response)


def test_after_14_days_the_skip_is_gone(sign_in, adele, security_defaults):
    sign_in.password(Client(), adele.upn)  # the first sign-in since Security Defaults: the days start
    RegistrationGrace.objects.filter(user=adele).update(started_at=timezone.now() - timedelta(days=14))
    browser = Client()

    response = sign_in.password(browser, adele.upn)

    assert "More information required" in text_of(response)
    assert "Skip for now" not in text_of(response)


def test_after_14_days_a_posted_skip_leads_to_registration_not_into_the_account(
        sign_in, adele, security_defaults):
    sign_in.password(Client(), adele.upn)
    RegistrationGrace.objects.filter(user=adele).update(started_at=timezone.now() - timedelta(days=15))
    browser = Client()
    sign_in.password(browser, adele.upn)

    response = browser.post("/signin/more-information", {"action": "skip"})

    assert response["Location"] == "/signin/register"
    assert not is_signed_in(browser)


# --- who is asked for MFA, and when ---------------------------------------------------------


def test_an_admin_is_asked_for_mfa_at_every_sign_in_even_from_the_same_network_and_browser(
        sign_in, megan, enrol, security_defaults):
    authenticator = enrol(megan)
    browser = Client(REMOTE_ADDR=OFFICE)
    sign_in_with_code(sign_in, browser, megan, authenticator)
    sign_out(browser)

    response = sign_in.password(browser, megan.upn)

    assert asked_for_code(response)


def test_an_ordinary_person_is_asked_for_mfa_on_their_first_sign_in(client, sign_in, adele, enrol,
                                                                     security_defaults):
    enrol(adele)

    assert asked_for_code(sign_in.password(client, adele.upn))


def test_an_ordinary_person_is_not_asked_again_from_the_network_and_browser_they_used_before(
        sign_in, adele, enrol, security_defaults):
    authenticator = enrol(adele)
    browser = Client(REMOTE_ADDR=OFFICE)
    sign_in_with_code(sign_in, browser, adele, authenticator)
    sign_out(browser)

    response = sign_in.password(browser, adele.upn)

    assert went_to(response) == "/myaccount"
    assert is_signed_in(browser)


def test_an_ordinary_person_is_asked_for_mfa_from_a_network_they_have_not_signed_in_from(
        sign_in, adele, enrol, security_defaults):
    authenticator = enrol(adele)
    browser = Client(REMOTE_ADDR=OFFICE)
    sign_in_with_code(sign_in, browser, adele, authenticator)
    sign_out(browser)

    response = sign_in.password(browser, adele.upn, REMOTE_ADDR=CAFE)  # the same browser, elsewhere

    assert asked_for_code(response)


def test_an_ordinary_person_is_asked_for_mfa_in_a_browser_they_have_not_used_before(
        sign_in, adele, enrol, security_defaults):
    authenticator = enrol(adele)
    sign_in_with_code(sign_in, Client(REMOTE_ADDR=OFFICE), adele, authenticator)

    response = sign_in.password(Client(REMOTE_ADDR=OFFICE), adele.upn)  # the same network, a new browser

    assert asked_for_code(response)


# --- only the authenticator app will do -----------------------------------------------------


def test_a_person_with_only_a_phone_is_sent_to_register_the_authenticator_app_not_texted(
        client, sign_in, adele, security_defaults):
    with_a_phone_only(adele)

    response = sign_in.password(client, adele.upn)

    assert went_to(response) == "/signin/more-information"
    assert "More information required" in text_of(response)
    assert "Skip for now" not in text_of(response)
    assert not PhoneMessage.objects.exists()


def test_the_wizard_offers_a_phone_only_person_the_authenticator_app_and_no_phone(
        client, sign_in, adele, security_defaults):
    with_a_phone_only(adele)
    sign_in.password(client, adele.upn)
    assert client.post("/signin/more-information")["Location"] == "/signin/register"

    wizard = client.get("/signin/register")

    assert "Keep your account secure" in text_of(wizard)
    assert "Authenticator app" in text_of(wizard)
    assert "kind=phone" not in wizard.content.decode()
    assert "I want to set up a different method" not in text_of(wizard)


def test_the_wizard_refuses_a_phone_posted_by_a_phone_only_person(client, sign_in, adele, security_defaults):
    with_a_phone_only(adele)
    sign_in.password(client, adele.upn)
    client.post("/signin/more-information")

    response = client.post("/signin/register?step=app&kind=phone", {"kind": "phone", "method_type": "phone",
                                                                     "country": "GB", "number": "07400 654321",
                                                                     "channel": "text"})

    assert response.status_code == 403
    assert not PhoneMessage.objects.exists()


# --- the sign-in log --------------------------------------------------------------------------


def test_the_sign_in_log_says_security_defaults_asked_for_mfa(sign_in, adele, enrol, security_defaults):
    authenticator = enrol(adele)
    sign_in_with_code(sign_in, Client(REMOTE_ADDR=CAFE), adele, authenticator)

    asked = SignInEvent.objects.get(user=adele, step="mfa", result="interrupted")
    done = SignInEvent.objects.get(user=adele, step="complete")
    assert asked.requirement == done.requirement == "security_defaults"
    assert asked.error_code == 50076
    assert done.result == "success"


def test_the_sign_in_log_says_security_defaults_asked_for_registration(client, sign_in, adele,
                                                                        security_defaults):
    sign_in.password(client, adele.upn)
    client.post("/signin/more-information", {"action": "skip"})

    asked = SignInEvent.objects.get(user=adele, step="registration")
    done = SignInEvent.objects.get(user=adele, step="complete")
    assert (asked.result, asked.requirement) == ("interrupted", "security_defaults")
    assert (done.result, done.requirement) == ("success", "security_defaults")
