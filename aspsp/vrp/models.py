"""Persistence of the domestic VRPs: many per VRP consent (it is long-lived), each with the
amount it took from the consent's limits (minor units, summed under the consent's row lock)
and the request's Data and Risk as the TPP sent them."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from aspsp.db import Base
from aspsp.types import BigPK, UTCDateTime


class DomesticVrp(Base):
    __tablename__ = "domestic_vrps"
    __table_args__ = (Index("ix_domestic_vrps_consent_pk_created_at", "consent_pk",
                            "created_at"),)
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    domestic_vrp_id: Mapped[str] = mapped_column(String(40), unique=True)    # DomesticVRPId
    consent_pk: Mapped[int] = mapped_column(ForeignKey("consents.id"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    debtor_account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    amount_minor: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    request: Mapped[dict] = mapped_column(JSON)          # {"Data": ..., "Risk": ...} as sent
    # Pending until executed; then the ledger payment's status (Rejected here when the ledger
    # refused it: no funds, account disabled). A Rejected VRP uses none of the limits.
    status: Mapped[str] = mapped_column(String(40))
    status_history: Mapped[list] = mapped_column(JSON, default=list)
    rejection_reason: Mapped[str | None] = mapped_column(String(500))
    ledger_payment_pk: Mapped[int | None] = mapped_column(ForeignKey("payments.id"),
                                                          unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
