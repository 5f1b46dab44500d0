"""Test fixtures.

Integration tests run once per database engine: the `db_url` fixture is parametrised over
SQLite and PostgreSQL. Each test runs inside a transaction that is rolled back afterwards
(commits inside become savepoints), on a schema built once per run from the migrations.

PostgreSQL and Redis are real services on 127.0.0.1. With CI set, a missing service fails the
test that needs it; on a developer machine without them, those tests are skipped with the reason.
"""
from __future__ import annotations

import os
import re
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import sessionmaker

from aspsp.cli import upgrade
from aspsp import request_log
from aspsp.clock import Clock
from aspsp.db import Database, make_engine
from aspsp.keyring import new_key_setting
from aspsp.ratelimit.tiers import Family, Tier, setting_name
from bank import create_app
from tests import ast_race

# CPython 3.11.7's `ast.parse` races with itself across threads (tests/ast_race.py).
ast_race.install()

PG_SERVER = os.environ.get("TEST_PG_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# The official OBIE OpenAPI documents: the repository's own copy (specs/obie/README.md).
OBIE_SPECS = Path(__file__).resolve().parents[1] / "specs" / "obie"
# The workplace's reference material beside the repository (CI has it, a user's clone does
# not): only tests/unit/test_specs_copy.py reads it, to keep the copy equal to it.
SHARED = Path(__file__).resolve().parents[1].parent / "shared"
NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
# The issuer of test apps: the Flask test client sends requests to http://localhost, and the
# platform checks DPoP htu and JWT audiences against ISSUER + path.
TEST_ISSUER = "http://localhost"
# The rate limits count real seconds (the limits library), not the test clock: a test that
# posts five wrong passwords in a row to check the lockout must not meet the limit of two
# password posts a second meanwhile, nor a test that pages through a long history both ways
# meet the 50 AIS calls a second of the standard tier on a fast machine. Test apps take these;
# tests/integration/ratelimit and tests/integration/psu_web/test_login_rate_limits.py test the
# limits themselves, with apps of their own.
_UNLIMITED_TIER = "; ".join(f"{family.value}: 1000000 per second" for family in Family)
UNLIMITED_RATES = {"LOGIN_RATE_LIMIT_PER_ADDRESS": "100000 per second",
                   "LOGIN_RATE_LIMIT_GLOBAL": "100000 per second",
                   "RATELIMIT_OAUTH_PER_ADDRESS": "1000000 per second",
                   **{setting_name(tier): _UNLIMITED_TIER for tier in Tier}}
# One key-encryption key for the whole run, as every process of one deployment shares one: the
# migrated databases (their signing keys are made at `upgrade`) and every test app open the
# same sealed secrets.
os.environ.setdefault("KEY_ENCRYPTION_KEY", new_key_setting("test"))


# A JWT or JWS in compact form: a base64url JSON header ('{"' encodes as "eyJ") and a dot. A
# random base64url value (a PKCE challenge, a state, a request_uri) holds "eyJ" now and then
# by chance (about one in 6,000 of 43 characters), but never a dot.
JWT_IN_TEXT = re.compile(r"eyJ[A-Za-z0-9_-]{10,}\.")


def holds_jwt(text: str) -> bool:
    """Whether `text` shows a token, assertion, proof or SSA (so a report or page leaks one)."""
    return JWT_IN_TEXT.search(text) is not None


def service_missing(what: str, error: Exception):
    message = f"{what} is not reachable ({type(error).__name__}: {error})"
    if IN_CI:
        pytest.fail(f"{message}; CI must provide it", pytrace=False)
    pytest.skip(message)


def _pg_admin_engine():
    return create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")


def create_pg_database(prefix: str = "aspsp_test") -> str:
    """A new, migrated PostgreSQL database; returns its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = _pg_admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    url = f"{PG_SERVER}/{name}"
    upgrade(url)
    return url


def drop_pg_database(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = _pg_admin_engine()
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@contextmanager
def committed_database(kind: str, directory: Path, prefix: str):
    """A migrated database that several app instances really commit to (the cross-process
    tests: two processes' worth of the platform on one database): a SQLite file in
    `directory`, or a new PostgreSQL database, dropped afterwards."""
    if kind == "sqlite":
        url = f"sqlite:///{directory / 'shared.sqlite'}"
        upgrade(url)
        yield url
        return
    url = create_pg_database(prefix)
    try:
        yield url
    finally:
        request_log.flush_all()    # what the apps' request logs hold, written before it goes
        drop_pg_database(url)


@pytest.fixture(autouse=True)
def _celery_joins_allowed():
    """Celery keeps 'a result may not be waited for here' in one process-wide flag that each
    eager task sets and restores around its run. Tests that run eager tasks from many threads
    at once (the concurrency tests) interleave those restores and can leave it set, and every
    later `.delay().get()` in the same pytest worker then fails. Each test starts as a fresh
    process would."""
    from celery.result import _set_task_join_will_block
    _set_task_join_will_block(False)
    yield


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'test.sqlite'}"
    upgrade(url)
    return url


@pytest.fixture(scope="session")
def postgres_url():
    try:
        url = create_pg_database()
    except Exception as error:  # OperationalError when the server is down
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    yield url
    drop_pg_database(url)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request) -> str:
    return request.getfixturevalue(f"{request.param}_url" if request.param == "sqlite"
                                   else "postgres_url")


@pytest.fixture(scope="session")
def _engines():
    engines = {}
    yield engines
    for engine in engines.values():
        engine.dispose()


@pytest.fixture
def database(db_url, _engines) -> Database:
    """A Database whose every unit of work runs inside one outer transaction, rolled back
    at the end of the test."""
    engine = _engines.get(db_url) or _engines.setdefault(db_url, make_engine(db_url))
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, join_transaction_mode="create_savepoint",
                           expire_on_commit=False)
    yield Database(db_url, engine=engine, session_factory=factory)
    outer.rollback()
    connection.close()


@pytest.fixture
def clock() -> Clock:
    return Clock(frozen_at=NOW)


@pytest.fixture
def app(database, clock, tmp_path):
    return create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                       "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                       "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                       **UNLIMITED_RATES})


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def platform(app):
    return app.extensions["aspsp"]


@pytest.fixture
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except Exception as error:
        service_missing("Redis at 127.0.0.1:6379", error)
    return REDIS_URL


# The tiers that mostly wait (tests/prod: real servers restarted, a webhook receiver down for
# minutes; tests/conformance: approvals that wait for a fresh TOTP step) run first. pytest-xdist
# hands tests out in collection order, so a long tier collected late (tests/prod sorts after
# tests/integration) ran on one worker while the other had only the unit tests left, and then
# nothing: minutes of one idle core at the end of every run.
_FIRST = ("tests/prod/", "tests/conformance/")


def pytest_collection_modifyitems(session, config, items):
    def tier(item) -> int:
        path = item.nodeid.replace(os.sep, "/")
        return next((i for i, prefix in enumerate(_FIRST) if path.startswith(prefix)),
                    len(_FIRST))
    items.sort(key=tier)        # stable: each tier keeps its own order
