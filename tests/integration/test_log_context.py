"""Every log line written while a request is served carries its x-fapi-interaction-id, on
every kind of page (not only the Open Banking APIs), and the response says the same id; a
Celery task sent by the request carries that id to the worker, whose lines about the task
carry it with the task's name and id; gunicorn, run with deploy/gunicorn.conf.py, writes its
access lines as JSON with the response's interaction id."""
from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests

from aspsp.logs import JsonFormatter
from bank import create_app

REPOSITORY = Path(__file__).resolve().parents[2]
GIVEN = "0f6c3a5e-8a55-4f6b-9a55-2c1d8a0e7b11"


class Capture(logging.Handler):
    """The lines the platform's formatter makes, from any thread."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[dict] = []

    def emit(self, record):
        self.lines.append(json.loads(self.format(record)))

    def about(self, message: str) -> list[dict]:
        return [line for line in self.lines if line["message"] == message]


@pytest.fixture
def capture():
    handler = Capture()
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


def _probe_app(sqlite_url, tmp_path, **config):
    app = create_app({"DATABASE_URL": sqlite_url, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "log-context", "CELERY_ALWAYS_EAGER": True, **config})
    probe_log = logging.getLogger("tests.probe")
    celery = app.extensions["celery"]

    @celery.task(name="tests.log_probe")
    def log_probe():
        probe_log.info("in the task")

    @app.get("/probe/page")
    def probe_page():
        probe_log.info("in the view")
        log_probe.delay()
        return "ok"

    return app


def test_every_line_of_a_request_and_its_eager_task_carries_the_interaction_id(
        sqlite_url, tmp_path, capture):
    http = _probe_app(sqlite_url, tmp_path).test_client()

    given = http.get("/probe/page", headers={"x-fapi-interaction-id": GIVEN})
    made = http.get("/probe/page", headers={"x-fapi-interaction-id": "not-a-uuid"})

    assert given.headers["x-fapi-interaction-id"] == GIVEN
    new_id = made.headers["x-fapi-interaction-id"]
    assert new_id != "not-a-uuid" and uuid.UUID(new_id)
    view_lines, task_lines = capture.about("in the view"), capture.about("in the task")
    assert [line["x-fapi-interaction-id"] for line in view_lines] == [GIVEN, new_id]
    assert [line["x-fapi-interaction-id"] for line in task_lines] == [GIVEN, new_id]
    assert all(line["task"] == "tests.log_probe" and line["task_id"] for line in task_lines)


def test_an_open_banking_error_line_names_the_id_the_response_names(sqlite_url, tmp_path,
                                                                    capture):
    http = _probe_app(sqlite_url, tmp_path).test_client()

    answer = http.get("/open-banking/v3.1/aisp/accounts",
                      headers={"x-fapi-interaction-id": "not-a-uuid"})

    assert answer.status_code == 401
    errors = capture.about("ob error")
    assert errors and errors[-1]["x-fapi-interaction-id"] == \
        answer.headers["x-fapi-interaction-id"]
    assert capture.lines[-1].get("x-fapi-interaction-id") == \
        answer.headers["x-fapi-interaction-id"]


def test_a_task_run_by_a_worker_carries_the_id_of_the_request_that_sent_it(
        sqlite_url, redis_url, tmp_path, capture):
    from celery.contrib.testing.worker import start_worker

    app = _probe_app(sqlite_url, tmp_path, CELERY_ALWAYS_EAGER=False,
                     CELERY_BROKER_URL=redis_url)
    celery = app.extensions["celery"]
    celery.conf.task_default_queue = f"log-context-{uuid.uuid4().hex}"   # ours alone
    with start_worker(celery, perform_ping_check=False, loglevel="INFO"):
        answer = app.test_client().get("/probe/page", headers={"x-fapi-interaction-id": GIVEN})
        assert answer.status_code == 200
        deadline = time.monotonic() + 20
        while not capture.about("in the task") and time.monotonic() < deadline:
            time.sleep(0.1)

    [line] = capture.about("in the task")
    assert line["x-fapi-interaction-id"] == GIVEN
    assert line["task"] == "tests.log_probe" and line["task_id"]
    assert capture.about("in the view")[0]["x-fapi-interaction-id"] == GIVEN


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_writes_json_access_lines_with_the_interaction_id(sqlite_url, tmp_path):
    port = _free_port()
    env = dict(os.environ, DATABASE_URL=sqlite_url, INSTANCE_PATH=str(tmp_path),
               SECRET_KEY="log-context", WEB_BIND=f"127.0.0.1:{port}", WEB_WORKERS="1",
               WEB_THREADS="2", PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"))
    (tmp_path / "prometheus").mkdir()
    stderr = tmp_path / "gunicorn.log"
    with open(stderr, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c",
                                   "deploy/gunicorn.conf.py", "wsgi:app"], cwd=REPOSITORY,
                                  env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/health/live"
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = requests.get(url, headers={"x-fapi-interaction-id": GIVEN},
                                      params={"code": "one-time-code-1"}, timeout=30)
                break
            except requests.ConnectionError:
                assert server.poll() is None, stderr.read_text()
                assert time.monotonic() < deadline, stderr.read_text()
                time.sleep(0.3)
        assert answer.headers["x-fapi-interaction-id"] == GIVEN
    finally:
        server.terminate()
        server.wait(timeout=30)
    lines = [json.loads(line) for line in stderr.read_text().splitlines()
             if line.startswith("{")]
    text = stderr.read_text()
    assert all(line.startswith("{") for line in text.splitlines() if line.strip()), text
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    assert access, text
    assert access[-1]["path"] == "/health/live" and access[-1]["status"] == 200
    assert access[-1]["x-fapi-interaction-id"] == GIVEN
    assert access[-1]["query"] == "code=[masked]" and "one-time-code-1" not in text
    assert any(line["logger"] == "gunicorn.error" for line in lines)
