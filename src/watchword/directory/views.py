"""Admin pages for people: list with filters and bulk MFA actions, add, CSV import, details."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from watchword.core.errors import WatchwordError
from watchword.delivery.services import notify_mfa_enabled_many
from watchword.directory.errors import UserNotFound
from watchword.directory.forms import CsvImportForm, UserFilterForm, UserForm
from watchword.directory.groups import add_member, create_group, delete_group, get_group, remove_member
from watchword.directory.imports import MAX_ROWS_WEB, WEB_ADVICE, import_users_csv
from watchword.directory.models import Group, MfaState, User
from watchword.directory.phones import display_phone
from watchword.directory.services import (
    create_user,
    get_user,
    managed_message,
    reset_password,
    revoke_sessions,
    set_enabled,
    update_user,
)
from watchword.methods.services import (
    delete_method,
    device_of,
    methods_of,
    require_reregistration,
    set_mfa_state,
    unblock_mfa,
)
from watchword.signin.guards import admin_required
from watchword.sync.engine import RETENTION
from watchword.sync.services import restore_user

BULK_ACTIONS = {"enable": MfaState.ENABLED, "enforce": MfaState.ENFORCED, "disable": MfaState.DISABLED}


def can_manage(actor: User, target: User) -> bool:
    """Authentication Administrators manage people without admin roles; Global Administrators
    manage everyone."""
    return actor.is_global_admin or not target.is_admin


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def user_list(request):
    if request.method == "POST":
        return _bulk(request)
    form = UserFilterForm(request.GET or None)
    users = User.objects.filter(deleted_at__isnull=True).annotate(method_count=Count("methods"))
    if form.is_valid():
        data = form.cleaned_data
        if data["q"]:
            users = users.filter(Q(upn__icontains=data["q"]) | Q(display_name__icontains=data["q"]))
        if data["state"]:
            users = users.filter(mfa_state=data["state"])
        if data["role"]:
            users = users.filter(role=data["role"])
        if data["enabled"]:
            users = users.filter(is_active=data["enabled"] == "yes")
    page = Paginator(users.order_by("upn"), 50).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "directory/user_list.html", {"form": form, "page": page, "query": query.urlencode()})


def _bulk(request):
    action = request.POST.get("action", "")
    ids = request.POST.getlist("user")
    if action not in BULK_ACTIONS:
        messages.error(request, "Choose what to do: enable, enforce or disable MFA.")
        return redirect("directory:user_list")
    if not ids:
        messages.error(request, "Select at least one person first.")
        return redirect("directory:user_list")
    changed = skipped = 0
    to_notify = []
    for raw in ids[:1000]:
        try:
            target = get_user(raw) if raw.isdigit() else None
        except UserNotFound:
            target = None
        if target is None or not can_manage(request.user, target):
            skipped += 1
            continue
        before = target.mfa_state
        after = set_mfa_state(target, BULK_ACTIONS[action], actor=request.user, request=request, notify=False)
        changed += before != after.mfa_state
        if before == MfaState.DISABLED and after.mfa_state != MfaState.DISABLED:
            to_notify.append(after)
    notify_mfa_enabled_many(to_notify)  # after every change is saved, over one mail connection
    text = f"MFA state updated for {changed} {'person' if changed == 1 else 'people'}."
    if skipped:
        text += f" {skipped} skipped (not found, or you may not manage them)."
    messages.success(request, text)
    return redirect(request.POST.get("back") if str(request.POST.get("back", "")).startswith("/admin/users")
                    else "directory:user_list")


def _apply_errors(form, exc: WatchwordError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.public_message)


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def user_add(request):
    form = UserForm(request.POST or None)
    if not request.user.is_global_admin:
        form.fields["role"].choices = [("user", "User")]
    if request.method == "POST" and form.is_valid():
        try:
            created = create_user(form.cleaned_data, actor=request.user, request=request)
        except WatchwordError as exc:
            _apply_errors(form, exc)
        else:
            return render(request, "directory/user_created.html", {"created": [created]})
    return render(request, "directory/user_form.html", {"form": form, "title": "New user"})


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def user_import(request):
    form = CsvImportForm(request.POST or None, request.FILES or None)
    report = None
    if request.method == "POST" and form.is_valid():
        try:
            report = import_users_csv(form.cleaned_data["file"].read(), actor=request.user, request=request,
                                      max_rows=MAX_ROWS_WEB, too_large_advice=WEB_ADVICE)
        except WatchwordError as exc:
            form.add_error("file", exc.public_message)
    return render(request, "directory/user_import.html", {"form": form, "report": report})


def _target(request, user_id):
    try:
        target = get_user(user_id)
    except UserNotFound:
        return None
    return target if can_manage(request.user, target) else None


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def user_detail(request, user_id: int):
    target = _target(request, user_id)
    if target is None:
        return render(request, "core/error.html", {"title": "User not found",
                                                   "text": "There is no such user, or you may not manage them."},
                      status=404)
    initial = {"upn": target.upn, "display_name": target.display_name, "email": target.email,
               "office_phone": display_phone(target.office_phone), "mobile_phone": display_phone(target.mobile_phone),
               "role": target.role}
    form = UserForm(request.POST or None, initial=initial)
    if not request.user.is_global_admin:
        form.fields["role"].disabled = True
    managed = _show_managed(form, target)
    if request.method == "POST" and form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k not in managed}
        if not request.user.is_global_admin:
            data.pop("role", None)
        try:
            update_user(target, data, actor=request.user, request=request)
        except WatchwordError as exc:
            _apply_errors(form, exc)
        else:
            messages.success(request, "Changes saved.")
            return redirect("directory:user_detail", user_id=target.pk)
    methods = methods_of(target)
    return render(request, "directory/user_detail.html", {
        "target": target, "form": form, "states": MfaState.choices, "managed": managed,
        "connection": target.directory_connection if target.is_synced else None,
        "dn_parts": target.external_dn.split(","),  # shown with a line-break opportunity after each comma
        "enabled_note": managed_message(target, "enabled") if "enabled" in managed else "",
        "password_note": (f"Their password is checked by the directory {target.directory_connection.name} "
                          "(pass-through), so it is reset there, not here.") if "password" in managed else "",
        "methods": [{"method": m, "device": device_of(m), "number": display_phone(m.phone) if m.phone else ""}
                    for m in methods],
    })


def _show_managed(form, target: User) -> frozenset[str]:
    """The attributes the person's directory owns, read-only in the form: a disabled field keeps
    its initial value whatever is posted, and the view leaves them out of the update."""
    managed = target.managed_fields()
    if not managed:
        return managed
    note = (f"Managed by the directory {target.directory_connection.name}; change it there. The change appears "
            "here after the next sync.")
    for name in managed:
        if name in form.fields:
            form.fields[name].disabled = True
            form.fields[name].help_text = note
    if {"office_phone", "mobile_phone"} <= managed:
        del form.fields["phone_country"]  # only reads typed numbers
    return managed


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def remove_method(request, user_id: int, method_id: int):
    """An admin removes one of a person's methods (a lost phone, say), after confirming."""
    target = _target(request, user_id)
    method = target.methods.filter(pk=method_id).first() if target is not None else None
    if method is None:
        messages.error(request, "There is no such sign-in method, or you may not manage this person.")
        return redirect("directory:user_detail", user_id=target.pk) if target else redirect("directory:user_list")
    if request.method != "POST":
        device = device_of(method)
        what = f"the authenticator device \u201c{method.name}\u201d" if device else f"the method \u201c{method.name}\u201d"
        return render(request, "directory/confirm.html", {
            "target": target, "title": "Remove sign-in method?", "button": "Remove",
            "post_url": f"/admin/users/{target.pk}/methods/{method.pk}/remove",
            "text": f"{target.display_name} can no longer sign in with {what}; a device that is listening is "
                    "disconnected at once."})
    try:
        delete_method(target, method.pk, actor=request.user, request=request)
    except WatchwordError as exc:
        messages.error(request, exc.public_message)
    else:
        messages.success(request, "The sign-in method was removed.")
    return redirect("directory:user_detail", user_id=target.pk)


