"""Admin → Directory sync against a real OpenLDAP server: who may open it, adding a connection
(each bad setting named next to its field, nothing saved), testing it in words, running syncs
from the page, a run's warnings, the deletion threshold and its confirmation, and removing."""

from __future__ import annotations

import html
import re

import pytest
from django.test import Client
from django.utils import timezone

from tests.ldap_server import Slapd, free_port, unavailable_reason
from watchword.audit.models import AuditEvent
from watchword.directory.models import User
from watchword.sync.engine import run_sync
from watchword.sync.models import DirectoryConnection, SyncRun, SyncWarning
from watchword.sync.services import bind_password, create_connection

_reason = unavailable_reason()
if _reason:
    pytest.skip(f"no OpenLDAP test server: {_reason}", allow_module_level=True)

pytestmark = pytest.mark.django_db

ADELE_PASSWORD = "Directory-Pass-71"


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    """A small organisation: Adele and Lee in London, Zoë in Paris (her office phone is only five
    digits: a warning), all in the group staff."""
    with Slapd(tmp_path_factory.mktemp("slapd")) as server:
        adele = server.add_person("adele.vance", given_name="Adele", sn="Vance", mail="adele.vance@example.org",
                                  telephone="020 7946 0958", mobile="07400 123456", password=ADELE_PASSWORD)
        lee = server.add_person("lee.gu", given_name="Lee", sn="Gu", mail="lee.gu@example.org",
                                telephone="+44 20 7946 0111")
        zoe = server.add_person("zoe.angstrom", ou="paris", given_name="Zoë", sn="Ångström", telephone="12345")
        server.add_group("staff", [adele, lee, zoe])
        yield server


def settings_for(directory: Slapd, **overrides) -> dict:
    """The add-connection form as an administrator fills it in for the test directory."""
    values = {
        "name": "corp", "flavour": "openldap", "url": directory.url, "bind_dn": directory.service_dn,
        "bind_password": directory.service_password, "base_dns": f"{directory.people_dn}\n{directory.groups_dn}",
        "user_filter": "", "sync_groups": "on", "group_filter": "", "upn_domain": "example.org",
        "phone_country": "GB", "enabled": "on", "interval_minutes": "30", "poll_seconds": "10",
        "delete_threshold": "500", "delete_threshold_percent": "", "password_passthrough": "on",
        "timeout_seconds": "5", "ca_certificate": "", "action": "save",
    }
    values.update(overrides)
    return {key: value for key, value in values.items() if value is not None}


def connect(directory: Slapd, **overrides) -> DirectoryConnection:
    data = {"name": "corp", "flavour": "openldap", "url": directory.url, "bind_dn": directory.service_dn,
            "base_dns": f"{directory.people_dn}\n{directory.groups_dn}", "upn_domain": "example.org",
            "phone_country": "GB", "timeout_seconds": 5, **overrides}
    return create_connection(data, password=directory.service_password, actor="cli")


def page(response) -> str:
    return html.unescape(response.content.decode())


def field_error(response, field: str) -> str:
    match = re.search(rf'id="id_{field}_error" role="alert">(.*?)</p>', page(response), re.S)
    return match.group(1).strip() if match else ""


def messages_of(response) -> str:
    match = re.search(r'<div class="messages" role="status">(.*?)</div>', page(response), re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)) if match else ""


@pytest.fixture
def browser_of(sign_in):
    def signed_in(person) -> Client:
        client = Client()
        response = sign_in.password(client, person.upn)
        assert response.status_code == 302, page(response)[:500]
        return client

    return signed_in


@pytest.fixture
def megan_browser(browser_of, megan):
    return browser_of(megan)


# --- who may open the pages ----------------------------------------------------------------

PAGES = ["/admin/directory-sync", "/admin/directory-sync/new", "/admin/directory-sync/{c}",
         "/admin/directory-sync/{c}/edit", "/admin/directory-sync/{c}/remove", "/admin/directory-sync/runs/{r}",
         "/admin/directory-sync/runs/{r}/apply-deletions"]


