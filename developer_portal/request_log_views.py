"""An app's request log and usage pages:

- /developers/apps/<app_id>/requests: the app's client's API calls, newest first, 50 a page,
  filtered by status class and a path substring (a GET form);
- /developers/apps/<app_id>/requests/<call_id>: one call, its masked bodies;
- /developers/apps/<app_id>/usage: the last 14 days' calls, error rate and latency percentiles
  as server-rendered SVG charts, and the same numbers as a table.

Any member of the app's organisation may read them; anyone else gets 404
(developer_portal.auth.member_app). An app without a client id yet (not registered with the
bank) shows what to do first. Before a page reads, this process's buffered calls are written
(aspsp.request_log.flush), so the call a developer has just made is there.
"""
from __future__ import annotations

from flask import Blueprint, Flask, abort, g, render_template, request, url_for
from werkzeug.routing import BuildError

from aspsp import platform, request_log, web_pages

from . import auth
from . import request_log as calls_log
from .request_log_charts import charts

bp = Blueprint("portal_request_log", __name__, url_prefix="/developers/apps",
               template_folder="templates")
web_pages.protect_pages(bp)


@bp.before_request
def _write_buffered_calls():
    """Before the page opens its unit of work (SQLite: one writer at a time)."""
    request_log.flush()


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


@bp.get("/<app_id>/requests")
@auth.login_required
def requests(app_id: str):
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    filters, problems = calls_log.CallFilter.parse(request.args.get("status"),
                                                   request.args.get("path"))
    page, page_problem = _page(request.args.get("page"))
    result = calls_log.calls(g.uow, app.client_id, filters, page) if app.client_id else None
    return _render("portal/requests.html", app, filters=filters, result=result,
                   problems=problems + ([page_problem] if page_problem else []),
                   status_classes=calls_log.STATUS_CLASSES,
                   retention=platform.current().config["REQUEST_LOG_RETENTION_DAYS"],
                   enabled=request_log.current() is not None)


@bp.get("/<app_id>/requests/<call_id>")
@auth.login_required
def call(app_id: str, call_id: str):
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    found = calls_log.call(g.uow, app.client_id, call_id) if app.client_id else None
    if found is None:
        abort(404)
    return _render("portal/requests_call.html", app, call=found)


@bp.get("/<app_id>/usage")
@auth.login_required
def usage(app_id: str):
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    if not app.client_id:
        return _render("portal/usage.html", app, usage=None, charts=[])
    found = calls_log.usage(g.uow, app.client_id, today=platform.current().clock.now().date())
    return _render("portal/usage.html", app, usage=found, charts=charts(found))


def _render(template: str, app, **context):
    return render_template(template, app=app, app_page=_app_page(app), **context)


def _app_page(app) -> str | None:
    """The app's own page (developer_portal.apps), when the portal has it."""
    try:
        return url_for("portal_apps.show", app_id=app.app_id)
    except BuildError:
        return None


def _page(raw: str | None) -> tuple[int, str | None]:
    if raw in (None, ""):
        return 1, None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6) \
            or not 1 <= int(raw) <= calls_log.MAX_PAGE:
        return 1, f"Page must be a number from 1 to {calls_log.MAX_PAGE}."
    return int(raw), None
