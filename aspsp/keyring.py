"""Secrets at rest: values sealed with the key-encryption key (KEK), never with SECRET_KEY.

What is sealed: customers' TOTP secrets (psu_users.totp_secret) and the private signing keys of
the bank and the sandbox directory (signing_keys.private_jwk). Nothing else is.

KEY_ENCRYPTION_KEY holds one or more versioned AES-256 keys, newest first:
``v2:BASE64KEY,v1:BASE64KEY``. The first one seals; every one opens. A version is 1 to 16
letters, digits, '-' or '_'; a key is 32 random bytes in base64 (standard or URL-safe).
Unset, the embedded platform (SANDBOX_ENABLED on) makes a random one once and keeps it in
instance/key_encryption_key; a production process (SANDBOX_ENABLED off) refuses to start.

A sealed value is ``sealed:VERSION:BASE64URL(nonce || AES-GCM ciphertext and tag)``. Its
associated data binds it to what it is for (``purpose``: table, column and the row's opaque
id) and to its version, so a value copied onto another row or relabelled does not open.

Rotation: put the new key first (``v2:NEW,v1:OLD``), restart, run ``flask keys rewrap`` (which
re-seals every value under the newest version; ``flask db upgrade`` runs it too), then drop the
old key. Values from before the KEK existed (plain-text TOTP secrets, signing keys sealed with
a key derived from SECRET_KEY) are converted by the same command; reading never accepts them,
or anyone able to write the table could plant a TOTP secret of their choosing.
"""
from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from pathlib import Path
from typing import Any, Mapping

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "sealed"
KEY_FILE = "key_encryption_key"
_VERSION = re.compile(r"^[A-Za-z0-9_-]{1,16}$")
_NONCE_BYTES = 12


class KeyringError(Exception):
    """KEY_ENCRYPTION_KEY is missing or malformed. The message never contains key material."""


class SealedValueError(Exception):
    """A value that does not open with the keyring (unknown version, wrong row, tampered,
    or not sealed at all)."""


class Keyring:
    def __init__(self, keys: list[tuple[str, bytes]]):
        if not keys:
            raise KeyringError("KEY_ENCRYPTION_KEY names no key")
        self._keys = {version: AESGCM(key) for version, key in keys}
        self.current_version = keys[0][0]

    @property
    def versions(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def seal(self, plaintext: str, purpose: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        version = self.current_version
        body = self._keys[version].encrypt(nonce, plaintext.encode(), _aad(version, purpose))
        return f"{PREFIX}:{version}:{base64.urlsafe_b64encode(nonce + body).decode()}"

    def open(self, sealed: str, purpose: str) -> str:
        version, raw = _parts(sealed)
        key = self._keys.get(version)
        if key is None:
            raise SealedValueError(f"sealed under KEK version {version!r}, which is not configured")
        try:
            return key.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:],
                               _aad(version, purpose)).decode()
        except InvalidTag:
            raise SealedValueError("the sealed value does not open for this purpose") from None

    def is_current(self, value: str) -> bool:
        """Sealed under the newest version (nothing for `rewrap` to do)."""
        return is_sealed(value) and value.split(":", 2)[1] == self.current_version


def is_sealed(value: str | None) -> bool:
    return bool(value) and value.startswith(PREFIX + ":") and value.count(":") >= 2


def parse(raw: str) -> Keyring:
    """`v2:BASE64,v1:BASE64` -> a Keyring sealing with v2."""
    keys: list[tuple[str, bytes]] = []
    for position, entry in enumerate(p.strip() for p in raw.split(",")):
        version, sep, encoded = entry.partition(":")
        if not sep or not _VERSION.match(version):
            raise KeyringError(f"KEY_ENCRYPTION_KEY entry {position + 1} must be VERSION:BASE64KEY "
                               "(VERSION: 1-16 letters, digits, '-' or '_')")
        if version in dict(keys):
            raise KeyringError(f"KEY_ENCRYPTION_KEY names version {version!r} twice")
        keys.append((version, _decode_key(encoded, version)))
    return Keyring(keys)


def new_key_setting(version: str = "v1") -> str:
    """A fresh KEY_ENCRYPTION_KEY value (what the error message tells an operator to make)."""
    return f"{version}:{base64.b64encode(secrets.token_bytes(32)).decode()}"


def from_config(config: Mapping[str, Any]) -> Keyring:
    """The platform's keyring: KEY_ENCRYPTION_KEY, else (embedded only) the instance file."""
    raw = config.get("KEY_ENCRYPTION_KEY")
    if raw:
        return parse(raw)
    if not config.get("SANDBOX_ENABLED"):
        raise KeyringError(
            "KEY_ENCRYPTION_KEY is required when SANDBOX_ENABLED is off: it encrypts customers' "
            "TOTP secrets and the bank's signing keys at rest and must not be SECRET_KEY. Set it "
            "to 'v1:' followed by 32 random bytes in base64, the same for every process, e.g. "
            "KEY_ENCRYPTION_KEY=$(python -c \"import aspsp.keyring as k; "
            "print(k.new_key_setting())\")")
    return parse(_instance_key(Path(config["INSTANCE_PATH"])))


def _instance_key(instance: Path) -> str:
    """Embedded mode: a random KEK made on first run and kept in the instance folder."""
    path = instance / KEY_FILE
    if not path.exists():
        instance.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(new_key_setting())
    return path.read_text().strip()


def _decode_key(encoded: str, version: str) -> bytes:
    text = encoded.strip()
    try:
        key = base64.b64decode(text + "=" * (-len(text) % 4),
                               altchars=b"-_" if ("-" in text or "_" in text) else None,
                               validate=True)
    except (binascii.Error, ValueError):
        raise KeyringError(f"KEY_ENCRYPTION_KEY version {version!r} is not base64") from None
    if len(key) != 32:
        raise KeyringError(f"KEY_ENCRYPTION_KEY version {version!r} must be 32 bytes "
                           f"(AES-256), not {len(key)}")
    return key


def _parts(sealed: str) -> tuple[str, bytes]:
    if not is_sealed(sealed):
        raise SealedValueError("the value is not sealed with the key-encryption key")
    _prefix, version, body = sealed.split(":", 2)
    try:
        raw = base64.urlsafe_b64decode(body.encode())
    except (binascii.Error, ValueError):
        raise SealedValueError("the sealed value is not base64url") from None
    if len(raw) <= _NONCE_BYTES + 16:
        raise SealedValueError("the sealed value is too short")
    return version, raw


def _aad(version: str, purpose: str) -> bytes:
    return f"aspsp-sealed|{version}|{purpose}".encode()
