"""Secrets sealed at rest with AES-256-GCM under a keyring kept outside the database.

A sealed value describes its own format and key: ``ww1:<key id>:<base64url(nonce || ciphertext)>``.
The associated data binds a ciphertext to its purpose and owner (``totp-seed:user:42``), so a
sealed secret copied into another row does not open there. The keyring file holds every key
still needed to open old values; ``watchword keys rotate`` adds a new primary key, re-seals every
stored secret under it and only then retires the old keys.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "ww1"


class SealError(Exception):
    """A sealed value cannot be opened (wrong key, tampered, wrong purpose) or no keyring exists."""


@dataclass(frozen=True)
class Keyring:
    primary: str
    keys: dict[str, bytes]

    def to_json(self) -> str:
        return json.dumps(
            {"primary": self.primary,
             "keys": {kid: base64.urlsafe_b64encode(key).decode() for kid, key in self.keys.items()}},
            indent=2,
        )

    @classmethod
    def from_json(cls, text: str) -> "Keyring":
        try:
            data = json.loads(text)
            keys = {str(kid): base64.urlsafe_b64decode(value) for kid, value in data["keys"].items()}
            primary = str(data["primary"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise SealError(f"the keyring file is not valid: {exc}") from None
        if primary not in keys or any(len(key) != 32 for key in keys.values()):
            raise SealError("the keyring file is not valid: primary key missing or a key is not 256 bits")
        return cls(primary=primary, keys=keys)

    def with_new_primary(self) -> "Keyring":
        kid = f"k{secrets.token_hex(4)}"
        return Keyring(primary=kid, keys={**self.keys, kid: AESGCM.generate_key(bit_length=256)})

    def only_primary(self) -> "Keyring":
        return Keyring(primary=self.primary, keys={self.primary: self.keys[self.primary]})


def new_keyring() -> Keyring:
    kid = f"k{secrets.token_hex(4)}"
    return Keyring(primary=kid, keys={kid: AESGCM.generate_key(bit_length=256)})


def write_keyring(path: Path, keyring: Keyring) -> None:
    """Write atomically with 0600 permissions (write to a temporary file, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(keyring.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


_cache: dict[str, tuple[float, Keyring]] = {}


def load_keyring(path: Path) -> Keyring:
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise SealError(f"no keyring at {path}; run 'watchword init' first") from None
    cached = _cache.get(str(path))
    if cached and cached[0] == mtime:
        return cached[1]
    keyring = Keyring.from_json(path.read_text())
    _cache[str(path)] = (mtime, keyring)
    return keyring


def seal(plaintext: bytes, *, purpose: str, keyring: Keyring) -> str:
    nonce = os.urandom(12)
    ciphertext = AESGCM(keyring.keys[keyring.primary]).encrypt(nonce, plaintext, purpose.encode())
    return f"{FORMAT}:{keyring.primary}:{base64.urlsafe_b64encode(nonce + ciphertext).decode()}"


def key_id_of(sealed: str) -> str:
    parts = sealed.split(":")
    if len(parts) != 3 or parts[0] != FORMAT:
        raise SealError("not a sealed value")
    return parts[1]


def unseal(sealed: str, *, purpose: str, keyring: Keyring) -> bytes:
    kid = key_id_of(sealed)
    key = keyring.keys.get(kid)
    if key is None:
        raise SealError(f"sealed under key {kid}, which is not in the keyring")
    try:
        blob = base64.urlsafe_b64decode(sealed.split(":")[2])
        return AESGCM(key).decrypt(blob[:12], blob[12:], purpose.encode())
    except (InvalidTag, ValueError):
        raise SealError("sealed value does not open: tampered, or sealed for another purpose") from None


def default_keyring() -> Keyring:
    from django.conf import settings

    return load_keyring(settings.SEAL_KEYRING)
