"""Admin → Directory sync: the connections to Active Directory or OpenLDAP (list, add, edit, test,
remove), running a sync by hand, and the history of runs with their warnings.

Global Administrators only: a connection decides who exists here and how their passwords are
checked. Every change goes through ``sync.services`` (validated once, audited there); runs go
through ``sync.engine.run_sync`` (recorded there).
"""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from watchword.core.errors import WatchwordError
from watchword.signin.guards import global_admin_required
from watchword.sync.engine import RETENTION, run_sync
from watchword.sync.errors import InvalidConnectionField, SyncBusy
from watchword.sync.forms import ConnectionForm, initial_for, mapping_field_name
from watchword.sync.mapping import MAPPING_KEYS, check_mapping, managed_fields
from watchword.sync.models import DirectoryConnection, SyncRun
from watchword.sync.services import (
    bind_password,
    clean_connection,
    create_connection,
    get_connection,
    remove_connection,
    require_password_for_new_destination,
    test_connection,
    update_connection,
)

log = logging.getLogger("watchword.sync")

RUNS_PER_PAGE = 50
WARNINGS_PER_PAGE = 100
RECENT_RUNS = 20
STATUS_BADGES = {SyncRun.Status.SUCCEEDED: "success", SyncRun.Status.FAILED: "failure",
                 SyncRun.Status.STOPPED: "failure", SyncRun.Status.INTERRUPTED: "interrupted",
                 SyncRun.Status.RUNNING: "enabled"}
# What the connection page's buttons run: (name in messages, run_sync options).
RUN_KINDS = {"delta": ("Run now", {}), "full": ("Full import", {"full": True}),
             "dry-run": ("Dry run", {"full": True, "dry_run": True})}
FIELD_LABELS = {"id": "Immutable id", "upn": "Sign-in name", "display_name": "Display name", "email": "E-mail",
                "office_phone": "Office phone", "mobile_phone": "Mobile phone", "enabled": "Account state",
                "password": "Password (pass-through)"}


# --- how things are shown ------------------------------------------------------------------

def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "running"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def counts_text(run: SyncRun) -> str:
    parts = [f"{run.added} added", f"{run.updated} updated", f"{run.deleted} deleted"]
    if run.restored:
        parts.append(f"{run.restored} restored")
    parts.append(f"{run.warnings_count} warning{'s' if run.warnings_count != 1 else ''}")
    return ", ".join(parts)


def kind_text(run: SyncRun) -> str:
    text = run.get_kind_display()
    if run.dry_run:
        text += " (dry run)"
    elif run.reconcile and run.kind == SyncRun.Kind.DELTA:
        text += " + deletion check"
    return text


def _shown(run: SyncRun | None) -> SyncRun | None:
    """The run with what its table row shows."""
    if run is not None:
        run.badge = STATUS_BADGES.get(run.status, "")
        run.duration_text = duration_text(run.duration)
        run.kind_text = kind_text(run)
        run.counts_text = counts_text(run)
    return run


def _not_found(request, title: str, text: str):
    return render(request, "core/error.html", {"title": title, "text": text}, status=404)


def _connection_or_404(request, connection_id):
    try:
        return get_connection(connection_id), None
    except WatchwordError:
        return None, _not_found(request, "Connection not found", "There is no such directory connection.")


def _run_or_404(request, run_id):
    run = SyncRun.objects.select_related("connection").filter(pk=run_id).first() if run_id < 2**63 else None
    if run is None:
        return None, _not_found(request, "Sync run not found", "There is no such sync run.")
    return _shown(run), None


def _deletable(run: SyncRun) -> bool:
    """A run stopped by the deletion threshold whose deletions may still be applied: the
    connection's latest, so its number is the current one."""
    if run.status != SyncRun.Status.STOPPED or not run.pending_deletes:
        return False
    latest = SyncRun.objects.filter(connection_id=run.connection_id).values_list("pk", flat=True).first()
    return latest == run.pk


# --- the list --------------------------------------------------------------------------------

@global_admin_required
@require_http_methods(["GET", "HEAD"])
def connection_list(request):
    connections = DirectoryConnection.objects.annotate(
        people_count=Count("people", filter=Q(people__deleted_at__isnull=True)))
    rows = [{"connection": c, "schedule": c.schedule_text, "last": _shown(c.runs.first())} for c in connections]
    recent = [_shown(run) for run in SyncRun.objects.select_related("connection")[:RECENT_RUNS]]
    return render(request, "sync/connection_list.html", {"rows": rows, "recent": recent,
                                                         "retention_days": RETENTION.days})


