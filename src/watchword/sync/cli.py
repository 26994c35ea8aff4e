"""``watchword sync …``, ``watchword worker`` and ``watchword user deleted|restore``."""

from __future__ import annotations

import argparse
import sys
import time

from watchword.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, _fail, _print_table

FLAVOURS = {"ad": "active_directory", "active-directory": "active_directory", "openldap": "openldap",
            "ldap": "openldap"}


def _connection_data(args) -> tuple[dict, str | None] | int:
    """Settings given on the command line (only those given), and the bind password if asked
    for; or an exit code after a message."""
    data: dict = {}
    simple = {"flavour": "flavour", "url": "url", "bind_dn": "bind_dn", "user_filter": "user_filter",
              "group_filter": "group_filter", "upn_domain": "upn_domain", "phone_country": "phone_country",
              "interval": "interval_minutes", "poll": "poll_seconds", "delete_threshold": "delete_threshold",
              "delete_threshold_percent": "delete_threshold_percent", "timeout": "timeout_seconds"}
    for arg, name in simple.items():
        value = getattr(args, arg, None)
        if value is not None:
            data[name] = FLAVOURS.get(value, value) if arg == "flavour" else value
    if args.base_dn:
        data["base_dns"] = "\n".join(args.base_dn)
    for flag, name in (("start_tls", "start_tls"), ("continuous", "continuous"), ("passthrough", "password_passthrough"),
                       ("enabled", "enabled")):
        value = getattr(args, flag, None)
        if value is not None:
            data[name] = value
    if args.ca_file:
        try:
            with open(args.ca_file, encoding="utf-8") as handle:
                data["ca_certificate"] = handle.read(70_000)
        except (OSError, UnicodeDecodeError) as exc:
            return _fail(f"cannot read the CA certificate file {args.ca_file}: {exc}", EXIT_USAGE)
    if args.map:
        mapping = {}
        for item in args.map:
            key, sep, value = item.partition("=")
            if not sep:
                return _fail(f"--map takes NAME=ATTRIBUTE (like office_phone=telephoneNumber), got {item!r}",
                             EXIT_USAGE)
            mapping[key.strip()] = value.strip()
        data["mapping"] = mapping
    password = None
    if args.bind_password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    return data, password


def cmd_connection_add(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.sync.services import create_connection

    got = _connection_data(args)
    if isinstance(got, int):
        return got
    data, password = got
    data["name"] = args.name
    if password is None:
        return _fail("give the bind password on standard input with --bind-password-stdin", EXIT_USAGE)
    try:
        connection = create_connection(data, password=password, actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}{f', {exc.field}' if exc.field else ''}]", EXIT_USAGE)
    print(f"Added directory connection {connection.name} ({connection.get_flavour_display()}, {connection.url}).")
    print(f"Check it with: watchword sync connection test {connection.name}")
    return EXIT_OK


