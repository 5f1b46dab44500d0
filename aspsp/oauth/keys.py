"""Signing keys of the ASPSP and the sandbox directory, kept encrypted at rest.

Rotation (`flask keys rotate`): the new key is published at once but signs only from
`active_from` (after KEY_PUBLISH_LEAD_SECONDS, so relying parties can fetch it first); the
old key stops signing then and stays published until what it signed has expired.
"""
from __future__ import annotations

import base64
import json
import os
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from jwcrypto import jwk
from sqlalchemy import or_, select

from ..db import UnitOfWork
from .models import SigningKey

ALGORITHMS = ("PS256", "ES256")


def _kek(secret: str) -> AESGCM:
    key = HKDF(algorithm=SHA256(), length=32, salt=b"aspsp-signing-keys",
               info=b"key-encryption").derive(secret.encode())
    return AESGCM(key)


def _seal(secret: str, plaintext: str) -> str:
    nonce = os.urandom(12)
    sealed = _kek(secret).encrypt(nonce, plaintext.encode(), None)
    return base64.b64encode(nonce + sealed).decode()


def _open(secret: str, sealed: str) -> str:
    raw = base64.b64decode(sealed)
    return _kek(secret).decrypt(raw[:12], raw[12:], None).decode()


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


def create_key(uow: UnitOfWork, owner: str, *, secret: str, now: datetime, alg: str = "PS256",
               active_from: datetime | None = None) -> SigningKey:
    key = generate_jwk(alg)
    kid = key.thumbprint()
    row = SigningKey(kid=kid, owner=owner, alg=alg, private_jwk=_seal(secret, key.export_private()),
                     public_jwk=public_jwk(key, kid, alg), created_at=now,
                     active_from=active_from or now)
    uow.session.add(row)
    uow.session.flush()
    return row


def rotate(uow: UnitOfWork, owner: str, *, secret: str, now: datetime, lead: timedelta,
           keep_published: timedelta, alg: str = "PS256") -> SigningKey:
    """Publish a new key now, make it sign from now + lead, retire the current signers then."""
    new = create_key(uow, owner, secret=secret, now=now, alg=alg, active_from=now + lead)
    for old in _signers(uow, owner, now + lead):
        if old.id != new.id:
            old.retired_at = now + lead
            old.publish_until = now + lead + keep_published
    uow.session.flush()
    return new


def _signers(uow: UnitOfWork, owner: str, at: datetime) -> list[SigningKey]:
    return list(uow.session.scalars(
        select(SigningKey).where(SigningKey.owner == owner, SigningKey.active_from <= at,
                                 or_(SigningKey.retired_at.is_(None), SigningKey.retired_at > at))
        .order_by(SigningKey.active_from.desc(), SigningKey.id.desc())))


def signing_key(uow: UnitOfWork, owner: str, *, secret: str, now: datetime,
                alg: str = "PS256") -> tuple[str, jwk.JWK]:
    """The key that signs now: the newest active one of that algorithm (made on first use)."""
    rows = [k for k in _signers(uow, owner, now) if k.alg == alg]
    row = rows[0] if rows else create_key(uow, owner, secret=secret, now=now, alg=alg)
    key = jwk.JWK.from_json(_open(secret, row.private_jwk))
    return row.kid, key


def published_jwks(uow: UnitOfWork, owner: str, *, now: datetime) -> dict:
    rows = uow.session.scalars(
        select(SigningKey).where(SigningKey.owner == owner,
                                 or_(SigningKey.publish_until.is_(None),
                                     SigningKey.publish_until > now))
        .order_by(SigningKey.id))
    return {"keys": [row.public_jwk for row in rows]}
