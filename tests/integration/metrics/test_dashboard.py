"""The Grafana dashboard (deploy/grafana/aspsp-dashboard.json) only queries metrics that
/metrics exposes, and covers what an operator is promised: per-family rate, latency
quantiles and errors; consents; payments; webhooks; the pool; the queue."""
from __future__ import annotations

import json
import re
from pathlib import Path

from bank import create_app
from tests.conftest import TEST_ISSUER

DASHBOARD = Path(__file__).resolve().parents[3] / "deploy" / "grafana" / "aspsp-dashboard.json"


def expressions() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_every_metric_the_dashboard_queries_is_exposed(database, clock, tmp_path, redis_url):
    app = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                      "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                      "REDIS_URL": redis_url, "CELERY_BROKER_URL": redis_url})
    text = app.test_client().get("/metrics").get_data(as_text=True)
    declared = {re.sub(r"_total$", "", name)       # a counter is declared as its _total
                for name in re.findall(r"^# TYPE (\w+) ", text, flags=re.M)}
    queried = {re.sub(r"_(bucket|sum|count|total)$", "", name)
               for expr in expressions() for name in re.findall(r"\baspsp_\w+", expr)}
    assert queried and queried <= declared, queried - declared
    assert {"aspsp_http_requests", "aspsp_http_request_duration_seconds", "aspsp_consents",
            "aspsp_payments", "aspsp_webhook_deliveries", "aspsp_webhook_delivery_lag_seconds",
            "aspsp_db_pool_checked_out", "aspsp_celery_queue_length"} <= queried


def test_latency_is_shown_at_p50_p95_and_p99_per_family():
    quantiles = {re.search(r"histogram_quantile\(([\d.]+)", e).group(1) for e in expressions()
                 if "aspsp_http_request_duration_seconds_bucket" in e}
    assert quantiles == {"0.5", "0.95", "0.99"}
    assert all("by (family, le)" in e for e in expressions()
               if "aspsp_http_request_duration_seconds_bucket" in e)
