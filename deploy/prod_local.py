"""The production topology of docker-compose.yml on one machine, from Debian packages:

    nginx (TLS + client certificates, deploy/nginx/aspsp.conf) -> gunicorn wsgi:app (web)
                                          Celery worker, Celery beat -> PostgreSQL, Redis

`make prod-local` (`python -m deploy.prod_local`) starts it, prints the URLs and stops it on
Ctrl-C. The end-to-end tier tests/prod/ and the fault tests start it from Python.

Python API
----------
``Settings``  every knob, with the `make prod-local` defaults: run_dir (everything the run
    writes: certs/, nginx/, logs/, instance/, secrets/), database_url (the database is created
    if missing and migrated), redis_url (caches, rate limits, replay caches; also the Celery
    broker unless broker_url is set), listen_host/https_port/http_port/health_port (nginx),
    web_host/web_port (gunicorn), proxy_address (the address nginx connects to gunicorn from:
    TRUSTED_PROXIES names it and nothing else), web_workers, web_threads, worker_concurrency,
    sandbox (SANDBOX_ENABLED), seed_args (`flask sandbox seed` arguments when the database holds
    no customers; None: never seed), key_encryption_key/secret_key (None: made once and kept in
    run_dir/secrets/), client_ca_files (more CAs nginx trusts for client certificates), env
    (more settings for every app process, e.g. SANDBOX_SETTLEMENT_PAUSE_FILE), ready_timeout.
    A port of 0 means "a free port", picked when the Topology is made.

``Topology(settings)``  the running platform; also a context manager (start, then stop).
    start()                 certs, database (create, migrate, seed), then web, nginx, worker,
                            beat, each waited for until healthy (TopologyError otherwise,
                            with the end of that process's log)
    stop()                  nginx, web, beat, worker, each gracefully (SIGKILL after a timeout)
    services                {"web", "nginx", "worker", "beat"} -> Service
    start_service(name) / stop_service(name) / restart(name) / wait_ready(name)
    kill(name, sig=SIGKILL, group=True)   a crash: the signal to the whole process group (a
                            gunicorn master and its workers, a Celery worker and its pool) or,
                            group=False, to the main process only; restart(name) brings it back
    issuer                  https://localhost:<https_port>, the platform's ISSUER
    server_ca               path of the self-signed server certificate (verify= for requests)
    client_ca               path of the CA bundle nginx trusts for client certificates
    web_url                 gunicorn's own address (http, bypassing nginx)
    env()                   the environment of every app process (settings_env() on top of
                            this process's own)
    app_config()            the same settings parsed, a mapping for create_app() in-process
    flask(*args)            run `flask --app bank ...` against this platform
    urls()                  [(label, url)] as `make prod-local` prints them
    drop_database()         drop the database (tests)

``Service``  one process: start(), wait_ready(), stop(timeout), kill(sig, group), running,
    pid, log_path, log_tail(lines).

``PrivatePostgres(base_dir=None, port=0)`` / ``PrivateRedis(base_dir, port=0, appendonly=True)``
    servers of their own for fault tests (restarts, kills) without touching the machine's:
    start(), stop(), kill() (SIGKILL to the server and its children), restart(), service (its
    Service); PrivatePostgres runs initdb into base_dir on first start (as the `postgres` user
    when run as root: base_dir must be reachable by it, None makes one under /tmp), stop(mode)
    takes fast/smart/immediate, database_url(name) names a database on it (give that to
    Settings.database_url: Topology creates it), cleanup() stops it and removes base_dir;
    PrivateRedis.url(db) names a Redis database on it (Settings.redis_url).

A fault test, for instance:

    pg = PrivatePostgres(); pg.start()
    redis = PrivateRedis(tmp_path / "redis"); redis.start()
    with Topology(Settings(run_dir=tmp_path / "run", database_url=pg.database_url("aspsp"),
                           redis_url=redis.url(0), https_port=0, http_port=0, health_port=0,
                           web_port=0, seed_args=("--customers", "0", "--business", "0",
                                                  "--months", "1"))) as topology:
        ...                                   # requests to topology.issuer, verify=server_ca
        topology.kill("worker")               # kill -9 the worker and its pool mid-settlement
        topology.start_service("worker")      # and bring it back
        pg.restart(); redis.restart()
    pg.cleanup()

``ensure_machine_services(database_url, redis_url)``  starts the machine's PostgreSQL
    (127.0.0.1:5432) and Redis (127.0.0.1:6379) if they are down, as .ci/run does.

Every child runs in its own session (Ctrl-C in the terminal reaches only the launcher, which
stops them in order) and receives SIGTERM if the thread that started it dies (Linux
PR_SET_PDEATHSIG), so a killed launcher leaves no orphans.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
NGINX_SITE = ROOT / "deploy" / "nginx" / "aspsp.conf"
DEV_CERTS = ROOT / "deploy" / "nginx" / "make-dev-certs.sh"
GUNICORN_CONF = ROOT / "deploy" / "gunicorn.conf.py"


class TopologyError(RuntimeError):
    """A process did not start or did not become healthy."""


# --- helpers ----------------------------------------------------------------------------------

def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on, below the kernel's ephemeral range: the processes bind it
    a minute later (after the migration), and a port of that range could meanwhile become the
    local end of any outgoing connection on the machine."""
    import random
    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(max(1024, low - 12000), low)
        with socket.socket() as sock:
            try:
                sock.bind((host, port))
            except OSError:
                continue
            return port
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def nginx_binary() -> str | None:
    found = shutil.which("nginx")
    if found:
        return found
    return "/usr/sbin/nginx" if os.access("/usr/sbin/nginx", os.X_OK) else None


