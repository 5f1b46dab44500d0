"""The funds-confirmation resources a CBPII created: the question asked and the answer given
(never the balance it was given from)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aspsp.db import Base
from aspsp.types import BigPK, UTCDateTime


class FundsConfirmation(Base):
    __tablename__ = "funds_confirmations"
    # A CBPII's Reference is unique within its consent (UK.OBIE.Rules.DuplicateReference).
    __table_args__ = (UniqueConstraint("consent_pk", "reference"),)
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    funds_confirmation_id: Mapped[str] = mapped_column(String(40), unique=True)
    consent_pk: Mapped[int] = mapped_column(ForeignKey("consents.id"))
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), index=True)
    reference: Mapped[str] = mapped_column(String(35))
    amount: Mapped[str] = mapped_column(String(32))          # as asked, an OB amount string
    currency: Mapped[str] = mapped_column(String(3))
    funds_available: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