@pytest.fixture
def stopped_run(directory):
    """A connection whose last run was stopped by the deletion threshold (recorded, not run)."""
    connection = connect(directory)
    now = timezone.now()
    run = SyncRun.objects.create(connection=connection, kind="full", reconcile=True, status=SyncRun.Status.STOPPED,
                                 started_at=now, finished_at=now, pending_deletes=3,
                                 error="3 people are no longer in the directory's scope, more than the deletion "
                                       "threshold (1); nobody was deleted.")
    return connection, run


def address(template: str, stopped_run) -> str:
    connection, run = stopped_run
    return template.format(c=connection.pk, r=run.pk)


@pytest.mark.parametrize("template", PAGES)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, stopped_run, template):
    response = client.get(address(template, stopped_run))

    assert response.status_code == 302 and response["Location"].startswith("/signin?next=")


@pytest.mark.parametrize("template", PAGES)
def test_an_authentication_administrator_gets_403(browser_of, alex, stopped_run, template):
    assert browser_of(alex).get(address(template, stopped_run)).status_code == 403


@pytest.mark.parametrize("template", PAGES)
def test_a_global_administrator_opens_every_page(megan_browser, stopped_run, template):
    assert megan_browser.get(address(template, stopped_run)).status_code == 200


def test_an_authentication_administrator_cannot_run_change_or_remove_a_connection(browser_of, alex, directory):
    connection = connect(directory)
    client = browser_of(alex)

    responses = [client.post(f"/admin/directory-sync/{connection.pk}/run", {"kind": "full"}),
                 client.post(f"/admin/directory-sync/{connection.pk}/edit", settings_for(directory, name="mine")),
                 client.post(f"/admin/directory-sync/{connection.pk}/remove"),
                 client.post("/admin/directory-sync/new", settings_for(directory, name="other"))]

    assert [r.status_code for r in responses] == [403] * 4
    assert list(DirectoryConnection.objects.values_list("name", flat=True)) == ["corp"]
    assert not SyncRun.objects.exists() and not User.objects.filter(directory_connection=connection).exists()


def test_the_admin_navigation_links_directory_sync_for_global_administrators_only(browser_of, megan, alex):
    assert 'href="/admin/directory-sync"' in page(browser_of(megan).get("/admin/users"))
    assert 'href="/admin/directory-sync"' not in page(browser_of(alex).get("/admin/users"))


# --- adding a connection -------------------------------------------------------------------

@pytest.mark.parametrize(("field", "value", "message"), [
    ("name", "corp ad!", "A name is letters, digits, dots, dashes and underscores"),
    ("flavour", "novell", "Choose the directory: Active Directory or OpenLDAP"),
    ("url", "http://dc1.example.org", "The server URL starts with ldap:// or ldaps://"),
    ("start_tls", "on", "StartTLS is for ldap:// URLs"),
    ("ca_certificate", "not a certificate", "The CA certificate must be PEM text"),
    ("bind_dn", "watchword service", "is not a valid DN"),
    ("bind_password", "", "Enter the bind password."),
    ("base_dns", "", "Enter the base dns."),
    ("user_filter", "(objectClass=person", "user filter"),
    ("upn_domain", "not a domain", "The sign-in domain is a domain name like example.org."),
    ("phone_country", "XX", "Choose a country from the list."),
    ("interval_minutes", "0", "The sync interval (minutes) must be between 1 and 10080."),
    ("poll_seconds", "often", "The continuous poll interval (seconds) must be a whole number."),
    ("delete_threshold_percent", "101", "The deletion threshold (percent) must be between 1 and 100."),
    ("timeout_seconds", "600", "The timeout (seconds) must be between 1 and 120."),
    ("map_mobile_phone", "mobile phone!", "is not an LDAP attribute name (mobile phone)"),
    ("map_id", "-", "The immutable id attribute cannot be switched off."),
])
def test_a_bad_setting_is_named_next_to_its_field_and_nothing_is_saved(megan_browser, directory, field, value,
                                                                       message):
    values = settings_for(directory, **{field: value})
    if field == "start_tls":
        values["url"] = "ldaps://127.0.0.1:636"

    response = megan_browser.post("/admin/directory-sync/new", values)

    assert response.status_code == 400
    assert message in field_error(response, field)
    assert "Nothing was saved. Check this setting:" in page(response)
    assert not DirectoryConnection.objects.exists()


