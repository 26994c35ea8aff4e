#!/usr/bin/env python
"""Directory-sync benchmark: a full import of 10,000 and 100,000 people from a real OpenLDAP
server (slapd on 127.0.0.1, started and stopped by the bench), a delta of 100 changes, and how
long a change takes to show in Watchword in continuous mode, compared with a baseline measured in
the same run: a plain paged ldap3 read of the same entries with the same attributes (no database).

    .venv/bin/python bench/sync.py [--sizes 10000,100000] [--poll-seconds 10] [--samples 5]
    .venv/bin/python bench/sync.py --profile /tmp/sync.pstats      # plus one import under cProfile

Targets: 100,000 people in ≤ 60 s; the importing process's memory does not grow with the
directory's size; a single change visible in ≤ 15 s. Each import runs in a fresh child process
with a fresh database, and its peak memory is that process's ru_maxrss. Prints figures; asserts
nothing about time. See bench/README.md ("Directory sync").
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))  # tests.ldap_server

from signin import PYTHON, log, machine_busy, proc_cpu  # noqa: E402

CONNECTION = "bench"
TARGET_IMPORT_S = 60.0  # for 100,000 people
TARGET_IMPORT_SIZE = 100_000
TARGET_LATENCY_S = 15.0
FLAT_MEMORY_MB = 10.0  # peak growth between the sizes that still counts as "does not grow"
PAGE = os.sysconf("SC_PAGE_SIZE")
CHILDREN: list[subprocess.Popen] = []


def new_number(j: int) -> tuple[str, str]:
    """(as typed in the directory, as Watchword stores it): 020 7946 1000-1999, a range the
    generated people never have (theirs are 020 7946 0xxx), so every change is a real change."""
    return f"+44 20 7946 1{j % 1000:03d}", f"+442079461{j % 1000:03d}"


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * PAGE


def mb(value: float) -> float:
    return value / 1024 / 1024


# === children ==================================================================================
# Each measurement that touches Watchword runs in a child process of its own (this file with
# --child MODE SPEC OUT), so sizes don't share a heap and ru_maxrss is the measurement's own.

def person_attributes() -> tuple[list[str], list[str]]:
    """The attributes the engine asks for (engine.Runner._person_attributes / _import_groups),
    for the OpenLDAP flavour's default mapping. The import child reports what the engine really
    asked for, and the parent checks that the baseline read the same."""
    from watchword.sync.mapping import effective_mapping

    m = effective_mapping("openldap", {})
    people = {m[k] for k in ("id", "upn", "display_name", "email", "office_phone", "mobile_phone", "disabled",
                             "change") if m.get(k)}
    people.add("cn")
    groups = {m["id"], m.get("group_name") or "cn", m.get("group_description") or "description",
              m.get("member") or "member", "uniqueMember"}
    return sorted(people), sorted(groups)


def child_read(spec: dict) -> dict:
    """Baseline: a plain paged ldap3 read of every person and group, the same searches, bases,
    filters, attributes, page size and connection options as the engine; nothing is kept."""
    import ldap3

    people_attrs, group_attrs = person_attributes()
    server = ldap3.Server("127.0.0.1", port=spec["port"], get_info=ldap3.NONE, connect_timeout=10,
                          mode=ldap3.IP_V4_PREFERRED)
    conn = ldap3.Connection(server, user=spec["bind_dn"], password=spec["password"], auto_bind=ldap3.AUTO_BIND_NONE,
                            client_strategy=ldap3.SYNC, read_only=True, raise_exceptions=False,
                            auto_referrals=False, receive_timeout=30, return_empty_attributes=False)
    rss0 = rss_bytes()
    t0, c0 = time.perf_counter(), time.process_time()
    conn.open()
    conn.bind()
    counts = {}
    marks = {}
    for label, search_filter, attributes in (("people", spec["user_filter"], people_attrs),
                                             ("groups", spec["group_filter"], group_attrs)):
        entries = values = 0
        for base in spec["bases"]:
            cookie = None
            while True:
                ok = conn.search(base, search_filter, search_scope=ldap3.SUBTREE, attributes=attributes,
                                 paged_size=1000, paged_cookie=cookie)
                if not ok and (conn.result or {}).get("result") not in (0, None):
                    raise RuntimeError(f"search failed: {conn.result}")
                for item in conn.response or ():
                    if item.get("type") == "searchResEntry":
                        entries += 1
                        values += sum(len(v) for v in item["raw_attributes"].values())
                cookie = (conn.result.get("controls") or {}).get("1.2.840.113556.1.4.319", {}).get(
                    "value", {}).get("cookie")
                if not cookie:
                    break
        counts[label] = {"entries": entries, "values": values}
        marks[label] = time.perf_counter() - t0
    conn.unbind()
    return {"wall_s": time.perf_counter() - t0, "cpu_s": time.process_time() - c0, "people_s": marks["people"],
            "counts": counts, "rss_start": rss0, "attributes": [people_attrs, group_attrs]}


def django_setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "watchword.settings")
    import django

    django.setup()


READ_PERSON = "mapping (read_person)"
APPLY = "compare and write (_apply_people)"
MEMBERS = "memberships (_sync_members)"
SQL = "(of the DB parts: SQL in the database driver, cursor execute/executemany)"
OVERLAP = "(overlaps)"
PHASES = ("setup", "people", "groups", "reconcile", "deletions", "finish")


class Probe:
    """Wall time (and CPU where it tells something) of the engine's parts, by wrapping them; the
    current phase for the memory sampler. About 0.6 M wrapped calls for 100,000 people: well under
    1 % of the run (see README)."""

    def __init__(self) -> None:
        self.wall: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.phase = "setup"
        self.peak: dict[str, int] = {}
        self.pages: list[tuple[float, int, int]] = []  # (t, people done, rss) per page
        self.t0 = time.perf_counter()
        self.attributes: dict[str, list[str]] = {}
        self.stack: list[str] = []  # the wrapped parts running now, innermost last
        self._db_depth = 0
        self._stop = threading.Event()

    def add(self, name: str, wall: float, cpu: float | None = None, *, phase: str | None = None,
            parent: str | None = None) -> None:
        """Keys are "phase|parent|name": each part is counted in the phase it ran in, under the
        innermost wrapped part it ran inside ("" at the top of a phase)."""
        if parent is None:
            parent = self.stack[-1] if self.stack else ""
        key = f"{phase or self.phase}|{parent}|{name}"
        self.wall[key] = self.wall.get(key, 0.0) + wall
        self.calls[key] = self.calls.get(key, 0) + 1
        if cpu is not None:
            self.cpu[key] = self.cpu.get(key, 0.0) + cpu

    def wrap(self, owner, name: str, key, *, phase: str | None = None, db: bool = False,
             nests: bool = True) -> None:
        """Time calls of owner.name as the part ``key`` (a label, or a function of the call's
        arguments). ``phase``: the call is a phase of the run. ``db``: an ORM operation; one inside
        another is not counted again. ``nests=False``: a part that overlaps others (recorded
        apart, never a parent)."""
        original = getattr(owner, name)
        probe = self

        def wrapper(*args, **kwargs):
            if db and probe._db_depth:  # bulk_update calls update: count the outer call only
                return original(*args, **kwargs)
            label = key(args) if callable(key) else key
            previous, stack = probe.phase, probe.stack
            parent = "" if phase else (stack[-1] if stack else "")
            if phase:
                probe.phase, probe.stack = phase, []
            elif nests:
                stack.append(label)
            if db:
                probe._db_depth += 1
            t0 = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - t0
                if db:
                    probe._db_depth -= 1
                if phase:
                    probe.phase, probe.stack = previous, stack
                elif nests:
                    stack.pop()
                probe.add("total" if phase else label, elapsed, phase=phase, parent="" if phase else
                          (OVERLAP if not nests else parent))

        setattr(owner, name, wrapper)

    def install(self) -> None:
        from django.db.backends.base.base import BaseDatabaseWrapper
        from django.db.backends.utils import CursorWrapper
        from django.db.models.query import QuerySet

        from watchword.sync import engine, ldap, mapping

        probe = self
        original_search = ldap.paged_search

        def paged_search(conn, base, search_filter, attributes, **kwargs):
            label = kwargs.get("label", "filter")
            key = f"LDAP: {label} pages (search + ldap3 decoding)"
            probe.attributes.setdefault(label, list(attributes))
            pages = original_search(conn, base, search_filter, attributes, **kwargs)
            while True:
                t0, c0 = time.perf_counter(), time.process_time()
                try:
                    page = next(pages)
                except StopIteration:
                    return
                finally:
                    probe.add(key, time.perf_counter() - t0, time.process_time() - c0)
                yield page

        ldap.paged_search = paged_search
        self.wrap(engine.Runner, "_import_people", "", phase="people")
        self.wrap(engine.Runner, "_apply_people", APPLY)
        self.wrap(engine.Runner, "_audit", "audit rows built (_audit)")
        self.wrap(engine.Runner, "_import_groups", "", phase="groups")
        self.wrap(engine.Runner, "_sync_members", MEMBERS)
        self.wrap(engine.Runner, "_reconcile_ids", "", phase="reconcile")
        self.wrap(engine.Runner, "_delete_missing", "", phase="deletions")
        self.wrap(engine.Runner, "_finish", "", phase="finish")
        self.wrap(engine, "read_person", READ_PERSON)
        self.wrap(mapping, "parse_phone", "phone numbers (parse_phone)")
        self.wrap(mapping, "validate_email", "e-mail syntax (validate_email)")
        model = lambda args: args[0].model.__name__  # noqa: E731
        self.wrap(QuerySet, "bulk_create", lambda a: f"DB: bulk_create {model(a)}", db=True)
        self.wrap(QuerySet, "bulk_update", lambda a: f"DB: bulk_update {model(a)}", db=True)
        self.wrap(QuerySet, "update", lambda a: f"DB: update {model(a)}", db=True)
        self.wrap(QuerySet, "_fetch_all", lambda a: f"DB: read {model(a)}", db=True)
        self.wrap(QuerySet, "count", lambda a: f"DB: read {model(a)}", db=True)
        self.wrap(QuerySet, "exists", lambda a: f"DB: read {model(a)}", db=True)
        self.wrap(BaseDatabaseWrapper, "commit", "DB: commit")
        for name, label in (("_insert_people", "DB: insert people (executemany)"),
                            ("_insert_audit", "DB: insert audit rows (executemany)")):
            if hasattr(engine, name):  # newer engines write new people without bulk_create
                self.wrap(engine, name, label, db=True)
        self.wrap(CursorWrapper, "execute", SQL, nests=False)
        self.wrap(CursorWrapper, "executemany", SQL, nests=False)

    def progress(self, phase: str, done: int, total) -> None:
        if phase == "people" and (not self.pages or done > self.pages[-1][1]):
            parts: dict[str, float] = {}
            for k, v in self.wall.items():
                phase, _parent, name = k.split("|", 2)
                if phase == "people":
                    parts[name] = parts.get(name, 0.0) + v
            self.pages.append((time.perf_counter() - self.t0, done, rss_bytes(), parts))

    def sample(self, interval: float = 0.02) -> None:
        while not self._stop.wait(interval):
            rss = rss_bytes()
            if rss > self.peak.get(self.phase, 0):
                self.peak[self.phase] = rss

    def start_sampler(self) -> None:
        threading.Thread(target=self.sample, daemon=True).start()

    def stop_sampler(self) -> None:
        self._stop.set()


def database_size() -> dict:
    from django.conf import settings
    from django.db import connection

    from watchword.audit.models import AuditEvent
    from watchword.directory.models import Group, User

    rows = {"people": User.objects.exclude(directory_connection=None).count(),
            "audit events": AuditEvent.objects.count(),
            "memberships": Group.members.through.objects.count()}
    if connection.vendor == "sqlite":
        name = Path(settings.DATABASES["default"]["NAME"])
        size = sum(p.stat().st_size for p in (name, Path(f"{name}-wal")) if p.exists())
    else:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_database_size(current_database())")
            size = cursor.fetchone()[0]
    return {"bytes": size, "rows": rows, "vendor": connection.vendor}


def child_import(spec: dict) -> dict:
    """One full import into a fresh database, as an administrator's first 'Sync now' runs it."""
    django_setup()
    from watchword.sync.engine import run_sync
    from watchword.sync.services import create_connection

    connection = create_connection(
        {"name": CONNECTION, "flavour": "openldap", "url": f"ldap://127.0.0.1:{spec['port']}",
         "bind_dn": spec["bind_dn"], "base_dns": "\n".join(spec["bases"]), "upn_domain": "example.org",
         "phone_country": "GB", "continuous": True, "poll_seconds": spec["poll_seconds"]},
        password=spec["password"], actor="bench")
    profile_path = spec.get("profile")
    if spec.get("tracemalloc"):
        return trace_memory(connection, run_sync)
    probe = Probe()
    if not profile_path and spec.get("breakdown", True):
        probe.install()
    probe.start_sampler()
    rss0 = rss_bytes()
    profiler = None
    if profile_path:
        import cProfile

        profiler = cProfile.Profile()
    probe.t0 = time.perf_counter()
    t0, c0 = time.perf_counter(), time.process_time()
    if profiler:
        profiler.enable()
    run = run_sync(connection, progress=probe.progress)
    if profiler:
        profiler.disable()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    probe.stop_sampler()
    result = {"wall_s": wall, "cpu_s": cpu, "status": run.status, "error": run.error, "added": run.added,
              "updated": run.updated, "warnings": run.warnings_count, "groups_changed": run.groups_changed,
              "memberships_changed": run.memberships_changed, "rss_start": rss0, "rss_end": rss_bytes(),
              "peak_by_phase": probe.peak, "pages": probe.pages, "breakdown": probe.wall, "breakdown_cpu": probe.cpu,
              "calls": probe.calls, "attributes": probe.attributes, "database": database_size()}
    if profiler:
        profiler.dump_stats(profile_path)
        result["profile"] = summarise_profile(profile_path)
    return result


