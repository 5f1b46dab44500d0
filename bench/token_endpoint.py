"""Client-credentials tokens at POST /token: in-process against the JOSE work alone, and over
HTTP against node-oidc-provider 9 issuing the same tokens.

In-process (the default): the Flask test client, no network, no server. Two kinds of token:
bound to a DPoP key (an ES256 proof) and bound to the client's TLS certificate (forwarded by
the trusted proxy), the client authenticated by private_key_jwt (PS256, RSA 2048); replay
checks in Redis (`--redis`, '' for in-process), the token insert and its commit on PostgreSQL.
The baseline, in the same run: one PS256 verification and one PS256 signature with jwcrypto.

    .venv/bin/python bench/token_endpoint.py [--requests 600] [--pg postgresql://...]

Over HTTP (`--http`): the certificate-bound kind (private_key_jwt PS256, FAPI 1.0 Advanced
client) through gunicorn (`wsgi:app`, one side per worker class: sync closes the connection
after every response, gthread keeps it alive) against node-oidc-provider 9 (bench/node_oidc/,
`npm install` there first) configured for the same grant, client authentication and binding,
both started here on 127.0.0.1. `--clients` load processes each send `--requests` tokens per
side per round over one kept-alive connection (reconnecting whenever the server closes it);
assertions are made before the clock starts. Sides alternate, in reverse order every other
round. Reported per side: tokens/s, the server's CPU per token (the gunicorn workers or the
node process, from /proc), PostgreSQL's backends' CPU per token, and each side's ratio to
node within each round.

    .venv/bin/python bench/token_endpoint.py --http [--clients 4] [--requests 400] [--rounds 3]
        [--sides sync,gthread,node] [--workers 4] [--threads 4] [--before-tree DIR]

`--before-tree DIR` (a `git worktree add --detach DIR <commit>`, its .venv a symlink to this
one) adds a side: the older code's gunicorn (sync) on the same database. The side `floor`
(after `gthread` in `--sides`) sends GET /health/live to the gthread server instead: what a
request costs through gunicorn, Flask and the app's middleware when the view does nothing.

`--profile N` profiles N in-process certificate-bound tokens with cProfile and prints where
the time goes (`--tree DIR` runs an older tree's code instead).
"""
from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import multiprocessing as mp
import os
import pstats
import signal
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import quote, urlencode

ROOT = Path(__file__).resolve().parent.parent
if "--tree" in sys.argv:                      # profile an older tree's code
    sys.path.insert(0, sys.argv[sys.argv.index("--tree") + 1])
else:
    sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_SERVER, create_database, drop_database, machine, save  # noqa: E402

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
NODE_DIR = ROOT / "bench" / "node_oidc"


