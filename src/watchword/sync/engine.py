"""The sync engine: a directory's people and groups into Watchword, keyed by immutable id.

One run, in order:

1. **People.** A paged search (full: everyone in scope; delta: entries whose change marker is at
   or past the high-water mark). Each page is compared with the stored rows and written in one
   short transaction: new people, changed attributes, disabled or re-enabled accounts, people
   who come back within their 30 days. Memory holds one page, never the directory.
2. **Deletions.** Full runs, and scheduled delta runs with ``reconcile``, note every id they see
   in a temporary table of the run's own database session (nothing is written to people's rows
   for it); people of this connection not noted were deleted or left the scope.
   Active Directory tombstones (show-deleted control) also name deletions in continuous deltas.
   More than the threshold stops the deletions (nothing deleted, the count reported); otherwise
   they are soft-deleted: disabled, signed out, hidden, restorable for 30 days with their methods.
3. **Groups, then memberships.** Nested groups are flattened; members are matched by DN to this
   connection's people.
4. **High-water mark.** Written in the transaction that closes the run, with the run's counts:
   a run killed before that point is simply done again, and every write it made is idempotent.

A dry run reads everything and counts what would change, writing nothing but its own record.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from datetime import timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from watchword.audit.models import AuditEvent
from watchword.directory.models import Group, User
from watchword.sync import ldap
from watchword.sync.errors import DirectoryError, SyncBusy
from watchword.sync.mapping import (
    Incoming,
    Warning,
    change_marker,
    clean_text,
    decode_id,
    effective_mapping,
    later_marker,
    normalise_dn,
    read_person,
    values_of,
)
from watchword.sync.models import DirectoryConnection, SyncRun, SyncWarning

LEASE = timedelta(minutes=10)  # a runner's claim on a connection, renewed every page
MAX_STORED_WARNINGS = 1000  # per run; the count goes on
RETENTION = timedelta(days=30)  # soft-deleted people are restorable this long
WRITE_BATCH = 500
SEEN_TABLE = "watchword_sync_seen"
RETRY_AFTER_FAILURE = timedelta(minutes=1)
GROUP_PAGE_SIZE = 5

Progress = Callable[[str, int, int | None], None]  # (phase, done, total or None)


def owner_label() -> str:
    return f"{socket.gethostname()[:100]}:{os.getpid()}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim(connection: DirectoryConnection, owner: str) -> bool:
    """Take the connection's run lock. A lapsed claim, or one whose process on this host has
    died (a run killed with -9), is taken over; its run is marked interrupted."""
    now = timezone.now()
    rows = DirectoryConnection.objects.filter(pk=connection.pk).filter(
        Q(lock_owner="") | Q(lock_expires__lt=now)).update(lock_owner=owner, lock_expires=now + LEASE)
    if not rows:
        current = DirectoryConnection.objects.filter(pk=connection.pk).values_list("lock_owner", flat=True).first()
        host, _, pid = (current or "").rpartition(":")
        if not (host == socket.gethostname()[:100] and pid.isdigit() and not _pid_alive(int(pid))):
            return False
        rows = DirectoryConnection.objects.filter(pk=connection.pk, lock_owner=current).update(
            lock_owner=owner, lock_expires=now + LEASE)
        if not rows:
            return False
    SyncRun.objects.filter(connection=connection, status=SyncRun.Status.RUNNING).exclude(owner=owner).update(
        status=SyncRun.Status.INTERRUPTED, finished_at=now,
        error="The process running this sync stopped before it finished; the next run picks up the changes.")
    return True


def renew(connection: DirectoryConnection, owner: str) -> None:
    DirectoryConnection.objects.filter(pk=connection.pk, lock_owner=owner).update(
        lock_expires=timezone.now() + LEASE)


def release(connection: DirectoryConnection, owner: str) -> None:
    DirectoryConnection.objects.filter(pk=connection.pk, lock_owner=owner).update(lock_owner="", lock_expires=None)


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    deleted: int = 0
    restored: int = 0
    unchanged: int = 0
    warnings: int = 0
    groups_changed: int = 0
    memberships_changed: int = 0
    pending_deletes: int = 0

    def changed(self) -> bool:
        return any((self.added, self.updated, self.deleted, self.restored, self.groups_changed,
                    self.memberships_changed, self.pending_deletes, self.warnings))


USER_COLUMNS = ("id", "upn", "display_name", "email", "office_phone", "mobile_phone", "is_active", "external_id",
                "external_dn", "deleted_at", "session_epoch")


def _snapshot(fields: dict, enabled: bool) -> dict:
    return {**fields, "enabled": enabled}


@dataclass
class Runner:
    connection: DirectoryConnection
    full: bool = False
    reconcile: bool = False
    dry_run: bool = False
    trigger: str = "manual"
    allow_deletes: int | None = None  # an administrator confirmed this many deletions
    progress: Progress | None = None
    record_quiet: bool = True  # False: a run that found nothing leaves no history row (continuous polls)

    counts: Counts = field(default_factory=Counts)
    warnings: list[Warning] = field(default_factory=list)
    run: SyncRun | None = None

    def __post_init__(self) -> None:
        c = self.connection
        self.mapping = effective_mapping(c.flavour, c.mapping)
        self.is_ad = c.flavour == "active_directory"
        self.actor = f"sync:{c.name}"[:300]
        self.region = (c.phone_country or settings.DEFAULT_COUNTRY or "").upper() or None
        self.owner = owner_label()
        self.seen_table = False  # the temporary table of ids seen exists in this session
        self.seen_groups: set[str] = set()
        # Sign-in names claimed in this run and not yet in the database: one page's worth, as each
        # page is committed before the next is read (a dry run, which writes nothing, keeps all).
        self.taken_upns: dict[str, str] = {}

    # --- the run ------------------------------------------------------------------------

    def execute(self) -> SyncRun:
        from watchword.sync.services import endpoint_for

        c = self.connection
        if not claim(c, self.owner):
            raise SyncBusy()
        c.refresh_from_db()
        full = self.full or not c.high_water
        self.full = full
        reconcile = full or self.reconcile
        now = timezone.now()
        self.run = SyncRun(connection=c, kind=SyncRun.Kind.FULL if full else SyncRun.Kind.DELTA,
                           reconcile=reconcile, trigger=self.trigger, dry_run=self.dry_run, started_at=now,
                           owner=self.owner)
        if self.record_quiet:
            self.run.save()
        conn = None
        new_mark = c.high_water
        try:
            conn = ldap.read_raw_values_only(ldap.connect(endpoint_for(c)))
            if self.is_ad:
                # Everything up to this number is in what the searches below return; changes made
                # during them are read again next time (applying them twice changes nothing).
                start_usn = ldap.highest_usn(conn)
                if not full and start_usn and c.high_water and int(start_usn) <= int(c.high_water) \
                        and not reconcile:
                    return self._finish(conn, c.high_water)  # nothing changed since the last run
            seen_mark = self._import_people(conn, full)
            if self.is_ad and not full:
                self._ad_tombstones(conn)
            if reconcile and not full:
                self._reconcile_ids(conn)
            if c.group_filter:
                seen_mark = later_marker(seen_mark, self._import_groups(conn, full, reconcile))
            if reconcile:
                self._delete_missing()
            if self.is_ad:
                new_mark = start_usn or seen_mark or c.high_water
            else:
                new_mark = later_marker(c.high_water if not full else "", held_back(seen_mark, now)) or c.high_water
            return self._finish(conn, new_mark)
        except DirectoryError as exc:
            return self._fail(conn, exc.public_message)
        except Exception as exc:  # noqa: BLE001 - recorded on the run, then raised for the caller's log
            self._fail(conn, f"Unexpected error: {type(exc).__name__}: {str(exc)[:300]}")
            raise

    def _finish(self, conn, mark: str) -> SyncRun:
        ldap.close(conn)
        c, run, counts = self.connection, self.run, self.counts
        now = timezone.now()
        stopped = counts.pending_deletes > 0
        run.status = SyncRun.Status.STOPPED if stopped else SyncRun.Status.SUCCEEDED
        self._copy_counts()
        run.finished_at = now
        if stopped:
            run.error = (f"{counts.pending_deletes} people are no longer in the directory's scope, more than the "
                         f"deletion threshold ({self._threshold()}); nobody was deleted. Check the connection's "
                         "base DNs and filter; if the deletions are right, run again confirming them.")
        with transaction.atomic():
            # Intervals count from when a run began, so a long run does not push the next poll back.
            began = run.started_at
            updates = {"last_poll_at": began, "lock_expires": now + LEASE, "retry_after": None}
            if not self.dry_run:
                updates["high_water"] = mark or ""
                if self.trigger != "continuous" or run.reconcile:
                    updates["last_run_at"] = began
                if run.reconcile:
                    updates["last_reconcile_at"] = began
            DirectoryConnection.objects.filter(pk=c.pk).update(**updates)
            if self.record_quiet or counts.changed() or stopped:
                run.save()
                self._store_warnings()
        release(c, self.owner)
        return run

    def _fail(self, conn, message: str) -> SyncRun:
        ldap.close(conn)
        run = self.run
        self._copy_counts()
        run.status = SyncRun.Status.FAILED
        run.error = message[:1000]
        run.finished_at = timezone.now()
        run.save()
        self._store_warnings()
        # The scheduler waits a minute before trying a failing directory again.
        DirectoryConnection.objects.filter(pk=self.connection.pk).update(
            last_poll_at=run.finished_at, retry_after=run.finished_at + RETRY_AFTER_FAILURE)
        release(self.connection, self.owner)
        return run

    def _copy_counts(self) -> None:
        for name in ("added", "updated", "deleted", "restored", "unchanged", "groups_changed",
                     "memberships_changed", "pending_deletes"):
            setattr(self.run, name, getattr(self.counts, name))
        self.run.warnings_count = self.counts.warnings

    def _store_warnings(self) -> None:
        if self.warnings:
            SyncWarning.objects.bulk_create([
                SyncWarning(run=self.run, dn=w.dn[:1024], person=w.person[:300], attribute=w.attribute[:64],
                            value=w.value[:256], message=w.message[:300]) for w in self.warnings])
            self.warnings = []

    def warn(self, warning: Warning) -> None:
        self.counts.warnings += 1
        if len(self.warnings) < MAX_STORED_WARNINGS:
            self.warnings.append(warning)

    def _progress(self, phase: str, done: int, total: int | None = None) -> None:
        if self.progress:
            self.progress(phase, done, total)

    def _searches(self, conn, search_filter: str, attributes: list[str], label: str, controls=None,
                  page_size: int = ldap.PAGE_SIZE):
        for base in self.connection.base_dn_list:
            for page in ldap.paged_search(conn, base, search_filter, attributes, label=label, controls=controls,
                                          page_size=page_size):
                for uri in page.references:
                    if not (self.is_ad and ldap.is_ad_partition_reference(uri)):
                        self.warn(Warning(f"The directory referred to {uri[:200]}; referrals are not followed. "
                                          "Add that server as its own connection if it holds people.", dn=base))
                yield page
            renew(self.connection, self.owner)

    def _delta_filter(self, base_filter: str) -> str:
        mark, attribute = self.connection.high_water, self.mapping.get("change")
        if not attribute or not mark:
            return base_filter
        if mark.isdigit():  # uSNChanged: strictly after what was applied
            return f"(&{base_filter}({attribute}>={int(mark) + 1}))"
        return f"(&{base_filter}({attribute}>={ldap.escape_filter_chars(mark)}))"

    # --- people -------------------------------------------------------------------------

    def _person_attributes(self) -> list[str]:
        names = {self.mapping[k] for k in ("id", "upn", "display_name", "email", "office_phone", "mobile_phone",
                                           "disabled", "change") if self.mapping.get(k)}
        if self.mapping.get("display_name"):
            names.add("cn")
        return sorted(names)

    def _import_people(self, conn, full: bool) -> str:
        c = self.connection
        search_filter = c.user_filter if full else self._delta_filter(c.user_filter)
        total = User.objects.filter(directory_connection=c, deleted_at__isnull=True).count() if full else None
        done, mark = 0, ""
        for page in self._searches(conn, search_filter, self._person_attributes(), "user filter"):
            incoming = [read_person(dn, raw, self.mapping, upn_domain=c.upn_domain, region=self.region)
                        for dn, raw in page.entries]
            for person in incoming:
                mark = later_marker(mark, person.change)
            self._apply_people(incoming, mark_seen=full)
            done += len(page.entries)
            self._progress("people", done, total if total and total >= done else None)
        return mark

    def _apply_people(self, incoming: list[Incoming], *, mark_seen: bool) -> None:
        c, now = self.connection, timezone.now()
        for person in incoming:
            for w in person.warnings:
                self.warn(w)
        ids = [p.external_id for p in incoming if p.external_id]
        if mark_seen:
            self._note_seen(ids)
        usable = [p for p in incoming if p.fields]
        # Every id of the page, usable or not: a stored person whose entry became unusable (a
        # sign-in name gone, say) is still in the directory, so still seen.
        existing = {row.external_id: row for row in
                    User.objects.filter(directory_connection=c, external_id__in=ids).only(*USER_COLUMNS)}
        wanted_upns = [p.fields["upn"] for p in usable]
        holders, holder_conn = {}, {}
        for upn, external_id, connection_id in User.objects.filter(upn__in=wanted_upns).values_list(
                "upn", "external_id", "directory_connection_id"):
            holders[upn], holder_conn[upn] = external_id, connection_id
        if not self.dry_run:
            self.taken_upns = {}
        creates: list[NewPerson] = []
        updates: list[User] = []
        audits: list[AuditEvent] = []
        signed_out: list[int] = []
        for person in usable:
            upn = person.fields["upn"]
            row = existing.get(person.external_id)
            owner_of_upn = holders.get(upn)
            upn_taken = (upn in holders and not (holder_conn.get(upn) == c.pk and owner_of_upn == person.external_id)) \
                or (self.taken_upns.get(upn, person.external_id) != person.external_id)
            if row is None:
                if upn_taken:
                    if upn not in holders or holder_conn[upn] == c.pk:
                        other = "another directory entry"
                    elif holder_conn[upn] is None:
                        other = "a Watchword-managed person"
                    else:
                        other = "a person from another directory connection"
                    self.warn(Warning(f"The sign-in name {upn} is already used by {other}; this entry was not "
                                      "synced.", person.dn, upn, self.mapping["upn"], upn))
                    continue
                self.taken_upns[upn] = person.external_id
                enabled = not person.disabled if person.disabled is not None else True
                creates.append(NewPerson(fields=person.fields, enabled=enabled, external_id=person.external_id,
                                         external_dn=person.dn))
                continue
            self.taken_upns[row.upn] = person.external_id
            changes = {k: v for k, v in person.fields.items() if getattr(row, k) != v}
            if "upn" in changes and upn_taken:
                self.warn(Warning(f"The sign-in name changed to {upn}, which another person already uses; the "
                                  f"old name {row.upn} was kept.", person.dn, row.upn, self.mapping["upn"], upn))
                del changes["upn"]
            if "upn" in changes:
                self.taken_upns[upn] = person.external_id
            before = {k: getattr(row, k) for k in changes}
            restored = row.deleted_at is not None
            enabled = row.is_active if person.disabled is None else not person.disabled
            if restored and person.disabled is None:
                enabled = True
            enable_changed = enabled != row.is_active
            if not changes and not enable_changed and not restored and row.external_dn == person.dn:
                self.counts.unchanged += 1
                continue
            for key, value in changes.items():
                setattr(row, key, value)
            row.external_dn = person.dn
            if enable_changed:
                before["enabled"], changes["enabled"] = row.is_active, enabled
                row.is_active = enabled
                if not enabled:
                    row.session_epoch += 1
                    signed_out.append(row.pk)
            row.deleted_at = None
            row.updated_at = now
            updates.append(row)
            if restored:
                self.counts.restored += 1
                audits.append(self._audit("user.restore", row, None, {"enabled": enabled}, now))
            elif changes:
                self.counts.updated += 1
                action = "user.update"
                if set(changes) == {"enabled"}:
                    action = "user.enable" if enabled else "user.disable"
                audits.append(self._audit(action, row, before, changes, now))
            else:
                self.counts.unchanged += 1  # moved or renamed: only the DN changed
        self.counts.added += len(creates)
        if self.dry_run:
            return
        with transaction.atomic():
            if creates:
                _insert_people(c.pk, creates, now)
                audits.extend(self._audit("user.create", person, None, _snapshot(person.fields, person.enabled), now)
                              for person in creates)
            if updates:
                User.objects.bulk_update(updates, ["upn", "display_name", "email", "office_phone", "mobile_phone",
                                                   "is_active", "session_epoch", "external_dn", "deleted_at",
                                                   "updated_at"], batch_size=WRITE_BATCH)
            if audits:
                _insert_audit(audits)
        if signed_out:
            _revoke_tokens(signed_out)

    def _audit(self, action: str, user, before, after, now) -> AuditEvent:
        return AuditEvent(time=now, actor=None, actor_label=self.actor, action=action, target_type="user",
                          target_id=str(user.pk or ""), target_label=user.upn[:300], before=before, after=after,
                          result="success", reason="")

    def _reconcile_ids(self, conn) -> None:
        """Every id in scope, nothing else: what a scheduled delta needs to find deletions and
        people moved out of scope."""
        c, done = self.connection, 0
        attribute = self.mapping["id"]
        for page in self._searches(conn, c.user_filter, [attribute], "user filter"):
            ids = [i for i in (_id_of(raw, attribute) for _, raw in page.entries) if i]
            self._note_seen(ids)
            done += len(ids)
            self._progress("checking for deletions", done, None)

    def _ad_tombstones(self, conn) -> None:
        """Objects deleted since the high-water mark, read from the domain's Deleted Objects
        container (needs the right to list it; without it, reconciliation finds deletions)."""
        c = self.connection
        attribute = self.mapping["id"]
        domains = {",".join(p for p in base.split(",") if p.strip().lower().startswith("dc="))
                   for base in c.base_dn_list}
        ids: list[str] = []
        for domain in filter(None, domains):
            try:
                for page in ldap.paged_search(conn, f"CN=Deleted Objects,{domain}",
                                              f"(&(isDeleted=TRUE)(uSNChanged>={int(c.high_water) + 1}))",
                                              [attribute], label="tombstone search",
                                              controls=[(ldap.SHOW_DELETED, True, None)]):
                    ids.extend(i for i in (_id_of(raw, attribute) for _, raw in page.entries) if i)
            except DirectoryError:
                return  # not readable by this account: the scheduled reconciliation finds them
        if ids:
            gone = list(User.objects.filter(directory_connection=c, external_id__in=ids, deleted_at__isnull=True)
                        .values_list("pk", flat=True))
            self._soft_delete(gone)
            if not self.dry_run:
                Group.objects.filter(directory_connection=c, external_id__in=ids).delete()

    def _threshold(self) -> int:
        c = self.connection
        limit = c.delete_threshold
        if c.delete_threshold_percent:
            total = User.objects.filter(directory_connection=c, deleted_at__isnull=True).count()
            limit = min(limit, math.floor(total * c.delete_threshold_percent / 100))
        return limit

    def _note_seen(self, ids: list[str]) -> None:
        """Note ids seen in scope, in a temporary table of this database session: it holds one
        short row per person (not the directory in this process's memory), writes nothing to the
        people's rows (on PostgreSQL, marking 100,000 rows every 30 minutes cost 15 s and as many
        dead row versions), and vanishes with a run that is killed."""
        from django.db import connection

        with connection.cursor() as cursor:
            if not self.seen_table:
                cursor.execute(f"DROP TABLE IF EXISTS {SEEN_TABLE}")
                cursor.execute(f"CREATE TEMPORARY TABLE {SEEN_TABLE} (external_id varchar(64) PRIMARY KEY)")
                self.seen_table = True
            _insert_rows(cursor, f"INSERT INTO {SEEN_TABLE} (external_id)", "(%s)", [(i,) for i in set(ids)],
                         tail=" ON CONFLICT DO NOTHING")

    def _delete_missing(self) -> None:
        from django.db import connection

        self._note_seen([])
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT u.id FROM {User._meta.db_table} u WHERE u.directory_connection_id = %s "
                           f"AND u.deleted_at IS NULL AND NOT EXISTS (SELECT 1 FROM {SEEN_TABLE} s "
                           f"WHERE s.external_id = u.external_id)", [self.connection.pk])
            gone = [row[0] for row in cursor.fetchall()]
            cursor.execute(f"DROP TABLE IF EXISTS {SEEN_TABLE}")
        self.seen_table = False
        self._soft_delete(gone)

    def _soft_delete(self, ids: list[int]) -> None:
        if not ids:
            return
        limit = self._threshold() if self.allow_deletes is None else max(self.allow_deletes, 0)
        if len(ids) > limit:
            self.counts.pending_deletes += len(ids)
            return
        self.counts.deleted += len(ids)
        if self.dry_run:
            return
        now = timezone.now()
        for start in range(0, len(ids), WRITE_BATCH):
            chunk = ids[start:start + WRITE_BATCH]
            with transaction.atomic():
                rows = list(User.objects.filter(pk__in=chunk).only("id", "upn"))
                User.objects.filter(pk__in=chunk).update(deleted_at=now, is_active=False,
                                                         session_epoch=F("session_epoch") + 1, updated_at=now)
                AuditEvent.objects.bulk_create([self._audit("user.delete", row, {"enabled": True},
                                                            {"deleted": True, "restorable_until":
                                                             (now + RETENTION).isoformat()}, now) for row in rows])
            _revoke_tokens(chunk)

    # --- groups -------------------------------------------------------------------------

    def _import_groups(self, conn, full: bool, reconcile: bool) -> None:
        c, m = self.connection, self.mapping
        if not full and reconcile:
            full = True  # scheduled runs re-read groups whole: memberships are where drift hides
        search_filter = c.group_filter if full else self._delta_filter(c.group_filter)
        attributes = sorted({m["id"], m.get("group_name") or "cn", m.get("group_description") or "description",
                             m.get("member") or "member", "uniqueMember"} | ({m["change"]} if m.get("change") else set()))
        # Each group's members are matched to this connection's people as the group is read, so
        # what is held is a set of ids per group; only DNs that are not people (nested groups,
        # entries out of scope) are kept as text, to fold nested groups in once all are read.
        groups: dict[str, dict] = {}  # normalised DN -> parsed
        mark = ""
        # A group comes whole, with every member's DN: a few groups per page keeps one big group,
        # not all of them, in memory at a time.
        for page in self._searches(conn, search_filter, attributes, "group filter", page_size=GROUP_PAGE_SIZE):
            for dn, raw in page.entries:
                mark = later_marker(mark, change_marker(raw, m.get("change", "")))
                parsed = self._read_group(dn, raw)
                if parsed:
                    groups[parsed["dn"]] = parsed
            page.entries.clear()
        if not full:
            self._add_parent_groups(conn, groups, attributes)
        if full:
            self.seen_groups = {g["id"] for g in groups.values()}
        stored = {g.external_id: g for g in Group.objects.filter(directory_connection=c)}
        stored_by_dn = {g.external_dn: g for g in stored.values()}
        now = timezone.now()
        for parsed in groups.values():
            group = stored.get(parsed["id"])
            conflict = Group.objects.filter(name=parsed["name"]).exclude(
                directory_connection=c, external_id=parsed["id"]).exists()
            if conflict:
                self.warn(Warning(f"A group named {parsed['name']} already exists; the directory's group was "
                                  "not synced.", parsed["raw_dn"], "", m.get("group_name") or "cn", parsed["name"]))
                continue
            if group is None:
                group = Group(name=parsed["name"], description=parsed["description"], directory_connection=c,
                              external_id=parsed["id"], external_dn=parsed["dn"])
                self.counts.groups_changed += 1
                if not self.dry_run:
                    group.save()
                    AuditEvent.objects.create(time=now, actor_label=self.actor, action="group.create",
                                              target_type="group", target_id=str(group.pk), target_label=group.name)
            elif (group.name, group.description, group.external_dn) != (parsed["name"], parsed["description"],
                                                                        parsed["dn"]):
                self.counts.groups_changed += 1
                if not self.dry_run:
                    Group.objects.filter(pk=group.pk).update(name=parsed["name"], description=parsed["description"],
                                                             external_dn=parsed["dn"])
            if group.pk is None:
                continue
            self._sync_members(group, self._flatten(parsed, groups, stored_by_dn))
        if full and not self.dry_run:
            gone = [g for ext, g in stored.items() if ext not in self.seen_groups]
            for group in gone:
                AuditEvent.objects.create(time=now, actor_label=self.actor, action="group.delete",
                                          target_type="group", target_id=str(group.pk), target_label=group.name)
                group.delete()
            self.counts.groups_changed += len(gone)
        return mark

    def _add_parent_groups(self, conn, groups: dict[str, dict], attributes: list[str]) -> None:
        """In a delta, the groups that contain a changed group (up to the top) are read too: their
        people are the nested group's people folded in, so they changed with it."""
        member = self.mapping.get("member") or "member"
        pending, asked = list(groups), set()
        while pending and len(asked) < 1000:  # bounded: a delta touching more waits for the scheduled run
            dn = pending.pop()
            if dn in asked:
                continue
            asked.add(dn)
            raw_dn = groups[dn]["raw_dn"] if dn in groups else dn
            search_filter = f"(&{self.connection.group_filter}({member}={ldap.escape_filter_chars(raw_dn)}))"
            for page in self._searches(conn, search_filter, attributes, "group filter", page_size=GROUP_PAGE_SIZE):
                for parent_dn, raw in page.entries:
                    key = normalise_dn(parent_dn)
                    if key not in groups:
                        parsed = self._read_group(parent_dn, raw)
                        if parsed:
                            groups[key] = parsed
                            pending.append(key)
                page.entries.clear()

    def _read_group(self, dn: str, raw: dict) -> dict | None:
        m = self.mapping
        external_id = _id_of(raw, m["id"])
        name = clean_text(_first_text(raw, m.get("group_name") or "cn"))
        if not external_id or not name:
            self.warn(Warning("The group has no usable id or name; it was not synced.", dn))
            return None
        if len(name) > 128:
            self.warn(Warning("The group name is longer than 128 characters; the group was not synced.", dn,
                              value=name[:200]))
            return None
        description = clean_text(_first_text(raw, m.get("group_description") or "description"))[:512]
        dns = []
        for attribute in {m.get("member") or "member", "uniqueMember"}:
            for value in values_of(raw, attribute):
                text = value.decode("utf-8", errors="replace")
                if attribute.lower() == "uniquemember":
                    text = text.split("#", 1)[0]  # an optional "#'bits'B" uid suffix
                dns.append(normalise_dn(text))
        people, others = self._people_ids(dns)
        return {"id": external_id, "dn": normalise_dn(dn), "raw_dn": dn, "name": name, "description": description,
                "people": people, "others": others}

    def _people_ids(self, dns: list[str]) -> tuple[set[int], list[str]]:
        """The ids of this connection's (not deleted) people among ``dns``, and the DNs that are
        not such people."""
        c = self.connection
        found: dict[str, int] = {}
        for start in range(0, len(dns), 900):
            found.update(User.objects.filter(directory_connection=c, deleted_at__isnull=True,
                                             external_dn__in=dns[start:start + 900]).values_list("external_dn", "pk"))
        return set(found.values()), [dn for dn in dns if dn not in found]

    def _flatten(self, group: dict, groups: dict[str, dict], stored_by_dn: dict[str, Group]) -> set[int]:
        """The group's people with nested groups' people folded in: groups read in this run, or
        (in a delta, for a nested group that did not change) its stored members. Cycles are
        harmless."""
        people, seen, stack = set(group["people"]), {group["dn"]}, list(group["others"])
        through = Group.members.through
        while stack:
            dn = stack.pop()
            if dn in seen:
                continue
            seen.add(dn)
            nested = groups.get(dn)
            if nested is not None:
                people |= nested["people"]
                stack.extend(nested["others"])
            elif dn in stored_by_dn:
                people.update(through.objects.filter(group_id=stored_by_dn[dn].pk).values_list("user_id", flat=True))
        return people

    def _sync_members(self, group: Group, wanted: set[int]) -> None:
        through = Group.members.through
        have = set(through.objects.filter(group_id=group.pk).values_list("user_id", flat=True))
        add, remove = wanted - have, have - wanted
        self.counts.memberships_changed += len(add) + len(remove)
        if self.dry_run or not (add or remove):
            return
        with transaction.atomic():
            if add:
                from django.db import connection

                with connection.cursor() as cursor:
                    _insert_rows(cursor, f"INSERT INTO {through._meta.db_table} (group_id, user_id)", "(%s, %s)",
                                 [(group.pk, pk) for pk in add])
            removal = list(remove)
            for start in range(0, len(removal), 900):
                through.objects.filter(group_id=group.pk, user_id__in=removal[start:start + 900]).delete()
            AuditEvent.objects.create(time=timezone.now(), actor_label=self.actor, action="group.members.sync",
                                      target_type="group", target_id=str(group.pk), target_label=group.name,
                                      after={"added": len(add), "removed": len(remove)})


