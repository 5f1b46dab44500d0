"""`ledger.pay` and the settlement's booking on the lean Core path (issue 9): a payment is one
SELECT ... FOR UPDATE (the debtor's account, the payee's if it is ours, the clearing account's
id) and the writes of a transfer; an accepted settlement books the entry and settles the
clearing account without reading them through the ORM. The rows written are the ones the
general path (post_entry) writes, and every refusal is the one it always was."""
from __future__ import annotations

import pytest
from sqlalchemy import event, select

from aspsp.ledger import models, services
from aspsp.ledger.domain import PaymentStatus, PostingStatus
from aspsp.ledger.errors import (AccountNotActive, AccountNotFound, CurrencyMismatch,
                                 InsufficientFunds, InvalidCounterparty, LedgerError)
from aspsp.ledger.money import Money
from aspsp.ledger.repository import LedgerRepository
from aspsp.ledger.scheme import SchemeResult
from tests import factories

OUTSIDE = services.Creditor("Acme Ltd", "UK.OBIE.SortCodeAccountNumber", "20000012345678")


def gbp(amount):
    return Money.of(amount, "GBP")


def _statements(uow, call):
    sent: list[str] = []
    connection = uow.session.connection()
    listener = lambda *args: sent.append(args[2])   # noqa: E731 (statement text)
    event.listen(connection, "before_cursor_execute", listener)
    try:
        result = call()
    finally:
        event.remove(connection, "before_cursor_execute", listener)
    return result, [s.split(None, 1)[0].upper() for s in sent], sent


def _postings(uow, entry_pk):
    return uow.session.scalars(select(models.Posting).where(
        models.Posting.entry_pk == entry_pk).order_by(models.Posting.id)).all()


def test_a_payment_to_one_of_our_customers_is_six_statements(platform, clock):
    with platform.uow() as uow:
        a = factories.account(uow, now=clock.now(), funded="100.00")
        b = factories.account(uow, now=clock.now())
        uow.session.flush()
        creditor = services.Creditor(b.name, "UK.OBIE.SortCodeAccountNumber",
                                     f"{b.sort_code}{b.account_number}")
        payment, kinds, sent = _statements(uow, lambda: services.pay(
            uow, debtor_account_id=a.account_id, creditor=creditor, amount=gbp("12.50"),
            now=clock.now(), reference="lunch"))
        assert kinds == ["SELECT", "INSERT", "INSERT", "UPDATE", "INSERT", "INSERT"], sent
        assert "FOR UPDATE" in sent[0] or platform.db.engine.dialect.name == "sqlite"
        assert payment.kind == "internal" and payment.creditor_account_pk == b.id
        assert payment.status == PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED
        assert (a.booked_minor, b.booked_minor) == (8750, 1250)
        uow.commit()
        assert services.reconcile_balances(uow) == []


