"""Event notifications delivered per second end to end (the change that raises the event
committed -> 202 at a local receiver), with one and with two Celery workers on a Redis broker
and PostgreSQL, and the p50/p95 delivery latency, against a bare loop of POSTs of the same
kind of signed SETs to the same receiver in the same run.

    .venv/bin/python bench/events_delivery.py [--server postgresql://postgres@127.0.0.1:5432]
        [--redis redis://127.0.0.1:6379/9] [--events 2000] [--workers 1,2] [--rounds 2]
        [--publishers 4] [--rate 100] [--paced-seconds 8] [--keep]

Setup (not timed): a fresh database from the migrations; a TPP client with an event
subscription whose CallbackUrl is the receiver; the receiver, a separate process
(http.server, a thread per connection) that answers 202 and notes each SET's jti and arrival
time; the broker's Redis db flushed; the workers started and ready before each side.

Sides, alternating for `--rounds` rounds:
- `events/N`: N `celery -A wsgi:celery worker --pool=solo` processes. `--publishers` processes
  commit `--events` state changes as fast as they can, each its own unit of work in which
  aspsp.events.publish writes one resource-update event (the outbox row; its delivery task is
  sent after the commit). The commit time of each is noted. Delivered per second = events /
  (last 202 - first commit); latency = 202 - commit, per event (this includes the wait in
  the queue when publishing outruns delivery).
- `bare`: the same number of sender processes as the events side has workers (the larger)
  POST `--events` SETs signed beforehand by the platform's own signing (same claims, same
  size) to the same receiver through aspsp.outbound.post, the client the workers use
  (keep-alive), one after the other: what the receiver and the HTTP client allow, without
  the outbox, the broker, the lease, signing or recording. `bare close`: the same with a new
  connection per POST (the client before keep-alive, the baseline of earlier runs).
- `drain/N`: the same events committed while no worker runs (their tasks wait in Redis), then
  N workers started: delivered per second from the first 202 to the last, what the workers
  can do when the publishers are not what limits them.
Then a paced side per worker count: `--rate` events a second for `--paced-seconds`, the
latency of a delivery under a load it keeps up with.
- `mixed/N` (fairness, with `--tpps` K > 1): K TPPs, one of whose receivers answers each push
  only after `--slow-ms`. `--slow-events` events of the slow TPP are committed first, then
  `--events` spread over the K - 1 others, while no worker runs; then N workers: the other
  TPPs' events delivered per second (their first 202 to their last), how many of the slow
  TPP's had arrived by then, and the most pushes the slow receiver ever had in flight at once.
"""
from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (DEFAULT_SERVER, ROOT, create_database, drop_database, machine,  # noqa: E402
                    save, server_url, server_version)

RU = "urn:uk:org:openbanking:events:resource-update"
ISSUER = "http://127.0.0.1:5000"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9",
                        help="Redis db for the broker (flushed)")
    parser.add_argument("--events", type=int, default=2000, help="events per side")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--publishers", type=int, default=4, help="publisher processes")
    parser.add_argument("--rate", type=float, default=100.0, help="paced side: events/s")
    parser.add_argument("--paced-seconds", type=float, default=8.0)
    parser.add_argument("--tpps", type=int, default=4,
                        help="mixed side: TPPs, one of them slow (1: no mixed side)")
    parser.add_argument("--slow-ms", type=int, default=3000,
                        help="mixed side: the slow receiver's answer time")
    parser.add_argument("--slow-events", type=int, default=40)
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args(argv)


# --- the receiver (its own process) ------------------------------------------------------------
def _jti(body: bytes) -> str:
    payload = body.split(b".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))["jti"]


def receiver_main(port_out) -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    arrivals: list[tuple[str, float]] = []
    lock = threading.Lock()
    slow = {"in_flight": 0, "most": 0}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if "/slow-" in self.path:     # /slow-<ms>/...: a receiver that answers late
                with lock:
                    slow["in_flight"] += 1
                    slow["most"] = max(slow["most"], slow["in_flight"])
                time.sleep(int(self.path.split("/slow-")[1].split("/")[0]) / 1000)
                with lock:
                    slow["in_flight"] -= 1
            at = time.time()
            with lock:
                arrivals.append((_jti(body), at))
            self.send_response(202)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self):  # noqa: N802  (the bench reads and resets the arrivals)
            with lock:
                data = json.dumps(arrivals if "count" not in self.path else len(arrivals))
                if "slow" in self.path:
                    data = json.dumps(slow["most"])
                if "reset" in self.path:
                    arrivals.clear()
                    slow["most"] = 0
            body = data.encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    port_out.send(server.server_address[1])
    server.serve_forever()


