"""The running platform's shared services, built once per app by `create_app`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import current_app

from .clock import Clock
from .db import Database


@dataclass
class Platform:
    config: dict[str, Any]
    db: Database
    clock: Clock
    scheme: Any  # ledger.scheme.PaymentScheme
    replay: Any  # oauth.replay.ReplayCache
    keyring: Any  # keyring.Keyring: seals secrets at rest

    def uow(self):
        """A unit of work that carries the keyring, for the services that seal or open
        secrets at rest."""
        uow = self.db.uow()
        uow.keyring = self.keyring
        return uow


def current() -> Platform:
    return current_app.extensions["aspsp"]


def public_url(path: str | None = None) -> str:
    """The URL a request was sent to, as the world sees the bank: ISSUER plus the path. DPoP
    `htu` and JWT audiences are checked against this, never against the Host header."""
    from flask import request
    return current().config["ISSUER"].rstrip("/") + (request.path if path is None else path)
