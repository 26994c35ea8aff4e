"""The connection test and TLS: each step says what it found or exactly what is wrong, and a
certificate that is not trusted is never accepted."""

from __future__ import annotations

import pytest

from tests.ldap_server import make_tls_files
from watchword.directory.models import User
from watchword.sync.engine import run_sync
from watchword.sync.models import SyncRun
from watchword.sync.services import test_connection as check

pytestmark = pytest.mark.django_db


def steps(connection) -> list[tuple[str, bool, str]]:
    return [(s.name, s.ok, s.detail) for s in check(connection)]


def test_a_working_connection_passes_every_step_and_counts_what_the_filters_find(scope, connect_directory):
    scope.person("anna")
    scope.group("team", [])
    result = steps(connect_directory())

    assert [ok for _, ok, _ in result] == [True] * len(result)
    assert result[0][2].startswith("Bound as cn=watchword,ou=services") and "(no encryption)" in result[0][2]
    assert ("User filter", True) == result[-2][:2] and "1 entry found" in result[-2][2]


@pytest.mark.parametrize("settings, step, words", [
    ({"url": "ldap://127.0.0.1:9"}, "Connect and bind", "cannot be reached"),
    ({"password": "wrong"}, "Connect and bind", "refused the bind DN and password (invalid credentials)"),
    ({"base_dns": "ou=nowhere,dc=example,dc=org"}, "Base DN ou=nowhere,dc=example,dc=org", "does not exist"),
])
def test_each_failure_names_its_step_in_words(scope, connect_directory, settings, step, words):
    result = steps(connect_directory(**settings))

    name, ok, detail = result[-1]
    assert (name, ok) == (step, False) and words in detail


def test_ldaps_and_starttls_work_with_the_servers_ca(slapd, scope, connect_directory):
    scope.person("anna")
    ca = slapd.ca_path.read_text()

    ldaps = connect_directory("by-ldaps", url=slapd.ldaps_url, ca_certificate=ca)
    start_tls = connect_directory("by-starttls", url=slapd.url, start_tls=True, ca_certificate=ca)

    assert "(LDAPS)" in steps(ldaps)[0][2] and all(ok for _, ok, _ in steps(ldaps))
    assert "(StartTLS)" in steps(start_tls)[0][2] and all(ok for _, ok, _ in steps(start_tls))
    assert run_sync(ldaps).added == 1


def test_a_certificate_from_another_ca_is_refused_and_nothing_is_read(slapd, scope, connect_directory, tmp_path):
    scope.person("anna")
    other_ca = make_tls_files(tmp_path).ca_path.read_text()
    connection = connect_directory(url=slapd.ldaps_url, ca_certificate=other_ca)

    result = steps(connection)
    run = run_sync(connection)

    assert not result[0][1] and "certificate is not trusted" in result[0][2]
    assert run.status == SyncRun.Status.FAILED and "certificate is not trusted" in run.error
    assert not User.objects.filter(directory_connection=connection).exists()

