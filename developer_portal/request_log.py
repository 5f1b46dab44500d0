"""A client's request log as its developers read it (the rows aspsp.request_log writes).

- `calls`: the client's calls, newest first, a page at a time, filtered by status class
  (2xx, 3xx, 4xx, 5xx) and by a substring of the path (case-insensitive, taken literally).
- `call`: one call with its masked bodies (JSON indented), by its opaque call id, only if it
  is the client's.
- `usage`: per UTC day for the last USAGE_DAYS days (today included, days without calls as
  zeros): calls, errors (status 400 and above, 4xx and 5xx apart), the error rate and the
  latency percentiles p50/p95/p99 (linear interpolation between the closest ranks, as
  PostgreSQL's percentile_cont, which computes them there; on SQLite, Python does).
Who may read which client's log is the portal's business (developer_portal.auth.member_app).
"""
from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Date, and_, cast, func, select

from aspsp.request_log import RequestLogEntry

PAGE_SIZE = 50
MAX_PAGE = 1000
USAGE_DAYS = 14
STATUS_CLASSES = ("2xx", "3xx", "4xx", "5xx")
PATH_FILTER_MAX = 200
PERCENTILES = (0.5, 0.95, 0.99)


@dataclass(frozen=True)
class CallFilter:
    status_class: str | None = None
    path: str | None = None

    @classmethod
    def parse(cls, status: str | None, path: str | None) -> tuple["CallFilter", list[str]]:
        """The filter from a query string, and what was wrong with it (dropped from it)."""
        problems = []
        status = (status or "").strip().lower() or None
        if status is not None and status not in STATUS_CLASSES:
            problems.append(f"Status must be one of {', '.join(STATUS_CLASSES)}.")
            status = None
        path = (path or "").strip() or None
        if path is not None and len(path) > PATH_FILTER_MAX:
            problems.append(f"The path filter can be at most {PATH_FILTER_MAX} characters.")
            path = None
        if path is not None and "\x00" in path:
            problems.append("The path filter cannot contain NUL characters.")
            path = None
        return cls(status, path), problems

    def args(self) -> dict[str, str]:
        return {k: v for k, v in (("status", self.status_class), ("path", self.path)) if v}


@dataclass(frozen=True)
class Call:
    call_id: str
    at: datetime
    method: str
    path: str
    query: str | None
    status: int
    latency_ms: float
    interaction_id: str | None

    @property
    def status_class(self) -> str:
        return f"{self.status // 100}xx"


@dataclass(frozen=True)
class CallDetail(Call):
    request_type: str | None = None
    request_body: str | None = None
    response_type: str | None = None
    response_body: str | None = None


@dataclass(frozen=True)
class CallPage:
    calls: list[Call]
    page: int
    has_next: bool

    @property
    def has_previous(self) -> bool:
        return self.page > 1


@dataclass(frozen=True)
class DayUsage:
    day: date
    calls: int = 0
    client_errors: int = 0
    server_errors: int = 0
    p50: float | None = None
    p95: float | None = None
    p99: float | None = None

    @property
    def errors(self) -> int:
        return self.client_errors + self.server_errors

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


@dataclass(frozen=True)
class Usage:
    days: list[DayUsage] = field(default_factory=list)

    @property
    def calls(self) -> int:
        return sum(d.calls for d in self.days)

    @property
    def errors(self) -> int:
        return sum(d.errors for d in self.days)

    @property
    def error_rate(self) -> float:
        return self.errors / self.calls if self.calls else 0.0


_SUMMARY = (RequestLogEntry.call_id, RequestLogEntry.created_at, RequestLogEntry.method,
            RequestLogEntry.path, RequestLogEntry.query, RequestLogEntry.status,
            RequestLogEntry.latency_ms, RequestLogEntry.interaction_id)


