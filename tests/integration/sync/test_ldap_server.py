"""The OpenLDAP test server (tests/ldap_server.py) the directory-sync tests and benchmarks run
against: it starts and stops, enforces the access rules and limits a real deployment has, keeps
entryUUID across renames, moves entryCSN on changes, survives a crash, and speaks TLS."""

from __future__ import annotations

import ldap3
import phonenumbers
import pytest
from ldap3.core.exceptions import LDAPBindError, LDAPException, LDAPSocketOpenError, LDAPStartTLSError

from tests.ldap_server import (FORMER_DN, GROUPS_DN, PEOPLE_DN, SERVICE_DN, Slapd, SlapdError, bulk_ldif,
                               bulk_people_dns, make_tls_files, messy_people, unavailable_reason)

_reason = unavailable_reason()
if _reason:
    pytest.skip(f"no OpenLDAP test server: {_reason}", allow_module_level=True)

BULK = 2500
BULK_PASSWORD = "Bulk-Password-1"
PAGED_RESULTS = "1.2.840.113556.1.4.319"


@pytest.fixture(scope="module")
def directory(tmp_path_factory):
    """One server for the module, with 2,500 generated people (slapd.log stays in pytest's tmp)."""
    folder = tmp_path_factory.mktemp("slapd")
    with Slapd(folder) as server:
        bulk_ldif(folder / "bulk.ldif", BULK, password=BULK_PASSWORD)
        server.load_ldif_offline(folder / "bulk.ldif")
        yield server


@pytest.fixture(scope="module")
def tls_directory(tmp_path_factory):
    with Slapd(tmp_path_factory.mktemp("slapd-tls"), tls=True) as server:
        yield server


def paged(conn, base: str, search_filter: str, attributes: list[str], page_size: int) -> list[list[dict]]:
    """Every page of a paged search, as the sync does it (cookie loop)."""
    pages, cookie = [], None
    while True:
        assert conn.search(base, search_filter, attributes=attributes, paged_size=page_size, paged_cookie=cookie), \
            conn.result
        pages.append([entry for entry in conn.response if entry["type"] == "searchResEntry"])
        cookie = conn.result["controls"][PAGED_RESULTS]["value"]["cookie"]
        if not cookie:
            return pages


# --- life cycle ------------------------------------------------------------------------------


def test_starts_stops_and_close_removes_its_own_folder():
    server = Slapd()
    try:
        assert not server.running
        server.start()
        assert server.running and server.url.startswith("ldap://127.0.0.1:")
        server.service().unbind()
        server.stop()
        assert not server.running
        with pytest.raises(LDAPException):
            server.service()
    finally:
        server.close()
    assert not server.folder.exists()
    with pytest.raises(SlapdError, match="closed"):
        server.start()


def test_kill_then_start_serves_the_same_data_on_the_same_address(tmp_path):
    with Slapd(tmp_path) as server:
        dn = server.add_person("crash.test", given_name="Crash", sn="Test")
        uuid, url = server.entry_uuid(dn), server.url
        server.kill()
        assert not server.running
        with pytest.raises(LDAPException):
            server.service()
        server.start()
        assert server.url == url and server.entry_uuid(dn) == uuid


# --- access and limits -----------------------------------------------------------------------


def test_service_account_pages_through_everyone_but_never_sees_passwords(directory):
    conn = directory.service()
    pages = paged(conn, PEOPLE_DN, "(objectClass=inetOrgPerson)", ["uid", "userPassword"], 500)
    conn.unbind()
    assert len(pages) >= 5 and all(len(page) <= 500 for page in pages)
    seen = {entry["dn"] for page in pages for entry in page}
    assert set(bulk_people_dns(BULK)) <= seen
    assert not any(entry["attributes"].get("userPassword") for page in pages for entry in page)
    # ... which are there: the rootdn sees them.
    assert directory.read(next(bulk_people_dns(1)), ["userPassword"])["userPassword"][0].startswith("{SSHA}")


def test_service_account_is_held_to_realistic_limits(directory):
    conn = directory.service()
    conn.search(PEOPLE_DN, "(objectClass=inetOrgPerson)", attributes=["uid"])  # not paged
    assert conn.result["description"] == "sizeLimitExceeded" and len(conn.entries) == 1000
    conn.search(PEOPLE_DN, "(objectClass=inetOrgPerson)", attributes=["uid"], paged_size=1001)
    assert conn.result["description"] == "adminLimitExceeded" and not conn.entries
    conn.unbind()


def test_people_bind_with_their_own_password_and_anonymous_sees_nothing(directory):
    dn = directory.add_person("bind.test", given_name="Bind", sn="Test", password="Right-Password-1")
    conn = directory.connect(dn, "Right-Password-1")
    assert conn.extend.standard.who_am_i() == f"dn:{dn}"
    assert conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["uid"]) and conn.entries[0].uid == "bind.test"
    assert not conn.search(PEOPLE_DN, "(objectClass=inetOrgPerson)") and not conn.entries  # nor colleagues
    conn.unbind()
    with pytest.raises(LDAPBindError):
        directory.connect(dn, "Wrong-Password-1")
    anonymous = directory.connect()
    assert not anonymous.search(directory.base_dn, "(objectClass=*)") and not anonymous.entries
    anonymous.unbind()


def test_pwd_account_locked_time_can_be_set_read_and_cleared(directory):
    dn = directory.add_person("locked.test", given_name="Locked", sn="Test",
                              extra={"pwdAccountLockedTime": "000001010000Z"})
    conn = directory.service()
    conn.search(dn, "(objectClass=*)", ldap3.BASE, attributes=["pwdAccountLockedTime"])
    assert conn.entries[0]["pwdAccountLockedTime"].raw_values == [b"000001010000Z"]
    directory.modify(dn, {"pwdAccountLockedTime": None})
    conn.search(dn, "(pwdAccountLockedTime=*)", ldap3.BASE)
    assert not conn.entries
    conn.unbind()


