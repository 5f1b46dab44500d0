"""`/conformance`: the regulator page. The latest conformance report of this deployment and the
runs before it, for regulators and auditors (issue 13).

The reports are the ones `python -m specs.conformance` writes (report.html, junit.xml,
report.json); `flask conformance run` (aspsp/conformance_cli.py) runs the suite against this
deployment's ISSUER and keeps each run in a directory of its own under
CONFORMANCE_REPORT_DIR, named after the time it started (20261207T041502Z), with `run.json`
beside the reports (the command's exit code, the commit, the error output of a run that
wrote no report). The last CONFORMANCE_REPORT_HISTORY runs are kept.

Everything read from a report is data: the page's template escapes it, a report that cannot
be read is shown as such (never a 500), and the files are served read-only with the pages'
security headers. The HTML report is served under a CSP that runs no script at all and
sandboxes the document (a unique origin), whatever the bank under test sent back into it.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flask import (Blueprint, Flask, Response, abort, current_app, render_template,
                   send_file, url_for)

from . import web_pages

bp = Blueprint("regulator", __name__)

RUN_ID = re.compile(r"^\d{8}T\d{6}Z(-\d{1,3})?$")
RUN_FILE = "run.json"
# What a visitor may fetch from a run's directory, and as what.
FILES = {"report.html": "text/html; charset=utf-8",
         "report.json": "application/json",
         "junit.xml": "application/xml"}
# The report is one self-contained page: inline <style> and style attributes, nothing else.
REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
              "form-action 'none'; frame-ancestors 'none'; base-uri 'none'; sandbox")
FILE_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; sandbox"
MAX_REPORT_BYTES = 64 * 1024 * 1024
STATUSES = ("pass", "fail", "skip")


def report_root(config) -> Path:
    """Where the runs live: CONFORMANCE_REPORT_DIR, else conformance-reports/ in the instance."""
    configured = config.get("CONFORMANCE_REPORT_DIR")
    return Path(configured or Path(config["INSTANCE_PATH"]) / "conformance-reports")


def run_ids(root: Path) -> list[str]:
    """The finished runs, newest first (a run's id is the UTC time it started)."""
    try:
        names = [p.name for p in root.iterdir() if p.is_dir() and RUN_ID.match(p.name)]
    except OSError:
        return []
    return sorted(names, key=_run_sort_key, reverse=True)


def _run_sort_key(run_id: str) -> tuple[str, int]:
    stamp, _, n = run_id.partition("-")
    return stamp, int(n or 1)


# --- reading a run ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Failure:
    plan: str
    id: str
    title: str
    clause: str
    message: str


@dataclass
class Run:
    id: str
    readable: bool = False
    problem: str = ""            # why there is no readable report, in plain words
    issuer: str = ""
    started: str = ""
    finished: str = ""
    plans: list[str] = field(default_factory=list)
    only: str = ""
    version: str = ""
    commit: str = ""
    exit_code: int | None = None
    error: str = ""              # the suite's last words when it wrote no report
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(STATUSES, 0))
    per_plan: list[tuple[str, dict[str, int]]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def verdict(self) -> str:
        if not self.readable:
            return "no report"
        if self.counts["fail"]:
            return "failed"
        return "passed" if self.total else "no checks ran"


def _text(value: Any, limit: int = 2000) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value) \
        if isinstance(value, (dict, list)) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _read_json(path: Path) -> Any:
    if path.stat().st_size > MAX_REPORT_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_REPORT_BYTES // 2**20} MB")
    return json.loads(path.read_text(encoding="utf-8"))


# Parsing a large report.json takes a while; a run never changes once written, so its summary
# is kept per file version (path, size, modification time).
_CACHE: dict[tuple, Run] = {}
_CACHE_MAX = 64


def load_run(root: Path, run_id: str) -> Run:
    directory = root / run_id
    key = (str(directory),) + tuple(_stamp(directory / name) for name in (RUN_FILE, "report.json"))
    cached = _CACHE.get(key)
    if cached is not None:
        return cached
    run = _load_run(directory, run_id)
    if len(_CACHE) >= _CACHE_MAX:
        _CACHE.clear()
    _CACHE[key] = run
    return run


def _stamp(path: Path) -> tuple:
    try:
        st = path.stat()
        return st.st_size, st.st_mtime_ns
    except OSError:
        return ()


