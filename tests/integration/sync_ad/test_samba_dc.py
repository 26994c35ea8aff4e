"""The Samba AD test harness itself: a real DC answers the way directory sync will rely on --
paged reads by a plain service account, password binds, objectGUID surviving renames and moves,
uSNChanged for delta reads, tombstones for deletions. One DC serves the whole session."""

from __future__ import annotations

import ldap3
import pytest
from ldap3.utils.conv import escape_filter_chars

from tests.samba_dc import SHOW_DELETED_OID, SambaDC, SambaDCError, samba_available

PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
SYNC_ATTRIBUTES = ["objectGUID", "userPrincipalName", "telephoneNumber", "mobile", "userAccountControl",
                   "uSNChanged"]
PEOPLE = "(&(objectCategory=person)(objectClass=user))"


@pytest.fixture(scope="module")
def staff(dc):
    """Twenty people across London and Paris (sam ``staff00`` .. ``staff19``); returns their DNs."""
    return [
        dc.add_user(f"staff{i:02}", ou="London" if i % 2 else "Paris", given="Person", surname=f"Number {i}",
                    display=f"Person Number {i}", mail=f"staff{i:02}@example.test",
                    telephone=f"+44 20 7946 {i:04}", mobile=f"+44 7700 90{i:04}")
        for i in range(20)
    ]


@pytest.fixture(scope="module")
def service(dc):
    """The sync service account's connection (plain LDAP, simple bind, schema loaded)."""
    conn = dc.connect()
    yield conn
    conn.unbind()


def paged_search(conn, base: str, search_filter: str, attributes, *, page_size: int = 100, controls=None):
    """All entries of a paged search (the way the connector will read) and how many pages it took."""
    entries, pages, cookie = [], 0, None
    while True:
        assert conn.search(base, search_filter, attributes=attributes, paged_size=page_size, paged_cookie=cookie,
                           controls=controls), conn.result
        entries.extend(conn.entries)
        pages += 1
        cookie = conn.result["controls"][PAGED_RESULTS_OID]["value"]["cookie"]
        if not cookie:
            return entries, pages


def guid_filter(guid: str) -> str:
    """``(objectGUID=...)`` for a ``"{...}"`` GUID string (the value is matched as escaped bytes)."""
    from uuid import UUID

    return f"(objectGUID={escape_filter_chars(UUID(guid).bytes_le)})"


def bind(dc: SambaDC, user: str, password: str) -> ldap3.Connection:
    conn = ldap3.Connection(ldap3.Server(dc.url, get_info=ldap3.NONE), user, password)
    conn.bind()
    return conn


def test_only_one_dc_at_a_time(dc):
    with pytest.raises(SambaDCError, match="389.*already in use"):
        SambaDC().start()


def test_the_service_account_pages_through_people_and_reads_what_sync_needs(dc, staff, service):
    entries, pages = paged_search(service, dc.staff_dn, PEOPLE, SYNC_ATTRIBUTES)

    by_dn = {entry.entry_dn: entry for entry in entries}
    assert set(by_dn) == set(staff)
    seven = by_dn[staff[7]]
    assert seven.userPrincipalName.value == "staff07@example.test"
    assert seven.telephoneNumber.value == "+44 20 7946 0007"
    assert seven.mobile.value == "+44 7700 900007"
    assert seven.userAccountControl.value == 0x200  # a normal, enabled account
    assert seven.uSNChanged.value > 0
    # ldap3 (with the schema) formats objectGUID as "{...}", the same as the harness's helper.
    assert seven.objectGUID.value == dc.object_guid(staff[7])
    assert seven.objectGUID.value.startswith("{") and len(seven.objectGUID.value) == 38

    # The whole domain is several pages of 100: the server really pages for an ordinary account.
    everything, pages = paged_search(service, dc.base_dn, "(objectClass=*)", ["objectGUID"])
    assert pages > 1 and len(everything) > 100


