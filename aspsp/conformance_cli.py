"""`flask conformance run [--plan PLAN] [--only PATTERN] [--config FILE]`: the conformance suite
(specs/conformance/) against this deployment's own ISSUER, its reports kept for the regulator
page (/conformance, aspsp/regulator.py).

The suite runs as a subprocess (`python -m specs.conformance`): it is black-box and imports
nothing from the platform, and nothing of it runs inside this process. Without --config, on a
sandbox deployment, the sandbox writes the suite's configuration (sandbox/conformance.py, as
tests/conformance/conftest.py does: a test app of its directory and the demo customer alice). The reports go to a new directory under
CONFORMANCE_REPORT_DIR named after the UTC time the run started; it appears (a rename) only
once the run is over, so the page never shows half a report. The oldest runs beyond
CONFORMANCE_REPORT_HISTORY are deleted. The exit code is the suite's: 0 when every check
passed, 1 when one failed, 2 when it could not run.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from collections import deque
from datetime import datetime, timezone
from pathlib import Path

import click
import requests
from flask import Flask, current_app
from flask.cli import AppGroup

from .regulator import RUN_FILE, RUN_ID, report_root, run_ids

ROOT = Path(__file__).resolve().parent.parent
# app.extensions key: (app) -> the path of the suite's configuration for this sandbox; set by
# the sandbox (sandbox/conformance.py) while SANDBOX_ENABLED, so the platform never imports it.
SANDBOX_CONFIGURATION = "conformance_sandbox_configuration"
ERROR_LINES = 40

conformance_cli = AppGroup("conformance", help="The conformance suite against this deployment "
                                               "(the regulator page /conformance).")


@conformance_cli.command("run")
@click.option("--plan", "plans", multiple=True,
              help="Plan to run (repeatable or comma-separated): discovery, dcr, fapi2, ob-ais, "
                   "ob-pis, ob-cbpii, ob-vrp, ... or all (the default).")
@click.option("--only", default=None, help="Only the checks whose id matches this glob.")
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False),
              default=None, help="The suite's configuration (specs/conformance/README.md). "
                                 "Default: a sandbox test app and demo customer, made here.")
def run_command(plans, only, config_file):
    """Run the conformance suite against ISSUER and keep its report for /conformance."""
    app = current_app
    sandbox_configuration = app.extensions.get(SANDBOX_CONFIGURATION)
    if config_file is None and (not app.config.get("SANDBOX_ENABLED")
                                or sandbox_configuration is None):
        raise click.ClickException(
            "SANDBOX_ENABLED is off: give the suite's configuration with --config FILE "
            "(specs/conformance/README.md)")
    issuer = str(app.config["ISSUER"]).rstrip("/")
    try:
        requests.get(issuer + "/.well-known/openid-configuration", timeout=10)
    except requests.RequestException as error:
        raise click.ClickException(
            f"nothing answers at the ISSUER {issuer} ({type(error).__name__}): start the "
            "platform first (make run), or set ISSUER to where it is served") from None
    if config_file is None:
        config_file = str(sandbox_configuration(app))
    root = report_root(app.config)
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise click.ClickException(f"a conformance run is already in progress ({root})") \
                from None
        code, run_id = run_suite(root, issuer, config_file, plans=list(plans), only=only,
                                 keep=int(app.config.get("CONFORMANCE_REPORT_HISTORY") or 10))
    click.echo(f"Run {run_id} kept in {root / run_id}; the regulator page: {issuer}/conformance")
    sys.exit(code)


def run_suite(root: Path, issuer: str, config_file: str, *, plans: list[str],
              only: str | None, keep: int) -> tuple[int, str]:
    """One run of the suite into a new directory of `root`; returns its exit code and run id."""
    started = datetime.now(timezone.utc)
    run_id = new_run_id(root, started)
    partial = root / f".{run_id}.partial"
    partial.mkdir()
    command = [sys.executable, "-m", "specs.conformance", "--issuer", issuer,
               "--config", str(config_file), "--report-dir", str(partial)]
    for plan in plans:
        command += ["--plan", plan]
    if only:
        command += ["--only", only]
    last_words: deque[str] = deque(maxlen=ERROR_LINES)
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               errors="replace")
    assert process.stdout is not None
    for line in process.stdout:           # the progress, passed on as it comes
        sys.stderr.write(line)
        sys.stderr.flush()
        last_words.append(line.rstrip("\n"))
    code = process.wait()
    info = {"run_id": run_id, "issuer": issuer, "plans": plans or ["all"], "only": only,
            "started": started.isoformat(timespec="seconds"),
            "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "exit_code": code, "commit": source_commit()}
    if not (partial / "report.json").exists():
        info["error"] = "\n".join(last_words)
    (partial / RUN_FILE).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    partial.rename(root / run_id)
    prune(root, keep)
    return code, run_id


def new_run_id(root: Path, when: datetime) -> str:
    stamp = when.strftime("%Y%m%dT%H%M%SZ")
    run_id, n = stamp, 1
    while (root / run_id).exists() or (root / f".{run_id}.partial").exists():
        n += 1
        run_id = f"{stamp}-{n}"
    return run_id


def prune(root: Path, keep: int) -> None:
    """The newest `keep` runs stay; older ones go, and so do the unfinished directories of
    runs that were stopped (the caller holds the lock: no other run is writing one)."""
    for run_id in run_ids(root)[max(keep, 1):]:
        if RUN_ID.match(run_id):
            shutil.rmtree(root / run_id, ignore_errors=True)
    for stale in root.glob(".*.partial"):
        if stale.is_dir():
            shutil.rmtree(stale, ignore_errors=True)


def source_commit() -> str | None:
    """The commit of this checkout (the suite's and the platform's), when it is a git one."""
    try:
        done = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True,
                              text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 and done.stdout.strip() else None


def init_app(app: Flask) -> None:
    app.cli.add_command(conformance_cli)
