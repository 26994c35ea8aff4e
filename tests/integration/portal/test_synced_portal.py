"""The person's side of directory sync (a real OpenLDAP server): My account says which details the
directory owns, the password is changed there (not here), and the set-up wizard offers the
phone numbers already on the account, still verified by a code or a call."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client

from tests.ldap_server import Slapd, unavailable_reason
from watchword.delivery.models import PhoneMessage
from watchword.directory.models import User
from watchword.methods.models import Method
from watchword.sync.engine import run_sync
from watchword.sync.services import create_connection

_reason = unavailable_reason()
if _reason:
    pytest.skip(f"no OpenLDAP test server: {_reason}", allow_module_level=True)

pytestmark = pytest.mark.django_db

ADELE = "adele.vance@example.org"
DIRECTORY_PASSWORD = "Directory-Pass-71"
ADD_PHONE = "/mysecurityinfo/add/authenticator?step=app&kind=phone"
OFFICE_NOTE = ("Your office phone is managed by your organisation's directory. Ask your administrator to change it "
               "there; changes appear here after the next sync.")


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    with Slapd(tmp_path_factory.mktemp("slapd")) as server:
        server.add_person("adele.vance", given_name="Adele", sn="Vance", mail=ADELE, telephone="020 7946 0958 x123",
                          mobile="07400 123456", password=DIRECTORY_PASSWORD)
        yield server


@pytest.fixture
def adele(directory):
    """Adele, synced from the directory (office phone with an extension, a mobile)."""
    connection = create_connection({
        "name": "corp", "flavour": "openldap", "url": directory.url, "bind_dn": directory.service_dn,
        "base_dns": directory.people_dn, "group_filter": "", "upn_domain": "example.org", "phone_country": "GB"},
        password=directory.service_password, actor="cli")
    assert run_sync(connection).status == "succeeded"
    return User.objects.get(upn=ADELE)


@pytest.fixture
def adele_browser(adele, sign_in):
    """Adele signed in with her directory password (checked by the directory)."""
    client = Client()
    response = sign_in.password(client, ADELE, DIRECTORY_PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/myaccount", page(response)[:800]
    return client


def page(response) -> str:
    return html.unescape(response.content.decode())


def texted_code(number: str) -> str:
    message = PhoneMessage.objects.filter(to=number, kind="text").order_by("-created").first()
    assert message is not None, f"no text to {number}"
    return re.search(r"\b(\d{6})\b", message.body).group(1)


def offer_form(text: str, method_type: str) -> str:
    """The ready-made offer for one kind of phone on the wizard's first step."""
    for form in re.findall(r'<form method="post"[^>]*class="offer">.*?</form>', text, re.S):
        if f'name="method_type" value="{method_type}"' in form:
            return form
    return ""


def hidden_fields(form: str) -> dict:
    return dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)">', form))


# --- My account and the password -----------------------------------------------------------

def test_my_account_shows_the_phones_with_a_note_that_the_directory_owns_them(adele_browser):
    text = page(adele_browser.get("/myaccount"))

    assert "+44 2079460958 x123" in text and "+44 7400123456" in text
    assert re.search(r"\+44 2079460958 x123<p class=\"hint\" id=\"office-phone-note\">" + re.escape(OFFICE_NOTE), text)
    assert OFFICE_NOTE.replace("office phone", "mobile phone") in text


def test_my_account_sends_a_synced_person_to_the_directory_for_their_password(adele_browser):
    text = page(adele_browser.get("/myaccount"))

    assert 'href="/myaccount/password"' not in text
    assert "Your password is managed by your organisation's directory." in text


def test_a_person_managed_here_sees_no_directory_notes(client, sign_in, make_person):
    lee = make_person("Lee Gu", office_phone="+44 20 7946 0111")
    sign_in.password(client, lee.upn)

    text = page(client.get("/myaccount"))

    assert "managed by your organisation's directory" not in text
    assert 'href="/myaccount/password"' in text


