"""What a flood of login posts does to the rest of the web tier, with and without the login
rate limits (aspsp.identity.login_limits).

gunicorn (sync workers, as docker-compose.yml runs it) on 127.0.0.1 and a fresh PostgreSQL
database, REDIS_URL set so the limits are shared by the workers. A prober fetches
/health/live ten times a second; at the same time a flooder posts wrong passwords to
/psu/login at a fixed rate (each with a valid session and CSRF token, so each post reaches the
password check), from a different forwarded address each time (TRUSTED_PROXIES=127.0.0.1), as
a guesser spread over many addresses would. Three phases of PHASE seconds each, each on its
own server: no flood; the flood with the limits switched off (huge values); the flood with
the default limits. Prints the prober's median and 90th percentile latency per phase, and the
flood's status codes. Bounded in count and time, loopback only. A benchmark, not a test.

    .venv/bin/python bench/login_flood.py [--server postgresql://...] [--rate 3] [--phase 10]
"""
from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import requests  # noqa: E402

from common import (DEFAULT_SERVER, ROOT, create_database, drop_database,  # noqa: E402
                    machine, save)

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
OFF = "1000000 per second"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(database_url: str, limits: dict, instance: str):
    port = free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "bench-secret",
           "REDIS_URL": os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14"),
           "ISSUER": f"http://127.0.0.1:{port}", "INSTANCE_PATH": instance,
           "TRUSTED_PROXIES": "127.0.0.1", "SANDBOX_ENABLED": "true", "LOG_LEVEL": "WARNING",
           **limits}
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "4",
         "wsgi:app"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            if requests.get(f"{base}/health/live", timeout=1).status_code == 200:
                return process, base
        except requests.RequestException:
            pass
        time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def probe(base: str, until: float, latencies: list) -> None:
    with requests.Session() as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            http.get(f"{base}/health/live", timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
            time.sleep(max(0.0, 0.1 - (time.perf_counter() - started)))


def flood_one(base: str, n: int, statuses: Counter) -> None:
    address = f"198.18.{n // 250}.{n % 250 + 1}"           # a different guesser each time
    headers = {"X-Forwarded-For": address}
    with requests.Session() as http:
        try:
            page = http.get(f"{base}/psu/login", headers=headers, timeout=30)
            token = CSRF.search(page.text).group(1)
            answer = http.post(f"{base}/psu/login", headers=headers, timeout=30, data={
                "csrf_token": token, "username": f"nobody{n}", "password": "guess"})
            statuses[answer.status_code] += 1
        except (requests.RequestException, AttributeError):
            statuses["error"] += 1


def flood(base: str, rate: float, until: float, statuses: Counter) -> None:
    threads, n = [], 0
    while time.monotonic() < until:
        thread = threading.Thread(target=flood_one, args=(base, n, statuses))
        thread.start()
        threads.append(thread)
        n += 1
        time.sleep(1 / rate)
    for thread in threads:
        thread.join(timeout=60)


def phase(database_url: str, name: str, *, rate: float, seconds: float, limits: dict) -> dict:
    with tempfile.TemporaryDirectory() as instance:
        process, base = serve(database_url, limits, instance)
        try:
            latencies, statuses = [], Counter()
            until = time.monotonic() + seconds
            workers = [threading.Thread(target=probe, args=(base, until, latencies))]
            if rate:
                workers.append(threading.Thread(target=flood, args=(base, rate, until, statuses)))
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
        finally:
            process.terminate()
            process.wait(timeout=30)
    cut = statistics.quantiles(latencies, n=10)
    result = {"phase": name, "probes": len(latencies),
              "median_ms": round(statistics.median(latencies), 1), "p90_ms": round(cut[8], 1),
              "login_posts": dict(statuses)}
    print(result, flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--rate", type=float, default=3.0, help="login posts a second")
    parser.add_argument("--phase", type=float, default=10.0, help="seconds per phase")
    args = parser.parse_args()
    database_url = create_database(args.server, "bench_login")
    try:
        results = [
            phase(database_url, "no flood", rate=0, seconds=args.phase, limits={}),
            phase(database_url, f"{args.rate:g}/s login posts, limits off", rate=args.rate,
                  seconds=args.phase, limits={"LOGIN_RATE_LIMIT_PER_ADDRESS": OFF,
                                              "LOGIN_RATE_LIMIT_GLOBAL": OFF}),
            phase(database_url, f"{args.rate:g}/s login posts, default limits", rate=args.rate,
                  seconds=args.phase, limits={}),
        ]
    finally:
        drop_database(database_url)
    print("saved", save("login_flood", {"machine": machine(), "rate": args.rate,
                                        "phase_seconds": args.phase, "results": results}))


if __name__ == "__main__":
    main()
