"""`flask kpi report` on a known set of calls in the request log: the figures worked out by
hand, as text and as JSON."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert

from aspsp.ids import new_id
from aspsp.request_log import RequestLogEntry

AIS = "/open-banking/v3.1/aisp/accounts"
PIS = "/open-banking/v3.1/pisp/domestic-payments"


def received(hh, mm=0, ss=0.0, day=14) -> datetime:
    return datetime(2026, 6, day, tzinfo=timezone.utc) + timedelta(hours=hh, minutes=mm,
                                                                   seconds=ss)


def store(platform, *calls) -> None:
    """Calls as the request log stores them: at the time they were answered."""
    with platform.uow() as uow:
        uow.session.execute(insert(RequestLogEntry), [
            {"call_id": new_id(), "client_id": "kpi-test-client", "method": "GET",
             "path": path, "status": status, "latency_ms": latency,
             "created_at": when + timedelta(milliseconds=latency)}
            for when, path, status, latency in calls])
        uow.commit()


def known_day(platform) -> None:
    store(platform,
          (received(1), AIS, 200, 10.0), (received(2), AIS, 200, 30.0),
          (received(3), AIS, 404, 20.0), (received(4), AIS, 500, 40.0),
          # received on the 14th, answered on the 15th: the 14th's
          (received(23, 59, 59.99), AIS, 200, 20.0),
          # five server errors in a row, then an answer ten minutes later: 600 s down
          *[(received(10, 0, s), PIS, 503, 100.0) for s in range(5)],
          (received(10, 10), PIS, 201, 100.0),
          (received(6), "/token", 200, 5.0),
          (received(12, day=13), AIS, 500, 1000.0))                    # another day


def test_the_json_report_has_the_figures_of_the_known_calls(app, platform):
    known_day(platform)
    result = app.test_cli_runner().invoke(args=["kpi", "report", "--date", "2026-06-14",
                                                "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["date"] == "2026-06-14"
    rows = {row["family"]: row for row in report["families"]}
    assert list(rows) == ["ais", "pis", "cof", "vrp", "events", "oauth", "all"]
    assert rows["ais"] == {
        "family": "ais", "requests": 5, "server_errors": 1, "client_errors": 1,
        "error_response_rate_pct": 20.0, "mean_ttlb_ms": 24.0,     # (10+30+20+40+20)/5
        "downtime_seconds": 0.0, "availability_pct": 100.0}
    assert rows["pis"] == {
        "family": "pis", "requests": 6, "server_errors": 5, "client_errors": 0,
        "error_response_rate_pct": 83.3333, "mean_ttlb_ms": 100.0,
        "downtime_seconds": 600.0, "availability_pct": 99.3056}    # 100 * (1 - 600/86400)
    assert rows["oauth"]["requests"] == 1 and rows["oauth"]["mean_ttlb_ms"] == 5.0
    assert rows["cof"] == {
        "family": "cof", "requests": 0, "server_errors": 0, "client_errors": 0,
        "error_response_rate_pct": None, "mean_ttlb_ms": None,
        "downtime_seconds": 0.0, "availability_pct": 100.0}
    assert rows["all"] == {
        "family": "all", "requests": 12, "server_errors": 6, "client_errors": 1,
        "error_response_rate_pct": 50.0, "mean_ttlb_ms": 60.417,   # 725 / 12
        "downtime_seconds": 600.0, "availability_pct": 99.3056}


def test_the_text_report_defaults_to_yesterday(app, platform):
    known_day(platform)                   # the test clock's today is 2026-06-15
    result = app.test_cli_runner().invoke(args=["kpi", "report"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("OBIE operational KPIs, 2026-06-14 (UTC)")
    pis = next(line.split() for line in lines if line.startswith("pis "))
    assert pis == ["pis", "6", "5", "0", "83.3333", "100.0", "600", "99.3056"]


def test_a_bad_date_is_refused(app):
    result = app.test_cli_runner().invoke(args=["kpi", "report", "--date", "14/06/2026"])
    assert result.exit_code == 2 and "YYYY-MM-DD" in result.output
