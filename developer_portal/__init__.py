"""The developer portal: where TPP developers meet the bank (pages under /developers).

Server-rendered pages (Jinja, no JavaScript needed) in the customer pages' look, with their
protections (aspsp.web_pages: CSRF on every form, security headers, server-side sessions).
Each feature is its own module with its own blueprint, registered here, and may add itself to
the navigation with `add_nav`. The portal never imports the sandbox: the sandbox plugs in
through developer_portal.hooks.
"""
from __future__ import annotations

from flask import Flask, current_app

NAV = "developer_portal.nav"


def add_nav(app: Flask, label: str, endpoint: str) -> None:
    """A link in the portal's header, for signed-in developers."""
    app.extensions.setdefault(NAV, []).append((label, endpoint))


def _portal_nav():
    return list(current_app.extensions.get(NAV, []))


def init_app(app: Flask) -> None:
    from aspsp import web_pages

    from . import accounts, home
    web_pages.init_app(app)
    app.extensions.setdefault(NAV, [])
    app.jinja_env.globals["portal_nav"] = _portal_nav
    app.register_blueprint(home.bp)
    app.register_blueprint(accounts.bp)
    from . import webhooks
    app.register_blueprint(webhooks.bp)
    from . import apps, keys, organisations  # noqa: E402  (organisations, apps and their keys)
    organisations.init_app(app)
    apps.init_app(app)
    keys.init_app(app)
    from . import docs, quickstart  # the quickstart, the docs page and the Postman collection
    quickstart.init_app(app)
    docs.init_app(app)
    from . import request_log_views  # the request log and usage pages of an app
    request_log_views.init_app(app)
