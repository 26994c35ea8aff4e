"""Directory sync against a real OpenLDAP server: what an organisation's people look like after
a full import of messy data, after changes, renames, moves, disables and deletions, and what
the safety threshold and a dry run do."""

from __future__ import annotations

import pytest

from tests.ldap_server import messy_people
from watchword.audit.models import AuditEvent
from watchword.directory.models import Group, User
from watchword.sync.engine import run_sync
from watchword.sync.models import SyncRun

pytestmark = pytest.mark.django_db


def people(connection) -> dict[str, User]:
    return {u.upn: u for u in User.objects.filter(directory_connection=connection)}


def warnings_of(run) -> list[tuple[str, str, str]]:
    return [(w.person, w.attribute, w.message) for w in run.warnings.all()]


# --- full import -----------------------------------------------------------------------------


def test_full_import_of_messy_data_keeps_every_usable_person_and_names_every_problem(scope, connect_directory):
    for person in messy_people():
        scope.person(**{k: v for k, v in person.items() if k not in ("note",)})
    connection = connect_directory()

    run = run_sync(connection)

    assert run.status == SyncRun.Status.SUCCEEDED and run.kind == "full"
    found = people(connection)
    assert run.added == len(found) == len(messy_people()) - 1  # the entry without a uid has no sign-in name
    # Phone numbers in many formats arrive in E.164 (extensions kept on the office phone only).
    assert found["adele.vance@example.org"].office_phone == "+442079460958"
    assert found["adele.vance@example.org"].mobile_phone == "+447400123456"
    assert found["alex.wilber@example.org"].office_phone == "+14255550100x123"
    assert found["lee.gu@example.org"].office_phone == "+442079460555"
    assert found["camille.durand@example.org"].office_phone == "+33199001234"
    assert found["upper.case@example.org"].office_phone == "+442079460800"
    # Non-ASCII names as they are; a display name falls back to cn.
    assert found["zoe.angstrom@example.org"].display_name == "Zoë Ångström"
    assert found["wang.fang@example.org"].display_name == "王芳 (Wang Fang)"
    assert found["jose.nunez@example.org"].display_name == "José Núñez"
    assert found["kiosk07@example.org"].display_name == "kiosk07"
    # Two people may share a mailbox; neither is lost.
    assert found["pat.shared1@example.org"].email == found["pat.shared2@example.org"].email == "shared.inbox@example.org"
    assert found["no.mail@example.org"].email == ""
    # Every problem is a warning naming the person and the value, and the person is still there.
    problems = warnings_of(run)
    assert ("bad.short@example.org", "telephoneNumber",
            next(m for p, a, m in problems if p == "bad.short@example.org")) in problems
    assert {p for p, a, m in problems if a == "telephoneNumber"} >= {"bad.short@example.org", "bad.text@example.org",
                                                                       "bad.truncated@example.org"}
    assert any(p == "bad.text@example.org" and a == "mobile" for p, a, m in problems)
    assert found["bad.text@example.org"].office_phone == "" and found["bad.text@example.org"].is_active
    bad_value = next(w for w in run.warnings.all() if w.person == "bad.short@example.org")
    assert bad_value.value == "12345" and "not a valid phone number" in bad_value.message
    long_title = found["long.title@example.org"]
    assert len(long_title.display_name) <= 256
    assert any(p == "long.title@example.org" and "shortened" in m for p, a, m in problems)
    assert any("no sign-in name" in m for p, a, m in problems)
    # Synced people have no password here and are keyed by entryUUID.
    adele = found["adele.vance@example.org"]
    assert not adele.has_usable_password()
    assert adele.external_id == scope.server.entry_uuid(f"uid=adele.vance,ou=london,{scope.people_dn}")
    assert AuditEvent.objects.filter(action="user.create", actor_label="sync:corp-ldap").count() == run.added


