"""Secrets at rest, across the platform: what `flask db upgrade` and `flask keys rewrap` do.

`prepare` runs after every migration to head: it re-seals whatever is not sealed under the
newest key-encryption key version (including values from before the KEK existed) and makes
the signing keys that must exist before anything signs (aspsp.oauth.keys.ensure_keys).
"""
from __future__ import annotations

from datetime import datetime

from .db import UnitOfWork
from .identity import services as identity
from .keyring import Keyring
from .oauth import keys


def rewrap_all(uow: UnitOfWork, keyring: Keyring, *, legacy_secret: str | None) -> dict[str, int]:
    return {"TOTP secrets": identity.rewrap_totp_secrets(uow, keyring),
            "signing keys": keys.rewrap(uow, keyring, legacy_secret=legacy_secret)}


def prepare(uow: UnitOfWork, keyring: Keyring, *, now: datetime, legacy_secret: str | None,
            sandbox: bool) -> dict[str, int]:
    counts = rewrap_all(uow, keyring, legacy_secret=legacy_secret)
    owners = keys.OWNERS if sandbox else ("aspsp",)
    counts["new signing keys"] = sum(len(keys.ensure_keys(uow, owner, keyring=keyring, now=now))
                                     for owner in owners)
    return counts
