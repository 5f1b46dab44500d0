"""Requests per second and p50/p99 latency of GET /accounts/{AccountId}/transactions (a page
of 100, DPoP-bound token, the customer present) under gunicorn on PostgreSQL, against two
references serving the very same bytes in the same run: a Flask route of the same app and a
bare WSGI callable in front of it (the ceiling of the server itself); optionally against the
same endpoint of an older checkout of the code (`--before-tree`), also in the same run.

    .venv/bin/python bench/ais_transactions.py [--server postgresql://postgres@127.0.0.1:5432]
        [--clients 16] [--workers 5] [--rounds 3] [--duration 15] [--warmup 3]
        [--history 2000] [--redis redis://127.0.0.1:6379/14] [--keep]
        [--before-tree /tmp/before]      # git worktree add --detach /tmp/before <commit>

What it sets up: a fresh database from the migrations; one customer with one account and
`--history` postings spread over a year, posted through the ledger (card payments with
merchants, transfers with counterparties: the Detail payload); a TPP registered as an AISP
with a DPoP key; an Authorised account-access consent with every permission; an
authorization-code access token bound to the DPoP key. Then gunicorn (sync workers,
`--workers`) serves bench/ais_transactions_app.py: the product app plus /bench/static (a
Flask route) and /bench/bare (a bare WSGI callable), whose body is the first page exactly as
the real endpoint served it a moment before. With `--before-tree`, a second gunicorn serves
the older checkout's app on the same database (its .venv may be a symlink to this one).

What a client does: one process per client (so the Python GIL of the load generator is not
the bottleneck); each makes its DPoP proofs (ES256, unique jti, ath of the token) before the
clock starts, then loops: connect, GET, read the whole body, close (gunicorn's sync workers
close each connection). The references get the very same request headers. Latency is
measured per request in the client; requests/s is completed 200 responses over the window.
The sides alternate for `--rounds` rounds of `--duration` seconds, each after a `--warmup`,
in reversed order every other round, so that the rest of the machine falls on all alike;
ratios are taken within each round, then their median. Any non-200 is counted and reported.
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
    parser.add_argument("--before-tree", default="",
                        help="a checkout of the code before a change (git worktree add ...): "
                             "its gunicorn is measured in the same run, sides alternating")
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
    # The planner's statistics, as a bank's database has them: without them (autovacuum may
    # be off, and it waits a minute anyway) PostgreSQL guesses two rows per account and sorts
    # the account's whole history for every page instead of reading the index backwards.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql("ANALYZE")
    db.engine.dispose()
    return result


# --- the server --------------------------------------------------------------------------
def start_gunicorn(args, url: str, port: int, static_body: Path, tree: Path = ROOT,
                   target: str = "bench.ais_transactions_app:application") -> subprocess.Popen:
    """gunicorn serving `target` from the source tree `tree` (ROOT, or --before-tree: the
    code before a change, so that both are measured in one run)."""
    env = {**os.environ, "BENCH_DATABASE_URL": url, "BENCH_ISSUER": f"http://127.0.0.1:{port}",
           "BENCH_REDIS_URL": args.redis, "BENCH_STATIC_BODY": str(static_body),
           "BENCH_PAGE_SIZE": "100", "LOG_LEVEL": "WARNING",
           "BENCH_INSTANCE": f"/tmp/aspsp-bench-ais-{port}"}
    process = subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "gunicorn"), "--chdir", str(tree), "--workers",
         str(args.workers), "--bind", f"127.0.0.1:{port}", "--backlog", "2048",
         "--log-level", "warning", target],
        env=env, start_new_session=True)
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


def fetch_page(port: int, path: str, bank: dict) -> bytes:
    real_url = f"http://127.0.0.1:{port}{path}"
    make = _proof_maker(bank["dpop_key"])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", path, headers={
        "Authorization": f"DPoP {bank['token']}", "DPoP": make(real_url, bank["token"]),
        "x-fapi-customer-ip-address": "198.51.100.7"})
    response = connection.getresponse()
    body = response.read()
    assert response.status == 200, body[:500]
    assert len(json.loads(body)["Data"]["Transaction"]) == 100
    return body


def main() -> int:
    args = parse_args()
    # One key-encryption key for the builder and every worker (production refuses to start
    # without one; the bank's signing keys are sealed with it when the schema is made).
    from aspsp.keyring import new_key_setting
    os.environ.setdefault("KEY_ENCRYPTION_KEY", new_key_setting("bench"))
    port = args.port or free_port()
    issuer = f"http://127.0.0.1:{port}"
    url = create_database(args.server, "bench_ais")
    static_body = Path(tempfile.mkdtemp(prefix="bench-ais-")) / "page.json"
    servers: dict[str, tuple[subprocess.Popen, int]] = {}
    try:
        print(f"building the bank ({args.history} postings)...", flush=True)
        bank = build(url, issuer, args.history)
        path = f"{AISP}/accounts/{bank['account_id']}/transactions"
        static_body.write_bytes(b"")
        servers["after"] = (start_gunicorn(args, url, port, static_body), port)
        if args.before_tree:
            before_port = free_port()
            servers["before"] = (start_gunicorn(args, url, before_port, static_body,
                                                tree=Path(args.before_tree),
                                                target="bench.ais_transactions_app:app"),
                                 before_port)
        body = fetch_page(port, path, bank)
        static_body.write_bytes(body)
        if args.before_tree:
            before_body = fetch_page(servers["before"][1], path, bank)
            before_page, after_page = json.loads(before_body), json.loads(body)
            same = {k: v for k, v in before_page.items() if k != "Links"} == \
                {k: v for k, v in after_page.items() if k != "Links"}
            print(f"before and after pages: {len(before_body)} and {len(body)} bytes, Data "
                  f"and Meta {'the same' if same else 'DIFFERENT'} (Links name each "
                  f"server's own port)", flush=True)
        sides = [("transactions", "after", path), ("flask_static", "after", "/bench/static"),
                 ("bare_wsgi", "after", "/bench/bare")]
        if args.before_tree:
            sides.append(("transactions_before", "before", path))
        print(f"a page is {len(body)} bytes; {args.rounds} rounds of {args.duration:.0f} s per "
              f"side ({', '.join(s[0] for s in sides)}), {args.clients} clients, "
              f"{args.workers} gunicorn workers per server; load average "
              f"{Path('/proc/loadavg').read_text().split()[:3]}", flush=True)
        rounds = []
        for number in range(args.rounds):
            measured = {}
            order = sides if number % 2 == 0 else sides[::-1]     # alternate the order too
            for name, server, side_path in order:
                process, side_port = servers[server]
                real_url = f"http://127.0.0.1:{side_port}{path}"
                measured[name] = run_side(args, side_port, side_path, real_url, bank["token"],
                                          bank["dpop_key"], process.pid)
            measured["load_average"] = Path("/proc/loadavg").read_text().split()[:3]
            rounds.append(measured)
            print(f"round {number + 1}: " + "; ".join(
                f"{name} {measured[name]['per_s']:.1f}/s p50 {measured[name]['p50_ms']:.1f} ms "
                f"CPU {measured[name]['server_cpu_ms_per_request']:.2f} ms/req "
                f"errors {measured[name]['errors']}" for name, _, _ in sides)
                + f"; load {measured['load_average']}", flush=True)
        version = server_version(url)
    finally:
        for process, _ in servers.values():
            stop(process)
        if not args.keep:
            drop_database(url)

    names = [name for name, _, _ in sides]

    def median(side, key):
        return statistics.median(r[side][key] for r in rounds)

    summary = {side: {key: round(median(side, key), 2)
                      for key in ("per_s", "p50_ms", "p99_ms", "server_cpu_ms_per_request")}
               for side in names}

    def ratio(a, b):
        """Median over rounds of a/b, each round's sides compared with each other."""
        return round(statistics.median(r[a]["per_s"] / r[b]["per_s"] for r in rounds), 3)

    for side in [n for n in names if n.startswith("transactions")]:
        summary[f"{side}_vs_bare_wsgi"] = ratio(side, "bare_wsgi")
        summary[f"{side}_vs_flask_static"] = ratio(side, "flask_static")
    if "transactions_before" in names:
        summary["after_vs_before"] = ratio("transactions", "transactions_before")
    result = {"benchmark": "ais_transactions", "page_bytes": len(body),
              "load_average_after": Path("/proc/loadavg").read_text().split()[:3],
              "clients": args.clients, "workers": args.workers, "rounds": rounds,
              "duration_s": args.duration, "history": args.history,
              "before_tree": args.before_tree, "redis": bool(args.redis), "median": summary,
              "postgresql": version, "machine": machine()}
    print(json.dumps(summary, indent=2))
    print(f"saved {save('ais_transactions', result)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
