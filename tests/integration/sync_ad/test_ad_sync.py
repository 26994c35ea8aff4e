"""Directory sync from a real Active Directory (a Samba AD domain controller): people keyed by
objectGUID, deltas by uSNChanged, accounts disabled through userAccountControl, renames and
moves, deletions (by reconciliation, and from tombstones where the account may read them), and
passwords checked against the domain."""

from __future__ import annotations

import itertools

import pytest

from tests.support import SignIn
from watchword.audit.models import SignInEvent
from watchword.directory.models import Group, User
from watchword.sync.engine import run_sync
from watchword.sync.models import SyncRun
from watchword.sync.passthrough import reset_pools

pytestmark = pytest.mark.django_db

_counter = itertools.count(1)


@pytest.fixture
def ou(dc):
    """An OU of this test's own at the domain root (with London and Paris below it)."""
    name = f"T{next(_counter)}"
    dn = f"OU={name},{dc.base_dn}"
    conn = dc.admin
    for target in (dn, f"OU=London,{dn}", f"OU=Paris,{dn}"):
        assert conn.add(target, ["top", "organizationalUnit"]), conn.result
    return dn


@pytest.fixture
def ad_connection(dc, ou):
    from watchword.sync.services import create_connection

    def make(*, bind_dn=None, password=None, **settings):
        data = {"name": f"corp-ad-{ou.split(',')[0][3:].lower()}", "flavour": "active_directory", "url": dc.url,
                "bind_dn": bind_dn or dc.service_dn, "base_dns": ou, "phone_country": "GB", **settings}
        return create_connection(data, password=password or dc.service_password, actor="cli")

    yield make
    reset_pools()


def tag(ou: str) -> str:
    """sAMAccountName and userPrincipalName are unique across the domain: each test's carry its tag."""
    return ou.split(",")[0][3:].lower()


def guid(dc, dn: str) -> str:
    return dc.object_guid(dn).strip("{}").lower()


def test_full_import_keys_people_by_object_guid_with_their_phones_and_state(dc, ou, ad_connection):
    adele = dc.add_user(f"{tag(ou)}adele", ou=f"OU=London,{ou}", given="Adele", surname="Vance", display="Adele Vance",
                        upn=f"{tag(ou)}adele.vance@example.test", mail=f"{tag(ou)}adele.vance@example.test",
                        telephone="+44 20 7946 0958", mobile="07400 123456")
    dc.add_user(f"{tag(ou)}grady", ou=f"OU=Paris,{ou}", display="Grady Archie", upn=f"{tag(ou)}grady.archie@example.test",
                disabled=True)
    dc.add_group("Sales", [adele], ou=ou)
    connection = ad_connection()

    run = run_sync(connection)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    people = {u.upn: u for u in User.objects.filter(directory_connection=connection)}
    assert set(people) == {f"{tag(ou)}adele.vance@example.test", f"{tag(ou)}grady.archie@example.test"}
    row = people[f"{tag(ou)}adele.vance@example.test"]
    assert row.external_id == guid(dc, adele)
    assert (row.display_name, row.office_phone, row.mobile_phone) == ("Adele Vance", "+442079460958", "+447400123456")
    assert row.is_active and not people[f"{tag(ou)}grady.archie@example.test"].is_active
    assert list(Group.objects.get(name="Sales", directory_connection=connection).members
                .values_list("upn", flat=True)) == [f"{tag(ou)}adele.vance@example.test"]
    connection.refresh_from_db()
    assert int(connection.high_water) >= dc.highest_usn() - 5  # the domain's USN when the run began