def test_password_binds(dc):
    alice = dc.add_user("alice", password="Alice-Secret-1")
    bob = dc.add_user("bob", disabled=True)

    assert bind(dc, "alice@example.test", "Alice-Secret-1").bound
    assert bind(dc, alice, "Alice-Secret-1").bound  # by DN too
    wrong = bind(dc, "alice@example.test", "nope")
    assert not wrong.bound and wrong.result["description"] == "invalidCredentials"

    assert not bind(dc, "bob@example.test", dc.user_password).bound
    dc.set_disabled(bob, False)
    assert bind(dc, "bob@example.test", dc.user_password).bound
    dc.set_disabled(bob, True)
    assert not bind(dc, "bob@example.test", dc.user_password).bound


def test_renames_and_moves_keep_the_object_guid_and_bump_usn_changed(dc, service):
    dn = dc.add_user("carol", display="Carol Smith", ou="London")
    guid = dc.object_guid(dn)
    service.search(dn, "(objectClass=*)", search_scope=ldap3.BASE, attributes=["uSNChanged"])
    before = service.entries[0].uSNChanged.value

    renamed = dc.rename(dn, "Carol Jones")  # same OU
    moved = dc.rename(renamed, "CN=Carol Jones", new_superior="Paris")
    assert (renamed, moved) == ("CN=Carol Jones,OU=London,OU=Staff,DC=example,DC=test",
                                "CN=Carol Jones,OU=Paris,OU=Staff,DC=example,DC=test")

    assert service.search(dc.base_dn, guid_filter(guid), attributes=["objectGUID", "uSNChanged"])
    [entry] = service.entries
    assert entry.entry_dn == moved and entry.objectGUID.value == guid
    assert entry.uSNChanged.value > before

    # Moved out of the sync scope: gone from a Staff search, still there by GUID.
    gone = dc.rename(moved, "CN=Carol Jones", new_superior="Former")
    service.search(dc.staff_dn, guid_filter(guid), attributes=["objectGUID"])
    assert service.entries == []
    assert dc.object_guid(gone) == guid


def test_usn_changed_finds_just_what_changed(dc, staff, service):
    since = dc.highest_usn() + 1
    dc.modify(staff[3], {"mobile": ["+44 7700 900999"], "mail": None})

    entries, _ = paged_search(service, dc.base_dn, f"(uSNChanged>={since})", ["mobile", "mail", "uSNChanged"])
    assert [entry.entry_dn for entry in entries] == [staff[3]]
    assert entries[0].mobile.value == "+44 7700 900999"
    assert entries[0].mail.value is None
    assert entries[0].uSNChanged.value >= since


def test_a_deleted_user_leaves_a_tombstone_only_the_administrator_can_see(dc, service):
    dn = dc.add_user("dave")
    guid = dc.object_guid(dn)
    dc.delete(dn)
    show_deleted = [(SHOW_DELETED_OID, True, None)]

    admin = dc.connect(dc.admin_dn, dc.admin_password)
    assert admin.search(dc.deleted_objects_dn, guid_filter(guid), search_scope=ldap3.LEVEL,
                        attributes=["isDeleted", "objectGUID", "lastKnownParent", "sAMAccountName"],
                        controls=show_deleted)
    [tombstone] = admin.entries
    assert tombstone.isDeleted.value is True
    assert tombstone.objectGUID.value == guid
    assert tombstone.entry_dn.startswith("CN=dave\\0ADEL:" + guid.strip("{}"))
    assert tombstone.lastKnownParent.value == dc.ou_dn("London")
    assert tombstone.sAMAccountName.value == "dave"
    admin.unbind()

    # Without the control nobody sees it; with it, an ordinary account still does not: only
    # administrators may list CN=Deleted Objects (as in Windows AD), so the connector cannot learn
    # of deletions from tombstones with a plain read-only account.
    service.search(dc.base_dn, guid_filter(guid), attributes=["isDeleted"])
    assert service.entries == []
    service.search(dc.deleted_objects_dn, guid_filter(guid), search_scope=ldap3.LEVEL, attributes=["isDeleted"],
                   controls=show_deleted)
    assert service.entries == []
    service.search(dc.base_dn, guid_filter(guid), attributes=["isDeleted"], controls=show_deleted)
    assert service.entries == []