def receiver_get(port: int, what: str):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/{what}", timeout=30) as response:
        return json.loads(response.read())


# --- the platform side -------------------------------------------------------------------------
def build_app(url: str, redis_url: str, instance: str):
    from bank import create_app
    return create_app({"DATABASE_URL": url, "CELERY_BROKER_URL": redis_url,
                       "CELERY_ALWAYS_EAGER": False, "REDIS_URL": None, "ISSUER": ISSUER,
                       "INSTANCE_PATH": instance, "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING"})


def subscribe(app, callback: str) -> int:
    from aspsp.events import services
    from aspsp.ids import new_id
    from aspsp.oauth.models import OAuthClient

    now = datetime.now(timezone.utc)
    with app.extensions["aspsp"].uow() as uow:
        row = OAuthClient(client_id=new_id(), software_id="bench", org_id="bench",
                          client_name="Bench TPP", profile="fapi2", roles=["PISP"],
                          client_metadata={}, software_statement="", created_at=now,
                          updated_at=now)
        uow.session.add(row)
        uow.session.flush()
        services.create_subscription(uow, row.id, services.SubscriptionRequest(
            callback, "3.1", None), now, schemes=("https", "http"))
        uow.commit()
        return row.id


def publish_one(app, client_pk: int, n: int) -> tuple[str, float]:
    from aspsp import events
    platform = app.extensions["aspsp"]
    with platform.uow() as uow:
        jti = events.publish(uow, client_pk=client_pk, event_type=RU, rty="domestic-payment",
                             rid=f"pay-{n}", path=f"/pisp/domestic-payments/pay-{n}",
                             now=platform.clock.now())
        uow.commit()
    return jti, time.time()


def publisher_main(url, redis_url, instance, client_pk, numbers, rate, start_at, out) -> None:
    """One publisher process: its own app, then its share of the state changes from the
    common start time, each committed on its own (at `rate`/s overall when given)."""
    app = build_app(url, redis_url, instance)
    committed = {}
    with app.app_context():
        publish_one(app, client_pk, -1 - numbers[0])          # warm: connections, caches
        delay = start_at - time.time()
        if delay > 0:
            time.sleep(delay)
        begun = time.monotonic()
        for n in numbers:
            if rate:
                wait = begun + n / rate - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
            jti, at = publish_one(app, client_pk, n)
            committed[jti] = at
    out.send(committed)


def publish(url, redis_url, instance, client_pk: int | list[int], count: int, processes: int,
            rate: float | None = None) -> tuple[dict[str, float], int]:
    """`count` state changes from `processes` publisher processes, as fast as they go or at
    `rate`/s; returns each event's commit time (and the warm-up events to ignore). Several
    clients: publisher i publishes for client_pk[i % len(client_pk)]."""
    clients = client_pk if isinstance(client_pk, list) else [client_pk]
    ctx = mp.get_context("spawn")
    start_at = time.time() + 6.0          # the processes' imports and apps are ready by then
    pipes, procs = [], []
    for i in range(processes):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=publisher_main, args=(
            url, redis_url, instance, clients[i % len(clients)],
            list(range(i, count, processes)), rate,
            start_at, child))
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    committed: dict[str, float] = {}
    for pipe in pipes:
        committed.update(pipe.recv())
    for proc in procs:
        proc.join()
    return committed, processes


def start_workers(n: int, env: dict, logs: Path) -> list[subprocess.Popen]:
    workers = []
    for i in range(n):
        log = logs / f"worker-{i}-{time.monotonic_ns()}.log"
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "wsgi:celery", "worker", "--pool=solo",
             "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-n", f"bench{i}-{time.monotonic_ns()}@%h", "--loglevel=INFO"],
            cwd=ROOT, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
        worker.log = log
        workers.append(worker)
    for worker in workers:
        deadline = time.monotonic() + 120
        while " ready." not in worker.log.read_text():
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"a worker did not start:\n{worker.log.read_text()[-2000:]}")
            time.sleep(0.1)
    return workers


