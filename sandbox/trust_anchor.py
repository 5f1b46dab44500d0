"""The sandbox directory as a trust anchor of the authorization server.

`sandbox.init_app` registers it under the name `sandbox` (aspsp.oauth.trust.register_anchor), so
TRUST_ANCHORS=sandbox trusts it; its keys and the JWKS URIs it publishes are read in-process
from the key store and the directory's tables, never over HTTP to ourselves.
"""
from __future__ import annotations

from datetime import datetime
from typing import Mapping

from aspsp.db import UnitOfWork

from . import directory

NAME = "sandbox"


class SandboxDirectoryAnchor:
    """The built-in sandbox directory: keys from the key store (owner 'directory')."""
    name = NAME

    def __init__(self, issuer: str):
        self.issuer = issuer.rstrip("/")

    def jwks(self, uow: UnitOfWork, *, now: datetime, refresh: bool = False) -> dict:
        return directory.directory_jwks(uow, now=now)

    def resolve_jwks_uri(self, uow: UnitOfWork, uri: str, *, now: datetime) -> dict | None:
        return directory.jwks_for_uri(uow, uri, issuer=self.issuer, now=now)


def anchor_for(config: Mapping) -> SandboxDirectoryAnchor | None:
    """The anchor for a configuration: none unless SANDBOX_ENABLED is on."""
    return SandboxDirectoryAnchor(config["ISSUER"]) if config.get("SANDBOX_ENABLED") else None
