"""Where a page of transactions spends its time, in-process: N requests through the Flask
test client against a bank built as bench/ais_transactions.py builds it, first timed without
a profiler (the CPU a request costs: the figure to compare between trees), then cProfiled.

    .venv/bin/python bench/profile_ais.py [--server postgresql://postgres@127.0.0.1:5432]
        [--requests 200] [--history 2000] [--top 25] [--sort cumulative|tottime] [--dump FILE]
"""
from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.ais_transactions import AISP, _proof_maker, build  # noqa: E402
from bench.common import DEFAULT_SERVER, create_database, drop_database  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--history", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14")
    parser.add_argument("--sort", default="cumulative", help="pstats order (tottime, ...)")
    parser.add_argument("--dump", help="also write the raw profile here (pstats, snakeviz)")
    args = parser.parse_args()
    from aspsp.keyring import new_key_setting
    os.environ.setdefault("KEY_ENCRYPTION_KEY", new_key_setting("bench"))
    from aspsp import request_log
    from bank import create_app
    issuer = "http://localhost"
    url = create_database(args.server, "bench_ais_profile")
    try:
        bank = build(url, issuer, args.history)
        app = create_app({"DATABASE_URL": url, "ISSUER": issuer, "SECRET_KEY": "bench",
                          "REDIS_URL": args.redis or None, "SANDBOX_ENABLED": False,
                          "INSTANCE_PATH": "/tmp/aspsp-bench-profile", "LOG_LEVEL": "WARNING"})
        client = app.test_client()
        path = f"{AISP}/accounts/{bank['account_id']}/transactions"
        make = _proof_maker(bank["dpop_key"])

        def get(proof):
            response = client.get(path, headers={
                "Authorization": f"DPoP {bank['token']}", "DPoP": proof,
                "x-fapi-customer-ip-address": "198.51.100.7"})
            assert response.status_code == 200, response.get_data()[:300]

        for _ in range(20):
            get(make(issuer + path, bank["token"]))

        def run(profile: cProfile.Profile | None) -> tuple[float, float, int]:
            # Proofs are made in batches just before they are used, outside the profile and
            # the clock: a proof is refused 60 s after its iat, which a loaded machine reaches.
            cpu, wall, done = 0.0, 0.0, 0
            while done < args.requests:
                batch = [make(issuer + path, bank["token"])
                         for _ in range(min(20, args.requests - done))]
                started_cpu, started = time.process_time(), time.perf_counter()
                if profile is not None:
                    profile.enable()
                for proof in batch:
                    get(proof)
                if profile is not None:
                    profile.disable()
                cpu += time.process_time() - started_cpu
                wall += time.perf_counter() - started
                done += len(batch)
            return cpu, wall, done

        load = os.getloadavg()[0]
        cpu, wall, done = run(None)
        print(f"{done} requests, not profiled: {1000 * cpu / done:.2f} ms CPU and "
              f"{1000 * wall / done:.2f} ms wall each; load average "
              f"{load:.1f} to {os.getloadavg()[0]:.1f}")
        profile = cProfile.Profile()
        cpu, wall, done = run(profile)
        print(f"{done} requests, profiled: {1000 * cpu / done:.2f} ms CPU and "
              f"{1000 * wall / done:.2f} ms wall each; load average "
              f"{os.getloadavg()[0]:.1f}")
        if args.dump:
            profile.dump_stats(args.dump)
        stats = pstats.Stats(profile).sort_stats(args.sort)
        stats.print_stats(args.top)
        with app.app_context():          # the request log's last batch, before the drop
            request_log.flush()
        app.extensions["aspsp"].db.engine.dispose()
    finally:
        drop_database(url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
