"""Signing keys of the ASPSP and the sandbox directory: published before they sign, kept
published after they stop, private parts sealed at rest with the key-encryption key.

The rule: a key signs only once every JWKS a relying party may still hold in its cache has it,
i.e. at least JWKS_MAX_AGE_SECONDS (the Cache-Control max-age of /jwks) after it was first
published. So no key is ever made when something needs a signature:

- `ensure_keys` (run by `flask db upgrade`) makes every algorithm's key ahead. On a first
  install (the owner has no key at all) nothing can have fetched a JWKS yet, because the keys
  exist before any process serves one: they count as published since FIRST_INSTALL and sign
  at once, so `make run` works immediately. A key added later (a new algorithm on an existing
  deployment) signs from JWKS_MAX_AGE_SECONDS after it was made.
- `rotate` (`flask keys rotate`) publishes a new key now; it signs from `active_from`, after
  KEY_PUBLISH_LEAD_SECONDS and never sooner than JWKS_MAX_AGE_SECONDS; the old key of the same
  algorithm stops signing then and stays published until what it signed has expired.
- `signing_key` picks the newest key of the algorithm that is active and old enough, or
  raises NoSigningKey; it never makes one.
"""
from __future__ import annotations

import base64
import json
import math
from datetime import datetime, timedelta, timezone

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwcrypto import jwk
from sqlalchemy import or_, select

from ..db import UnitOfWork
from ..keyring import Keyring, SealedValueError, is_sealed
from .models import SigningKey

ALGORITHMS = ("PS256", "ES256")
OWNERS = ("aspsp", "directory")
# How long a relying party may cache /jwks (its Cache-Control max-age): the least time a key
# is published before it signs.
JWKS_MAX_AGE_SECONDS = 300
JWKS_MAX_AGE = timedelta(seconds=JWKS_MAX_AGE_SECONDS)
# Keys of a first install count as published since then: no JWKS without them was ever served.
FIRST_INSTALL = datetime(1970, 1, 1, tzinfo=timezone.utc)


class NoSigningKey(Exception):
    """No key of that owner and algorithm has been published long enough to sign.
    `retry_after`: seconds until the next such key may sign (JWKS_MAX_AGE_SECONDS when none
    is waiting: someone has to make one first)."""

    def __init__(self, message: str, retry_after: int = JWKS_MAX_AGE_SECONDS):
        super().__init__(message)
        self.retry_after = retry_after


def generate_jwk(alg: str) -> jwk.JWK:
    if alg == "PS256":
        return jwk.JWK.generate(kty="RSA", size=2048)
    if alg == "ES256":
        return jwk.JWK.generate(kty="EC", crv="P-256")
    raise ValueError(f"unsupported signing algorithm {alg}")


def public_jwk(key: jwk.JWK, kid: str, alg: str) -> dict:
    data = json.loads(key.export_public())
    data.update(kid=kid, alg=alg, use="sig")
    return data


def _purpose(kid: str) -> str:
    return f"signing_keys.private_jwk:{kid}"


def create_key(uow: UnitOfWork, owner: str, *, keyring: Keyring, now: datetime,
               alg: str = "PS256", active_from: datetime | None = None) -> SigningKey:
    """A new key, published from `now` (its created_at), signing from `active_from`."""
    key = generate_jwk(alg)
    kid = key.thumbprint()
    row = SigningKey(kid=kid, owner=owner, alg=alg,
                     private_jwk=keyring.seal(key.export_private(), _purpose(kid)),
                     public_jwk=public_jwk(key, kid, alg), created_at=now,
                     active_from=active_from or now + JWKS_MAX_AGE)
    uow.session.add(row)
    uow.session.flush()
    return row


def ensure_keys(uow: UnitOfWork, owner: str, *, keyring: Keyring,
                now: datetime) -> list[SigningKey]:
    """Make every algorithm's key that `owner` lacks (see the module docstring)."""
    rows = list(uow.session.scalars(select(SigningKey).where(SigningKey.owner == owner)))
    if not rows:
        return [create_key(uow, owner, keyring=keyring, now=FIRST_INSTALL, alg=alg,
                           active_from=FIRST_INSTALL) for alg in ALGORITHMS]
    live = {row.alg for row in rows if row.retired_at is None or row.retired_at > now}
    return [create_key(uow, owner, keyring=keyring, now=now, alg=alg,
                       active_from=now + JWKS_MAX_AGE)
            for alg in ALGORITHMS if alg not in live]


