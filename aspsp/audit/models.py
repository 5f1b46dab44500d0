"""The audit trail's tables: the records (append-only, hash-chained), the chain's head (the
one row every append locks, so concurrent transactions never fork the chain), and the
developer-portal accounts an operator made auditors (who may export the trail)."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aspsp.db import Base
from aspsp.types import BigPK, UTCDateTime


class AuditRecord(Base):
    """One audited event: who (actor_type + actor_id), what (event_type, subject and a small
    JSON of facts, never a secret), when (the platform clock), from where (client_ip as the
    trusted-proxy middleware resolved it) and the x-fapi-interaction-id. `facts` is kept as
    its canonical JSON text, the very bytes the hash covers. PostgreSQL and SQLite triggers
    (migration 0020) refuse UPDATE and DELETE."""
    __tablename__ = "audit_records"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                     primary_key=True, autoincrement=False)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    event_type: Mapped[str] = mapped_column(String(64), index=True)
    actor_type: Mapped[str] = mapped_column(String(16))   # customer, client, developer, operator, system
    actor_id: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str | None] = mapped_column(String(128), index=True)
    client_ip: Mapped[str | None] = mapped_column(String(64))
    interaction_id: Mapped[str | None] = mapped_column(String(64))
    facts: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """The chain's last record (seq 0 and the genesis hash before the first): one row, id 1,
    locked FOR UPDATE by every append at its commit."""
    __tablename__ = "audit_chain_head"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    hash: Mapped[str] = mapped_column(String(64))


class AuditAuditor(Base):
    """A developer-portal account an operator granted the auditor role (`flask audit
    grant-auditor`): it may export the audit trail from the regulator page."""
    __tablename__ = "audit_auditors"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    developer_pk: Mapped[int] = mapped_column(ForeignKey("portal_developers.id"), unique=True)
    granted_by: Mapped[str] = mapped_column(String(254))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime)
