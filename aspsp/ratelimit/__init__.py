"""Rate limits per client and API family, with tiers and burst allowances (issue 14).

What is counted, in order:
1. Per source address, on the OAuth endpoints a client has not yet proved itself at (POST
   /token, /par, /introspect, /revoke, /register and any call to /register/<client_id>):
   RATELIMIT_OAUTH_PER_ADDRESS, checked before any assertion, certificate or software
   statement is verified, so that nobody can make the bank verify signatures at will.
2. Per client and family, once the client is known: the consent gate (consent.gate) after the
   access token has passed its checks (AIS, PIS, CoF, VRP, events: the family of the path,
   tiers.family_of), and the OAuth client authentication (aspsp.oauth.client_auth) once the
   assertion's signature or the certificate proves the client (family `oauth`). The client's
   tier (sandbox, standard, premium: RATELIMIT_TIER_*) and burst allowance are read from its
   own row in the same statement that finds it (`oauth_clients.rate_limit_tier` and
   `rate_limit_burst`, set by `flask ratelimit set`), so a tier change holds from the next
   request in every process; a client with no tier set has RATELIMIT_DEFAULT_TIER.
A refused call is answered 429 with Retry-After (seconds until the window lets one through):
on the Open Banking APIs with the OB error body (UK.InvisibleBank.Request.RateLimitExceeded;
OBIE names no code: "Throttling is a NFR", Read/Write profile), on the OAuth endpoints with an
RFC 6749 body (`temporarily_unavailable`). A refused call is not counted (moving windows).

The counts live in Redis when REDIS_URL is set (shared by every gunicorn worker and process),
in memory in the embedded mode (one process). Each app keeps its own storage in
app.extensions. If Redis cannot be reached the call is let through and a warning logged: the
limits protect the platform, they must not take it down with Redis.
No X-RateLimit-* headers: they would cost a second Redis round trip per call; the developer
portal shows each app its limits, and a refusal says when to retry.
"""
from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from authlib.oauth2.base import OAuth2Error
from flask import Flask, Response, current_app, g, jsonify, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from .tiers import (FAMILY_NAMES, MAX_BURST, OAUTH_CLIENT_PATHS, Family, FamilyLimits, Tier,
                    TierError, family_of, parse_tier, setting_name, with_burst)

log = logging.getLogger(__name__)

EXTENSION = "aspsp-rate-limits"
KEY_PREFIX = "aspsp-rl"
ERROR_CODE = "UK.InvisibleBank.Request.RateLimitExceeded"

__all__ = ["FAMILY_NAMES", "MAX_BURST", "ERROR_CODE", "Family", "FamilyLimits", "RateLimits",
           "Tier", "TierError", "check_api_client", "check_oauth_client", "current",
           "family_of", "init_app"]


@dataclass(frozen=True)
class Refusal:
    """The window a call broke, and the seconds until it lets one through."""
    family: str
    window: str
    retry_after: int


@dataclass
class RateLimits:
    """One app's tiers, the storage of its counts and the strategy that counts."""
    storage: Storage
    strategy: MovingWindowRateLimiter
    tiers: dict[Tier, dict[Family, tuple[RateLimitItem, ...]]]
    default_tier: Tier
    per_address: tuple[RateLimitItem, ...]

    def tier_of(self, stored: str | None) -> Tier:
        """A client's tier: what the operator set, else the deployment's default."""
        try:
            return Tier(stored) if stored else self.default_tier
        except ValueError:          # a tier this version does not know: the default
            return self.default_tier

    def client_limits(self, stored_tier: str | None,
                      burst: int | None) -> dict[Family, FamilyLimits]:
        tier = self.tier_of(stored_tier)
        return {family: with_burst(items, family, max(0, burst or 0))
                for family, items in self.tiers[tier].items()}

    def admit_client(self, client_id: str, family: Family, stored_tier: str | None,
                     burst: int | None) -> Refusal | None:
        limits = self.client_limits(stored_tier, burst)[family]
        return self._admit([w.item for w in limits.windows], family.value,
                           ("client", family.value, client_id))

    def admit_address(self, address: str) -> Refusal | None:
        return self._admit(self.per_address, "oauth", ("address", address))

    def _admit(self, items, family: str, key: tuple[str, ...]) -> Refusal | None:
        try:
            for item in items:
                if not self.strategy.hit(item, KEY_PREFIX, *key):
                    stats = self.strategy.get_window_stats(item, KEY_PREFIX, *key)
                    return Refusal(family, f"{item.amount} per {_per(item)}",
                                   max(1, math.ceil(stats.reset_time - time.time())))
        except Exception as error:      # Redis down: let the call through (docstring)
            log.warning("rate limit storage unavailable, call admitted",
                        extra={"fields": {"error": type(error).__name__}})
        return None