def test_a_delta_reads_only_what_changed_by_usn_and_follows_disable_and_moves(dc, ou, ad_connection):
    adele = dc.add_user(f"{tag(ou)}adele", ou=f"OU=London,{ou}", upn=f"{tag(ou)}adele.vance@example.test", telephone="+44 20 7946 0958")
    dc.add_user(f"{tag(ou)}ben", ou=f"OU=London,{ou}", upn=f"{tag(ou)}ben@example.test")
    connection = ad_connection()
    run_sync(connection)
    before = User.objects.get(upn=f"{tag(ou)}adele.vance@example.test")

    dc.modify(adele, {"telephoneNumber": ["020 7946 0111"]})
    changed = run_sync(connection)
    dc.set_disabled(adele, True)
    disabled = run_sync(connection)
    moved_dn = dc.rename(adele, f"CN={tag(ou)}adele", new_superior=f"OU=Paris,{ou}")
    dc.modify(moved_dn, {"userPrincipalName": [f"{tag(ou)}adele.smith@example.test"]})
    moved = run_sync(connection)

    assert changed.kind == "delta" and (changed.updated, changed.unchanged) == (1, 0)
    assert disabled.updated == 1
    after = User.objects.get(pk=before.pk)
    assert after.office_phone == "+442079460111" and not after.is_active
    assert after.session_epoch > before.session_epoch  # signed out when disabled
    assert after.upn == f"{tag(ou)}adele.smith@example.test" and after.external_id == before.external_id
    assert f"ou=paris,{ou.lower()}" in after.external_dn and moved.added == 0


def test_deletions_are_found_by_reconciliation_with_an_ordinary_account(dc, ou, ad_connection):
    adele = dc.add_user(f"{tag(ou)}adele", ou=f"OU=London,{ou}", upn=f"{tag(ou)}adele.vance@example.test")
    dc.add_user(f"{tag(ou)}ben", ou=f"OU=London,{ou}", upn=f"{tag(ou)}ben@example.test")
    connection = ad_connection()
    run_sync(connection)
    dc.delete(adele)

    delta_only = run_sync(connection)  # the sync account cannot read tombstones
    reconciled = run_sync(connection, reconcile=True)

    assert delta_only.deleted == 0
    assert reconciled.deleted == 1
    assert User.objects.get(upn=f"{tag(ou)}adele.vance@example.test").deleted_at is not None


def test_tombstones_name_deletions_in_a_plain_delta_when_the_account_may_read_them(dc, ou, ad_connection):
    adele = dc.add_user(f"{tag(ou)}adele", ou=f"OU=London,{ou}", upn=f"{tag(ou)}adele.vance@example.test")
    dc.add_user(f"{tag(ou)}ben", ou=f"OU=London,{ou}", upn=f"{tag(ou)}ben@example.test")
    connection = ad_connection(bind_dn=dc.admin_dn, password=dc.admin_password)
    run_sync(connection)
    dc.delete(adele)

    run = run_sync(connection)

    assert run.kind == "delta" and run.deleted == 1
    assert User.objects.get(upn=f"{tag(ou)}adele.vance@example.test").deleted_at is not None
    assert User.objects.get(upn=f"{tag(ou)}ben@example.test").deleted_at is None


def test_synced_people_sign_in_with_their_domain_password(dc, ou, ad_connection, client):
    dc.add_user(f"{tag(ou)}adele", ou=f"OU=London,{ou}", upn=f"{tag(ou)}adele.vance@example.test", password="Domain-Passw0rd!")
    grady = dc.add_user(f"{tag(ou)}grady", ou=f"OU=London,{ou}", upn=f"{tag(ou)}grady@example.test", password="Domain-Passw0rd!")
    connection = ad_connection()
    run_sync(connection)

    wrong = SignIn.password(client, f"{tag(ou)}adele.vance@example.test", "not-it")
    right = SignIn.password(client, f"{tag(ou)}adele.vance@example.test", "Domain-Passw0rd!")
    dc.set_disabled(grady, True)
    locked_out = SignIn.password(client, f"{tag(ou)}grady@example.test", "Domain-Passw0rd!")

    assert "incorrect" in SignIn.error_text(wrong)
    assert right.status_code == 302
    assert SignIn.error_text(locked_out)  # the domain refuses a disabled account's bind
    assert SignInEvent.objects.filter(typed_name=f"{tag(ou)}adele.vance@example.test", error_code=50126).count() == 1