def stop_workers(workers) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        worker.wait(timeout=60)


def wait_arrivals(port: int, count: int, timeout: float = 600) -> list:
    deadline = time.monotonic() + timeout
    while receiver_get(port, "count") < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {receiver_get(port, 'count')} of {count} arrived")
        time.sleep(0.05)
    return receiver_get(port, "arrivals?reset")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def events_side(app, client_pk, port, workers, env, logs, args, rate=None) -> dict:
    pool = start_workers(workers, env, logs)
    cpu_before = sum(cpu_seconds(w.pid) for w in pool)
    try:
        count = int(args.rate * args.paced_seconds) if rate else args.events
        committed, warm = publish(app.config["DATABASE_URL"], args.redis,
                                  app.config["INSTANCE_PATH"], client_pk, count,
                                  args.publishers, rate)
        arrivals = wait_arrivals(port, count + warm)
        worker_cpu = sum(cpu_seconds(w.pid) for w in pool) - cpu_before
    finally:
        stop_workers(pool)
    first_202 = {}
    for jti, at in arrivals:
        if jti in committed:
            first_202.setdefault(jti, at)
    assert set(first_202) == set(committed), "an event was lost or unknown"
    latencies = [first_202[j] - committed[j] for j in committed]
    elapsed = max(first_202.values()) - min(committed.values())
    return {"side": f"events/{workers}" + (" paced" if rate else ""), "events": count,
            "pushes": len(arrivals), "seconds": round(elapsed, 3),
            "per_second": round(count / elapsed, 1),
            "published_per_second": round(count / (max(committed.values())
                                                   - min(committed.values()) or 1e-9), 1),
            "p50_ms": round(statistics.median(latencies) * 1000, 1),
            "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "max_ms": round(max(latencies) * 1000, 1),
            "worker_cpu_ms_per_event": round(worker_cpu / (count + warm) * 1000, 2)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain_side(app, client_pk, port, workers, env, logs, args) -> dict:
    """The events committed first, no worker running (their tasks wait in Redis), then the
    workers started: how fast they empty the outbox, first 202 to last."""
    committed, warm = publish(app.config["DATABASE_URL"], args.redis,
                              app.config["INSTANCE_PATH"], client_pk, args.events,
                              args.publishers)
    pool = start_workers(workers, env, logs)
    cpu_before = sum(cpu_seconds(w.pid) for w in pool)
    try:
        arrivals = wait_arrivals(port, args.events + warm)
        worker_cpu = sum(cpu_seconds(w.pid) for w in pool) - cpu_before
    finally:
        stop_workers(pool)
    times = sorted(at for jti, at in arrivals if jti in committed)
    assert len(times) == len(committed), "an event was lost"
    elapsed = times[-1] - times[0]
    return {"side": f"drain/{workers}", "events": args.events, "pushes": len(arrivals),
            "seconds": round(elapsed, 3), "per_second": round((len(times) - 1) / elapsed, 1),
            "worker_cpu_ms_per_event": round(worker_cpu / (args.events + warm) * 1000, 2)}


def mixed_side(app, fast_pks, slow_pk, port, workers, env, logs, args) -> dict:
    """Fairness: the slow TPP's events committed first, then the fast TPPs', no worker
    running; then the workers. The fast TPPs' events per second, first 202 to last."""
    slow_committed, slow_warm = publish(app.config["DATABASE_URL"], args.redis,
                                        app.config["INSTANCE_PATH"], slow_pk,
                                        args.slow_events, 1)
    committed, warm = publish(app.config["DATABASE_URL"], args.redis,
                              app.config["INSTANCE_PATH"], list(fast_pks), args.events,
                              len(fast_pks))
    pool = start_workers(workers, env, logs)
    try:
        deadline = time.monotonic() + 600
        while True:
            arrivals = receiver_get(port, "arrivals")
            fast = [at for jti, at in arrivals if jti in committed]
            if len(set(j for j, _ in arrivals if j in committed)) == len(committed):
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(fast)} of {len(committed)} fast events arrived")
            time.sleep(0.05)
        most = receiver_get(port, "slow")
    finally:
        stop_workers(pool)
    receiver_get(port, "arrivals?reset")
    slow_done = sum(1 for jti, at in arrivals if jti in slow_committed)
    elapsed = max(fast) - min(fast)
    return {"side": f"mixed/{workers}", "tpps": len(fast_pks) + 1, "slow_ms": args.slow_ms,
            "events": len(committed), "per_second": round((len(fast) - 1) / elapsed, 1),
            "seconds": round(elapsed, 3), "slow_events": args.slow_events,
            "slow_delivered_meanwhile": slow_done, "slow_most_in_flight": most}