def test_a_second_full_import_changes_nothing(scope, connect_directory):
    for uid in ("anna", "ben", "cleo"):
        scope.person(uid, mail=f"{uid}@example.org", telephone="+44 20 7946 0958")
    connection = connect_directory()
    run_sync(connection)
    audits = AuditEvent.objects.count()
    ids = {u.upn: u.pk for u in people(connection).values()}

    again = run_sync(connection, full=True)

    assert (again.added, again.updated, again.deleted, again.unchanged) == (0, 0, 0, 3)
    assert {u.upn: u.pk for u in people(connection).values()} == ids
    assert AuditEvent.objects.count() == audits


def test_groups_and_nested_groups_arrive_with_their_members(scope, connect_directory):
    anna = scope.person("anna")
    ben = scope.person("ben", ou="paris")
    cleo = scope.person("cleo")
    paris = scope.group("paris-office", [ben])
    scope.group("all-staff", [anna, paris])
    scope.group("cleo-only", [cleo.upper()])  # DNs in member values are matched whatever their case
    connection = connect_directory()

    run = run_sync(connection)

    members = {g.name: sorted(g.members.values_list("upn", flat=True))
               for g in Group.objects.filter(directory_connection=connection)}
    assert members == {"all-staff": ["anna@example.org", "ben@example.org"], "paris-office": ["ben@example.org"],
                       "cleo-only": ["cleo@example.org"]}
    assert run.groups_changed == 3 and run.memberships_changed == 4


# --- changes ----------------------------------------------------------------------------------


def test_a_delta_carries_changed_attributes_and_leaves_the_rest(scope, connect_directory):
    anna = scope.person("anna", mail="anna@example.org", telephone="+44 20 7946 0100")
    scope.person("ben", mail="ben@example.org")
    connection = connect_directory()
    run_sync(connection)
    scope.server.modify(anna, {"telephoneNumber": "020 7946 0999", "mail": "anna.new@example.org",
                               "mobile": "07400 765432"})

    run = run_sync(connection)

    assert run.kind == "delta" and run.updated == 1 and run.added == 0
    anna_row = people(connection)["anna@example.org"]
    assert (anna_row.office_phone, anna_row.mobile_phone, anna_row.email) == ("+442079460999", "+447400765432",
                                                                             "anna.new@example.org")
    change = AuditEvent.objects.get(action="user.update", target_id=str(anna_row.pk))
    assert change.before["office_phone"] == "+442079460100" and change.after["office_phone"] == "+442079460999"


def test_renames_and_moves_update_the_same_person(scope, connect_directory, make_person):
    anna = scope.person("anna", mail="anna@example.org")
    group = scope.group("team", [anna])
    connection = connect_directory()
    run_sync(connection)
    before = people(connection)["anna@example.org"]

    moved = scope.server.rename(anna, "uid=anna.smith", new_superior=f"ou=paris,{scope.people_dn}")
    scope.server.modify(group, {"member": [moved]})
    run = run_sync(connection)

    after = User.objects.get(pk=before.pk)
    assert after.upn == "anna.smith@example.org" and after.external_id == before.external_id
    assert after.external_dn == moved.lower()
    assert run.added == 0 and User.objects.filter(directory_connection=connection).count() == 1
    assert list(Group.objects.get(name="team").members.values_list("upn", flat=True)) == ["anna.smith@example.org"]


def test_disabled_in_the_directory_is_disabled_here_and_signed_out(scope, connect_directory):
    anna = scope.person("anna")
    connection = connect_directory()
    run_sync(connection)
    epoch = people(connection)["anna@example.org"].session_epoch

    scope.server.modify(anna, {"pwdAccountLockedTime": "000001010000Z"})
    run_sync(connection)
    locked = people(connection)["anna@example.org"]
    scope.server.modify(anna, {"pwdAccountLockedTime": None})
    run_sync(connection, full=True)
    unlocked = people(connection)["anna@example.org"]

    assert not locked.is_active and locked.session_epoch == epoch + 1
    assert unlocked.is_active
    assert AuditEvent.objects.filter(action="user.disable", target_id=str(locked.pk)).exists()


