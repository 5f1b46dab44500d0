"""`make run`: the whole platform in one terminal, on the embedded defaults.

    python -m deploy.devserver [--host 127.0.0.1] [--port $PORT] [--no-seed] [--no-worker]
                              [--conformance PLAN]

Seeds the sandbox when the database holds no customers yet, starts a Celery worker with
embedded beat as a child process (on the broker from aspsp.config: an SQLite file under
instance/ unless CELERY_BROKER_URL or REDIS_URL name another, so Redis is not needed), serves
the web app on 127.0.0.1:$PORT, prints where everything is and the demo logins, and stops the
worker on Ctrl-C. With --conformance (`make run CONFORMANCE_ON_START=all`), once the server
answers, `flask conformance run --plan PLAN` runs in the background (its output in
instance/conformance-run.log) and keeps a report for the regulator page /conformance; it is
off by default: a full run takes minutes, logs the demo customer in for each consent it
approves from 127.0.0.1 (the login rate limit the developer's own logins share) and makes
payments in the sandbox. Whatever it finds, the server keeps serving. The schema must be migrated first (`flask --app bank db upgrade`, which
`make run` does).
"""
from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent

# Pages worth pointing a visitor at, printed only once the app actually serves them.
LANDMARKS = (
    ("API documentation", "/open-banking/docs"),
    ("OpenAPI document", "/open-banking/openapi.json"),
    ("Developer portal", "/developers/"),
    ("OpenID discovery", "/.well-known/openid-configuration"),
    ("Customer consents", "/psu/consents"),
    ("Sandbox directory", "/sandbox/directory/jwks"),
    ("Conformance report", "/conformance"),
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m deploy.devserver",
                                     description="Serve the platform with its background worker.")
    parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT") or 5000))
    parser.add_argument("--no-seed", action="store_true",
                        help="do not seed the sandbox even if the database is empty")
    parser.add_argument("--no-worker", action="store_true",
                        help="do not start the Celery worker (background tasks wait in the broker)")
    parser.add_argument("--conformance", metavar="PLAN", default=None,
                        help="once serving, run the conformance suite's PLAN (all, or e.g. "
                             "discovery,dcr) against this server in the background, for /conformance")
    return parser.parse_args(argv)


def child_environment(app: Flask) -> dict[str, str]:
    """The seed command and the worker must see the same database, broker and issuer."""
    env = dict(os.environ)
    env["INSTANCE_PATH"] = app.config["INSTANCE_PATH"]
    env["ISSUER"] = app.config["ISSUER"]
    env.setdefault("FLASK_APP", "bank")
    return env


def database_is_empty(app: Flask) -> bool:
    from sqlalchemy import select

    from aspsp.ledger.models import Party

    with app.extensions["aspsp"].uow() as uow:
        return uow.session.scalar(select(Party.id).limit(1)) is None


def seed(app: Flask) -> bool:
    print("The database holds no customers yet: seeding the sandbox (flask sandbox seed).",
          flush=True)
    # --no-logins: the banner below lists the demo logins, once.
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "bank", "sandbox", "seed",
                           "--no-logins"], cwd=ROOT, env=child_environment(app))
    if done.returncode != 0:
        print(f"Seeding the sandbox failed (exit code {done.returncode}). "
              "Serve without it: python -m deploy.devserver --no-seed", file=sys.stderr)
    return done.returncode == 0


def _die_with_parent() -> None:
    """In the worker (Linux): receive SIGTERM if the dev server dies without cleaning up."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def start_worker(app: Flask) -> tuple[subprocess.Popen, Path]:
    """A Celery worker with embedded beat, in its own process group so that Ctrl-C reaches
    only the dev server, which then stops the worker warmly (SIGTERM)."""
    instance = Path(app.config["INSTANCE_PATH"])
    log_path = instance / "worker.log"
    log = open(log_path, "ab")
    command = [sys.executable, "-m", "celery", "-A", "wsgi:celery", "worker", "--beat",
               "--pool=solo", "--loglevel=INFO", "--hostname=devserver@%h",
               f"--schedule={instance / 'celerybeat-schedule'}"]
    process = subprocess.Popen(command, cwd=ROOT, env=child_environment(app), stdout=log,
                               stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                               start_new_session=True, preexec_fn=_die_with_parent)
    log.close()
    return process, log_path


def stop_worker(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def stop_process_group(process: subprocess.Popen, timeout: float = 5) -> None:
    """SIGTERM to a child started in its own session and to what it started (the conformance
    run's suite), SIGKILL if they linger."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            continue


def watch_worker(process: subprocess.Popen, log_path: Path, stopping: threading.Event) -> None:
    def watch():
        code = process.wait()
        if not stopping.is_set():
            print(f"\n!! The background worker stopped (exit code {code}); payments will not "
                  f"settle. Its log: {log_path}", file=sys.stderr, flush=True)
    threading.Thread(target=watch, name="worker-watch", daemon=True).start()


def start_conformance_run(app: Flask, base: str, plan: str, stopping: threading.Event,
                          wait_seconds: float = 60) -> tuple[threading.Thread, list]:
    """In a thread: wait until the server answers, then run `flask conformance run --plan
    PLAN` as a child process (its own process group, output to instance/conformance-run.log).
    Returns the thread and a list that holds the child once started (to stop it on exit)."""
    import time
    import urllib.request

    started: list[subprocess.Popen] = []
    log_path = Path(app.config["INSTANCE_PATH"]) / "conformance-run.log"

    def run():
        deadline = time.monotonic() + wait_seconds
        while not stopping.is_set():
            try:
                urllib.request.urlopen(base + "/.well-known/openid-configuration", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    print(f"!! The conformance run did not start: {base} did not answer.",
                          file=sys.stderr, flush=True)
                    return
                stopping.wait(0.5)
        if stopping.is_set():
            return
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "bank", "conformance", "run",
                 "--plan", plan], cwd=ROOT, env=child_environment(app), stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
                preexec_fn=_die_with_parent)
        started.append(process)
        code = process.wait()
        if not stopping.is_set():
            print(f"\nThe conformance run ({plan}) finished: "
                  f"{'every check passed' if code == 0 else f'exit code {code}'}; "
                  f"{base}/conformance shows it (log: {log_path}).", file=sys.stderr, flush=True)

    thread = threading.Thread(target=run, name="conformance-run", daemon=True)
    thread.start()
    return thread, started