def rotate(uow: UnitOfWork, owner: str, *, keyring: Keyring, now: datetime, lead: timedelta,
           keep_published: timedelta, alg: str = "PS256") -> SigningKey:
    """Publish a new key now, make it sign from now + lead (at least the JWKS cache lifetime),
    retire the current signers of the same algorithm then."""
    starts = now + max(lead, JWKS_MAX_AGE)
    new = create_key(uow, owner, keyring=keyring, now=now, alg=alg, active_from=starts)
    for old in _signers(uow, owner, starts):
        if old.id != new.id and old.alg == alg:
            old.retired_at = starts
            old.publish_until = starts + keep_published
    uow.session.flush()
    return new


def _signers(uow: UnitOfWork, owner: str, at: datetime) -> list[SigningKey]:
    return list(uow.session.scalars(
        select(SigningKey).where(SigningKey.owner == owner, SigningKey.active_from <= at,
                                 SigningKey.created_at <= at - JWKS_MAX_AGE,
                                 or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > at))
        .order_by(SigningKey.active_from.desc(), SigningKey.id.desc())))


def signing_key(uow: UnitOfWork, owner: str, *, keyring: Keyring, now: datetime,
                alg: str = "PS256") -> tuple[str, jwk.JWK]:
    """The key that signs now: the newest active key of that algorithm published at least
    JWKS_MAX_AGE_SECONDS ago. Raises NoSigningKey when there is none; never makes one."""
    rows = [k for k in _signers(uow, owner, now) if k.alg == alg]
    if not rows:
        raise NoSigningKey(
            f"no {alg} key of {owner!r} has been published for {JWKS_MAX_AGE_SECONDS} s yet: "
            f"run `flask db upgrade` or `flask keys rotate --owner {owner} --alg {alg}`",
            retry_after=_seconds_until_a_signer(uow, owner, alg, now))
    row = rows[0]
    return row.kid, jwk.JWK.from_json(keyring.open(row.private_jwk, _purpose(row.kid)))


def _seconds_until_a_signer(uow: UnitOfWork, owner: str, alg: str, now: datetime) -> int:
    """When the first waiting key of that algorithm may sign, in whole seconds from `now`."""
    waiting = uow.session.scalars(
        select(SigningKey).where(SigningKey.owner == owner, SigningKey.alg == alg,
                                 SigningKey.retired_at.is_(None)))
    ready = [max(k.active_from, k.created_at + JWKS_MAX_AGE) for k in waiting]
    ready = [at for at in ready if at > now]
    if not ready:
        return JWKS_MAX_AGE_SECONDS
    return max(1, math.ceil((min(ready) - now).total_seconds()))


def published_jwks(uow: UnitOfWork, owner: str, *, now: datetime) -> dict:
    rows = uow.session.scalars(
        select(SigningKey).where(SigningKey.owner == owner,
                                 or_(SigningKey.publish_until.is_(None),
                                     SigningKey.publish_until > now))
        .order_by(SigningKey.id))
    return {"keys": [row.public_jwk for row in rows]}


def rewrap(uow: UnitOfWork, keyring: Keyring, *, legacy_secret: str | None) -> int:
    """Re-seal every private key under the keyring's newest version: keys sealed under an older
    KEK version, and keys from before the KEK (sealed with a key derived from SECRET_KEY,
    `legacy_secret`). Returns how many changed."""
    changed = 0
    for row in uow.session.scalars(select(SigningKey).order_by(SigningKey.id)):
        if keyring.is_current(row.private_jwk):
            continue
        private = keyring.open(row.private_jwk, _purpose(row.kid)) if is_sealed(row.private_jwk) \
            else _open_legacy(legacy_secret, row.private_jwk)
        row.private_jwk = keyring.seal(private, _purpose(row.kid))
        changed += 1
    uow.session.flush()
    return changed


def _open_legacy(secret: str | None, sealed: str) -> str:
    """Keys written before the KEK existed: AES-GCM under HKDF(SECRET_KEY), no associated data."""
    if not secret:
        raise SealedValueError("a signing key predates KEY_ENCRYPTION_KEY and SECRET_KEY is unset")
    key = HKDF(algorithm=SHA256(), length=32, salt=b"aspsp-signing-keys",
               info=b"key-encryption").derive(secret.encode())
    raw = base64.b64decode(sealed)
    try:
        return AESGCM(key).decrypt(raw[:12], raw[12:], None).decode()
    except InvalidTag:
        raise SealedValueError("a signing key predates KEY_ENCRYPTION_KEY and does not open "
                               "with SECRET_KEY") from None
