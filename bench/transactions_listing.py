"""Latency of listing one account's 100 most recent transactions when the journal holds
1,000 postings, against the same when it holds 1,000,000. The goal is a ratio close to 1:
the listing reads an index (account, booking time, id) from its newest end and stops after
100 rows, however long the journal and the account's own history are.

    .venv/bin/python bench/transactions_listing.py [--server postgresql://postgres@127.0.0.1:5432]
        [--small 1000] [--large 1000000] [--runs 2000] [--warmup 200] [--keep]

One fresh database built from the migrations, on PostgreSQL: one measured account and 1,000
other customer accounts, opened through the ledger service. The journal is bulk-loaded with
COPY: two-posting entries that balance, the measured account on one side of every other
entry (so it holds a quarter of all postings: 250 of 1,000, then 250,000 of 1,000,000),
booking times spread at random over the past year; the cached balances are then set from the
postings, and `reconcile_balances` checks it all at the end. Each run opens a unit of work
and times `LedgerRepository.transactions(account, limit=100)`: the query and loading the 100
ORM objects. The two journals live in two databases on the same server, built the same way
(the small one is the start of the large one), ANALYZEd, and measured alternately, one
listing of each in turn, so that noise from the rest of the machine falls on both alike.
"""
from __future__ import annotations

import argparse
import io
import random
import statistics
import sys
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from common import DEFAULT_SERVER, create_database, drop_database, machine, save, server_version
from sqlalchemy import event, text

from aspsp.db import Database, make_engine
from aspsp.ledger import services
from aspsp.ledger.models import Party
from aspsp.ledger.repository import LedgerRepository

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
YEAR_US = int(timedelta(days=365).total_seconds() * 1_000_000)
COUNTERPARTIES = 1000
CHUNK = 100_000  # postings per COPY


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--small", type=int, default=1_000, help="postings in the small journal")
    parser.add_argument("--large", type=int, default=1_000_000, help="postings in the large one")
    parser.add_argument("--runs", type=int, default=2000, help="measured listings per size")
    parser.add_argument("--warmup", type=int, default=200, help="listings not measured")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args()


def open_accounts(db: Database) -> tuple[int, list[int]]:
    """The measured account's row id and the other accounts' row ids."""
    pks = []
    with db.uow() as uow:
        for n in range(COUNTERPARTIES + 1):
            party = Party(party_id=f"bench-party-{n}", party_number=str(n), party_type="Sole",
                          kind="person", name=f"Customer {n}", full_legal_name=f"Customer {n}",
                          addresses=[], created_at=NOW)
            uow.session.add(party)
            account = services.open_account(uow, services.NewAccount(
                currency="GBP", name=f"Customer {n}", account_type="Personal",
                account_sub_type="CurrentAccount", sort_code="401234",
                account_number=f"{n + 10_000_000:08d}", opening_date=date(2025, 1, 1),
                # room for any random walk of the bulk-loaded journal
                credit_limit=Decimal("100000000"), credit_line_type="Pre-Agreed"),
                [(party, "UK.OBIE.Principal")], now=NOW)
            pks.append(account.id)
        uow.commit()
    return pks[0], pks[1:]


def _copy(cursor, table: str, columns: str, rows: io.StringIO) -> None:
    rows.seek(0)
    cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN", rows)


def load_journal(db: Database, target: int, others: list[int], postings: int,
                 rng: random.Random) -> None:
    """Append `postings` postings (postings / 2 balanced entries) with COPY."""
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("SELECT coalesce(max(id), 0) FROM journal_entries")
        entry_pk = cursor.fetchone()[0]
        cursor.execute("SELECT coalesce(max(id), 0) FROM postings")
        posting_pk = cursor.fetchone()[0]
        remaining = postings // 2
        while remaining:
            batch = min(remaining, CHUNK // 2)
            entries, lines = io.StringIO(), io.StringIO()
            for _ in range(batch):
                entry_pk += 1
                at = (NOW - timedelta(microseconds=rng.randrange(YEAR_US))).isoformat()
                if entry_pk % 2:
                    debtor, creditor = (target, rng.choice(others)) if rng.random() < 0.5 \
                        else (rng.choice(others), target)
                else:
                    debtor, creditor = rng.sample(others, 2)
                amount = rng.randint(1, 50_000)
                entries.write(f"{entry_pk}\tbench-e{entry_pk}\tinternal-transfer\t"
                              f"Bench transfer\t{at}\n")
                for account, signed, code in ((debtor, -amount, "IssuedCreditTransfers"),
                                              (creditor, amount, "ReceivedCreditTransfers")):
                    posting_pk += 1
                    lines.write(f"{posting_pk}\tbench-t{posting_pk}\t{entry_pk}\t{account}\t"
                                f"{signed}\tGBP\tBooked\t{at}\t{at}\tREF{entry_pk}\t"
                                f"Customer transfer\t{code}\tDomesticCreditTransfer\tFPS\n")
            _copy(cursor, "journal_entries", "id, entry_id, kind, description, created_at",
                  entries)
            _copy(cursor, "postings", "id, transaction_id, entry_pk, account_pk, amount_minor, "
                  "currency, status, booking_datetime, value_datetime, transaction_reference, "
                  "transaction_information, iso_code, iso_subcode, proprietary_code", lines)
            remaining -= batch
        for table in ("journal_entries", "postings"):
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                           f"(SELECT max(id) FROM {table}))")
        # The cached balances follow the postings, as post_entry would have kept them.
        cursor.execute("""
            UPDATE accounts SET booked_minor = sums.booked
            FROM (SELECT account_pk, sum(amount_minor) AS booked FROM postings
                  WHERE status = 'Booked' GROUP BY account_pk) AS sums
            WHERE accounts.id = sums.account_pk AND accounts.kind = 'customer'""")
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()


