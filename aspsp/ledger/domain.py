"""The ledger's pure domain: account rules, balanced journal entries, balances, payments.

No Flask, no SQLAlchemy. Amounts are signed from the account holder's point of view:
a positive posting credits the account, a negative one debits it. Every entry's postings
sum to zero per currency, so money is only ever moved, never created.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Iterable, Mapping

from .errors import (AccountNotActive, CurrencyMismatch, IllegalPaymentTransition,
                     InsufficientFunds, InvalidAmount, SameAccount, UnbalancedEntry)
from .money import Money


class AccountStatus(StrEnum):
    ENABLED = "Enabled"
    DISABLED = "Disabled"
    DELETED = "Deleted"
    PRO_FORMA = "ProForma"
    PENDING = "Pending"


class AccountType(StrEnum):
    PERSONAL = "Personal"
    BUSINESS = "Business"


class AccountSubType(StrEnum):
    CURRENT_ACCOUNT = "CurrentAccount"
    SAVINGS = "Savings"
    CREDIT_CARD = "CreditCard"
    LOAN = "Loan"
    MORTGAGE = "Mortgage"
    CHARGE_CARD = "ChargeCard"
    EMONEY = "EMoney"
    PREPAID_CARD = "PrePaidCard"


class AccountKind(StrEnum):
    """Customer accounts are the bank's liabilities to its customers; internal accounts are
    the bank's own (a scheme clearing account, the bank's equity for opening balances)."""
    CUSTOMER = "customer"
    INTERNAL = "internal"


class PostingStatus(StrEnum):
    PENDING = "Pending"
    BOOKED = "Booked"


@dataclass(frozen=True)
class AccountRules:
    """What the ledger needs to know about an account to post to it."""
    account_id: str
    currency: str
    status: AccountStatus
    kind: AccountKind
    credit_limit: Decimal  # arranged overdraft / credit line, >= 0

    def ensure_can_post(self) -> None:
        if self.status != AccountStatus.ENABLED:
            raise AccountNotActive(f"account {self.account_id} is {self.status}")

    def ensure_currency(self, money: Money) -> None:
        if money.currency != self.currency:
            raise CurrencyMismatch(
                f"account {self.account_id} is in {self.currency}, not {money.currency}")

    def ensure_affordable(self, available: Money, debit: Money) -> None:
        """`available` is the balance before the debit; the result may not go below the limit."""
        if self.kind == AccountKind.INTERNAL:
            return
        floor = -self.credit_limit
        if (available - debit).amount < floor:
            raise InsufficientFunds(
                f"account {self.account_id} cannot pay {debit}: available {available}, "
                f"limit {self.credit_limit}")


@dataclass(frozen=True)
class PostingLine:
    """One leg of a journal entry: a signed amount on one account, plus its descriptive data."""
    account_id: str
    amount: Money
    details: Mapping[str, object] = field(default_factory=dict)


def validate_entry(lines: Iterable[PostingLine]) -> list[PostingLine]:
    """An entry has two or more non-zero postings that sum to zero in every currency."""
    lines = list(lines)
    if len(lines) < 2:
        raise UnbalancedEntry("a journal entry needs at least two postings")
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        if line.amount.is_zero:
            raise InvalidAmount("a posting may not be zero")
        totals[line.amount.currency] += line.amount.amount
    unbalanced = {c: t for c, t in totals.items() if t != 0}
    if unbalanced:
        raise UnbalancedEntry(f"postings do not sum to zero: {unbalanced}")
    return lines


def transfer_lines(debtor: str, creditor: str, amount: Money,
                   debit_details: Mapping[str, object] | None = None,
                   credit_details: Mapping[str, object] | None = None) -> list[PostingLine]:
    """The two legs of moving `amount` from `debtor` to `creditor`."""
    if not amount.is_positive:
        raise InvalidAmount(f"a transfer amount must be positive, not {amount}")
    if debtor == creditor:
        raise SameAccount("debtor and creditor are the same account")
    return validate_entry([
        PostingLine(debtor, -amount, debit_details or {}),
        PostingLine(creditor, amount, credit_details or {}),
    ])


def reversal_lines(original: Iterable[PostingLine]) -> list[PostingLine]:
    """A correction is a new entry with every posting negated."""
    return validate_entry(PostingLine(line.account_id, -line.amount, line.details)
                          for line in original)


@dataclass(frozen=True)
class BalanceSnapshot:
    """Derived from postings: booked = sum of booked postings; pending debits and credits."""
    currency: str
    booked: Decimal = Decimal(0)
    pending_debits: Decimal = Decimal(0)   # <= 0
    pending_credits: Decimal = Decimal(0)  # >= 0

    @property
    def interim_booked(self) -> Money:
        return Money(self.booked, self.currency)

    @property
    def interim_available(self) -> Money:
        """What the customer may spend: booked, less pending debits; pending credits wait."""
        return Money(self.booked + self.pending_debits, self.currency)

    def apply(self, amount: Decimal, status: PostingStatus) -> "BalanceSnapshot":
        if status == PostingStatus.BOOKED:
            return BalanceSnapshot(self.currency, self.booked + amount,
                                   self.pending_debits, self.pending_credits)
        if amount < 0:
            return BalanceSnapshot(self.currency, self.booked, self.pending_debits + amount,
                                   self.pending_credits)
        return BalanceSnapshot(self.currency, self.booked, self.pending_debits,
                               self.pending_credits + amount)

    def book_pending(self, amount: Decimal) -> "BalanceSnapshot":
        """A pending posting of `amount` became booked."""
        if amount < 0:
            return BalanceSnapshot(self.currency, self.booked + amount,
                                   self.pending_debits - amount, self.pending_credits)
        return BalanceSnapshot(self.currency, self.booked + amount, self.pending_debits,
                               self.pending_credits - amount)


class PaymentStatus(StrEnum):
    """Internal payment lifecycle; the API layer names it per standard and version."""
    PENDING = "Pending"
    ACCEPTED_SETTLEMENT_IN_PROCESS = "AcceptedSettlementInProcess"
    ACCEPTED_SETTLEMENT_COMPLETED = "AcceptedSettlementCompleted"
    REJECTED = "Rejected"


_PAYMENT_MOVES = {
    PaymentStatus.PENDING: {PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS, PaymentStatus.REJECTED},
    PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS: {PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED,
                                                   PaymentStatus.REJECTED},
    PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED: set(),
    PaymentStatus.REJECTED: set(),
}


def next_payment_status(current: PaymentStatus, target: PaymentStatus) -> PaymentStatus:
    if target not in _PAYMENT_MOVES[current]:
        raise IllegalPaymentTransition(f"a payment cannot go from {current} to {target}")
    return target


@dataclass(frozen=True)
class StatusChange:
    status: str
    at: datetime
    reason: str | None = None
