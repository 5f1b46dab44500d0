"""The OBIE operational KPIs of a day, on calls whose figures are worked out by hand."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from aspsp.kpi import Call, daily_report, downtime
from aspsp.metrics import family_of

DAY = date(2026, 12, 6)
MIDNIGHT = datetime(2026, 12, 6, tzinfo=timezone.utc)


def at(hh: int, mm: int = 0, ss: float = 0) -> datetime:
    return MIDNIGHT + timedelta(hours=hh, minutes=mm, seconds=ss)


def calls(family: str, *spec) -> list[Call]:
    return [Call(when, family, status, latency) for when, status, latency in spec]


def test_five_unanswered_calls_in_a_row_start_a_downtime_that_the_next_answer_ends():
    down = [(at(10, 0, s), 503, 50.0) for s in range(5)] + [(at(10, 10), 200, 50.0)]
    report = daily_report(calls("pis", *down), DAY)
    pis = report.family("pis")
    assert pis.downtime_seconds == 600.0
    assert pis.availability_pct == round(100 * (1 - 600 / 86400), 4) == 99.3056
    assert (pis.requests, pis.server_errors) == (6, 5)
    assert pis.error_response_rate_pct == round(500 / 6, 4)
    assert report.family("ais").availability_pct == 100.0
    assert report.family("all").downtime_seconds == 600.0


def test_four_unanswered_calls_are_no_downtime_and_a_success_resets_the_count():
    spec = [(at(9, 0, s), 500, 10.0) for s in range(4)] + [(at(9, 1), 200, 10.0)] \
        + [(at(9, 2, s), 500, 10.0) for s in range(4)] + [(at(9, 3), 201, 10.0)]
    assert downtime(calls("ais", *spec), MIDNIGHT, at(24)) == []
    assert daily_report(calls("ais", *spec), DAY).family("ais").availability_pct == 100.0


def test_a_reply_after_30_seconds_is_unanswered_and_4xx_is_answered():
    slow = [(at(12, 0, s), 200, 30000.0) for s in range(5)] + [(at(12, 5), 200, 20.0)]
    assert daily_report(calls("ais", *slow), DAY).family("ais").downtime_seconds == 300.0
    refused = [(at(12, 0, s), 401, 5.0) for s in range(10)]
    report = daily_report(calls("ais", *refused), DAY)
    assert report.family("ais").downtime_seconds == 0.0
    assert (report.family("ais").error_response_rate_pct,
            report.family("ais").client_errors) == (0.0, 10)


def test_a_downtime_never_ended_runs_to_midnight_and_families_add_up_as_a_union():
    pis = [(at(23, 0, s), 500, 10.0) for s in range(5)]                   # 23:00 to 24:00
    ais = [(at(22, 30, s), 500, 10.0) for s in range(5)] + [(at(23, 30), 200, 10.0)]
    report = daily_report(calls("pis", *pis) + calls("ais", *ais), DAY)
    assert report.family("pis").downtime_seconds == 3600.0
    assert report.family("ais").downtime_seconds == 3600.0               # 22:30 to 23:30
    assert report.family("all").downtime_seconds == 5400.0               # 22:30 to 24:00
    assert report.family("all").availability_pct == 93.75


def test_mean_time_to_last_byte_and_error_rate_per_family_and_overall():
    report = daily_report(
        calls("ais", (at(1), 200, 10.0), (at(2), 200, 30.0), (at(3), 404, 20.0),
              (at(4), 500, 40.0))
        + calls("oauth", (at(5), 200, 5.0))
        + calls("ais", (at(0) - timedelta(seconds=1), 500, 999.0)), DAY)   # the day before
    ais, oauth, everything = (report.family(f) for f in ("ais", "oauth", "all"))
    assert (ais.requests, ais.mean_ttlb_ms, ais.error_response_rate_pct) == (4, 25.0, 25.0)
    assert (oauth.requests, oauth.mean_ttlb_ms, oauth.error_response_rate_pct) == (1, 5.0, 0.0)
    assert (everything.requests, everything.mean_ttlb_ms) == (5, 21.0)
    assert everything.error_response_rate_pct == 20.0
    cof = report.family("cof")
    assert (cof.requests, cof.mean_ttlb_ms, cof.error_response_rate_pct) == (0, None, None)


def test_families_are_told_by_url_prefix_never_by_ids():
    assert family_of("/open-banking/v3.1/aisp/accounts/abc/transactions") == "ais"
    assert family_of("/open-banking/v3.1/aisp/account-access-consents") == "ais"
    assert family_of("/open-banking/v4.0/pisp/domestic-payments/x") == "pis"
    assert family_of("/open-banking/v3.1/pisp/domestic-vrp-consents/x") == "vrp"
    assert family_of("/open-banking/v3.1/pisp/domestic-vrps") == "vrp"
    assert family_of("/open-banking/v3.1/cbpii/funds-confirmations") == "cof"
    assert family_of("/open-banking/v3.1/events") == "events"
    assert family_of("/open-banking/v3.1/event-subscriptions/s1") == "events"
    assert family_of("/open-banking/v3.1/callback-urls") == "events"
    assert family_of("/open-banking/docs") == "other"
    for path in ("/token", "/par", "/authorize", "/register", "/register/client-1", "/jwks",
                 "/.well-known/openid-configuration", "/introspect", "/revoke", "/userinfo"):
        assert family_of(path) == "oauth", path
    assert family_of("/developers/apps/x") == "portal"
    assert family_of("/authorize/ref/login") == "web"
    assert family_of("/psu/consents") == "web"
    assert family_of("/sandbox/outbox") == "other"
