"""Admin → Users for people synced from a directory (a real OpenLDAP server): what the directory
owns is read-only and says where to change it, a tampered post changes none of it, the role stays
editable, account state and password are not offered, and people who left can be restored from
Deleted people."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest
from django.test import Client

from tests.ldap_server import Slapd, unavailable_reason
from watchword.audit.models import AuditEvent
from watchword.directory.models import Role, User
from watchword.sync.engine import run_sync
from watchword.sync.services import create_connection, update_connection

_reason = unavailable_reason()
if _reason:
    pytest.skip(f"no OpenLDAP test server: {_reason}", allow_module_level=True)

pytestmark = pytest.mark.django_db

NOTE = "Managed by the directory corp; change it there. The change appears here after the next sync."
ADELE = "adele.vance@example.org"


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    with Slapd(tmp_path_factory.mktemp("slapd")) as server:
        server.add_person("adele.vance", given_name="Adele", sn="Vance", mail=ADELE, telephone="020 7946 0958",
                          mobile="07400 123456", password="Directory-Pass-71")
        server.add_person("lee.gu", given_name="Lee", sn="Gu", mail="lee.gu@example.org")
        yield server


@pytest.fixture
def corp(directory):
    """The connection, after its first sync."""
    connection = create_connection({
        "name": "corp", "flavour": "openldap", "url": directory.url, "bind_dn": directory.service_dn,
        "base_dns": directory.people_dn, "group_filter": "", "upn_domain": "example.org", "phone_country": "GB"},
        password=directory.service_password, actor="cli")
    assert run_sync(connection).status == "succeeded"
    return connection


@pytest.fixture
def adele(corp):
    return User.objects.get(upn=ADELE)


@pytest.fixture
def admin(sign_in, megan):
    client = Client()
    assert sign_in.password(client, megan.upn).status_code == 302
    return client


def page(response) -> str:
    return html.unescape(response.content.decode())


def input_tag(text: str, name: str) -> str:
    return re.search(rf'<(?:input|select)[^>]*name="{name}"[^>]*>', text).group(0)


def messages_of(response) -> str:
    match = re.search(r'<div class="messages" role="status">(.*?)</div>', page(response), re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)) if match else ""


# --- read-only attributes ------------------------------------------------------------------

def test_the_user_page_says_where_a_synced_person_comes_from(admin, adele):
    text = page(admin.get(f"/admin/users/{adele.pk}")).replace("<wbr>", "")

    assert re.search(r"Synced from <a [^>]*>corp</a> \(OpenLDAP / generic LDAP\) — DN <code>"
                     r"uid=adele\.vance,ou=london,ou=people,dc=example,dc=org</code>", text, re.I)


def test_what_the_directory_owns_is_read_only_with_a_note_and_the_role_is_not(admin, adele):
    text = page(admin.get(f"/admin/users/{adele.pk}"))

    for name in ("upn", "display_name", "email", "office_phone", "mobile_phone"):
        assert " disabled" in input_tag(text, name), name
    assert text.count(NOTE) == 5
    assert 'value="+44 2079460958"' in input_tag(text, "office_phone")
    assert " disabled" not in input_tag(text, "role")
    assert 'name="phone_country"' not in text  # both phones are the directory's: nothing to type


def test_a_tampered_post_changes_none_of_the_directorys_attributes(admin, adele):
    columns = ("upn", "display_name", "email", "office_phone", "mobile_phone", "role", "is_active")
    before = User.objects.filter(pk=adele.pk).values(*columns).get()

    admin.post(f"/admin/users/{adele.pk}", {
        "upn": "someone.else@example.org", "display_name": "Someone Else", "email": "x@example.org",
        "office_phone": "+44 20 7946 0000", "mobile_phone": "+44 7400 999999", "role": "user"})

    assert User.objects.filter(pk=adele.pk).values(*columns).get() == before


def test_the_role_of_a_synced_person_is_still_changed_here(admin, adele):
    response = admin.post(f"/admin/users/{adele.pk}", {
        "upn": ADELE, "display_name": "Adele Vance", "office_phone": "+44 20 7946 0000",
        "role": Role.AUTHENTICATION_ADMIN}, follow=True)

    assert "Changes saved." in messages_of(response)
    adele.refresh_from_db()
    assert (adele.role, adele.office_phone) == (Role.AUTHENTICATION_ADMIN, "+442079460958")


def test_a_person_managed_here_keeps_every_field_editable(admin, make_person):
    lynne = make_person("Lynne Robbins", office_phone="+44 20 7946 0123")

    text = page(admin.get(f"/admin/users/{lynne.pk}"))

    assert " disabled" not in input_tag(text, "office_phone")
    assert "Synced from" not in text and NOTE not in text


# --- account state and password ------------------------------------------------------------

def test_reset_password_and_disable_are_not_offered_and_the_page_says_why(admin, adele):
    text = page(admin.get(f"/admin/users/{adele.pk}"))

    assert f'href="/admin/users/{adele.pk}/reset-password"' not in text
    assert f'href="/admin/users/{adele.pk}/disable"' not in text
    assert "Their password is checked by the directory corp (pass-through), so it is reset there" in text
    assert f"The account state of {ADELE} is managed by the directory (corp). Change it there" in text


@pytest.mark.parametrize("action", ["reset-password", "disable"])
def test_the_confirmation_of_a_directory_owned_action_sends_back_with_the_reason(admin, adele, action):
    response = admin.get(f"/admin/users/{adele.pk}/{action}", follow=True)

    assert "is managed by the directory (corp)" in messages_of(response)
    assert "<form method=\"post\" action=\"/admin/users/" not in page(response).split("<h1>")[1][:200]


def test_a_posted_password_reset_is_refused_by_the_service_with_its_message(admin, adele):
    before = User.objects.filter(pk=adele.pk).values("password", "session_epoch").get()

    response = admin.post(f"/admin/users/{adele.pk}/reset-password", follow=True)

    assert f"The password of {ADELE} is managed by the directory (corp)." in messages_of(response)
    assert "one-time-password" not in page(response)
    assert User.objects.filter(pk=adele.pk).values("password", "session_epoch").get() == before


def test_a_posted_disable_is_refused_and_the_person_stays_enabled(admin, adele):
    response = admin.post(f"/admin/users/{adele.pk}/disable", follow=True)

    assert f"The account state of {ADELE} is managed by the directory (corp)." in messages_of(response)
    adele.refresh_from_db()
    assert adele.is_active


# --- deleted people ------------------------------------------------------------------------

@pytest.fixture
def adele_left(corp, adele):
    """Adele falls out of the connection's scope; the next (full) sync soft-deletes her."""
    update_connection(corp, {"user_filter": "(&(objectClass=inetOrgPerson)(!(uid=adele.vance)))"}, actor="cli")
    corp.refresh_from_db()
    run = run_sync(corp)
    assert (run.status, run.deleted) == ("succeeded", 1)
    adele.refresh_from_db()
    assert adele.deleted_at is not None
    return adele


