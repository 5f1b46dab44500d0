"""Rate limits on the customer's login and one-time-code posts (flask-limiter).

Every post of a password or a code (the approval journey's and the dashboard's) counts against
two shared limits, checked in a before_request hook, so a refused post never reaches the view
and no password hash is computed for it:
- per source address, LOGIN_RATE_LIMIT_PER_ADDRESS (default 10 a minute, 30 an hour): one
  address cannot guess quickly, nor fill the lockout tables;
- for all addresses together, LOGIN_RATE_LIMIT_GLOBAL (default 1 a second, 30 a minute):
  password checks are deliberately slow (argon2), and a flood of them from many addresses
  would otherwise take the CPU from every other request of the web tier.
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


def login_post_limits(view):
    """Both limits on a view's POSTs."""
    return per_address(everyone(view))


def retry_after_seconds() -> int:
    """Seconds until the limit this request broke lets a post through again."""
    breached = limiter.current_limit
    if breached is None:
        return 1
    return max(1, math.ceil(breached.reset_at - time.time()))


def init_app(app: Flask) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = app.config.get("REDIS_URL") or "memory://"
    limiter.init_app(app)