def cmd_connection_edit(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.sync.services import get_connection, update_connection

    got = _connection_data(args)
    if isinstance(got, int):
        return got
    data, password = got
    if args.rename:
        data["name"] = args.rename
    try:
        connection = update_connection(get_connection(args.name), data, password=password, actor="cli")
    except WatchwordError as exc:
        return _fail(f"{exc.public_message} [{exc.code}{f', {exc.field}' if exc.field else ''}]", EXIT_USAGE)
    print(f"Saved directory connection {connection.name}."
          + (" What is in scope changed: the next run is a full import." if not connection.high_water else ""))
    return EXIT_OK


def cmd_connection_list(args) -> int:
    from django.db.models import Count, Q

    from watchword.sync.models import DirectoryConnection

    rows = []
    for c in DirectoryConnection.objects.annotate(count=Count("people", filter=Q(people__deleted_at__isnull=True))):
        last = c.runs.first()
        rows.append({"name": c.name, "flavour": c.flavour, "url": c.url, "enabled": c.enabled,
                     "schedule": c.schedule_text, "people": c.count,
                     "last_run": f"{last.started_at:%Y-%m-%d %H:%M} {last.status}" if last else "never"})
    if not rows:
        print("No directory connections. Add one with: watchword sync connection add --help")
        return EXIT_OK
    _print_table(rows, ["name", "flavour", "url", "enabled", "schedule", "people", "last_run"])
    return EXIT_OK


def cmd_connection_show(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.sync.mapping import effective_mapping
    from watchword.sync.services import describe, get_connection

    try:
        c = get_connection(args.name)
    except WatchwordError as exc:
        return _fail(exc.public_message)
    for key, value in describe(c).items():
        if key == "mapping":
            continue
        print(f"{key:26} {value if value not in (None, '') else '-'}")
    print("attribute mapping:")
    for key, value in effective_mapping(c.flavour, c.mapping).items():
        print(f"  {key:24} {value or '(off)'}{'' if key not in c.mapping else '   (set here)'}")
    print(f"{'high-water mark':26} {c.high_water or '(none: the next run is a full import)'}")
    return EXIT_OK


def cmd_connection_test(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.sync.services import get_connection, test_connection

    try:
        c = get_connection(args.name)
    except WatchwordError as exc:
        return _fail(exc.public_message)
    steps = test_connection(c)
    for step in steps:
        print(f"{'ok  ' if step.ok else 'FAIL'} {step.name}: {step.detail}")
    return EXIT_OK if steps and all(s.ok for s in steps) else EXIT_FAILED


def cmd_connection_remove(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.sync.services import get_connection, remove_connection

    try:
        c = get_connection(args.name)
    except WatchwordError as exc:
        return _fail(exc.public_message)
    if not args.yes:
        return _fail(f"removing {c.name} keeps its people as Watchword-managed people with no usable password "
                     "(reset theirs to let them sign in); add --yes to go ahead", EXIT_USAGE)
    kept = remove_connection(c, actor="cli")
    print(f"Removed directory connection {c.name}; {kept} people kept as Watchword-managed people.")
    return EXIT_OK


class _RunProgress:
    """One line on the terminal: phase, entries read, rate, and a bar when the total is known."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = time.monotonic()
        self.shown = 0.0
        self.tty = sys.stderr.isatty()

    def __call__(self, phase: str, done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - self.shown < (0.2 if self.tty else 5.0):
            return
        self.shown = now
        rate = done / max(now - self.started, 1e-6)
        bar = ""
        if total:
            filled = int(30 * done / total)
            bar = f"[{'#' * filled}{'.' * (30 - filled)}] "
        line = f"{self.name}: {phase} {bar}{done:,}{f'/{total:,}' if total else ''} ({rate:,.0f}/s)"
        sys.stderr.write(("\r" + line.ljust(100)) if self.tty else line + "\n")
        sys.stderr.flush()

    def done(self) -> None:
        if self.tty and self.shown:
            sys.stderr.write("\r" + " " * 100 + "\r")
            sys.stderr.flush()


def _summary(runs) -> None:
    rows = [{"connection": r.connection.name, "kind": r.kind + (" (dry run)" if r.dry_run else ""),
             "status": r.status, "seconds": f"{r.duration:.1f}" if r.duration is not None else "-",
             "added": r.added, "updated": r.updated, "deleted": r.deleted, "restored": r.restored,
             "unchanged": r.unchanged, "warnings": r.warnings_count,
             "groups": r.groups_changed, "memberships": r.memberships_changed} for r in runs]
    _print_table(rows, ["connection", "kind", "status", "seconds", "added", "updated", "deleted", "restored",
                        "unchanged", "warnings", "groups", "memberships"])


def cmd_run(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.sync.engine import run_sync
    from watchword.sync.errors import SyncBusy
    from watchword.sync.models import DirectoryConnection, SyncRun
    from watchword.sync.services import get_connection

    if args.confirm_deletes is not None and args.confirm_deletes < 0:
        return _fail("--confirm-deletes takes a number of people, 0 or more", EXIT_USAGE)
    try:
        connections = [get_connection(args.name)] if args.name else list(DirectoryConnection.objects.filter(enabled=True))
    except WatchwordError as exc:
        return _fail(exc.public_message)
    if not connections:
        return _fail("there is no enabled directory connection; add one with: watchword sync connection add")
    runs, status = [], EXIT_OK
    for connection in connections:
        progress = _RunProgress(connection.name)
        try:
            run = run_sync(connection, full=args.full, reconcile=True, dry_run=args.dry_run, trigger="cli",
                           allow_deletes=args.confirm_deletes, progress=progress)
        except SyncBusy:
            progress.done()
            print(f"{connection.name}: a sync is already running; try again when it has finished.", file=sys.stderr)
            status = EXIT_FAILED
            continue
        progress.done()
        runs.append(run)
        if run.status != SyncRun.Status.SUCCEEDED:
            status = EXIT_FAILED
    if runs:
        _summary(runs)
    for run in runs:
        if run.error:
            print(f"{run.connection.name}: {run.error}", file=sys.stderr)
        if run.status == SyncRun.Status.STOPPED:
            print(f"{run.connection.name}: to apply them: watchword sync run {run.connection.name} --confirm-deletes "
                  f"{run.pending_deletes}", file=sys.stderr)
        if run.warnings_count:
            print(f"{run.connection.name}: {run.warnings_count} warnings; see them with: watchword sync warnings "
                  f"{run.pk}", file=sys.stderr)
    return status


def cmd_history(args) -> int:
    from watchword.core.errors import WatchwordError
    from watchword.sync.models import SyncRun
    from watchword.sync.services import get_connection

    runs = SyncRun.objects.select_related("connection")
    if args.name:
        try:
            runs = runs.filter(connection=get_connection(args.name))
        except WatchwordError as exc:
            return _fail(exc.public_message)
    if not 1 <= args.limit <= 1000:
        return _fail("--limit must be between 1 and 1000", EXIT_USAGE)
    runs = list(runs[: args.limit])
    if not runs:
        print("No sync runs yet.")
        return EXIT_OK
    rows = [{"id": r.pk, "started": f"{r.started_at:%Y-%m-%d %H:%M:%S}", "connection": r.connection.name,
             "trigger": r.trigger, "kind": r.kind + (" dry" if r.dry_run else ""), "status": r.status,
             "seconds": f"{r.duration:.1f}" if r.duration is not None else "-", "added": r.added,
             "updated": r.updated, "deleted": r.deleted, "unchanged": r.unchanged, "warnings": r.warnings_count}
            for r in runs]
    _print_table(rows, ["id", "started", "connection", "trigger", "kind", "status", "seconds", "added", "updated",
                        "deleted", "unchanged", "warnings"])
    return EXIT_OK


def cmd_warnings(args) -> int:
    from watchword.sync.models import SyncRun

    run = SyncRun.objects.filter(pk=args.run).first() if args.run.isdigit() and len(args.run) < 12 else None
    if run is None:
        return _fail(f"there is no sync run {args.run}; 'watchword sync history' lists them")
    rows = [{"person": w.person or "-", "attribute": w.attribute or "-", "value": w.value or "-",
             "message": w.message, "dn": w.dn or "-"} for w in run.warnings.all()]
    if not rows:
        print(f"Sync run {run.pk} has no warnings.")
        return EXIT_OK
    _print_table(rows, ["person", "attribute", "value", "message", "dn"], strip=True)
    if run.warnings_count > len(rows):
        print(f"… and {run.warnings_count - len(rows)} more (the first {len(rows)} are kept).")
    return EXIT_OK


def cmd_worker(args) -> int:
    from watchword.sync.scheduler import main

    print("Watchword worker: running directory syncs on their schedules (Ctrl+C stops).", flush=True)
    main()
    return EXIT_OK


def cmd_user_deleted(args) -> int:
    from watchword.directory.models import User
    from watchword.sync.engine import RETENTION

    rows = [{"upn": u.upn, "display_name": u.display_name,
             "connection": u.directory_connection.name if u.directory_connection_id else "-",
             "deleted": f"{u.deleted_at:%Y-%m-%d %H:%M}", "restorable_until": f"{u.deleted_at + RETENTION:%Y-%m-%d}"}
            for u in User.objects.filter(deleted_at__isnull=False).select_related("directory_connection")
            .order_by("-deleted_at")]
    if not rows:
        print("No deleted people.")
        return EXIT_OK
    _print_table(rows, ["upn", "display_name", "connection", "deleted", "restorable_until"])
    return EXIT_OK


def cmd_user_restore(args) -> int:
    from watchword.directory.models import User, normalise_upn
    from watchword.sync.services import restore_user

    user = User.objects.filter(upn=normalise_upn(args.upn), deleted_at__isnull=False).first()
    if user is None:
        return _fail(f"{args.upn} is not a deleted person; 'watchword user deleted' lists them")
    one_time = restore_user(user, actor="cli")
    print(f"Restored {user.upn} with their sign-in methods.")
    if one_time:
        print("Their directory no longer has them, so they are now managed here.")
        print(f"One-time password: {one_time}  (must be changed at first sign-in)")
    return EXIT_OK


def _connection_options(p: argparse.ArgumentParser, *, adding: bool) -> None:
    p.add_argument("--flavour", choices=sorted(FLAVOURS), required=adding,
                   help="ad (Active Directory) or openldap (OpenLDAP and other LDAP servers)")
    p.add_argument("--url", required=adding, help="ldap://host:389 or ldaps://host:636")
    p.add_argument("--bind-dn", required=adding, help="the read-only account Watchword binds as")
    p.add_argument("--bind-password-stdin", action="store_true", help="read the bind password from standard input")
    p.add_argument("--base-dn", action="append", required=adding,
                   help="a DN whose subtree is in scope (repeat for several)")
    p.add_argument("--user-filter", help="LDAP filter for people (default: the flavour's)")
    p.add_argument("--group-filter", help="LDAP filter for groups; '' to sync no groups")
    p.add_argument("--upn-domain", help="added to sign-in names without @ (uid + domain)")
    p.add_argument("--phone-country", help="two-letter country for numbers without a country code")
    p.add_argument("--start-tls", action=argparse.BooleanOptionalAction, default=None, help="StartTLS on ldap://")
    p.add_argument("--ca-file", help="PEM file of the CA that signed the server's certificate")
    p.add_argument("--map", action="append", metavar="NAME=ATTRIBUTE",
                   help="attribute mapping, e.g. office_phone=telephoneNumber (repeat)")
    p.add_argument("--interval", type=int, metavar="MINUTES", help="sync every so many minutes (default 30, 1 or more)")
    p.add_argument("--continuous", action=argparse.BooleanOptionalAction, default=None,
                   help="also poll for changes every --poll seconds")
    p.add_argument("--poll", type=int, metavar="SECONDS", help="continuous poll interval (default 10)")
    p.add_argument("--delete-threshold", type=int, metavar="N", help="stop before deleting more than N (default 500)")
    p.add_argument("--delete-threshold-percent", type=int, metavar="P",
                   help="… or more than P%% of the connection's people")
    p.add_argument("--passthrough", action=argparse.BooleanOptionalAction, default=None,
                   help="check synced people's passwords by binding to the directory (default on)")
    p.add_argument("--timeout", type=int, metavar="SECONDS", help="network timeout (default 10)")
    p.add_argument("--enabled", action=argparse.BooleanOptionalAction, default=None, help="run on the schedule")


def register(sub, user) -> None:
    """Add the commands to the top-level parser (``sub``) and ``user`` subcommands."""
    sync = sub.add_parser("sync", help="directory sync from Active Directory / LDAP").add_subparsers(
        dest="sync_command", metavar="ACTION", required=True)
    conn = sync.add_parser("connection", help="add, edit, list, show, test and remove directory connections") \
        .add_subparsers(dest="connection_command", metavar="ACTION", required=True)
    p = conn.add_parser("add", help="add a directory connection",
                        description="Add a directory connection. The bind password is read from standard input "
                                    "(--bind-password-stdin) and sealed at rest.")
    p.add_argument("name", help="a short name, like corp-ad")
    _connection_options(p, adding=True)
    p.set_defaults(func=cmd_connection_add)
    p = conn.add_parser("edit", help="change a directory connection's settings",
                        description="Change only the settings given. Changing what is in scope makes the next run "
                                    "a full import.")
    p.add_argument("name")
    p.add_argument("--rename", help="a new name")
    _connection_options(p, adding=False)
    p.set_defaults(func=cmd_connection_edit)
    p = conn.add_parser("list", help="list directory connections", description="List directory connections.")
    p.set_defaults(func=cmd_connection_list)
    p = conn.add_parser("show", help="show a connection's settings and attribute mapping",
                        description="Show a connection's settings (never the password) and attribute mapping.")
    p.add_argument("name")
    p.set_defaults(func=cmd_connection_show)
    p = conn.add_parser("test", help="check that a connection works, step by step",
                        description="Connect, secure, bind, read the base DNs and try the filters; say exactly "
                                    "what is wrong.")
    p.add_argument("name")
    p.set_defaults(func=cmd_connection_test)
    p = conn.add_parser("remove", help="remove a connection (its people stay, managed here)",
                        description="Remove a connection. Its people stay as Watchword-managed people.")
    p.add_argument("name")
    p.add_argument("--yes", action="store_true", help="go ahead")
    p.set_defaults(func=cmd_connection_remove)
    p = sync.add_parser("run", help="sync now, with a progress bar and a summary",
                        description="Sync now: a delta with a check for deletions (or a full import with --full).")
    p.add_argument("name", nargs="?", help="the connection (default: every enabled one)")
    p.add_argument("--full", action="store_true", help="read everything, not only what changed")
    p.add_argument("--dry-run", action="store_true", help="show what would change; change nothing")
    p.add_argument("--confirm-deletes", type=int, metavar="N",
                   help="allow up to N deletions beyond the threshold (after a run stopped for it)")
    p.set_defaults(func=cmd_run)
    p = sync.add_parser("history", help="recent sync runs", description="Recent sync runs, newest first.")
    p.add_argument("name", nargs="?", help="only this connection")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(func=cmd_history)
    p = sync.add_parser("warnings", help="a run's warnings (people and values that could not be used)",
                        description="The warnings of one sync run.")
    p.add_argument("run", help="the run's id (from 'watchword sync history')")
    p.set_defaults(func=cmd_warnings)
    p = sub.add_parser("worker", help="run directory syncs on their schedules (when serve does not)",
                       description="Run the sync scheduler in the foreground. 'watchword serve' runs it too unless "
                                   "WATCHWORD_SYNC_SCHEDULER=off.")
    p.set_defaults(func=cmd_worker)
    p = user.add_parser("deleted", help="list people deleted by directory sync (restorable for 30 days)",
                        description="People deleted by directory sync, restorable for 30 days.")
    p.set_defaults(func=cmd_user_deleted)
    p = user.add_parser("restore", help="restore a deleted person with their sign-in methods",
                        description="Restore a deleted person with their sign-in methods.")
    p.add_argument("upn")
    p.set_defaults(func=cmd_user_restore)
