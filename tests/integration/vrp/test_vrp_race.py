"""Twenty VRPs of one consent at once, over HTTP, on PostgreSQL with real commits (a database
of its own), racing one limit: the consent's row lock makes each submission sum what the
others committed, so the VRPs accepted never exceed the limit together, and exactly as many
as fit are accepted; the money moved is what was accepted."""
from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from aspsp.db import Database, make_engine
from aspsp.ledger import services as ledger
from aspsp.ledger.money import Money
from aspsp.vrp.models import DomesticVrp
from bank import create_app
from tests.conftest import (TEST_ISSUER, UNLIMITED_RATES, create_pg_database, drop_pg_database,
                            service_missing)
from tests.integration.vrp.conftest import codes, limit, vrp_consent_body

RACERS = 20
HANG_GUARD = 120  # seconds; only so that a broken test cannot hang the suite forever


@pytest.fixture(scope="module")
def own_database():
    try:
        url = create_pg_database("aspsp_vrp_race")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    engine = make_engine(url, pool_size=RACERS + 10, max_overflow=0)
    yield Database(url, engine=engine)
    engine.dispose()
    drop_pg_database(url)


@pytest.fixture
def db_url(own_database) -> str:
    return own_database.url


@pytest.fixture
def app(own_database, clock, tmp_path):
    return create_app({"DATABASE_URL": own_database.url, "DATABASE": own_database,
                       "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                       "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                       "TESTING": True, "ISSUER": TEST_ISSUER, "REDIS_URL": None,
                       **UNLIMITED_RATES})


def test_twenty_concurrent_vrps_never_exceed_the_limit_together(app, pisp, make_payer,
                                                                vrp_journey, platform, clock):
    customer = make_payer("1000.00")
    # 100.00 a day; 20 VRPs of 7.00 race for it: 14 fit (98.00), 6 do not
    j = vrp_journey(pisp, customer, vrp_consent_body("50.00", [limit("100.00", "Day")]))
    barrier = threading.Barrier(RACERS, timeout=HANG_GUARD)

    def pay(_):
        racer = dataclasses.replace(j, tpp=dataclasses.replace(j.tpp, http=app.test_client()))
        barrier.wait()
        return racer.pay("7.00")

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(pay, range(RACERS), timeout=HANG_GUARD))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 14 + [400] * 6, [r.get_json() for r in responses]
    assert all(codes(r) == ["UK.OBIE.Rules.FailsControlParameters"]
               for r in responses if r.status_code == 400)
    with platform.uow() as uow:
        total = uow.session.scalar(select(func.sum(DomesticVrp.amount_minor)))
        assert Decimal(total) / 100 == Decimal("98.00")
        balances = {b.type: b.amount for b in ledger.balances(uow, customer.account_ids[0],
                                                              now=clock.now())}
        assert balances["InterimBooked"] == Money.of("902.00", "GBP")
        assert ledger.reconcile_balances(uow) == []