def count(db: Database, target: int) -> tuple[int, int]:
    with db.engine.connect() as connection:
        return (connection.execute(text("SELECT count(*) FROM postings")).scalar_one(),
                connection.execute(text("SELECT count(*) FROM postings WHERE account_pk = :a"),
                                   {"a": target}).scalar_one())


def plan(db: Database, target: int) -> str:
    """EXPLAIN ANALYZE of the very statement LedgerRepository.transactions sends."""
    sent = []

    def capture(_conn, _cursor, statement, parameters, _context, _many):
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        with db.uow() as uow:
            LedgerRepository(uow.session).transactions(target, limit=100)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    statement, parameters = next((s, p) for s, p in sent if "FROM postings" in s)
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + statement, parameters)
        return "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.rollback()
        raw.close()


def listing_ms(db: Database, target: int) -> float:
    with db.uow() as uow:
        repo = LedgerRepository(uow.session)
        start = time.perf_counter()
        rows = repo.transactions(target, limit=100)
        elapsed = time.perf_counter() - start
    if len(rows) != 100:
        raise SystemExit(f"expected 100 transactions, got {len(rows)}")
    return elapsed * 1000


def measure(journals: dict[str, tuple[Database, int]], runs: int, warmup: int) -> dict:
    """Listings alternate between the journals, so whatever else the machine is doing
    weighs on both alike."""
    samples: dict[str, list[float]] = {label: [] for label in journals}
    for n in range(warmup + runs):
        order = list(journals) if n % 2 else list(reversed(journals))
        for label in order:
            elapsed = listing_ms(*journals[label])
            if n >= warmup:
                samples[label].append(elapsed)
    summary = {}
    for label, values in samples.items():
        values.sort()
        summary[label] = {"runs": runs, "p50_ms": statistics.median(values),
                          "p99_ms": values[min(len(values) - 1, int(len(values) * 0.99))],
                          "mean_ms": statistics.fmean(values)}
    return summary


def main() -> int:
    args = parse_args()
    sizes = {"small": args.small, "large": args.large}
    journals: dict[str, tuple[Database, int]] = {}
    loaded: dict[str, dict] = {}
    try:
        for label, size in sizes.items():
            url = create_database(args.server, f"bench_listing_{label}")
            db = Database(url, engine=make_engine(url))
            target, others = open_accounts(db)
            journals[label] = (db, target)
            started = time.perf_counter()
            load_journal(db, target, others, size, random.Random(20260615))
            total, own = count(db, target)
            loaded[label] = {"postings": total, "account_postings": own,
                             "load_s": time.perf_counter() - started}
            print(f"{label}: {total:,} postings ({own:,} of the measured account), loaded in "
                  f"{loaded[label]['load_s']:.1f}s", flush=True)
        print(f"measuring {args.runs} listings of each (after {args.warmup} unmeasured), "
              "alternating", flush=True)
        timings = measure(journals, args.runs, args.warmup)
        results, problems = {}, 0
        for label, (db, target) in journals.items():
            with db.uow() as uow:
                problems += len(services.reconcile_balances(uow))
            results[label] = {**loaded[label], **timings[label], "plan": plan(db, target)}
        version = server_version(journals["large"][0].url)
    finally:
        for db, _ in journals.values():
            db.engine.dispose()
            if not args.keep:
                drop_database(db.url)
    small, large = results["small"], results["large"]
    ratio = {"p50": large["p50_ms"] / small["p50_ms"], "p99": large["p99_ms"] / small["p99_ms"]}
    for label, r in results.items():
        print(f"{label:>5}: {r['postings']:>9,} postings   p50 {r['p50_ms']:.3f} ms   "
              f"p99 {r['p99_ms']:.3f} ms   mean {r['mean_ms']:.3f} ms")
    print(f"ratio large / small: p50 {ratio['p50']:.2f}   p99 {ratio['p99']:.2f}")
    print(f"plan with the large journal:\n{large['plan']}")
    print(f"ledger reconciliation: {'no problems' if not problems else f'{problems} PROBLEMS'}")
    result = {"benchmark": "transactions_listing", "machine": machine(), "postgresql": version,
              "small": small, "large": large, "ratio": ratio, "reconciliation_problems": problems}
    print(f"saved {save('transactions_listing', result)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
