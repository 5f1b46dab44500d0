"""Persistence of the ledger: parties, accounts, the journal, payments and bank data.

Amounts are stored as integers of the currency's minor unit (`*_minor`) next to their
currency, so sums are exact on every engine. Row ids are internal; every id that can appear
in a URL is a separate opaque column.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (JSON, BigInteger, Date, ForeignKey, Index, Integer, String,
                        UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base
from ..types import BigPK, UTCDateTime

Json = JSON()


class Party(Base):
    __tablename__ = "parties"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    party_id: Mapped[str] = mapped_column(String(40), unique=True)
    party_number: Mapped[str] = mapped_column(String(35))
    party_type: Mapped[str] = mapped_column(String(16))          # Sole, Joint, Delegate
    kind: Mapped[str] = mapped_column(String(16))                 # person, organisation
    name: Mapped[str] = mapped_column(String(350))
    full_legal_name: Mapped[str | None] = mapped_column(String(350))
    legal_structure: Mapped[str | None] = mapped_column(String(64))
    email: Mapped[str | None] = mapped_column(String(256))
    phone: Mapped[str | None] = mapped_column(String(32))
    mobile: Mapped[str | None] = mapped_column(String(32))
    addresses: Mapped[list] = mapped_column(Json, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    product_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(350))
    product_type: Mapped[str] = mapped_column(String(40))
    marketing_state_id: Mapped[str | None] = mapped_column(String(35))
    details: Mapped[dict] = mapped_column(Json, default=dict)


class Account(Base):
    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    account_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))                 # customer, internal
    internal_code: Mapped[str | None] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    status_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    account_type: Mapped[str | None] = mapped_column(String(16))
    account_sub_type: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(350))
    nickname: Mapped[str | None] = mapped_column(String(70))
    description: Mapped[str | None] = mapped_column(String(35))
    opening_date: Mapped[date] = mapped_column(Date)
    maturity_date: Mapped[date | None] = mapped_column(Date)
    sort_code: Mapped[str | None] = mapped_column(String(6))
    account_number: Mapped[str | None] = mapped_column(String(8))
    iban: Mapped[str | None] = mapped_column(String(34), unique=True)
    servicer_bic: Mapped[str | None] = mapped_column(String(11))
    pan: Mapped[str | None] = mapped_column(String(19))           # card accounts
    credit_limit_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    credit_line_type: Mapped[str | None] = mapped_column(String(16))  # Pre-Agreed, Credit
    product_pk: Mapped[int | None] = mapped_column(ForeignKey("products.id"))
    # Cached balances of customer accounts, kept in the posting transaction under the row
    # lock and proven against the postings by `reconcile_balances`.
    booked_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_debits_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    pending_credits_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    product: Mapped[Product | None] = relationship()
    holders: Mapped[list["AccountParty"]] = relationship(back_populates="account",
                                                         order_by="AccountParty.position")
    __table_args__ = (UniqueConstraint("sort_code", "account_number",
                                       name="uq_accounts_sort_code_account_number"),)


class AccountParty(Base):
    __tablename__ = "account_parties"
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    party_pk: Mapped[int] = mapped_column(ForeignKey("parties.id"), primary_key=True,
                                          index=True)
    account_role: Mapped[str] = mapped_column(String(40))    # UK.OBIE.Principal, ...
    position: Mapped[int] = mapped_column(Integer, default=0)

    account: Mapped[Account] = relationship(back_populates="holders")
    party: Mapped[Party] = relationship()


class JournalEntry(Base):
    __tablename__ = "journal_entries"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    entry_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    description: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reverses_pk: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"),
                                                    unique=True)

    postings: Mapped[list["Posting"]] = relationship(back_populates="entry",
                                                     order_by="Posting.id")


class Posting(Base):
    __tablename__ = "postings"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    transaction_id: Mapped[str] = mapped_column(String(40), unique=True)
    entry_pk: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"), index=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(8))
    booking_datetime: Mapped[datetime] = mapped_column(UTCDateTime)
    value_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    balance_after_minor: Mapped[int | None] = mapped_column(BigInteger)
    transaction_reference: Mapped[str | None] = mapped_column(String(210))
    statement_reference: Mapped[str | None] = mapped_column(String(35))
    transaction_information: Mapped[str | None] = mapped_column(String(500))
    iso_code: Mapped[str | None] = mapped_column(String(64))
    iso_subcode: Mapped[str | None] = mapped_column(String(64))
    proprietary_code: Mapped[str | None] = mapped_column(String(35))
    proprietary_issuer: Mapped[str | None] = mapped_column(String(35))
    merchant_name: Mapped[str | None] = mapped_column(String(350))
    merchant_category_code: Mapped[str | None] = mapped_column(String(4))
    counterparty: Mapped[dict | None] = mapped_column(Json)
    card_instrument: Mapped[dict | None] = mapped_column(Json)

    entry: Mapped[JournalEntry] = relationship(back_populates="postings")
    account: Mapped[Account] = relationship()
    __table_args__ = (
        # Newest-first keyset pagination of one account's transactions.
        Index("ix_postings_account_booking", "account_pk", "booking_datetime", "id"),
    )


class PostingDayCount(Base):
    """How many credit and debit postings a customer account has, per UTC day of their
    booking time: kept in the posting transaction (aspsp.ledger.services), proven against the
    postings by `reconcile_balances`. It lets a transaction list count its rows over any
    window from at most one row per day plus the two edge days (aspsp.ais.repository), instead
    of reading the account's whole history on every page."""
    __tablename__ = "posting_day_counts"
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    credits: Mapped[int] = mapped_column(BigInteger, default=0)
    debits: Mapped[int] = mapped_column(BigInteger, default=0)


