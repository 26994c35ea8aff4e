"""The embedded mail default: every message written as one ``.eml`` file in the data folder,
listed on the admin "Mail" page. Configure SMTP (``WATCHWORD_SMTP_HOST``) to send for real."""

from __future__ import annotations

import os
import secrets
from datetime import datetime, timezone
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend


class MailFolderBackend(BaseEmailBackend):
    def send_messages(self, email_messages) -> int:
        folder = Path(settings.MAIL_FOLDER)
        folder.mkdir(parents=True, exist_ok=True)
        sent = 0
        for message in email_messages:
            stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
            path = folder / f"{stamp}-{secrets.token_hex(4)}.eml"
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(message.message().as_bytes(linesep="\n"))
            os.replace(tmp, path)
            sent += 1
        return sent
