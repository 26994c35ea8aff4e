"""The authenticator-app method against a real database: a code verifies once even when two
requests race, seeds are sealed (a dump reveals none) and survive a key rotation."""

from __future__ import annotations

import json
import re
import threading

import pyotp
import pytest
from django.db import connection, connections
from django.test import Client
from django.utils import timezone

from watchword.cli import main
from watchword.core import sealing
from watchword.methods import registry
from watchword.methods.models import Method
from watchword.methods.services import set_mfa_state


def verify(method: Method, code: str):
    return registry.get("totp").verify(method=Method.objects.get(pk=method.pk), response=code, now=timezone.now())


@pytest.mark.django_db
def test_a_code_verifies_once_and_is_refused_as_reused_the_second_time(adele, enrol):
    app = enrol(adele)
    code = app.fresh_code()

    first, second = verify(app.method, code), verify(app.method, code)

    assert first.ok
    assert (second.ok, second.reason) == (False, "reused")


@pytest.mark.django_db
def test_an_older_code_is_refused_after_a_newer_one_was_accepted(adele, enrol):
    app = enrol(adele)
    older, newer = app.fresh_code(), app.fresh_code()

    assert verify(app.method, newer).ok
    assert verify(app.method, older).reason == "reused"


@pytest.mark.django_db
def test_a_successful_code_records_when_the_method_was_last_used(adele, enrol):
    app = enrol(adele)
    before = Method.objects.get(pk=app.method.pk).last_used_at

    verify(app.method, app.fresh_code())

    assert Method.objects.get(pk=app.method.pk).last_used_at > before


@pytest.mark.django_db(transaction=True)
def test_when_two_requests_race_with_the_same_fresh_code_exactly_one_succeeds(adele, enrol):
    app = enrol(adele)
    code = app.fresh_code()
    method = Method.objects.get(pk=app.method.pk)
    barrier = threading.Barrier(2)
    outcomes, errors = [], []

    def attempt():
        try:
            barrier.wait(timeout=10)
            outcomes.append(registry.get("totp").verify(method=method, response=code, now=timezone.now()))
        except Exception as exc:  # reported below; a crash is not a refusal
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=attempt) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert errors == []
    assert sorted((o.ok, o.reason) for o in outcomes) == [(False, "reused"), (True, "")]


def dump_every_table() -> str:
    """What a stolen database would show: every value of every row of every table."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, memoryview):
                        value = value.tobytes()
                    if isinstance(value, bytes):
                        value = value.decode("latin-1")
                    values.append(json.dumps(value, default=str) if isinstance(value, (dict, list)) else str(value))
    return "\n".join(values)


@pytest.mark.django_db
def test_after_enrolment_in_the_browser_no_table_holds_the_seed(client, sign_in, make_person):
    adele = make_person("Adele Vance", mfa_state="enabled")
    sign_in.password(client, adele.upn)
    client.post("/signin/more-information")
    client.post("/signin/register?step=app", {"kind": "totp"})
    scan = client.get("/signin/register?step=scan").content.decode()
    secret = re.search(r'id="secret-key">([A-Z2-7 ]+)<', scan).group(1).replace(" ", "")
    client.post("/signin/register?step=code", {"code": pyotp.TOTP(secret).now()})
    client.post("/signin/register?step=done")
    assert Method.objects.filter(user=adele).exists()

    dump = dump_every_table()

    assert len(dump) > 1000  # the dump really holds the data (users, sessions, logs, the method)
    assert secret not in dump.upper()
    assert secret[:16] not in dump.upper()
    assert Method.objects.get(user=adele).secret_sealed.startswith("ww1:")


@pytest.mark.django_db
def test_a_seed_copied_to_another_persons_method_does_not_open(adele, make_person, enrol):
    adeles_app = enrol(adele)
    lees_app = enrol(make_person("Lee Gu"))
    Method.objects.filter(pk=lees_app.method.pk).update(secret_sealed=adeles_app.method.secret_sealed)

    with pytest.raises(sealing.SealError):
        verify(lees_app.method, adeles_app.fresh_code())


@pytest.mark.django_db
def test_keys_rotate_changes_the_key_id_of_every_sealed_seed(private_keyring, adele, make_person, enrol, capsys):
    enrol(adele)
    enrol(make_person("Lee Gu"))
    old_key = sealing.load_keyring(private_keyring).primary

    assert main(["keys", "rotate"]) == 0

    new_key = sealing.load_keyring(private_keyring).primary
    assert new_key != old_key
    assert {sealing.key_id_of(m.secret_sealed) for m in Method.objects.all()} == {new_key}
    assert f"New sealing key {new_key}: 2 secrets re-sealed; retired {old_key}." in capsys.readouterr().out


@pytest.mark.django_db
def test_keys_rotate_retires_the_old_key_from_the_keyring_file(private_keyring, adele, enrol):
    enrol(adele)
    old_key = sealing.load_keyring(private_keyring).primary

    main(["keys", "rotate"])

    assert old_key not in json.loads(private_keyring.read_text())["keys"]


@pytest.mark.django_db
def test_codes_keep_verifying_after_keys_rotate(private_keyring, adele, enrol):
    app = enrol(adele)

    main(["keys", "rotate"])

    assert verify(app.method, app.fresh_code()).ok


@pytest.mark.django_db
def test_a_person_signs_in_with_a_code_after_keys_rotate(private_keyring, sign_in, adele, enrol):
    set_mfa_state(adele, "enabled", actor="cli", notify=False)
    app = enrol(adele)
    main(["keys", "rotate"])
    client = Client()

    response = sign_in.with_code(client, adele.upn, app.fresh_code())

    assert response["Location"] == "/myaccount"


@pytest.mark.django_db
def test_a_registration_begun_before_keys_rotate_starts_again_instead_of_failing(private_keyring, client, sign_in,
                                                                                  make_person):
    adele = make_person("Adele Vance", mfa_state="enabled")
    sign_in.password(client, adele.upn)
    client.post("/signin/more-information")
    client.post("/signin/register?step=app", {"kind": "totp"})

    main(["keys", "rotate"])

    assert client.get("/signin/register?step=scan")["Location"] == "/signin/register?step=app&kind=totp"
