"""OpenID Connect pieces the settings need before Django is set up: the ID-token signing key
(``<DATA_DIR>/keys/oidc.pem``, RSA, 0600, created on first use or by ``watchword init``) and the
per-client PKCE rule (required for public clients)."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from watchword.config import ConfigError


def load_or_create_signing_key(path: Path) -> str:
    """The PEM of the RSA key that signs ID tokens (RS256), made the first time it is needed."""
    try:
        pem = path.read_text()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process created it first
            return path.read_text()
        with os.fdopen(fd, "w") as handle:
            handle.write(pem)
        return pem
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except ValueError:
        raise ConfigError(f"{path} does not hold an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < 2048:
        raise ConfigError(f"{path} must hold an RSA private key of at least 2048 bits")
    return pem


def pkce_required(client_id: str) -> bool:
    """PKCE is required for public clients (no secret to prove who redeems the code); optional,
    though still honoured when sent, for confidential ones."""
    from oauth2_provider.models import get_application_model

    Application = get_application_model()
    client_type = Application.objects.filter(client_id=client_id).values_list("client_type", flat=True).first()
    return client_type != Application.CLIENT_CONFIDENTIAL