CONFIRM = {
    "reregister": ("Require re-registration?",
                   "All of {name}'s sign-in methods are deleted and they are signed out everywhere. At their next "
                   "sign-in they must register again (\u201cMore information required\u201d).",
                   "Require re-registration"),
    "revoke": ("Revoke MFA sessions?",
               "{name} is signed out of every browser and must sign in again, with MFA where it applies.",
               "Revoke sessions"),
    "reset-password": ("Reset password?",
                       "{name} gets a new one-time password, shown once on the next page, and is signed out "
                       "everywhere. They must choose a new password at their next sign-in.",
                       "Reset password"),
    "unblock": ("Unblock MFA?",
                "{name} reported a sign-in request as not theirs, so their multi-factor sign-ins are refused. "
                "Unblock only when you are sure their account is safe (for example after resetting their "
                "password). Their open fraud reports are marked as reviewed.",
                "Unblock"),
    "disable": ("Disable the account?",
                "{name} can no longer sign in and is signed out everywhere. You can enable the account again "
                "later; nothing is deleted.",
                "Disable account"),
}


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def user_action(request, user_id: int, action: str):
    """Actions on one person. Those that take something away ask first (GET shows what will
    happen; the confirmation POSTs back here)."""
    target = _target(request, user_id)
    if target is None:
        messages.error(request, "There is no such user, or you may not manage them.")
        return redirect("directory:user_list")
    if request.method != "POST":
        if action not in CONFIRM:
            return redirect("directory:user_detail", user_id=target.pk)
        owned = {"reset-password": "password", "disable": "enabled"}.get(action)
        if owned in target.managed_fields():
            messages.error(request, managed_message(target, owned))
            return redirect("directory:user_detail", user_id=target.pk)
        title, text, button = CONFIRM[action]
        return render(request, "directory/confirm.html", {
            "target": target, "title": title, "text": text.format(name=target.display_name), "button": button,
            "action": action})
    try:
        if action == "mfa-state":
            set_mfa_state(target, request.POST.get("mfa_state"), actor=request.user, request=request)
            messages.success(request, "Per-user MFA state updated.")
        elif action == "reregister":
            require_reregistration(target, actor=request.user, request=request)
            messages.success(request, "Methods removed. The person must register again at their next sign-in.")
        elif action == "revoke":
            revoke_sessions(target, actor=request.user, request=request)
            messages.success(request, "MFA sessions revoked. The person must sign in again everywhere.")
        elif action == "reset-password":
            one_time = reset_password(target, actor=request.user, request=request)
            return render(request, "directory/password_reset.html", {"target": target, "one_time": one_time})
        elif action == "unblock":
            unblock_mfa(target, actor=request.user, request=request)
            messages.success(request, "MFA unblocked. The person can sign in with their methods again.")
        elif action in ("disable", "enable"):
            set_enabled(target, action == "enable", actor=request.user, request=request)
            messages.success(request, f"Account {action}d.")
        else:
            messages.error(request, "Unknown action.")
    except WatchwordError as exc:
        messages.error(request, exc.public_message)
    return redirect("directory:user_detail", user_id=target.pk)