def calls(uow, client_id: str, filters: CallFilter, page: int = 1,
          size: int = PAGE_SIZE) -> CallPage:
    page = min(max(page, 1), MAX_PAGE)
    t = RequestLogEntry
    query = select(*_SUMMARY).where(t.client_id == client_id)
    if filters.status_class:
        low = int(filters.status_class[0]) * 100
        query = query.where(t.status >= low, t.status < low + 100)
    if filters.path:
        query = query.where(t.path.icontains(filters.path, autoescape=True))
    rows = uow.session.execute(query.order_by(t.created_at.desc(), t.id.desc())
                               .limit(size + 1).offset((page - 1) * size)).all()
    return CallPage([Call(*row) for row in rows[:size]], page, len(rows) > size)


def call(uow, client_id: str, call_id: str) -> CallDetail | None:
    t = RequestLogEntry
    row = uow.session.execute(select(*_SUMMARY, t.request_type, t.request_body,
                                     t.response_type, t.response_body)
                              .where(t.client_id == client_id,
                                     t.call_id == str(call_id)[:36])).one_or_none()
    if row is None:
        return None
    *summary, request_type, request_body, response_type, response_body = row
    return CallDetail(*summary, request_type, readable(request_body, request_type),
                      response_type, readable(response_body, response_type))


def readable(body: str | None, media_type: str | None) -> str | None:
    """A whole JSON body indented for reading (the log stores it as the API sent it)."""
    if not body or not media_type or not (media_type == "application/json"
                                          or media_type.endswith("+json")):
        return body
    try:
        return json.dumps(json.loads(body), ensure_ascii=False, indent=2)
    except ValueError:          # cut at the limit, or not JSON after all: as it is
        return body


def usage(uow, client_id: str, *, today: date, days: int = USAGE_DAYS) -> Usage:
    first = today - timedelta(days=days - 1)
    start = datetime.combine(first, time(), tzinfo=timezone.utc)
    end = datetime.combine(today + timedelta(days=1), time(), tzinfo=timezone.utc)
    window = and_(RequestLogEntry.client_id == client_id, RequestLogEntry.created_at >= start,
                  RequestLogEntry.created_at < end)
    if uow.session.get_bind().dialect.name == "postgresql":
        found = _usage_in_postgresql(uow, window)
    else:
        found = _usage_in_python(uow, window)
    return Usage([found.get(first + timedelta(days=n)) or DayUsage(first + timedelta(days=n))
                  for n in range(days)])


def _usage_in_postgresql(uow, window) -> dict[date, DayUsage]:
    t = RequestLogEntry
    day = cast(func.timezone("UTC", t.created_at), Date).label("day")
    rows = uow.session.execute(
        select(day, func.count(),
               func.count().filter(and_(t.status >= 400, t.status < 500)),
               func.count().filter(t.status >= 500),
               func.percentile_cont(list(PERCENTILES)).within_group(t.latency_ms))
        .where(window).group_by(day)).all()
    return {d: DayUsage(d, n, c4, c5, *(round(v, 3) for v in ps))
            for d, n, c4, c5, ps in rows}


def _usage_in_python(uow, window) -> dict[date, DayUsage]:
    t = RequestLogEntry
    latencies: dict[date, list[float]] = defaultdict(list)
    client_errors: dict[date, int] = defaultdict(int)
    server_errors: dict[date, int] = defaultdict(int)
    for at, status, latency in uow.session.execute(
            select(t.created_at, t.status, t.latency_ms).where(window)):
        d = at.astimezone(timezone.utc).date()
        latencies[d].append(latency)
        client_errors[d] += 400 <= status < 500
        server_errors[d] += status >= 500
    return {d: DayUsage(d, len(values), client_errors[d], server_errors[d],
                        *(round(percentile(sorted(values), p), 3) for p in PERCENTILES))
            for d, values in latencies.items()}


def percentile(ordered: list[float], fraction: float) -> float:
    """percentile_cont: linear interpolation between the closest ranks of sorted values."""
    position = fraction * (len(ordered) - 1)
    low, high = math.floor(position), math.ceil(position)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


__all__ = ["Call", "CallDetail", "CallFilter", "CallPage", "DayUsage", "Usage", "call",
           "calls", "percentile", "usage"]
