"""Persistence of the payment initiation resources: one payment order per payment consent
(a file payment's also keeps its file and, once initiated, one item per payment in it).

A payment order is what the TPP's POST /domestic-payments (and later the scheduled, standing
order and international ones) creates: the OBIE resource with its own opaque id, the consent
it consumed, the debtor account, and once executed, the ledger payment that moved the money.
`consent_pk` is unique: a single-use consent makes at most one order, whatever races.
Amounts and the payee stay in the consent's `data` (the Initiation as the TPP sent it).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..types import BigPK, UTCDateTime


class PaymentOrder(Base):
    __tablename__ = "payment_orders"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    payment_order_id: Mapped[str] = mapped_column(String(40), unique=True)   # DomesticPaymentId
    order_type: Mapped[str] = mapped_column(String(40))        # domestic-payment, ...
    consent_pk: Mapped[int] = mapped_column(ForeignKey("consents.id"), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    debtor_account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    # Pending until executed; then the ledger payment's status (Rejected here when the ledger
    # refused it before a payment existed: no funds, account disabled).
    status: Mapped[str] = mapped_column(String(40))
    status_history: Mapped[list] = mapped_column(JSON, default=list)
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    ledger_payment_pk: Mapped[int | None] = mapped_column(ForeignKey("payments.id"),
                                                          unique=True)
    # Scheduled payments and standing orders: the ledger schedule the order set up (the
    # schedule engine pays it on its dates; its executions are the order's history).
    scheduled_payment_pk: Mapped[int | None] = mapped_column(
        ForeignKey("scheduled_payments.id"), unique=True)
    standing_order_pk: Mapped[int | None] = mapped_column(ForeignKey("standing_orders.id"),
                                                          unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PaymentFile(Base):
    """The file a file payment consent's TPP uploaded (POST .../file): its bytes exactly as
    received (GET .../file answers with them), and the payments read from it, checked, in
    file order. One per consent, written once: the consent then awaits authorisation."""
    __tablename__ = "payment_files"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    consent_pk: Mapped[int] = mapped_column(ForeignKey("consents.id"), unique=True)
    content_type: Mapped[str] = mapped_column(String(100))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    payments: Mapped[list] = mapped_column(JSON)          # the file's DomesticPayments
    total_amount: Mapped[str] = mapped_column(String(32))   # their sum, exact
    currency: Mapped[str] = mapped_column(String(3))
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime)


class FilePaymentItem(Base):
    """One payment of a file payment order, once the file was initiated: the ledger payment
    that paid it (whose status is the item's). Written with the order's InitiationCompleted,
    all items in one transaction or none."""
    __tablename__ = "file_payment_items"
    __table_args__ = (UniqueConstraint("order_pk", "position"),)
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    order_pk: Mapped[int] = mapped_column(ForeignKey("payment_orders.id"))
    position: Mapped[int] = mapped_column(Integer)         # 0-based, in file order
    ledger_payment_pk: Mapped[int] = mapped_column(ForeignKey("payments.id"), unique=True)
