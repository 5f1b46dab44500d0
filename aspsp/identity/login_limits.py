"""Rate limits on the customer's login and one-time-code posts (the `limits` library).

The limits are checked before the view's body runs, so a refused post computes no password
hash:
- per source address, LOGIN_RATE_LIMIT_PER_ADDRESS (default 10 a minute, 30 an hour), on
  every password and code post of both journeys (approval and dashboard): one address cannot
  guess quickly, nor fill the lockout tables;
- for all addresses together, LOGIN_RATE_LIMIT_GLOBAL (default 2 a second, 60 a minute), on
  the password posts: password checks are deliberately slow (argon2, ~0.3 s of CPU here), and
  a flood of them from many addresses would otherwise take the CPU from every other request
  of the web tier (bench/login_flood.py measures it). Code posts cost a TOTP check only.
The per-address limit is checked first, and only a post it lets through counts against the
overall one: an address flooding beyond its own limit uses up its own budget, never the
budget of every other customer.
A refused post is answered 429 with Retry-After, on a page in the bank's look (consent.web).
The counts live in Redis when REDIS_URL is set (shared by every worker process), in memory in
the embedded mode (one process). Each app has its own storage and limits (in
app.extensions), so two apps in one process never share or replace each other's. The lockout
policy (aspsp.identity.services) still applies to the posts that pass.
"""
from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

from flask import Flask, abort, current_app, g, request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

KEY_PREFIX = "aspsp-login"
EXTENSION = "aspsp-login-limits"


@dataclass
class LoginLimits:
    """One app's limits, their storage and the strategy that counts against them."""
    storage: Storage
    strategy: MovingWindowRateLimiter
    per_address: list[RateLimitItem]
    everyone: list[RateLimitItem]

    def admit(self, address: str, password: bool) -> tuple[RateLimitItem, tuple] | None:
        """Count one post from `address`; None when it may go on, else the limit it broke
        (and the identifiers it was counted under). The per-address limits first: a post they
        refuse is not counted against the overall limit."""
        checks = [(self.per_address, ("psu-login", address))]
        if password:
            checks.append((self.everyone, ("psu-login-all", "everyone")))
        for items, key in checks:
            for item in items:
                # A moving window does not count a post it refuses.
                if not self.strategy.hit(item, KEY_PREFIX, *key):
                    return item, key
        return None

    def retry_after(self, item: RateLimitItem, key: tuple) -> int:
        stats = self.strategy.get_window_stats(item, KEY_PREFIX, *key)
        return max(1, math.ceil(stats.reset_time - time.time()))


def _limits() -> LoginLimits:
    return current_app.extensions[EXTENSION]


def _limited(password: bool):
    def decorate(view):
        @functools.wraps(view)
        def limited_view(*args, **kwargs):
            if request.method == "POST":
                limits = _limits()
                broken = limits.admit(request.remote_addr or "unknown", password)
                if broken is not None:
                    g.login_retry_after = limits.retry_after(*broken)
                    abort(429)
            return view(*args, **kwargs)
        return limited_view
    return decorate


def password_post_limits(view):
    """Both limits on the POSTs of a view that checks passwords."""
    return _limited(password=True)(view)


def code_post_limits(view):
    """The per-address limit on the POSTs of a view that checks one-time codes."""
    return _limited(password=False)(view)


def retry_after_seconds() -> int:
    """Seconds until the limit this request broke lets a post through again."""
    return g.get("login_retry_after", 1)


def init_app(app: Flask) -> None:
    storage = storage_from_string(app.config.get("REDIS_URL") or "memory://")
    app.extensions[EXTENSION] = LoginLimits(
        storage=storage, strategy=MovingWindowRateLimiter(storage),
        per_address=parse_many(app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"]),
        everyone=parse_many(app.config["LOGIN_RATE_LIMIT_GLOBAL"]))