def _per(item: RateLimitItem) -> str:
    return item.GRANULARITY.name if item.multiples == 1 else \
        f"{item.multiples} {item.GRANULARITY.name}s"


def current() -> RateLimits:
    return current_app.extensions[EXTENSION]


# --- the checks the gate and the client authentication call -----------------------------------
def check_api_client(client_id: str, stored_tier: str | None, burst: int | None) -> None:
    """The consent gate, once the token has passed: count this call against its client's
    limit of the path's family; OBError 429 when it is over."""
    family = family_of(request.path)
    if family is None or family is Family.OAUTH:
        return
    refusal = current().admit_client(client_id, family, stored_tier, burst)
    if refusal is not None:
        from ..obapi import ErrorItem, OBError
        _log_refusal(client_id, refusal)
        raise OBError(429, ErrorItem(
            ERROR_CODE, f"more than {refusal.window} calls of the {refusal.family} APIs by this "
            f"client; retry after {refusal.retry_after} seconds"),
            message="Too many requests", headers={"Retry-After": str(refusal.retry_after)})


class TooManyRequests(OAuth2Error):
    """RFC 6749 has no error code for throttling: `temporarily_unavailable` is its nearest
    ("unable to handle the request due to a temporary overloading"), with status 429 and
    Retry-After (RFC 6585)."""
    error = "temporarily_unavailable"
    status_code = 429

    def __init__(self, refusal: Refusal, who: str):
        super().__init__(description=f"more than {refusal.window} calls of the OAuth endpoints "
                                     f"by this {who}; retry after {refusal.retry_after} seconds")
        self.retry_after = refusal.retry_after

    def get_headers(self):
        return [*super().get_headers(), ("Retry-After", str(self.retry_after)),
                ("Cache-Control", "no-store")]


def check_oauth_client(client_row) -> None:
    """The OAuth client authentication, once the client is proved: count this call against
    its `oauth` limit; TooManyRequests (an OAuth2Error, rendered by the endpoint) when over."""
    if family_of(request.path) is not Family.OAUTH:
        return
    refusal = current().admit_client(client_row.client_id, Family.OAUTH,
                                     client_row.rate_limit_tier, client_row.rate_limit_burst)
    if refusal is not None:
        _log_refusal(client_row.client_id, refusal)
        raise TooManyRequests(refusal, "client")


def _address_limited_path() -> bool:
    path = request.path
    if path.startswith("/register/"):
        return True
    return request.method == "POST" and (path in OAUTH_CLIENT_PATHS or path == "/register")


def _check_address() -> Response | None:
    if not _address_limited_path():
        return None
    address = request.remote_addr or "unknown"
    refusal = current().admit_address(address)
    if refusal is None:
        return None
    log.info("rate limit", extra={"fields": {"address": address, "family": "oauth",
                                             "window": refusal.window, "path": request.path}})
    error = TooManyRequests(refusal, "address")
    response = jsonify(dict(error.get_body()))
    response.status_code = 429
    for name, value in error.get_headers():
        response.headers[name] = value
    return response


def _log_refusal(client_id: str, refusal: Refusal) -> None:
    log.info("rate limit", extra={"fields": {
        "client_id": client_id, "family": refusal.family, "window": refusal.window,
        "retry_after": refusal.retry_after, "path": request.path,
        "interaction_id": g.get("interaction_id")}})


def build(config) -> RateLimits:
    """The app's limits from its settings; TierError when a setting cannot be read."""
    tiers = {tier: parse_tier(config[setting_name(tier)], tier) for tier in Tier}
    try:
        default = Tier(config["RATELIMIT_DEFAULT_TIER"])
    except ValueError:
        raise TierError(f"RATELIMIT_DEFAULT_TIER: {config['RATELIMIT_DEFAULT_TIER']!r} is not "
                        f"one of {', '.join(t.value for t in Tier)}") from None
    try:
        per_address = tuple(parse_many(config["RATELIMIT_OAUTH_PER_ADDRESS"]))
    except ValueError as exc:
        raise TierError(f"RATELIMIT_OAUTH_PER_ADDRESS: {exc}") from None
    redis_url = config.get("REDIS_URL")
    # A Redis that hangs must not hang the calls: a second at most, then the call is let through.
    storage = (storage_from_string(redis_url, socket_connect_timeout=1.0, socket_timeout=1.0)
               if redis_url else storage_from_string("memory://"))
    return RateLimits(storage=storage, strategy=MovingWindowRateLimiter(storage), tiers=tiers,
                      default_tier=default, per_address=per_address)


def init_app(app: Flask) -> None:
    app.extensions[EXTENSION] = build(app.config)
    app.before_request(_check_address)
    from . import cli
    cli.init_app(app)
