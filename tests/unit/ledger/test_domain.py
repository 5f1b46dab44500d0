"""The ledger's pure domain: balanced entries, transfers, account rules, balances, payments."""
from decimal import Decimal

import pytest

from aspsp.ledger.domain import (AccountKind, AccountRules, AccountStatus, BalanceSnapshot,
                                 PaymentStatus, PostingLine, PostingStatus, next_payment_status,
                                 reversal_lines, transfer_lines, validate_entry)
from aspsp.ledger.errors import (AccountNotActive, CurrencyMismatch, IllegalPaymentTransition,
                                 InsufficientFunds, InvalidAmount, SameAccount, UnbalancedEntry)
from aspsp.ledger.money import Money


def gbp(amount):
    return Money.of(amount, "GBP")


def line(account_id, amount, currency="GBP"):
    return PostingLine(account_id, Money.of(amount, currency))


# validate_entry -------------------------------------------------------------------------
def test_an_entry_with_no_postings_is_refused():
    with pytest.raises(UnbalancedEntry):
        validate_entry([])


def test_an_entry_with_one_posting_is_refused():
    with pytest.raises(UnbalancedEntry):
        validate_entry([line("a", "0.00")])
    with pytest.raises(UnbalancedEntry):
        validate_entry([line("a", "10.00")])


def test_a_balanced_entry_is_returned_as_a_list():
    lines = (l for l in [line("a", "-10.00"), line("b", "10.00")])
    assert validate_entry(lines) == [line("a", "-10.00"), line("b", "10.00")]


def test_a_balanced_entry_may_have_many_postings():
    lines = [line("a", "-10.00"), line("b", "3.33"), line("c", "3.33"), line("d", "3.34")]
    assert validate_entry(lines) == lines


@pytest.mark.parametrize("lines", [
    [line("a", "-10.00"), line("b", "9.99")],
    [line("a", "-10.00"), line("b", "10.01")],
    [line("a", "10.00"), line("b", "10.00")],
    [line("a", "-10.00"), line("b", "5.00"), line("c", "4.00")],
])
def test_an_entry_that_does_not_sum_to_zero_is_refused(lines):
    with pytest.raises(UnbalancedEntry):
        validate_entry(lines)


def test_a_zero_posting_is_refused_even_in_a_balanced_entry():
    with pytest.raises(InvalidAmount):
        validate_entry([line("a", "-10.00"), line("b", "10.00"), line("c", "0")])


def test_a_multi_currency_entry_balances_per_currency():
    lines = [line("a", "-10.00"), line("b", "10.00"),
             line("c", "-1500", "JPY"), line("d", "1500", "JPY")]
    assert validate_entry(lines) == lines


def test_a_multi_currency_entry_that_only_balances_in_total_is_refused():
    # -10 GBP + 10 EUR sums to zero as numbers, but money in two currencies never nets off.
    with pytest.raises(UnbalancedEntry) as refused:
        validate_entry([line("a", "-10.00"), line("b", "10.00", "EUR")])
    assert "GBP" in refused.value.message and "EUR" in refused.value.message


def test_a_multi_currency_entry_unbalanced_in_one_currency_is_refused():
    with pytest.raises(UnbalancedEntry) as refused:
        validate_entry([line("a", "-10.00"), line("b", "10.00"),
                        line("c", "-5.00", "EUR"), line("d", "4.99", "EUR")])
    assert "EUR" in refused.value.message and "GBP" not in refused.value.message


# transfer_lines and reversal_lines ------------------------------------------------------
def test_transfer_lines_debit_the_debtor_and_credit_the_creditor():
    lines = transfer_lines("a", "b", gbp("12.34"), {"transaction_reference": "out"},
                           {"transaction_reference": "in"})
    assert [(l.account_id, l.amount, dict(l.details)) for l in lines] == [
        ("a", gbp("-12.34"), {"transaction_reference": "out"}),
        ("b", gbp("12.34"), {"transaction_reference": "in"}),
    ]


@pytest.mark.parametrize("amount", ["0", "-0.01", "-100"])
def test_transfer_lines_refuse_zero_and_negative_amounts(amount):
    with pytest.raises(InvalidAmount):
        transfer_lines("a", "b", gbp(amount))


def test_transfer_lines_refuse_the_same_account_on_both_sides():
    with pytest.raises(SameAccount):
        transfer_lines("a", "a", gbp("1.00"))


def test_a_reversal_negates_every_posting_and_keeps_the_details():
    original = [PostingLine("a", gbp("-7.00"), {"merchant_name": "Shop"}),
                PostingLine("b", gbp("7.00"))]
    reversed_ = reversal_lines(original)
    assert [(l.account_id, l.amount, dict(l.details)) for l in reversed_] == [
        ("a", gbp("7.00"), {"merchant_name": "Shop"}), ("b", gbp("-7.00"), {})]


# AccountRules ---------------------------------------------------------------------------
def rules(status=AccountStatus.ENABLED, kind=AccountKind.CUSTOMER, limit="0", currency="GBP"):
    return AccountRules("acc-1", currency, status, kind, Decimal(limit))