def nginx_version(binary: str) -> tuple[int, ...]:
    done = subprocess.run([binary, "-v"], capture_output=True, text=True)
    match = re.search(r"nginx/(\d+)\.(\d+)\.(\d+)", done.stderr + done.stdout)
    if not match:
        raise TopologyError(f"cannot read the version of {binary}: {done.stderr.strip()}")
    return tuple(int(part) for part in match.groups())


def postgres_bin_dir() -> Path:
    """The newest /usr/lib/postgresql/<version>/bin (Debian's layout)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/postgres"),
                   key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
    if not found:
        raise TopologyError("no PostgreSQL server in /usr/lib/postgresql/*/bin")
    return found[-1].parent


def _load_prctl():
    try:
        import ctypes
        return ctypes.CDLL("libc.so.6", use_errno=True).prctl
    except (OSError, AttributeError):
        return None


# Looked up here, in the parent: a child that already runs as another user (PrivatePostgres as
# root) may not be able to read the Python installation to import ctypes.
_PRCTL = _load_prctl()


def _die_with_parent() -> None:
    if _PRCTL is not None:
        _PRCTL(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _http_ok(url: str, *, context: ssl.SSLContext | None = None, timeout: float = 2) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout, context=context) as response:
            return response.status == 200
    except (OSError, urllib.error.URLError):
        return False


def _url_parts(url: str):
    from sqlalchemy.engine import make_url
    return make_url(url)


# --- one process ------------------------------------------------------------------------------

class Service:
    """One child process: started in its own session with its output appended to log_path,
    healthy when `ready(service)` says so."""

    def __init__(self, name: str, command: list[str], *, log_path: Path,
                 ready: Callable[["Service"], bool],
                 env: dict[str, str] | Callable[[], dict[str, str]] | None = None,
                 cwd: Path = ROOT, stop_signal: int = signal.SIGTERM, stop_timeout: float = 30,
                 user: str | None = None, ready_timeout: float = 90):
        self.name, self.command, self.log_path, self.ready = name, command, log_path, ready
        self.env, self.cwd, self.stop_signal, self.stop_timeout = env, cwd, stop_signal, stop_timeout
        self.user, self.ready_timeout = user, ready_timeout
        self.process: subprocess.Popen | None = None
        self.log_offset = 0

    def __repr__(self) -> str:
        return f"Service({self.name!r}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process else None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        if self.running:
            return
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with open(self.log_path, "ab") as log:
            env = self.env() if callable(self.env) else self.env   # read at every start
            self.process = subprocess.Popen(
                self.command, cwd=self.cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, user=self.user,
                preexec_fn=_die_with_parent)

    def log_since_start(self) -> str:
        try:
            with open(self.log_path, "rb") as log:
                log.seek(self.log_offset)
                return log.read().decode(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_since_start().splitlines()[-lines:])

    def wait_ready(self, timeout: float | None = None) -> None:
        deadline = time.monotonic() + (timeout or self.ready_timeout)
        while True:
            if not self.running:
                code = self.process.returncode if self.process else None
                raise TopologyError(f"{self.name} exited (code {code}) before it was ready; "
                                    f"{self.log_path}:\n{self.log_tail()}")
            if self.ready(self):
                return
            if time.monotonic() > deadline:
                raise TopologyError(f"{self.name} was not ready after {timeout or self.ready_timeout:.0f} s; "
                                    f"{self.log_path}:\n{self.log_tail()}")
            time.sleep(0.2)

    def send(self, sig: int, *, group: bool = True) -> None:
        if self.process is None:
            return
        try:
            if group:
                os.killpg(self.process.pid, sig)
            else:
                self.process.send_signal(sig)
        except ProcessLookupError:
            pass

    def kill(self, sig: int = signal.SIGKILL, *, group: bool = True) -> None:
        """A crash: `sig` to the process group (default) or the main process; waits for the
        main process when the signal is SIGKILL."""
        self.send(sig, group=group)
        if sig == signal.SIGKILL and self.process is not None:
            self.process.wait()

    def stop(self, timeout: float | None = None) -> None:
        """The graceful stop signal to the main process, SIGKILL to the group after `timeout`;
        whatever is left of the group (orphaned children) is killed too."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.send(self.stop_signal, group=False)
            try:
                self.process.wait(timeout or self.stop_timeout)
            except subprocess.TimeoutExpired:
                self.send(signal.SIGKILL)
                self.process.wait()
        self.send(signal.SIGKILL)          # stragglers of the group, if any


