"""Secrets at rest, across the platform: what `flask db upgrade` and `flask keys rewrap` do.

`prepare` runs after every migration to head: it re-seals whatever is not sealed under the
newest key-encryption key version (including values from before the KEK existed) and makes
the signing keys that must exist before anything signs (aspsp.oauth.keys.ensure_keys).

Sealed values the platform does not know about (the sandbox's transport CA key) are added by
whoever owns them with `register_sealed`; `flask keys rewrap` re-seals those too.
"""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable

from flask import Flask

from .db import UnitOfWork
from .identity import services as identity
from .keyring import Keyring
from .oauth import keys

EXTRA_SEALED = "secrets_at_rest.extra"   # app.extensions: [(what, rewrap(uow, keyring) -> int)]


def register_sealed(app: Flask, what: str, rewrap: Callable[[UnitOfWork, Keyring], int]) -> None:
    """Have `flask keys rewrap` re-seal these values too (`rewrap` returns how many changed)."""
    app.extensions.setdefault(EXTRA_SEALED, []).append((what, rewrap))


def rewrap_all(uow: UnitOfWork, keyring: Keyring, *, legacy_secret: str | None,
               extra: Iterable[tuple[str, Callable[[UnitOfWork, Keyring], int]]] = ()
               ) -> dict[str, int]:
    from developer_portal.accounts import rewrap_totp_secrets as rewrap_developer_totp
    counts = {"TOTP secrets": identity.rewrap_totp_secrets(uow, keyring),
              "signing keys": keys.rewrap(uow, keyring, legacy_secret=legacy_secret),
              "developer TOTP secrets": rewrap_developer_totp(uow, keyring)}
    for what, rewrap in extra:
        counts[what] = rewrap(uow, keyring)
    return counts


def prepare(uow: UnitOfWork, keyring: Keyring, *, now: datetime, legacy_secret: str | None,
            sandbox: bool) -> dict[str, int]:
    counts = rewrap_all(uow, keyring, legacy_secret=legacy_secret)
    owners = keys.OWNERS if sandbox else ("aspsp",)
    counts["new signing keys"] = sum(len(keys.ensure_keys(uow, owner, keyring=keyring, now=now))
                                     for owner in owners)
    return counts
