"""End-to-end domestic payments per second, with p50/p99 latency, over HTTP under gunicorn on
PostgreSQL (an authorised consent, a signed POST /open-banking/v3.1/pisp/domestic-payments,
settlement completed), against pgbench's TPC-B-like script on the same PostgreSQL server in
the same run.

    .venv/bin/python bench/pis_payments.py [--server postgresql://postgres@127.0.0.1:5432]
        [--clients 8] [--workers 4] [--threads 4] [--rounds 3] [--duration 15] [--warmup 2]
        [--per-side 300] [--sides internal,outbound] [--redis redis://127.0.0.1:6379/12]
        [--pgbench-jobs 2] [--keep]
    .venv/bin/python bench/pis_payments.py --profile 200 [--sql]   # cProfile, in-process

Setup (not timed): a fresh database from the migrations; payers with funded accounts; payees
that are the bank's own customers (sort code 401234); a PISP client with its signing key
and DPoP key; for every payment to be made, a domestic payment consent created through the
PIS service (the same call the POST /domestic-payment-consents view makes), authorised by
its customer through consent.services.authorise (the approval journey is not what is
measured) and an authorization-code access token bound to the DPoP key. Then gunicorn
(`wsgi:app`, gthread workers, keep-alive) with CELERY_ALWAYS_EAGER: the execution task the
submission sends after its commit runs in the same worker before the response is written,
so the POST's latency is submission to settlement: for an internal payment the ledger
transfer, for an outbound one the simulated Faster Payments scheme and the booking of its
result.

Sides: `internal` (payees are the bank's customers) and `outbound` (the payee at another
bank, through the simulated scheme), each `--clients` client processes that each POST their
share of the consents (x-jws-signature over the exact body, a fresh DPoP proof and
x-idempotency-key per request, made before the request's clock starts) on a kept-alive
connection until `--duration` seconds have passed or their consents are used up; pgbench
-c CLIENTS -j JOBS -T DURATION on its own database. The sides alternate for `--rounds`
rounds, in reverse order every other round. After every payments side, every order it made
is read back from the database: the report counts those AcceptedSettlementCompleted, and
`reconcile_balances` checks the ledger at the end. Each payments side also reports the CPU
its gunicorn workers and its database's PostgreSQL backends used per payment (from /proc),
and each pgbench run about how much CPU its backends used per transaction, so that what a
payment costs can be compared whatever else the machine is doing.

--profile counts the statements of each kind of payment (--sql prints those of one of each)
and saves the raw cProfile data in bench/results/pis_payments.pstats.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import signal
import socket
import subprocess
import statistics
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import (DEFAULT_SERVER, ROOT, create_database, drop_database, machine,  # noqa: E402
                    save, server_version)

PAYMENTS = "/open-banking/v3.1/pisp/domestic-payments"
OUTSIDE_PAYEE = {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                 "Identification": "20000012345678", "Name": "ACME Ltd"}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn gthread workers")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=15.0,
                        help="seconds measured per side per round (pgbench: -T, an integer)")
    parser.add_argument("--warmup", type=float, default=2.0,
                        help="payments seconds not measured at the start of each side")
    parser.add_argument("--per-side", type=int, default=300,
                        help="authorised consents made for each payments side of each round")
    parser.add_argument("--payers", type=int, default=40)
    parser.add_argument("--sides", default="internal,outbound")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/12",
                        help="REDIS_URL of the app (DPoP and idempotency replay caches)")
    parser.add_argument("--pgbench-jobs", type=int, default=2)
    parser.add_argument("--pgbench-scale", type=int, default=1)
    parser.add_argument("--profile", type=int, default=0,
                        help="instead: cProfile this many payments in-process (Flask test client)")
    parser.add_argument("--sql", action="store_true",
                        help="with --profile: print the statements of one payment of each kind")
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    return parser.parse_args(argv)


# --- the bank --------------------------------------------------------------------------------
def build_bank(url: str, payers: int) -> dict:
    """Payers (funded), payees (the bank's own customers), the PISP; ids for the consents."""
    from jwcrypto import jwk

    from aspsp.db import Database
    from aspsp.identity.models import PsuUser
    from aspsp.ids import new_id
    from aspsp.ledger import models, services
    from aspsp.ledger.domain import transfer_lines
    from aspsp.oauth.models import OAuthClient

    db = Database(url)
    now = datetime.now(timezone.utc)
    people, payees = [], []
    with db.uow() as uow:
        services.ensure_internal_accounts(uow, "GBP", now=now)
        capital = services.internal_account_id(uow, services.BANK_CAPITAL, "GBP")
        for n in range(2 * payers):
            party = models.Party(party_id=new_id(), party_number=str(20_000_000 + n),
                                 party_type="Sole", kind="person", name=f"Customer {n}",
                                 full_legal_name=f"Customer {n}",
                                 legal_structure="UK.OBIE.Individual", addresses=[],
                                 created_at=now)
            uow.session.add(party)
            uow.session.flush()
            number = f"{30_000_000 + n:08d}"
            account = services.open_account(uow, services.NewAccount(
                currency="GBP", name=f"Customer {n}", account_type="Personal",
                account_sub_type="CurrentAccount", sort_code="401234", account_number=number,
                opening_date=now.date()), [(party, "UK.OBIE.Principal")], now=now)
            if n < payers:
                services.post_entry(uow, transfer_lines(
                    capital, account.account_id, services.from_minor(100_000_000, "GBP")),
                    kind="funding", now=now)
                psu = PsuUser(psu_id=new_id(), username=f"bench-payer-{n}", password_hash="x",
                              totp_secret="JBSWY3DPEHPK3PXP", party_pk=party.id,
                              failed_attempts=0, created_at=now)
                uow.session.add(psu)
                uow.session.flush()
                people.append((psu.id, account.id))
            else:
                payees.append({"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                               "Identification": f"401234{number}", "Name": f"Customer {n}"})
        signing = jwk.JWK.generate(kty="EC", crv="P-256", kid=uuid.uuid4().hex)
        dpop = jwk.JWK.generate(kty="EC", crv="P-256")
        public = {**json.loads(signing.export_public()), "use": "sig", "alg": "ES256"}
        client = OAuthClient(
            client_id=new_id(), software_id="bench-pis", org_id="bench-org",
            client_name="Bench PISP", profile="fapi2", roles=["PISP"], software_statement="",
            created_at=now, updated_at=now, client_metadata={
                "redirect_uris": ["https://bench.example/cb"], "response_types": ["code"],
                "token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "ES256",
                "grant_types": ["authorization_code", "client_credentials"],
                "scope": "openid payments", "jwks": {"keys": [public]}})
        uow.session.add(client)
        uow.session.flush()
        uow.commit()
        bank = {"client_pk": client.id, "people": people, "payees": payees,
                "signing_key": signing.export_private(), "dpop_key": dpop.export_private(),
                "iss": f"{client.org_id}/{client.software_id}"}
    db.engine.dispose()
    return bank


def make_journeys(url: str, bank: dict, count: int, side: str, tag: str) -> list[dict]:
    """`count` consents, authorised, each with its customer's token: what a client posts."""
    from jwcrypto import jwk
    from sqlalchemy import select

    from aspsp.db import Database
    from aspsp.identity.models import PsuUser
    from aspsp.oauth import tokens
    from aspsp.oauth.models import OAuthClient
    from aspsp.pis import services as pis
    from consent import services as consents
    from consent.models import Consent

    db = Database(url)
    now = datetime.now(timezone.utc)
    thumbprint = jwk.JWK.from_json(bank["dpop_key"]).thumbprint()
    journeys = []
    with db.uow() as uow:
        client = uow.session.get(OAuthClient, bank["client_pk"])
        psus = {pk: uow.session.get(PsuUser, pk) for pk, _ in bank["people"]}
        for n in range(count):
            psu_pk, account_pk = bank["people"][n % len(bank["people"])]
            creditor = OUTSIDE_PAYEE if side == "outbound" else \
                bank["payees"][n % len(bank["payees"])]
            body = {"Data": {"Initiation": {
                "InstructionIdentification": f"{tag}-{n}",
                "EndToEndIdentification": f"bench-{tag}-{n}",
                "InstructedAmount": {"Amount": f"{1 + n % 50}.{n % 100:02d}", "Currency": "GBP"},
                "CreditorAccount": dict(creditor),
                "RemittanceInformation": {"Reference": f"BENCH {n}"}}},
                "Risk": {"PaymentContextCode": "EcommerceGoods"}}
            view = pis.create_consent(uow, client, pis.DOMESTIC_PAYMENT, body, body, now)
            consent_id = view.record.consent_id
            consent = uow.session.scalars(select(Consent).where(
                Consent.consent_id == consent_id)).one()
            consents.authorise(uow, consent, psus[psu_pk], [account_pk], now)
            issued = tokens.issue_tokens(uow, client=client, grant_type="authorization_code",
                                         scope="payments", now=now, ttl=6 * 3600,
                                         consent_pk=consent.id, psu_pk=psu_pk,
                                         cnf_jkt=thumbprint)
            submission = {"Data": {"ConsentId": consent_id,
                                   "Initiation": body["Data"]["Initiation"]},
                          "Risk": body["Risk"]}
            journeys.append({"token": issued.access_token,
                             "body": json.dumps(submission).encode()})
        uow.commit()
    db.engine.dispose()
    return journeys


def settled_counts(url: str, since: datetime) -> dict:
    """The status of every payment order created since `since` (one payments side), as GET
    /domestic-payments/{id} reports it: the ledger payment's once the order has one."""
    from sqlalchemy import func, select

    from aspsp.db import Database
    from aspsp.ledger.models import Payment
    from aspsp.pis.models import PaymentOrder

    db = Database(url)
    try:
        with db.uow() as uow:
            status = func.coalesce(Payment.status, PaymentOrder.status)
            rows = uow.session.execute(
                select(status, func.count())
                .select_from(PaymentOrder)
                .outerjoin(Payment, Payment.id == PaymentOrder.ledger_payment_pk)
                .where(PaymentOrder.created_at >= since).group_by(status)).all()
            return {str(value): n for value, n in rows}
    finally:
        db.engine.dispose()


# --- the server ------------------------------------------------------------------------------
def start_server(args, url: str, port: int):
    env = {"DATABASE_URL": url, "ISSUER": f"http://127.0.0.1:{port}",
           "REDIS_URL": args.redis, "CELERY_ALWAYS_EAGER": "1", "SECRET_KEY": "bench",
           "SANDBOX_ENABLED": "1", "LOG_LEVEL": "WARNING",
           "INSTANCE_PATH": f"/tmp/aspsp-bench-pis-{port}"}
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--chdir", str(ROOT), "--workers",
         str(args.workers), "--worker-class", "gthread", "--threads", str(args.threads),
         "--keep-alive", "75", "--bind", f"127.0.0.1:{port}", "--backlog", "2048",
         "--log-level", "warning", "wsgi:app"],
        env={**os.environ, **env}, start_new_session=True)
    deadline = time.time() + 300           # workers import the app: slow on a loaded machine
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health/live")
            connection.getresponse().read()
            return process
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise RuntimeError("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- the clients -----------------------------------------------------------------------------
def _signer(bank: dict, base: str):
    from jwcrypto import jwk, jws
    from jwcrypto.common import json_encode

    from aspsp import ob_signing
    from aspsp.oauth.dpop import b64url_sha256
    key = jwk.JWK.from_json(bank["signing_key"])
    dpop = jwk.JWK.from_json(bank["dpop_key"])
    header = json_encode({"typ": "dpop+jwt", "alg": "ES256",
                          "jwk": json.loads(dpop.export_public())})
    htu = f"{base}{PAYMENTS}"

    def headers(journey: dict) -> dict:
        claims = {"jti": uuid.uuid4().hex, "htm": "POST", "htu": htu, "iat": int(time.time()),
                  "ath": b64url_sha256(journey["token"])}
        proof = jws.JWS(json_encode(claims))
        proof.add_signature(dpop, alg="ES256", protected=header)
        return {"Authorization": f"DPoP {journey['token']}",
                "DPoP": proof.serialize(compact=True),
                "Content-Type": "application/json", "Accept": "application/json",
                "x-idempotency-key": uuid.uuid4().hex,
                "x-fapi-interaction-id": str(uuid.uuid4()),
                "x-fapi-customer-ip-address": "198.51.100.7",
                "x-jws-signature": ob_signing.sign_detached(
                    journey["body"], key, kid=key.get("kid"), alg="ES256", iss=bank["iss"],
                    tan="127.0.0.1", now=datetime.now(timezone.utc))}
    return headers


def client(port: int, bank: dict, journeys: list[dict], warmup: float, duration: float,
           barrier, results) -> None:
    make = _signer(bank, f"http://127.0.0.1:{port}")
    barrier.wait()
    started_at = time.time()
    warm_until, until = started_at + warmup, started_at + warmup + duration
    latencies, errors, statuses, first_error = [], 0, {}, None
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    end = started_at
    for journey in journeys:
        now = time.time()
        if now >= until:
            break
        headers = make(journey)           # proof and signature: before the clock starts
        started = time.perf_counter()
        try:
            connection.request("POST", PAYMENTS, body=journey["body"], headers=headers)
            response = connection.getresponse()
            body = response.read()
        except (http.client.HTTPException, OSError):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            errors += 1
            continue
        elapsed = time.perf_counter() - started
        end = time.time()
        if response.will_close:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        if response.status == 201:
            status = json.loads(body)["Data"]["Status"]
            statuses[status] = statuses.get(status, 0) + 1
            if now >= warm_until:
                latencies.append(elapsed)
        else:
            errors += 1
            first_error = first_error or body[:300].decode(errors="replace")
    connection.close()
    # Measured window: from the end of the warm-up to the client's last response.
    results.put((latencies, errors, statuses, max(0.0, min(end, until) - warm_until),
                 first_error))


def _cpu_by_pid(pids) -> dict[int, float]:
    """Seconds of CPU (user and system) each live process of `pids` has used."""
    tick, found = os.sysconf("SC_CLK_TCK"), {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        found[pid] = (int(fields[11]) + int(fields[12])) / tick
    return found


def _workers(server) -> list[int]:
    """The gunicorn workers: the children of its arbiter."""
    path = Path(f"/proc/{server.pid}/task/{server.pid}/children")
    return [int(pid) for pid in path.read_text().split()] if path.exists() else []


def _backends(url: str) -> list[int]:
    """The PostgreSQL backends connected to the benchmark's database (the workers' pools)."""
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.scalars(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")))
    finally:
        engine.dispose()


def _cpu_used(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(seconds - before.get(pid, 0.0) for pid, seconds in after.items())


def pgbench_with_cpu(pg_url: str, pgbench_args: argparse.Namespace) -> dict:
    """pgbench's tps, and about how much CPU its PostgreSQL backends used a transaction:
    read a second before the end (the backends are gone after it), over the transactions
    made by then at the run's rate."""
    import threading

    from ledger_transfers import pgbench_tps
    result: dict = {}
    runner = threading.Thread(target=lambda: result.update(pgbench_tps(pg_url, pgbench_args)))
    started = time.perf_counter()
    runner.start()
    time.sleep(max(0.5, pgbench_args.duration - 1.0))
    cpu = sum(_cpu_by_pid(_backends(pg_url)).values())
    elapsed = time.perf_counter() - started
    runner.join()
    if result.get("tps"):
        result["postgres_cpu_ms"] = round(1000 * cpu / (result["tps"] * elapsed), 2)
    return result


def run_side(args, port: int, bank: dict, journeys: list[dict], server=None,
             url: str | None = None) -> dict:
    """One payments side; with `server` and `url`, also the CPU its gunicorn workers and
    its PostgreSQL backends used per payment made (warm-up included: every 201)."""
    cpu_before = (_cpu_by_pid(_workers(server)), _cpu_by_pid(_backends(url))) \
        if server is not None else None
    context = mp.get_context("fork")
    barrier = context.Barrier(args.clients)
    results = context.Queue()
    share = [journeys[i::args.clients] for i in range(args.clients)]
    processes = [context.Process(target=client, args=(
        port, bank, share[i], args.warmup, args.duration, barrier, results))
        for i in range(args.clients)]
    for process in processes:
        process.start()
    collected = [results.get() for _ in processes]
    for process in processes:
        process.join()
    latencies = sorted(x for c in collected for x in c[0])
    window = max(c[3] for c in collected) or args.duration
    statuses: dict[str, int] = {}
    for c in collected:
        for k, v in c[2].items():
            statuses[k] = statuses.get(k, 0) + v
    first_error = next((c[4] for c in collected if c[4]), None)
    made = sum(statuses.values())
    cpu = {}
    if cpu_before is not None and made:
        cpu = {"worker_cpu_ms": round(1000 * _cpu_used(
                   cpu_before[0], _cpu_by_pid(_workers(server))) / made, 1),
               "postgres_cpu_ms": round(1000 * _cpu_used(
                   cpu_before[1], _cpu_by_pid(_backends(url))) / made, 1)}
    return {**cpu, "payments": len(latencies), "errors": sum(c[1] for c in collected),
            "window_s": round(window, 2), "per_s": len(latencies) / window,
            "exhausted": window < args.duration - 0.5, "response_statuses": statuses,
            "first_error": first_error,
            "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None}


# --- profile ---------------------------------------------------------------------------------
PHASES = {
    "flask/app.py:wsgi_app": "the whole request",
    "consent/gate.py:gated": "everything under the consent gate",
    "aspsp/ob_signing.py:verified": "under the x-jws-signature check",
    "aspsp/idempotency.py:guarded": "under the idempotency key's claim",
    "pis/views.py:create_payment": "the view",
    "pis/services.py:submit_order": "the order, the consent consumed",
    "aspsp/db.py:commit": "commits, with the eager tasks run after them",
    "pis/tasks.py:execute_payment_order": "executing the order (eager task)",
    "pis/services.py:execute_order": "the order through the ledger",
    "ledger/services.py:pay": "ledger.pay",
    "ledger/tasks.py:settle_payment_task": "settlement (eager task; outbound only)",
    "ledger/services.py:book_settlement": "booking the scheme's result",
    "engine/base.py:execute": "every SQL statement, with SQLAlchemy's execution",
    "orm/session.py:flush": "ORM flushes",
}
BASE = "http://127.0.0.1"          # the profile's issuer and test-client base URL


def profile(args) -> int:
    """cProfile of `--profile` payments (outbound and internal alternating) through the
    Flask test client in this process, Celery eager: where a payment's time goes."""
    import cProfile
    import io
    import pstats

    from sqlalchemy import event

    from aspsp import request_log
    from bank import create_app
    url = create_database(args.server, "bench_pis_profile")
    try:
        bank = build_bank(url, 10)
        half = args.profile // 2
        journeys = [j for pair in zip(
            make_journeys(url, bank, half, "internal", "pi"),
            make_journeys(url, bank, args.profile - half, "outbound", "po")) for j in pair]
        app = create_app({"DATABASE_URL": url, "ISSUER": "http://127.0.0.1",
                          "REDIS_URL": args.redis, "CELERY_ALWAYS_EAGER": True,
                          "SECRET_KEY": "bench", "LOG_LEVEL": "WARNING",
                          "INSTANCE_PATH": "/tmp/aspsp-bench-pis-profile"})
        http = app.test_client()
        statements = {"internal": 0, "outbound": 0}
        kind, printing = [None], [False]    # --sql: the statements of the first two

        def count(_conn, _cursor, statement, *_):
            if kind[0] is not None:
                statements[kind[0]] += 1
                if printing[0]:
                    print(f"  [{kind[0]}] {' '.join(statement.split())[:160]}")
        event.listen(app.extensions["aspsp"].db.engine, "before_cursor_execute", count)
        make = _signer(bank, BASE)
        for journey in journeys[:10]:
            response = http.post(PAYMENTS, base_url=BASE, data=journey["body"],
                                 headers=make(journey))
            assert response.status_code == 201, response.get_data(as_text=True)
        profiler = cProfile.Profile(time.process_time)
        cpu = time.process_time()
        wall = time.perf_counter()
        for number, journey in enumerate(journeys[10:]):
            headers = make(journey)
            kind[0] = "internal" if number % 2 == 0 else "outbound"
            printing[0] = args.sql and number < 2
            if printing[0]:
                print(f"the statements of one {kind[0]} payment:")
            profiler.enable()
            response = http.post(PAYMENTS, base_url=BASE, data=journey["body"],
                                 headers=headers)
            profiler.disable()
            kind[0] = None
            assert response.status_code == 201, response.get_data(as_text=True)
        n = len(journeys) - 10
        print(f"{n} payments in-process: {1000 * (time.process_time() - cpu) / n:.1f} ms CPU "
              f"and {1000 * (time.perf_counter() - wall) / n:.1f} ms wall each "
              f"(proof and signature making included in these two, not in the profile)")
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        dump = ROOT / "bench" / "results" / "pis_payments.pstats"
        dump.parent.mkdir(exist_ok=True)
        stats.dump_stats(dump)
        print(f"raw profile: {dump}")
        total = \
            max(ct for (_, _, _, ct, _) in stats.stats.values())
        print(f"SQL statements sent: {sum(statements.values()) / n:.1f} a payment "
              f"(internal {statements['internal'] / (n - n // 2):.1f}, "
              f"outbound {statements['outbound'] / max(1, n // 2):.1f})")
        print("where a payment's CPU goes (cumulative, per payment, share of the request):")
        for (path, _, name), (_, _, _, ct, _) in sorted(
                stats.stats.items(), key=lambda item: -item[1][3]):
            label = f"{Path(path).parent.name}/{Path(path).name}:{name}"
            if label in PHASES:
                print(f"  {1000 * ct / n:7.1f} ms {100 * ct / total:5.1f} %  {label}  "
                      f"({PHASES[label]})")
        stats.sort_stats("cumulative").print_stats(45)
        stats.sort_stats("tottime").print_stats(25)
        print(out.getvalue())
        with app.app_context():      # the request log's calls, written before the drop
            request_log.flush()
        app.extensions["aspsp"].db.engine.dispose()
    finally:
        if not args.keep:
            drop_database(url)
    return 0


# --- main ------------------------------------------------------------------------------------
def main(argv=None) -> int:
    args = parse_args(argv)
    from aspsp.keyring import new_key_setting
    os.environ.setdefault("KEY_ENCRYPTION_KEY", new_key_setting("bench"))
    if args.profile:
        return profile(args)
    from ledger_transfers import pgbench_init
    sides = [s for s in args.sides.split(",") if s]
    port = free_port()
    urls, server = [], None
    load = [Path("/proc/loadavg").read_text().split()[:3]]
    try:
        url = create_database(args.server, "bench_pis")
        urls.append(url)
        print(f"building the bank and {args.rounds} x {len(sides)} x {args.per_side} "
              f"authorised consents... load {load[0]}", flush=True)
        setup = time.perf_counter()
        bank = build_bank(url, args.payers)
        journeys = {(n, side): make_journeys(url, bank, args.per_side, side, f"{side[0]}{n}")
                    for n in range(args.rounds) for side in sides}
        print(f"  setup {time.perf_counter() - setup:.0f} s", flush=True)
        pg_url = pgbench_init(args.server, args.pgbench_scale)
        urls.append(pg_url)
        server = start_server(args, url, port)
        pgbench_args = argparse.Namespace(clients=args.clients, pgbench_jobs=args.pgbench_jobs,
                                          duration=max(1, round(args.duration)))
        rounds = []
        for n in range(args.rounds):
            order = sides + ["pgbench"]
            order = order if n % 2 == 0 else order[::-1]
            measured = {}
            for side in order:
                if side == "pgbench":
                    measured[side] = pgbench_with_cpu(pg_url, pgbench_args)
                    continue
                since = datetime.now(timezone.utc)
                measured[side] = run_side(args, port, bank, journeys[(n, side)], server, url)
                measured[side]["orders"] = settled_counts(url, since)
            for side in sides:
                measured[side]["ratio"] = measured[side]["per_s"] / measured["pgbench"]["tps"]
            measured["load_average"] = Path("/proc/loadavg").read_text().split()[:3]
            rounds.append(measured)
            print(f"round {n + 1} ({' -> '.join(order)}): " + "; ".join(
                f"{s} {measured[s]['per_s']:.1f}/s p50 {measured[s]['p50_ms'] or 0:.0f} ms "
                f"p99 {measured[s]['p99_ms'] or 0:.0f} ms errors {measured[s]['errors']} "
                f"CPU a payment: workers {measured[s].get('worker_cpu_ms')} ms, "
                f"PostgreSQL {measured[s].get('postgres_cpu_ms')} ms "
                f"orders {measured[s]['orders']}"
                f"{' (consents used up)' if measured[s]['exhausted'] else ''}"
                for s in sides) + f"; pgbench {measured['pgbench']['tps']:.1f} tps "
                f"(PostgreSQL {measured['pgbench'].get('postgres_cpu_ms')} ms CPU a "
                f"transaction); "
                f"load {measured['load_average']}", flush=True)
            for s in sides:
                if measured[s]["first_error"]:
                    print(f"  {s} first error: {measured[s]['first_error']}", flush=True)
        from aspsp.db import Database
        from aspsp.ledger import services as ledger
        db = Database(url)
        with db.uow() as uow:
            problems = ledger.reconcile_balances(uow)
        db.engine.dispose()
        version = server_version(url)
    finally:
        if server is not None:
            stop(server)
        if not args.keep:
            for each in urls:
                drop_database(each)
    summary = {"pgbench_tps": round(statistics.median(r["pgbench"]["tps"] for r in rounds), 1)}
    for s in sides:
        summary[s] = {key: round(statistics.median(r[s][key] for r in rounds), 3)
                      for key in ("per_s", "p50_ms", "p99_ms", "ratio", "worker_cpu_ms",
                                  "postgres_cpu_ms") if all(key in r[s] for r in rounds)}
    result = {"benchmark": "pis_payments", "clients": args.clients, "workers": args.workers,
              "threads": args.threads, "duration_s": args.duration, "per_side": args.per_side,
              "rounds": rounds, "median": summary, "load_average_start": load[0],
              "reconciliation_problems": len(problems), "postgresql": version,
              "machine": machine(), "celery": "eager, in the gunicorn worker"}
    print(json.dumps(summary, indent=2))
    print("ledger reconciliation: "
          + ("no problems" if not problems else f"{len(problems)} PROBLEMS"))
    print(f"saved {save('pis_payments', result)}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