def test_a_second_connection_with_the_same_name_is_refused_at_the_name(megan_browser, directory):
    connect(directory)

    response = megan_browser.post("/admin/directory-sync/new", settings_for(directory))

    assert field_error(response, "name") == "A directory connection with this name already exists."
    assert DirectoryConnection.objects.count() == 1


def test_a_good_connection_is_saved_with_its_password_sealed_and_never_shown(megan_browser, directory):
    response = megan_browser.post("/admin/directory-sync/new", settings_for(
        directory, map_mobile_phone="telephoneNumber", map_display_name="-", delete_threshold_percent="10"))

    connection = DirectoryConnection.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/admin/directory-sync/{connection.pk}"
    assert (connection.flavour, connection.user_filter) == ("openldap", "(objectClass=inetOrgPerson)")
    assert connection.group_filter == "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))"
    assert connection.mapping == {"mobile_phone": "telephoneNumber", "display_name": ""}
    assert connection.delete_threshold_percent == 10
    assert directory.service_password not in connection.bind_password_sealed
    assert bind_password(connection) == directory.service_password
    assert AuditEvent.objects.filter(action="sync.connection.create").exists()
    edit = page(megan_browser.get(f"/admin/directory-sync/{connection.pk}/edit"))
    detail = page(megan_browser.get(f"/admin/directory-sync/{connection.pk}"))
    assert directory.service_password not in edit and directory.service_password not in detail
    assert 'value="telephoneNumber"' in edit and 'name="map_display_name" value="-"' in edit


def test_the_filters_show_the_flavours_defaults_as_placeholders(megan_browser):
    new = page(megan_browser.get("/admin/directory-sync/new"))
    openldap = page(megan_browser.post("/admin/directory-sync/new", {"flavour": "openldap"}))

    assert re.search(r'name="user_filter"[^>]*placeholder="\(&\(objectCategory=person\)\(objectClass=user\)', new)
    assert re.search(r'name="map_upn"[^>]*placeholder="userPrincipalName"', new)
    assert re.search(r'name="user_filter"[^>]*placeholder="\(objectClass=inetOrgPerson\)"', openldap)
    assert re.search(r'name="map_upn"[^>]*placeholder="uid"', openldap)
    assert "Active Directory: objectGUID · OpenLDAP: entryUUID" in new


def test_editing_with_an_empty_password_keeps_the_stored_one(megan_browser, directory):
    connection = connect(directory)

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/edit",
                                  settings_for(directory, bind_password="", interval_minutes="45"))

    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.interval_minutes == 45 and bind_password(connection) == directory.service_password


# --- testing a connection ------------------------------------------------------------------

def test_testing_good_settings_shows_each_step_passed_and_saves_nothing(megan_browser, directory):
    response = megan_browser.post("/admin/directory-sync/new", settings_for(directory, action="test"))

    text = page(response)
    assert response.status_code == 200
    assert "Connection test: everything works" in text
    assert f"✓ Passed Connect and bind Bound as {directory.service_dn} (no encryption)." in \
        re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", text))
    assert "Base DN ou=people,dc=example,dc=org" in text and "entries found, for example" in text
    assert "✗" not in text
    assert not DirectoryConnection.objects.exists()


@pytest.mark.parametrize(("overrides", "step", "message"), [
    ({"bind_password": "not-the-password"}, "Connect and bind",
     "The directory refused the bind DN and password (invalid credentials)."),
    ({"base_dns": "ou=nowhere,dc=example,dc=org"}, "Base DN ou=nowhere,dc=example,dc=org", "ou=nowhere"),
    ({"url": "ldap://127.0.0.1:{port}"}, "Connect and bind", "cannot be reached: nothing answers there"),
])
def test_testing_bad_settings_says_which_step_failed_in_words(megan_browser, directory, overrides, step, message):
    overrides = {k: v.format(port=free_port()) for k, v in overrides.items()}

    response = megan_browser.post("/admin/directory-sync/new", settings_for(directory, action="test", **overrides))

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page(response)))
    assert "Connection test: a step failed" in text
    assert f"✗ Failed {step}" in text and message in text
    assert not DirectoryConnection.objects.exists()


