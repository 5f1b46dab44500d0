"""The OBIE operational KPIs of one UTC day: `flask kpi report --date 2026-12-06`.

What the Open Banking Operational Guidelines ask an ASPSP to measure of its dedicated
interface (EBA Guidelines 2.2 and 2.3), per API family and for the whole interface:
- availability: 100% minus the day's downtime, as seconds out of 86,400. The interface is
  down once five consecutive requests went unanswered, whether from one TPP or several, with
  no successful answer among them; the downtime runs from the first of those requests until
  the next request that is answered. Unanswered here: answered with a server error (5xx), or
  after 30 seconds or more. The whole interface is down whenever any family is (the union).
- average time to last byte: the day's mean, in milliseconds, of each request's time from its
  receipt to its response (every endpoint of the family, consent endpoints included, as the
  current guidelines count them).
- error response rate: the errors attributable to the ASPSP, the 5xx answers, out of all
  requests. A 4xx is the TPP's error (a bad request, a refused token) and is not one; it is
  shown apart.

The source is the request log (aspsp.request_log): the calls of the TPPs, durable in the
database, written by every web process. It records every Open Banking call of a client it can
identify and the OAuth endpoints a client authenticates at, with status and latency, and
keeps them REQUEST_LOG_RETENTION_DAYS (14): a day's report must be made within that. What it
does not see, the report cannot count: a call of nobody identifiable (no token, an unknown
one: always a 4xx, not an error), a call the web tier never answered (a worker killed, the
proxy timing out: look at the proxy's log), a call dropped from a full buffer (the writer logs
how many). Its latency is measured inside the app, from the request's first hook to its
response built; the proxy's `$request_time` adds the network.

The computation (`daily_report`) is pure: the calls in, the figures out. It streams: the
day's calls are read in the order they were answered, a batch at a time, and only the
down intervals are kept, so a day of millions of calls needs no memory for them.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable, Iterator

import click
from flask import Flask
from flask.cli import AppGroup

from .metrics import family_of

DAY_SECONDS = 86400
UNANSWERED_SECONDS = 30.0
CONSECUTIVE_UNANSWERED = 5
FAMILIES = ("ais", "pis", "cof", "vrp", "events", "oauth")
ALL = "all"


@dataclass(frozen=True)
class Call:
    received: datetime
    family: str
    status: int
    latency_ms: float

    @property
    def unanswered(self) -> bool:
        return self.status >= 500 or self.latency_ms >= UNANSWERED_SECONDS * 1000


@dataclass(frozen=True)
class FamilyKpi:
    family: str
    requests: int
    server_errors: int
    client_errors: int
    error_response_rate_pct: float | None
    mean_ttlb_ms: float | None
    downtime_seconds: float
    availability_pct: float


@dataclass(frozen=True)
class Report:
    day: str
    families: tuple[FamilyKpi, ...]

    def as_dict(self) -> dict:
        return {"date": self.day, "families": [asdict(f) for f in self.families]}

    def family(self, name: str) -> FamilyKpi:
        return next(f for f in self.families if f.family == name)


class _Tally:
    """One family's running figures over its calls, fed in the order they were answered: the
    counts, the latency sum and the downtime rule's state (memory: its down intervals only,
    however many calls a day has)."""

    def __init__(self) -> None:
        self.requests = self.server = self.client = 0
        self.latency = 0.0
        self.run, self.first_of_run, self.down_since = 0, None, None
        self.intervals: list[tuple[datetime, datetime]] = []

    def add(self, call: Call) -> None:
        self.requests += 1
        self.latency += call.latency_ms
        self.server += call.status >= 500
        self.client += 400 <= call.status < 500
        if call.unanswered:
            self.run += 1
            self.first_of_run = min(self.first_of_run or call.received, call.received)
            if self.run >= CONSECUTIVE_UNANSWERED and self.down_since is None:
                self.down_since = self.first_of_run
        else:
            if self.down_since is not None:
                self.intervals.append((self.down_since, call.received))
            self.run, self.first_of_run, self.down_since = 0, None, None

    def down(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The down intervals, clipped to [start, end); one still open runs to `end`."""
        intervals = self.intervals + ([(self.down_since, end)] if self.down_since else [])
        return [(max(a, start), min(b, end)) for a, b in intervals if b > start and a < end]

    def figures(self, name: str, down: float) -> FamilyKpi:
        n = self.requests
        return FamilyKpi(
            family=name, requests=n, server_errors=self.server, client_errors=self.client,
            error_response_rate_pct=round(100.0 * self.server / n, 4) if n else None,
            mean_ttlb_ms=round(self.latency / n, 3) if n else None,
            downtime_seconds=round(down, 3),
            availability_pct=round(100.0 * (1 - down / DAY_SECONDS), 4))


