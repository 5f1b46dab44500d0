"""Internal transfers per second through the ledger service, against pgbench's TPC-B-like
script on the same PostgreSQL server in the same run.

    .venv/bin/python bench/ledger_transfers.py [--server postgresql://postgres@127.0.0.1:5432]
        [--clients 8] [--processes 1] [--accounts 2000] [--duration 20] [--rounds 3]
        [--warmup 3] [--pgbench-jobs 2] [--pgbench-scale 1] [--keep]

Ledger side: a fresh database built from the migrations, `--accounts` funded customer
accounts, then `--clients` threads (split over `--processes` processes) each doing, in a loop,
one `aspsp.ledger.services.transfer` between two random accounts in its own unit of work and
commit (row locks on both accounts, the balanced entry, two postings, the payment record).
pgbench side: `pgbench -i -s SCALE` in another fresh database, then
`pgbench -c CLIENTS -j JOBS -T DURATION` (the built-in TPC-B-like script: three UPDATEs, a
SELECT and an INSERT per transaction). The two alternate for `--rounds` rounds, so that load
from elsewhere on the machine falls on both alike; the report gives each round's rates and
ratio, and the medians.
"""
from __future__ import annotations

import argparse
import multiprocessing
import random
import re
import statistics
import sys
import threading
import time
from datetime import date
from decimal import Decimal

from common import (DEFAULT_SERVER, create_database, drop_database, libpq_args, machine, run,
                    save, server_version)

