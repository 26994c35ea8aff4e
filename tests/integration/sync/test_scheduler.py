"""When syncs run by themselves: the first run, every interval, continuous polls in between that
leave no history when nothing changed, and a failing directory tried again a minute later,
not in a tight loop."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from watchword.directory.models import User
from watchword.sync.models import SyncRun
from watchword.sync.scheduler import due, seconds_until_next, tick

pytestmark = pytest.mark.django_db


def test_a_new_connection_is_due_at_once_and_then_every_interval(scope, connect_directory):
    scope.person("anna")
    connection = connect_directory(interval_minutes=30)
    now = timezone.now()

    assert due(connection, now) == "schedule"
    [first] = tick(now)
    connection.refresh_from_db()

    assert first.kind == "full" and first.trigger == "schedule" and first.added == 1
    assert due(connection, now + timedelta(minutes=29)) is None
    assert due(connection, now + timedelta(minutes=31)) == "schedule"
    # The loop sleeps until the next run is due, and wakes every few seconds for new connections.
    assert 2 <= seconds_until_next([connection], connection.last_run_at + timedelta(minutes=29, seconds=58)) <= 2.1
    assert seconds_until_next([connection], timezone.now()) == 5


def test_continuous_mode_polls_deltas_and_records_only_runs_that_found_something(scope, connect_directory):
    anna = scope.person("anna", telephone="+44 20 7946 0100")
    connection = connect_directory(continuous=True, poll_seconds=5)
    tick(timezone.now())
    connection.refresh_from_db()
    later = timezone.now() + timedelta(seconds=6)

    assert due(connection, later) == "continuous"
    assert tick(later) == []  # nothing changed: no history row
    scope.server.modify(anna, {"telephoneNumber": "+44 20 7946 0199"})
    [poll] = tick(timezone.now() + timedelta(seconds=12))

    assert poll.trigger == "continuous" and poll.kind == "delta" and poll.updated == 1
    assert User.objects.get(upn="anna@example.org").office_phone == "+442079460199"
    assert SyncRun.objects.filter(connection=connection).count() == 2


def test_a_failing_directory_is_tried_again_after_a_minute_not_at_once(scope, connect_directory):
    connection = connect_directory(url="ldap://127.0.0.1:9")
    now = timezone.now()

    [failed] = tick(now)
    connection.refresh_from_db()

    assert failed.status == SyncRun.Status.FAILED and "cannot be reached" in failed.error
    assert due(connection, timezone.now() + timedelta(seconds=30)) is None
    assert due(connection, timezone.now() + timedelta(seconds=61)) == "schedule"


def test_disabled_connections_never_run(scope, connect_directory):
    connection = connect_directory(enabled=False)

    assert due(connection, timezone.now()) is None
    assert tick() == []
