"""The sandbox clock: the platform's one clock, moved forward for every process at once.

A deployment runs several processes (web, the Celery worker and beat, the CLI), each with
its own `aspsp.clock.Clock`. In the sandbox the clock's offset from the wall clock lives in
the database (`sandbox_clock`, one row), so `flask sandbox clock advance --days 30` moves the
time that every process reads: each re-reads the offset at most every `REFRESH_SECONDS`
(one indexed read, on a connection of its own and outside any transaction, so a clock read
in the middle of a unit of work never waits on it). Time only moves forward: consents,
tokens and schedules count on it. Once moved, the next run of the beat task
`ledger.run_schedules` (every minute) pays every scheduled payment and standing-order
instalment that fell due meanwhile, in date order, each valued on its own due date.

`init_app` installs it as the platform clock unless the app was given a CLOCK (tests give
their own frozen clock).
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from aspsp.clock import Clock
from aspsp.db import Database

from .models import SandboxClockOffset

REFRESH_SECONDS = 2.0
ROW_ID = 1


class SandboxClock(Clock):
    def __init__(self, db: Database, *, refresh_seconds: float = REFRESH_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic,
                 frozen_at: datetime | None = None):
        super().__init__(frozen_at=frozen_at)
        self.db = db
        self.refresh_seconds = refresh_seconds
        self._monotonic = monotonic
        self._read_at: float | None = None

    def now(self) -> datetime:
        if self._read_at is None or self._monotonic() - self._read_at >= self.refresh_seconds:
            stored = self._stored_offset()
            if stored is not None:
                self.offset = timedelta(seconds=stored)
            self._read_at = self._monotonic()
        return super().now()

    def _stored_offset(self) -> int | None:
        """The offset in the database, read on a raw connection in autocommit fashion (no
        BEGIN IMMEDIATE on SQLite, a transaction ended at once on PostgreSQL), or None when
        it cannot be read (before the migrations made the table, or with the database down):
        the clock keeps the offset it last read, so telling the time never fails."""
        try:
            connection = self.db.engine.raw_connection()
        except (DBAPIError, self.db.engine.dialect.loaded_dbapi.Error):
            return None
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT offset_seconds FROM sandbox_clock WHERE id = 1")
            row = cursor.fetchone()
            cursor.close()
            return int(row[0]) if row else 0
        except self.db.engine.dialect.loaded_dbapi.Error:
            return None   # not migrated yet (`flask db upgrade` reads the clock), or gone
        finally:
            try:
                connection.rollback()
            finally:
                connection.close()

    def advance(self, delta: timedelta) -> None:
        """Move the clock of every process forward by `delta` (whole seconds)."""
        seconds = int(delta.total_seconds())
        if seconds <= 0:
            raise ValueError("the sandbox clock only moves forward")
        with self.db.uow() as uow:
            row = uow.session.scalars(select(SandboxClockOffset).where(
                SandboxClockOffset.id == ROW_ID).with_for_update()).one_or_none()
            if row is None:
                row = SandboxClockOffset(id=ROW_ID, offset_seconds=0)
                uow.session.add(row)
            row.offset_seconds += seconds
            row.updated_at = datetime.now(timezone.utc)
            uow.commit()
        self._read_at = None


def init_app(app: Flask) -> None:
    platform = app.extensions["aspsp"]
    if app.config.get("CLOCK") is None:
        platform.clock = SandboxClock(platform.db)