def test_a_sign_in_name_taken_by_a_watchword_managed_person_is_a_warning_not_a_takeover(scope, connect_directory,
                                                                                        make_person):
    local = make_person("Anna", email="")  # anna@contoso.example
    scope.person(local.upn.split("@")[0])
    connection = connect_directory(upn_domain=local.upn.split("@")[1])

    run = run_sync(connection)

    local.refresh_from_db()
    assert local.directory_connection_id is None and run.added == 0
    assert any("already used by a Watchword-managed person" in m for _, _, m in warnings_of(run))


# --- deletions ------------------------------------------------------------------------------


def test_deleted_or_moved_out_of_scope_people_are_soft_deleted_and_restorable(scope, connect_directory):
    from watchword.directory.errors import UserNotFound
    from watchword.directory.services import get_user
    from watchword.sync.services import restore_user

    anna, ben, cleo = (scope.person(uid) for uid in ("anna", "ben", "cleo"))
    connection = connect_directory()
    run_sync(connection)
    scope.server.delete(anna)
    scope.server.rename(ben, "uid=ben", new_superior=scope.server.former_dn)

    run = run_sync(connection, reconcile=True)

    assert run.deleted == 2 and run.status == SyncRun.Status.SUCCEEDED
    gone = User.objects.get(upn="anna@example.org")
    assert gone.deleted_at is not None and not gone.is_active
    with pytest.raises(UserNotFound):
        get_user("anna@example.org")
    assert User.objects.get(upn="cleo@example.org").deleted_at is None
    one_time = restore_user(gone, actor="cli")
    gone.refresh_from_db()
    assert gone.deleted_at is None and gone.is_active and gone.directory_connection_id is None
    assert one_time and gone.check_password(one_time)
    scope.server.delete(f"uid=ben,{scope.server.former_dn}")


def test_more_deletions_than_the_threshold_stop_and_delete_nobody_until_confirmed(scope, connect_directory):
    dns = [scope.person(f"p{i}") for i in range(6)]
    connection = connect_directory(delete_threshold=3)
    run_sync(connection)
    for dn in dns[:5]:
        scope.server.delete(dn)

    stopped = run_sync(connection, reconcile=True)
    nobody_deleted = User.objects.filter(directory_connection=connection, deleted_at__isnull=False).count()
    confirmed = run_sync(connection, full=True, allow_deletes=5)

    assert stopped.status == SyncRun.Status.STOPPED and stopped.pending_deletes == 5 and stopped.deleted == 0
    assert "deletion threshold (3)" in stopped.error
    assert nobody_deleted == 0
    assert confirmed.deleted == 5 and confirmed.status == SyncRun.Status.SUCCEEDED


def test_the_threshold_can_be_a_percentage(scope, connect_directory):
    dns = [scope.person(f"p{i}") for i in range(10)]
    connection = connect_directory(delete_threshold=500, delete_threshold_percent=20)
    run_sync(connection)
    for dn in dns[:3]:
        scope.server.delete(dn)

    run = run_sync(connection, reconcile=True)

    assert run.status == SyncRun.Status.STOPPED and run.pending_deletes == 3


def test_a_person_who_comes_back_within_30_days_is_restored_with_their_methods(scope, connect_directory, enrol):
    anna = scope.person("anna", extra={"pwdAccountLockedTime": "000001010000Z"})
    connection = connect_directory(user_filter="(&(objectClass=inetOrgPerson)(!(description=left)))")
    run_sync(connection)
    row = people(connection)["anna@example.org"]
    enrol(row)
    scope.server.modify(anna, {"description": "left"})
    run_sync(connection, reconcile=True)
    scope.server.modify(anna, {"description": None, "pwdAccountLockedTime": None})

    run = run_sync(connection, reconcile=True)

    row.refresh_from_db()
    assert run.restored == 1 and row.deleted_at is None and row.is_active
    assert row.methods.count() == 1


# --- dry run and bad input -----------------------------------------------------------------------


