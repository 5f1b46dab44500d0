"""Requests per second and p50/p99 latency of GET /accounts/{AccountId}/transactions (a page
of 100, DPoP-bound token, the customer present) under gunicorn on PostgreSQL, with 16
concurrent clients, against a route that answers with a static JSON body of the same size,
under the same server in the same run.

    .venv/bin/python bench/ais_transactions.py [--server postgresql://postgres@127.0.0.1:5432]
        [--clients 16] [--workers 5] [--rounds 3] [--duration 15] [--warmup 3]
        [--history 2000] [--redis redis://127.0.0.1:6379/14] [--keep]

What it sets up: a fresh database from the migrations; one customer with one account and
`--history` postings spread over a year, posted through the ledger (card payments with
merchants, transfers with counterparties: the Detail payload); a TPP registered as an AISP
with a DPoP key; an Authorised account-access consent with every permission; an
authorization-code access token bound to the DPoP key. Then gunicorn (sync workers,
`--workers`) serves bench/ais_transactions_app.py: the product app plus /bench/static, whose
body is the first page exactly as the real endpoint served it a moment before.

What a client does: one process per client (so the Python GIL of the load generator is not
the bottleneck); each makes its DPoP proofs (ES256, unique jti, ath of the token) before the
clock starts, then loops: connect, GET, read the whole body, close (gunicorn's sync workers
close each connection). The static side gets the very same request headers. Latency is
measured per request in the client; requests/s is completed 200 responses over the window.
The two sides alternate for `--rounds` rounds of `--duration` seconds, each after a
`--warmup`, so that the rest of the machine falls on both alike. Any non-200 is counted and
reported.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (DEFAULT_SERVER, ROOT, create_database, drop_database,  # noqa: E402
                          machine, save, server_version)

AISP = "/open-banking/v3.1/aisp"
PROOFS_PER_CLIENT = 2500


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--server", default=DEFAULT_SERVER, help="PostgreSQL server URL")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1) + 1,
                        help="gunicorn sync workers (default 2 x cores + 1)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per side per round")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--history", type=int, default=2000, help="postings on the account")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14",
                        help="REDIS_URL of the app (replay cache); '' for in-process")
    parser.add_argument("--port", type=int, default=0, help="0: a free port")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    return parser.parse_args()


# --- the bank ----------------------------------------------------------------------------
def build(url: str, issuer: str, history: int) -> dict:
    """Customer, account and history, TPP, consent and token; what the clients need."""
    from jwcrypto import jwk
    from sqlalchemy import select

    from aspsp.db import Database
    from aspsp.identity.models import PsuUser
    from aspsp.ids import new_id
    from aspsp.ledger import models, services
    from aspsp.ledger.domain import transfer_lines
    from aspsp.oauth import tokens
    from aspsp.oauth.models import OAuthClient
    from consent import services as consents
    from consent.models import Consent
    from consent.permissions import CODES

    db = Database(url)
    rng = random.Random(1)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    start = now - timedelta(days=365)
    with db.uow() as uow:
        services.ensure_internal_accounts(uow, "GBP", now=start)
        party = models.Party(party_id=new_id(), party_number="10000001", party_type="Sole",
                             kind="person", name="Bench Customer", full_legal_name="Bench Customer",
                             legal_structure="UK.OBIE.Individual", addresses=[], created_at=start)
        uow.session.add(party)
        uow.session.flush()
        account = services.open_account(uow, services.NewAccount(
            currency="GBP", name="Bench Customer", account_type="Personal",
            account_sub_type="CurrentAccount", sort_code="401234", account_number="12345678",
            opening_date=start.date(), credit_limit=services.from_minor(100_000, "GBP").amount,
            credit_line_type="Pre-Agreed"), [(party, "UK.OBIE.Principal")], now=start)
        capital = services.internal_account_id(uow, services.BANK_CAPITAL, "GBP")
        card = services.internal_account_id(uow, services.CARD_SETTLEMENT, "GBP")
        services.post_entry(uow, transfer_lines(capital, account.account_id,
                                                services.from_minor(10_000_000, "GBP")),
                            kind="funding", now=start)
        step = timedelta(days=364) / max(1, history)
        for n in range(history - 1):
            when = start + step * (n + 1)
            pence = rng.randint(100, 9000)
            if n % 2:
                debit = {"merchant_name": "Waterstones", "merchant_category_code": "5942",
                         "transaction_information": "WATERSTONES LEEDS",
                         "card_instrument": {"CardSchemeName": "VISA", "AuthorisationType": "PIN",
                                             "Name": "BENCH CUSTOMER",
                                             "Identification": "465858******1234"},
                         "iso_code": "CustomerCardTransactions",
                         "iso_subcode": "PointOfSalePaymentDebitCard",
                         "proprietary_code": "POS", "proprietary_issuer": "InvisibleBank"}
                lines = transfer_lines(account.account_id, card,
                                       services.from_minor(pence, "GBP"), debit, {})
            else:
                credit = {"transaction_reference": f"INV-{n}", "transaction_information": "Acme Ltd",
                          "iso_code": "ReceivedCreditTransfers",
                          "iso_subcode": "DomesticCreditTransfer", "proprietary_code": "FPS",
                          "proprietary_issuer": "InvisibleBank",
                          "counterparty": {"DebtorAccount": {
                              "SchemeName": "UK.OBIE.SortCodeAccountNumber",
                              "Identification": "20000012345678", "Name": "Acme Ltd"}}}
                lines = transfer_lines(capital, account.account_id,
                                       services.from_minor(pence, "GBP"), {}, credit)
            services.post_entry(uow, lines, kind="bench", now=when)
        psu = PsuUser(psu_id=new_id(), username="bench", password_hash="x",
                      totp_secret="JBSWY3DPEHPK3PXP", party_pk=party.id, failed_attempts=0,
                      created_at=start)
        uow.session.add(psu)
        signing = jwk.JWK.generate(kty="EC", crv="P-256", kid="bench-sig")
        dpop = jwk.JWK.generate(kty="EC", crv="P-256")
        client = OAuthClient(
            client_id=new_id(), software_id="bench-ais", org_id="bench", client_name="Bench AISP",
            profile="fapi2", roles=["AISP"], software_statement="", created_at=now,
            updated_at=now, client_metadata={
                "redirect_uris": ["https://bench.example/cb"], "response_types": ["code"],
                "token_endpoint_auth_method": "private_key_jwt",
                "grant_types": ["authorization_code", "client_credentials"],
                "scope": "openid accounts",
                "jwks": {"keys": [{**json.loads(signing.export_public()), "use": "sig"}]}})
        uow.session.add(client)
        uow.session.flush()
        record = consents.create_account_access_consent(
            uow, client, consents.AccountAccessRequest(
                permissions=[c for c in CODES if c != "ReadTransactionsBasic"]), now)
        consent = uow.session.scalars(select(Consent).where(
            Consent.consent_id == record.consent_id)).one()
        consents.authorise(uow, consent, psu, [account.id], now)
        issued = tokens.issue_tokens(uow, client=client, grant_type="authorization_code",
                                     scope="accounts", now=now, ttl=6 * 3600,
                                     consent_pk=consent.id, psu_pk=psu.id,
                                     cnf_jkt=dpop.thumbprint())
        uow.commit()
        result = {"account_id": account.account_id, "token": issued.access_token,
                  "dpop_key": dpop.export_private(), "issuer": issuer}
    db.engine.dispose()
    return result


# --- the server --------------------------------------------------------------------------
def start_gunicorn(args, url: str, port: int, static_body: Path) -> subprocess.Popen:
    env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_ISSUER": f"http://127.0.0.1:{port}",
           "BENCH_REDIS_URL": args.redis, "BENCH_STATIC_BODY": str(static_body),
           "BENCH_PAGE_SIZE": "100", "LOG_LEVEL": "WARNING"}
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--chdir", str(ROOT), "--workers",
         str(args.workers), "--bind", f"127.0.0.1:{port}", "--backlog", "2048",
         "--log-level", "warning", "bench.ais_transactions_app:app"],
        env=env, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/health/live")
            connection.getresponse().read()
            return process
        except OSError:
            time.sleep(0.3)
    process.kill()
    raise RuntimeError("gunicorn did not start")


def stop(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


# --- the clients -------------------------------------------------------------------------
def _proof_maker(key_json: str):
    from jwcrypto import jwk, jws
    from jwcrypto.common import json_encode

    from aspsp.oauth.dpop import b64url_sha256
    key = jwk.JWK.from_json(key_json)
    header = json_encode({"typ": "dpop+jwt", "alg": "ES256",
                          "jwk": json.loads(key.export_public())})

    def make(url: str, token: str) -> str:
        claims = {"jti": uuid.uuid4().hex, "htm": "GET", "htu": url, "iat": int(time.time()),
                  "ath": b64url_sha256(token)}
        signed = jws.JWS(json_encode(claims))
        signed.add_signature(key, alg="ES256", protected=header)
        return signed.serialize(compact=True)
    return make


def client(port: int, path: str, real_url: str, token: str, key_json: str, warmup: float,
           duration: float, barrier, results) -> None:
    """One client process: proofs first, then requests until the window closes."""
    make = _proof_maker(key_json)
    ready = [make(real_url, token) for _ in range(PROOFS_PER_CLIENT)]
    barrier.wait()                       # every client starts at the same moment
    started_at = time.time()
    warm_until, until = started_at + warmup, started_at + warmup + duration
    latencies, errors, used, completed = [], 0, 0, 0
    while True:
        now = time.time()
        if now >= until:
            break
        proof = ready[used] if used < len(ready) else make(real_url, token)
        used += 1
        started = time.perf_counter()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", path, headers={
            "Authorization": f"DPoP {token}", "DPoP": proof, "Accept": "application/json",
            "x-fapi-customer-ip-address": "198.51.100.7",
            "x-fapi-interaction-id": str(uuid.uuid4())})
        response = connection.getresponse()
        response.read()
        connection.close()
        elapsed = time.perf_counter() - started
        completed += 1
        if now < warm_until:
            continue
        if response.status == 200:
            latencies.append(elapsed)
        else:
            errors += 1
    results.put((latencies, errors, completed))


def worker_cpu_seconds(master: int) -> float:
    """User + system CPU of gunicorn's workers (the master's children), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:                 # ppid
            total += int(fields[11]) + int(fields[12])   # utime, stime
    return total / ticks


