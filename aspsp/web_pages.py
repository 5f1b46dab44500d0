"""Protections shared by the HTML pages (the customer's pages, later the developer portal):
CSRF tokens, security headers, the session cookie, and the app-wide error pages.

CSRF uses Flask-WTF's CSRFProtect (a token tied to the session, with an expiry), but
only where a blueprint asks for it: WTF_CSRF_CHECK_DEFAULT is False, so the Open Banking and
OAuth APIs, which authenticate every call with tokens and never with cookies, are never
checked. `protect_pages(bp)` turns the check on for every POST of one blueprint.

WTF_CSRF_SSL_STRICT is off because the pages send `Referrer-Policy: no-referrer`: with it a
browser sends no Referer (and `Origin: null`) on form posts, so the strict HTTPS referrer
check would refuse every form. The token, together with SameSite=Lax session cookies, is what
stops cross-site posts.
"""
from __future__ import annotations

from flask import (Blueprint, Flask, Response, current_app, g, jsonify, render_template,
                   request)
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import HTTPException

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
    _install_error_pages(app)


def protect_pages(bp: Blueprint) -> None:
    """CSRF check on every state-changing request of `bp`, security headers on its answers,
    and a refused form answered with a page in plain words (a blueprint may register its
    own CSRFError handler after this call, in its own look)."""
    bp.before_request(_check_csrf)
    bp.after_request(_security_headers)
    bp.register_error_handler(CSRFError, _csrf_failed)


def allow_form_redirect_to(url_prefix: str) -> None:
    """Let this page's form redirect to `url_prefix` (CSP form-action also governs the
    redirects a form post answers with, e.g. back to a TPP's redirect URI)."""
    g.csp_form_action = [*getattr(g, "csp_form_action", []), url_prefix]


def _csrf_failed(error):
    return error_page("Please try again", "This form had expired or did not come from this "
                      "site, so nothing was done. Go back, reload the page and try again.", 400)


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


# --- error pages ------------------------------------------------------------------------------
# 404, 405 and 500 anywhere outside the JSON APIs are a page in the bank's look, in plain
# words. The Open Banking API answers in its own error format (aspsp.obapi renders it; this
# only covers what routing refuses before any OB blueprint runs), and the OAuth and other JSON
# endpoints in RFC 6749's ({"error", "error_description"}).
JSON_ENDPOINTS = ("/token", "/par", "/register", "/introspect", "/revoke", "/jwks",
                  "/userinfo", "/.well-known", "/health", "/sandbox/directory")
_PAGES = {
    404: ("We can't find that page",
          "The address may be mistyped, or the page may have moved."),
    405: ("We can't find that page",
          "This page can't be opened that way. Go back and try again."),
    500: ("Something went wrong on our side",
          "Nothing you did caused this. Please try again in a few minutes."),
}


def error_page(title: str, text: str, status: int, *, next_step: str | None = None,
               home: bool = False, developer: str | None = None,
               headers: dict[str, str] | None = None) -> Response:
    """A page in the bank's look: a title, a plain sentence or two, what to do next or a way
    home, and when given, a small line for the developers of the app that sent the customer
    here (an OAuth error code, never anything secret). Carries the pages' security headers."""
    html = render_template("psu/error.html", title=title, text=text, next_step=next_step,
                           home=home, developer=developer)
    response = Response(html, status=status, mimetype="text/html",
                        headers=headers or {})
    response = _security_headers(response)
    response.headers["Cache-Control"] = "no-store"      # also on a static file's path
    return response


def _install_error_pages(app: Flask) -> None:
    if app.extensions.get("error_pages"):
        return
    app.extensions["error_pages"] = True
    for code in (404, 405, 500):
        app.register_error_handler(code, _error_response)


def _error_response(error: HTTPException):
    status = error.code or 500
    if status >= 500:
        status = 500
    headers = {k: v for k, v in error.get_headers() if k == "Allow"} if status == 405 else {}
    path = request.path
    if path.startswith("/open-banking/") or path == "/open-banking":
        from . import obapi
        problem = obapi.not_found() if status == 404 else obapi.unexpected() \
            if status == 500 else obapi.method_not_allowed(
                getattr(error, "valid_methods", None) or ())
        return obapi.render(problem)
    if any(path == p or path.startswith(p + "/") for p in JSON_ENDPOINTS):
        allowed = [m.strip() for m in headers.get("Allow", "").split(",")
                   if m.strip() not in ("", "HEAD", "OPTIONS")]
        descriptions = {404: "no such endpoint", 500: "the server could not answer",
                        405: f"this endpoint accepts {' or '.join(sorted(allowed)) or 'no such request'}"}
        response = jsonify(error="server_error" if status == 500 else "invalid_request",
                           error_description=descriptions[status])
        response.status_code = status
        response.headers.update(headers)
        response.headers["Cache-Control"] = "no-store"
        return response
    title, text = _PAGES[status]
    return error_page(title, text, status, home=True, headers=headers)
