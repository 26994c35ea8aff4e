"""The organisation's MFA settings and its authentication-methods policy, through real sign-ins:
remembering MFA on a browser (and "Revoke MFA sessions" ending it), MFA trusted IPs, smart
lockout counted apart for familiar and unfamiliar networks, the lockout threshold and first wait,
how long a fraud report blocks MFA, and methods turned off for everyone or for a group."""

from __future__ import annotations

import html
import itertools
import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.integration.signin.pages import asked_for_code, is_signed_in, text_of, went_to
from tests.support import ACCOUNT_THRESHOLD, let_throttle_time_pass
from watchword.directory.groups import add_member, create_group
from watchword.directory.models import User
from watchword.directory.services import revoke_sessions
from watchword.methods import phone
from watchword.methods.models import FraudReport
from watchword.methods.services import complete_registration, report_fraud
from watchword.policy import mfa_settings, services

pytestmark = pytest.mark.django_db

WRONG = "Wrong-Password-123"
HOME = "192.0.2.44"  # the person's own network (192.0.2.0/24)
HOME_AGAIN = "192.0.2.45"  # another address on it
OFFICE_RANGE = "198.51.100.0/24"
AT_THE_OFFICE = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
MOBILE = "+447400123456"
WAIT = re.compile(r"You've tried to sign in too many times with an incorrect account or password\. "
                  r"Wait (\d+) seconds?, then try again\.")

_strangers = (f"198.18.{n // 256}.{n % 256}" for n in itertools.count(1))


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    services.forget_cache()
    yield
    services.forget_cache()


def settings_update(**values):
    return mfa_settings.update(values, actor="cli")




def sign_out(browser) -> None:
    browser.post("/signout")
    assert not is_signed_in(browser)


def waited(response) -> int | None:
    match = WAIT.search(html.unescape(response.content.decode()))
    return int(match.group(1)) if match else None


def from_a_stranger() -> Client:
    """A browser at an address nobody signed in from (guesses spread over many addresses)."""
    return Client(REMOTE_ADDR=next(_strangers))


@pytest.fixture
def adele_enforced(make_person, enrol):
    """Adele with per-user MFA enforced and an authenticator app: asked for a code at every sign-in."""
    adele = make_person("Adele Vance", mfa_state="enforced")
    return adele, enrol(adele)


# --- remember MFA on a browser ----------------------------------------------------------------


def sign_in_remembering(sign_in, browser, person, authenticator) -> None:
    response = sign_in.password(browser, person.upn)
    assert asked_for_code(response)
    assert "Don't ask again on this browser for 7 days" in text_of(response)
    done = browser.post("/signin/verify", {"code": authenticator.fresh_code(), "remember": "1"})
    assert done["Location"] == "/myaccount", done.content[:500]


def test_with_remember_mfa_ticked_the_next_sign_in_in_that_browser_skips_mfa(sign_in, adele_enforced):
    adele, authenticator = adele_enforced
    settings_update(remember_mfa_days=7)
    browser = Client()
    sign_in_remembering(sign_in, browser, adele, authenticator)
    sign_out(browser)

    response = sign_in.password(browser, adele.upn)

    assert went_to(response) == "/myaccount"
    assert is_signed_in(browser)


def test_remembered_mfa_does_not_carry_over_to_another_browser(sign_in, adele_enforced):
    adele, authenticator = adele_enforced
    settings_update(remember_mfa_days=7)
    sign_in_remembering(sign_in, Client(), adele, authenticator)

    response = sign_in.password(Client(), adele.upn)

    assert asked_for_code(response)


def test_without_the_box_ticked_the_next_sign_in_asks_again(sign_in, adele_enforced):
    adele, authenticator = adele_enforced
    settings_update(remember_mfa_days=7)
    browser = Client()
    sign_in.password(browser, adele.upn)
    browser.post("/signin/verify", {"code": authenticator.fresh_code()})
    sign_out(browser)

    assert asked_for_code(sign_in.password(browser, adele.upn))