def test_testing_a_saved_connection_uses_the_stored_password_when_none_is_typed(megan_browser, directory):
    connection = connect(directory)

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/edit",
                                  settings_for(directory, action="test", bind_password=""))

    assert "Connection test: everything works" in page(response)


@pytest.mark.parametrize("action", ["save", "test"])
def test_the_stored_password_never_goes_to_a_changed_server_unless_typed_again(megan_browser, directory, action):
    connection = connect(directory)

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/edit", settings_for(
        directory, action=action, bind_password="", url="ldap://collector.example:389"))

    assert response.status_code == 400
    assert field_error(response, "bind_password").startswith("Type the bind password again")
    connection.refresh_from_db()
    assert connection.url == directory.url


def test_testing_a_new_connection_without_a_password_asks_for_it(megan_browser, directory):
    response = megan_browser.post("/admin/directory-sync/new",
                                  settings_for(directory, action="test", bind_password=""))

    assert field_error(response, "bind_password") == "Type the bind password to test the connection."


# --- running syncs from the page -----------------------------------------------------------

def test_run_now_imports_the_directory_and_the_history_shows_the_run(megan_browser, directory):
    connection = connect(directory)

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/run", {"kind": "delta"}, follow=True)

    assert "Run now finished: 3 added, 0 updated, 0 deleted, 1 warning." in messages_of(response)
    assert set(User.objects.filter(directory_connection=connection).values_list("upn", flat=True)) == {
        "adele.vance@example.org", "lee.gu@example.org", "zoe.angstrom@example.org"}
    run = SyncRun.objects.get()
    assert (run.kind, run.trigger, run.status) == ("full", "manual", "succeeded")
    assert f'href="/admin/directory-sync/runs/{run.pk}"' in page(response)
    listing = page(megan_browser.get("/admin/directory-sync"))
    assert "every 30 min" in listing and "Succeeded" in listing and "3 added" in listing


def test_a_second_run_now_is_a_delta_that_changes_nothing(megan_browser, directory):
    connection = connect(directory)
    run_sync(connection)

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/run", {"kind": "delta"}, follow=True)

    assert "Run now finished: 0 added, 0 updated, 0 deleted" in messages_of(response)
    assert SyncRun.objects.order_by("-id").first().kind == "delta"


def test_a_full_import_reads_everyone_again(megan_browser, directory):
    connection = connect(directory)
    run_sync(connection)

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/run", {"kind": "full"}, follow=True)

    assert "Full import finished: 0 added, 0 updated, 0 deleted" in messages_of(response)
    run = SyncRun.objects.order_by("-id").first()
    assert (run.kind, run.unchanged) == ("full", 3)


def test_a_dry_run_reports_what_would_change_and_changes_nothing(megan_browser, directory):
    connection = connect(directory)

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/run", {"kind": "dry-run"}, follow=True)

    assert "Dry run finished; nothing was changed. A full import would have: 3 added" in messages_of(response)
    assert not User.objects.filter(directory_connection=connection).exists()
    assert SyncRun.objects.get().dry_run
    assert "Full import (dry run)" in page(response)


def test_a_run_while_another_is_running_says_so(megan_browser, directory):
    connection = connect(directory)
    DirectoryConnection.objects.filter(pk=connection.pk).update(
        lock_owner="scheduler-host:4242", lock_expires=timezone.now() + timezone.timedelta(minutes=5))

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/run", {"kind": "delta"}, follow=True)

    assert "A sync of corp is already running" in messages_of(response)
    assert not SyncRun.objects.exists()


def test_an_unknown_run_kind_or_a_get_runs_nothing(megan_browser, directory):
    connection = connect(directory)

    megan_browser.post(f"/admin/directory-sync/{connection.pk}/run", {"kind": "everything"})
    megan_browser.get(f"/admin/directory-sync/{connection.pk}/run")

    assert not SyncRun.objects.exists()