class Payment(Base):
    __tablename__ = "payments"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    payment_id: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(16))                 # internal, outbound
    status: Mapped[str] = mapped_column(String(40))
    status_history: Mapped[list] = mapped_column(Json, default=list)
    debtor_account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    creditor_account_pk: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"))
    creditor: Mapped[dict] = mapped_column(Json)                  # name, scheme, identification
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    reference: Mapped[str | None] = mapped_column(String(35))
    end_to_end_identification: Mapped[str | None] = mapped_column(String(35))
    entry_pk: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    scheme_reference: Mapped[str | None] = mapped_column(String(64))
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    debtor_account: Mapped[Account] = relationship(foreign_keys=[debtor_account_pk])
    creditor_account: Mapped[Account | None] = relationship(foreign_keys=[creditor_account_pk])


class Beneficiary(Base):
    __tablename__ = "beneficiaries"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    beneficiary_id: Mapped[str] = mapped_column(String(40), unique=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    beneficiary_type: Mapped[str] = mapped_column(String(16))     # Trusted, Ordinary
    reference: Mapped[str | None] = mapped_column(String(35))
    creditor_name: Mapped[str] = mapped_column(String(350))
    creditor_scheme: Mapped[str] = mapped_column(String(40))
    creditor_identification: Mapped[str] = mapped_column(String(256))
    creditor_secondary_identification: Mapped[str | None] = mapped_column(String(34))
    creditor_agent: Mapped[dict | None] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class DirectDebit(Base):
    __tablename__ = "direct_debits"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    direct_debit_id: Mapped[str] = mapped_column(String(40), unique=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    mandate_identification: Mapped[str] = mapped_column(String(35))
    status: Mapped[str] = mapped_column(String(16))               # Active, Inactive
    name: Mapped[str] = mapped_column(String(70))                 # the originator
    frequency: Mapped[str | None] = mapped_column(String(35))
    previous_payment_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    previous_payment_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))