def served_landmarks(app: Flask, base: str) -> list[tuple[str, str]]:
    adapter = app.url_map.bind("localhost")
    found = []
    for label, path in LANDMARKS:
        try:
            adapter.match(path, method="GET")
        except Exception:  # NotFound, RequestRedirect to a slash, MethodNotAllowed
            continue
        found.append((label, base + path))
    return found


def demo_logins(app: Flask) -> str:
    """The demo logins the sandbox registered when it was wired in (none without it)."""
    text = app.extensions.get("sandbox_demo_logins")
    return text() if callable(text) else ""


def banner(app: Flask, base: str, worker_log: Path | None, logins: str) -> str:
    config = app.config
    database = config["DATABASE_URL"].split("://", 1)[0]
    broker = config["CELERY_BROKER_URL"].split("://", 1)[0]
    lines = ["", "The Invisible Bank ASPSP is running.",
             f"  Platform           {base}",
             f"  Readiness          {base}/health/ready"]
    lines += [f"  {label:<18} {url}" for label, url in served_landmarks(app, base)]
    lines.append(f"  Database           {database} ({config['DATABASE_URL'].split('@')[-1]})"
                 if database.startswith("postgres") else
                 f"  Database           {config['DATABASE_URL'].removeprefix('sqlite:///')}")
    if worker_log is not None:
        lines.append(f"  Background worker  Celery + beat on the {broker} broker, log: {worker_log}")
    elif config["CELERY_ALWAYS_EAGER"]:
        lines.append("  Background worker  none: CELERY_ALWAYS_EAGER runs tasks inline")
    else:
        lines.append("  Background worker  not started (--no-worker): tasks wait in the broker")
    if logins and config.get("SANDBOX_ENABLED"):
        lines += ["", logins]
    lines += ["", "Press Ctrl-C to stop.", ""]
    return "\n".join(lines)


def dev_server(app: Flask, host: str, port: int):
    """werkzeug's threaded server with the request handler below."""
    from werkzeug.serving import make_server

    return make_server(host, port, app, threaded=True, request_handler=_request_handler())


def _request_handler():
    """werkzeug's handler, except that it sends its own Date header only when the
    application sent none. http.server's send_response always adds one, so every Open Banking
    response (whose Date the platform sets from its clock) went out with two."""
    from werkzeug.serving import WSGIRequestHandler

    class RequestHandler(WSGIRequestHandler):
        def send_response(self, code, message=None):
            self.log_request(code)
            self.send_response_only(code, message)
            self.send_header("Server", self.version_string())
            self._date_pending = True

        def send_header(self, keyword, value):
            if keyword.lower() == "date":
                self._date_pending = False
            super().send_header(keyword, value)

        def end_headers(self):
            if getattr(self, "_date_pending", False):
                self.send_header("Date", self.date_time_string())
            super().end_headers()

    return RequestHandler


def main(argv: list[str] | None = None) -> int:
    from aspsp.config import record_instance_settings
    from bank import create_app

    args = parse_args(argv)
    base = f"http://{args.host}:{args.port}"
    overrides = {} if os.environ.get("ISSUER") else {"ISSUER": base}
    app = create_app(overrides)
    # Every later command on this instance (flask sandbox directory issue-ssa, ...) uses the
    # issuer served here, not the default port's.
    record_instance_settings(app.config["INSTANCE_PATH"], ISSUER=app.config["ISSUER"])
    if (not args.no_seed and app.config.get("SANDBOX_ENABLED") and database_is_empty(app)
            and not seed(app)):
        return 1
    try:
        server = dev_server(app, args.host, args.port)
    except OSError as error:
        print(f"Cannot listen on {args.host}:{args.port}: {error}. "
              "Set PORT to another port (make run PORT=5001).", file=sys.stderr)
        return 1

    stopping = threading.Event()
    worker, worker_log = None, None
    if not args.no_worker and not app.config["CELERY_ALWAYS_EAGER"]:
        worker, worker_log = start_worker(app)
        watch_worker(worker, worker_log, stopping)

    def terminate(_signum, _frame):
        raise KeyboardInterrupt
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGINT may arrive ignored from a shell
        signal.signal(signum, terminate)

    print(banner(app, base, worker_log, demo_logins(app)), flush=True)
    conformance: list[subprocess.Popen] = []
    if args.conformance:
        print(f"Running the conformance suite ({args.conformance}) in the background once the "
              f"server answers; {base}/conformance will show its report.", flush=True)
        _, conformance = start_conformance_run(app, base, args.conformance, stopping)
    try:
        server.serve_forever()  # werkzeug's returns on KeyboardInterrupt
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        print("\nStopping the web server" + (" and the worker..." if worker else "..."),
              flush=True)
        server.server_close()
        for process in conformance:
            stop_process_group(process)
        if worker is not None:
            stop_worker(worker)
    return 0


if __name__ == "__main__":
    sys.exit(main())