def test_a_failed_run_shows_its_error(megan_browser, directory):
    connection = connect(directory, url=f"ldap://127.0.0.1:{free_port()}")

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/run", {"kind": "delta"}, follow=True)

    assert "Run now failed:" in messages_of(response) and "cannot be reached" in messages_of(response)
    assert "Failed" in page(response)


# --- a run's details -----------------------------------------------------------------------

def test_the_run_page_lists_its_warnings_with_person_dn_attribute_and_value(megan_browser, directory):
    run = run_sync(connect(directory))

    text = page(megan_browser.get(f"/admin/directory-sync/runs/{run.pk}")).replace("<wbr>", "")

    warning = SyncWarning.objects.get(run=run)
    assert warning.attribute == "telephoneNumber" and warning.value == "12345"
    row = re.search(r"<tr><td>[^<]*</td><td><code>uid=zoe.angstrom.*?</tr>", text, re.S | re.I).group(0)
    assert "telephoneNumber" in row and "<code>12345</code>" in row and warning.message in row
    assert "People added</dt><dd>3" in text


def test_the_run_page_shows_warnings_a_hundred_at_a_time(megan_browser, directory):
    run = run_sync(connect(directory))
    SyncWarning.objects.bulk_create([SyncWarning(run=run, dn=f"uid=p{i},ou=people,dc=example,dc=org",
                                                 person=f"p{i}", message="Made up") for i in range(150)])

    first = page(megan_browser.get(f"/admin/directory-sync/runs/{run.pk}"))
    second = page(megan_browser.get(f"/admin/directory-sync/runs/{run.pk}?page=2"))

    # Zoë's real warning comes first: 100 rows on page 1, 51 on page 2.
    assert first.count("Made up") == 99 and second.count("Made up") == 51
    assert "Page 1 of 2 (151 rows)" in first


def test_an_unknown_run_or_connection_is_a_plain_not_found(megan_browser):
    for url in ("/admin/directory-sync/runs/999999", "/admin/directory-sync/999999",
                "/admin/directory-sync/99999999999999999999999", "/admin/directory-sync/runs/99999999999999999999"):
        assert megan_browser.get(url).status_code == 404


# --- the deletion threshold ----------------------------------------------------------------

def test_a_run_stopped_by_the_threshold_offers_to_apply_the_deletions_after_confirming(megan_browser, directory):
    connection = connect(directory, delete_threshold=1)
    run_sync(connection)
    megan_browser.post(f"/admin/directory-sync/{connection.pk}/edit", settings_for(
        directory, delete_threshold="1", user_filter="(&(objectClass=inetOrgPerson)(l=Atlantis))"))

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/run", {"kind": "delta"}, follow=True)

    stopped = SyncRun.objects.order_by("-id").first()
    assert (stopped.status, stopped.pending_deletes) == ("stopped_deletion_threshold", 3)
    assert "more than the deletion threshold (1); nobody was deleted" in messages_of(response)
    assert "Apply the 3 deletions" in page(response)
    assert User.objects.filter(directory_connection=connection, deleted_at__isnull=True).count() == 3

    confirm = page(megan_browser.get(f"/admin/directory-sync/runs/{stopped.pk}/apply-deletions"))
    assert "Apply the 3 deletions?" in confirm and "can be restored, with their sign-in methods" in confirm
    assert User.objects.filter(directory_connection=connection, deleted_at__isnull=True).count() == 3

    response = megan_browser.post(f"/admin/directory-sync/runs/{stopped.pk}/apply-deletions", follow=True)

    assert "Full import finished: 0 added, 0 updated, 3 deleted" in messages_of(response)
    assert User.objects.filter(directory_connection=connection, deleted_at__isnull=False).count() == 3


def test_deletions_of_an_older_stopped_run_cannot_be_applied(megan_browser, directory, stopped_run):
    connection, stopped = stopped_run
    run_sync(connection)

    response = megan_browser.post(f"/admin/directory-sync/runs/{stopped.pk}/apply-deletions", follow=True)

    assert "These deletions can no longer be applied" in messages_of(response)
    assert SyncRun.objects.filter(connection=connection).count() == 2


# --- removing ------------------------------------------------------------------------------