def test_deleted_people_are_listed_with_their_connection_and_how_long_they_can_be_restored(admin, adele_left):
    response = admin.get("/admin/users/deleted")

    text = page(response)
    row = re.search(r"<tr>\s*<td>Adele Vance</td>.*?</tr>", text, re.S).group(0)
    assert ADELE in row and "corp (OpenLDAP / generic LDAP)" in row
    until = adele_left.deleted_at + timedelta(days=30)
    assert until.strftime("%-d %b %Y") in row
    assert f'href="/admin/users/deleted/{adele_left.pk}/restore"' in row
    assert ADELE not in page(admin.get("/admin/users"))
    assert admin.get(f"/admin/users/{adele_left.pk}").status_code == 404


def test_the_user_list_links_the_deleted_people(admin):
    assert 'href="/admin/users/deleted"' in page(admin.get("/admin/users"))


def test_restoring_asks_first_then_shows_a_one_time_password_once(admin, adele_left):
    confirm = admin.get(f"/admin/users/deleted/{adele_left.pk}/restore")
    assert "Restore this person?" in page(confirm) and "one-time password" in page(confirm)
    assert User.objects.get(pk=adele_left.pk).deleted_at is not None

    response = admin.post(f"/admin/users/deleted/{adele_left.pk}/restore")

    one_time = re.search(r'id="one-time-password">([^<]+)<', page(response)).group(1)
    person = User.objects.get(pk=adele_left.pk)
    assert person.deleted_at is None and person.is_active and person.directory_connection_id is None
    assert person.must_change_password and person.check_password(one_time)
    assert AuditEvent.objects.filter(action="user.restore", target_id=str(person.pk)).exists()
    assert ADELE not in page(admin.get("/admin/users/deleted")).split("<tbody>")[1]
    again = admin.post(f"/admin/users/deleted/{adele_left.pk}/restore", follow=True)
    assert "There is no such deleted person" in messages_of(again)


def test_an_authentication_administrator_sees_deleted_people_but_an_ordinary_person_does_not(
        sign_in, alex, make_person, adele_left):
    helpdesk, staff = Client(), Client()
    sign_in.password(helpdesk, alex.upn)
    sign_in.password(staff, make_person("Diego Siciliani").upn)

    assert helpdesk.get("/admin/users/deleted").status_code == 200
    assert staff.get("/admin/users/deleted").status_code == 403
    assert staff.post(f"/admin/users/deleted/{adele_left.pk}/restore").status_code == 403
    assert User.objects.get(pk=adele_left.pk).deleted_at is not None
