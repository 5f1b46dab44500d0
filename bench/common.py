"""What the benchmarks share: a fresh, migrated PostgreSQL database on a given server, and a
description of the machine for the record. Benchmarks, not tests: nothing here asserts a time."""
from __future__ import annotations

import json
import os
import platform as host_platform
import subprocess
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from aspsp.config import normalise_database_url  # noqa: E402

DEFAULT_SERVER = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432")

# A benchmark drives one client far past any tier's limits (aspsp/ratelimit): every server it
# starts (they inherit this environment) and every app it makes in-process still runs the
# limit check on every call, against a premium tier this high, so that what is measured is the
# work of a call with its check, never a 429. Set these variables to measure a real tier.
UNTHROTTLED = "1000000 per second"
os.environ.setdefault("RATELIMIT_DEFAULT_TIER", "premium")
os.environ.setdefault("RATELIMIT_TIER_PREMIUM", "; ".join(
    f"{family}: {UNTHROTTLED}" for family in ("ais", "pis", "cof", "vrp", "events", "oauth")))
os.environ.setdefault("RATELIMIT_OAUTH_PER_ADDRESS", UNTHROTTLED)
RESULTS = ROOT / "bench" / "results"


def server_url(server: str) -> str:
    return normalise_database_url(server.rstrip("/"))


def create_database(server: str, prefix: str, migrate: bool = True) -> str:
    """A new database on `server` (built from the migrations unless migrate=False); its URL."""
    from aspsp.cli import upgrade

    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(f"{server_url(server)}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = f"{server_url(server)}/{name}"
    if migrate:
        upgrade(url)
    return url


def drop_database(url: str) -> None:
    server, name = url.rsplit("/", 1)
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def libpq_args(url: str) -> list[str]:
    """-h/-p/-U for the PostgreSQL command-line tools, from a SQLAlchemy URL."""
    parts = urlsplit(url.replace("+psycopg2", ""))
    args = ["-h", parts.hostname or "127.0.0.1", "-p", str(parts.port or 5432)]
    if parts.username:
        args += ["-U", parts.username]
    return args


def machine() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": host_platform.python_version(),
            "system": f"{host_platform.system()} {host_platform.release()}"}


def server_version(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SHOW server_version")).scalar_one()
    finally:
        engine.dispose()


def save(name: str, result: dict) -> Path:
    """Keep the run's numbers in bench/results/ (not committed) for comparison."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    path = RESULTS / f"{name}-{stamp}.json"
    path.write_text(json.dumps(result, indent=2, default=str))
    return path


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=True, capture_output=True, text=True, **kwargs)
