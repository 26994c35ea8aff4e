"""Creating and changing people: one validated path for admin pages, CLI and CSV import."""

from __future__ import annotations

import secrets
import string
import unicodedata
from dataclasses import dataclass, field

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from watchword.audit.services import record_change
from watchword.directory.errors import (
    InvalidMfaState,
    InvalidUserField,
    LastGlobalAdmin,
    ManagedByDirectory,
    RoleChangeDenied,
    UserExists,
    UserNotFound,
    WeakPassword,
)
from watchword.directory.models import MfaState, Role, User, normalise_upn
from watchword.directory.phones import PhoneNumberInvalid, parse_phone, valid_region

USER_FIELDS = ("upn", "display_name", "email", "office_phone", "mobile_phone", "role")


def check_text(value: object, *, field_name: str, label: str, max_length: int, required: bool) -> str:
    """Plain single-line text: no control characters, bounded, trimmed."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidUserField(f"{label} must be text.", field=field_name)
    text = value.strip()
    if required and not text:
        raise InvalidUserField(f"Enter a {label.lower()}.", field=field_name)
    if len(text) > max_length:
        raise InvalidUserField(f"{label} is at most {max_length} characters.", field=field_name)
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Zl", "Zp") for ch in text):
        raise InvalidUserField(f"{label} contains characters that are not allowed.", field=field_name)
    return text


def clean_upn(value: object) -> str:
    text = normalise_upn(check_text(value, field_name="upn", label="Sign-in name", max_length=254, required=True))
    try:
        validate_email(text)
    except ValidationError:
        raise InvalidUserField("A sign-in name looks like name@example.org.", field="upn") from None
    return text


def clean_user_fields(data: dict, *, partial: bool = False) -> dict:
    """Validate user attributes; raises ``InvalidUserField`` naming the first bad field."""
    cleaned: dict = {}
    if not partial or "upn" in data:
        cleaned["upn"] = clean_upn(data.get("upn"))
    if not partial or "display_name" in data:
        cleaned["display_name"] = check_text(data.get("display_name"), field_name="display_name",
                                             label="Display name", max_length=256, required=True)
    if not partial or "email" in data:
        email = check_text(data.get("email"), field_name="email", label="E-mail", max_length=254, required=False)
        if email:
            try:
                validate_email(email)
            except ValidationError:
                raise InvalidUserField("Enter an e-mail address like name@example.org.", field="email") from None
        cleaned["email"] = email
    country = data.get("phone_country")
    region = country.upper() if valid_region(country) else None  # None: the installation's default
    for name, label, ext in (("office_phone", "Office phone", True), ("mobile_phone", "Mobile phone", False)):
        if not partial or name in data:
            raw = check_text(data.get(name), field_name=name, label=label, max_length=40, required=False)
            if raw:
                try:
                    cleaned[name] = parse_phone(raw, default_region=region, allow_extension=ext).stored
                except PhoneNumberInvalid as exc:
                    raise InvalidUserField(f"{label}: {exc.message}", field=name) from None
            else:
                cleaned[name] = ""
    if not partial or "role" in data:
        role = data.get("role") or Role.USER
        if role not in Role.values:
            raise InvalidUserField("Role must be user, authentication_admin, security_admin or global_admin.", field="role")
        cleaned["role"] = role
    return cleaned


def check_password_strength(password: object, user: User | None = None) -> str:
    if not isinstance(password, str) or not password:
        raise WeakPassword("Enter a password.", field="password")
    if len(password) > 256:
        raise WeakPassword("A password is at most 256 characters.", field="password")
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise WeakPassword(" ".join(exc.messages), field="password") from None
    return password


def generate_one_time_password() -> str:
    """16 characters from an unambiguous alphabet (~90 bits), grouped for reading aloud."""
    alphabet = "".join(ch for ch in string.ascii_letters + string.digits if ch not in "0O1lI")
    raw = "".join(secrets.choice(alphabet) for _ in range(16))
    return "-".join(raw[i:i + 4] for i in range(0, 16, 4))


def snapshot(user: User) -> dict:
    return {
        "upn": user.upn, "display_name": user.display_name, "email": user.email,
        "office_phone": user.office_phone, "mobile_phone": user.mobile_phone,
        "role": user.role, "enabled": user.is_active, "mfa_state": user.mfa_state,
    }


@dataclass
class CreatedUser:
    user: User
    one_time_password: str | None = None


def _require_role_change_allowed(actor, role: str) -> None:
    if role != Role.USER and actor is not None and not isinstance(actor, str) and not actor.is_global_admin:
        raise RoleChangeDenied()


def create_user(data: dict, *, actor, request=None, password: str | None = None) -> CreatedUser:
    """Create a person. Without ``password`` a one-time password is generated, returned once and
    must be changed at first sign-in."""
    cleaned = clean_user_fields(data)
    _require_role_change_allowed(actor, cleaned["role"])
    user = User(**cleaned)
    one_time = None
    if password is None:
        one_time = generate_one_time_password()
        user.set_password(one_time)
        user.must_change_password = True
    else:
        user.set_password(check_password_strength(password, user))
    with transaction.atomic():
        if User.objects.filter(upn=cleaned["upn"]).exists():
            raise UserExists(field="upn")
        user.save()
        record_change(actor=actor, action="user.create", target=user, after=snapshot(user), request=request)
    return CreatedUser(user=user, one_time_password=one_time)


def get_user(upn_or_id: object) -> User:
    text = str(upn_or_id).strip()
    if not text or len(text) > 254 or "\x00" in text:  # PostgreSQL refuses NUL in any text parameter
        raise UserNotFound()
    if text.isascii() and text.isdigit():
        if len(text) > 18:  # beyond any id (and beyond a 64-bit column)
            raise UserNotFound()
        column, value = "id", int(text)
    else:
        column, value = "upn", normalise_upn(text)
    # A prepared lookup by a unique key: every API call and RADIUS request finds a person this way.
    # Soft-deleted people (gone from their directory) are not found (Admin → Users → Deleted people lists them).
    found = list(User.objects.raw(f"SELECT * FROM {User._meta.db_table} WHERE {column} = %s AND deleted_at IS NULL",
                                  [value]))
    if not found:
        raise UserNotFound()
    return found[0]


def _ensure_not_last_global_admin(user: User) -> None:
    if user.role == Role.GLOBAL_ADMIN and user.is_active:
        others = User.objects.filter(role=Role.GLOBAL_ADMIN, is_active=True).exclude(pk=user.pk)
        if not others.exists():
            raise LastGlobalAdmin()


FIELD_LABELS = {"upn": "sign-in name", "display_name": "display name", "email": "e-mail address",
                "office_phone": "office phone", "mobile_phone": "mobile phone", "enabled": "account state",
                "password": "password"}


def managed_message(user: User, name: str, *, own: bool = False) -> str:
    """What to tell someone trying to change a value the person's directory owns."""
    label = FIELD_LABELS.get(name, name.replace("_", " "))
    if own:
        return (f"Your {label} is managed by your organisation's directory. Ask your administrator to change it "
                "there; changes appear here after the next sync.")
    where = user.directory_connection.name if user.directory_connection_id else "the directory"
    return (f"The {label} of {user.upn} is managed by the directory ({where}). Change it there; the change appears "
            "here after the next sync.")


