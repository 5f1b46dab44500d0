"""The AIS query filters, pure: OBIE date-time filter values and the windows they make.

OBIE Read/Write Data API Profile, §Filtering: "If the DateTime contains a timezone, the ASPSP
must ignore the timezone component. The filter values will be assumed to refer to the same
timezone as the timezone in which the resource is maintained." The bank keeps every time in
UTC, so `2026-03-01T10:00:00+05:00` filters from 10:00 UTC. A date without a time is
midnight ("NB Time component is optional - set to 00:00:00 for just Date").

Transactions are further held to the consent's TransactionFromDateTime/TransactionToDateTime
(Account and Transaction API Profile, §Transaction To/From Date Time): a filter is narrowed
to that period, never widened; statements must lie completely inside it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timezone

MAX_LENGTH = 64
# A zone designator at the end of the time part: Z, +hh, +hh:mm, +hhmm, -..., and " hh:mm"
# (a '+' that arrived unencoded in a query string reads as a space).
_ZONE = re.compile(r"(?:[Zz]|[+\- ]\d{2}(?::?\d{2})?)$")
# What is left must be an ISO 8601 calendar or week date, extended or basic, and a time of
# hours, minutes, seconds and a fraction (datetime.fromisoformat alone lets junk through).
_SHAPE = re.compile(r"\d{4}(?:-\d{2}-\d{2}|\d{4}|-W\d{2}(?:-\d)?|W\d{2}\d?)"
                    r"(?:T\d{2}(?::?\d{2}(?::?\d{2}(?:[.,]\d{1,9})?)?)?)?")


def parse_filter_datetime(text: str) -> datetime:
    """An ISO 8601 date or date-time, its time zone ignored, as a UTC datetime.
    ValueError when it is not one."""
    if not isinstance(text, str) or not text.strip() or len(text) > MAX_LENGTH \
            or not text.isascii():
        raise ValueError("not an ISO 8601 date-time")
    value = text.strip()
    date_part, sep, time_part = value.partition("T")
    if not sep:
        date_part, sep, time_part = value.partition("t")
    if sep:
        time_part = _ZONE.sub("", time_part)
        if not time_part:
            raise ValueError("not an ISO 8601 date-time")
        value = f"{date_part}T{time_part}"
    if not _SHAPE.fullmatch(value):
        raise ValueError("not an ISO 8601 date-time")
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("not an ISO 8601 date-time") from None
    return moment.replace(tzinfo=timezone.utc)


def naive_text(moment: datetime) -> str:
    """A filter value as links carry it back: ISO 8601 in UTC without a zone designator (the
    OBIE form for query strings), with microseconds only when there are some."""
    plain = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return plain.isoformat(timespec="microseconds" if plain.microsecond else "seconds")


@dataclass(frozen=True)
class Window:
    """A closed interval of booking times; None is open-ended."""
    start: datetime | None = None
    end: datetime | None = None

    def narrowed(self, start: datetime | None, end: datetime | None) -> "Window":
        """The part of this window inside [start, end]."""
        return Window(_later(self.start, start), _earlier(self.end, end))

    @property
    def is_empty(self) -> bool:
        return self.start is not None and self.end is not None and self.start > self.end

    def covers(self, start: datetime, end: datetime) -> bool:
        """True when [start, end] lies completely inside the window."""
        return (self.start is None or start >= self.start) \
            and (self.end is None or end <= self.end)


def _later(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


def _earlier(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)
