"""Known devices: the browser a customer normally signs in with.

A browser that completes a login (password, then one-time code) for a customer is given a
signed, long-lived cookie naming that customer's username (itsdangerous with SECRET_KEY, its
own salt, 90 days; HttpOnly, SameSite=Lax, and Secure with the __Host- prefix on https). A
password or code post that carries a valid one for the username being tried is not refused by
the overall per-username lock (aspsp.identity.services: MAX_FAILURES_PER_USERNAME failures
from all addresses together): guessing spread over many addresses can lock a name for every
other browser, but never keeps the customer out of the browser they normally use (OWASP's
"device cookies"). Everything else still applies to such a post: the per-address locks, the
login rate limits, and every failure is counted as before.

The cookie holds no secret of the customer's and grants nothing by itself: it only keeps one
lock out of the way of a password and a code that must still be right.
"""
from __future__ import annotations

from datetime import timedelta

from flask import Flask, Response, current_app, request
from itsdangerous import BadData, URLSafeTimedSerializer

COOKIE_NAME = "ib_device"
SECURE_COOKIE_NAME = "__Host-ib_device"
MAX_AGE = timedelta(days=90)
SALT = "aspsp-known-device"


def _serializer(app: Flask) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT)


def _https(app: Flask) -> bool:
    return str(app.config.get("ISSUER", "")).startswith("https://")


def cookie_name(app: Flask) -> str:
    return SECURE_COOKIE_NAME if _https(app) else COOKIE_NAME


def known_username() -> str | None:
    """The username this request's browser completed a login for, if its cookie is valid."""
    app = current_app
    value = request.cookies.get(cookie_name(app))
    if not value or len(value) > 512:
        return None
    try:
        data = _serializer(app).loads(value, max_age=int(MAX_AGE.total_seconds()))
    except BadData:
        return None
    username = data.get("u") if isinstance(data, dict) else None
    return username if isinstance(username, str) else None


def is_known(username: str) -> bool:
    """Whether this request comes from a browser that completed a login for `username`."""
    known = known_username()
    return known is not None and known == (username or "").strip()[:64]


def remember(response: Response, username: str) -> Response:
    """After a complete login: this browser is one the customer signs in with."""
    app = current_app
    response.set_cookie(cookie_name(app), _serializer(app).dumps({"u": username}), path="/",
                        max_age=int(MAX_AGE.total_seconds()), secure=_https(app),
                        httponly=True, samesite="Lax")
    return response