def test_an_enabled_account_can_post():
    rules().ensure_can_post()


@pytest.mark.parametrize("status", [AccountStatus.DISABLED, AccountStatus.DELETED,
                                    AccountStatus.PRO_FORMA, AccountStatus.PENDING])
def test_an_account_that_is_not_enabled_cannot_post(status):
    with pytest.raises(AccountNotActive):
        rules(status=status).ensure_can_post()


def test_an_account_takes_only_its_own_currency():
    rules().ensure_currency(gbp("1.00"))
    with pytest.raises(CurrencyMismatch):
        rules().ensure_currency(Money.of("1.00", "EUR"))


def test_a_debit_may_take_the_account_exactly_to_its_limit():
    rules(limit="50.00").ensure_affordable(gbp("10.00"), gbp("60.00"))
    rules().ensure_affordable(gbp("10.00"), gbp("10.00"))


@pytest.mark.parametrize("limit, available, debit", [
    ("50.00", "10.00", "60.01"), ("0", "10.00", "10.01"), ("0", "0", "0.01"),
    ("100.00", "-100.00", "0.01"),
])
def test_a_debit_beyond_the_limit_is_refused(limit, available, debit):
    with pytest.raises(InsufficientFunds):
        rules(limit=limit).ensure_affordable(gbp(available), gbp(debit))


def test_the_banks_internal_accounts_have_no_limit():
    rules(kind=AccountKind.INTERNAL).ensure_affordable(gbp("0"), gbp("1000000.00"))


def test_affordability_refuses_mixed_currencies():
    with pytest.raises(CurrencyMismatch):
        rules().ensure_affordable(gbp("100.00"), Money.of("1.00", "EUR"))


# BalanceSnapshot ------------------------------------------------------------------------
def test_a_new_balance_is_zero():
    snapshot = BalanceSnapshot("GBP")
    assert snapshot.interim_booked == gbp("0") and snapshot.interim_available == gbp("0")


def test_booked_postings_move_booked_and_available():
    snapshot = (BalanceSnapshot("GBP").apply(Decimal("100.00"), PostingStatus.BOOKED)
                .apply(Decimal("-30.00"), PostingStatus.BOOKED))
    assert snapshot.interim_booked == gbp("70.00")
    assert snapshot.interim_available == gbp("70.00")


def test_a_pending_debit_reduces_available_but_not_booked():
    snapshot = (BalanceSnapshot("GBP").apply(Decimal("100.00"), PostingStatus.BOOKED)
                .apply(Decimal("-40.00"), PostingStatus.PENDING))
    assert snapshot.interim_booked == gbp("100.00")
    assert snapshot.interim_available == gbp("60.00")
    assert snapshot.pending_debits == Decimal("-40.00")


def test_a_pending_credit_is_not_available_until_booked():
    snapshot = BalanceSnapshot("GBP").apply(Decimal("25.00"), PostingStatus.PENDING)
    assert snapshot.interim_booked == gbp("0")
    assert snapshot.interim_available == gbp("0")
    assert snapshot.pending_credits == Decimal("25.00")


def test_booking_a_pending_debit_moves_it_into_booked():
    snapshot = (BalanceSnapshot("GBP").apply(Decimal("100.00"), PostingStatus.BOOKED)
                .apply(Decimal("-40.00"), PostingStatus.PENDING)
                .book_pending(Decimal("-40.00")))
    assert snapshot == BalanceSnapshot("GBP", Decimal("60.00"), Decimal(0), Decimal(0))
    assert snapshot.interim_available == gbp("60.00")


def test_booking_a_pending_credit_makes_it_available():
    snapshot = (BalanceSnapshot("GBP").apply(Decimal("25.00"), PostingStatus.PENDING)
                .book_pending(Decimal("25.00")))
    assert snapshot == BalanceSnapshot("GBP", Decimal("25.00"), Decimal(0), Decimal(0))
    assert snapshot.interim_available == gbp("25.00")


def test_snapshots_are_values():
    snapshot = BalanceSnapshot("GBP")
    snapshot.apply(Decimal("1.00"), PostingStatus.BOOKED)
    assert snapshot.booked == Decimal(0)
    with pytest.raises(AttributeError):
        snapshot.booked = Decimal(1)


# the payment state machine --------------------------------------------------------------
P = PaymentStatus
LEGAL = {(P.PENDING, P.ACCEPTED_SETTLEMENT_IN_PROCESS), (P.PENDING, P.REJECTED),
         (P.ACCEPTED_SETTLEMENT_IN_PROCESS, P.ACCEPTED_SETTLEMENT_COMPLETED),
         (P.ACCEPTED_SETTLEMENT_IN_PROCESS, P.REJECTED)}


@pytest.mark.parametrize("current, target", sorted(LEGAL))
def test_legal_payment_moves(current, target):
    assert next_payment_status(current, target) == target


@pytest.mark.parametrize("current, target", sorted(
    (c, t) for c in PaymentStatus for t in PaymentStatus if (c, t) not in LEGAL))
def test_every_other_payment_move_is_refused(current, target):
    with pytest.raises(IllegalPaymentTransition):
        next_payment_status(current, target)