def test_removing_a_connection_asks_first_and_keeps_its_people_as_watchword_managed(megan_browser, directory):
    connection = connect(directory)
    run_sync(connection)

    confirm = page(megan_browser.get(f"/admin/directory-sync/{connection.pk}/remove"))
    assert "3 people stay in Watchword" in confirm and "needs a password reset" in confirm
    assert DirectoryConnection.objects.exists()

    response = megan_browser.post(f"/admin/directory-sync/{connection.pk}/remove", follow=True)

    assert "Connection corp removed. Its 3 people stay" in messages_of(response)
    assert not DirectoryConnection.objects.exists()
    adele = User.objects.get(upn="adele.vance@example.org")
    assert adele.directory_connection_id is None and adele.managed_fields() == frozenset()
    assert AuditEvent.objects.filter(action="sync.connection.delete").exists()


# --- hostile input -------------------------------------------------------------------------

FORM_FIELDS = ["name", "flavour", "url", "start_tls", "ca_certificate", "bind_dn", "bind_password", "base_dns",
               "user_filter", "sync_groups", "group_filter", "upn_domain", "phone_country", "enabled",
               "interval_minutes", "continuous", "poll_seconds", "delete_threshold", "delete_threshold_percent",
               "password_passthrough", "timeout_seconds", "map_id", "map_upn", "map_mobile_phone", "action"]


@pytest.mark.parametrize("action", ["save", "test"])
@pytest.mark.parametrize("value", ["x" * 100_000, "adele\x00vance", "\u202e\u0007\x1b[2J"],
                         ids=["over-long", "NUL", "controls"])
def test_the_connection_form_posted_with_hostile_values_answers_without_a_server_error(megan_browser, value,
                                                                                        action):
    response = megan_browser.post("/admin/directory-sync/new", {**{f: value for f in FORM_FIELDS}, "action": action})

    assert response.status_code == 400
    assert not DirectoryConnection.objects.exists()


@pytest.mark.parametrize("field", FORM_FIELDS)
def test_one_hostile_field_in_a_good_form_is_refused_at_that_field(megan_browser, directory, field):
    response = megan_browser.post("/admin/directory-sync/new", settings_for(directory, **{field: "corp\x00"}))

    assert response.status_code in (302, 400)  # a checkbox or the button reads any value as on / save
    if response.status_code == 400:
        assert field_error(response, field) or "Nothing was saved" in page(response)
        assert not DirectoryConnection.objects.exists()


def test_a_body_that_is_not_utf8_answers_without_a_server_error(megan_browser, directory):
    connection = connect(directory)
    body = b"&".join(f.encode() + b"=%FF%FE%C3%28%ED%A0%80\xff\xfe" for f in FORM_FIELDS)

    for url in ("/admin/directory-sync/new", f"/admin/directory-sync/{connection.pk}/edit",
                f"/admin/directory-sync/{connection.pk}/run"):
        response = megan_browser.post(url, body, content_type="application/x-www-form-urlencoded")
        assert response.status_code < 500, url
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize("url", ["/admin/directory-sync/new", "/admin/directory-sync/{c}/edit",
                                 "/admin/directory-sync/{c}/run", "/admin/directory-sync/{c}/remove",
                                 "/admin/directory-sync/runs/{r}/apply-deletions"])
def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(megan_browser, stopped_run, url):
    cross_site = Client(enforce_csrf_checks=True)
    cross_site.cookies = megan_browser.cookies

    response = cross_site.post(address(url, stopped_run), {"kind": "full", "name": "evil"})

    assert response.status_code == 403 and "This page expired" in page(response)
    assert SyncRun.objects.count() == 1 and list(DirectoryConnection.objects.values_list("name", flat=True)) == [
        "corp"]


@pytest.mark.parametrize("query", ["?page=%00", "?page=99999999999999999999", "?page=-1"])
def test_the_history_and_warnings_pages_take_any_page_number(megan_browser, stopped_run, query):
    connection, run = stopped_run
    assert megan_browser.get(f"/admin/directory-sync/{connection.pk}{query}").status_code == 200
    assert megan_browser.get(f"/admin/directory-sync/runs/{run.pk}{query}").status_code == 200
