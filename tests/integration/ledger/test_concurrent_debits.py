"""Concurrent debits on PostgreSQL: real connections, real commits, one account.

Each racer has its own unit of work (its own connection) and all are released together by a
barrier. The row lock on the account must let exactly the affordable number of debits through,
refuse the rest with InsufficientFunds, and never deadlock.
"""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from aspsp.clock import Clock
from aspsp.db import Database, make_engine
from aspsp.ledger import services
from aspsp.ledger.domain import PaymentStatus, transfer_lines
from aspsp.ledger.errors import InsufficientFunds
from aspsp.ledger.money import Money
from aspsp.ledger.repository import LedgerRepository
from bank import create_app
from tests import factories
from tests.conftest import NOW, create_pg_database, drop_pg_database, service_missing

RACERS = 60
HANG_GUARD = 120  # seconds; only so that a broken test cannot hang the suite forever


def gbp(amount) -> Money:
    return Money.of(amount, "GBP")


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """A migrated database of its own, with a pool big enough for every racer at once."""
    try:
        url = create_pg_database("aspsp_race")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    engine = make_engine(url, pool_size=RACERS + 5, max_overflow=0)
    app = create_app({"DATABASE_URL": url, "DATABASE": Database(url, engine=engine),
                      "CLOCK": Clock(frozen_at=NOW), "CELERY_ALWAYS_EAGER": True,
                      "INSTANCE_PATH": str(tmp_path_factory.mktemp("race")),
                      "SECRET_KEY": "test-secret", "REDIS_URL": None, "TESTING": True})
    yield app.extensions["aspsp"]
    engine.dispose()
    drop_pg_database(url)


def race(platform, jobs):
    """Run every job at once, each in its own unit of work; returns "ok", "refused" or the
    unexpected exception, one per job, in order."""
    barrier = threading.Barrier(len(jobs), timeout=HANG_GUARD)

    def run(job):
        with platform.uow() as uow:
            uow.session.connection()  # hold a connection before the start
            barrier.wait()
            try:
                job(uow)
                uow.commit()
                return "ok"
            except InsufficientFunds:
                return "refused"
            except Exception as error:  # reported by the assertions below, not swallowed
                return error

    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        futures = [pool.submit(run, job) for job in jobs]
        return [future.result(timeout=HANG_GUARD) for future in futures]


def open_funded(platform, *amounts, credit_limit="0"):
    with platform.uow() as uow:
        accounts = [factories.account(uow, now=NOW, funded=amount, credit_limit=credit_limit)
                    .account_id for amount in amounts]
        uow.commit()
    return accounts


def booked_and_available(platform, account_id):
    with platform.uow() as uow:
        shown = {b.type: b.amount for b in services.balances(uow, account_id, now=NOW)}
    return shown["InterimBooked"], shown["InterimAvailable"]


def assert_reconciled(platform):
    with platform.uow() as uow:
        assert services.reconcile_balances(uow) == []


def test_racing_card_debits_take_exactly_what_the_account_holds(platform):
    (account,) = open_funded(platform, "1000.00")
    with platform.uow() as uow:
        card_settlement = services.internal_account_id(uow, services.CARD_SETTLEMENT, "GBP")

    def card_payment(uow):
        services.post_entry(uow, transfer_lines(account, card_settlement, gbp("30.00"),
                                                {"merchant_name": "Corner Shop",
                                                 "merchant_category_code": "5411"}),
                            kind="card-payment", now=NOW)

    outcomes = race(platform, [card_payment] * RACERS)

    assert [o for o in outcomes if o not in ("ok", "refused")] == []
    assert outcomes.count("ok") == 33          # 33 x £30 = £990 of £1,000
    assert outcomes.count("refused") == RACERS - 33
    assert booked_and_available(platform, account) == (gbp("10.00"), gbp("10.00"))
    assert_reconciled(platform)


def test_racing_debits_stop_exactly_at_the_overdraft_limit(platform):
    (account,) = open_funded(platform, "100.00", credit_limit="500.00")

    def card_payment(uow):
        card_settlement = services.internal_account_id(uow, services.CARD_SETTLEMENT, "GBP")
        services.post_entry(uow, transfer_lines(account, card_settlement, gbp("25.00")),
                            kind="card-payment", now=NOW)

    outcomes = race(platform, [card_payment] * RACERS)

    assert [o for o in outcomes if o not in ("ok", "refused")] == []
    assert outcomes.count("ok") == 24          # 24 x £25 = £600 = £100 + the £500 overdraft
    assert booked_and_available(platform, account) == (gbp("-500.00"), gbp("-500.00"))
    assert_reconciled(platform)


def test_racing_outbound_payments_take_exactly_what_the_account_holds(platform):
    (account,) = open_funded(platform, "1000.00")
    creditor = services.Creditor("Acme Ltd", "UK.OBIE.SortCodeAccountNumber", "20000012345678")
    paid: list[str] = []

    def payment(uow):
        made = services.pay(uow, debtor_account_id=account, creditor=creditor,
                            amount=gbp("30.00"), now=NOW, reference="race")
        paid.append(made.payment_id)

    outcomes = race(platform, [payment] * RACERS)

    assert [o for o in outcomes if o not in ("ok", "refused")] == []
    assert outcomes.count("ok") == 33
    # Every accepted payment was settled by its task after its commit: nothing is pending.
    assert booked_and_available(platform, account) == (gbp("10.00"), gbp("10.00"))
    with platform.uow() as uow:
        repo = LedgerRepository(uow.session)
        statuses = {repo.payment(payment_id).status for payment_id in paid}
    assert len(paid) == 33 and statuses == {PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED}
    assert_reconciled(platform)


def test_transfers_both_ways_at_once_do_not_deadlock(platform):
    a, b = open_funded(platform, "1000.00", "1000.00")

    def a_to_b(uow):
        services.transfer(uow, debtor_account_id=a, creditor_account_id=b,
                          amount=gbp("10.00"), now=NOW)

    def b_to_a(uow):
        services.transfer(uow, debtor_account_id=b, creditor_account_id=a,
                          amount=gbp("10.00"), now=NOW)

    outcomes = race(platform, [a_to_b, b_to_a] * (RACERS // 2))

    assert outcomes == ["ok"] * RACERS  # a deadlock would surface here as an OperationalError
    assert booked_and_available(platform, a) == (gbp("1000.00"), gbp("1000.00"))
    assert booked_and_available(platform, b) == (gbp("1000.00"), gbp("1000.00"))
    assert_reconciled(platform)
