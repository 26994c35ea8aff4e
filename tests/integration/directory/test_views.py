"""Admin pages for people: who may see them, per-user MFA actions as an admin clicks them, and
what each action does to the person's sessions."""

from __future__ import annotations

import pytest
from django.test import Client

from watchword.directory.models import MfaState, Role, User
from watchword.methods.models import Method
from watchword.methods.services import set_mfa_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in(sign_in):
    """A browser in which ``person`` signed in with their password (per-user MFA disabled)."""

    def browser_of(person) -> Client:
        client = Client()
        response = sign_in.password(client, person.upn)
        assert response.status_code == 302 and response["Location"] == "/myaccount", response
        return client

    return browser_of


ADMIN_PAGES = ["/admin/users", "/admin/users/new", "/admin/users/import", "/admin/users/{adele}", "/admin/signins",
               "/admin/audit", "/admin/mail"]
ADMIN_ACTIONS = ["mfa-state", "reregister", "revoke", "reset-password", "disable", "enable"]


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_an_anonymous_visitor_to_an_admin_page_is_sent_to_sign_in(client, adele, page):
    url = page.format(adele=adele.pk)

    response = client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/signin?next=")


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_a_person_without_an_admin_role_gets_403_on_an_admin_page(signed_in, adele, page):
    response = signed_in(adele).get(page.format(adele=adele.pk))

    assert response.status_code == 403


@pytest.mark.parametrize("page", ADMIN_PAGES)
def test_a_global_administrator_can_open_every_admin_page(signed_in, megan, adele, page):
    assert signed_in(megan).get(page.format(adele=adele.pk)).status_code == 200


@pytest.mark.parametrize("action", ADMIN_ACTIONS)
def test_a_person_without_an_admin_role_cannot_post_an_admin_action(signed_in, adele, make_person, action):
    lee = make_person("Lee Gu")
    before = User.objects.filter(pk=lee.pk).values().get()

    response = signed_in(adele).post(f"/admin/users/{lee.pk}/{action}", {"mfa_state": "enforced"})

    assert response.status_code == 403
    assert User.objects.filter(pk=lee.pk).values().get() == before


@pytest.mark.parametrize("action", ADMIN_ACTIONS)
def test_an_anonymous_post_of_an_admin_action_is_sent_to_sign_in_and_changes_nothing(client, adele, action):
    before = User.objects.filter(pk=adele.pk).values().get()

    response = client.post(f"/admin/users/{adele.pk}/{action}", {"mfa_state": "enforced"})

    assert response.status_code == 302 and response["Location"].startswith("/signin")
    assert User.objects.filter(pk=adele.pk).values().get() == before


def test_an_admin_turns_mfa_on_for_a_person_from_their_page(signed_in, megan, adele):
    response = signed_in(megan).post(f"/admin/users/{adele.pk}/mfa-state", {"mfa_state": "enabled"}, follow=True)

    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.ENABLED
    assert "Per-user MFA state updated." in response.content.decode()


def test_enabling_mfa_for_a_person_who_has_a_method_makes_them_enforced(signed_in, megan, adele, enrol):
    enrol(adele)

    signed_in(megan).post(f"/admin/users/{adele.pk}/mfa-state", {"mfa_state": "enabled"})

    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.ENFORCED


def test_an_unknown_mfa_state_is_refused_with_a_message(signed_in, megan, adele):
    response = signed_in(megan).post(f"/admin/users/{adele.pk}/mfa-state", {"mfa_state": "sometimes"}, follow=True)

    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.DISABLED
    assert "The MFA state must be disabled, enabled or enforced." in response.content.decode()


def test_bulk_enforcing_mfa_changes_only_the_selected_people(signed_in, megan, adele, make_person):
    lee, diego = make_person("Lee Gu"), make_person("Diego Siciliani")

    response = signed_in(megan).post("/admin/users", {"action": "enforce", "user": [adele.pk, lee.pk]}, follow=True)

    states = dict(User.objects.values_list("upn", "mfa_state"))
    assert states[adele.upn] == states[lee.upn] == MfaState.ENFORCED
    assert states[diego.upn] == MfaState.DISABLED
    assert "MFA state updated for 2 people." in response.content.decode()


def test_a_bulk_action_by_an_authentication_administrator_skips_the_admins(signed_in, alex, megan, adele):
    response = signed_in(alex).post("/admin/users", {"action": "enforce", "user": [adele.pk, megan.pk]}, follow=True)

    states = dict(User.objects.values_list("upn", "mfa_state"))
    assert (states[adele.upn], states[megan.upn]) == (MfaState.ENFORCED, MfaState.DISABLED)
    assert "1 skipped (not found, or you may not manage them)." in response.content.decode()


def test_revoking_mfa_sessions_signs_the_person_out_of_a_browser_already_signed_in(signed_in, megan, adele):
    adele_browser = signed_in(adele)
    assert adele_browser.get("/myaccount").status_code == 200

    signed_in(megan).post(f"/admin/users/{adele.pk}/revoke")

    response = adele_browser.get("/myaccount")
    assert response.status_code == 302 and response["Location"].startswith("/signin")


def test_revoking_one_persons_sessions_leaves_other_people_signed_in(signed_in, megan, adele, make_person):
    lee = make_person("Lee Gu")
    lee_browser = signed_in(lee)

    signed_in(megan).post(f"/admin/users/{adele.pk}/revoke")

    assert lee_browser.get("/myaccount").status_code == 200


