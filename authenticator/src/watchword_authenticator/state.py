"""The state file: this device's private key and its accounts, as JSON.

It holds TOTP seeds and the key that approves sign-ins, so it is created 0600 (``os.open`` with
the mode, never widened by a later chmod), replaced atomically (temporary file in the same
folder, fsync, ``os.replace``) so a crash never leaves half a file, and refused when other users
can read it, as OpenSSH refuses a private key with loose permissions. It can be sealed with a
passphrase (see ``sealing``).
"""

from __future__ import annotations

import json
import os
import secrets
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from watchword_authenticator import sealing
from watchword_authenticator.accounts import Account, AccountBook
from watchword_authenticator.crypto import load_private_key, new_device_key, private_key_to_pem
from watchword_authenticator.errors import StateExists, StateInsecure, StateUnreadable, StateUnwritable

FORMAT = "watchword-authenticator-state"
VERSION = 1
ENV_VAR = "WATCHWORD_AUTHENTICATOR_STATE"
MAX_BYTES = 8 * 1024 * 1024
POSIX = os.name == "posix"


def default_state_path(environ: dict | None = None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get(ENV_VAR):
        return Path(environ[ENV_VAR]).expanduser()
    return Path("~/.config/watchword-authenticator/state.json").expanduser()


@dataclass
class State:
    """``device_key`` is one ECDSA P-256 key per install, made with the state; ``sealer`` is
    ``None`` for a plain file, else the passphrase-derived key it is saved with."""

    device_key: ec.EllipticCurvePrivateKey
    book: AccountBook = field(default_factory=AccountBook)
    sealer: sealing.Sealer | None = None


def new_state() -> State:
    return State(device_key=new_device_key())


# --- reading ----------------------------------------------------------------------------------


def load_state(path: Path, *, passphrase: Callable[[], str]) -> State:
    """Read and check the file; ``passphrase`` is called only when the file is sealed."""
    document = _parse(_read_private_file(path), path)
    if document.get("format") != FORMAT:
        raise StateUnreadable(f"{path} is not a watchword-authenticator state file.")
    if document.get("version") != VERSION:
        raise StateUnreadable(f"{path} has state version {document.get('version')!r}; this program reads {VERSION}.")
    sealer = None
    if sealing.is_sealed(document):
        plaintext, sealer = sealing.open_sealed(document, passphrase())
        document = _parse(plaintext, path)
    try:
        key = load_private_key(document["device_key"])
        book = AccountBook([Account.from_json(entry) for entry in document["accounts"]])
    except (KeyError, TypeError, ValueError) as exc:
        raise StateUnreadable(f"{path} is damaged ({_describe(exc)}).") from None
    return State(device_key=key, book=book, sealer=sealer)


def _read_private_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise StateUnreadable(f"{path} does not exist.") from None
    except OSError as exc:
        raise StateUnreadable(f"{path} could not be opened ({exc.strerror}).") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise StateUnreadable(f"{path} is not a regular file.")
        if POSIX and info.st_mode & 0o077:
            raise StateInsecure(f"{path} can be read or changed by other users (mode {stat.S_IMODE(info.st_mode):04o}) "
                                f"and holds your sign-in keys; fix it with: chmod 600 '{path}'")
        if info.st_size > MAX_BYTES:
            raise StateUnreadable(f"{path} is too large to be a state file.")
        return handle.read(MAX_BYTES + 1)


def _parse(data: bytes, path: Path) -> dict:
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise StateUnreadable(f"{path} is not valid JSON.") from None
    if not isinstance(document, dict):
        raise StateUnreadable(f"{path} is not a watchword-authenticator state file.")
    return document


def _describe(exc: Exception) -> str:
    return f"missing {exc}" if isinstance(exc, KeyError) else str(exc)


# --- writing ----------------------------------------------------------------------------------


def render_state(state: State) -> bytes:
    envelope = {"format": FORMAT, "version": VERSION}
    inner = {**envelope, "device_key": private_key_to_pem(state.device_key),
             "accounts": [account.to_json() for account in state.book.accounts]}
    plaintext = json.dumps(inner, indent=2, ensure_ascii=False).encode("utf-8")
    if state.sealer is None:
        return plaintext + b"\n"
    sealed = state.sealer.seal(plaintext, envelope=envelope)
    return json.dumps(sealed, indent=2).encode("utf-8") + b"\n"


def save_state(path: Path, state: State, *, exclusive: bool = False) -> None:
    """Write atomically. ``exclusive`` refuses to replace an existing file (for ``init``)."""
    if exclusive and path.exists():
        raise StateExists(f"{path} already exists.")
    write_private_file(path, render_state(state))


def write_private_file(path: Path, data: bytes) -> None:
    folder = path.parent
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise StateUnwritable(f"Could not create the folder {folder} ({exc.strerror}).") from None
    temporary = folder / f".{path.name}.{secrets.token_hex(6)}.tmp"
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)
    except OSError as exc:
        temporary.unlink(missing_ok=True)
        raise StateUnwritable(f"Could not write {path} ({exc.strerror}); it was not changed.") from None
    _fsync_folder(folder)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX: the directory entry lives in the folder)."""
    if not POSIX:
        return
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
