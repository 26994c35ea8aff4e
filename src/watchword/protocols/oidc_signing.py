"""The ID-token signing keys in a running Watchword: rotate them (``watchword oidc keys rotate``)
and pick a rotation up in every process without a restart.

DOT signs with ``OIDC_RSA_PRIVATE_KEY`` and publishes it with ``OIDC_RSA_PRIVATE_KEYS_INACTIVE``
in the JWKS. The settings load them from the key folder at start (``oidc_keys``);
``refresh_signing_keys`` loads them again when the folder has changed since (one ``stat`` per
call otherwise) or a retired key's grace period has ended, and tells DOT to re-read its settings."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import datetime, timezone

from django.conf import settings
from oauth2_provider.settings import oauth2_settings

from watchword.audit.services import record_change
from watchword.protocols import oidc_keys
from watchword.protocols.errors import OidcKeysFixed


class _Seen:
    signature: tuple | None = None
    next_change: float | None = None


def refresh_signing_keys() -> None:
    """Sign with, and publish, the keys in ``OIDC_KEYS_DIR`` as they are now. A fixed key
    (``WATCHWORD_OIDC_SIGNING_KEY``) never changes."""
    directory = settings.OIDC_KEYS_DIR
    if directory is None:
        return
    try:
        stat = os.stat(directory)
    except OSError:
        return
    signature = (stat.st_ino, stat.st_mtime_ns)
    now = time.time()
    if signature == _Seen.signature and (_Seen.next_change is None or now < _Seen.next_change):
        return
    keys = oidc_keys.load_signing_keys(directory, legacy=settings.OIDC_LEGACY_KEY, now=now,
                                       grace=settings.OIDC_RETIRED_KEY_SECONDS)
    provider = settings.OAUTH2_PROVIDER
    inactive = [key.pem for key in keys.published]
    changed = (provider.get("OIDC_RSA_PRIVATE_KEY") != keys.current.pem
               or provider.get("OIDC_RSA_PRIVATE_KEYS_INACTIVE") != inactive)
    if changed:
        provider["OIDC_RSA_PRIVATE_KEY"] = keys.current.pem
        provider["OIDC_RSA_PRIVATE_KEYS_INACTIVE"] = inactive
        oauth2_settings.reload()
    _Seen.signature, _Seen.next_change = signature, keys.next_change


@dataclass(frozen=True)
class RotationDone:
    new_kid: str
    retired_kid: str
    retired_until: datetime
    deleted_kids: tuple[str, ...]


def rotate_signing_key(*, actor, request=None) -> RotationDone:
    """A new key signs from now on (in every process, at its next token request); the previous
    one stays published for ``OIDC_RETIRED_KEY_SECONDS``; keys retired longer ago are deleted."""
    if settings.OIDC_KEYS_DIR is None:
        raise OidcKeysFixed()
    now = time.time()
    grace = settings.OIDC_RETIRED_KEY_SECONDS
    rotation = oidc_keys.rotate(settings.OIDC_KEYS_DIR, legacy=settings.OIDC_LEGACY_KEY, now=now, grace=grace)
    done = RotationDone(new_kid=oidc_keys.key_id(rotation.new.pem), retired_kid=oidc_keys.key_id(rotation.retired.pem),
                        retired_until=datetime.fromtimestamp(rotation.new.created + grace, tz=timezone.utc),
                        deleted_kids=tuple(oidc_keys.key_id(key.pem) for key in rotation.deleted))
    record_change(actor=actor, action="oidc.keys.rotate", target_type="oidc_key", request=request,
                  before={"kid": done.retired_kid},
                  after={"kid": done.new_kid, "retired_until": done.retired_until.isoformat(),
                         "deleted": list(done.deleted_kids)})
    refresh_signing_keys()
    return done