def reset_outbox(app, redis_url: str) -> None:
    """Between mixed sides: what the slow TPP still waits for is settled, its tasks dropped."""
    import redis
    from sqlalchemy import update

    from aspsp.events.models import EventNotification
    with app.extensions["aspsp"].uow() as uow:
        uow.session.execute(update(EventNotification).where(
            EventNotification.status == "Pending").values(status="Acknowledged",
                                                          next_attempt_at=None))
        uow.commit()
    redis.Redis.from_url(redis_url).flushdb()


def bare_sender(url: str, bodies: list[bytes], keep_alive: bool, out) -> None:
    from aspsp import outbound
    policy = outbound.policy_from_config({"SANDBOX_ENABLED": True}, deadline=10,
                                         max_bytes=16 * 1024, keep_alive=keep_alive)
    for body in bodies:
        outbound.post(url, body, policy=policy, headers={
            "Content-Type": "application/jwt", "x-fapi-interaction-id": "bench"})
    out.send(True)


def bare_side(app, port, url, senders, args, keep_alive: bool = True) -> dict:
    import uuid

    from aspsp.events import domain, services
    platform = app.extensions["aspsp"]
    now = platform.clock.now()
    with app.app_context(), platform.uow() as uow:
        key, kid = services._signer(uow, now)
        bodies = []
        for n in range(args.events):
            subject = domain.Subject(f"pay-{n}", "domestic-payment", (
                ("v3.1", f"{ISSUER}/open-banking/v3.1/pisp/domestic-payments/pay-{n}"),))
            claims = domain.set_claims(issuer=ISSUER, audience="bench", jti=str(uuid.uuid4()),
                                       txn=str(uuid.uuid4()), subject=subject,
                                       event_type=RU, toe=now, iat=now)
            bodies.append(services._compact(claims, key, kid).encode())
    ctx = mp.get_context("fork")
    pipes, procs = [], []
    started = time.time()
    for i in range(senders):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=bare_sender, args=(url, bodies[i::senders], keep_alive,
                                                     child))
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for pipe in pipes:
        pipe.recv()
    for proc in procs:
        proc.join()
    arrivals = wait_arrivals(port, args.events)
    elapsed = max(at for _, at in arrivals) - started
    return {"side": f"bare/{senders}" + ("" if keep_alive else " close"),
            "events": args.events, "pushes": len(arrivals),
            "seconds": round(elapsed, 3), "per_second": round(args.events / elapsed, 1)}


