"""Registered clients as authlib sees them, and the verification of JWTs they sign
(client assertions, request objects) with the keys they registered."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from authlib.oauth2.rfc6749 import ClientMixin
from sqlalchemy import select

from ..db import UnitOfWork
from .models import OAuthClient

JWS_ALGORITHMS = ("PS256", "ES256")
SCOPES_BY_ROLE = {"AISP": {"accounts"}, "PISP": {"payments"}, "CBPII": {"fundsconfirmations"}}


@dataclass
class Client(ClientMixin):
    """An OAuthClient row with the checks authlib asks of a client."""
    row: OAuthClient

    @property
    def metadata(self) -> dict:
        return self.row.client_metadata

    @property
    def id(self) -> int:
        return self.row.id

    @property
    def is_fapi2(self) -> bool:
        return self.row.profile == "fapi2"

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> str | None:
        return None  # FAPI: the redirect URI is always named and matched exactly

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return redirect_uri in self.metadata.get("redirect_uris", [])

    def check_response_type(self, response_type: str) -> bool:
        return response_type in self.metadata.get("response_types", [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in self.metadata.get("grant_types", [])

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return method == self.metadata.get("token_endpoint_auth_method")

    def check_client_secret(self, client_secret: str) -> bool:
        return False  # no shared secrets for FAPI clients

    def allowed_scopes(self) -> set[str]:
        registered = set(str(self.metadata.get("scope", "")).split())
        by_role = {"openid"}.union(*(SCOPES_BY_ROLE.get(r, set()) for r in self.row.roles))
        return registered & by_role if registered else by_role

    def get_allowed_scope(self, scope: str | None) -> str:
        if not scope:
            return ""
        allowed = self.allowed_scopes()
        return " ".join(s for s in scope.split() if s in allowed)


def find_client(uow: UnitOfWork, client_id: str | None) -> Client | None:
    if not client_id:
        return None
    row = uow.session.scalars(select(OAuthClient).where(
        OAuthClient.client_id == client_id, OAuthClient.deleted_at.is_(None))).one_or_none()
    return Client(row) if row else None


def client_jwks(uow: UnitOfWork, client: Client) -> dict:
    """The client's public keys: registered inline, or behind its JWKS URI (the sandbox
    directory's resolve in-process; others are fetched over HTTPS, cached, failures cached
    briefly). Keys that cannot be had are no keys: the JWT then fails to verify."""
    if isinstance(client.metadata.get("jwks"), dict):
        return client.metadata["jwks"]
    uri = client.metadata.get("jwks_uri")
    if not isinstance(uri, str) or not uri:
        return {"keys": []}
    from .. import platform
    from .trust import JwksUnavailable, software_jwks
    p = platform.current()
    try:
        return software_jwks(uow, uri, config=p.config, now=p.clock.now())
    except JwksUnavailable:
        return {"keys": []}


def is_number(value) -> bool:
    """A JSON number that is a real instant: not a bool, not NaN, not infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def check_time_claims(claims: dict, now: datetime, *, require_nbf: bool = False,
                      max_lifetime: int | None = None, max_future: int = 10) -> str | None:
    """None if exp/iat/nbf are acceptable, else the reason. With `max_lifetime`, the JWT may
    live at most that long from its nbf (or iat, or now when it names neither)."""
    ts = now.timestamp()
    exp = claims.get("exp")
    if not is_number(exp):
        return "exp is missing or not a number"
    if exp <= ts:
        return "the JWT has expired"
    for name in ("iat", "nbf"):
        value = claims.get(name)
        if value is not None and not is_number(value):
            return f"{name} is not a number"
        if value is not None and value > ts + max_future:
            return f"{name} is in the future"
    if require_nbf and claims.get("nbf") is None:
        return "nbf is missing"
    if max_lifetime is not None:
        start = claims.get("nbf", claims.get("iat", ts))
        if exp - start > max_lifetime:
            return f"the JWT lives longer than {max_lifetime // 60} minutes"
    return None


def audience_ok(aud, accepted: set[str]) -> bool:
    values = aud if isinstance(aud, list) else [aud]
    return any(isinstance(v, str) and v in accepted for v in values)