def test_remembered_mfa_ends_after_its_days(sign_in, adele_enforced):
    from watchword.signin.models import KnownBrowser

    adele, authenticator = adele_enforced
    settings_update(remember_mfa_days=7)
    browser = Client()
    sign_in_remembering(sign_in, browser, adele, authenticator)
    sign_out(browser)
    eight_days_ago = timezone.now() - timedelta(days=8)
    KnownBrowser.objects.filter(user=adele).update(mfa_at=eight_days_ago,
                                                   remember_until=eight_days_ago + timedelta(days=7))

    assert asked_for_code(sign_in.password(browser, adele.upn))


def test_revoke_mfa_sessions_ends_remembered_mfa(sign_in, adele_enforced):
    adele, authenticator = adele_enforced
    settings_update(remember_mfa_days=7)
    browser = Client()
    sign_in_remembering(sign_in, browser, adele, authenticator)

    revoke_sessions(adele, actor="cli")

    assert not is_signed_in(browser)  # the session itself ended too
    assert asked_for_code(sign_in.password(browser, adele.upn))


# --- MFA trusted IPs --------------------------------------------------------------------------


def test_from_an_mfa_trusted_ip_per_user_mfa_is_skipped(sign_in, adele_enforced):
    adele, _ = adele_enforced
    settings_update(mfa_trusted_ips=[OFFICE_RANGE])
    browser = Client(REMOTE_ADDR=AT_THE_OFFICE)

    response = sign_in.password(browser, adele.upn)

    assert went_to(response) == "/myaccount"
    assert is_signed_in(browser)


def test_from_outside_the_mfa_trusted_ips_per_user_mfa_asks_for_a_code(sign_in, adele_enforced):
    adele, _ = adele_enforced
    settings_update(mfa_trusted_ips=[OFFICE_RANGE])
    browser = Client(REMOTE_ADDR=ELSEWHERE)

    response = sign_in.password(browser, adele.upn)

    assert asked_for_code(response)
    assert not is_signed_in(browser)


# --- smart lockout ----------------------------------------------------------------------------


def guessed_by_strangers_until_a_four_second_wait(sign_in, upn: str) -> None:
    """Wrong passwords for ``upn`` from ever new addresses, up to the account's allowance (the
    default threshold), then two more, each after the previous wait ran out: the waits are 1 s,
    2 s, then 4 s (long enough for the next request to meet it)."""
    for _ in range(ACCOUNT_THRESHOLD):
        sign_in.password(from_a_stranger(), upn, WRONG)
    for _ in range(2):
        let_throttle_time_pass(10)
        sign_in.password(from_a_stranger(), upn, WRONG)


@pytest.fixture
def adele_at_home(sign_in, adele):
    """Adele has signed in from her home network before (it is familiar)."""
    browser = Client(REMOTE_ADDR=HOME)
    sign_in.password(browser, adele.upn)
    assert is_signed_in(browser)
    sign_out(browser)
    return adele


def test_after_the_lockout_threshold_of_wrong_passwords_from_elsewhere_unfamiliar_networks_wait(
        sign_in, adele_at_home):
    guessed_by_strangers_until_a_four_second_wait(sign_in, adele_at_home.upn)
    somewhere_new = from_a_stranger()

    response = sign_in.password(somewhere_new, adele_at_home.upn)  # the right password

    assert waited(response) is not None
    assert not is_signed_in(somewhere_new)


def test_the_person_at_their_familiar_network_still_signs_in_while_strangers_wait(sign_in, adele_at_home):
    guessed_by_strangers_until_a_four_second_wait(sign_in, adele_at_home.upn)
    at_home = Client(REMOTE_ADDR=HOME_AGAIN)  # another address on the same /24, another browser

    response = sign_in.password(at_home, adele_at_home.upn)

    assert waited(response) is None
    assert is_signed_in(at_home)


def test_lockout_threshold_and_first_wait_are_the_organisations(sign_in, adele):
    settings_update(lockout_threshold=3, lockout_seconds=30)
    for _ in range(3):
        sign_in.password(from_a_stranger(), adele.upn, WRONG)
    somewhere_new = from_a_stranger()

    response = sign_in.password(somewhere_new, adele.upn)

    assert waited(response) == 30
    assert "Wait 30 seconds, then try again." in text_of(response)
    assert not is_signed_in(somewhere_new)