# --- what both servers are given --------------------------------------------------------------
def certificate() -> str:
    """A self-signed client certificate as the TLS proxy forwards it (URL-encoded PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenBanking"),
                         x509.NameAttribute(NameOID.COMMON_NAME, "bench-tpp")])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=7))
            .sign(key, hashes.SHA256()))
    return quote(cert.public_bytes(serialization.Encoding.PEM).decode())


def client_metadata(public: dict, binding: str) -> dict:
    metadata = {"token_endpoint_auth_method": "private_key_jwt",
                "token_endpoint_auth_signing_alg": "PS256",
                "grant_types": ["client_credentials"], "scope": "accounts",
                "jwks": {"keys": [public]}, "redirect_uris": ["https://bench.example/cb"],
                "response_types": ["code id_token"]}
    if binding == "mtls":
        metadata["tls_client_certificate_bound_access_tokens"] = True
    return metadata


def add_client(app, public: dict, binding: str) -> str:
    from aspsp.ids import new_id
    from aspsp.oauth.models import OAuthClient

    now = datetime.now(timezone.utc)
    with app.extensions["aspsp"].uow() as uow:
        row = OAuthClient(client_id=new_id(), software_id="bench", org_id="bench",
                          client_name="Bench TPP", profile="fapi1-advanced", roles=["AISP"],
                          client_metadata=client_metadata(public, binding),
                          software_statement="", created_at=now, updated_at=now)
        uow.session.add(row)
        uow.commit()
        return row.client_id


def build(url: str, redis_url: str | None):
    from jwcrypto import jwk

    from bank import create_app

    app = create_app({"DATABASE_URL": url, "CELERY_ALWAYS_EAGER": True,
                      "ISSUER": "http://localhost", "SECRET_KEY": "bench",
                      "LOG_LEVEL": "WARNING", "REDIS_URL": redis_url or None,
                      "TRUSTED_PROXIES": "127.0.0.1", "INSTANCE_PATH": "/tmp/aspsp-bench"})
    key = jwk.JWK.generate(kty="RSA", size=2048, kid="bench-ps256")
    public = {**json.loads(key.export_public()), "use": "sig", "alg": "PS256"}
    clients = {binding: add_client(app, public, binding) for binding in ("dpop", "mtls")}
    return app, clients, key, jwk.JWK.generate(kty="EC", crv="P-256")


def signed(key, claims, alg, header=None):
    from jwcrypto import jwt
    token = jwt.JWT(header={"alg": alg, "kid": key.get("kid"), **(header or {})}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def assertion(key, client_id: str, audience: str) -> str:
    now = int(time.time())
    return signed(key, {"iss": client_id, "sub": client_id, "aud": audience,
                        "jti": uuid.uuid4().hex, "iat": now, "exp": now + 900}, "PS256")


def token_form(client_assertion: str) -> dict:
    return {"grant_type": "client_credentials", "scope": "accounts",
            "client_assertion_type": JWT_BEARER, "client_assertion": client_assertion}


# --- in-process -------------------------------------------------------------------------------
def inprocess_requests(app, clients, key, dpop_key, count: int, binding: str) -> list:
    issuer = app.config["ISSUER"]
    made = []
    for _ in range(count):
        headers = {}
        if binding == "dpop":
            headers["DPoP"] = signed(dpop_key, {"jti": uuid.uuid4().hex, "htm": "POST",
                                                "htu": f"{issuer}/token", "iat": int(time.time())},
                                     "ES256", {"typ": "dpop+jwt",
                                               "jwk": json.loads(dpop_key.export_public())})
        made.append((token_form(assertion(key, clients[binding], issuer)), headers))
    return made


def send_all(http, made, cert: str) -> float:
    started = time.perf_counter()
    for form, headers in made:
        if "DPoP" not in headers:
            headers = {**headers, "X-SSL-Client-Cert": cert}
        response = http.post("/token", data=form, headers=headers)
        assert response.status_code == 200, response.get_json()
    return time.perf_counter() - started


def close(app) -> None:
    """The request log's last rows written before the database goes (not at exit)."""
    if app is not None:
        app.extensions["request_log"].flush()
        app.extensions["aspsp"].db.engine.dispose()


def run_inprocess(args) -> dict:
    url = create_database(args.pg, "bench_token")
    app = None
    try:
        app, clients, key, dpop_key = build(url, args.redis)
        cert = certificate()
        http = app.test_client()
        send_all(http, inprocess_requests(app, clients, key, dpop_key, 20, "mtls"), cert)
        rates = {}
        for binding in ("dpop", "mtls"):
            made = inprocess_requests(app, clients, key, dpop_key, args.requests, binding)
            rates[binding] = args.requests / send_all(http, made, cert)

        from jwcrypto import jws
        assertions = [form["client_assertion"] for form, _ in
                      inprocess_requests(app, clients, key, dpop_key, args.requests, "mtls")]
        started = time.perf_counter()
        for token in assertions:
            verifier = jws.JWS()
            verifier.deserialize(token)
            verifier.verify(key, alg="PS256")
            signed(key, {"sub": "x", "scope": "accounts", "exp": int(time.time()) + 600}, "PS256")
        jose_rate = args.requests / (time.perf_counter() - started)
    finally:
        close(app)
        drop_database(url)
    return {"benchmark": "token_endpoint", "requests": args.requests,
            "token_endpoint_dpop_per_s": round(rates["dpop"], 1),
            "token_endpoint_mtls_per_s": round(rates["mtls"], 1),
            "jose_alone_per_s": round(jose_rate, 1),
            "ratio_dpop": round(rates["dpop"] / jose_rate, 3),
            "ratio_mtls": round(rates["mtls"] / jose_rate, 3), "machine": machine()}


def run_profile(args) -> dict:
    url = create_database(args.pg, "bench_token_profile")
    app = None
    try:
        app, clients, key, dpop_key = build(url, args.redis)
        cert = certificate()
        http = app.test_client()
        send_all(http, inprocess_requests(app, clients, key, dpop_key, 20, "mtls"), cert)
        made = inprocess_requests(app, clients, key, dpop_key, args.profile, "mtls")
        # CPU time, not wall time: on a shared machine a wall-clock profile charges whatever
        # line was running when the process was descheduled (--timer wall to see waits).
        profiler = cProfile.Profile(time.process_time if args.timer == "cpu" else time.perf_counter)
        started = time.process_time()
        profiler.enable()
        send_all(http, made, cert)
        profiler.disable()
        cpu_ms = 1000 * (time.process_time() - started) / args.profile
    finally:
        close(app)
        drop_database(url)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(args.top)
    stats.sort_stats("tottime").print_stats(args.top)
    print(out.getvalue())
    print(f"CPU per token under the profiler: {cpu_ms:.2f} ms (tree: "
          f"{sys.path[0]})")
    return {"benchmark": "token_endpoint_profile", "tokens": args.profile,
            "cpu_ms_per_token_profiled": round(cpu_ms, 2), "tree": sys.path[0]}