# An initial import writes every person and an audit row for each. Django's ``bulk_create``
# prepares each value of each row through the field machinery, which cost about a third of an
# import of 10,000 people; one ``executemany`` of plain tuples per page does the same writes.

PERSON_INSERT_COLUMNS = ("password", "upn", "display_name", "email", "office_phone", "mobile_phone", "is_active",
                         "role", "mfa_state", "must_change_password", "session_epoch", "directory_connection_id",
                         "external_id", "external_dn", "created_at", "updated_at")


def _insert_rows(cursor, head: str, row_sql: str, rows: list[tuple], *, tail: str = "") -> None:
    """``INSERT … VALUES`` of many rows: PostgreSQL takes 500 rows per statement (one statement
    per row cost it more than the import's reading); SQLite's ``executemany`` is already quick."""
    if not rows:
        return
    if cursor.db.vendor != "postgresql":
        cursor.executemany(f"{head} VALUES {row_sql}{tail}", rows)
        return
    if not tail and head.startswith("INSERT INTO "):
        # COPY: PostgreSQL's bulk load, with no statement to parse and plan per batch.
        with cursor.cursor.copy(f"COPY {head.removeprefix('INSERT INTO ')} FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    for start in range(0, len(rows), 500):
        chunk = rows[start:start + 500]
        cursor.execute(f"{head} VALUES {', '.join([row_sql] * len(chunk))}{tail}",
                       [value for row in chunk for value in row])


@dataclass
class NewPerson:
    fields: dict
    enabled: bool
    external_id: str
    external_dn: str
    pk: int | None = None

    @property
    def upn(self) -> str:
        return self.fields["upn"]


def _insert_people(connection_id: int, people: list[NewPerson], now) -> None:
    """Insert new people (no usable password: the directory checks it) and set their ids."""
    from django.db import connection

    stamp = connection.ops.adapt_datetimefield_value(now)
    rows = [(f"!{secrets.token_hex(20)}", p.upn, p.fields.get("display_name") or p.upn, p.fields.get("email", ""),
             p.fields.get("office_phone", ""), p.fields.get("mobile_phone", ""), p.enabled, "user", "disabled", False,
             0, connection_id, p.external_id, p.external_dn, stamp, stamp) for p in people]
    with connection.cursor() as cursor:
        _insert_rows(cursor, f"INSERT INTO {User._meta.db_table} ({', '.join(PERSON_INSERT_COLUMNS)})",
                     f"({', '.join(['%s'] * len(PERSON_INSERT_COLUMNS))})", rows)
    ids = dict(User.objects.filter(directory_connection_id=connection_id,
                                   external_id__in=[p.external_id for p in people]).values_list("external_id", "pk"))
    for person in people:
        person.pk = ids[person.external_id]


def _insert_audit(events: list[AuditEvent]) -> None:
    import json

    from django.db import connection

    json_value = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    rows = [(connection.ops.adapt_datetimefield_value(e.time), e.actor_label, e.action, e.target_type, e.target_id,
             e.target_label, None if e.before is None else json.dumps(e.before),
             None if e.after is None else json.dumps(e.after), e.result, e.reason) for e in events]
    with connection.cursor() as cursor:
        _insert_rows(cursor, f'INSERT INTO {AuditEvent._meta.db_table} ("time", "actor_label", "action", '
                             f'"target_type", "target_id", "target_label", "before", "after", "result", "reason")',
                     f"(%s, %s, %s, %s, %s, %s, {json_value}, {json_value}, %s, %s)", rows)


# How far before a run's start the OpenLDAP high-water mark is held. The mark is the latest
# change marker (entryCSN, or modifyTimestamp) seen; but a paged search reads each page in its own
# snapshot, so an entry changed after its page was read, while a later page brought a newer
# marker, would fall below the mark and never be read again. Holding the mark at the run's start
# (less this margin, for the clocks of Watchword and the directory differing a little) reads such
# changes in the next delta, and the few changed just before the run twice, which changes
# nothing. The directory's clock must be within this margin of Watchword's (NTP).
MARK_MARGIN = timedelta(seconds=10)


def held_back(mark: str, started) -> str:
    """``mark``, or the run's start less the margin written as a marker of the same kind, if that
    is earlier. CSNs and generalized times start with the UTC time, so they compare as text."""
    if not mark or mark.isdigit() or len(mark) < 15 or not mark[:14].isdigit():
        return mark
    at = (started - MARK_MARGIN).astimezone(dt_timezone.utc)
    if "#" in mark:  # entryCSN: 20261128074133.663006Z#000000#000#000000
        limit = at.strftime("%Y%m%d%H%M%S.%fZ") + "#000000#000#000000"
    elif mark[14:15] == ".":
        limit = at.strftime("%Y%m%d%H%M%S.%fZ")
    else:  # modifyTimestamp: 20261128074133Z
        limit = at.strftime("%Y%m%d%H%M%SZ")
    return min(mark, limit)


def _first_text(raw: dict, attribute: str) -> str:
    values = values_of(raw, attribute)
    return values[0].decode("utf-8", errors="replace") if values else ""


def _id_of(raw: dict, attribute: str) -> str | None:
    values = values_of(raw, attribute)
    return decode_id(values[0], attribute) if values else None


def _revoke_tokens(user_ids: list[int]) -> None:
    """Disabled or deleted in the directory: their OpenID Connect tokens stop too."""
    from watchword.protocols.services import revoke_tokens_of_users

    revoke_tokens_of_users(user_ids)


def run_sync(connection: DirectoryConnection, **options) -> SyncRun:
    """Run one sync of ``connection`` now (see ``Runner`` for the options)."""
    started = time.monotonic()
    run = Runner(connection, **options).execute()
    run.elapsed = time.monotonic() - started
    return run


def purge_deleted(now=None) -> int:
    """Remove people soft-deleted more than 30 days ago, with their methods."""
    now = now or timezone.now()
    doomed = list(User.objects.filter(deleted_at__lt=now - RETENTION).values_list("pk", "upn"))
    for pk, upn in doomed:
        with transaction.atomic():
            AuditEvent.objects.create(time=now, actor_label="system", action="user.purge", target_type="user",
                                      target_id=str(pk), target_label=upn,
                                      reason="soft-deleted more than 30 days ago")
            User.objects.filter(pk=pk).delete()
    return len(doomed)
