"""A mixed AIS/PIS load against gunicorn on PostgreSQL, and the OBIE operational KPIs of it
(availability, mean time to last byte per API family, error response rate) as `flask kpi
report` computes them from the request log, beside what the clients measured and what
/metrics counted.

    .venv/bin/python bench/kpi_load.py [--server postgresql://postgres@127.0.0.1:5432]
        [--clients 6] [--workers 2] [--threads 4] [--duration 30] [--ais-share 0.7]
        [--refused-share 0.02] [--history 200] [--payments 600]
        [--redis redis://127.0.0.1:6379/3] [--keep]

Setup (not timed): a fresh database from the migrations; a customer with `--history` postings
and an Authorised account-access consent with its DPoP-bound token (bench/ais_transactions.py
`build`); funded payers, payees and a PISP with `--payments` authorised domestic payment
consents and their tokens (bench/pis_payments.py `build_bank`, `make_journeys`). Then
gunicorn (`wsgi:app`, gthread workers, PROMETHEUS_MULTIPROC_DIR set, the request log on, the
payment's execution run eagerly inside the POST as in bench/pis_payments.py).

The workload: `--clients` client processes, each on its own kept-alive connection, for
`--duration` seconds. Each request is AIS with probability `--ais-share` (GET /accounts,
/accounts/{id}, /accounts/{id}/balances or a page of /accounts/{id}/transactions, equally
likely), otherwise PIS (a signed POST /domestic-payments of one of the client's consents,
each once; when they run out the client does AIS only). A `--refused-share` of the AIS calls
are sent without their DPoP proof: a 401, the TPP's error, which OBIE does not count as an
error response. DPoP proofs, JWS signatures and idempotency keys are made before each
request's clock starts.

The report: per API family, what the clients saw (requests, statuses, mean and p99 of their
measured time to last byte) and the KPIs from aspsp.kpi.report_for_day over the run's UTC day
(the database is fresh: the run is the whole day's traffic so far; availability is over the
full 86,400 s), and the /metrics request counters at the end. Results go to bench/results/.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (DEFAULT_SERVER, create_database, drop_database, machine,  # noqa: E402
                    save, server_url, server_version)

AISP = "/open-banking/v3.1/aisp"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--clients", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn gthread workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--ais-share", type=float, default=0.7)
    parser.add_argument("--refused-share", type=float, default=0.02)
    parser.add_argument("--history", type=int, default=200, help="postings of the AIS account")
    parser.add_argument("--payments", type=int, default=600,
                        help="authorised payment consents made (at most one POST each)")
    parser.add_argument("--payers", type=int, default=20)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/3",
                        help="REDIS_URL of the app (DPoP and idempotency replay caches)")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args(argv)


# --- the clients -----------------------------------------------------------------------------
def client(port: int, ais: dict, bank: dict, journeys: list[dict], args, seed: int,
           barrier, results) -> None:
    from ais_transactions import _proof_maker
    from pis_payments import PAYMENTS, _signer

    rng = random.Random(seed)
    base = f"http://127.0.0.1:{port}"
    ais_proof = _proof_maker(ais["dpop_key"])
    pis_headers = _signer(bank, base)
    account = ais["account_id"]
    ais_paths = [f"{AISP}/accounts", f"{AISP}/accounts/{account}",
                 f"{AISP}/accounts/{account}/balances", f"{AISP}/accounts/{account}/transactions"]
    seen: dict[str, dict] = {"ais": {"latencies": [], "statuses": {}},
                             "pis": {"latencies": [], "statuses": {}}}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    barrier.wait()
    until = time.time() + args.duration
    left = list(journeys)
    while time.time() < until:
        if left and rng.random() >= args.ais_share:
            family, journey = "pis", left.pop()
            method, path, body = "POST", PAYMENTS, journey["body"]
            headers = pis_headers(journey)
        else:
            family, method, body = "ais", "GET", None
            path = rng.choice(ais_paths)
            headers = {"Authorization": f"DPoP {ais['token']}", "Accept": "application/json",
                       "x-fapi-customer-ip-address": "198.51.100.7",
                       "x-fapi-interaction-id": str(uuid.uuid4())}
            if rng.random() >= args.refused_share:
                headers["DPoP"] = ais_proof(base + path, ais["token"])
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            response.read()
            status = response.status
        except (http.client.HTTPException, OSError):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            status = 0                                    # no answer
        elapsed_ms = (time.perf_counter() - started) * 1000
        if status and response.will_close:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        seen[family]["latencies"].append(elapsed_ms)
        seen[family]["statuses"][status] = seen[family]["statuses"].get(status, 0) + 1
    connection.close()
    results.put(seen)


def run_clients(args, port: int, ais: dict, bank: dict, journeys: list[dict]) -> dict:
    context = mp.get_context("fork")
    barrier, results = context.Barrier(args.clients), context.Queue()
    shares = [journeys[i::args.clients] for i in range(args.clients)]
    processes = [context.Process(target=client, args=(port, ais, bank, shares[i], args, i,
                                                      barrier, results))
                 for i in range(args.clients)]
    for process in processes:
        process.start()
    collected = [results.get() for _ in processes]
    for process in processes:
        process.join()
    merged: dict[str, dict] = {}
    for family in ("ais", "pis"):
        latencies = sorted(x for c in collected for x in c[family]["latencies"])
        statuses: dict[str, int] = {}
        for c in collected:
            for status, n in c[family]["statuses"].items():
                statuses[str(status)] = statuses.get(str(status), 0) + n
        merged[family] = {
            "requests": len(latencies), "statuses": statuses,
            "per_s": round(len(latencies) / args.duration, 1),
            "mean_ms": round(statistics.fmean(latencies), 1) if latencies else None,
            "p99_ms": round(latencies[int(0.99 * (len(latencies) - 1))], 1)
            if latencies else None}
    return merged


def scrape_requests(port: int) -> dict:
    """aspsp_http_requests_total by family and status class, from /metrics (loopback)."""
    from prometheus_client.parser import text_string_to_metric_families
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", "/metrics")
    text = connection.getresponse().read().decode()
    connection.close()
    counts: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "aspsp_http_requests_total":
                row = counts.setdefault(sample.labels["family"], {})
                row[sample.labels["status"]] = row.get(sample.labels["status"], 0) + sample.value
    return counts


def main() -> int:
    args = parse_args()
    from aspsp.keyring import new_key_setting
    os.environ.setdefault("KEY_ENCRYPTION_KEY", new_key_setting("bench"))
    metrics_dir = tempfile.mkdtemp(prefix="bench-kpi-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir     # the server's workers inherit it
    os.environ.setdefault("RATELIMIT_DEFAULT_TIER", "premium")   # a load test, not a TPP

    from ais_transactions import build as build_ais
    from pis_payments import build_bank, free_port, make_journeys, start_server, stop

    from aspsp import kpi
    from aspsp.db import Database

    port = free_port()
    url = create_database(args.server, "bench_kpi")
    server = None
    try:
        print(f"building the bank ({args.history} postings, {args.payments} payment "
              f"consents)...", flush=True)
        ais = build_ais(url, f"http://127.0.0.1:{port}", args.history)
        bank = build_bank(url, args.payers)
        journeys = make_journeys(url, bank, args.payments, "internal", uuid.uuid4().hex[:8])
        server = start_server(args, url, port)
        day = datetime.now(timezone.utc).date()
        print(f"load: {args.clients} clients, {args.duration:.0f} s, AIS share "
              f"{args.ais_share}...", flush=True)
        seen = run_clients(args, port, ais, bank, journeys)
        time.sleep(2.5)                          # the request log's writers flush every 1 s
        counted = scrape_requests(port)
        stop(server)                             # and flush what is left at exit
        server = None
        db = Database(url)
        report = kpi.report_for_day(db, day)
        db.engine.dispose()
    finally:
        if server is not None:
            stop(server)
        if not args.keep:
            drop_database(url)
    result = {"machine": machine(), "postgres": server_version(f"{server_url(args.server)}/postgres"),
              "args": vars(args), "clients_saw": seen, "metrics_counted": counted,
              "kpi": report.as_dict()}
    print(json.dumps({"clients_saw": seen, "metrics_counted": counted}, indent=2))
    print(kpi.as_text(report))
    print(f"saved {save('kpi_load', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