def trace_memory(connection, run_sync) -> dict:
    """Which lines hold the memory (tracemalloc, one frame): at the end of the people phase, and
    in the groups phase when the biggest batch of memberships is handed to the database (the
    phase's peak). Slow; its times are not results."""
    import linecache
    import tracemalloc

    from django.db.backends.utils import CursorWrapper
    from django.db.models.query import QuerySet

    from watchword.sync import engine

    from watchword.sync import ldap, mapping

    for module in (engine, mapping, ldap):  # the source as imported, should the file change during the run
        linecache.getlines(module.__file__)
    snapshots = {}
    state = {"groups": False, "largest": 0}
    ignore = [tracemalloc.Filter(False, linecache.__file__), tracemalloc.Filter(False, tracemalloc.__file__)]

    def top(label: str) -> None:
        current, peak = tracemalloc.get_traced_memory()
        lines = []
        for stat in tracemalloc.take_snapshot().filter_traces(ignore).statistics("lineno")[:10]:
            frame = stat.traceback[0]
            where = frame.filename.split("site-packages/")[-1].split("/src/")[-1]
            lines.append((stat.size, stat.count, f"{where}:{frame.lineno}",
                          linecache.getline(frame.filename, frame.lineno).strip()[:100]))
        snapshots[label] = {"current": current, "peak": peak, "top": lines}

    def batch(rows, what: str) -> None:
        if state["groups"] and len(rows) > state["largest"]:
            state["largest"] = len(rows)
            snapshots.pop("groups", None)
            top("groups")
            snapshots["groups"]["label"] = f"groups phase, writing its biggest batch ({len(rows):,} rows, {what})"

    people, groups = engine.Runner._import_people, engine.Runner._import_groups
    bulk_create, executemany = QuerySet.bulk_create, CursorWrapper.executemany

    def import_people(self, *args, **kwargs):
        mark = people(self, *args, **kwargs)
        top("people")
        snapshots["people"]["label"] = "end of the people phase"
        return mark

    def import_groups(self, *args, **kwargs):
        state["groups"] = True
        try:
            return groups(self, *args, **kwargs)
        finally:
            state["groups"] = False

    def traced_bulk_create(self, objs, *args, **kwargs):
        objs = list(objs)
        batch(objs, f"bulk_create {self.model.__name__}")
        return bulk_create(self, objs, *args, **kwargs)

    def traced_executemany(self, sql, param_list):
        param_list = list(param_list)
        batch(param_list, "executemany")
        return executemany(self, sql, param_list)

    engine.Runner._import_people, engine.Runner._import_groups = import_people, import_groups
    QuerySet.bulk_create, CursorWrapper.executemany = traced_bulk_create, traced_executemany
    tracemalloc.start(1)
    run = run_sync(connection)
    current, peak = tracemalloc.get_traced_memory()
    return {"status": run.status, "traced_peak": peak, "snapshots": snapshots}