# --- add, edit, test -------------------------------------------------------------------------

def _mapping_field(mapping: dict) -> str | None:
    """Which mapping input a mapping error is about."""
    for key, value in mapping.items():
        try:
            check_mapping({key: value})
        except ValueError:
            return mapping_field_name(key)
    return None


def _apply_error(form: ConnectionForm, exc: WatchwordError, data: dict) -> None:
    field = _mapping_field(data.get("mapping", {})) if exc.field == "mapping" else exc.field
    form.add_error(field if field in form.fields else None, exc.public_message)


def _test(form: ConnectionForm, data: dict, connection: DirectoryConnection | None):
    """Test the settings as typed (not saved): a connection made from them for the test only,
    with the typed password or else the stored one."""
    try:
        cleaned = clean_connection(data, existing=connection)
    except InvalidConnectionField as exc:
        _apply_error(form, exc, data)
        return None
    try:
        require_password_for_new_destination(connection, cleaned, form.password())
    except InvalidConnectionField as exc:
        form.add_error("bind_password", exc.public_message)
        return None
    password = form.password() or (bind_password(connection) if connection is not None else "")
    if not password:
        form.add_error("bind_password", "Type the bind password to test the connection.")
        return None
    return test_connection(DirectoryConnection(**cleaned), password=password)


def _connection_form(request, connection: DirectoryConnection | None):
    kwargs = {"editing": connection is not None}
    if connection is not None:
        kwargs["initial"] = initial_for(connection)
    form = ConnectionForm(request.POST or None, **kwargs)
    steps = None
    if request.method == "POST" and form.is_valid():
        data = form.connection_data()
        if request.POST.get("action") == "test":
            steps = _test(form, data, connection)
        else:
            try:
                if connection is None:
                    saved = create_connection(data, password=form.password(), actor=request.user, request=request)
                else:
                    saved = update_connection(connection, data, password=form.password() or None,
                                              actor=request.user, request=request)
            except WatchwordError as exc:
                _apply_error(form, exc, data)
            else:
                if connection is None:
                    messages.success(request, f"Connection {saved.name} added. Test it, then run the first sync: "
                                              "a full import of everyone in scope.")
                else:
                    messages.success(request, "Changes saved." + ("" if saved.high_water else
                                                                  " The next run is a full import."))
                return redirect("sync:connection", connection_id=saved.pk)
    return render(request, "sync/connection_form.html", {
        "form": form, "connection": connection, "steps": steps, "all_ok": bool(steps) and all(s.ok for s in steps),
        "title": f"Edit {connection.name}" if connection else "Add a directory connection",
    }, status=400 if form.errors else 200)


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def connection_add(request):
    return _connection_form(request, None)


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def connection_edit(request, connection_id: int):
    connection, missing = _connection_or_404(request, connection_id)
    return missing or _connection_form(request, connection)


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def connection_remove(request, connection_id: int):
    connection, missing = _connection_or_404(request, connection_id)
    if missing:
        return missing
    if request.method == "POST":
        kept = remove_connection(connection, actor=request.user, request=request)
        messages.success(request, f"Connection {connection.name} removed. Its {kept} "
                                  f"{'person stays' if kept == 1 else 'people stay'} as people managed in "
                                  "Watchword; reset their passwords so they can sign in.")
        return redirect("sync:connections")
    people = connection.people.filter(deleted_at__isnull=True).count()
    return render(request, "sync/connection_remove.html", {"connection": connection, "people": people})


# --- one connection: settings, runs ----------------------------------------------------------

def mapping_text(c: DirectoryConnection) -> str:
    changed = [f"{MAPPING_KEYS[key]} from {value}" if value else f"{MAPPING_KEYS[key]} not read"
               for key, value in (c.mapping or {}).items() if key in MAPPING_KEYS]
    return f"the {c.get_flavour_display()} defaults" + (f", except: {'; '.join(changed)}" if changed else "")


def _settings_summary(c: DirectoryConnection) -> list[tuple[str, str]]:
    threshold = f"{c.delete_threshold} people"
    if c.delete_threshold_percent:
        threshold += f" or {c.delete_threshold_percent}% of the synced people, whichever is lower"
    owned = sorted(managed_fields(c), key=list(FIELD_LABELS).index)
    return [
        ("Directory", c.get_flavour_display()),
        ("Server URL", c.url + (" (StartTLS)" if c.start_tls else "")),
        ("CA certificate", "set" if c.ca_certificate else "the system's trusted authorities"),
        ("Bind DN", c.bind_dn),
        ("Base DNs", ", ".join(c.base_dn_list)),
        ("User filter", c.user_filter),
        ("Group filter", c.group_filter or "groups are not synced"),
        ("Sign-in domain", c.upn_domain or "—"),
        ("Country for phone numbers", c.phone_country or "the installation's default"),
        ("Attribute mapping", mapping_text(c)),
        ("Schedule", (c.schedule_text if c.enabled else "off (disabled; runs only when started here)")),
        ("Deletion threshold", threshold),
        ("Owned by the directory", ", ".join(FIELD_LABELS[name].lower() for name in owned) or "nothing"),
        ("Timeout", f"{c.timeout_seconds} s"),
    ]


