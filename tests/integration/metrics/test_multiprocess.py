"""Multiprocess mode (gunicorn workers, a Celery worker on the same host): processes that
write into one PROMETHEUS_MULTIPROC_DIR, and a scrape of any one of them that reads their sum;
gunicorn's child_exit hook drops a dead worker's live gauges and keeps its counters."""
from __future__ import annotations

import os
import runpy
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

from tests.integration.metrics.conftest import Samples

ROOT = Path(__file__).resolve().parents[3]

WRITER = """
import os
from aspsp import metrics
metrics.observe_request("ais", "GET", 200, 0.02)
metrics.observe_request("pis", "POST", 503, 0.2)
metrics.observe_webhook("delivered", 1.5)
metrics.instruments().pool_size.set(5)
print(os.getpid())
"""

READER = r"""
import os, sys
from bank import create_app
app = create_app({"INSTANCE_PATH": sys.argv[1], "DATABASE_URL": "sqlite:///" + sys.argv[1]
                  + "/none.sqlite", "SECRET_KEY": "x", "REQUEST_LOG_ENABLED": False})
sys.stdout.write(f"# reader {os.getpid()}\n")     # a comment line to Prometheus
sys.stdout.write(app.test_client().get("/metrics").get_data(as_text=True))
"""


def run(code: str, directory: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_two_processes_write_and_a_third_reads_their_sum(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    first = int(run(WRITER, metrics_dir))
    second = int(run(WRITER, metrics_dir))
    assert first != second

    text = run(READER, metrics_dir, str(tmp_path))
    reader = int(text.split("\n", 1)[0].split()[-1])
    samples = Samples(text)
    assert samples.value("aspsp_http_requests_total", family="ais", method="GET",
                         status="2xx") == 2
    assert samples.value("aspsp_http_requests_total", family="pis", status="5xx") == 2
    assert samples.value("aspsp_http_request_duration_seconds_count", family="pis") == 2
    assert samples.value("aspsp_http_request_duration_seconds_bucket", family="ais",
                         le="0.025") == 2
    assert samples.value("aspsp_webhook_deliveries_total", outcome="delivered") == 2
    assert samples.value("aspsp_webhook_delivery_lag_seconds_sum") == 3.0
    # The writers have exited but nobody said so: their live gauges still count (5 each,
    # and the reader's own pool of 5).
    assert samples.value("aspsp_db_pool_size") == 15

    # gunicorn's hook, as the master calls it when a worker exits.
    hooks = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        for pid in (first, reader):
            hooks["child_exit"](None, SimpleNamespace(pid=pid))
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    samples = Samples(run(READER, metrics_dir, str(tmp_path)))
    assert samples.value("aspsp_http_requests_total", family="ais") == 2      # counters stay
    # The first writer's and the first reader's are gone: the second writer's and this reader's.
    assert samples.value("aspsp_db_pool_size") == 10


def test_gunicorn_start_removes_the_files_of_processes_gone(tmp_path):
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    gone = int(run(WRITER, metrics_dir))
    (metrics_dir / f"counter_{os.getpid()}.db").write_bytes(b"")     # a live process's file
    assert any(str(gone) in name for name in os.listdir(metrics_dir))
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    try:
        hooks = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
        hooks["on_starting"](None)
    finally:
        del os.environ["PROMETHEUS_MULTIPROC_DIR"]
    assert os.listdir(metrics_dir) == [f"counter_{os.getpid()}.db"]