class StandingOrder(Base):
    __tablename__ = "standing_orders"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    standing_order_id: Mapped[str] = mapped_column(String(40), unique=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    frequency: Mapped[str] = mapped_column(String(35))            # OB pattern, e.g. IntrvlMnthDay:01:15
    reference: Mapped[str | None] = mapped_column(String(35))
    status: Mapped[str] = mapped_column(String(16))               # Active, Inactive
    first_payment_datetime: Mapped[datetime] = mapped_column(UTCDateTime)
    next_payment_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_payment_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    final_payment_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    number_of_payments: Mapped[int | None] = mapped_column(Integer)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    creditor_name: Mapped[str] = mapped_column(String(350))
    creditor_scheme: Mapped[str] = mapped_column(String(40))
    creditor_identification: Mapped[str] = mapped_column(String(256))
    # The schedule engine (aspsp.ledger.schedules). `amount_minor` is the first payment's
    # amount; the recurring and final ones are theirs when they differ (else NULL). The
    # next and last payments' amounts are kept with their dates for AIS. `instalments_done`
    # counts the instalments that fell due, paid or missed (it numbers their executions).
    recurring_payment_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    recurring_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    final_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    next_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    last_amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    instalments_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An order in another currency than the account's (an international standing order):
    # the exchange terms each payment is converted on when it is made (aspsp.ledger.fx).
    exchange: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    __table_args__ = (Index("ix_standing_orders_status_next", "status",
                            "next_payment_datetime"),)


class ScheduledPayment(Base):
    __tablename__ = "scheduled_payments"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    scheduled_payment_id: Mapped[str] = mapped_column(String(40), unique=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    scheduled_payment_datetime: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled_type: Mapped[str] = mapped_column(String(16))       # Arrival, Execution
    reference: Mapped[str | None] = mapped_column(String(35))
    debtor_reference: Mapped[str | None] = mapped_column(String(35))
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    creditor_name: Mapped[str] = mapped_column(String(350))
    creditor_scheme: Mapped[str] = mapped_column(String(40))
    creditor_identification: Mapped[str] = mapped_column(String(256))
    # The schedule engine (aspsp.ledger.schedules): Scheduled until it falls due, then
    # Executed (its ledger payment made, whatever the scheme does with it later) or Rejected
    # (not payable: `rejection_reason`), or Cancelled. `due_datetime` is when it is paid:
    # `scheduled_payment_datetime` rolled to a working day.
    status: Mapped[str] = mapped_column(String(16), default="Scheduled",
                                        server_default="Scheduled")
    due_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_to_end_identification: Mapped[str | None] = mapped_column(String(35))
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A payment in another currency than the account's (an international scheduled
    # payment): the exchange terms it is converted on when it is made (aspsp.ledger.fx).
    exchange: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))
    __table_args__ = (Index("ix_scheduled_payments_status_due", "status", "due_datetime"),)


class ScheduleExecution(Base):
    """One payment of a schedule that fell due: a scheduled payment's one, or a standing
    order's instalment `instalment`. Unique per schedule and instalment, so nothing is paid
    twice even if two runners got past the row lock. `payment_pk` is the ledger payment made
    (its status is the execution's); a payment refused before it existed (insufficient funds,
    a disabled account) has none, status Rejected and its reason."""
    __tablename__ = "schedule_executions"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    execution_id: Mapped[str] = mapped_column(String(40), unique=True)
    standing_order_pk: Mapped[int | None] = mapped_column(ForeignKey("standing_orders.id"))
    scheduled_payment_pk: Mapped[int | None] = mapped_column(
        ForeignKey("scheduled_payments.id"))
    instalment: Mapped[int] = mapped_column(Integer)
    due_datetime: Mapped[datetime] = mapped_column(UTCDateTime)
    executed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(40))
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    payment_pk: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), unique=True)
    # A schedule in another currency: the rate applied and the amount the account paid.
    exchange_rate: Mapped[dict | None] = mapped_column(JSON(none_as_null=True))

    payment: Mapped[Payment | None] = relationship()
    __table_args__ = (
        UniqueConstraint("standing_order_pk", "instalment",
                         name="uq_schedule_executions_standing_order_instalment"),
        UniqueConstraint("scheduled_payment_pk", "instalment",
                         name="uq_schedule_executions_scheduled_payment_instalment"),
    )


class Statement(Base):
    __tablename__ = "statements"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    statement_id: Mapped[str] = mapped_column(String(40), unique=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"))
    statement_reference: Mapped[str] = mapped_column(String(35))
    statement_type: Mapped[str] = mapped_column(String(32))       # RegularPeriodic, ...
    start_datetime: Mapped[datetime] = mapped_column(UTCDateTime)
    end_datetime: Mapped[datetime] = mapped_column(UTCDateTime)
    creation_datetime: Mapped[datetime] = mapped_column(UTCDateTime)
    currency: Mapped[str] = mapped_column(String(3))
    opening_booked_minor: Mapped[int] = mapped_column(BigInteger)
    closing_booked_minor: Mapped[int] = mapped_column(BigInteger)
    total_credits_minor: Mapped[int] = mapped_column(BigInteger)
    total_debits_minor: Mapped[int] = mapped_column(BigInteger)
    descriptions: Mapped[list] = mapped_column(Json, default=list)
    __table_args__ = (UniqueConstraint("account_pk", "start_datetime",
                                       name="uq_statements_account_start"),)


class Offer(Base):
    __tablename__ = "offers"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    offer_id: Mapped[str] = mapped_column(String(40), unique=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    offer_type: Mapped[str] = mapped_column(String(32))           # LimitIncrease, BalanceTransfer, ...
    description: Mapped[str] = mapped_column(String(500))
    amount_minor: Mapped[int | None] = mapped_column(BigInteger)
    fee_minor: Mapped[int | None] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[str | None] = mapped_column(String(16))
    term: Mapped[str | None] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(String(256))
    start_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    end_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