def _log_says(text: str) -> Callable[[Service], bool]:
    return lambda service: text in service.log_since_start()


# --- servers of their own (fault tests) -----------------------------------------------------

class PrivatePostgres:
    """A PostgreSQL cluster in base_dir/data on 127.0.0.1:port (trust auth, user postgres),
    made by initdb on first start; as root, it runs as the `postgres` user, so base_dir must be
    reachable by that user (pytest's tmp_path is not: it is 0700). base_dir None: a new
    directory under the system's temp directory (removed by cleanup())."""

    def __init__(self, base_dir: Path | str | None = None, port: int = 0, *,
                 ready_timeout: float = 60):
        import tempfile
        self.made_dir = base_dir is None
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="aspsp-pg-")).resolve()
        self.port = port or free_port()
        self.bin = postgres_bin_dir()
        self.data = self.base_dir / "data"
        self.socket_dir = self.base_dir / "socket"
        self.user = "postgres" if os.geteuid() == 0 else None
        self.service = Service(
            "postgres", [str(self.bin / "postgres"), "-D", str(self.data), "-p", str(self.port),
                         "-k", str(self.socket_dir), "-c", "listen_addresses=127.0.0.1",
                         "-c", "fsync=off", "-c", "max_connections=200"],
            log_path=self.base_dir / "postgres.log", ready=self._ready, user=self.user,
            stop_signal=signal.SIGINT, ready_timeout=ready_timeout, cwd=self.base_dir)

    @property
    def server_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}"

    def database_url(self, name: str) -> str:
        return f"{self.server_url}/{name}"

    def _ready(self, _service) -> bool:
        return subprocess.run([str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p",
                               str(self.port), "-q"]).returncode == 0

    def _chown(self, path: Path) -> None:
        if self.user:
            shutil.chown(path, self.user, self.user)

    def init(self) -> None:
        if (self.data / "PG_VERSION").exists():
            return
        if self.user:
            for parent in self.base_dir.parents:
                if parent.exists() and not parent.stat().st_mode & 0o001:
                    raise TopologyError(f"{parent} is not reachable by the postgres user: give "
                                        f"PrivatePostgres another base_dir, or None")
        for path in (self.base_dir, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            self._chown(path)
        (self.base_dir / "postgres.log").touch()
        self._chown(self.base_dir / "postgres.log")
        done = subprocess.run([str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                               "--auth=trust", "-E", "UTF8", "--no-sync"], cwd=self.base_dir,
                              user=self.user, capture_output=True, text=True)
        if done.returncode != 0:
            raise TopologyError(f"initdb failed: {done.stderr.strip()}")

    def start(self) -> None:
        self.init()
        self.service.start()
        self.service.wait_ready()

    def stop(self, mode: str = "fast") -> None:
        """fast (SIGINT: roll back sessions, checkpoint), smart (SIGTERM), immediate (SIGQUIT:
        crash recovery at the next start)."""
        self.service.stop_signal = {"fast": signal.SIGINT, "smart": signal.SIGTERM,
                                    "immediate": signal.SIGQUIT}[mode]
        self.service.stop()

    def kill(self) -> None:
        """SIGKILL to the postmaster and every backend."""
        self.service.kill()

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def cleanup(self) -> None:
        """Stop the server and remove the directory it was given (or made)."""
        self.stop("immediate")
        shutil.rmtree(self.base_dir, ignore_errors=True)


class PrivateRedis:
    """A redis-server on 127.0.0.1:port with its files in base_dir; appendonly like
    docker-compose.yml's (queued tasks survive a restart)."""

    def __init__(self, base_dir: Path | str, port: int = 0, *, appendonly: bool = True):
        self.base_dir = Path(base_dir).resolve()
        self.port = port or free_port()
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.service = Service(
            "redis", [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
                      str(self.base_dir), "--save", "", "--appendonly",
                      "yes" if appendonly else "no", "--daemonize", "no"],
            log_path=self.base_dir / "redis.log", ready=self._ready, cwd=self.base_dir)

    @property
    def server_url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def url(self, db: int = 0) -> str:
        return f"{self.server_url}/{db}"

    def _ready(self, _service) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def start(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.service.start()
        self.service.wait_ready()

    def stop(self) -> None:
        self.service.stop()

    def kill(self) -> None:
        self.service.kill()

    def restart(self) -> None:
        self.stop()
        self.start()


def ensure_machine_services(database_url: str, redis_url: str) -> None:
    """The machine's PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379, started if
    down exactly as .ci/run starts them (other servers are the caller's business)."""
    db = _url_parts(database_url)
    if (db.host, db.port or 5432) == ("127.0.0.1", 5432):
        ready = ["pg_isready", "-h", "127.0.0.1", "-p", "5432", "-q"]
        if subprocess.run(ready).returncode != 0:
            print("== starting PostgreSQL", flush=True)
            version = sorted(os.listdir("/etc/postgresql"))[-1]
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main",
                            "start"], check=True)
        _wait(lambda: subprocess.run(ready).returncode == 0, "PostgreSQL")
    redis = _url_parts(redis_url)
    if (redis.host, redis.port or 6379) == ("127.0.0.1", 6379):
        def pong() -> bool:
            done = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", "6379", "ping"],
                                  capture_output=True, text=True)
            return done.stdout.strip() == "PONG"
        if not pong():
            print("== starting Redis", flush=True)
            subprocess.run(["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1",
                            "--port", "6379", "--save", "", "--appendonly", "no"], check=True)
        _wait(pong, "Redis")


