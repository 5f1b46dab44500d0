"""An internal transfer is a few Core statements (issue 8): the two accounts read and locked in
one SELECT ... FOR UPDATE, the entry, both postings in one INSERT, both cached balances in one
UPDATE, the day counts in one upsert, the payment. What a caller holds must still be true
afterwards: accounts it read before the transfer show the new balances, and the payment it
gets back is the stored one."""
from __future__ import annotations

from sqlalchemy import event, func, select

from aspsp.ledger import models, services
from aspsp.ledger.domain import PaymentStatus, PostingStatus
from aspsp.ledger.money import Money
from tests import factories


def test_an_internal_transfer_is_six_statements(platform, clock):
    with platform.uow() as uow:
        a = factories.account(uow, now=clock.now(), funded="100.00")
        b = factories.account(uow, now=clock.now())
        uow.session.flush()
        sent: list[str] = []
        connection = uow.session.connection()
        listener = lambda *args: sent.append(args[2])   # noqa: E731 (statement text)
        event.listen(connection, "before_cursor_execute", listener)
        try:
            services.transfer(uow, debtor_account_id=a.account_id,
                              creditor_account_id=b.account_id, amount=Money.of("1.00", "GBP"),
                              now=clock.now())
        finally:
            event.remove(connection, "before_cursor_execute", listener)
        kinds = [s.split(None, 1)[0].upper() for s in sent]
        assert kinds == ["SELECT", "INSERT", "INSERT", "UPDATE", "INSERT", "INSERT"], sent
        assert "FOR UPDATE" in sent[0] or platform.db.engine.dialect.name == "sqlite"


def test_what_the_caller_holds_is_current_after_a_transfer(platform, clock):
    with platform.uow() as uow:
        a = factories.account(uow, now=clock.now(), funded="100.00")
        b = factories.account(uow, now=clock.now())
        uow.session.flush()
        assert a.booked_minor == 10000 and b.booked_minor == 0
        payment = services.transfer(uow, debtor_account_id=a.account_id,
                                    creditor_account_id=b.account_id,
                                    amount=Money.of("30.25", "GBP"), now=clock.now(),
                                    reference="rent")
        assert (a.booked_minor, b.booked_minor) == (6975, 3025)
        stored = uow.session.scalars(select(models.Payment).where(
            models.Payment.payment_id == payment.payment_id)).one()
        assert stored is payment
        assert payment.status == PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED
        postings = uow.session.scalars(select(models.Posting).where(
            models.Posting.entry_pk == payment.entry_pk).order_by(models.Posting.id)).all()
        assert [(p.amount_minor, p.balance_after_minor, p.status) for p in postings] == [
            (-3025, 6975, PostingStatus.BOOKED), (3025, 3025, PostingStatus.BOOKED)]
        assert postings[0].counterparty["CreditorAccount"]["Identification"] == \
            f"{b.sort_code}{b.account_number}"
        assert uow.session.scalar(select(func.count()).select_from(models.Posting).where(
            models.Posting.entry_pk == payment.entry_pk,
            models.Posting.card_instrument.is_(None))) == 2      # SQL NULL, not JSON null
        uow.commit()
        assert services.reconcile_balances(uow) == []
