"""The embedded default (`make run`: an SQLite file, every transaction taking the database's
write lock): a payment to another bank settles, the simulated scheme's record written in a
transaction of its own between the settlement task's two units of work (inside one, it would
wait on the lock ours held). A database file of this test's own, real commits."""
from __future__ import annotations

from aspsp.cli import upgrade
from aspsp.ledger import services as ledger
from aspsp.ledger.money import Money
from aspsp.ledger.repository import LedgerRepository
from aspsp.ledger.scheme import SimulatedSchemeRecord
from bank import create_app
from tests import factories
from tests.conftest import TEST_ISSUER


def test_an_outbound_payment_settles_on_an_sqlite_file(tmp_path, clock):
    url = f"sqlite:///{tmp_path / 'bank.sqlite'}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                      "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                      "TESTING": True, "ISSUER": TEST_ISSUER})
    p = app.extensions["aspsp"]
    with app.app_context():
        with p.uow() as uow:
            account = factories.account(uow, now=clock.now(), funded="50.00")
            uow.commit()
            account_id = account.account_id
        with p.uow() as uow:
            payment = ledger.pay(uow, debtor_account_id=account_id, creditor=ledger.Creditor(
                "ACME Ltd", "UK.OBIE.SortCodeAccountNumber", "20000012345678"),
                amount=Money.of("20.00", "GBP"), now=clock.now(), reference="INV-1")
            payment_id = payment.payment_id
            uow.commit()              # the settlement task runs here (eager)
        with p.uow() as uow:
            assert LedgerRepository(uow.session).payment(payment_id).status == \
                "AcceptedSettlementCompleted"
            assert uow.session.get(SimulatedSchemeRecord, payment_id).accepted
            assert ledger.reconcile_balances(uow) == []
    p.db.engine.dispose()
