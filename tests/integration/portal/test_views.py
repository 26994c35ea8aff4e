"""My account and Security info: methods listed, added, deleted and made default, each after
an MFA completed within the last ten minutes."""

from __future__ import annotations

import re
from urllib.parse import quote

import pyotp
import pytest
from django.test import Client

from watchword.methods.models import Method
from watchword.methods.services import set_mfa_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def adele_app(adele, enrol):
    set_mfa_state(adele, "enabled", actor="cli", notify=False)
    return enrol(adele)


@pytest.fixture
def adele_browser(sign_in, adele, adele_app) -> Client:
    """Adele signed in with her password and a code from her authenticator app, just now."""
    client = Client()
    response = sign_in.with_code(client, adele.upn, adele_app.fresh_code())
    assert response["Location"] == "/myaccount"
    return client


def location(response) -> str:
    assert response.status_code == 302, (response.status_code, response.content[:300])
    return response["Location"]


def messages_of(response) -> list[str]:
    return re.findall(r'<p class="notice [^"]*">(.*?)</p>', response.content.decode())


def test_my_account_shows_the_persons_details_and_phones_in_canonical_form(adele_browser):
    page = adele_browser.get("/myaccount").content.decode()

    assert "adele.vance@contoso.example" in page
    assert "+44 2079460958 x123" in page
    assert "+44 7400123456" in page


def test_an_anonymous_visitor_to_security_info_is_sent_to_sign_in_and_back(client):
    assert location(client.get("/mysecurityinfo")) == "/signin?next=" + quote("/mysecurityinfo", safe="")


def test_security_info_lists_the_method_right_after_signing_in_with_it(adele_browser):
    response = adele_browser.get("/mysecurityinfo")

    assert response.status_code == 200
    assert "Authenticator app" in response.content.decode()


def test_security_info_opens_without_a_new_code_within_ten_minutes_of_the_last_mfa(adele_browser, sign_in):
    sign_in.make_mfa_stale(adele_browser, seconds_ago=590)

    assert adele_browser.get("/mysecurityinfo").status_code == 200


def test_security_info_asks_for_a_code_again_when_the_last_mfa_is_over_ten_minutes_old(adele_browser, sign_in):
    sign_in.make_mfa_stale(adele_browser, seconds_ago=601)

    assert location(adele_browser.get("/mysecurityinfo")) == "/signin/reverify?next=%2Fmysecurityinfo"


def test_a_new_code_after_the_ten_minutes_opens_security_info_again(adele_browser, sign_in, adele_app):
    sign_in.make_mfa_stale(adele_browser)
    assert location(adele_browser.get("/signin/reverify?next=/mysecurityinfo")) == "/signin/verify"

    response = adele_browser.post("/signin/verify", {"code": adele_app.fresh_code()})

    assert location(response) == "/mysecurityinfo"
    assert adele_browser.get("/mysecurityinfo").status_code == 200


def test_a_person_signed_in_with_only_a_password_must_use_a_method_to_open_security_info(sign_in, adele, enrol):
    enrol(adele)  # per-user MFA disabled: the password was enough to sign in
    client = Client()
    sign_in.password(client, adele.upn)

    assert location(client.get("/mysecurityinfo")).startswith("/signin/reverify")


def test_a_person_without_any_method_opens_security_info_to_add_one(sign_in, adele):
    client = Client()
    sign_in.password(client, adele.upn)

    response = client.get("/mysecurityinfo")

    assert response.status_code == 200
    assert "You have no sign-in methods yet." in response.content.decode()


def test_deleting_the_only_method_of_an_enforced_person_is_refused(adele_browser, adele_app):
    response = adele_browser.post(f"/mysecurityinfo/methods/{adele_app.method.pk}/delete", follow=True)

    assert Method.objects.filter(pk=adele_app.method.pk).exists()
    assert messages_of(response) == [
        "You can&#x27;t delete your only sign-in method: your organisation requires multi-factor authentication "
        "for your account. Add another method first, then delete this one."]


def test_deleting_one_of_two_methods_keeps_the_other_as_default(adele_browser, adele, adele_app, enrol):
    second = enrol(adele)

    response = adele_browser.post(f"/mysecurityinfo/methods/{adele_app.method.pk}/delete", follow=True)

    assert messages_of(response) == ["The sign-in method was deleted."]
    assert list(Method.objects.filter(user=adele).values_list("pk", "is_default")) == [(second.method.pk, True)]


def test_deleting_a_method_needs_a_fresh_mfa(adele_browser, sign_in, adele, adele_app, enrol):
    enrol(adele)
    sign_in.make_mfa_stale(adele_browser)

    response = adele_browser.post(f"/mysecurityinfo/methods/{adele_app.method.pk}/delete")

    assert location(response).startswith("/signin/reverify")
    assert Method.objects.filter(pk=adele_app.method.pk).exists()


