"""Consents of every type, the accounts a PSU selected, and every status change."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aspsp.db import Base
from aspsp.types import BigPK, UTCDateTime


# Consents still in force that have an expiry: what the expiry sweep reads (migration 0010).
_IN_FORCE_WITH_EXPIRY = text("status IN ('AwaitingAuthorisation', 'AwaitingUpload', "
                             "'Authorised') AND expiration_datetime IS NOT NULL")


# Consents still awaiting authorisation or a file: what the authorisation window's sweep reads
# (migration 0024).
_AWAITING = text("status IN ('AwaitingAuthorisation', 'AwaitingUpload')")


class Consent(Base):
    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_expiry_due", "expiration_datetime", "id",
                            postgresql_where=_IN_FORCE_WITH_EXPIRY,
                            sqlite_where=_IN_FORCE_WITH_EXPIRY),
                      Index("ix_consents_awaiting", "created_at", "id",
                            postgresql_where=_AWAITING, sqlite_where=_AWAITING))
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    consent_id: Mapped[str] = mapped_column(String(128), unique=True)
    consent_type: Mapped[str] = mapped_column(String(40))    # account-access, domestic-payment, ...
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    psu_pk: Mapped[int | None] = mapped_column(ForeignKey("psu_users.id"), index=True)
    status: Mapped[str] = mapped_column(String(32))
    status_updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    authorised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expiration_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transaction_from_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    transaction_to_datetime: Mapped[datetime | None] = mapped_column(UTCDateTime)
    permissions: Mapped[list] = mapped_column(JSON, default=list)
    # The type-specific request as the TPP sent it (Initiation, ControlParameters, Risk...).
    data: Mapped[dict] = mapped_column(JSON, default=dict)
    api_version: Mapped[str] = mapped_column(String(8))      # 3.1, 4.0

    accounts: Mapped[list["ConsentAccount"]] = relationship(back_populates="consent")
    events: Mapped[list["ConsentEvent"]] = relationship(back_populates="consent",
                                                        order_by="ConsentEvent.id")


class ConsentAccount(Base):
    __tablename__ = "consent_accounts"
    consent_pk: Mapped[int] = mapped_column(ForeignKey("consents.id"), primary_key=True)
    account_pk: Mapped[int] = mapped_column(ForeignKey("accounts.id"), primary_key=True,
                                            index=True)
    consent: Mapped[Consent] = relationship(back_populates="accounts")


class ConsentEvent(Base):
    """Every transition: from, to, who (tpp / psu / system) and when."""
    __tablename__ = "consent_events"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    consent_pk: Mapped[int] = mapped_column(ForeignKey("consents.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(32))
    to_status: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(16))
    actor_id: Mapped[str | None] = mapped_column(String(128))
    reason: Mapped[str | None] = mapped_column(String(500))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    consent: Mapped[Consent] = relationship(back_populates="events")