# --- over HTTP --------------------------------------------------------------------------------
def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(process: subprocess.Popen, port: int, path: str) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server on {port} exited ({process.returncode})")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            connection.getresponse().read()
            connection.close()
            return
        except OSError:
            time.sleep(0.3)
    stop(process)
    raise RuntimeError(f"the server on {port} did not start")


def start_gunicorn(args, url: str, port: int, worker_class: str,
                   tree: Path = ROOT) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": args.redis or "",
           "ISSUER": f"http://127.0.0.1:{port}", "TRUSTED_PROXIES": "127.0.0.1",
           "SANDBOX_ENABLED": "false", "SECRET_KEY": "bench-" + uuid.uuid4().hex,
           "LOG_LEVEL": "WARNING", "INSTANCE_PATH": f"/tmp/aspsp-bench-token-{port}"}
    command = [str(ROOT / ".venv" / "bin" / "gunicorn"), "--chdir", str(tree),
               "--workers", str(args.workers), "--worker-class", worker_class,
               "--bind", f"127.0.0.1:{port}", "--backlog", "2048", "--log-level", "warning"]
    if worker_class == "gthread":
        command += ["--threads", str(args.threads), "--keep-alive", "75"]
    process = subprocess.Popen(command + ["wsgi:app"], env=env, start_new_session=True)
    wait_until_up(process, port, "/health/live")
    return process


def start_node(port: int, client_id: str, public: dict) -> subprocess.Popen:
    if not (NODE_DIR / "node_modules" / "oidc-provider").is_dir():
        raise SystemExit("node-oidc-provider is not installed: (cd bench/node_oidc && npm install)")
    client = {"client_id": client_id, **client_metadata(public, "mtls")}
    client.pop("scope")
    client.update(response_types=[], redirect_uris=[], scope="accounts")
    env = {**os.environ, "BENCH_PORT": str(port), "BENCH_ISSUER": f"http://127.0.0.1:{port}",
           "BENCH_CLIENTS": json.dumps([client]), "NODE_ENV": "production"}
    process = subprocess.Popen(["node", str(NODE_DIR / "server.mjs")], env=env,
                               start_new_session=True, stdout=subprocess.DEVNULL)
    wait_until_up(process, port, "/.well-known/openid-configuration")
    return process


def stop(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=20)
    except ProcessLookupError:
        return
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])       # utime, stime
    return total / ticks


def server_pids(process: subprocess.Popen) -> list[int]:
    """The process and its children (gunicorn's workers)."""
    pids = [process.pid]
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except OSError:
                continue
            if ppid == process.pid:
                pids.append(int(entry.name))
    return pids


def postgres_pids(url: str) -> list[int]:
    from sqlalchemy import create_engine, text
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return list(connection.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).scalars())
    finally:
        engine.dispose()


def load_client(port: int, key_json: str, client_id: str, cert: str, count: int,
                barrier, results, floor: bool = False) -> None:
    """One load process: its assertions first, then `count` tokens over a kept-alive
    connection (a new one whenever the server closes it). `floor`: GET /health/live instead
    (the app's whole middleware stack, no work)."""
    from jwcrypto import jwk
    key = jwk.JWK.from_json(key_json)
    audience = f"http://127.0.0.1:{port}"
    bodies = [None if floor else urlencode(token_form(assertion(key, client_id, audience)))
              for _ in range(count)]
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-SSL-Client-Cert": cert, "Accept": "application/json"}
    barrier.wait()
    started = time.perf_counter()
    connection, errors, connects, first_error = None, 0, 0, None
    for body in bodies:
        if connection is None:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            connects += 1
        if floor:
            connection.request("GET", "/health/live")
        else:
            connection.request("POST", "/token", body=body, headers=headers)
        response = connection.getresponse()
        payload = response.read()
        if response.status != 200 or not (floor or b'"Bearer"' in payload):
            errors += 1
            first_error = first_error or payload[:300]
        if response.will_close:
            connection.close()
            connection = None
    if connection is not None:
        connection.close()
    results.put((time.perf_counter() - started, errors, connects, first_error))