def test_a_person_cannot_delete_someone_elses_method(adele_browser, make_person, enrol):
    lee = make_person("Lee Gu")
    lees_app = enrol(lee)

    response = adele_browser.post(f"/mysecurityinfo/methods/{lees_app.method.pk}/delete", follow=True)

    assert messages_of(response) == ["That sign-in method does not exist."]
    assert Method.objects.filter(pk=lees_app.method.pk).exists()


def test_the_first_method_registered_is_the_default(adele_app):
    assert Method.objects.get(pk=adele_app.method.pk).is_default


def test_changing_the_default_method_makes_the_chosen_one_the_only_default(adele_browser, adele, adele_app, enrol):
    second = enrol(adele)
    assert adele_browser.get("/mysecurityinfo/default").status_code == 200

    response = adele_browser.post("/mysecurityinfo/default", {"method": second.method.pk}, follow=True)

    assert messages_of(response) == ["Your default sign-in method was changed."]
    assert list(Method.objects.filter(user=adele, is_default=True).values_list("pk", flat=True)) == [second.method.pk]


def test_a_person_cannot_choose_someone_elses_method_as_default(adele_browser, adele, adele_app, make_person, enrol):
    lees_app = enrol(make_person("Lee Gu"))

    response = adele_browser.post("/mysecurityinfo/default", {"method": lees_app.method.pk}, follow=True)

    assert messages_of(response) == ["That sign-in method does not exist."]
    assert Method.objects.get(pk=adele_app.method.pk).is_default
    assert Method.objects.get(pk=lees_app.method.pk).is_default  # Lee's own default is untouched


@pytest.mark.parametrize("value", ["", "abc", "99999999999999999999999", "-1", "1.5"])
def test_a_default_method_value_that_is_not_one_of_the_persons_methods_is_refused(adele_browser, adele_app, value):
    response = adele_browser.post("/mysecurityinfo/default", {"method": value}, follow=True)

    assert messages_of(response) == ["That sign-in method does not exist."]
    assert Method.objects.get(pk=adele_app.method.pk).is_default


def test_a_second_authenticator_app_is_added_from_security_info(adele_browser, adele, adele_app):
    assert location(adele_browser.post("/mysecurityinfo/add/authenticator?step=app", {"kind": "totp"})) == (
        "/mysecurityinfo/add/authenticator?step=scan")
    scan = adele_browser.get("/mysecurityinfo/add/authenticator?step=scan").content.decode()
    secret = re.search(r'id="secret-key">([A-Z2-7 ]+)<', scan).group(1).replace(" ", "")

    response = adele_browser.post("/mysecurityinfo/add/authenticator?step=code", {"code": pyotp.TOTP(secret).now()})

    assert location(response) == "/mysecurityinfo/add/authenticator?step=done"
    assert Method.objects.filter(user=adele, type="totp").count() == 2
    assert Method.objects.get(pk=adele_app.method.pk).is_default


def test_a_sixth_authenticator_app_is_refused_with_a_message(adele_browser, adele, adele_app, enrol):
    for _ in range(4):
        enrol(adele)

    response = adele_browser.post("/mysecurityinfo/add/authenticator?step=app", {"kind": "totp"})

    assert response.status_code == 200
    assert "You already have 5 authenticator apps. Delete one before adding another." in response.content.decode()
    assert Method.objects.filter(user=adele).count() == 5


def test_an_authenticator_set_up_left_over_ten_minutes_must_start_again(adele_browser, adele):
    adele_browser.post("/mysecurityinfo/add/authenticator?step=app", {"kind": "totp"})
    scan = adele_browser.get("/mysecurityinfo/add/authenticator?step=scan").content.decode()
    secret = re.search(r'id="secret-key">([A-Z2-7 ]+)<', scan).group(1).replace(" ", "")
    session = adele_browser.session
    session["watchword_enrol"]["started"] -= 601
    session.save()

    response = adele_browser.post("/mysecurityinfo/add/authenticator?step=code", {"code": pyotp.TOTP(secret).now()})

    assert "This set-up took too long. Start again to get a new QR code." in response.content.decode()
    assert Method.objects.filter(user=adele).count() == 1
    assert location(adele_browser.get("/mysecurityinfo/add/authenticator?step=code")) == (
        "/mysecurityinfo/add/authenticator?step=app")


def test_the_add_authenticator_wizard_cannot_be_jumped_to_done(adele_browser, adele):
    response = adele_browser.post("/mysecurityinfo/add/authenticator?step=done")

    assert location(response) == "/mysecurityinfo/add/authenticator?step=app"
    assert Method.objects.filter(user=adele).count() == 1
