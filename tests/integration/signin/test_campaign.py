"""The registration campaign: after a sign-in with MFA, people who verify with a phone are asked
to set up the authenticator app (in scope by group, exclude winning), may snooze for the
organisation's days until their snoozes run out, and then must set it up when that is enforced."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.test import Client, RequestFactory
from django.urls import URLResolver, include, path
from django.utils import timezone

import watchword.urls
from tests.support import Device, SignIn, number_on
from watchword.audit.models import AuditEvent
from watchword.directory.groups import add_member, create_group
from watchword.methods import phone
from watchword.methods.models import Method
from watchword.methods.services import complete_registration
from watchword.policy import mfa_settings
from watchword.policy.models import CampaignSnooze
from watchword.policy.services import forget_cache
from watchword.signin import urls as signin_urls
from watchword.signin.campaign import campaign_view, nudge_url


def _with_campaign_page() -> list:
    """The site's URLs, with the nudge page among the sign-in pages (where the sign-in adds it)."""
    pages = list(signin_urls.urlpatterns)
    if not any(getattr(p, "name", "") == "campaign" for p in pages):
        pages.append(path("signin/campaign", campaign_view, name="campaign"))
    return [path("", include((pages, "signin"))) if isinstance(p, URLResolver) and p.namespace == "signin" else p
            for p in watchword.urls.urlpatterns]


urlpatterns = _with_campaign_page()

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

CAMPAIGN = "/signin/campaign"
SET_UP = "/mysecurityinfo/add/authenticator"


@pytest.fixture(autouse=True)
def fresh_policy_cache():
    """The compiled policy is cached per settings version, which each test's rollback reuses."""
    forget_cache()
    yield
    forget_cache()


def campaign(**values) -> None:
    mfa_settings.update({"campaign_enabled": True, **values}, actor="cli")


def with_phone(user, method_type: str = "phone", number: str = "+447400123456") -> Method:
    method = phone.register_phone(user, method_type=method_type, phone=number, now=timezone.now())
    complete_registration(user, method)
    return method


def text_of(response) -> str:
    return html.unescape(response.content.decode())


def due(user, next_url: str = "/myaccount") -> str | None:
    request = RequestFactory().get("/signin/verify")
    return nudge_url(request, user, next_url)


@pytest.fixture
def adele_on_phone(adele):
    """Adele Vance, who verifies with a text to her mobile."""
    with_phone(adele)
    return adele


@pytest.fixture
def browser(adele_on_phone):
    return SignIn.browser_with_fresh_mfa(adele_on_phone)


# --- who is asked -------------------------------------------------------------------------------


def test_a_person_who_uses_a_phone_is_asked_after_an_mfa_sign_in(adele_on_phone):
    campaign()

    assert due(adele_on_phone, "/myaccount") == "/signin/campaign?next=%2Fmyaccount"


def test_nobody_is_asked_while_the_campaign_is_off(adele_on_phone):
    assert due(adele_on_phone) is None


def test_a_person_with_the_authenticator_app_is_not_asked(adele_on_phone, enrol_device):
    campaign()
    enrol_device(adele_on_phone)

    assert due(adele_on_phone) is None


def test_a_person_without_a_phone_method_is_not_asked(adele, enrol):
    campaign()
    enrol(adele)  # codes from an authenticator app only

    assert due(adele) is None


def test_a_person_the_methods_policy_keeps_from_the_app_is_not_asked(adele_on_phone):
    campaign()
    mfa_settings.update_methods_policy({"microsoftAuthenticator": {"state": "disabled"}}, actor="cli")

    assert due(adele_on_phone) is None


def test_only_members_of_the_included_groups_are_asked(adele_on_phone, make_person):
    pilot = create_group({"name": "Pilot"}, actor="cli")
    lee = make_person("Lee Gu")
    with_phone(lee, number="+447400654321")
    add_member(pilot, lee, actor="cli")
    campaign(campaign_include_groups=[pilot.pk])

    assert due(adele_on_phone) is None
    assert due(lee) is not None


def test_an_excluded_group_wins_over_an_included_one(adele_on_phone):
    pilot = create_group({"name": "Pilot"}, actor="cli")
    executives = create_group({"name": "Executives"}, actor="cli")
    add_member(pilot, adele_on_phone, actor="cli")
    add_member(executives, adele_on_phone, actor="cli")
    campaign(campaign_include_groups=[pilot.pk], campaign_exclude_groups=[executives.pk])

    assert due(adele_on_phone) is None


def test_a_person_who_snoozed_is_asked_again_when_the_snooze_ends(adele_on_phone):
    campaign()
    now = timezone.now()
    snooze = CampaignSnooze.objects.create(user=adele_on_phone, snoozes=1, snoozed_until=now + timedelta(hours=3))
    assert due(adele_on_phone) is None

    snooze.snoozed_until = now - timedelta(minutes=1)
    snooze.save()

    assert due(adele_on_phone) is not None


# --- the page -------------------------------------------------------------------------------------


def test_the_page_offers_to_set_it_up_now_or_later_with_the_snoozes_left(browser):
    campaign(campaign_snoozes_allowed=3)

    text = text_of(browser.get(f"{CAMPAIGN}?next=/myaccount"))

    assert "Improve your sign-ins: set up the authenticator app" in text
    assert f'href="{SET_UP}?next=%2Fmyaccount">Set it up now' in text
    assert ">Not now</button>" in text
    assert "You can skip this 3 more times" in text