def main(argv=None) -> int:
    args = parse_args(argv)
    import redis

    from aspsp.keyring import new_key_setting
    os.environ.setdefault("KEY_ENCRYPTION_KEY", new_key_setting("bench"))
    worker_counts = [int(n) for n in args.workers.split(",")]
    load = [Path("/proc/loadavg").read_text().split()[:3]]
    url = create_database(args.server, "bench_events")
    instance = tempfile.mkdtemp(prefix="bench-events-")
    ctx = mp.get_context("spawn")
    port_in, port_out = ctx.Pipe()
    receiver = ctx.Process(target=receiver_main, args=(port_out,), daemon=True)
    receiver.start()
    port = port_in.recv()
    callback = f"http://127.0.0.1:{port}/open-banking/v3.1/event-notifications"
    redis.Redis.from_url(args.redis).flushdb()
    env = {**os.environ, "DATABASE_URL": url, "CELERY_BROKER_URL": args.redis,
           "ISSUER": ISSUER, "INSTANCE_PATH": instance, "SECRET_KEY": "bench",
           "CELERY_ALWAYS_EAGER": "false", "LOG_LEVEL": "WARNING", "REDIS_URL": ""}
    results: list[dict] = []
    try:
        app = build_app(url, args.redis, instance)
        client_pk = subscribe(app, callback)
        sides = [("bare", max(worker_counts)), ("bare-close", max(worker_counts))] + \
            [("events", n) for n in worker_counts] + \
            [("drain", n) for n in worker_counts]
        for round_no in range(args.rounds):
            order = sides if round_no % 2 == 0 else list(reversed(sides))
            for kind, n in order:
                if kind.startswith("bare"):
                    result = bare_side(app, port, callback, n, args,
                                       keep_alive=kind == "bare")
                elif kind == "drain":
                    result = drain_side(app, client_pk, port, n, env, Path(instance), args)
                else:
                    result = events_side(app, client_pk, port, n, env, Path(instance), args)
                result["round"] = round_no + 1
                results.append(result)
                print(json.dumps(result), flush=True)
        for n in worker_counts:
            result = events_side(app, client_pk, port, n, env, Path(instance), args,
                                 rate=args.rate)
            results.append(result)
            print(json.dumps(result), flush=True)
        if args.tpps > 1:
            fast_pks = [client_pk] + [subscribe(app, callback) for _ in range(args.tpps - 2)]
            slow_pk = subscribe(app, callback.replace(
                "/open-banking/", f"/slow-{args.slow_ms}/open-banking/"))
            for round_no in range(args.rounds):
                for n in worker_counts:
                    reset_outbox(app, args.redis)
                    result = mixed_side(app, fast_pks, slow_pk, port, n, env, Path(instance),
                                        args)
                    result["round"] = round_no + 1
                    results.append(result)
                    print(json.dumps(result), flush=True)
    finally:
        receiver.terminate()
        if not args.keep:
            drop_database(url)
    load.append(Path("/proc/loadavg").read_text().split()[:3])
    bare = statistics.median(r["per_second"] for r in results
                             if r["side"].startswith("bare") and "close" not in r["side"])
    closing = statistics.median(r["per_second"] for r in results if "close" in r["side"])
    summary = {"bare_median_per_second": bare, "bare_close_median_per_second": closing}
    for n in worker_counts:
        burst = [r for r in results if r["side"] == f"events/{n}"]
        paced = [r for r in results if r["side"] == f"events/{n} paced"]
        median = statistics.median(r["per_second"] for r in burst)
        drains = [r for r in results if r["side"] == f"drain/{n}"]
        drained = statistics.median(r["per_second"] for r in drains)
        summary[f"events/{n}"] = {
            "median_per_second": median, "ratio_to_bare": round(median / bare, 3),
            "drain_median_per_second": drained,
            "drain_ratio_to_bare": round(drained / bare, 3),
            "drain_ratio_to_bare_close": round(drained / closing, 3),
            "burst_p50_ms": round(statistics.median(r["p50_ms"] for r in burst), 1),
            "burst_p95_ms": round(statistics.median(r["p95_ms"] for r in burst), 1),
            "worker_cpu_ms_per_event": round(statistics.median(
                r["worker_cpu_ms_per_event"] for r in burst + drains), 2),
            "paced_rate": args.rate, "paced_p50_ms": paced[0]["p50_ms"],
            "paced_p95_ms": paced[0]["p95_ms"]}
        mixed = [r for r in results if r["side"] == f"mixed/{n}"]
        if mixed:
            fair = statistics.median(r["per_second"] for r in mixed)
            summary[f"events/{n}"].update(
                mixed_fast_median_per_second=fair, mixed_ratio_to_bare=round(fair / bare, 3),
                mixed_slow_most_in_flight=max(r["slow_most_in_flight"] for r in mixed))
    report = {"benchmark": "events_delivery", "args": vars(args), "machine": machine(),
              "postgres": server_version(f"{server_url(args.server)}/postgres"),
              "load_average_before_after": load, "results": results, "summary": summary}
    print(json.dumps(summary, indent=2))
    print(f"saved {save('events_delivery', report)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
