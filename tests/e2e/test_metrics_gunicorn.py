"""/metrics under gunicorn as deployed (deploy/gunicorn.conf.py): two worker processes count
into one PROMETHEUS_MULTIPROC_DIR, every scrape (whichever worker answers it) reads the sum;
a worker that dies keeps its counts and, through the child_exit hook, stops counting in the
live gauges."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import create_pg_database, drop_pg_database, service_missing
from tests.integration.metrics.conftest import Samples

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = Path(sys.executable).parent / "gunicorn"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:                        # a new connection each time: the workers share the load
        connection.request("GET", path, headers={"Connection": "close"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def _workers(master: int) -> list[int]:
    path = Path(f"/proc/{master}/task/{master}/children")
    return sorted(int(pid) for pid in path.read_text().split())


@pytest.fixture
def served(tmp_path):
    try:
        url = create_pg_database("aspsp_metrics_e2e")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    port, metrics_dir = _free_port(), tmp_path / "prometheus"
    env = {**os.environ, "DATABASE_URL": url, "CELERY_ALWAYS_EAGER": "1",
           "SECRET_KEY": "e2e", "INSTANCE_PATH": str(tmp_path / "instance"),
           "ISSUER": f"http://127.0.0.1:{port}", "LOG_LEVEL": "WARNING",
           "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir), "WEB_BIND": f"127.0.0.1:{port}",
           "WEB_WORKERS": "2", "WEB_THREADS": "2"}
    server = subprocess.Popen([str(GUNICORN), "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
                               "--chdir", str(ROOT), "wsgi:app"], env=env, cwd=ROOT,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    try:
        deadline = time.time() + 240          # the workers import the app: slow when loaded
        while True:
            try:
                if _get(port, "/health/live")[0] == 200 and len(_workers(server.pid)) == 2:
                    break
            except OSError:
                pass
            assert time.time() < deadline and server.poll() is None, "gunicorn did not start"
            time.sleep(0.5)
        yield server, port, metrics_dir
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        drop_pg_database(url)


def scrape(port: int) -> Samples:
    status, body = _get(port, "/metrics")
    assert status == 200
    return Samples(body.decode())


def test_every_scrape_reads_the_sum_of_both_workers_and_a_dead_worker_keeps_its_counts(
        served):
    server, port, metrics_dir = served
    workers = _workers(server.pid)
    ais = 0
    with ThreadPoolExecutor(4) as pool:      # bursts of 4 at once, until both workers counted
        while not all((metrics_dir / f"counter_{pid}.db").exists() for pid in workers):
            assert ais < 400, "one worker answered everything"
            statuses = list(pool.map(lambda _: _get(port, "/open-banking/v3.1/aisp/accounts")[0],
                                     range(4)))
            assert statuses == [401] * 4
            ais += 4
    for _ in range(10):
        assert _get(port, "/jwks")[0] == 200
    # A call is counted once the server has taken its last chunk, which it may send before
    # the count is written: the last one can reach the client a moment before its count.
    deadline = time.time() + 10
    while scrape(port).value("aspsp_http_requests_total", family="oauth", status="2xx") < 10:
        assert time.time() < deadline, "the last /jwks calls were never counted"
        time.sleep(0.1)
    for _ in range(6):                 # whichever worker answers, the same sums
        samples = scrape(port)
        assert samples.value("aspsp_http_requests_total", family="ais", status="4xx") == ais
        assert samples.value("aspsp_http_requests_total", family="oauth", status="2xx") == 10
        assert samples.value("aspsp_http_request_duration_seconds_count", family="ais") == ais

    gone = workers[0]
    os.kill(gone, signal.SIGKILL)
    deadline = time.time() + 240
    while gone in _workers(server.pid) or len(_workers(server.pid)) < 2:
        assert time.time() < deadline, "gunicorn did not replace the worker"
        time.sleep(0.5)
    # child_exit marked it dead: its live gauges are gone, its counters stay.
    assert not (metrics_dir / f"gauge_livesum_{gone}.db").exists()
    assert (metrics_dir / f"counter_{gone}.db").exists()
    samples = scrape(port)
    assert samples.value("aspsp_http_requests_total", family="ais", status="4xx") == ais
    assert samples.value("aspsp_http_requests_total", family="oauth", status="2xx") == 10
