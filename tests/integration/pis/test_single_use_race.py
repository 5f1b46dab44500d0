"""Twenty submissions of one single-use consent at once, over HTTP, on PostgreSQL with real
commits (a database of its own): exactly one payment order, the consent Consumed once, the
money moved once. The consent's row lock serialises the submissions; the unique consent on
payment_orders would refuse a second order even without it."""
from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from aspsp.db import Database, make_engine
from aspsp.ledger import services as ledger
from aspsp.ledger.models import Payment
from aspsp.ledger.money import Money
from aspsp.pis.models import PaymentOrder
from bank import create_app
from consent.models import ConsentEvent
from tests.conftest import (TEST_ISSUER, UNLIMITED_RATES, create_pg_database, drop_pg_database,
                            service_missing)
from tests.integration.pis.conftest import codes, domestic_consent_body

RACERS = 20
HANG_GUARD = 120  # seconds; only so that a broken test cannot hang the suite forever


@pytest.fixture(scope="module")
def own_database():
    try:
        url = create_pg_database("aspsp_pis_race")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    engine = make_engine(url, pool_size=RACERS + 10, max_overflow=0)
    yield Database(url, engine=engine)
    engine.dispose()
    drop_pg_database(url)


@pytest.fixture
def app(own_database, clock, tmp_path):
    return create_app({"DATABASE_URL": own_database.url, "DATABASE": own_database,
                       "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                       "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                       "TESTING": True, "ISSUER": TEST_ISSUER, "REDIS_URL": None,
                       **UNLIMITED_RATES})


def test_twenty_concurrent_submissions_make_exactly_one_payment(app, pisp, make_payer,
                                                                journey, platform, clock):
    customer = make_payer("100.00")
    j = journey(pisp, customer, domestic_consent_body("30.00"))
    barrier = threading.Barrier(RACERS, timeout=HANG_GUARD)

    def submit(_):
        racer = dataclasses.replace(j, tpp=dataclasses.replace(j.tpp, http=app.test_client()))
        barrier.wait()
        return racer.submit()

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(submit, range(RACERS), timeout=HANG_GUARD))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [400] * (RACERS - 1), [r.get_json() for r in responses]
    assert all(codes(r) == ["UK.OBIE.Resource.InvalidConsentStatus"]
               for r in responses if r.status_code == 400)
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PaymentOrder)) == 1
        assert uow.session.scalar(select(func.count()).select_from(Payment)) == 1
        assert uow.session.scalar(select(func.count()).select_from(ConsentEvent).where(
            ConsentEvent.to_status == "Consumed")) == 1
        balances = {b.type: b.amount for b in ledger.balances(uow, customer.account_ids[0],
                                                              now=clock.now())}
        assert balances["InterimBooked"] == Money.of("70.00", "GBP")
        assert ledger.reconcile_balances(uow) == []