def test_a_dry_run_counts_what_would_change_and_changes_nothing(scope, connect_directory):
    for uid in ("anna", "ben"):
        scope.person(uid)
    connection = connect_directory()

    run = run_sync(connection, dry_run=True)

    assert run.dry_run and run.added == 2 and run.status == SyncRun.Status.SUCCEEDED
    assert not User.objects.filter(directory_connection=connection).exists()
    connection.refresh_from_db()
    assert connection.high_water == ""


@pytest.mark.parametrize("change, code_words", [
    ({"password": "not-the-password"}, "invalid credentials"),
    ({"url": "ldap://127.0.0.1:9"}, "cannot be reached"),
    ({"base_dns": "ou=nowhere,dc=example,dc=org"}, "does not exist"),
])
def test_a_run_that_cannot_read_the_directory_fails_with_the_reason_and_changes_nothing(
        scope, connect_directory, change, code_words):
    scope.person("anna")
    password = change.pop("password", None)
    connection = connect_directory(password=password, **change)

    run = run_sync(connection)

    assert run.status == SyncRun.Status.FAILED and code_words in run.error
    assert not User.objects.filter(directory_connection=connection).exists()


def test_referrals_are_reported_not_followed(scope, connect_directory):
    scope.person("anna")
    scope.server.add(f"ou=branch,{scope.people_dn}", {"objectClass": ["referral", "extensibleObject"], "ou": "branch",
                                                      "ref": "ldap://branch.example.org/ou=people,dc=branch"})
    connection = connect_directory()

    run = run_sync(connection)

    assert run.added == 1
    assert any("referrals are not followed" in w.message for w in run.warnings.all())


def test_an_entry_without_an_immutable_id_is_skipped_with_a_warning(scope, connect_directory):
    scope.person("anna")
    scope.person("ben")
    connection = connect_directory(mapping={"id": "employeeNumber"})
    scope.server.modify(f"uid=anna,ou=london,{scope.people_dn}", {"employeeNumber": "E-1001"})

    run = run_sync(connection)

    assert run.added == 1 and people(connection)["anna@example.org"].external_id == "e-1001"
    assert any("no usable immutable id" in w.message for w in run.warnings.all())


def test_people_deleted_more_than_30_days_ago_are_purged_with_their_methods(scope, connect_directory, enrol):
    from datetime import timedelta

    from django.utils import timezone

    from watchword.methods.models import Method
    from watchword.sync.engine import purge_deleted

    for uid in ("old", "recent"):
        scope.person(uid)
    connection = connect_directory()
    run_sync(connection)
    old, recent = User.objects.get(upn="old@example.org"), User.objects.get(upn="recent@example.org")
    enrol(old)
    now = timezone.now()
    User.objects.filter(pk=old.pk).update(deleted_at=now - timedelta(days=31), is_active=False)
    User.objects.filter(pk=recent.pk).update(deleted_at=now - timedelta(days=29), is_active=False)

    purged = purge_deleted(now)

    assert purged == 1
    assert not User.objects.filter(pk=old.pk).exists() and not Method.objects.filter(user_id=old.pk).exists()
    assert User.objects.filter(pk=recent.pk).exists()
    assert AuditEvent.objects.filter(action="user.purge", target_label="old@example.org").exists()


def test_two_entries_with_one_sign_in_name_keep_the_first_and_warn_about_the_second(scope, connect_directory):
    scope.person("pat1", mail="pat@example.org")
    scope.person("pat2", mail="pat@example.org")
    connection = connect_directory(mapping={"upn": "mail"})

    run = run_sync(connection)

    assert run.added == 1 and User.objects.filter(upn="pat@example.org").count() == 1
    assert any("already used by another directory entry" in w.message for w in run.warnings.all())


