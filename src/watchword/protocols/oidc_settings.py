"""OpenID Connect pieces the settings need before Django is set up: the ID-token signing keys
(``oidc_keys``: ``<DATA_DIR>/keys/oidc/``, rotated; or one fixed key named by
``WATCHWORD_OIDC_SIGNING_KEY``) and the per-client PKCE rule (required for public clients)."""

from __future__ import annotations

import time
from pathlib import Path

from watchword.protocols import oidc_keys


def signing_keys(*, directory: Path | None, fixed: Path | None, legacy: Path, grace: float) -> oidc_keys.SigningKeys:
    """The key that signs and the retired ones still published. A fixed key (kept outside the
    data folder by the operator) is the only one, and is never rotated."""
    if fixed is not None:
        pem = oidc_keys.load_or_create_signing_key(fixed)
        return oidc_keys.SigningKeys(current=oidc_keys.StoredKey(path=fixed, created=0.0, pem=pem), published=(),
                                     expired=(), next_change=None)
    return oidc_keys.load_signing_keys(directory, legacy=legacy, now=time.time(), grace=grace)


def pkce_required(client_id: str) -> bool:
    """PKCE is required for public clients (no secret to prove who redeems the code); optional,
    though still honoured when sent, for confidential ones."""
    from oauth2_provider.models import get_application_model

    Application = get_application_model()
    try:
        client_type = Application.objects.filter(client_id=client_id).values_list("client_type", flat=True).first()
    except ValueError:  # a client ID no database column can hold (a NUL byte, on PostgreSQL)
        return True
    return client_type != Application.CLIENT_CONFIDENTIAL