# --- soft-deleted people -------------------------------------------------------------------

@admin_required
@require_http_methods(["GET", "HEAD"])
def deleted_users(request):
    """People who left their directory: hidden and disabled, restorable with their methods
    until they are purged (30 days)."""
    people = User.objects.filter(deleted_at__isnull=False).select_related("directory_connection") \
        .order_by("-deleted_at", "upn")
    page = Paginator(people, 50).get_page(request.GET.get("page"))
    for person in page:
        person.restorable_until = person.deleted_at + RETENTION
    return render(request, "directory/deleted_users.html", {"page": page, "retention_days": RETENTION.days})


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def restore_deleted_user(request, user_id: int):
    person = User.objects.filter(pk=user_id, deleted_at__isnull=False).select_related("directory_connection") \
        .first() if user_id < 2**63 else None
    if person is None or not can_manage(request.user, person):
        messages.error(request, "There is no such deleted person, or you may not manage them.")
        return redirect("directory:deleted_users")
    if request.method != "POST":
        if person.directory_connection_id:
            text = (f"{person.display_name} is no longer in the directory {person.directory_connection.name}. "
                    "Restoring brings them back with their sign-in methods as a person managed in Watchword (no "
                    "longer synced). They get a one-time password, shown once on the next page, and must change "
                    "it at their next sign-in.")
        else:
            text = f"{person.display_name} is brought back with their sign-in methods and can sign in again."
        return render(request, "directory/confirm.html", {
            "target": person, "title": "Restore this person?", "text": text, "button": "Restore",
            "button_class": "primary", "post_url": f"/admin/users/deleted/{person.pk}/restore",
            "cancel_url": "/admin/users/deleted"})
    one_time = restore_user(person, actor=request.user, request=request)
    if one_time:
        return render(request, "directory/user_restored.html", {"target": person, "one_time": one_time})
    person.refresh_from_db()
    if person.deleted_at is not None:
        messages.error(request, "The person could not be restored.")
        return redirect("directory:deleted_users")
    text = f"{person.display_name} was restored."
    if not person.has_usable_password():
        text += " Reset their password so they can sign in."
    messages.success(request, text)
    return redirect("directory:user_detail", user_id=person.pk)


# --- groups --------------------------------------------------------------------------------

@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def group_list(request):
    error = ""
    if request.method == "POST":
        try:
            group = create_group(request.POST, actor=request.user, request=request)
        except WatchwordError as exc:
            error = exc.public_message
        else:
            messages.success(request, f"Group {group.name} created.")
            return redirect("directory:group_detail", group_id=group.pk)
    groups = Group.objects.annotate(member_count=Count("members")).order_by("name")
    return render(request, "directory/group_list.html", {"groups": groups, "error": error,
                                                         "name": request.POST.get("name", "")[:128]})


@admin_required
@require_http_methods(["GET", "HEAD", "POST"])
def group_detail(request, group_id: int):
    try:
        group = get_group(group_id)
    except WatchwordError:
        return render(request, "core/error.html", {"title": "Group not found", "text": "There is no such group."},
                      status=404)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "delete":
                delete_group(group, actor=request.user, request=request)
                messages.success(request, f"Group {group.name} deleted.")
                return redirect("directory:group_list")
            member = get_user(request.POST.get("member", ""))
            if action == "add":
                added = add_member(group, member, actor=request.user, request=request)
                messages.success(request, f"{member.display_name} added." if added else
                                 f"{member.display_name} is already a member.")
            elif action == "remove":
                remove_member(group, member, actor=request.user, request=request)
                messages.success(request, f"{member.display_name} removed.")
            else:
                messages.error(request, "Unknown action.")
        except WatchwordError as exc:
            messages.error(request, exc.public_message)
        return redirect("directory:group_detail", group_id=group.pk)
    return render(request, "directory/group_detail.html", {"group": group, "members": group.members.order_by("upn")})