def test_not_now_snoozes_for_the_organisations_days_and_is_audited(browser, adele_on_phone):
    campaign(campaign_snooze_days=7)
    before = timezone.now()

    response = browser.post(CAMPAIGN, {"next": "/myaccount", "action": "snooze"})

    assert response.status_code == 302 and response["Location"] == "/myaccount"
    snooze = CampaignSnooze.objects.get(user=adele_on_phone)
    assert snooze.snoozes == 1
    assert before + timedelta(days=7) <= snooze.snoozed_until <= timezone.now() + timedelta(days=7)
    event = AuditEvent.objects.get(action="campaign.snooze")
    assert (event.actor_id, event.result, event.before, event.after["snoozes"]) == (
        adele_on_phone.pk, "success", {"snoozes": 0}, 1)
    assert due(adele_on_phone) is None


def test_with_zero_snooze_days_the_person_is_asked_at_every_mfa_sign_in(browser, adele_on_phone):
    campaign(campaign_snooze_days=0)

    browser.post(CAMPAIGN, {"next": "/myaccount", "action": "snooze"})

    assert CampaignSnooze.objects.get(user=adele_on_phone).snoozes == 1
    assert due(adele_on_phone) is not None
    assert "You can skip this 2 more times" in text_of(browser.get(CAMPAIGN))


def test_after_the_allowed_snoozes_the_person_must_set_it_up_now(browser, adele_on_phone):
    campaign(campaign_snoozes_allowed=3, campaign_enforce=True)
    CampaignSnooze.objects.create(user=adele_on_phone, snoozes=3,
                                  snoozed_until=timezone.now() - timedelta(minutes=1))

    text = text_of(browser.get(f"{CAMPAIGN}?next=/myaccount"))

    assert "You must set it up now to continue." in text
    assert "Not now" not in text
    assert f'href="{SET_UP}?next=%2Fmyaccount">Set it up now' in text


def test_not_now_after_the_allowed_snoozes_is_refused_and_audited(browser, adele_on_phone):
    campaign(campaign_snoozes_allowed=3, campaign_enforce=True)
    CampaignSnooze.objects.create(user=adele_on_phone, snoozes=3,
                                  snoozed_until=timezone.now() - timedelta(minutes=1))

    response = browser.post(CAMPAIGN, {"next": "/myaccount", "action": "snooze"})

    assert response.status_code == 403
    assert "Set up the authenticator app now." in text_of(response)
    assert CampaignSnooze.objects.get(user=adele_on_phone).snoozes == 3
    assert AuditEvent.objects.get(action="campaign.snooze").result == "failure"


def test_without_enforcement_not_now_stays_after_the_allowed_snoozes(browser, adele_on_phone):
    campaign(campaign_snoozes_allowed=3, campaign_enforce=False)
    CampaignSnooze.objects.create(user=adele_on_phone, snoozes=5,
                                  snoozed_until=timezone.now() - timedelta(minutes=1))

    assert ">Not now</button>" in text_of(browser.get(CAMPAIGN))
    assert browser.post(CAMPAIGN, {"action": "snooze"})["Location"] == "/myaccount"
    assert CampaignSnooze.objects.get(user=adele_on_phone).snoozes == 6


def test_a_person_who_is_not_asked_goes_straight_on(browser):
    response = browser.get(f"{CAMPAIGN}?next=/mysecurityinfo")  # the campaign is off

    assert response.status_code == 302 and response["Location"] == "/mysecurityinfo"


def test_a_next_address_on_another_site_is_ignored(browser):
    campaign()

    text = text_of(browser.get(f"{CAMPAIGN}?next=https://evil.example/steal"))
    response = browser.post(CAMPAIGN, {"next": "//evil.example/steal", "action": "snooze"})

    assert "evil.example" not in text and f'href="{SET_UP}?next=%2Fmyaccount"' in text
    assert response["Location"] == "/myaccount"


def test_the_page_needs_a_signed_in_person(client):
    response = client.get(f"{CAMPAIGN}?next=/myaccount")

    assert response.status_code == 302 and response["Location"].startswith("/signin?next=")


# --- setting it up ------------------------------------------------------------------------------


def activation_code(scan_page: str) -> str:
    payload = re.search(r'id="activation-payload">([^<]+)<', scan_page).group(1)
    return parse_qs(urlsplit(html.unescape(payload)).query)["code"][0]


def test_set_it_up_now_adds_the_app_and_returns_to_where_the_sign_in_was_going(browser, adele_on_phone):
    pytest.importorskip("watchword_authenticator.crypto", reason="the companion authenticator is not installed")
    campaign()
    going_to = "/myaccount?tab=overview"
    text = browser.get(f"{CAMPAIGN}?next={quote(going_to)}").content.decode()
    setup = html.unescape(re.search(r'href="([^"]+)">Set it up now', text).group(1))
    device = Device()

    assert "install the Watchword Authenticator" in text_of(browser.get(setup))
    assert browser.post(f"{SET_UP}?step=app", {"kind": "push"})["Location"] == f"{SET_UP}?step=scan"
    assert device.activate(Client(), activation_code(text_of(browser.get(f"{SET_UP}?step=scan")))).status_code == 201
    assert browser.post(f"{SET_UP}?step=scan")["Location"] == f"{SET_UP}?step=try"
    (request,) = device.pending(Client())
    number = number_on(browser.get(f"{SET_UP}?step=try"))
    assert device.answer(Client(), request["challenge_id"], "approve", number).json() == {"result": "approved"}
    assert browser.post(f"{SET_UP}?step=try", {"action": "check"})["Location"] == f"{SET_UP}?step=done"

    assert browser.post(f"{SET_UP}?step=done")["Location"] == going_to
    assert Method.objects.filter(user=adele_on_phone, type="push").exists()
    assert due(adele_on_phone) is None