PROFILE_PARTS = (  # (label, file suffix, function): cumulative time in the profile
    ("the whole run", "sync/engine.py", "run_sync"),
    ("LDAP searches (sync/ldap.py paged_search)", "sync/ldap.py", "paged_search"),
    ("… ldap3 decoding responses (decode_response_fast)", "ldap3/strategy/base.py", "decode_response_fast"),
    ("… of which building decoded 'attributes' (unused)", "ldap3/operation/search.py",
     "checked_attributes_to_dict_fast"),
    ("mapping (read_person)", "sync/mapping.py", "read_person"),
    ("… phone parsing (parse_phone)", "directory/phones.py", "parse_phone"),
    ("… e-mail validation (validate_email)", "django/core/validators.py", "__call__"),
    ("compare and write people (_apply_people)", "sync/engine.py", "_apply_people"),
    ("groups and memberships (_import_groups)", "sync/engine.py", "_import_groups"),
    ("anywhere: Django bulk_create (memberships, warnings)", "django/db/models/query.py", "bulk_create"),
    ("anywhere: Django compiling SQL (every compiler's as_sql)", "django/db/models/sql/compiler.py", "as_sql"),
    ("anywhere: model instances built (Model.__init__)", "django/db/models/base.py", "__init__"),
    ("SQLite itself (cursor execute)", "django/db/backends/sqlite3/base.py", "execute"),
    ("SQLite commits", "django/db/backends/base/base.py", "commit"),
)


def summarise_profile(path: str) -> dict:
    import io
    import pstats

    stats = pstats.Stats(path)
    parts = []
    for label, suffix, name in PROFILE_PARTS:
        cum = sum(v[3] for (f, _line, n), v in stats.stats.items() if f.endswith(suffix) and n == name)
        parts.append((label, cum))
    out = io.StringIO()
    pstats.Stats(path, stream=out).sort_stats("tottime").print_stats(25)
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    start = next((i for i, line in enumerate(lines) if line.lstrip().startswith("ncalls")), 0)
    return {"parts": parts, "top_tottime": lines[start:start + 26], "total": stats.total_tt}