def test_a_change_made_to_an_already_read_page_during_a_run_is_read_by_the_next_delta(scope, connect_directory,
                                                                                      monkeypatch):
    """Pages are read in snapshots of their own: a change to an entry whose page was already
    read, followed by a change on a later page, must not fall below the high-water mark."""
    import watchword.sync.ldap as sync_ldap

    first = scope.person("aaron", telephone="+44 20 7946 0100")
    last = scope.person("zed", telephone="+44 20 7946 0200")
    connection = connect_directory()
    run_sync(connection)
    scope.server.modify(first, {"telephoneNumber": "+44 20 7946 0101"})
    scope.server.modify(last, {"telephoneNumber": "+44 20 7946 0201"})
    real = sync_ldap.paged_search
    changed = []

    def one_entry_pages(conn, base, search_filter, attributes, **kwargs):
        for page in real(conn, base, search_filter, attributes, **{**kwargs, "page_size": 1}):
            yield page
            if "inetOrgPerson" in search_filter and not changed:  # after the first page of people
                scope.server.modify(first, {"telephoneNumber": "+44 20 7946 0102"})
                scope.server.modify(last, {"telephoneNumber": "+44 20 7946 0202"})
                changed.append(True)

    monkeypatch.setattr(sync_ldap, "paged_search", one_entry_pages)
    run_sync(connection)
    monkeypatch.setattr(sync_ldap, "paged_search", real)
    run_sync(connection)

    assert User.objects.get(upn="aaron@example.org").office_phone == "+442079460102"
    assert User.objects.get(upn="zed@example.org").office_phone == "+442079460202"


def test_a_group_change_is_read_once_not_at_every_poll(scope, connect_directory, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    anna = scope.person("anna")
    ben = scope.person("ben")
    group = scope.group("team", [anna])
    connection = connect_directory()
    run_sync(connection)
    scope.server.modify(group, {"member": [anna, ben]})
    # Polls long after the change, when the high-water mark is no longer held back by the margin.
    later = timezone.now() + timedelta(minutes=10)
    monkeypatch.setattr(timezone, "now", lambda: later)

    changed = run_sync(connection)
    quiet = run_sync(connection, record_quiet=False)

    assert changed.memberships_changed == 1
    assert quiet.memberships_changed == 0 and quiet.groups_changed == 0 and quiet.unchanged == 0


def test_a_changed_group_keeps_the_members_of_an_unchanged_nested_group(scope, connect_directory):
    anna, ben, cleo = (scope.person(uid) for uid in ("anna", "ben", "cleo"))
    paris = scope.group("paris-office", [ben])
    everyone = scope.group("all-staff", [anna, paris])
    connection = connect_directory()
    run_sync(connection)
    scope.server.modify(everyone, {"member": [anna, paris, cleo]})

    run = run_sync(connection)

    assert run.kind == "delta"
    assert sorted(Group.objects.get(name="all-staff").members.values_list("upn", flat=True)) == [
        "anna@example.org", "ben@example.org", "cleo@example.org"]


def test_when_only_a_nested_group_changes_its_parents_follow_in_the_same_delta(scope, connect_directory,
                                                                               monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    anna, ben, cleo = (scope.person(uid) for uid in ("anna", "ben", "cleo"))
    paris = scope.group("paris-office", [ben])
    europe = scope.group("europe", [paris])
    scope.group("all-staff", [anna, europe])
    scope.person("zed")  # the newest entry: the high-water mark
    # Runs long after the entries were made, so the mark is not held back over them (which would
    # read every group again and hide what this test is about).
    later = timezone.now() + timedelta(minutes=10)
    monkeypatch.setattr(timezone, "now", lambda: later)
    connection = connect_directory()
    run_sync(connection)
    scope.server.modify(paris, {"member": [ben, cleo]})

    run = run_sync(connection)

    assert run.kind == "delta"
    members = {g.name: sorted(g.members.values_list("upn", flat=True))
               for g in Group.objects.filter(directory_connection=connection)}
    assert members["paris-office"] == ["ben@example.org", "cleo@example.org"]
    assert members["europe"] == ["ben@example.org", "cleo@example.org"]
    assert members["all-staff"] == ["anna@example.org", "ben@example.org", "cleo@example.org"]