def _wait(check: Callable[[], bool], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TopologyError(f"{what} did not come up")
        time.sleep(1)


# --- nginx configuration ----------------------------------------------------------------------

def render_nginx_site(source: str, *, listen_host: str, https_port: int, http_port: int,
                      health_port: int, upstream: str, proxy_address: str, certs_dir: Path,
                      client_ca: Path, http2_directive: bool) -> str:
    """deploy/nginx/aspsp.conf (docker-compose's proxy) for a local run: its upstream, ports and
    certificate paths replaced, nginx's source address for the upstream fixed (proxy_bind) so
    that TRUSTED_PROXIES names nginx and no other local client. Every replaced line must be
    found exactly once: a change to aspsp.conf that this does not know fails loudly."""
    replacements = [
        ("server web:8000;", f"server {upstream};"),
        ("listen 80;", f"listen {listen_host}:{http_port};"),
        ("return 301 https://$host$request_uri;",
         f"return 301 https://$host:{https_port}$request_uri;"),
        ("listen 443 ssl;", f"listen {listen_host}:{https_port} ssl;" if http2_directive
         else f"listen {listen_host}:{https_port} ssl http2;"),
        ("/etc/nginx/certs/client-ca.pem", str(client_ca)),
        ("listen 127.0.0.1:8081;", f"listen 127.0.0.1:{health_port};"),
        ("proxy_pass http://aspsp_web;",
         f"proxy_pass http://aspsp_web;\n        proxy_bind {proxy_address};"),
    ]
    if not http2_directive:              # nginx < 1.25.1 knows only `listen ... http2`
        replacements.append(("    http2 on;\n", ""))
    text = source
    for old, new in replacements:
        count = text.count(old)
        if count != 1:
            raise TopologyError(f"deploy/nginx/aspsp.conf: expected {old.strip()!r} once, "
                                f"found it {count} times")
        text = text.replace(old, new)
    text = text.replace("/etc/nginx/certs/", f"{certs_dir}/")
    if any("/etc/nginx" in line.split("#", 1)[0] for line in text.splitlines()):
        raise TopologyError("deploy/nginx/aspsp.conf names /etc/nginx paths this run cannot map")
    return text


def nginx_main_config(*, run_dir: Path, site: Path, run_as: str | None) -> str:
    nginx = run_dir / "nginx"
    temp = nginx / "temp"
    lines = ["# Made by deploy/prod_local.py for this run; the site is deploy/nginx/aspsp.conf.",
             "daemon off;", "worker_processes 1;", f"pid {nginx / 'nginx.pid'};",
             f"error_log {run_dir / 'logs' / 'nginx-error.log'} notice;"]
    if run_as:
        lines.append(f"user {run_as};")
    lines += ["events { worker_connections 512; }", "http {",
              "    default_type application/octet-stream;",
              f"    access_log {run_dir / 'logs' / 'nginx-access.log'};"]
    for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
        lines.append(f"    {kind}_temp_path {temp / kind};")
    lines += [f"    include {site};", "}", ""]
    return "\n".join(lines)


# --- the topology -----------------------------------------------------------------------------

@dataclass
class Settings:
    run_dir: Path = ROOT / "instance" / "prod-local"
    database_url: str = "postgresql://postgres@127.0.0.1:5432/aspsp_prod_local"
    redis_url: str = "redis://127.0.0.1:6379/0"
    broker_url: str | None = None
    listen_host: str = "127.0.0.1"
    https_port: int = 8443
    http_port: int = 8080
    health_port: int = 8081
    server_name: str = "localhost"
    web_host: str = "127.0.0.2"
    web_port: int = 8000
    proxy_address: str = "127.0.0.3"
    web_workers: int = 2
    web_threads: int = 4
    worker_concurrency: int = 2
    sandbox: bool = True
    seed_args: tuple[str, ...] | None = ()
    key_encryption_key: str | None = None
    secret_key: str | None = None
    client_ca_files: tuple[Path, ...] = ()
    env: dict[str, str] = field(default_factory=dict)
    log_level: str = "INFO"
    ready_timeout: float = 120


class Topology:
    ORDER = ("web", "nginx", "worker", "beat")      # start order (stop: nginx, web, beat, worker)

    def __init__(self, settings: Settings | None = None, *,
                 report: Callable[[str], None] | None = None):
        s = self.settings = settings or Settings()
        self.report = report or (lambda _message: None)     # progress lines (make prod-local)
        s.run_dir = Path(s.run_dir).resolve()
        s.https_port = s.https_port or free_port(s.listen_host)
        s.http_port = s.http_port or free_port(s.listen_host)
        s.health_port = s.health_port or free_port()
        s.web_port = s.web_port or free_port(s.web_host)
        self.nginx = nginx_binary()
        self.tag = hashlib.sha256(str(s.run_dir).encode()).hexdigest()[:8]
        self.certs_dir = s.run_dir / "certs"
        self.logs_dir = s.run_dir / "logs"
        self.nginx_dir = s.run_dir / "nginx"
        self.server_ca = self.certs_dir / "server.crt"
        self.client_ca = self.nginx_dir / "client-ca.pem"
        self._secrets: dict[str, str] = {}
        # As root, nginx's workers drop to nobody (its temp directories are given to them).
        self._nginx_user = "nobody nogroup" if os.geteuid() == 0 else None
        self.seeded = None
        self.services = self._services()

    # addresses ------------------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        return f"https://{self.settings.server_name}:{self.settings.https_port}"

    @property
    def web_url(self) -> str:
        return f"http://{self.settings.web_host}:{self.settings.web_port}"

    def urls(self) -> list[tuple[str, str]]:
        base = self.issuer
        found = [("Platform (issuer)", base + "/"),
                 ("OpenID discovery", base + "/.well-known/openid-configuration"),
                 ("API documentation", base + "/open-banking/docs"),
                 ("Developer portal", base + "/developers/"),
                 ("Customer consents", base + "/psu/consents"),
                 ("Readiness", base + "/health/ready")]
        if self.settings.sandbox:
            found += [("Sandbox directory", base + "/sandbox/directory/jwks"),
                      ("Sandbox transport CA", base + "/developers/sandbox/transport-ca.pem")]
        found.append(("HTTP (redirects to HTTPS)",
                      f"http://{self.settings.server_name}:{self.settings.http_port}/"))
        return found

    # settings of the app processes -----------------------------------------------------------
    def _secret(self, name: str, given: str | None, make: Callable[[], str]) -> str:
        """A secret given in Settings, else the one kept in run_dir/secrets/<name> (made once,
        mode 0600): the same key-encryption key opens the database at every start."""
        if given:
            return given
        if name not in self._secrets:
            path = self.settings.run_dir / "secrets" / name
            if not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
                path.parent.chmod(0o700)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as out:
                    out.write(make())
            self._secrets[name] = path.read_text().strip()
        return self._secrets[name]

    def settings_env(self) -> dict[str, str]:
        """The platform's settings (aspsp/config.py) of every app process, as environment
        variables."""
        s = self.settings
        from aspsp.keyring import new_key_setting
        config = {
            "DATABASE_URL": s.database_url,
            "REDIS_URL": s.redis_url,
            "CELERY_BROKER_URL": s.broker_url or s.redis_url,
            "CELERY_ALWAYS_EAGER": "false",
            "SECRET_KEY": self._secret("secret-key", s.secret_key,
                                       lambda: secrets.token_urlsafe(48)),
            "KEY_ENCRYPTION_KEY": self._secret("key-encryption-key", s.key_encryption_key,
                                               new_key_setting),
            "ISSUER": self.issuer,
            "INSTANCE_PATH": str(s.run_dir / "instance"),
            "LOG_LEVEL": s.log_level,
            "SQL_ECHO": "false",
            "SANDBOX_ENABLED": "true" if s.sandbox else "false",
            "TRUSTED_PROXIES": s.proxy_address,
            "CLIENT_CERT_HEADER": "X-SSL-Client-Cert",
            # gunicorn's workers and the Celery worker share one directory, so a scrape of
            # /metrics sums the worker's webhook figures with the web's (aspsp/metrics.py)
            "PROMETHEUS_MULTIPROC_DIR": str(s.run_dir / "prometheus"),
        }
        config.update(s.env)
        return config

    def app_config(self) -> dict:
        """The same settings parsed as aspsp.config parses the environment: the mapping for
        create_app() in a process of one's own (a test's directory set-up)."""
        from aspsp.config import SETTINGS
        parse = {setting.name: setting.parse for setting in SETTINGS}
        return {name: parse.get(name, str)(value) for name, value in self.settings_env().items()}

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(self.settings_env())
        env.update({"FLASK_APP": "bank", "PYTHONUNBUFFERED": "1",
                    "WEB_BIND": f"{self.settings.web_host}:{self.settings.web_port}",
                    "WEB_WORKERS": str(self.settings.web_workers),
                    "WEB_THREADS": str(self.settings.web_threads)})
        return env

    def flask(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "bank", *args], cwd=ROOT,
                              env=self.env(), capture_output=True, text=True)
        if check and done.returncode != 0:
            raise TopologyError(f"flask {' '.join(args)} failed ({done.returncode}):\n"
                                f"{done.stdout[-2000:]}{done.stderr[-4000:]}")
        return done

    # the processes -------------------------------------------------------------------------
    def _services(self) -> dict[str, Service]:
        s = self.settings
        python = sys.executable
        logs = self.logs_dir

        def web_ready(_service) -> bool:
            return _http_ok(self.web_url + "/health/ready")

        def nginx_ready(_service) -> bool:
            if not _http_ok(f"http://127.0.0.1:{s.health_port}/nginx-health"):
                return False
            # The certificate names localhost and 127.0.0.1 (make-dev-certs.sh).
            context = ssl.create_default_context(cafile=str(self.server_ca))
            return _http_ok(f"https://{s.listen_host}:{s.https_port}/health/ready",
                            context=context)

        nginx = [self.nginx or "nginx", "-p", f"{self.nginx_dir}/", "-c",
                 str(self.nginx_dir / "nginx.conf"), "-e", "stderr"]
        return {
            "web": Service("web", [python, "-m", "gunicorn", "--config", str(GUNICORN_CONF),
                                   "wsgi:app"], log_path=logs / "web.log", ready=web_ready,
                           env=self.env, stop_timeout=40, ready_timeout=s.ready_timeout),
            "nginx": Service("nginx", nginx, log_path=logs / "nginx.log", ready=nginx_ready,
                             stop_signal=signal.SIGQUIT, stop_timeout=15,
                             ready_timeout=s.ready_timeout),
            "worker": Service("worker", [python, "-m", "celery", "-A", "wsgi:celery", "worker",
                                         "--loglevel=INFO",
                                         f"--concurrency={s.worker_concurrency}",
                                         f"--hostname=prodlocal-{self.tag}@%h"],
                              log_path=logs / "worker.log", ready=_log_says(" ready."),
                              env=self.env,
                              stop_timeout=60, ready_timeout=s.ready_timeout),
            "beat": Service("beat", [python, "-m", "celery", "-A", "wsgi:celery", "beat",
                                     "--loglevel=INFO",
                                     f"--schedule={s.run_dir / 'celerybeat-schedule'}"],
                            log_path=logs / "beat.log", ready=_log_says("beat: Starting"),
                            env=self.env,
                            stop_timeout=15, ready_timeout=s.ready_timeout),
        }

    def start_service(self, name: str) -> None:
        service = self.services[name]
        service.start()
        service.wait_ready()

    def wait_ready(self, name: str, timeout: float | None = None) -> None:
        self.services[name].wait_ready(timeout)

    def stop_service(self, name: str, timeout: float | None = None) -> None:
        self.services[name].stop(timeout)

    def kill(self, name: str, sig: int = signal.SIGKILL, *, group: bool = True) -> None:
        self.services[name].kill(sig, group=group)

    def restart(self, name: str) -> None:
        self.stop_service(name)
        self.start_service(name)

    # preparing the run -------------------------------------------------------------------------
    def prepare(self) -> None:
        """Directories, certificates, the nginx configuration, the database (created if missing,
        migrated, seeded when the sandbox is on and it holds no customers)."""
        s = self.settings
        if not self.nginx:
            raise TopologyError("nginx is not installed: apt-get install nginx")
        for path in (self.logs_dir, self.nginx_dir, s.run_dir / "instance",
                     s.run_dir / "prometheus"):
            path.mkdir(parents=True, exist_ok=True)
        if not (self.certs_dir / "server.crt").exists():
            done = subprocess.run(["bash", str(DEV_CERTS), str(self.certs_dir)],
                                  capture_output=True, text=True)
            if done.returncode != 0:
                raise TopologyError(f"make-dev-certs.sh failed: {done.stderr[-2000:]}")
        self.write_nginx_config()
        self.create_database()
        self.report("migrating the database (flask db upgrade)")
        self.flask("db", "upgrade")
        if s.sandbox and s.seed_args is not None and self._holds_no_customers():
            self.report("the database holds no customers: seeding the sandbox (flask sandbox "
                        "seed; the default seed takes a minute or two)")
            done = self.flask("sandbox", "seed", "--no-logins", *s.seed_args)
            self.seeded = (done.stdout.strip().splitlines() or [""])[-1]
            self.report(self.seeded)

    def write_nginx_config(self) -> None:
        s = self.settings
        temp = self.nginx_dir / "temp"
        temp.mkdir(exist_ok=True)
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"):
            (temp / kind).mkdir(exist_ok=True)
            if self._nginx_user:
                shutil.chown(temp / kind, "nobody", "nogroup")
        site = self.nginx_dir / "aspsp.conf"
        site.write_text(render_nginx_site(
            NGINX_SITE.read_text(), listen_host=s.listen_host, https_port=s.https_port,
            http_port=s.http_port, health_port=s.health_port,
            upstream=f"{s.web_host}:{s.web_port}", proxy_address=s.proxy_address,
            certs_dir=self.certs_dir, client_ca=self.client_ca,
            http2_directive=nginx_version(self.nginx) >= (1, 25, 1)))
        (self.nginx_dir / "nginx.conf").write_text(nginx_main_config(
            run_dir=s.run_dir, site=site, run_as=self._nginx_user))

    def write_client_ca(self) -> None:
        """The CAs nginx trusts for client certificates: the dev CA of make-dev-certs.sh, the
        sandbox directory's transport CA (fetched from the running web process) when the
        sandbox is on, and Settings.client_ca_files."""
        parts = [(self.certs_dir / "client-ca.pem").read_text()]
        if self.settings.sandbox:
            url = self.web_url + "/developers/sandbox/transport-ca.pem"
            with urllib.request.urlopen(url, timeout=10) as response:
                parts.append(response.read().decode())
        parts += [Path(path).read_text() for path in self.settings.client_ca_files]
        self.client_ca.write_text("".join(p if p.endswith("\n") else p + "\n" for p in parts))

    def check_nginx_config(self) -> None:
        done = subprocess.run(self.services["nginx"].command + ["-t"], capture_output=True,
                              text=True)
        if done.returncode != 0:
            raise TopologyError(f"nginx -t refused the configuration:\n{done.stderr}")

    # the database ------------------------------------------------------------------------------
    def _admin(self):
        import psycopg2
        url = _url_parts(self.settings.database_url)
        connection = psycopg2.connect(host=url.host, port=url.port or 5432,
                                      user=url.username or "postgres", password=url.password,
                                      dbname="postgres")
        connection.autocommit = True
        return connection, url.database

    def create_database(self) -> None:
        connection, name = self._admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
                if cursor.fetchone() is None:
                    cursor.execute(f'CREATE DATABASE "{name}"')
        finally:
            connection.close()

    def drop_database(self) -> None:
        connection, name = self._admin()
        try:
            with connection.cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            connection.close()

    def _holds_no_customers(self) -> bool:
        import psycopg2
        url = _url_parts(self.settings.database_url)
        connection = psycopg2.connect(host=url.host, port=url.port or 5432,
                                      user=url.username or "postgres", password=url.password,
                                      dbname=url.database)
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT NOT EXISTS (SELECT 1 FROM parties)")
                return cursor.fetchone()[0]
        finally:
            connection.close()

    # start and stop ----------------------------------------------------------------------------
    def start(self) -> "Topology":
        self.seeded = None
        try:
            self.prepare()
            for name in self.ORDER:
                if name == "nginx":      # its client CAs include the sandbox's, served by web
                    self.write_client_ca()
                    self.check_nginx_config()
                self.report(f"starting {name}")
                self.start_service(name)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for name in ("nginx", "web", "beat", "worker"):
            self.services[name].stop()

    def __enter__(self) -> "Topology":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


