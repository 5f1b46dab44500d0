"""`/conformance/audit-trail`: auditors export a period of the audit trail, beside the
regulator page (/conformance).

The trail holds personal data (customer ids, addresses), so the page is not public: it needs
a developer-portal login (password and second factor, developer_portal.auth) of an account an
operator made an auditor (`flask audit grant-auditor EMAIL`). Anyone else signed in gets 404
(the page does not say it exists); anyone not signed in goes to the portal's login first.
The form is CSRF-protected (aspsp.web_pages); each export is itself an audited event
(`admin.audit_exported`, the auditor as actor) written before the file is answered.

JSON lines carry every field and both hashes: `python -m aspsp.audit.chain FILE` verifies
them offline. CSV is for reading (facts as JSON text; a cell a spreadsheet would take for a
formula is prefixed with an apostrophe).
"""
from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime, time, timedelta, timezone

from flask import Blueprint, Flask, Response, abort, g, render_template, request

from developer_portal import auth

from .. import platform, web_pages
from . import chain, services

bp = Blueprint("audit_trail", __name__, url_prefix="/conformance")
web_pages.protect_pages(bp)

FORMATS = ("jsonl", "csv")
MAX_DAYS = 366
CSV_COLUMNS = (*chain.FIELDS, "prev_hash", "hash")


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _auditor_only() -> None:
    if not services.is_auditor(g.uow, g.developer.id):
        abort(404)


@bp.get("/audit-trail")
@auth.login_required
def export_form():
    _auditor_only()
    today = platform.current().clock.now().date()
    return _form(today - timedelta(days=6), today, "jsonl", None)


@bp.post("/audit-trail")
@auth.login_required
def export():
    _auditor_only()
    start, end, fmt, problem = _parse(request.form)
    if problem:
        return _form(start, end, fmt, problem, 400)
    begin = datetime.combine(start, time(), tzinfo=timezone.utc)
    finish = datetime.combine(end + timedelta(days=1), time(), tzinfo=timezone.utc)
    rows = list(services.export(g.uow, begin, finish))
    services.record(g.uow, "admin.audit_exported", services.Actor.developer(
        g.developer.developer_id), now=platform.current().clock.now(),
        facts={"from": begin.isoformat(), "to": finish.isoformat(), "records": len(rows),
               "format": fmt, "via": "regulator page"})
    g.uow.commit()
    name = f"audit-trail-{start.isoformat()}-to-{end.isoformat()}.{fmt}"
    body, mimetype = (_jsonl(rows), "application/jsonl") if fmt == "jsonl" \
        else (_csv(rows), "text/csv")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _form(start: date | None, end: date | None, fmt: str, problem: str | None,
          status: int = 200):
    return render_template("regulator/audit_trail.html", start=start, end=end, fmt=fmt,
                           formats=FORMATS, problem=problem, max_days=MAX_DAYS), status


def _parse(form) -> tuple[date | None, date | None, str, str | None]:
    fmt = form.get("format", "jsonl")
    try:
        start = date.fromisoformat(form.get("from", "")[:10])
        end = date.fromisoformat(form.get("to", "")[:10])
    except ValueError:
        return None, None, fmt if fmt in FORMATS else "jsonl", \
            "Give the first and the last day as dates (YYYY-MM-DD)."
    if fmt not in FORMATS:
        return start, end, "jsonl", "Choose JSON lines or CSV."
    if end < start:
        return start, end, fmt, "The last day is before the first."
    if (end - start).days >= MAX_DAYS:
        return start, end, fmt, f"Export at most {MAX_DAYS} days at a time."
    return start, end, fmt, None


def _jsonl(rows) -> str:
    return "".join(json.dumps(row, sort_keys=True, ensure_ascii=False) + "\n" for row in rows)


def _cell(value) -> str:
    text = "" if value is None else value if isinstance(value, str) else \
        chain.canonical(value) if isinstance(value, (dict, list)) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv(rows) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row[column]) for column in CSV_COLUMNS])
    return out.getvalue()
