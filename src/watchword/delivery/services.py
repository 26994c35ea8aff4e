"""Messages to people. Mail goes through Django's configured backend."""

from __future__ import annotations

import email
import email.policy
import logging
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.mail import get_connection, send_mail
from django.template.loader import render_to_string

from watchword.audit.services import record_change

log = logging.getLogger(__name__)


def notify_mfa_enabled_many(users) -> int:
    """Tell several people at once (a bulk action) over one mail connection instead of one per
    person. If the mail server cannot be reached, each person's notice is recorded as failed."""
    users = list(users)
    connection = None
    if any(user.email for user in users):
        try:
            connection = get_connection(fail_silently=False)
            connection.open()
        except Exception as exc:  # unreachable: nobody gets mail; those without an address are still noted
            for user in users:
                if user.email:
                    _record_failure(user, exc)
                else:
                    notify_mfa_enabled(user)
            return 0
    try:
        return sum(notify_mfa_enabled(user, connection=connection) for user in users)
    finally:
        if connection is not None:
            try:
                connection.close()
            except Exception:  # closing a broken SMTP session must not undo what was sent
                pass


def notify_mfa_enabled(user, *, connection=None) -> bool:
    """Tell the person MFA is now on: what will happen at the next sign-in and where to start."""
    if not user.email:
        record_change(actor="system", action="mail.mfa_enabled", target=user, result="skipped",
                      reason="the person has no e-mail address")
        return False
    context = {"user": user, "organisation": settings.ORGANISATION_NAME, "url": settings.PUBLIC_URL}
    subject = f"{settings.ORGANISATION_NAME}: your account now needs a second sign-in step"
    try:
        send_mail(subject, render_to_string("delivery/mfa_enabled.txt", context),
                  settings.DEFAULT_FROM_EMAIL, [user.email], fail_silently=False, connection=connection)
    except Exception as exc:  # SMTP errors of every kind: recorded, never shown as a crash
        _record_failure(user, exc)
        return False
    record_change(actor="system", action="mail.mfa_enabled", target=user, after={"to": user.email})
    return True


def _record_failure(user, exc: Exception) -> None:
    log.warning("could not send MFA notice to %s: %s", user.upn, exc)
    record_change(actor="system", action="mail.mfa_enabled", target=user, result="failure", reason=str(exc)[:300])


@dataclass(frozen=True)
class StoredMail:
    name: str
    sent: str
    to: str
    subject: str
    body: str


def stored_mail(limit: int = 200) -> list[StoredMail]:
    folder = Path(settings.MAIL_FOLDER)
    if not folder.is_dir():
        return []
    result = []
    for path in sorted(folder.glob("*.eml"), reverse=True)[:limit]:
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        body = message.get_body(preferencelist=("plain",))
        result.append(StoredMail(name=path.name, sent=str(message.get("Date", "")), to=str(message.get("To", "")),
                                 subject=str(message.get("Subject", "")),
                                 body=body.get_content() if body else ""))
    return result
