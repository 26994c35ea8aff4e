"""When syncs run: each enabled connection every ``interval_minutes`` (default 30, like the
reference; a delta plus a check of every id for deletions; the first run is a full import), and
for connections in continuous mode a delta every ``poll_seconds`` (default 10) in between.
People soft-deleted more than 30 days ago are purged once an hour.

``watchword serve`` runs this loop in a child process of its own on the embedded default;
``watchword worker`` runs it alone (set ``WATCHWORD_SYNC_SCHEDULER=off`` for ``serve`` then).
Several schedulers may run against one database: each connection's run lock decides who runs.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from datetime import timedelta

from django.db import close_old_connections
from django.utils import timezone

from watchword.sync.errors import SyncBusy
from watchword.sync.models import DirectoryConnection, SyncRun

log = logging.getLogger("watchword.sync")

PURGE_EVERY = timedelta(hours=1)


def due(connection: DirectoryConnection, now) -> str | None:
    """"schedule" when the connection's regular run is due, "continuous" when only its
    continuous poll is, else None."""
    if not connection.enabled or (connection.retry_after is not None and now < connection.retry_after):
        return None
    last = connection.last_run_at
    if last is None or not connection.high_water or now - last >= timedelta(minutes=connection.interval_minutes):
        return "schedule"
    if connection.continuous:
        polled = connection.last_poll_at
        if polled is None or now - polled >= timedelta(seconds=connection.poll_seconds):
            return "continuous"
    return None


IDLE_WAKE = 5.0  # seconds: how soon a connection added or changed elsewhere is noticed


def seconds_until_next(connections: list[DirectoryConnection], now) -> float:
    waits = [IDLE_WAKE]
    for c in connections:
        if not c.enabled:
            continue
        if c.retry_after is not None and c.retry_after > now:
            waits.append((c.retry_after - now).total_seconds())
            continue
        if c.last_run_at is not None:
            waits.append((c.last_run_at + timedelta(minutes=c.interval_minutes) - now).total_seconds())
        if c.continuous and c.last_poll_at is not None:
            waits.append((c.last_poll_at + timedelta(seconds=c.poll_seconds) - now).total_seconds())
    return max(0.2, min(waits))


def tick(now=None) -> list[SyncRun]:
    """Run whatever is due now; returns the runs recorded."""
    from watchword.sync.engine import run_sync

    now = now or timezone.now()
    runs = []
    for connection in DirectoryConnection.objects.filter(enabled=True):
        kind = due(connection, now)
        if kind is None:
            continue
        try:
            if kind == "schedule":
                run = run_sync(connection, reconcile=True, trigger="schedule")
            else:
                run = run_sync(connection, trigger="continuous", record_quiet=False)
        except SyncBusy:
            continue  # another scheduler (or an administrator) is running it
        except Exception:  # noqa: BLE001 - recorded on the run; the loop goes on with the others
            log.exception("sync of %s failed unexpectedly", connection.name)
            continue
        if run.pk:
            runs.append(run)
            if run.status != SyncRun.Status.SUCCEEDED:
                log.warning("sync of %s: %s %s", connection.name, run.status, run.error)
    return runs


def loop(stop: threading.Event) -> None:
    from watchword.sync.engine import purge_deleted

    last_purge = None
    while not stop.is_set():
        close_old_connections()
        now = timezone.now()
        try:
            tick(now)
            if last_purge is None or now - last_purge >= PURGE_EVERY:
                purged = purge_deleted(now)
                if purged:
                    log.info("purged %d people deleted more than 30 days ago", purged)
                last_purge = now
            wait = seconds_until_next(list(DirectoryConnection.objects.filter(enabled=True)), timezone.now())
        except Exception:  # noqa: BLE001 - a database hiccup must not end the scheduler
            log.exception("sync scheduler: unexpected error; trying again in 30 s")
            wait = 30.0
        stop.wait(min(wait, IDLE_WAKE))


def main() -> None:
    """The scheduler as a process of its own: ``watchword worker`` (which ``serve`` also starts),
    after Django is set up."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s",
                        stream=sys.stderr)
    stop = threading.Event()

    def _stop(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    loop(stop)