def test_the_change_password_page_says_the_directory_owns_the_password_instead_of_a_form(adele_browser):
    response = adele_browser.get("/myaccount/password")

    assert response.status_code == 200
    assert "Your password is managed by your organisation's directory. Ask your administrator" in page(response)
    assert 'name="new_password"' not in page(response)


def test_a_posted_password_change_is_refused_and_the_directory_password_still_works(adele_browser, adele, sign_in):
    response = adele_browser.post("/myaccount/password", {
        "current_password": DIRECTORY_PASSWORD, "new_password": "a brand new long passphrase 9",
        "confirm_password": "a brand new long passphrase 9"})

    assert response.status_code == 409
    assert "Your password is managed by your organisation's directory." in page(response)
    stored = User.objects.get(pk=adele.pk)
    assert stored.password == adele.password and not stored.check_password("a brand new long passphrase 9")
    assert sign_in.password(Client(), ADELE, DIRECTORY_PASSWORD)["Location"] == "/myaccount"


# --- the wizard's offer --------------------------------------------------------------------

def test_the_wizard_offers_the_directory_mobile_and_office_phone(adele_browser):
    text = page(adele_browser.get(ADD_PHONE))

    mobile = offer_form(text, "phone")
    assert "Text a code to +44 7400123456" in mobile and "Call +44 7400123456" in mobile
    assert "From your organisation's directory" in mobile
    assert hidden_fields(mobile)["number"] == "+447400123456"
    office = offer_form(text, "office_phone")
    assert "Call +44 2079460958 x123" in office and "Text a code" not in office
    assert hidden_fields(office)["number"] == "+442079460958x123"


def test_the_offered_mobile_is_verified_by_a_texted_code_before_it_is_added(adele_browser, adele):
    fields = hidden_fields(offer_form(page(adele_browser.get(ADD_PHONE)), "phone"))

    response = adele_browser.post(ADD_PHONE, {**fields, "channel": "text"})

    assert response.status_code == 302 and response["Location"].endswith("step=verify")
    assert not Method.objects.filter(user=adele).exists()
    assert "We just sent a 6-digit code to +44 7400123456" in page(adele_browser.get(response["Location"]))
    done = adele_browser.post("/mysecurityinfo/add/authenticator?step=verify", {"code": texted_code("+447400123456")})
    assert done.status_code == 302 and done["Location"].endswith("step=done")
    method = Method.objects.get(user=adele)
    assert (method.type, method.phone) == ("phone", "+447400123456")


def test_the_offered_office_phone_is_verified_by_a_call_to_its_extension(adele_browser):
    fields = hidden_fields(offer_form(page(adele_browser.get(ADD_PHONE)), "office_phone"))

    response = adele_browser.post(ADD_PHONE, {**fields, "channel": "call"})

    assert response["Location"].endswith("step=verify")
    assert "We're calling +44 2079460958 x123 now" in page(adele_browser.get(response["Location"]))
    call = PhoneMessage.objects.get(to="+442079460958", kind="call")
    assert call.extension == "123"


def test_a_phone_kind_already_added_is_not_offered_again(adele_browser, adele, sign_in):
    Method.objects.create(user=adele, type="phone", name="Mobile phone", phone="+447400999999")
    sign_in.make_mfa_fresh(adele_browser)  # Security info asks for a method once there is one

    text = page(adele_browser.get(ADD_PHONE))

    assert offer_form(text, "phone") == "" and offer_form(text, "office_phone")


def test_a_stored_number_that_no_longer_parses_is_not_offered(adele_browser, adele):
    User.objects.filter(pk=adele.pk).update(mobile_phone="+4474", office_phone="")

    text = page(adele_browser.get(ADD_PHONE))

    assert "Use a number we already have" not in text and "class=\"offer\"" not in text


def test_a_mobile_set_by_an_administrator_is_offered_as_from_the_account(client, sign_in, make_person):
    lee = make_person("Lee Gu", mobile_phone="07400 654321")
    sign_in.password(client, lee.upn)

    mobile = offer_form(page(client.get(ADD_PHONE)), "phone")

    assert "Text a code to +44 7400654321" in mobile and "From your account details" in mobile
