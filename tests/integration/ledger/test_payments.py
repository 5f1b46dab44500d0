
import pytest

from aspsp.ledger import services
from aspsp.ledger.domain import PaymentStatus
from aspsp.ledger.errors import InsufficientFunds
from aspsp.ledger.money import Money
from tests import factories


def gbp(amount):
    return Money.of(amount, "GBP")


def test_internal_transfer_moves_money_at_once(platform, clock):
    with platform.uow() as uow:
        a = factories.account(uow, now=clock.now(), funded="100.00")
        b = factories.account(uow, now=clock.now())
        payment = services.transfer(uow, debtor_account_id=a.account_id,
                                    creditor_account_id=b.account_id, amount=gbp("30.25"),
                                    now=clock.now(), reference="rent")
        uow.commit()
        assert payment.status == PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED
        bal = {x.type: x.amount for x in services.balances(uow, a.account_id, now=clock.now())}
        assert bal["InterimBooked"] == gbp("69.75")
        assert services.reconcile_balances(uow) == []


def test_outbound_payment_settles_through_the_scheme(platform, clock):
    with platform.uow() as uow:
        a = factories.account(uow, now=clock.now(), funded="100.00")
        payment = services.pay(uow, debtor_account_id=a.account_id,
                               creditor=services.Creditor("Acme Ltd", "UK.OBIE.SortCodeAccountNumber",
                                                          "20000012345678"),
                               amount=gbp("40"), now=clock.now(), reference="INV-1")
        uow.commit()  # eager Celery settles after the commit
        payment_id = payment.payment_id
    with platform.uow() as uow:
        from aspsp.ledger.repository import LedgerRepository
        settled = LedgerRepository(uow.session).payment(payment_id)
        assert settled.status == PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED
        bal = {x.type: x.amount for x in services.balances(uow, a.account_id, now=clock.now())}
        assert bal["InterimBooked"] == gbp("60.00")
        assert bal["InterimAvailable"] == gbp("60.00")
        assert services.reconcile_balances(uow) == []


def test_debit_beyond_the_overdraft_is_refused_and_nothing_is_written(platform, clock):
    with platform.uow() as uow:
        a = factories.account(uow, now=clock.now(), funded="10.00", credit_limit="50.00")
        b = factories.account(uow, now=clock.now())
        uow.commit()
        with pytest.raises(InsufficientFunds):
            services.transfer(uow, debtor_account_id=a.account_id,
                              creditor_account_id=b.account_id, amount=gbp("60.01"),
                              now=clock.now())
        uow.rollback()
        services.transfer(uow, debtor_account_id=a.account_id, creditor_account_id=b.account_id,
                          amount=gbp("60.00"), now=clock.now())
        uow.commit()
        bal = {x.type: x.amount for x in services.balances(uow, a.account_id, now=clock.now())}
        assert bal["InterimAvailable"] == gbp("-50.00")
