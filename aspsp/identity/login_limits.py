"""Rate limits on the customer's login and one-time-code posts (flask-limiter).

The limits are checked in a before_request hook, so a refused post never reaches the view
and no password hash is computed for it:
- per source address, LOGIN_RATE_LIMIT_PER_ADDRESS (default 10 a minute, 30 an hour), on
  every password and code post of both journeys (approval and dashboard): one address cannot
  guess quickly, nor fill the lockout tables;
- for all addresses together, LOGIN_RATE_LIMIT_GLOBAL (default 2 a second, 60 a minute), on
  the password posts: password checks are deliberately slow (argon2, ~0.3 s of CPU here), and
  a flood of them from many addresses would otherwise take the CPU from every other request
  of the web tier (bench/login_flood.py measures it). Code posts cost a TOTP check only.
A refused post is answered 429 with Retry-After, on a page in the bank's look (consent.web).
The counts live in Redis when REDIS_URL is set (shared by every worker process), in memory in
the embedded mode (one process). The lockout policy (aspsp.identity.services) still applies
to the posts that pass.
"""
from __future__ import annotations

import math
import time

from flask import Flask, current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address

KEY_PREFIX = "aspsp-login"

limiter = Limiter(key_func=get_remote_address, key_prefix=KEY_PREFIX, headers_enabled=False,
                  strategy="moving-window")


def _per_address() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_PER_ADDRESS"]


def _everyone() -> str:
    return current_app.config["LOGIN_RATE_LIMIT_GLOBAL"]


per_address = limiter.shared_limit(_per_address, scope="psu-login", methods=["POST"])
everyone = limiter.shared_limit(_everyone, scope="psu-login-all", methods=["POST"],
                                key_func=lambda: "everyone")


def password_post_limits(view):
    """Both limits on the POSTs of a view that checks passwords."""
    return per_address(everyone(view))


def code_post_limits(view):
    """The per-address limit on the POSTs of a view that checks one-time codes."""
    return per_address(view)


def retry_after_seconds() -> int:
    """Seconds until the limit this request broke lets a post through again."""
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.reset_at - time.time()))


def init_app(app: Flask) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    limiter.init_app(app)