def test_an_outbound_payment_is_six_statements_and_settles_in_eight(platform, clock):
    with platform.uow() as uow:
        a = factories.account(uow, now=clock.now(), funded="100.00")
        uow.commit()
        account_id, account_pk = a.account_id, a.id
    with platform.uow() as uow:
        held = LedgerRepository(uow.session).account(account_id)
        payment, kinds, sent = _statements(uow, lambda: services.pay(
            uow, debtor_account_id=account_id, creditor=OUTSIDE, amount=gbp("40"),
            now=clock.now(), reference="INV-1", end_to_end_identification="E2E-1"))
        assert kinds == ["SELECT", "INSERT", "INSERT", "UPDATE", "INSERT", "INSERT"], sent
        assert payment.kind == "outbound" and payment.entry_pk
        assert payment.status == PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS
        assert [s["status"] for s in payment.status_history] == [
            PaymentStatus.PENDING, PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS]
        assert (held.booked_minor, held.pending_debits_minor) == (10000, -4000)
        debit, credit = _postings(uow, payment.entry_pk)
        clearing = services.internal_account_id(uow, services.FPS_CLEARING, "GBP")
        assert (debit.account_pk, debit.amount_minor, debit.status, debit.balance_after_minor) \
            == (account_pk, -4000, PostingStatus.PENDING, None)
        assert debit.counterparty["CreditorAccount"]["Identification"] == "20000012345678"
        assert debit.transaction_reference == "INV-1"
        assert credit.account.account_id == clearing and credit.amount_minor == 4000
        assert credit.status == PostingStatus.PENDING and credit.counterparty is None
        assert services.reconcile_balances(uow) == []
        payment_id, entry_pk = payment.payment_id, payment.entry_pk
        uow.session.commit()      # not uow.commit(): the eager settlement task is not sent
    with platform.uow() as uow:     # the settlement's booking, as the task does it
        settled, kinds, sent = _statements(uow, lambda: services.book_settlement(
            uow, payment_id, SchemeResult(True, scheme_reference="FPSREF1"), now=clock.now()))
        assert kinds[:7] == ["SELECT", "SELECT", "UPDATE", "UPDATE", "INSERT", "INSERT",
                             "UPDATE"], sent
        assert "FOR UPDATE" in sent[1] or platform.db.engine.dialect.name == "sqlite"
        assert settled.status == PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED
        assert settled.scheme_reference == "FPSREF1"
        uow.commit()
    with platform.uow() as uow:
        account = LedgerRepository(uow.session).account(account_id)
        assert (account.booked_minor, account.pending_debits_minor) == (6000, 0)
        debit, credit = _postings(uow, entry_pk)
        assert (debit.status, debit.balance_after_minor) == (PostingStatus.BOOKED, 6000)
        assert (credit.status, credit.balance_after_minor) == (PostingStatus.BOOKED, None)
        settlement = uow.session.scalars(select(models.JournalEntry).where(
            models.JournalEntry.kind == "scheme-settlement")).one()
        lines = [(p.account.internal_code, p.amount_minor, p.status, p.transaction_reference)
                 for p in _postings(uow, settlement.id)]
        assert lines == [("FPS-CLEARING-GBP", -4000, PostingStatus.BOOKED, "FPSREF1"),
                         ("SETTLEMENT-GBP", 4000, PostingStatus.BOOKED, "FPSREF1")]
        again = services.book_settlement(uow, payment_id, SchemeResult(True, "FPSREF1"),
                                         now=clock.now())      # a redelivery: nothing moves
        assert again.status == PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED
        uow.session.flush()
        assert uow.session.scalars(select(models.JournalEntry).where(
            models.JournalEntry.kind == "scheme-settlement")).all() == [settlement]
        assert services.reconcile_balances(uow) == []


@pytest.mark.parametrize("case, error", [
    ("unknown debtor", AccountNotFound), ("internal debtor", InvalidCounterparty),
    ("other currency", CurrencyMismatch), ("disabled debtor", AccountNotActive),
    ("too much", InsufficientFunds), ("to itself", LedgerError),
])
def test_refusals_are_the_ones_they_were(platform, clock, case, error):
    with platform.uow() as uow:
        a = factories.account(uow, now=clock.now(), funded="10.00",
                              status="Disabled" if case == "disabled debtor" else "Enabled")
        uow.session.flush()
        debtor, creditor, amount = a.account_id, OUTSIDE, gbp("1")
        if case == "unknown debtor":
            debtor = "no-such-account"
        elif case == "internal debtor":
            debtor = services.internal_account_id(uow, services.SETTLEMENT, "GBP")
        elif case == "other currency":
            amount = Money.of("1", "EUR")
        elif case == "too much":
            amount = gbp("10.01")
        elif case == "to itself":
            creditor = services.Creditor(a.name, "UK.OBIE.SortCodeAccountNumber",
                                         f"{a.sort_code}{a.account_number}")
        with pytest.raises(error):
            services.pay(uow, debtor_account_id=debtor, creditor=creditor, amount=amount,
                         now=clock.now())
        uow.rollback()
        assert uow.session.scalars(select(models.Payment)).all() == []


def test_a_payment_rolled_back_in_a_savepoint_leaves_no_balance_on_the_account_held(
        platform, clock):
    """What a refused charge does (the payment and its charge in one savepoint, both rolled
    back): the account the session holds shows the database's balances again, so a debit
    posted next in the same unit of work (post_entry trusts it on SQLite) sees 100.00
    available, not the 10.00 left after the payment that never happened."""
    with platform.uow() as uow:
        a = factories.account(uow, now=clock.now(), funded="100.00")
        uow.commit()
        account_id = a.account_id
    with platform.uow() as uow:
        held = LedgerRepository(uow.session).account(account_id)
        savepoint = uow.session.begin_nested()
        services.pay(uow, debtor_account_id=account_id, creditor=OUTSIDE, amount=gbp("90"),
                     now=clock.now())
        assert held.pending_debits_minor == -9000
        savepoint.rollback()
        assert (held.booked_minor, held.pending_debits_minor) == (10000, 0)
        capital = services.internal_account_id(uow, services.BANK_CAPITAL, "GBP")
        services.post_entry(uow, services.transfer_lines(account_id, capital, gbp("50")),
                            kind="test", now=clock.now())
        uow.commit()
        assert held.booked_minor == 5000
        assert services.reconcile_balances(uow) == []