def downtime(calls: Iterable[Call], start: datetime, end: datetime) -> list[tuple[datetime,
                                                                                  datetime]]:
    """The down intervals (clipped to [start, end)) of one family's calls, in order."""
    tally = _Tally()
    for call in calls:
        tally.add(call)
    return tally.down(start, end)


def _union_seconds(intervals: Iterable[tuple[datetime, datetime]]) -> float:
    total, current = 0.0, None
    for a, b in sorted(intervals):
        if current is None or a > current[1]:
            if current is not None:
                total += (current[1] - current[0]).total_seconds()
            current = [a, b]
        else:
            current[1] = max(current[1], b)
    if current is not None:
        total += (current[1] - current[0]).total_seconds()
    return total


def daily_report(calls: Iterable[Call], day: date) -> Report:
    """The KPIs of `day` (UTC) from the calls received on it (others are ignored), each
    family's calls in the order they were answered (the request log's order)."""
    start = datetime.combine(day, time(0), tzinfo=timezone.utc)
    end = start + timedelta(days=1)
    tallies: dict[str, _Tally] = {f: _Tally() for f in FAMILIES}
    everything = _Tally()
    for call in calls:
        if start <= call.received < end:
            everything.add(call)
            tallies.setdefault(call.family, _Tally()).add(call)
    rows, down_all = [], []
    for name, tally in tallies.items():
        intervals = tally.down(start, end)
        down_all += intervals
        if name in FAMILIES:
            rows.append(tally.figures(name, _union_seconds(intervals)))
    rows.append(everything.figures(ALL, _union_seconds(down_all)))
    return Report(day.isoformat(), tuple(rows))


# --- the data source -------------------------------------------------------------------------
def calls_of_day(uow, day: date) -> Iterator[Call]:
    """The request log's calls received on `day`, in the order they were answered, streamed
    (a call is stored when answered: its receipt is its time less its latency, so the next
    day's first seconds are read too). Consume it inside the unit of work."""
    from sqlalchemy import select

    from .request_log import RequestLogEntry
    e = RequestLogEntry
    start = datetime.combine(day, time(0), tzinfo=timezone.utc)
    end = start + timedelta(days=1, seconds=UNANSWERED_SECONDS * 10)
    rows = uow.session.execute(
        select(e.created_at, e.path, e.status, e.latency_ms)
        .where(e.created_at >= start, e.created_at < end).order_by(e.created_at, e.id)
        .execution_options(yield_per=5000))
    for at, path, status, latency in rows:
        yield Call(at - timedelta(milliseconds=latency), family_of(path), status, latency)


def report_for_day(db, day: date) -> Report:
    with db.uow() as uow:
        return daily_report(calls_of_day(uow, day), day)


# --- text ------------------------------------------------------------------------------------
def as_text(report: Report) -> str:
    def num(value, fmt):
        return "-" if value is None else format(value, fmt)
    lines = [f"OBIE operational KPIs, {report.day} (UTC), from the request log",
             f"{'family':<8} {'requests':>9} {'5xx':>6} {'4xx':>6} {'error rate %':>12} "
             f"{'avg TTLB ms':>11} {'downtime s':>10} {'availability %':>14}"]
    for f in report.families:
        lines.append(f"{f.family:<8} {f.requests:>9} {f.server_errors:>6} {f.client_errors:>6} "
                     f"{num(f.error_response_rate_pct, '.4f'):>12} "
                     f"{num(f.mean_ttlb_ms, '.1f'):>11} {f.downtime_seconds:>10.0f} "
                     f"{f.availability_pct:>14.4f}")
    return "\n".join(lines)


# --- the command -----------------------------------------------------------------------------
kpi_cli = AppGroup("kpi", help="The OBIE operational KPIs (availability, time to last byte, "
                   "error response rate) from the request log.")


@kpi_cli.command("report")
@click.option("--date", "day", default=None,
              help="The UTC day, YYYY-MM-DD (default: yesterday).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def report_command(day: str | None, fmt: str) -> None:
    """One day's KPIs per API family and for the whole interface."""
    from flask import current_app
    p = current_app.extensions["aspsp"]
    if not current_app.config["REQUEST_LOG_ENABLED"]:
        raise click.ClickException("the request log is off (REQUEST_LOG_ENABLED): no data")
    try:
        chosen = (date.fromisoformat(day) if day
                  else (p.clock.now() - timedelta(days=1)).date())
    except ValueError:
        raise click.BadParameter("expected YYYY-MM-DD", param_hint="--date") from None
    from . import request_log
    request_log.flush()
    report = report_for_day(p.db, chosen)
    click.echo(json.dumps(report.as_dict(), indent=2) if fmt == "json" else as_text(report))


def init_app(app: Flask) -> None:
    app.cli.add_command(kpi_cli)


__all__ = ["Call", "Report", "as_text", "calls_of_day", "daily_report", "downtime",
           "report_for_day"]
