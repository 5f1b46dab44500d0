"""Concurrent appends on PostgreSQL: many transactions commit audit records at once, on
their own connections; the chain head's row lock makes them queue at commit, so the result is
one unbroken chain (no two records with the same predecessor, no gap)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from aspsp import audit, create_app
from aspsp.audit import services
from aspsp.clock import Clock
from aspsp.db import Database, make_engine
from tests.conftest import NOW, create_pg_database, drop_pg_database, service_missing

WRITERS = 24
EACH = 5
HANG_GUARD = 120


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    try:
        url = create_pg_database("aspsp_audit_race")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    engine = make_engine(url, pool_size=WRITERS + 2, max_overflow=0)
    app = create_app({"DATABASE_URL": url, "DATABASE": Database(url, engine=engine),
                      "CLOCK": Clock(frozen_at=NOW), "CELERY_ALWAYS_EAGER": True,
                      "INSTANCE_PATH": str(tmp_path_factory.mktemp("audit_race")),
                      "SECRET_KEY": "test-secret", "REDIS_URL": None, "TESTING": True})
    yield app.extensions["aspsp"]
    engine.dispose()
    drop_pg_database(url)


def test_concurrent_writers_make_one_unbroken_chain(platform):
    barrier = threading.Barrier(WRITERS, timeout=HANG_GUARD)

    def writer(n: int):
        for i in range(EACH):
            with platform.uow() as uow:
                uow.session.connection()      # each its own open transaction first
                if i == 0:
                    barrier.wait()
                audit.record(uow, "test.race", audit.Actor.system(f"writer-{n}"), now=NOW,
                             facts={"writer": n, "i": i})
                audit.record(uow, "test.race", audit.Actor.system(f"writer-{n}"), now=NOW,
                             facts={"writer": n, "i": i, "second": True})
                uow.commit()
        return "ok"

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        results = [f.result(timeout=HANG_GUARD) for f in
                   [pool.submit(writer, n) for n in range(WRITERS)]]
    assert results == ["ok"] * WRITERS

    with platform.uow() as uow:
        verdict = services.verify(uow)
        rows = services.tail(uow, WRITERS * EACH * 2 + 10)
    assert verdict.ok, str(verdict.problem)
    assert verdict.count == WRITERS * EACH * 2
    assert len({r["prev_hash"] for r in rows}) == len(rows)      # no fork
    # the two records of one transaction are next to each other
    for first, second in zip(rows[::2], rows[1::2]):
        assert first["facts"]["writer"] == second["facts"]["writer"]
        assert second["facts"].get("second") is True