# --- make prod-local --------------------------------------------------------------------------

def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    d = Settings()
    env = os.environ.get
    parser = argparse.ArgumentParser(
        prog="python -m deploy.prod_local",
        description="The production topology on this machine: nginx (TLS, client certificates) "
                    "-> gunicorn, a Celery worker and beat, PostgreSQL and Redis.")
    parser.add_argument("--run-dir", type=Path, default=Path(env("PROD_LOCAL_DIR") or d.run_dir))
    parser.add_argument("--database-url", default=env("PROD_LOCAL_DATABASE_URL") or d.database_url)
    parser.add_argument("--redis-url", default=env("PROD_LOCAL_REDIS_URL") or d.redis_url)
    parser.add_argument("--https-port", type=int, default=int(env("HTTPS_PORT") or d.https_port))
    parser.add_argument("--http-port", type=int, default=int(env("HTTP_PORT") or d.http_port))
    parser.add_argument("--health-port", type=int, default=d.health_port)
    parser.add_argument("--web-port", type=int, default=int(env("WEB_PORT") or d.web_port))
    parser.add_argument("--web-workers", type=int, default=d.web_workers)
    parser.add_argument("--worker-concurrency", type=int, default=d.worker_concurrency)
    parser.add_argument("--no-sandbox", action="store_true",
                        help="SANDBOX_ENABLED off: no directory, no demo customers (bring "
                             "TRUST_ANCHORS and client CAs of your own)")
    parser.add_argument("--client-ca", type=Path, action="append", default=[],
                        help="another CA file nginx trusts for client certificates (repeatable)")
    parser.add_argument("--no-seed", action="store_true",
                        help="do not seed the sandbox even if the database holds no customers")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    settings = Settings(run_dir=args.run_dir, database_url=args.database_url,
                        redis_url=args.redis_url, https_port=args.https_port,
                        http_port=args.http_port, health_port=args.health_port,
                        web_port=args.web_port, web_workers=args.web_workers,
                        worker_concurrency=args.worker_concurrency, sandbox=not args.no_sandbox,
                        seed_args=None if args.no_seed else (),
                        client_ca_files=tuple(args.client_ca))
    ensure_machine_services(settings.database_url, settings.redis_url)
    topology = Topology(settings, report=lambda message: print(f"   {message}", flush=True))
    # Ctrl-C, and SIGTERM, stop everything in order (SIGINT too when the launcher was started
    # with it ignored, as a shell's background job is).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    print(f"Starting the production topology in {topology.settings.run_dir} "
          f"(database {_url_parts(settings.database_url).database}, Redis {settings.redis_url})"
          " ...", flush=True)
    try:
        topology.start()
    except TopologyError as error:
        print(f"!! {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    print(banner(topology), flush=True)
    reported: set[str] = set()
    try:
        while True:
            time.sleep(1)
            for name, service in topology.services.items():
                if not service.running and name not in reported:
                    reported.add(name)
                    print(f"\n!! {name} stopped (exit code {service.process.returncode}); "
                          f"its log: {service.log_path}", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        print("\nStopping nginx, web, beat and worker ...", flush=True)
    finally:
        topology.stop()
    print("Stopped.")
    return 0


def banner(topology: Topology) -> str:
    s = topology.settings
    width = max(len(label) for label, _ in topology.urls())
    lines = ["", "The Invisible Bank, production topology on this machine:"]
    lines += [f"  {label:<{width}}  {url}" for label, url in topology.urls()]
    lines += ["",
              f"  TLS: a self-signed certificate for localhost; trust {topology.server_ca}",
              f"       (curl --cacert {topology.server_ca} {topology.issuer}/health/ready)",
              f"  MTLS: nginx asks for a client certificate from the CAs in {topology.client_ca};",
              f"       a local one: --cert {topology.certs_dir / 'client.crt'} "
              f"--key {topology.certs_dir / 'client.key'}",
              f"  Processes: nginx -> gunicorn {s.web_workers}x{s.web_threads} on {topology.web_url}"
              f" (TRUSTED_PROXIES={s.proxy_address}), Celery worker ({s.worker_concurrency}) and "
              f"beat",
              f"  Logs: {topology.logs_dir}",
              f"  SANDBOX_ENABLED={'true' if s.sandbox else 'false'}"]
    if s.sandbox:
        from sandbox.seed import demo_users_text
        lines += ["", demo_users_text()]
    lines += ["", "Ctrl-C stops everything."]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