def run_side(args, side: dict, key_json: str, cert: str, url: str) -> dict:
    context = mp.get_context("fork")
    barrier = context.Barrier(args.clients + 1)
    results = context.Queue()
    loads = [context.Process(target=load_client, args=(
        side["port"], key_json, side["client_id"], cert, args.requests, barrier, results,
        side.get("floor", False)))
        for _ in range(args.clients)]
    for process in loads:
        process.start()
    pids, pg = server_pids(side["process"]), postgres_pids(url)
    barrier.wait()                                    # every assertion made
    cpu0, pg0, wall0 = cpu_seconds(pids), cpu_seconds(pg), time.perf_counter()
    collected = [results.get() for _ in loads]
    wall = time.perf_counter() - wall0
    cpu = cpu_seconds(pids) - cpu0
    pg_cpu = cpu_seconds(pg + [p for p in postgres_pids(url) if p not in pg]) - pg0
    for process in loads:
        process.join()
    tokens = args.clients * args.requests
    errors = sum(e for _, e, _, _ in collected)
    first_error = next((f for *_, f in collected if f), None)
    return {"tokens_per_s": round(tokens / wall, 1), "wall_s": round(wall, 2),
            "errors": errors, "first_error": first_error and first_error.decode(errors="replace"),
            "connections": sum(c for _, _, c, _ in collected),
            "server_cpu_ms_per_token": round(1000 * cpu / tokens, 2),
            "postgres_cpu_ms_per_token": round(1000 * max(pg_cpu, 0) / tokens, 2)}


def run_http(args) -> dict:
    from jwcrypto import jwk

    from aspsp.keyring import new_key_setting
    os.environ.setdefault("KEY_ENCRYPTION_KEY", new_key_setting("bench"))
    url = create_database(args.pg, "bench_token_http")
    servers: dict[str, dict] = {}
    try:
        app, clients, key, _ = build(url, args.redis)
        app.extensions["aspsp"].db.engine.dispose()
        public = {**json.loads(key.export_public()), "use": "sig", "alg": "PS256"}
        key_json, cert = key.export_private(), certificate()
        for name in args.sides.split(","):
            port = free_port()
            if name == "node":
                process = start_node(port, clients["mtls"], public)
            elif name == "floor":        # GET /health/live on the first gthread server
                gthread = servers.get("gthread") or {}
                process, port = gthread.get("process"), gthread.get("port")
                if process is None:
                    raise SystemExit("the floor side needs the gthread side before it")
            elif name == "before":
                process = start_gunicorn(args, url, port, "sync", Path(args.before_tree))
            else:
                process = start_gunicorn(args, url, port, name)
            servers[name] = {"port": port, "process": process, "client_id": clients["mtls"],
                             "floor": name == "floor"}
        order = list(servers)
        rounds = []
        for number in range(args.rounds):
            sides = order if number % 2 == 0 else order[::-1]
            measured = {}
            for name in sides:
                print(f"round {number + 1}: {name}...", flush=True)
                measured[name] = run_side(args, servers[name], key_json, cert, url)
                print(f"  {measured[name]}", flush=True)
            if "node" in measured:
                for name, side in measured.items():
                    side["ratio_to_node"] = round(side["tokens_per_s"]
                                                  / measured["node"]["tokens_per_s"], 3)
            rounds.append(measured)
    finally:
        for name, server in servers.items():
            if name != "floor":
                stop(server["process"])
        drop_database(url)
    medians = {name: {field: statistics.median(r[name][field] for r in rounds)
                      for field in ("tokens_per_s", "server_cpu_ms_per_token",
                                    "postgres_cpu_ms_per_token")
                      + (("ratio_to_node",) if "node" in servers else ())}
               for name in servers}
    return {"benchmark": "token_endpoint_http", "clients": args.clients,
            "requests_per_client": args.requests, "workers": args.workers,
            "threads": args.threads, "rounds": rounds, "medians": medians,
            "load_average": os.getloadavg(), "machine": machine()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=None,
                        help="in-process: tokens per side (600); --http: per load process "
                             "per side per round (400)")
    parser.add_argument("--pg", default=DEFAULT_SERVER)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/14",
                        help="REDIS_URL of the bank (replay caches); '' for in-process")
    parser.add_argument("--http", action="store_true", help="over HTTP against node-oidc-provider")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sides", default="sync,gthread,node")
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--before-tree", default="")
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument("--top", type=int, default=30)
    parser.add_argument("--timer", choices=("cpu", "wall"), default="cpu",
                        help="with --profile: what the profile counts")
    parser.add_argument("--tree", default="", help="with --profile: an older tree's code")
    args = parser.parse_args()
    if args.before_tree and "before" not in args.sides.split(","):
        args.sides += ",before"
    if args.profile:
        result = run_profile(args)
    elif args.http:
        args.requests = args.requests or 400
        result = run_http(args)
    else:
        args.requests = args.requests or 600
        result = run_inprocess(args)
    print(json.dumps(result, indent=2, default=str))
    print(f"saved {save(result['benchmark'], result)}")


if __name__ == "__main__":
    main()
