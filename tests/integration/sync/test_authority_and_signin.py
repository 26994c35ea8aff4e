"""Synced people: what the directory owns stays read-only here (admin services, the API and the
person), and their password is checked by binding to the directory — never silently accepted
when the directory is down."""

from __future__ import annotations

import html
import json

import pytest
from django.test import Client

from tests.ldap_server import Slapd, unavailable_reason
from tests.support import SignIn
from watchword.audit.models import SignInEvent
from watchword.directory.errors import ManagedByDirectory
from watchword.directory.models import User
from watchword.directory.services import change_own_password, reset_password, set_enabled, update_user
from watchword.protocols.scopes import API_SCOPES
from watchword.protocols.tokens import create_token
from watchword.sync.engine import run_sync
from watchword.sync.passthrough import reset_pools

pytestmark = pytest.mark.django_db

PASSWORD = "Directory-Passw0rd"


@pytest.fixture(autouse=True)
def fresh_pools():
    reset_pools()
    yield
    reset_pools()


@pytest.fixture
def anna(scope, connect_directory):
    scope.person("anna", cn="Anna Synced", mail="anna@example.org", telephone="+44 20 7946 0958",
                 mobile="07400 123456", password=PASSWORD)
    connection = connect_directory()
    run_sync(connection)
    return User.objects.get(upn="anna@example.org")


def test_attributes_the_directory_owns_are_refused_with_a_message_naming_the_directory(anna, megan):
    with pytest.raises(ManagedByDirectory) as refused:
        update_user(anna, {"office_phone": "+44 20 7946 0000"}, actor=megan)

    assert refused.value.field == "office_phone"
    assert "managed by the directory (corp-ldap)" in refused.value.public_message
    anna.refresh_from_db()
    assert anna.office_phone == "+442079460958"


def test_what_watchword_owns_stays_editable_and_unchanged_values_pass(anna, megan):
    updated = update_user(anna, {"role": "authentication_admin", "office_phone": "+44 20 7946 0958"}, actor=megan)

    assert updated.role == "authentication_admin"


def test_enable_disable_and_passwords_of_synced_people_belong_to_the_directory(anna, megan):
    with pytest.raises(ManagedByDirectory):
        set_enabled(anna, False, actor=megan)
    with pytest.raises(ManagedByDirectory):
        reset_password(anna, actor=megan)
    with pytest.raises(ManagedByDirectory) as own:
        change_own_password(anna, "A-new-passw0rd-here")

    assert own.value.public_message.startswith("Your password is managed by your organisation's directory.")
    anna.refresh_from_db()
    assert anna.is_active


def test_the_api_refuses_changes_to_directory_attributes_with_a_stable_code(anna, megan):
    _, token = create_token(megan, name="tests", scopes=" ".join(API_SCOPES))
    client = Client()
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    refused = client.patch(f"/api/v1/users/{anna.pk}", json.dumps({"officePhone": "+44 20 7946 0000"}),
                           content_type="application/json", **headers)
    shown = client.get(f"/api/v1/users/{anna.pk}", **headers)

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "managed_by_directory"
    assert refused.json()["error"]["field"] == "officePhone"
    assert shown.json()["onPremisesSyncEnabled"] is True
    assert shown.json()["onPremisesImmutableId"] == anna.external_id


def test_a_synced_person_signs_in_with_their_directory_password(anna):
    browser = Client()

    wrong = SignIn.password(browser, "anna@example.org", "not-the-password")
    empty_bind_attempt = SignIn.password(browser, "anna@example.org", " ")
    right = SignIn.password(browser, "anna@example.org", PASSWORD)

    assert "incorrect" in SignIn.error_text(wrong)
    assert "incorrect" in SignIn.error_text(empty_bind_attempt)
    assert right.status_code == 302
    assert SignInEvent.objects.filter(user=anna, error_code=50126).count() == 2


def test_directory_down_is_a_clear_message_and_its_own_log_code_never_an_accept(tmp_path, megan):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no OpenLDAP test server: {reason}")
    from watchword.sync.services import create_connection

    with Slapd(tmp_path / "down") as server:
        server.add_person("bob", password=PASSWORD)
        connection = create_connection({"name": "branch", "flavour": "openldap", "url": server.url,
                                        "bind_dn": server.service_dn, "base_dns": server.people_dn,
                                        "upn_domain": "example.org", "timeout_seconds": 2},
                                       password=server.service_password, actor="cli")
        run_sync(connection)
        browser = Client()
        assert SignIn.password(browser, "bob@example.org", PASSWORD).status_code == 302  # a pooled connection now
        server.kill()

        down = SignIn.password(Client(), "bob@example.org", PASSWORD)

    assert "couldn't check your password with your organisation's directory" in html.unescape(SignIn.error_text(down))
    event = SignInEvent.objects.filter(typed_name="bob@example.org").order_by("-id").first()
    assert event.error_code == 80001 and event.result == "failure" and "branch" in event.reason


def test_deleted_people_cannot_sign_in_and_are_not_found(scope, connect_directory):
    dn = scope.person("cleo", password=PASSWORD)
    connection = connect_directory()
    run_sync(connection)
    scope.server.delete(dn)
    run_sync(connection, reconcile=True)

    response = SignIn.password(Client(), "cleo@example.org", PASSWORD)

    assert "incorrect" in SignIn.error_text(response)


def test_a_person_moved_since_the_last_sync_still_signs_in(scope, connect_directory):
    dn = scope.person("dora", password=PASSWORD)
    connection = connect_directory()
    run_sync(connection)
    moved = scope.server.rename(dn, "uid=dora", new_superior=f"ou=paris,{scope.people_dn}")

    response = SignIn.password(Client(), "dora@example.org", PASSWORD)

    assert response.status_code == 302
    assert User.objects.get(upn="dora@example.org").external_dn == moved.lower()
