"""The RSA keys that sign ID tokens (RS256), kept in ``<DATA_DIR>/keys/oidc/`` and rotated with
``watchword oidc keys rotate``.

Each key is a PEM file (0600) named by the UTC time it was made, like
``20261128T042233123456Z.pem``. The newest one signs. Each older one was retired when the next
one was made; it stays published in ``/o/jwks.json`` for a grace period (by default the ID-token
lifetime plus a day) so that tokens it signed still verify, then it is no longer published and
the next rotation deletes its file. A key in the older single file ``keys/oidc.pem`` is moved into
the folder as the current key the first time the folder is read.

The key ID (``kid``) is the key's RFC 7638 thumbprint (django-oauth-toolkit's choice), so it
changes with the key. No Django here: the settings read the keys before Django is set up."""

from __future__ import annotations

import calendar
import fcntl
import os
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from watchword.config import ConfigError

KEY_BITS = 2048
NAME_RE = re.compile(r"^(\d{8}T\d{6})(\d{6})Z\.pem$")


@dataclass(frozen=True)
class StoredKey:
    path: Path
    created: float  # seconds since the epoch, from the file's name
    pem: str


@dataclass(frozen=True)
class SigningKeys:
    """What the provider uses: the key that signs, the retired keys still published, and those
    past their grace period (no longer published; ``rotate`` deletes them)."""

    current: StoredKey
    published: tuple[StoredKey, ...]  # retired, still in the JWKS, newest first
    expired: tuple[StoredKey, ...]
    next_change: float | None  # when the next published key's grace period ends


@dataclass(frozen=True)
class Rotation:
    new: StoredKey
    retired: StoredKey
    deleted: tuple[StoredKey, ...]


def new_private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def checked_pem(pem: str, path: Path) -> str:
    """``pem`` if it is an unencrypted RSA private key of at least 2048 bits; otherwise a
    configuration error naming the file."""
    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"{path} does not hold an unencrypted PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey) or key.key_size < KEY_BITS:
        raise ConfigError(f"{path} must hold an RSA private key of at least {KEY_BITS} bits")
    return pem


def key_id(pem: str) -> str:
    """The ``kid`` the provider gives the key: its RFC 7638 thumbprint."""
    from jwcrypto import jwk

    return jwk.JWK.from_pem(pem.encode()).thumbprint()


def file_name(created: float) -> str:
    seconds = int(created)
    micros = int(round((created - seconds) * 1_000_000))
    if micros == 1_000_000:
        seconds, micros = seconds + 1, 0
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(seconds))}{micros:06d}Z.pem"


def created_of(name: str) -> float | None:
    match = NAME_RE.match(name)
    if not match:
        return None
    return calendar.timegm(time.strptime(match.group(1), "%Y%m%dT%H%M%S")) + int(match.group(2)) / 1_000_000


def stored_keys(directory: Path) -> list[StoredKey]:
    """The keys in ``directory``, oldest first. Files not named like a key are left alone."""
    found = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return []
    for entry in entries:
        created = created_of(entry.name)
        if created is None or not entry.is_file():
            continue
        path = Path(entry.path)
        found.append(StoredKey(path=path, created=created, pem=checked_pem(path.read_text(), path)))
    return sorted(found, key=lambda key: key.created)


def arrange(keys: list[StoredKey], *, now: float, grace: float) -> SigningKeys:
    """Which key signs and which retired ones are still published. A key is retired when the
    next one is made; it is published until ``grace`` seconds after that."""
    published, expired, ends = [], [], []
    for older, newer in zip(keys, keys[1:]):
        if now - newer.created <= grace:
            published.append(older)
            ends.append(newer.created + grace)
        else:
            expired.append(older)
    return SigningKeys(current=keys[-1], published=tuple(reversed(published)), expired=tuple(expired),
                       next_change=min(ends) if ends else None)


def _write_key(directory: Path, pem: str, created: float) -> StoredKey:
    while True:
        path = directory / file_name(created)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            created += 0.000001
            continue
        with os.fdopen(fd, "w") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        return StoredKey(path=path, created=created_of(path.name), pem=pem)


@contextmanager
def _locked(directory: Path):
    """One process at a time makes, migrates or rotates keys in ``directory``."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _ensure(directory: Path, legacy: Path | None, now: float) -> list[StoredKey]:
    """The stored keys, after moving the single legacy key in or making the first key."""
    keys = stored_keys(directory)
    if keys:
        return keys
    if legacy is not None and legacy.is_file():
        pem = checked_pem(legacy.read_text(), legacy)
        _write_key(directory, pem, min(legacy.stat().st_mtime, now))
        legacy.unlink()
    else:
        _write_key(directory, new_private_key_pem(), now)
    return stored_keys(directory)


def load_signing_keys(directory: Path, *, legacy: Path | None, now: float, grace: float) -> SigningKeys:
    keys = stored_keys(directory)
    if not keys:
        with _locked(directory):
            keys = _ensure(directory, legacy, now)
    return arrange(keys, now=now, grace=grace)


def rotate(directory: Path, *, legacy: Path | None, now: float, grace: float) -> Rotation:
    """A new key signs from now on; the one it replaces stays published for ``grace`` seconds;
    keys retired longer ago than that are deleted."""
    with _locked(directory):
        keys = _ensure(directory, legacy, now)
        retired = keys[-1]
        new = _write_key(directory, new_private_key_pem(), max(now, retired.created + 0.000001))
        arranged = arrange([*keys, new], now=now, grace=grace)
        for key in arranged.expired:
            key.path.unlink(missing_ok=True)
    return Rotation(new=new, retired=retired, deleted=arranged.expired)


def load_or_create_signing_key(path: Path) -> str:
    """A single key kept elsewhere (``WATCHWORD_OIDC_SIGNING_KEY``): made the first time it is
    needed, never rotated by Watchword."""
    try:
        return checked_pem(path.read_text(), path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = new_private_key_pem()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first
        return checked_pem(path.read_text(), path)
    with os.fdopen(fd, "w") as handle:
        handle.write(pem)
    return pem