def test_requiring_re_registration_deletes_the_methods_and_asks_to_register_again(signed_in, megan, adele, enrol):
    set_mfa_state(adele, "enabled", actor=megan, notify=False)
    enrol(adele)
    adele.refresh_from_db()
    assert adele.mfa_state == MfaState.ENFORCED

    signed_in(megan).post(f"/admin/users/{adele.pk}/reregister")

    adele.refresh_from_db()
    assert not Method.objects.filter(user=adele).exists()
    assert adele.mfa_state == MfaState.ENABLED  # so the next sign-in shows "More information required"


def test_requiring_re_registration_signs_the_person_out(signed_in, megan, adele, enrol):
    adele_browser = signed_in(adele)
    enrol(adele)

    signed_in(megan).post(f"/admin/users/{adele.pk}/reregister")

    response = adele_browser.get("/myaccount")
    assert response.status_code == 302 and response["Location"].startswith("/signin")


def test_disabling_an_account_signs_the_person_out(signed_in, megan, adele):
    adele_browser = signed_in(adele)

    signed_in(megan).post(f"/admin/users/{adele.pk}/disable")

    adele.refresh_from_db()
    assert not adele.is_active
    assert adele_browser.get("/myaccount").status_code == 302


def test_the_last_global_administrator_cannot_disable_their_own_account_from_the_page(signed_in, megan):
    response = signed_in(megan).post(f"/admin/users/{megan.pk}/disable", follow=True)

    megan.refresh_from_db()
    assert megan.is_active
    assert "This is the last enabled Global Administrator; keep at least one." in response.content.decode()


def test_resetting_a_password_shows_the_one_time_password_once(signed_in, megan, adele):
    response = signed_in(megan).post(f"/admin/users/{adele.pk}/reset-password")

    adele.refresh_from_db()
    one_time = next(word for word in response.content.decode().replace("<", " ").replace(">", " ").split()
                    if len(word) == 19 and word.count("-") == 3)
    assert adele.check_password(one_time)


def test_an_authentication_administrator_cannot_open_a_global_administrators_page(signed_in, alex, megan):
    response = signed_in(alex).get(f"/admin/users/{megan.pk}")

    assert response.status_code == 404


def test_an_authentication_administrator_cannot_act_on_a_global_administrator(signed_in, alex, megan):
    signed_in(alex).post(f"/admin/users/{megan.pk}/reset-password")

    megan.refresh_from_db()
    assert not megan.must_change_password


def test_an_authentication_administrator_cannot_create_an_admin_from_the_new_user_page(signed_in, alex):
    response = signed_in(alex).post("/admin/users/new", {
        "upn": "lee.gu@contoso.example", "display_name": "Lee Gu", "role": Role.GLOBAL_ADMIN})

    assert response.status_code == 200  # the form again, with the error
    assert not User.objects.filter(upn="lee.gu@contoso.example").exists()


def test_an_authentication_administrator_cannot_promote_a_person_from_their_page(signed_in, alex, adele):
    signed_in(alex).post(f"/admin/users/{adele.pk}", {
        "upn": adele.upn, "display_name": "Adele Vance", "role": Role.GLOBAL_ADMIN})

    adele.refresh_from_db()
    assert adele.role == Role.USER


def test_a_bad_field_on_the_new_user_page_is_shown_beside_that_field(signed_in, megan):
    response = signed_in(megan).post("/admin/users/new", {
        "upn": "lee.gu@contoso.example", "display_name": "Lee Gu", "role": "user", "mobile_phone": "call me"})

    page = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_mobile_phone-error"' in page
    assert "Mobile phone: This is not a phone number." in page
    assert not User.objects.filter(upn="lee.gu@contoso.example").exists()


def test_a_number_without_a_country_code_is_read_in_the_country_picked(signed_in, megan):
    page = signed_in(megan).get("/admin/users/new").content.decode()
    assert '<option value="GB" selected>United Kingdom (+44)</option>' in page  # the installation's default

    signed_in(megan).post("/admin/users/new", {
        "upn": "lee.gu@contoso.example", "display_name": "Lee Gu", "role": "user", "phone_country": "US",
        "mobile_phone": "(425) 555-0100", "office_phone": "+44 20 7946 0958 x12"})

    lee = User.objects.get(upn="lee.gu@contoso.example")
    assert (lee.mobile_phone, lee.office_phone) == ("+14255550100", "+442079460958x12")


def test_importing_a_csv_file_on_the_admin_page_lists_rows_with_problems_by_line(signed_in, megan):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("people.csv", b"upn,display_name\nadele.vance@contoso.example,Adele Vance\n"
                                              b"not-an-email,Somebody\n", content_type="text/csv")

    response = signed_in(megan).post("/admin/users/import", {"file": upload})

    page = response.content.decode()
    assert "<td>3</td><td>A sign-in name looks like name@example.org.</td>" in page
    assert User.objects.filter(upn="adele.vance@contoso.example").exists()


def test_importing_a_file_that_is_not_utf8_on_the_admin_page_shows_why(signed_in, megan):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile("people.csv", "upn,display_name\nadele@contoso.example,Adèle\n".encode("cp1252"))

    response = signed_in(megan).post("/admin/users/import", {"file": upload})

    assert response.status_code == 200
    assert "The file is not UTF-8 text." in response.content.decode()