def refuse_managed(user: User, names, *, own: bool = False) -> None:
    """Raise ``ManagedByDirectory`` naming the first of ``names`` the person's directory owns."""
    managed = user.managed_fields()
    for name in names:
        if name in managed:
            raise ManagedByDirectory(managed_message(user, name, own=own), field=name)


def update_user(user: User, data: dict, *, actor, request=None) -> User:
    cleaned = clean_user_fields(data, partial=True)
    if user.directory_connection_id is not None:
        refuse_managed(user, [k for k, v in cleaned.items() if getattr(user, k) != v])
    if "role" in cleaned and cleaned["role"] != user.role:
        if actor is not None and not isinstance(actor, str) and not actor.is_global_admin:
            raise RoleChangeDenied()
        if cleaned["role"] != Role.GLOBAL_ADMIN:
            _ensure_not_last_global_admin(user)
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        before = snapshot(user)
        if "upn" in cleaned and cleaned["upn"] != user.upn and User.objects.filter(upn=cleaned["upn"]).exists():
            raise UserExists(field="upn")
        for key, value in cleaned.items():
            setattr(user, key, value)
        user.save()
        after = snapshot(user)
        if after != before:
            record_change(actor=actor, action="user.update", target=user, before=before, after=after,
                          request=request)
    return user


def set_enabled(user: User, enabled: bool, *, actor, request=None) -> User:
    if user.is_active != enabled:
        refuse_managed(user, ["enabled"])
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        if user.is_active == enabled:
            return user
        if not enabled:
            _ensure_not_last_global_admin(user)
            user.session_epoch += 1  # sign out everywhere
        user.is_active = enabled
        user.save(update_fields=["is_active", "session_epoch", "updated_at"])
        record_change(actor=actor, action="user.enable" if enabled else "user.disable", target=user,
                      before={"enabled": not enabled}, after={"enabled": enabled}, request=request)
    if not enabled:
        from watchword.protocols.services import revoke_tokens_of_users

        revoke_tokens_of_users([user.pk])
    return user


def reset_password(user: User, *, actor, request=None) -> str:
    """Give the person a new one-time password (shown once), which they must change."""
    refuse_managed(user, ["password"])
    one_time = generate_one_time_password()
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(one_time)
        user.must_change_password = True
        user.session_epoch += 1
        user.save(update_fields=["password", "must_change_password", "session_epoch", "updated_at"])
        record_change(actor=actor, action="user.password.reset", target=user, request=request)
    return one_time


def change_own_password(user: User, new_password: str, *, request=None) -> User:
    refuse_managed(user, ["password"], own=True)
    check_password_strength(new_password, user)
    if user.check_password(new_password):
        raise WeakPassword("Choose a password different from the current one.", field="password")
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.set_password(new_password)
        user.must_change_password = False
        user.save(update_fields=["password", "must_change_password", "updated_at"])
        record_change(actor=user, action="user.password.change", target=user, request=request)
    return user


def clean_mfa_state(value: object) -> str:
    text = str(value or "").strip().lower()
    if text not in MfaState.values:
        raise InvalidMfaState(field="mfa_state")
    return text


def revoke_sessions(user: User, *, actor, request=None, action: str = "user.mfa.revoke_sessions") -> User:
    with transaction.atomic():
        user = User.objects.select_for_update().get(pk=user.pk)
        user.session_epoch += 1
        user.save(update_fields=["session_epoch", "updated_at"])
        if action == "user.mfa.revoke_sessions":  # "Revoke MFA sessions" also ends remembered MFA
            from watchword.signin.facts import forget_remembered_mfa

            forget_remembered_mfa(user)
        record_change(actor=actor, action=action, target=user, request=request)
    return user


@dataclass
class BulkResult:
    changed: list[User] = field(default_factory=list)
    unchanged: list[User] = field(default_factory=list)


def mail_settings_summary() -> str:
    return "SMTP" if settings.EMAIL_HOST else f"mail folder {settings.MAIL_FOLDER}"