def child_delta(spec: dict) -> dict:
    """Rounds of: a quiet continuous poll (nothing changed: the baseline), 100 telephoneNumber
    modifies in slapd, then a delta run; then one scheduled run (delta + reconciliation)."""
    django_setup()
    import ldap3

    from watchword.directory.models import User
    from watchword.sync.engine import run_sync
    from watchword.sync.mapping import normalise_dn
    from watchword.sync.models import DirectoryConnection

    connection = DirectoryConnection.objects.get(name=CONNECTION)
    probe = Probe()
    probe.install()

    def timed(**options) -> tuple[object, float, float, dict]:
        """One run; its wall and CPU time and the probe's parts for it alone."""
        before = dict(probe.wall)
        t0, c0 = time.perf_counter(), time.process_time()
        run = run_sync(connection, **options)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        parts = {k: v - before.get(k, 0.0) for k, v in probe.wall.items() if v - before.get(k, 0.0) >= 0.005}
        return run, wall, cpu, parts

    admin = ldap3.Connection(ldap3.Server("127.0.0.1", port=spec["port"], get_info=ldap3.NONE),
                             user=spec["admin_dn"], password=spec["admin_password"], auto_bind=True)
    rounds = []
    for changes in spec["rounds"]:
        quiet, quiet_s, _cpu, quiet_parts = timed(trigger="continuous", record_quiet=False)
        t0 = time.perf_counter()
        for dn, typed, _stored in changes:
            if not admin.modify(dn, {"telephoneNumber": [(ldap3.MODIFY_REPLACE, [typed])]}):
                raise RuntimeError(f"modify {dn}: {admin.result}")
        modify_s = time.perf_counter() - t0
        run, delta_s, delta_cpu, delta_parts = timed()
        wanted = {normalise_dn(dn): stored for dn, _typed, stored in changes}
        seen = dict(User.objects.filter(external_dn__in=list(wanted)).values_list("external_dn", "office_phone"))
        rounds.append({"quiet_s": quiet_s, "quiet_status": quiet.status, "quiet_parts": quiet_parts,
                       "delta_parts": delta_parts, "modify_s": modify_s, "delta_s": delta_s,
                       "delta_cpu_s": delta_cpu, "kind": run.kind, "status": run.status, "updated": run.updated,
                       "unchanged": run.unchanged, "error": run.error,
                       "visible": sum(1 for dn, stored in wanted.items() if seen.get(dn) == stored)})
    # One group changed in the directory (its description: no membership changes), then quiet
    # continuous polls: the first applies it; the others should find nothing to do.
    group_polls = []
    if spec.get("group_dn"):
        description = {"description": [(ldap3.MODIFY_REPLACE, ["changed by bench/sync.py"])]}
        if not admin.modify(spec["group_dn"], description):
            raise RuntimeError(f"modify {spec['group_dn']}: {admin.result}")
        for _ in range(3):
            run, wall, cpu, parts = timed(trigger="continuous", record_quiet=False)
            group_polls.append({"wall_s": wall, "cpu_s": cpu, "parts": parts, "groups_changed": run.groups_changed})
    admin.unbind()
    scheduled, wall, cpu, parts = timed(reconcile=True, trigger="schedule")
    return {"rounds": rounds, "group_polls": group_polls,
            "scheduled": {"wall_s": wall, "cpu_s": cpu, "parts": parts, "status": scheduled.status,
                          "deleted": scheduled.deleted, "updated": scheduled.updated, "error": scheduled.error}}


def child_continuous(spec: dict) -> dict:
    """Only when watchword.sync.scheduler is missing: what a continuous-mode scheduler does, a
    delta poll every poll_seconds after the last one ended, until SIGTERM."""
    django_setup()
    from watchword.sync.engine import run_sync
    from watchword.sync.models import DirectoryConnection

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    connection = DirectoryConnection.objects.get(name=CONNECTION)
    polls = 0
    while not stop.is_set():
        run_sync(connection, trigger="continuous", record_quiet=False)
        polls += 1
        stop.wait(spec["poll_seconds"])
    return {"polls": polls}


