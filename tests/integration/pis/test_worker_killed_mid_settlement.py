"""A settlement worker killed (SIGKILL) between the scheme's acceptance and the bank's commit:
the task comes back from the Redis broker after the visibility timeout, a second worker
completes it, the scheme pays the key once, and the ledger reconciles.

Real processes: `celery -A wsgi:celery worker` against a PostgreSQL database of this test's
own and Redis db of TEST_REDIS_URL. The first worker runs with the sandbox's pause hook
(SANDBOX_SETTLEMENT_PAUSE_FILE): once the simulated scheme has recorded the payment it writes
`<file>.reached` and waits; the test kills it there.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis
from sqlalchemy import func, select

from aspsp.db import Database
from aspsp.ledger import services as ledger
from aspsp.ledger.models import JournalEntry, Payment
from aspsp.ledger.money import Money
from aspsp.ledger.scheme import SimulatedSchemeRecord
from aspsp.pis.models import PaymentOrder
from bank import create_app
from tests.conftest import (TEST_ISSUER, UNLIMITED_RATES, create_pg_database, drop_pg_database,
                            service_missing)
from tests.integration.pis.conftest import domestic_consent_body

ROOT = Path(__file__).resolve().parents[3]
HANG_GUARD = 240      # seconds; only so that a broken test cannot hang the suite forever
VISIBILITY_TIMEOUT = 5


@pytest.fixture(scope="module")
def own_database_url():
    try:
        url = create_pg_database("aspsp_pis_kill")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    yield url
    drop_pg_database(url)


@pytest.fixture
def broker(redis_url):
    client = redis.Redis.from_url(redis_url)
    client.flushdb()          # this test's own db (TEST_REDIS_URL): no task of another run
    yield redis_url
    client.flushdb()


@pytest.fixture
def app(own_database_url, broker, clock, tmp_path):
    return create_app({"DATABASE_URL": own_database_url, "DATABASE": Database(own_database_url),
                       "CLOCK": clock, "CELERY_ALWAYS_EAGER": False,
                       "CELERY_BROKER_URL": broker, "INSTANCE_PATH": str(tmp_path),
                       "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                       **UNLIMITED_RATES,
                       "REDIS_URL": None})


def start_worker(env: dict, tmp_path: Path, name: str) -> subprocess.Popen:
    log = open(tmp_path / f"{name}.log", "w")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "wsgi:celery", "worker", "--pool=solo",
         "--concurrency=1", "--without-heartbeat", "--without-gossip", "--without-mingle",
         "-n", f"{name}@%h", "--loglevel=INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)


def wait_for(condition, what: str, workers=()) -> None:
    deadline = time.monotonic() + HANG_GUARD
    while not condition():
        for worker in workers:
            assert worker.poll() is None, f"a worker exited while waiting for {what}"
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.2)


def test_a_worker_killed_inside_settlement_pays_once_and_the_ledger_reconciles(
        app, own_database_url, broker, pisp, make_payer, journey, platform, clock, tmp_path):
    customer = make_payer("100.00")
    j = journey(pisp, customer, domestic_consent_body("35.00"))
    pause = tmp_path / "pause"
    pause.write_text("hold")
    env = {**os.environ, "DATABASE_URL": own_database_url, "CELERY_BROKER_URL": broker,
           "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT), "ISSUER": TEST_ISSUER,
           "INSTANCE_PATH": str(tmp_path / "worker"), "CELERY_ALWAYS_EAGER": "false",
           "SECRET_KEY": "test-secret"}
    first = start_worker({**env, "SANDBOX_SETTLEMENT_PAUSE_FILE": str(pause)}, tmp_path,
                         "first")
    second = None
    try:
        response = j.submit()
        assert response.status_code == 201, response.get_json()
        order_id = response.get_json()["Data"]["DomesticPaymentId"]
        reached = Path(f"{pause}.reached")
        wait_for(reached.exists, "the settlement to reach the pause", [first])
        key = reached.read_text()
        first.send_signal(signal.SIGKILL)
        first.wait()

        # The scheme has accepted the payment; the bank's settlement never committed.
        with platform.uow() as uow:
            payment = uow.session.scalars(select(Payment).where(Payment.payment_id == key)).one()
            assert payment.status == "AcceptedSettlementInProcess"
            assert uow.session.get(SimulatedSchemeRecord, key).accepted

        second = start_worker(env, tmp_path, "second")

        def settled() -> bool:
            with platform.uow() as uow:
                return uow.session.scalars(select(Payment.status).where(
                    Payment.payment_id == key)).one() == "AcceptedSettlementCompleted"
        wait_for(settled, "the second worker to complete the settlement", [second])
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=60)

    paid = pisp.call("GET", f"/open-banking/v3.1/pisp/domestic-payments/{order_id}",
                     token=pisp.token(scope="payments"))
    assert paid.get_json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(SimulatedSchemeRecord)) == 1
        assert uow.session.scalar(select(func.count()).select_from(JournalEntry).where(
            JournalEntry.kind == "scheme-settlement")) == 1
        assert uow.session.scalar(select(func.count()).select_from(PaymentOrder)) == 1
        balances = {b.type: b.amount for b in ledger.balances(uow, customer.account_ids[0],
                                                              now=clock.now())}
        assert balances["InterimBooked"] == Money.of("65.00", "GBP")
        assert balances["InterimAvailable"] == Money.of("65.00", "GBP")
    reconcile = subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "ledger",
                                "reconcile"], cwd=ROOT, env=env, capture_output=True,
                               text=True, timeout=HANG_GUARD)
    assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
    assert "ledger reconciled: no problems" in reconcile.stdout