@global_admin_required
@require_http_methods(["GET", "HEAD"])
def connection_detail(request, connection_id: int):
    connection, missing = _connection_or_404(request, connection_id)
    if missing:
        return missing
    page = Paginator(connection.runs.all(), RUNS_PER_PAGE).get_page(request.GET.get("page"))
    for run in page:
        _shown(run)
    latest = _shown(connection.runs.first())
    return render(request, "sync/connection_detail.html", {
        "connection": connection, "settings": _settings_summary(connection), "page": page, "latest": latest,
        "stopped": latest if latest is not None and _deletable(latest) else None,
        "people": connection.people.filter(deleted_at__isnull=True).count(), "groups": connection.groups.count(),
        "schedule": connection.schedule_text,
    })


def _report(request, run: SyncRun, label: str) -> None:
    if run.status == SyncRun.Status.SUCCEEDED:
        if run.dry_run:
            messages.success(request, f"Dry run finished; nothing was changed. A full import would have: "
                                      f"{counts_text(run)}.")
        else:
            messages.success(request, f"{label} finished: {counts_text(run)}.")
    elif run.status == SyncRun.Status.STOPPED:
        messages.error(request, run.error)
    else:
        messages.error(request, f"{label} failed: {run.error or run.get_status_display()}")


def _run(request, connection: DirectoryConnection, label: str, **options):
    """Run a sync now, in this request (a big directory takes a while)."""
    try:
        run = run_sync(connection, trigger="manual", **options)
    except SyncBusy:
        messages.error(request, f"A sync of {connection.name} is already running (on its schedule, or started by "
                                "another administrator). Wait until it finishes: it appears in the history below.")
    except Exception:  # noqa: BLE001 - the engine recorded the failure on the run; say so and log the rest
        log.exception("manual sync of %s failed", connection.name)
        messages.error(request, f"{label} stopped with an unexpected error; its entry in the history says which.")
    else:
        _report(request, run, label)
    return redirect("sync:connection", connection_id=connection.pk)


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def connection_run(request, connection_id: int):
    connection, missing = _connection_or_404(request, connection_id)
    if missing:
        return missing
    if request.method != "POST":
        return redirect("sync:connection", connection_id=connection.pk)
    kind = request.POST.get("kind", "")
    if kind not in RUN_KINDS:
        messages.error(request, "Choose what to run: Run now, Full import or Dry run.")
        return redirect("sync:connection", connection_id=connection.pk)
    label, options = RUN_KINDS[kind]
    return _run(request, connection, label, **options)


# --- runs ------------------------------------------------------------------------------------

@global_admin_required
@require_http_methods(["GET", "HEAD"])
def run_detail(request, run_id: int):
    run, missing = _run_or_404(request, run_id)
    if missing:
        return missing
    page = Paginator(run.warnings.all(), WARNINGS_PER_PAGE).get_page(request.GET.get("page"))
    for warning in page:
        warning.dn_parts = warning.dn.split(",")  # shown with a line-break opportunity after each comma
    return render(request, "sync/run_detail.html", {
        "run": run, "connection": run.connection, "page": page, "deletable": _deletable(run),
        "stored_warnings": page.paginator.count,
    })


@global_admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def apply_deletions(request, run_id: int):
    """Confirm the deletions a run held back (deletion threshold): a full import allowed to
    delete that many people, and no more."""
    run, missing = _run_or_404(request, run_id)
    if missing:
        return missing
    connection = run.connection
    if not _deletable(run):
        messages.error(request, "These deletions can no longer be applied: a later run replaced this one. Run a "
                                "full import to see how many people would be deleted now.")
        return redirect("sync:connection", connection_id=connection.pk)
    if request.method != "POST":
        return render(request, "sync/apply_deletions.html", {"run": run, "connection": connection,
                                                             "retention_days": RETENTION.days})
    return _run(request, connection, "Full import", full=True, allow_deletes=run.pending_deletes)
