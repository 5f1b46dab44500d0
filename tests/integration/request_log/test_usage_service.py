"""The query service behind the pages: percentiles, daily buckets and the window, the same on
SQLite (computed in Python) and PostgreSQL (percentile_cont)."""
from __future__ import annotations

import uuid
from datetime import date, timedelta

from aspsp.request_log import RequestLogEntry
from developer_portal import request_log as service
from developer_portal.request_log_charts import calls_chart, latency_chart, nice_ceiling
from tests.conftest import NOW


def _add(platform, client_id, rows):
    with platform.uow() as uow:
        for at, status, latency in rows:
            uow.session.add(RequestLogEntry(call_id=str(uuid.uuid4()), client_id=client_id,
                                            created_at=at, method="GET", path="/x",
                                            status=status, latency_ms=latency))
        uow.commit()


def test_daily_usage_of_the_last_fourteen_days(platform):
    _add(platform, "mine", [(NOW, 200, 1.0), (NOW, 200, 2.0), (NOW, 201, 3.0), (NOW, 404, 4.0),
                            (NOW, 503, 100.0),
                            (NOW.replace(hour=0, minute=0) - timedelta(seconds=1), 200, 9.0),
                            (NOW - timedelta(days=13), 200, 5.0),
                            (NOW - timedelta(days=14), 200, 5.0)])          # outside
    _add(platform, "theirs", [(NOW, 500, 1000.0)])
    with platform.uow() as uow:
        usage = service.usage(uow, "mine", today=NOW.date())
    assert [d.day for d in usage.days] == [date(2026, 6, 2) + timedelta(days=n)
                                           for n in range(14)]
    today, yesterday, first = usage.days[-1], usage.days[-2], usage.days[0]
    assert (today.calls, today.client_errors, today.server_errors) == (5, 1, 1)
    assert today.error_rate == 0.4
    assert (today.p50, today.p95, today.p99) == (3.0, 80.8, 96.16)
    assert (yesterday.calls, yesterday.p50, yesterday.p99) == (1, 9.0, 9.0)
    assert (first.calls, first.p50) == (1, 5.0)
    assert usage.days[5].calls == 0 and usage.days[5].p50 is None
    assert (usage.calls, usage.errors) == (7, 2)


def test_calls_newest_first_and_one_call_only_of_its_client(platform):
    _add(platform, "mine", [(NOW - timedelta(minutes=1), 200, 1.0), (NOW, 500, 1.0)])
    _add(platform, "theirs", [(NOW, 200, 1.0)])
    with platform.uow() as uow:
        found = service.calls(uow, "mine", service.CallFilter())
        assert [c.status for c in found.calls] == [500, 200] and not found.has_next
        assert service.call(uow, "mine", found.calls[0].call_id).status == 500
        theirs = service.calls(uow, "theirs", service.CallFilter()).calls[0].call_id
        assert service.call(uow, "mine", theirs) is None


def test_percentile_interpolates_between_ranks():
    assert service.percentile([1.0], 0.99) == 1.0
    assert service.percentile([1.0, 3.0], 0.5) == 2.0


def test_nice_ceilings():
    assert [nice_ceiling(v) for v in (0, 1, 3, 7, 11, 240, 0.13)] == [1, 1, 5, 10, 20, 250, 0.2]


def test_bars_and_lines_are_scaled_to_the_plot():
    usage = service.Usage([service.DayUsage(NOW.date() - timedelta(days=1)),
                           service.DayUsage(NOW.date(), calls=10, client_errors=5, p50=1.0,
                                            p95=2.0, p99=5.0)])
    chart = calls_chart(usage)
    ok, bad = chart.bars
    assert (ok.css, bad.css) == ("bar", "bar bad")
    assert ok.height == bad.height                       # half the calls failed
    assert bad.y == 14                                   # 10 calls: the top of the plot
    [p50, p95, p99] = latency_chart(usage).lines
    assert p99.points.endswith(",14.0") and p50.points.endswith(",156.4")     # 5 ms, 1 ms
    assert p50.css == "line"
