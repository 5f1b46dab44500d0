"""Registered clients as authlib sees them, and the verification of JWTs they sign
(client assertions, request objects) with the keys they registered.

A client's keys are parsed once per process (`ClientKeyCache`): jwcrypto key objects with
their cryptography public keys built. An entry is used only while it is still the client's
truth: for keys registered inline, the entry's registration_version and JWKS must both equal
those of the row the request has just read (every change to a client bumps its version, see
aspsp.oauth.models), so an update, a key rotation or a deletion done by any process takes
effect on the very next request in every other; for a jwks_uri, the JWKS is resolved as before
(the directory's in-process answer, or the fetcher's cache and its refresh rules) and the
entry is used only while it was parsed from an equal JWKS. Nothing here outlives a change."""
from __future__ import annotations

import copy
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime

from authlib.oauth2.rfc6749 import ClientMixin
from flask import current_app
from jwcrypto import jwk, jws
from jwcrypto.common import JWException
from sqlalchemy import bindparam, select
from sqlalchemy.orm import defer

from .. import jsonsafe
from ..db import UnitOfWork
from .models import OAuthClient
from .trust import InvalidSignature, VerifiedJWS, strong_enough, verify_parsed

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


# Built once: SQLAlchemy then finds its compiled form by the statement's cache key, instead of
# building and keying a new statement for every token request (more CPU than the query).
# The software statement (kilobytes that no client check reads) loads only if asked for.
_CLIENT_BY_ID = select(OAuthClient).options(defer(OAuthClient.software_statement)).where(
    OAuthClient.client_id == bindparam("client_id"), OAuthClient.deleted_at.is_(None))


def find_client(uow: UnitOfWork, client_id: str | None) -> Client | None:
    if not client_id:
        return None
    row = uow.session.scalars(_CLIENT_BY_ID, {"client_id": client_id}).one_or_none()
    return Client(row) if row else None


# A TPP that rotates its keys signs with a kid the bank has not fetched yet: that kid, unknown
# in the cached JWKS, has its client's jwks_uri fetched again at once, but at most once per
# this many seconds per client in each process. Per process, not one flag for all: each
# process keeps its own copy of the keys, so each must refetch for itself, and a shared flag
# could be used up by any request naming the client (a client assertion is read before the
# client is authenticated), leaving the other processes on the old keys. A flood of made-up
# kids costs the TPP's server one fetch per process every few seconds.
JWKS_REFETCH_PER_CLIENT_SECONDS = 10
_refetched: OrderedDict[str, float] = OrderedDict()    # client_id -> time.monotonic()
_refetched_lock = threading.Lock()
_REFETCHED_KEPT = 10_000


def _may_refetch(client_id: str) -> bool:
    now = time.monotonic()
    with _refetched_lock:
        last = _refetched.get(client_id)
        if last is not None and now - last < JWKS_REFETCH_PER_CLIENT_SECONDS:
            return False
        _refetched[client_id] = now
        _refetched.move_to_end(client_id)
        while len(_refetched) > _REFETCHED_KEPT:
            _refetched.popitem(last=False)
        return True


def client_jwks(uow: UnitOfWork, client: Client, *, kid: str | None = None) -> dict:
    """The client's public keys: registered inline, or behind its JWKS URI (the sandbox
    directory's resolve in-process; others are fetched over HTTPS, cached, failures cached
    briefly). Keys that cannot be had are no keys: the JWT then fails to verify. `kid`, the
    key a JWS names: when the JWKS behind the URI has no such key, it is fetched again
    (JWKS_REFETCH_PER_CLIENT_SECONDS); a failed refetch leaves the keys as they were."""
    if isinstance(client.metadata.get("jwks"), dict):
        return client.metadata["jwks"]
    uri = client.metadata.get("jwks_uri")
    if not isinstance(uri, str) or not uri:
        return {"keys": []}
    from .. import platform
    from .trust import JwksUnavailable, software_jwks
    p = platform.current()
    try:
        jwks = software_jwks(uow, uri, config=p.config, now=p.clock.now())
    except JwksUnavailable:
        jwks = {"keys": []}
    if not isinstance(kid, str) or _names_kid(jwks, kid) \
            or not _may_refetch(client.get_client_id()):
        return jwks
    try:      # this client's one refetch of the moment: whatever the fetcher's own pace
        return software_jwks(uow, uri, config=p.config, now=p.clock.now(), refresh=True,
                             refetch_after=0)
    except JwksUnavailable:
        return jwks


def _names_kid(jwks: dict, kid: str) -> bool:
    keys = jwks.get("keys") if isinstance(jwks, dict) else None
    return any(isinstance(k, dict) and k.get("kid") == kid for k in keys or ())


# --- parsed keys, cached per process ----------------------------------------------------------

@dataclass(frozen=True)
class UsableKey:
    kid: str | None
    key: jwk.JWK
    strong: bool          # RSA >= 2048 or EC P-256 (trust.strong_enough)


