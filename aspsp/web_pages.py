"""Protections shared by the HTML pages (the customer's pages, later the developer portal):
CSRF tokens, security headers and the session cookie.

CSRF uses Flask-WTF's CSRFProtect (a token tied to the signed session, with an expiry), but
only where a blueprint asks for it: WTF_CSRF_CHECK_DEFAULT is False, so the Open Banking and
OAuth APIs, which authenticate every call with tokens and never with cookies, are never
checked. `protect_pages(bp)` turns the check on for every POST of one blueprint.

WTF_CSRF_SSL_STRICT is off because the pages send `Referrer-Policy: no-referrer`: with it a
browser sends no Referer (and `Origin: null`) on form posts, so the strict HTTPS referrer
check would refuse every form. The token, together with SameSite=Lax session cookies, is what
stops cross-site posts.
"""
from __future__ import annotations

from flask import Blueprint, Flask, current_app, g, request
from flask_wtf.csrf import CSRFProtect

from .identity import sessions

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; "
       "form-action 'self'{extra}; frame-ancestors 'none'; base-uri 'none'")


def init_app(app: Flask) -> None:
    """Idempotent: every context with pages may call it."""
    app.config["WTF_CSRF_CHECK_DEFAULT"] = False
    app.config["WTF_CSRF_SSL_STRICT"] = False
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    if not app.config.get("SESSION_COOKIE_SAMESITE"):
        app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    if str(app.config.get("ISSUER", "")).startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
    if not isinstance(app.session_interface, sessions.DatabaseSessionInterface):
        sessions.init_app(app)           # server-side sessions: the cookie is a random id
    if "csrf" not in app.extensions:
        CSRFProtect(app)


def protect_pages(bp: Blueprint) -> None:
    """CSRF check on every state-changing request of `bp`, security headers on its answers."""
    bp.before_request(_check_csrf)
    bp.after_request(_security_headers)


def allow_form_redirect_to(url_prefix: str) -> None:
    """Let this page's form redirect to `url_prefix` (CSP form-action also governs the
    redirects a form post answers with, e.g. back to a TPP's redirect URI)."""
    g.csp_form_action = [*getattr(g, "csp_form_action", []), url_prefix]


def _check_csrf():
    current_app.extensions["csrf"].protect()


def _security_headers(response):
    extra = "".join(f" {source}" for source in getattr(g, "csp_form_action", [])
                    if source and not any(c in source for c in " ;,'\"\r\n"))
    response.headers["Content-Security-Policy"] = CSP.format(extra=extra)
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not (request.endpoint or "").endswith(".static"):
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    return response