def run_side(args, port: int, path: str, real_url: str, token: str, key_json: str,
             master: int) -> dict:
    context = mp.get_context("fork")
    barrier = context.Barrier(args.clients)
    results = context.Queue()
    processes = [context.Process(target=client, args=(
        port, path, real_url, token, key_json, args.warmup, args.duration, barrier, results))
        for _ in range(args.clients)]
    cpu_before = worker_cpu_seconds(master)
    for process in processes:
        process.start()
    collected = [results.get() for _ in processes]
    for process in processes:
        process.join()
    cpu = worker_cpu_seconds(master) - cpu_before
    latencies = sorted(x for lats, _, _ in collected for x in lats)
    errors = sum(e for _, e, _ in collected)
    completed = sum(c for _, _, c in collected)
    return {"requests": len(latencies), "errors": errors,
            "server_cpu_ms_per_request": 1000 * cpu / completed if completed else None,
            "per_s": len(latencies) / args.duration,
            "p50_ms": 1000 * statistics.median(latencies) if latencies else None,
            "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else None}


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> int:
    args = parse_args()
    port = args.port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    url = create_database(args.server, "bench_ais")
    static_body = Path(tempfile.mkdtemp(prefix="bench-ais-")) / "page.json"
    server = None
    try:
        print(f"building the bank ({args.history} postings)...", flush=True)
        bank = build(url, issuer, args.history)
        path = f"{AISP}/accounts/{bank['account_id']}/transactions"
        real_url = issuer + path
        static_body.write_bytes(b"")
        server = start_gunicorn(args, url, port, static_body)
        make = _proof_maker(bank["dpop_key"])
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        connection.request("GET", path, headers={
            "Authorization": f"DPoP {bank['token']}", "DPoP": make(real_url, bank["token"]),
            "x-fapi-customer-ip-address": "198.51.100.7"})
        response = connection.getresponse()
        body = response.read()
        assert response.status == 200, body[:500]
        page = json.loads(body)
        assert len(page["Data"]["Transaction"]) == 100, len(page["Data"]["Transaction"])
        static_body.write_bytes(body)
        print(f"a page is {len(body)} bytes; {args.rounds} rounds of {args.duration:.0f} s per "
              f"side, {args.clients} clients, {args.workers} gunicorn workers", flush=True)
        rounds = []
        for number in range(args.rounds):
            real = run_side(args, port, path, real_url, bank["token"], bank["dpop_key"],
                            server.pid)
            static = run_side(args, port, "/bench/static", real_url, bank["token"],
                              bank["dpop_key"], server.pid)
            rounds.append({"transactions": real, "static": static})
            print(f"round {number + 1}: transactions {real['per_s']:.1f}/s "
                  f"p50 {real['p50_ms']:.1f} ms p99 {real['p99_ms']:.1f} ms "
                  f"(worker CPU {real['server_cpu_ms_per_request']:.1f} ms/request); static "
                  f"{static['per_s']:.1f}/s p50 {static['p50_ms']:.1f} ms p99 "
                  f"{static['p99_ms']:.1f} ms ({static['server_cpu_ms_per_request']:.2f} ms); "
                  f"errors {real['errors']}/{static['errors']}", flush=True)
        version = server_version(url)
    finally:
        if server is not None:
            stop(server)
        if not args.keep:
            drop_database(url)

    def median(side, key):
        return statistics.median(r[side][key] for r in rounds)

    summary = {side: {key: round(median(side, key), 2)
                      for key in ("per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_request")}
               for side in ("transactions", "static")}
    summary["ratio_per_s"] = round(summary["transactions"]["per_s"]
                                   / summary["static"]["per_s"], 3)
    summary["ratio_p50"] = round(summary["transactions"]["p50_ms"]
                                 / summary["static"]["p50_ms"], 2)
    summary["ratio_per_s_by_round"] = [
        round(r["transactions"]["per_s"] / r["static"]["per_s"], 3) for r in rounds]
    summary["ratio_server_cpu"] = round(
        summary["transactions"]["server_cpu_ms_per_request"]
        / summary["static"]["server_cpu_ms_per_request"], 1)
    result = {"benchmark": "ais_transactions", "page_bytes": len(body),
              "load_average_after": Path("/proc/loadavg").read_text().split()[:3],
              "clients": args.clients, "workers": args.workers, "rounds": rounds,
              "duration_s": args.duration, "history": args.history,
              "redis": bool(args.redis), "median": summary, "postgresql": version,
              "machine": machine()}
    print(json.dumps(summary, indent=2))
    print(f"saved {save('ais_transactions', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