def _load_run(directory: Path, run_id: str) -> Run:
    run = Run(id=run_id, files=[name for name in FILES if (directory / name).is_file()])
    try:
        info = _read_json(directory / RUN_FILE)
        if isinstance(info, dict):
            run.commit = _text(info.get("commit"), 64)
            code = info.get("exit_code")
            run.exit_code = code if isinstance(code, int) and not isinstance(code, bool) else None
            run.error = _text(info.get("error"), 4000)
            run.issuer = _text(info.get("issuer"), 500)
            run.started = _text(info.get("started"), 64)
            run.finished = _text(info.get("finished"), 64)
            if isinstance(info.get("plans"), list):
                run.plans = [_text(p, 64) for p in info["plans"]]
    except (OSError, ValueError):
        pass                     # the reports alone are enough (a run of `make conformance`)
    try:
        report = _read_json(directory / "report.json")
    except FileNotFoundError:
        run.problem = "This run wrote no report."
        return run
    except (OSError, ValueError):
        run.problem = "This run's report.json cannot be read (it is not valid JSON)."
        return run
    if not isinstance(report, dict) or not isinstance(report.get("results"), list):
        run.problem = "This run's report.json does not hold a list of results."
        return run
    meta = report.get("meta") if isinstance(report.get("meta"), dict) else {}
    run.issuer = _text(meta.get("issuer"), 500) or run.issuer
    run.started = _text(meta.get("started"), 64) or run.started
    run.finished = _text(meta.get("finished"), 64) or run.finished
    run.version = _text(meta.get("version"), 64)
    run.only = _text(meta.get("only"), 500)
    if isinstance(meta.get("plans"), list):
        run.plans = [_text(p, 64) for p in meta["plans"]]
    per_plan: dict[str, dict[str, int]] = {}
    for result in report["results"]:
        if not isinstance(result, dict) or result.get("status") not in STATUSES:
            run.problem = "This run's report.json holds a result that is not a check's."
            return run
        plan = _text(result.get("plan"), 64)
        status = result["status"]
        run.counts[status] += 1
        per_plan.setdefault(plan, dict.fromkeys(STATUSES, 0))[status] += 1
        if status == "fail":
            run.failures.append(Failure(
                plan=plan, id=_text(result.get("id"), 200), title=_text(result.get("title"), 500),
                clause=_text(result.get("clause"), 500),
                message=_text(result.get("message"), 2000)))
    run.per_plan = list(per_plan.items())
    run.readable = True
    return run


def new_failures(run: Run, previous: Run | None) -> set[tuple[str, str]]:
    """The checks that failed in `run` but not in the run before (when that one is readable:
    otherwise nothing can be called new). Runs are cached and shared: never mutated here."""
    if previous is None or not previous.readable:
        return set()
    before = {(f.plan, f.id) for f in previous.failures}
    return {(f.plan, f.id) for f in run.failures} - before


# --- the pages --------------------------------------------------------------------------------

def _history() -> tuple[Path, list[str]]:
    root = report_root(current_app.config)
    return root, run_ids(root)


@bp.get("/conformance")
def latest():
    root, ids = _history()
    return _page(root, ids, ids[0] if ids else None)


@bp.get("/conformance/runs/<run_id>/")
def run_page(run_id: str):
    root, ids = _history()
    if run_id not in ids:
        abort(404)
    return _page(root, ids, run_id)


def _page(root: Path, ids: list[str], shown: str | None):
    history = [load_run(root, run_id) for run_id in ids]
    run, new = None, set()
    if shown is not None:
        index = ids.index(shown)
        run = history[index]
        new = new_failures(run, history[index + 1] if index + 1 < len(history) else None)
    return render_template("regulator/conformance.html", run=run, history=history, new=new,
                           latest=bool(ids) and shown == ids[0],
                           sandbox=bool(current_app.config.get("SANDBOX_ENABLED")),
                           keep=current_app.config.get("CONFORMANCE_REPORT_HISTORY"))


@bp.get("/conformance/runs/<run_id>/<name>")
def run_file(run_id: str, name: str):
    if not RUN_ID.match(run_id) or name not in FILES:
        abort(404)
    path = report_root(current_app.config) / run_id / name
    if not path.is_file():
        abort(404)
    response: Response = send_file(path, mimetype=FILES[name], conditional=False,
                                   max_age=0)
    response.headers["Content-Type"] = FILES[name]
    return response


@bp.after_request
def _report_csp(response: Response) -> Response:
    """The reports' own CSP, stricter than the pages': registered before protect_pages, so it
    runs after the pages' headers (after_request handlers run in reverse order)."""
    from flask import request
    if request.endpoint == "regulator.run_file" and response.status_code == 200:
        name = (request.view_args or {}).get("name")
        response.headers["Content-Security-Policy"] = \
            REPORT_CSP if name == "report.html" else FILE_CSP
    return response


web_pages.protect_pages(bp)      # registered after _report_csp, so it runs before it


def file_url(run: Run, name: str) -> str:
    return url_for("regulator.run_file", run_id=run.id, name=name)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals.setdefault("conformance_file_url", file_url)