# --- what the sync keys on -------------------------------------------------------------------


def test_rename_and_moves_change_the_dn_but_keep_entry_uuid(directory):
    dn = directory.add_person("move.test", given_name="Move", sn="Test")
    uuid = directory.entry_uuid(dn)
    renamed = directory.rename(dn, "uid=moved.test")
    assert renamed == f"uid=moved.test,ou=london,{PEOPLE_DN}"
    in_paris = directory.rename(renamed, "uid=moved.test", f"ou=paris,{PEOPLE_DN}")
    gone = directory.rename(in_paris, "uid=moved.test", FORMER_DN)
    assert gone == f"uid=moved.test,{FORMER_DN}"
    assert directory.entry_uuid(gone) == uuid
    with pytest.raises(SlapdError, match="noSuchObject"):
        directory.entry_uuid(dn)


def test_entry_csn_moves_on_modify_and_filters_find_the_change(directory):
    dn = directory.add_person("csn.test", given_name="Csn", sn="Test", mail="csn.test@example.org")
    before = directory.entry_csn(dn)
    directory.modify(dn, {"mail": ["csn.renamed@example.org"], "telephoneNumber": "+44 20 7946 0999"})
    after = directory.entry_csn(dn)
    assert after > before
    conn = directory.service()
    found = paged(conn, directory.base_dn, f"(entryCSN>={after})", ["entryCSN"], 500)
    conn.unbind()
    assert [entry["dn"] for page in found for entry in page] == [dn]


def test_groups_keep_a_placeholder_when_empty(directory):
    alice = directory.add_person("group.alice", given_name="Alice", sn="Group")
    group = directory.add_group("empty-at-first", [])
    assert directory.read(group, ["member"])["member"] == [directory.empty_group_member]
    directory.set_members(group, [alice])
    assert directory.read(group, ["member"])["member"] == [alice]
    directory.set_members(group, [])
    assert directory.read(group, ["member"])["member"] == [directory.empty_group_member]


# --- the data --------------------------------------------------------------------------------


def test_bulk_people_are_varied_and_their_phones_mostly_valid(directory):
    conn = directory.service()
    attrs = ["givenName", "mail", "telephoneNumber", "mobile"]
    people = [entry for page in paged(conn, PEOPLE_DN, "(uid=*)", attrs, 1000) for entry in page
              if entry["dn"].startswith("uid=") and entry["dn"].split(",")[0][-1].isdigit()]
    groups = paged(conn, GROUPS_DN, "(objectClass=groupOfNames)", ["member"], 500)[0]
    conn.unbind()
    assert len(people) == BULK
    assert any(not p["attributes"]["givenName"][0].isascii() for p in people)  # base64 in the LDIF, decoded
    phones = [(p["dn"], n) for p in people for n in p["attributes"]["telephoneNumber"] + p["attributes"]["mobile"]]
    assert len({n for _, n in phones}) > 1000  # many formats and numbers
    region = {"london": "GB", "paris": "FR"}
    valid = sum(phonenumbers.is_valid_number(phonenumbers.parse(n, region[dn.split(",")[1][3:]])) for dn, n in phones)
    assert valid / len(phones) > 0.95
    assert sum(not p["attributes"]["telephoneNumber"] for p in people) > BULK * 0.05
    sizes = sorted(len(g["attributes"]["member"]) for g in groups if g["dn"] != f"cn=empty-at-first,{GROUPS_DN}")
    assert sizes[0] == 1 and sizes[-1] == BULK // 2 and len(sizes) == 10


def test_messy_people_are_all_accepted_as_they_are(directory):
    people = messy_people()
    dns = [directory.add_person(**{k: v for k, v in p.items() if k != "note"}) for p in people]
    assert len(set(dns)) == len(people) and all(p["note"] for p in people)
    long_one = dns[[p["uid"] for p in people].index("long.title")]
    assert len(directory.read(long_one, ["displayName"])["displayName"][0]) == 5000
    assert directory.read(dns[[p["uid"] for p in people].index("wang.fang")], ["cn"])["cn"] == ["王芳"]
    assert "uid" not in directory.read(dns[[p["uid"] for p in people].index(None)], ["uid"])


# --- TLS -------------------------------------------------------------------------------------


def test_ldaps_verifies_the_server_against_its_ca(tls_directory):
    assert tls_directory.ldaps_url.startswith("ldaps://127.0.0.1:")
    conn = tls_directory.connect(SERVICE_DN, tls_directory.service_password, ldaps=True)
    assert conn.extend.standard.who_am_i() == f"dn:{SERVICE_DN}"
    assert conn.socket.version().startswith("TLS")
    conn.unbind()


def test_start_tls_upgrades_the_plain_port(tls_directory):
    conn = tls_directory.connect(SERVICE_DN, tls_directory.service_password, start_tls=True)
    assert conn.tls_started and conn.server.port == tls_directory.port
    assert conn.extend.standard.who_am_i() == f"dn:{SERVICE_DN}"
    conn.unbind()


def test_a_wrong_ca_fails_verification(tls_directory, tmp_path):
    stranger = make_tls_files(tmp_path).ca_path
    with pytest.raises(LDAPSocketOpenError, match="CERTIFICATE_VERIFY_FAILED"):
        tls_directory.connect(ldaps=True, ca_path=stranger)
    with pytest.raises(LDAPStartTLSError, match="CERTIFICATE_VERIFY_FAILED"):
        tls_directory.connect(start_tls=True, ca_path=stranger)
