"""Persistence of event notifications: a client's subscription, the outbox of events and
every attempt to deliver one.

`event_notifications` is the outbox: a row is written in the transaction of the state change
that caused it (aspsp.events.publish), so the event exists exactly when the change does. It
keeps the SET's claims (signed when sent, so a key rotation never strands an event), where it
stands (Pending until the TPP has it: Delivered on a 202, Acknowledged when polled and acked,
Refused when polled and rejected in setErrs, DeadLettered when the retry window ran out) and
when the next push attempt is due. `lease_until` is held by the worker sending it: a worker
that dies mid-delivery leaves a lease that runs out, and the sweep sends the event again.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base
from ..types import BigPK, UTCDateTime


class EventSubscription(Base):
    __tablename__ = "event_subscriptions"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    subscription_id: Mapped[str] = mapped_column(String(40), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), unique=True)
    callback_url: Mapped[str | None] = mapped_column(String(500))
    version: Mapped[str] = mapped_column(String(10))
    event_types: Mapped[list | None] = mapped_column(JSON)     # None: every supported type
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class EventNotification(Base):
    __tablename__ = "event_notifications"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    jti: Mapped[str] = mapped_column(String(128), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    event_type: Mapped[str] = mapped_column(String(128))
    claims: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime, index=True)
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class DeliveryAttempt(Base):
    __tablename__ = "event_delivery_attempts"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    event_pk: Mapped[int] = mapped_column(ForeignKey("event_notifications.id"), index=True)
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    latency_ms: Mapped[int] = mapped_column(Integer)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
