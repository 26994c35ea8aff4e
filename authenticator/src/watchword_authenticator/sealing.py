"""Passphrase encryption of the state file: scrypt (RFC 7914) derives a 256-bit key, AES-256-GCM
seals the JSON. The KDF parameters and salt travel in the file and are bound to the ciphertext
as associated data, so a changed parameter fails like a wrong passphrase instead of silently
weakening anything. Each save uses a fresh 96-bit nonce with the key derived at load time."""

from __future__ import annotations

import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from watchword_authenticator.crypto import b64url_decode, b64url_encode, canonical_json
from watchword_authenticator.errors import PassphraseWrong, StateUnreadable

KDF = "scrypt"
CIPHER = "AES-256-GCM"
SCRYPT_N = 2**15  # 32 MiB with r=8: OWASP's minimum for scrypt, about 0.1 s here
SCRYPT_R = 8
SCRYPT_P = 1
MAX_SCRYPT_N = 2**20  # refuse a file asking for absurd memory
SALT_BYTES = 16
NONCE_BYTES = 12


@dataclass(frozen=True)
class Sealer:
    """A key derived from a passphrase, with the parameters that derived it."""

    key: bytes
    salt: bytes
    n: int = SCRYPT_N
    r: int = SCRYPT_R
    p: int = SCRYPT_P

    def __repr__(self) -> str:
        return f"Sealer(key=<hidden>, n={self.n}, r={self.r}, p={self.p})"

    @classmethod
    def from_passphrase(cls, passphrase: str, *, salt: bytes | None = None, n: int | None = None,
                        r: int = SCRYPT_R, p: int = SCRYPT_P) -> Sealer:
        salt = salt if salt is not None else os.urandom(SALT_BYTES)
        n = n or SCRYPT_N
        key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
        return cls(key=key, salt=salt, n=n, r=r, p=p)

    def header(self) -> dict:
        return {"kdf": KDF, "n": self.n, "r": self.r, "p": self.p, "salt": b64url_encode(self.salt),
                "cipher": CIPHER}

    def seal(self, plaintext: bytes, *, envelope: dict) -> dict:
        """``envelope`` holds the file's unencrypted fields (format, version); they, the KDF
        parameters and the nonce are authenticated along with the ciphertext."""
        nonce = os.urandom(NONCE_BYTES)
        encryption = {**self.header(), "nonce": b64url_encode(nonce)}
        sealed = {**envelope, "encryption": encryption}
        ciphertext = AESGCM(self.key).encrypt(nonce, plaintext, canonical_json(sealed))
        return {**sealed, "ciphertext": b64url_encode(ciphertext)}


def is_sealed(document: dict) -> bool:
    return "encryption" in document


def open_sealed(document: dict, passphrase: str) -> tuple[bytes, Sealer]:
    """Decrypt ``document``; return the plaintext and the sealer to save with again.
    Raise ``PassphraseWrong`` when the passphrase (or anything authenticated) does not match."""
    try:
        encryption = document["encryption"]
        if encryption.get("kdf") != KDF or encryption.get("cipher") != CIPHER:
            raise StateUnreadable("The state file uses an encryption this version does not know.")
        n, r, p = (int(encryption[name]) for name in ("n", "r", "p"))
        if not (2 <= n <= MAX_SCRYPT_N and n & (n - 1) == 0 and 1 <= r <= 32 and 1 <= p <= 16):
            raise StateUnreadable("The state file's encryption parameters are out of range.")
        salt = b64url_decode(encryption["salt"])
        nonce = b64url_decode(encryption["nonce"])
        ciphertext = b64url_decode(document["ciphertext"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise StateUnreadable("The state file's encryption header is damaged.") from None
    sealer = Sealer.from_passphrase(passphrase, salt=salt, n=n, r=r, p=p)
    associated = canonical_json({name: value for name, value in document.items() if name != "ciphertext"})
    try:
        plaintext = AESGCM(sealer.key).decrypt(nonce, ciphertext, associated)
    except (InvalidTag, ValueError):
        raise PassphraseWrong() from None
    return plaintext, sealer