def child_main(mode: str, spec_path: str, out_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    handler = {"read": child_read, "import": child_import, "delta": child_delta,
               "continuous": child_continuous}[mode]
    result = handler(spec)
    Path(out_path).write_text(json.dumps(result))
    return 0


# === the parent ================================================================================

def run_child(mode: str, spec: dict, env: dict, work: Path, timeout: float = 1800) -> dict:
    """Run one child to its end; its result, plus its own wall time, CPU and peak RSS (wait4)."""
    tag = f"{mode}-{time.monotonic_ns()}"
    spec_path, out_path, log_path = work / f"{tag}.spec.json", work / f"{tag}.out.json", work / f"{tag}.log"
    spec_path.write_text(json.dumps(spec))
    with open(log_path, "w") as log_file:
        proc = subprocess.Popen([PYTHON, str(Path(__file__).resolve()), "--child", mode, str(spec_path),
                                 str(out_path)], env=env, stdout=log_file, stderr=subprocess.STDOUT)
    CHILDREN.append(proc)
    t0 = time.monotonic()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - t0 > timeout:
            os.kill(proc.pid, signal.SIGKILL)
            pid, status, usage = os.wait4(proc.pid, 0)
            break
        time.sleep(0.05)
    proc.returncode = os.waitstatus_to_exitcode(status)
    CHILDREN.remove(proc)
    if proc.returncode != 0 or not out_path.exists():
        raise RuntimeError(f"child {mode} failed (exit {proc.returncode}):\n{log_path.read_text()[-4000:]}")
    result = json.loads(out_path.read_text())
    result["process"] = {"maxrss": usage.ru_maxrss * 1024, "cpu_s": usage.ru_utime + usage.ru_stime,
                         "wall_s": time.monotonic() - t0}
    for path in (spec_path, out_path, log_path):
        path.unlink(missing_ok=True)
    return result


class Db:
    """The parent's own read-only look at Watchword's database (no Django here): sqlite3 in
    autocommit, so no read snapshot is held open between looks; or psycopg for PostgreSQL."""

    def __init__(self, data_dir: Path, url: str | None) -> None:
        if url:
            import psycopg

            self.conn = psycopg.connect(url, autocommit=True)
            self.mark = "%s"
        else:
            import sqlite3

            self.conn = sqlite3.connect(data_dir / "watchword.sqlite3", isolation_level=None, timeout=20)
            self.mark = "?"

    def one(self, sql: str, *params):
        cursor = self.conn.cursor()
        cursor.execute(sql.replace("%s", self.mark), params)
        row = cursor.fetchone()
        cursor.close()
        return row

    def close(self) -> None:
        self.conn.close()


def as_epoch(value) -> float | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.timestamp()


def ldapsearch(slapd, spec: dict, work: Path) -> dict:
    """slapd's own time: the same four searches with OpenLDAP's ldapsearch, LDIF to /dev/null."""
    people_attrs, group_attrs = person_attributes()
    secret = work / "service.pw"
    secret.write_text(spec["password"])
    secret.chmod(0o600)
    slapd_pid = slapd._runtime.process.pid
    cpu0, client_cpu, t0 = proc_cpu(slapd_pid), 0.0, time.perf_counter()
    for search_filter, attributes in ((spec["user_filter"], people_attrs), (spec["group_filter"], group_attrs)):
        for base in spec["bases"]:
            with open(os.devnull, "w") as devnull:
                proc = subprocess.Popen(["ldapsearch", "-LLL", "-x", "-H", slapd.url, "-D", spec["bind_dn"], "-y",
                                         str(secret), "-b", base, "-s", "sub", "-E", "pr=1000/noprompt",
                                         search_filter, *attributes], stdout=devnull, stderr=subprocess.PIPE)
            _, status, usage = os.wait4(proc.pid, 0)
            proc.returncode = os.waitstatus_to_exitcode(status)
            if proc.returncode:
                raise RuntimeError(f"ldapsearch failed: {proc.stderr.read().decode()[-500:]}")
            proc.stderr.close()
            client_cpu += usage.ru_utime + usage.ru_stime
    wall = time.perf_counter() - t0
    secret.unlink()
    return {"wall_s": wall, "slapd_cpu_s": proc_cpu(slapd_pid) - cpu0, "ldapsearch_cpu_s": client_cpu}


def measured(fn, slapd_pid: int):
    """Call fn(); also return slapd's CPU and the CPU everyone else used meanwhile."""
    busy0, _, steal0, _ = machine_busy()
    s0 = proc_cpu(slapd_pid)
    result = fn()
    busy1, _, steal1, _ = machine_busy()
    slapd_cpu = proc_cpu(slapd_pid) - s0
    result["slapd_cpu_s"] = slapd_cpu
    result["others_cpu_s"] = (busy1 - busy0) - slapd_cpu - result["process"]["cpu_s"]
    result["steal_s"] = steal1 - steal0
    return result


def latency(args, slapd, size: int, env: dict, data_dir: Path, work: Path) -> dict:
    """Continuous mode as shipped ('watchword worker' runs the scheduler); one person's
    telephoneNumber changed in slapd at a random moment; the clock stops when the new number is
    in Watchword's database (looked at every 50 ms)."""
    import importlib.util

    from tests.ldap_server import bulk_people_dns

    rng = random.Random(args.seed * 7 + size)
    db = Db(data_dir, args.database_url)
    picks = sorted(rng.sample(range(size), args.samples))
    dns = dict(enumerate(bulk_people_dns(max(picks) + 1, seed=args.seed)))
    scheduler = importlib.util.find_spec("watchword.sync.scheduler") is not None
    log_path = work / "worker.log"
    log_file = open(log_path, "w")
    if scheduler:
        worker = subprocess.Popen([PYTHON, "-m", "watchword.cli", "worker"], env=env, stdout=log_file,
                                  stderr=subprocess.STDOUT)
    else:
        spec_path = work / "continuous.spec.json"
        spec_path.write_text(json.dumps({"poll_seconds": args.poll_seconds}))
        worker = subprocess.Popen([PYTHON, str(Path(__file__).resolve()), "--child", "continuous", str(spec_path),
                                   str(work / "continuous.out.json")], env=env, stdout=log_file,
                                  stderr=subprocess.STDOUT)
    CHILDREN.append(worker)
    samples = []
    try:
        first = as_epoch(db.one("SELECT last_poll_at FROM sync_directoryconnection WHERE name = %s", CONNECTION)[0])
        deadline = time.monotonic() + args.poll_seconds * 3 + 60
        while as_epoch(db.one("SELECT last_poll_at FROM sync_directoryconnection WHERE name = %s",
                              CONNECTION)[0]) == first:  # the worker's first poll: it is running
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(f"the worker did not poll:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.1)
        cpu0, t_start = proc_cpu(worker.pid), time.monotonic()
        for k, i in enumerate(picks):
            time.sleep(rng.uniform(0, args.poll_seconds))
            dn = dns[i]
            typed, stored = new_number(500 + k)
            external_id = slapd.entry_uuid(dn).lower()
            last_poll = as_epoch(db.one("SELECT last_poll_at FROM sync_directoryconnection WHERE name = %s",
                                        CONNECTION)[0])
            wall0, t0 = time.time(), time.monotonic()
            slapd.modify(dn, {"telephoneNumber": typed})
            t_modified = time.monotonic()
            seen, looks = None, 0
            while time.monotonic() - t0 < args.poll_seconds * 3 + 60:
                looks += 1
                row = db.one("SELECT office_phone FROM directory_user WHERE external_id = %s", external_id)
                if row and row[0] == stored:
                    seen = time.monotonic()
                    break
                time.sleep(0.05)
            polled = as_epoch(db.one("SELECT last_poll_at FROM sync_directoryconnection WHERE name = %s",
                                     CONNECTION)[0])
            samples.append({"dn": dn, "latency_s": None if seen is None else seen - t0,
                            "modify_s": t_modified - t0,
                            "since_last_poll_s": None if last_poll is None else wall0 - last_poll,
                            "poll_end_after_change_s": None if polled is None else polled - wall0})
            log(f"  change {k + 1}/{args.samples}: visible after "
                f"{'—' if seen is None else f'{seen - t0:.2f} s'} (made {wall0 - (last_poll or wall0):.1f} s "
                "after the previous poll ended)")
        worker_cpu = proc_cpu(worker.pid) - cpu0
        window = time.monotonic() - t_start
    finally:
        stop_process(worker)
        log_file.close()
        db.close()
    values = [s["latency_s"] for s in samples if s["latency_s"] is not None]
    return {"mode": "watchword worker (watchword.sync.scheduler)" if scheduler else
            "emulated continuous loop (no watchword.sync.scheduler)",
            "poll_seconds": args.poll_seconds, "samples": samples, "missed": len(samples) - len(values),
            "min_s": min(values) if values else None, "median_s": statistics.median(values) if values else None,
            "max_s": max(values) if values else None, "worker_cpu_s": worker_cpu, "window_s": window}


def stop_process(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
    if proc in CHILDREN:
        CHILDREN.remove(proc)


def fresh_data_dir(args, template: Path, target: Path, env: dict) -> None:
    shutil.copytree(template, target)
    if args.database_url:  # one database for every size: empty it (and migrate, in case)
        for command in (["manage", "flush", "--no-input"], ["manage", "migrate", "--verbosity", "0"]):
            result = subprocess.run([PYTHON, "-m", "watchword.cli", *command], env=env, capture_output=True,
                                    text=True, timeout=600)
            if result.returncode:
                raise RuntimeError(f"watchword {' '.join(command)} failed:\n{result.stderr[-3000:]}")


def code_version() -> str:
    """The commit measured, and whether the sync code had uncommitted changes."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", *(f"src/watchword/sync/{name}.py" for name in
                                ("engine", "ldap", "mapping", "services", "scheduler", "models"))],
                               cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + (" + uncommitted changes to the sync engine" if dirty else "")


def run(args) -> dict:
    from tests.ldap_server import Slapd, bulk_ldif, bulk_people_dns

    work = Path(tempfile.mkdtemp(prefix="watchword-bench-sync-"))
    base_env = {**os.environ, "DJANGO_SETTINGS_MODULE": "watchword.settings", "WATCHWORD_ORGANISATION": "Bench"}
    base_env.pop("WATCHWORD_DATABASE_URL", None)
    if args.database_url:
        base_env["WATCHWORD_DATABASE_URL"] = args.database_url
    result = {"date": dt.datetime.now().strftime("%Y-%m-%d %H:%M"), "cores": os.cpu_count(), "code": code_version(),
              "python": sys.version.split()[0],
              "database": "PostgreSQL" if args.database_url else "SQLite (embedded)",
              "sizes": [], "work": str(work)}
    slapd = None
    try:
        template = work / "template"
        env = {**base_env, "WATCHWORD_DATA_DIR": str(template)}
        init = subprocess.run([PYTHON, "-m", "watchword.cli", "init"], env=env, capture_output=True, text=True,
                              timeout=600)
        if init.returncode:
            raise RuntimeError(f"watchword init failed:\n{init.stderr[-3000:]}")
        import ldap3

        result["ldap3"] = ldap3.__version__
        for size in args.sizes:
            largest = size == args.sizes[-1]
            log(f"{size:,} people: writing the LDIF and loading slapd (slapadd)")
            slapd = Slapd(work / f"slapd-{size}", log_level="0")
            ldif = work / f"people-{size}.ldif"
            t0 = time.perf_counter()
            bulk_ldif(ldif, size, seed=args.seed)
            slapd.load_ldif_offline(ldif)
            ldif.unlink()
            slapd.start()
            setup_s = time.perf_counter() - t0
            spec = {"port": slapd.port, "bind_dn": slapd.service_dn, "password": slapd.service_password,
                    "bases": [slapd.people_dn, slapd.groups_dn], "user_filter": "(objectClass=inetOrgPerson)",
                    "group_filter": "(|(objectClass=groupOfNames)(objectClass=groupOfUniqueNames))",
                    "poll_seconds": args.poll_seconds, "breakdown": not args.no_breakdown}
            pid = slapd._runtime.process.pid
            entry = {"size": size, "setup_s": setup_s}
            entry["ldapsearch"] = ldapsearch(slapd, spec, work)
            log(f"  slapd alone (ldapsearch → /dev/null): {entry['ldapsearch']['wall_s']:.2f} s")
            entry["read_before"] = measured(lambda: run_child("read", spec, base_env, work), pid)
            log(f"  baseline ldap3 read: {entry['read_before']['wall_s']:.2f} s")
            data_dir = work / f"data-{size}"
            env = {**base_env, "WATCHWORD_DATA_DIR": str(data_dir)}
            fresh_data_dir(args, template, data_dir, env)
            entry["import"] = measured(lambda: run_child("import", spec, env, work), pid)
            imp = entry["import"]
            log(f"  import: {imp['wall_s']:.2f} s, {size / imp['wall_s']:,.0f} people/s, {imp['status']}, "
                f"peak {mb(imp['process']['maxrss']):.0f} MB")
            entry["read_after"] = measured(lambda: run_child("read", spec, base_env, work), pid)
            log(f"  baseline ldap3 read again: {entry['read_after']['wall_s']:.2f} s")
            rng = random.Random(args.seed * 31 + size)
            chosen = rng.sample(range(size), min(size, args.delta * args.delta_rounds))
            dns = list(bulk_people_dns(max(chosen) + 1, seed=args.seed))
            rounds = [[(dns[i], *new_number(r * args.delta + j))
                       for j, i in enumerate(chosen[r * args.delta:(r + 1) * args.delta])]
                      for r in range(args.delta_rounds)]
            delta_spec = {**spec, "admin_dn": slapd.admin_dn, "admin_password": slapd.admin_password,
                          "rounds": rounds, "group_dn": f"cn=vpn-users,{slapd.groups_dn}"}
            entry["delta"] = measured(lambda: run_child("delta", delta_spec, env, work), pid)
            log("  delta of {}: {} s (quiet poll {} s); scheduled run {:.2f} s".format(
                args.delta, " / ".join(f"{r['delta_s']:.2f}" for r in entry["delta"]["rounds"]),
                " / ".join(f"{r['quiet_s']:.2f}" for r in entry["delta"]["rounds"]),
                entry["delta"]["scheduled"]["wall_s"]))
            if largest and args.samples:
                log(f"  continuous mode: {args.samples} changes, poll every {args.poll_seconds} s")
                entry["latency"] = latency(args, slapd, size, env, data_dir, work)
            if largest and args.profile:
                log(f"  import again under cProfile → {args.profile}")
                profile_dir = work / f"data-{size}-profile"
                fresh_data_dir(args, template, profile_dir, {**base_env, "WATCHWORD_DATA_DIR": str(profile_dir)})
                entry["profile"] = run_child("import", {**spec, "profile": str(Path(args.profile).resolve())},
                                             {**base_env, "WATCHWORD_DATA_DIR": str(profile_dir)}, work)
            if largest and args.tracemalloc:
                log("  import again under tracemalloc")
                trace_dir = work / f"data-{size}-tracemalloc"
                trace_env = {**base_env, "WATCHWORD_DATA_DIR": str(trace_dir)}
                fresh_data_dir(args, template, trace_dir, trace_env)
                entry["tracemalloc"] = run_child("import", {**spec, "tracemalloc": True}, trace_env, work)
            result["sizes"].append(entry)
            slapd.close()
            slapd = None
            if not args.keep:
                shutil.rmtree(work / f"slapd-{size}", ignore_errors=True)
    finally:
        for proc in list(CHILDREN):
            stop_process(proc)
        if slapd is not None:
            slapd.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return result


# === the report ================================================================================

def report(r: dict) -> None:
    print(f"\nWatchword directory-sync benchmark — {r['date']}, {r['cores']} cores, {r['database']}, "
          f"Python {r['python']}, ldap3 {r.get('ldap3')}; slapd on 127.0.0.1\n  code: {r['code']}")
    for e in r["sizes"]:
        n, imp = e["size"], e["import"]
        reads = [e["read_before"]["wall_s"], e["read_after"]["wall_s"]]
        baseline = statistics.fmean(reads)
        ls = e["ldapsearch"]
        proc = imp["process"]
        peaks = imp["peak_by_phase"]
        db = imp["database"]
        error = f", {imp['error']}" if imp["error"] else ""
        rows_written = ", ".join(f"{v:,} {k}" for k, v in db["rows"].items())
        print(f"\n  {n:,} people ({imp['memberships_changed']:,} memberships in {imp['groups_changed']} groups)")
        rows = [
            ("full import", f"{imp['wall_s']:.2f} s = {n / imp['wall_s']:,.0f} people/s  ({imp['status']}; added "
                            f"{imp['added']:,}, {imp['warnings']:,} warnings{error})"),
            ("  CPU: import process / slapd", f"{imp['cpu_s']:.1f} s / {imp['slapd_cpu_s']:.1f} s  (others' CPU "
                                               f"{imp['others_cpu_s']:.1f} s, steal {imp['steal_s']:.1f} s)"),
            ("baseline: ldap3 paged read", f"{baseline:.2f} s  (before {reads[0]:.2f}, after {reads[1]:.2f}; "
                                           f"people {e['read_before']['people_s']:.2f} s; "
                                           f"CPU {e['read_before']['cpu_s']:.1f} s)"),
            ("ratio import ÷ ldap3 read", f"{imp['wall_s'] / baseline:.1f}×"),
            ("slapd alone: ldapsearch → /dev/null", f"{ls['wall_s']:.2f} s  (slapd CPU {ls['slapd_cpu_s']:.2f} s, "
                                                    f"ldapsearch CPU {ls['ldapsearch_cpu_s']:.2f} s)"),
            ("memory: import process", f"{mb(imp['rss_start']):.0f} MB when the run starts, peak "
                                       f"{mb(proc['maxrss']):.0f} MB (ru_maxrss); people phase "
                                       f"{mb(peaks.get('people', 0)):.0f} MB, groups phase "
                                       f"{mb(peaks.get('groups', 0)):.0f} MB"),
            ("memory: ldap3 read baseline", f"{mb(e['read_before']['rss_start']):.0f} MB at start, peak "
                                            f"{mb(e['read_before']['process']['maxrss']):.0f} MB"),
            ("database after the import", f"{mb(db['bytes']):.0f} MB ({rows_written})"),
        ]
        pages = imp["pages"]
        if len(pages) >= 10:
            rows.append(("first / last tenth of the people pages", tenths(pages)))
        d = e["delta"]
        rows.append((f"delta of {DELTA_SIZE} changes",
                     " / ".join(f"{x['delta_s']:.2f}" for x in d["rounds"]) + " s  (quiet poll " +
                     " / ".join(f"{x['quiet_s']:.2f}" for x in d["rounds"]) + " s; updated " +
                     " / ".join(str(x["updated"]) for x in d["rounds"]) + ", visible " +
                     " / ".join(str(x["visible"]) for x in d["rounds"]) + ")"))
        if d.get("group_polls"):
            polls = " / ".join(f"{x['wall_s']:.2f}" for x in d["group_polls"])
            groups = " / ".join(f"{x['parts'].get('groups||total', 0.0):.2f}" for x in d["group_polls"])
            rows.append(("quiet polls after one group changed",
                         f"{polls} s  (vpn-users' description; of which groups phase {groups} s)"))
        first = d["rounds"][0]
        rows.append(("first quiet poll after the import", f"{first['quiet_s']:.2f} s  (of which groups phase "
                     f"{first['quiet_parts'].get('groups||total', 0.0):.2f} s)"))
        s = d["scheduled"]
        rows.append(("scheduled run (delta + reconciliation)", f"{s['wall_s']:.2f} s  ({s['status']}, CPU "
                                                               f"{s['cpu_s']:.1f} s, deleted {s['deleted']})"))
        width = max(len(k) for k, _ in rows)
        for key, value in rows:
            print(f"    {key.ljust(width)}  {value}")
        if imp.get("breakdown"):
            print("    where the import's time went (wall time in each part, by phase; indented parts are inside "
                  "the one above):")
            for line in breakdown_lines(imp):
                print(f"      {line}")
        attrs = imp.get("attributes", {})
        wanted = e["read_before"]["attributes"]
        if attrs and (attrs.get("user filter") != wanted[0] or attrs.get("group filter") != wanted[1]):
            print(f"    NOTE: the engine asked for {attrs}, the baseline for {wanted}: update person_attributes()")
        if "latency" in e:
            lat = e["latency"]
            print(f"    change → visible, continuous mode ({lat['mode']}, poll every {lat['poll_seconds']} s):")
            if lat["median_s"] is not None:
                print(f"      min / median / max {lat['min_s']:.2f} / {lat['median_s']:.2f} / {lat['max_s']:.2f} s "
                      f"over {len(lat['samples'])} changes ({lat['missed']} not seen); each: " +
                      ", ".join(f"{x['latency_s']:.2f} s (made {x['since_last_poll_s']:.1f} s after a poll ended)"
                                for x in lat["samples"] if x["latency_s"] is not None))
            print(f"      worker CPU while polling: {lat['worker_cpu_s']:.1f} s in {lat['window_s']:.0f} s "
                  f"({100 * lat['worker_cpu_s'] / lat['window_s']:.1f} % of a core)")
        if "profile" in e and "profile" in e["profile"]:
            prof = e["profile"]
            print(f"    cProfile of a second import ({prof['wall_s']:.1f} s under the profiler; shares of the "
                  "profiled run):")
            total = prof["profile"]["parts"][0][1] or 1
            for label, cum in prof["profile"]["parts"]:
                print(f"      {cum:7.2f} s {100 * cum / total:5.1f} %  {label}")
            print("    top functions by own time:")
            for line in prof["profile"]["top_tottime"]:
                print(f"      {line}")
        if "tracemalloc" in e:
            t = e["tracemalloc"]
            print(f"    tracemalloc of a third import (Python objects only; traced peak "
                  f"{mb(t['traced_peak']):.0f} MB):")
            for snap in t["snapshots"].values():
                print(f"      {snap['label']}: {mb(snap['current']):.1f} MB traced")
                for size, count, where, code in snap["top"]:
                    print(f"        {mb(size):6.1f} MB {count:9,}  {where}  {code}")
    verdicts(r)


DELTA_SIZE = 100


def tenths(pages: list) -> str:
    """People/s and ms per 1,000 people of each main part, in the first and the last tenth of
    the pages: does anything slow down as the tables grow?"""
    tenth = max(1, len(pages) // 10)

    def window(a, b) -> tuple[float, dict]:
        people = b[1] - a[1]
        parts = {name: 1000 * 1000 * (b[3].get(name, 0.0) - a[3].get(name, 0.0)) / people
                 for name in ("LDAP: user filter pages (search + ldap3 decoding)", READ_PERSON, APPLY, "DB: commit")}
        return people / (b[0] - a[0]), parts

    first, last = window(pages[0], pages[tenth]), window(pages[-1 - tenth], pages[-1])
    names = {"LDAP: user filter pages (search + ldap3 decoding)": "LDAP", READ_PERSON: "mapping", APPLY: "writes",
             "DB: commit": "of which commit"}
    detail = ", ".join(f"{names[k]} {first[1][k]:.0f} → {last[1][k]:.0f}" for k in names)
    return (f"{first[0]:,.0f} → {last[0]:,.0f} people/s; ms per 1,000 people: {detail}; RSS "
            f"{mb(pages[0][2]):.0f} → {mb(pages[-1][2]):.0f} MB")


def breakdown_lines(imp: dict) -> list[str]:
    """The probe's figures as a tree: each phase, the parts that ran in it, and the parts that
    ran inside those (as recorded at run time)."""
    wall, cpu, calls, total = imp["breakdown"], imp["breakdown_cpu"], imp["calls"], imp["wall_s"]
    tree: dict[str, dict[str, dict[str, float]]] = {}  # phase -> parent -> name -> seconds
    for key, value in wall.items():
        phase, parent, name = key.split("|", 2)
        tree.setdefault(phase, {}).setdefault(parent, {})[name] = value
    phase_totals = {p: t.get("", {}).get("total", 0.0) for p, t in tree.items()}
    phase_totals["setup"] = total - sum(v for p, v in phase_totals.items() if p != "setup")

    def line(indent: int, value: float, name: str, key: str | None) -> str:
        extra = ""
        if key is not None:
            extra = f"  [{calls.get(key, 0):,}]"
            if key in cpu:
                extra += f"  CPU {cpu[key]:.2f} s, waiting for slapd {max(0.0, value - cpu[key]):.2f} s"
        return f"{'  ' * indent}{value:7.2f} s {100 * value / total:5.1f} %  {name}{extra}"

    out = []

    def walk(phase: str, parent: str, indent: int) -> float:
        children = tree.get(phase, {}).get(parent, {})
        shown = 0.0
        for name, value in sorted(children.items(), key=lambda kv: -kv[1]):
            if name == "total":
                continue
            shown += value
            if value >= 0.003 * total:  # leave out parts too small to matter
                out.append(line(indent, value, name, f"{phase}|{parent}|{name}"))
                walk(phase, name, indent + 1)
        return shown

    for phase in PHASES:
        if phase not in tree and phase != "setup":
            continue
        out.append(line(0, phase_totals[phase], f"{phase} phase" if phase != "setup" else
                        "outside the phases (claim, connect, bind, run record)", None))
        shown = walk(phase, "", 1)
        if phase != "setup":
            out.append(line(1, phase_totals[phase] - shown, "the rest of the phase (loops, comparisons, progress)",
                            None))
        for name, value in tree.get(phase, {}).get(OVERLAP, {}).items():
            out.append(line(1, value, name, f"{phase}|{OVERLAP}|{name}"))
    return out


def verdicts(r: dict) -> None:
    sizes = r["sizes"]
    print("\n  targets")
    big = next((e for e in sizes if e["size"] == TARGET_IMPORT_SIZE), None)
    if big:
        w = big["import"]["wall_s"]
        verdict = "met" if w <= TARGET_IMPORT_S else "NOT MET"
        print(f"    100,000 people in ≤ {TARGET_IMPORT_S:.0f} s: {w:.1f} s — {verdict}")
    if len(sizes) >= 2:
        a, b = sizes[0], sizes[-1]
        grow = b["import"]["process"]["maxrss"] - a["import"]["process"]["maxrss"]
        people = b["size"] - a["size"]
        db_grow = b["import"]["database"]["bytes"] - a["import"]["database"]["bytes"]
        flat = mb(grow) <= FLAT_MEMORY_MB
        print(f"    memory flat with directory size: peak {mb(a['import']['process']['maxrss']):.0f} → "
              f"{mb(b['import']['process']['maxrss']):.0f} MB from {a['size']:,} to {b['size']:,} people, "
              f"+{mb(grow):.0f} MB = {grow / people:,.0f} bytes per extra person (the database grew "
              f"{mb(db_grow):.0f} MB = {db_grow / people:,.0f} bytes per person) — "
              f"{'met' if flat else 'NOT MET'} (flat: ≤ {FLAT_MEMORY_MB:.0f} MB)")
    lat = next((e["latency"] for e in sizes if "latency" in e), None)
    if lat and lat["max_s"] is not None:
        ok = lat["max_s"] <= TARGET_LATENCY_S and not lat["missed"]
        print(f"    a change visible in ≤ {TARGET_LATENCY_S:.0f} s: max {lat['max_s']:.1f} s (median "
              f"{lat['median_s']:.1f} s) — {'met' if ok else 'NOT MET'}")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        return child_main(*argv[1:4])
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000", help="people in the directory, one import each "
                                                                "(default 10000,100000)")
    parser.add_argument("--delta", type=int, default=100, help="changes in each delta (default 100)")
    parser.add_argument("--delta-rounds", type=int, default=3, help="delta measurements per size (default 3)")
    parser.add_argument("--samples", type=int, default=5, help="single changes timed in continuous mode, on the "
                                                               "largest size (default 5; 0: skip)")
    parser.add_argument("--poll-seconds", type=int, default=10, help="continuous poll interval (default 10)")
    parser.add_argument("--database-url", help="PostgreSQL instead of the embedded SQLite (the database is "
                                               "EMPTIED before each import)")
    parser.add_argument("--profile", metavar="FILE", help="also import the largest size under cProfile (pstats "
                                                          "to FILE; about 2.5× slower, not counted in the figures)")
    parser.add_argument("--tracemalloc", action="store_true",
                        help="also import the largest size under tracemalloc: which lines hold the memory (slow)")
    parser.add_argument("--no-breakdown", action="store_true",
                        help="import without the probe that times the engine's parts (to check its cost)")
    parser.add_argument("--seed", type=int, default=1, help="the generated directory's seed (default 1)")
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (slapd, data folders, logs)")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted(int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip())
    except ValueError:
        parser.error("--sizes is numbers separated by commas, like 10000,100000")
    if not args.sizes or min(args.sizes) < args.delta * args.delta_rounds or args.poll_seconds < 2:
        parser.error("each size needs at least --delta × --delta-rounds people; --poll-seconds ≥ 2")
    global DELTA_SIZE
    DELTA_SIZE = args.delta
    from tests.ldap_server import unavailable_reason

    reason = unavailable_reason()
    if reason:
        print(f"cannot run: {reason}", file=sys.stderr)
        return 2

    def stop(*_):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        result = run(args)
    except KeyboardInterrupt:
        log("interrupted; slapd and the children stopped")
        return 130
    report(result)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2))
    failed = [e["size"] for e in result["sizes"] if e["import"]["status"] != "succeeded"]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