@dataclass(frozen=True)
class ClientKeys:
    """A client's public signing keys, parsed, and what they were parsed from."""
    version: int | None   # the registration_version (None for keys behind a jwks_uri)
    source: dict          # a private copy of the JWKS
    keys: tuple[UsableKey, ...]

    @classmethod
    def parse(cls, jwks: dict, version: int | None) -> "ClientKeys":
        """The keys trust.signing_keys would take (use sig, public), each built once."""
        usable = []
        for data in jwks.get("keys", []) if isinstance(jwks, dict) else []:
            if not isinstance(data, dict) or data.get("use", "sig") != "sig":
                continue
            try:
                key = jwk.JWK(**data)
                if key.has_private:
                    continue
                strong = strong_enough(key)
                key.get_op_key("verify")      # built now, shared by every later verification
            except (JWException, ValueError, TypeError):
                continue
            usable.append(UsableKey(data.get("kid"), key, strong))
        return cls(version, copy.deepcopy(jwks), tuple(usable))

    def matching(self, kid: str | None) -> list[UsableKey]:
        return [k for k in self.keys if kid is None or k.kid == kid]


class ClientKeyCache:
    """Parsed keys per client (inline JWKS) or per jwks_uri, in this process, thread-safe,
    at most `max_entries` (least recently used dropped first). `get` returns the cached entry
    only when it was parsed from the same version and an equal JWKS: otherwise it parses the
    JWKS it is given and keeps that instead."""

    def __init__(self, max_entries: int = 4096):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, ClientKeys] = OrderedDict()
        self._lock = threading.Lock()
        self.parses = 0          # how many times keys were parsed (tests and benchmarks read it)

    def get(self, slot: tuple, jwks: dict, version: int | None) -> ClientKeys:
        with self._lock:
            entry = self._entries.get(slot)
            if entry is not None and entry.version == version and entry.source == jwks:
                self._entries.move_to_end(slot)
                return entry
        parsed = ClientKeys.parse(jwks, version)
        with self._lock:
            self.parses += 1
            self._entries[slot] = parsed
            self._entries.move_to_end(slot)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return parsed

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


KEY_CACHE = "oauth_client_keys"     # app.extensions key


def key_cache() -> ClientKeyCache:
    """The app's cache: one per app, so one per process (tests build two apps on one
    database and Redis to be two processes)."""
    return current_app.extensions.setdefault(KEY_CACHE, ClientKeyCache())


def client_keys(uow: UnitOfWork, client: Client, *, kid: str | None = None) -> ClientKeys:
    """The client's parsed public keys (client_jwks, through the app's cache; `kid` the key
    a JWS names, refetched behind a jwks_uri when unknown)."""
    jwks = client_jwks(uow, client, kid=kid)
    if isinstance(client.metadata.get("jwks"), dict):
        return key_cache().get(("client", client.id), jwks, client.row.registration_version)
    return key_cache().get(("jwks_uri", str(client.metadata.get("jwks_uri"))), jwks, None)


# --- compact JWS, parsed once -----------------------------------------------------------------

_HEADER_REGISTRY = jws.JWS().header_registry


class _JWS(jws.JWS):
    """jwcrypto's JWS, sharing one header registry instead of deep-copying the module's
    registry for every object (the copy cost more than a PS256 verification; the registry is
    only read while a signature is verified). tests/unit/oauth/test_client_keys.py checks
    that this sets up what jwcrypto's own constructor does."""

    def __init__(self):                       # noqa: the parent's copy is what is avoided
        self.objects = {"payload": None}
        self.verifylog = None
        self._allowed_algs = None
        self.header_registry = _HEADER_REGISTRY


@dataclass(frozen=True)
class CompactJWS:
    token: str
    parsed: jws.JWS
    header: dict

    def unverified_claims(self) -> dict:
        """The payload without checking the signature (only to find who claims to sign)."""
        try:
            claims = jsonsafe.loads(self.parsed.objects["payload"])
        except (KeyError, ValueError, TypeError):
            return {}
        return claims if isinstance(claims, dict) else {}


def parse_compact_jws(token: str) -> CompactJWS:
    """trust.parse_jws, once per token: the same checks and the same errors."""
    if not isinstance(token, str) or token.count(".") != 2:
        raise InvalidSignature("not a compact JWS")
    try:
        parsed = _JWS()
        parsed.deserialize(token)
        header = parsed.jose_header
    except (JWException, ValueError, TypeError, RecursionError) as exc:
        raise InvalidSignature(f"not a compact JWS ({type(exc).__name__})") from None
    if not isinstance(header, dict):
        raise InvalidSignature("the JWS header is not a JSON object")
    return CompactJWS(token, parsed, header)


def verify_client_jws(uow: UnitOfWork, client: Client, token: str | CompactJWS, *,
                      algorithms=JWS_ALGORITHMS) -> VerifiedJWS:
    """trust.verify_jws's checks and errors (trust.verify_parsed) with the client's registered
    keys, parsed once per process."""
    compact = token if isinstance(token, CompactJWS) else parse_compact_jws(token)
    return verify_parsed(compact.parsed, compact.header, lambda kid: [
        (c.key, c.strong) for c in client_keys(uow, client, kid=kid).matching(kid)],
        algorithms=algorithms)


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