def test_below_the_organisations_lockout_threshold_nobody_waits(sign_in, adele):
    settings_update(lockout_threshold=3, lockout_seconds=30)
    for _ in range(2):
        sign_in.password(from_a_stranger(), adele.upn, WRONG)
    somewhere_new = from_a_stranger()

    sign_in.password(somewhere_new, adele.upn)

    assert is_signed_in(somewhere_new)


# --- fraud block ------------------------------------------------------------------------------


def reported_fraud_days_ago(person, days: int) -> None:
    report_fraud(person, method_type="totp", now=timezone.now())
    then = timezone.now() - timedelta(days=days)
    User.objects.filter(pk=person.pk).update(mfa_blocked_at=then)
    FraudReport.objects.filter(user=person).update(created_at=then)


def test_a_fraud_report_blocks_mfa_until_the_organisations_days_have_passed(client, sign_in, adele_enforced):
    adele, _ = adele_enforced
    settings_update(fraud_block_days=7)
    reported_fraud_days_ago(adele, 6)

    response = sign_in.password(client, adele.upn)

    assert response.status_code == 403
    assert "Your account is blocked from signing in with verification" in text_of(response)
    assert not is_signed_in(client)


def test_after_the_organisations_fraud_block_days_the_person_signs_in_with_mfa_again(client, sign_in, adele_enforced):
    adele, authenticator = adele_enforced
    settings_update(fraud_block_days=7)
    reported_fraud_days_ago(adele, 8)
    assert asked_for_code(sign_in.password(client, adele.upn))

    response = client.post("/signin/verify", {"code": authenticator.fresh_code()})

    assert response.status_code == 302 and response["Location"] == "/myaccount", text_of(response)[:300]
    assert is_signed_in(client)


# --- the authentication-methods policy --------------------------------------------------------


def test_turning_off_the_only_method_a_person_has_sends_them_to_registration(client, sign_in, adele_enforced):
    adele, _ = adele_enforced  # an authenticator app used for codes only (softwareOath)
    mfa_settings.update_methods_policy({"softwareOath": {"state": "disabled"}}, actor="cli")

    response = sign_in.password(client, adele.upn)

    assert went_to(response) == "/signin/more-information"
    assert "More information required" in text_of(response)


@pytest.fixture
def sales_with_a_phone(make_person):
    """Adele, in Sales, with per-user MFA enforced and only a mobile phone; texts off for Sales."""
    adele = make_person("Adele Vance", mfa_state="enforced")
    complete_registration(adele, phone.register_phone(adele, method_type="phone", phone=MOBILE,
                                                      now=timezone.now()))
    sales = create_group({"name": "Sales"}, actor="cli")
    add_member(sales, adele, actor="cli")
    mfa_settings.update_methods_policy({"sms": {"state": "enabled", "includeGroups": ["all"],
                                                "excludeGroups": [str(sales.pk)]}}, actor="cli")
    return adele


def other_ways(client) -> list[str]:
    return re.findall(r'<button type="submit" name="method" value="[^"]+" class="choice">([^<]+)</button>',
                      html.unescape(client.get("/signin/other").content.decode()))


def test_with_texts_off_for_a_group_its_members_are_offered_a_call_on_the_other_page(
        client, sign_in, sales_with_a_phone):
    sign_in.password(client, sales_with_a_phone.upn)

    choices = other_ways(client)

    assert choices == [f"Call {phone.masked(MOBILE)}"]


def test_with_texts_off_for_a_group_its_members_are_called_rather_than_texted(client, sign_in, sales_with_a_phone):
    from watchword.delivery.models import PhoneMessage

    response = sign_in.password(client, sales_with_a_phone.upn)

    assert response["Location"] == "/signin/phone"
    assert list(PhoneMessage.objects.values_list("kind", flat=True)) == ["call"]


def test_with_texts_off_for_a_group_people_outside_it_may_still_get_a_text(client, sign_in, sales_with_a_phone,
                                                                           make_person):
    lee = make_person("Lee Gu", mfa_state="enforced")
    complete_registration(lee, phone.register_phone(lee, method_type="phone", phone="+447400654321",
                                                    now=timezone.now()))
    sign_in.password(client, lee.upn)

    choices = other_ways(client)

    assert f"Text {phone.masked('+447400654321')}" in choices
