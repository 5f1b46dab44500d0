"""The one clock. Time is timezone-aware UTC; the sandbox may move it forward."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone


class Clock:
    def __init__(self, offset: timedelta = timedelta(0), frozen_at: datetime | None = None):
        self.offset = offset
        self.frozen_at = frozen_at

    def now(self) -> datetime:
        base = self.frozen_at or datetime.now(timezone.utc)
        return base + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


def ensure_utc(value: datetime) -> datetime:
    """Naive datetimes (as SQLite returns them) are UTC; aware ones are converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)
