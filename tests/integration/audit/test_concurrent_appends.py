"""Concurrent appends on PostgreSQL: many transactions commit audit records at once, on
their own connections; the chain head's row lock makes them queue at commit, so the result is
one unbroken chain (no two records with the same predecessor, no gap)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from aspsp import audit
from aspsp.audit import services
from aspsp.clock import Clock
from aspsp.db import Database, make_engine
from bank import create_app
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


def test_a_transaction_waiting_on_a_row_never_deadlocks_with_the_head(platform):
    """T2 holds a row lock; T1 changed that row (not yet flushed) and commits, so it waits for
    the row; T2 then appends and commits. T1 must take its row locks before the head's (its
    changes are flushed first), else T1 would hold the head while waiting for the row and
    T2 wait for the head: a deadlock PostgreSQL breaks by failing one of them."""
    from sqlalchemy import select, text

    from aspsp.ledger.models import Party
    from tests import factories

    with platform.uow() as uow:
        party_id = factories.party(uow, "Row Holder", now=NOW).party_id
        uow.commit()
    row_locked, t1_waiting = threading.Event(), threading.Event()

    def t2():
        with platform.uow() as uow:
            uow.session.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
            uow.session.scalars(select(Party).where(Party.party_id == party_id)
                                .with_for_update()).one()
            row_locked.set()
            assert t1_waiting.wait(HANG_GUARD)
            threading.Event().wait(0.5)           # T1 is blocked in its commit by now
            audit.record(uow, "test.t2", audit.Actor.system("t2"), now=NOW)
            uow.commit()
        return "ok"

    def t1():
        assert row_locked.wait(HANG_GUARD)
        with platform.uow() as uow:
            uow.session.execute(text("SET LOCAL deadlock_timeout = '100ms'"))
            party = uow.session.scalars(select(Party).where(Party.party_id == party_id)).one()
            party.name = "Changed"                 # dirty, not flushed yet
            audit.record(uow, "test.t1", audit.Actor.system("t1"), now=NOW)
            t1_waiting.set()
            uow.commit()
        return "ok"

    with ThreadPoolExecutor(max_workers=2) as pool:
        second, first = pool.submit(t2), pool.submit(t1)
        assert (first.result(timeout=HANG_GUARD), second.result(timeout=HANG_GUARD)) == \
            ("ok", "ok")
    with platform.uow() as uow:
        verdict = services.verify(uow)
        last = [r["event_type"] for r in services.tail(uow, 2)]
    assert verdict.ok and last == ["test.t2", "test.t1"]