from aspsp.clock import Clock
from aspsp.db import Database, make_engine
from aspsp.ledger import services
from aspsp.ledger.domain import transfer_lines
from aspsp.ledger.errors import LedgerError
from aspsp.ledger.models import Party
from aspsp.ledger.money import Money


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--processes", type=int, default=1,
                        help="spread the ledger clients over this many Python processes")
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--duration", type=int, default=20,
                        help="seconds measured per round, each side")
    parser.add_argument("--rounds", type=int, default=3,
                        help="ledger then pgbench, this many times; the report gives medians")
    parser.add_argument("--warmup", type=int, default=3, help="ledger seconds not measured")
    parser.add_argument("--pgbench-jobs", type=int, default=2)
    parser.add_argument("--pgbench-scale", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the two databases")
    return parser.parse_args()


def open_accounts(url: str, count: int) -> list[str]:
    """`count` customer accounts, each funded far beyond what the run can spend."""
    clock = Clock()
    db = Database(url, engine=make_engine(url))
    now = clock.now()
    ids = []
    with db.uow() as uow:
        services.ensure_internal_accounts(uow, "GBP", now=now)
        capital = services.internal_account_id(uow, services.BANK_CAPITAL, "GBP")
        for n in range(count):
            party = Party(party_id=f"bench-party-{n}", party_number=str(n), party_type="Sole",
                          kind="person", name=f"Customer {n}", full_legal_name=f"Customer {n}",
                          addresses=[], created_at=now)
            uow.session.add(party)
            account = services.open_account(uow, services.NewAccount(
                currency="GBP", name=f"Customer {n}", account_type="Personal",
                account_sub_type="CurrentAccount", sort_code="401234",
                account_number=f"{n + 10_000_000:08d}", opening_date=date(2025, 1, 1)),
                [(party, "UK.OBIE.Principal")], now=now)
            services.post_entry(uow, transfer_lines(capital, account.account_id,
                                                    Money.of("1000000.00", "GBP")),
                                kind="funding", now=now)
            ids.append(account.account_id)
        uow.commit()
    db.engine.dispose()
    return ids


def transfer_loop(db: Database, accounts: list[str], start: float, stop: float, seed: int,
                  counts: list[int], index: int) -> None:
    """Transfers until `stop`; counts those committed after `start` (the warm-up is free)."""
    rng = random.Random(seed)
    clock = Clock()
    done = refused = 0
    while (now := time.perf_counter()) < stop:
        debtor, creditor = rng.sample(accounts, 2)
        amount = Money.of(Decimal(rng.randint(1, 10_000)).scaleb(-2), "GBP")
        try:
            with db.uow() as uow:
                services.transfer(uow, debtor_account_id=debtor, creditor_account_id=creditor,
                                  amount=amount, now=clock.now(), reference="bench")
                uow.commit()
        except LedgerError:
            refused += 1
            continue
        if now >= start:
            done += 1
    counts[index] = done
    counts[index + 1] = refused


def run_clients(url: str, accounts: list[str], clients: int, start: float, stop: float,
                seed: int) -> tuple[int, int]:
    engine = make_engine(url, pool_size=clients, max_overflow=0)
    db = Database(url, engine=engine)
    counts = [0] * (2 * clients)
    threads = [threading.Thread(target=transfer_loop,
                                args=(db, accounts, start, stop, seed * 1000 + i, counts, 2 * i))
               for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    engine.dispose()
    return sum(counts[0::2]), sum(counts[1::2])


def _process_main(url, accounts, clients, start_in, measure, seed, queue):
    # perf_counter is not shared between processes: each gets offsets, not instants.
    now = time.perf_counter()
    queue.put(run_clients(url, accounts, clients, now + start_in, now + start_in + measure, seed))


def ledger_tps(url: str, accounts: list[str], args: argparse.Namespace, seed: int) -> dict:
    if args.processes <= 1:
        now = time.perf_counter()
        done, refused = run_clients(url, accounts, args.clients, now + args.warmup,
                                    now + args.warmup + args.duration, seed=seed)
    else:
        queue = multiprocessing.get_context("fork").Queue()
        per = [args.clients // args.processes + (i < args.clients % args.processes)
               for i in range(args.processes)]
        procs = [multiprocessing.get_context("fork").Process(
            target=_process_main,
            args=(url, accounts, n, args.warmup, args.duration, seed * 100 + i, queue))
            for i, n in enumerate(per)]
        for proc in procs:
            proc.start()
        results = [queue.get() for _ in procs]
        for proc in procs:
            proc.join()
        done, refused = sum(r[0] for r in results), sum(r[1] for r in results)
    return {"transfers": done, "refused": refused, "tps": done / args.duration}


def check_ledger(url: str) -> list:
    db = Database(url, engine=make_engine(url))
    try:
        with db.uow() as uow:
            return services.reconcile_balances(uow)
    finally:
        db.engine.dispose()


def pgbench_init(server: str, scale: int) -> str:
    url = create_database(server, "bench_pgbench", migrate=False)
    run(["pgbench", *libpq_args(url), "-i", "-q", "-s", str(scale), url.rsplit("/", 1)[1]])
    return url


def pgbench_tps(url: str, args: argparse.Namespace) -> dict:
    out = run(["pgbench", *libpq_args(url), "-c", str(args.clients), "-j", str(args.pgbench_jobs),
               "-T", str(args.duration), url.rsplit("/", 1)[1]]).stdout
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    done = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    return {"tps": tps, "transactions": done}


def main() -> int:
    args = parse_args()
    urls = []
    try:
        url = create_database(args.server, "bench_ledger")
        urls.append(url)
        print(f"ledger: opening and funding {args.accounts} accounts in {url.rsplit('/', 1)[1]}",
              flush=True)
        accounts = open_accounts(url, args.accounts)
        print(f"pgbench: -i -s {args.pgbench_scale}", flush=True)
        pg_url = pgbench_init(args.server, args.pgbench_scale)
        urls.append(pg_url)
        rounds = []
        for n in range(1, args.rounds + 1):
            ledger = ledger_tps(url, accounts, args, seed=n)
            pgbench = pgbench_tps(pg_url, args)
            rounds.append({"ledger": ledger, "pgbench": pgbench,
                           "ratio": ledger["tps"] / pgbench["tps"]})
            print(f"round {n}: ledger {ledger['tps']:8.1f} tps ({ledger['refused']} refused)   "
                  f"pgbench {pgbench['tps']:8.1f} tps   ratio {rounds[-1]['ratio']:.3f}",
                  flush=True)
        problems = check_ledger(url)
        version = server_version(url)
    finally:
        if not args.keep:
            for each in urls:
                drop_database(each)
    ledger_median = statistics.median(r["ledger"]["tps"] for r in rounds)
    pgbench_median = statistics.median(r["pgbench"]["tps"] for r in rounds)
    ratio = statistics.median(r["ratio"] for r in rounds)
    result = {"benchmark": "ledger_transfers", "machine": machine(), "postgresql": version,
              "clients": args.clients, "processes": args.processes, "accounts": args.accounts,
              "duration_s": args.duration, "rounds": rounds, "pgbench_scale": args.pgbench_scale,
              "pgbench_jobs": args.pgbench_jobs, "ledger_tps_median": ledger_median,
              "pgbench_tps_median": pgbench_median, "ratio_median": ratio,
              "reconciliation_problems": len(problems)}
    print(f"\nmedian of {args.rounds} rounds of {args.duration}s, {args.clients} clients each side:")
    print(f"  ledger transfers  {ledger_median:9.1f} tps")
    print(f"  pgbench TPC-B     {pgbench_median:9.1f} tps")
    print(f"  ratio ledger / pgbench  {ratio:.3f}")
    print(f"ledger reconciliation after the run: "
          f"{'no problems' if not problems else f'{len(problems)} PROBLEMS'}")
    print(f"saved {save('ledger_transfers', result)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
