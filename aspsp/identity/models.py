"""A bank customer's online-banking login, linked to the party it acts for, and its history."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base
from ..ledger.models import Party
from ..types import BigPK, UTCDateTime


class PsuUser(Base):
    __tablename__ = "psu_users"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    psu_id: Mapped[str] = mapped_column(String(40), unique=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    # Sealed with the key-encryption key (aspsp.keyring), never in clear.
    totp_secret: Mapped[str] = mapped_column(String(256))
    party_pk: Mapped[int] = mapped_column(ForeignKey("parties.id"), index=True)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    party: Mapped[Party] = relationship()


class LoginEvent(Base):
    """Every login attempt: who, when, from where, which step, and the outcome."""
    __tablename__ = "psu_login_events"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    psu_pk: Mapped[int | None] = mapped_column(ForeignKey("psu_users.id"), index=True)
    username: Mapped[str] = mapped_column(String(64))
    step: Mapped[str] = mapped_column(String(16))             # password, totp
    outcome: Mapped[str] = mapped_column(String(16))          # success, failure, locked
    ip_address: Mapped[str | None] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A browser's session on the customer's pages. The cookie holds only a random id; this
    row holds its SHA-256 and the session's data (the login's progress, the CSRF token).
    `browser_key` stays the same when the id is rotated: it names the browser, not the login.
    `psu_pk`: the customer of its last login step (None before any)."""
    __tablename__ = "psu_web_sessions"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    id_hash: Mapped[str] = mapped_column(String(64), unique=True)
    browser_key: Mapped[str] = mapped_column(String(64))
    psu_pk: Mapped[int | None] = mapped_column(ForeignKey("psu_users.id"), index=True)
    data: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class LoginThrottle(Base):
    """Failed login attempts against one username, from one source address (`source`) or
    from everywhere (`source` empty), whether or not the username exists."""
    __tablename__ = "psu_login_throttles"
    __table_args__ = (UniqueConstraint("username", "source"),)
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locks: Mapped[int] = mapped_column(Integer, default=0)     # locks so far: the next is longer
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
