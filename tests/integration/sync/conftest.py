"""A real OpenLDAP server for the directory-sync tests (one per session, with TLS), and for each
test a scope of its own: an OU for its people and one for its groups, so tests never see each
other's entries."""

from __future__ import annotations

import itertools

import pytest

from tests.ldap_server import Slapd, unavailable_reason

_counter = itertools.count(1)


@pytest.fixture(scope="session")
def slapd(tmp_path_factory):
    reason = unavailable_reason()
    if reason:
        pytest.skip(f"no OpenLDAP test server: {reason}")
    with Slapd(tmp_path_factory.mktemp("sync-slapd"), tls=True) as server:
        yield server


class Scope:
    """An OU of people (with sub-OUs london and paris) and an OU of groups, private to one test."""

    def __init__(self, server: Slapd, name: str) -> None:
        self.server = server
        self.people_dn = f"ou={name},{server.people_dn}"
        self.groups_dn = f"ou={name}-groups,{server.groups_dn}"
        server.add(self.people_dn, {"objectClass": ["top", "organizationalUnit"], "ou": name})
        for office in ("london", "paris"):
            server.add(f"ou={office},{self.people_dn}", {"objectClass": ["top", "organizationalUnit"], "ou": office})
        server.add(self.groups_dn, {"objectClass": ["top", "organizationalUnit"], "ou": f"{name}-groups"})

    def person(self, uid: str | None, *, ou: str = "london", **kwargs) -> str:
        return self.server.add_person(uid, ou=ou if "=" in ou else f"ou={ou},{self.people_dn}", **kwargs)

    def group(self, cn: str, members) -> str:
        dn = f"cn={cn},{self.groups_dn}"
        return self.server.add(dn, {"objectClass": ["top", "groupOfNames"], "cn": cn,
                                    "member": list(members) or [self.server.empty_group_member]})

    @property
    def base_dns(self) -> str:
        return f"{self.people_dn}\n{self.groups_dn}"


@pytest.fixture
def scope(slapd) -> Scope:
    return Scope(slapd, f"t{next(_counter)}")


@pytest.fixture
def connect_directory(slapd, scope):
    """Add a directory connection to this test's scope (settings may be overridden)."""
    from watchword.sync.services import create_connection

    def make(name: str = "corp-ldap", *, password: str | None = None, **settings):
        data = {"name": name, "flavour": "openldap", "url": slapd.url, "bind_dn": slapd.service_dn,
                "base_dns": scope.base_dns, "upn_domain": "example.org", "phone_country": "GB", **settings}
        return create_connection(data, password=slapd.service_password if password is None else password,
                                 actor="cli")

    return make
