"""Prometheus metrics at /metrics (issue 14): what an operator watches, by API family.

Measured in the process that does the work, read at scrape time:
- HTTP: `aspsp_http_requests_total{family,method,status}` (status: its class, 2xx..5xx) and
  `aspsp_http_request_duration_seconds{family}` (a histogram), taken by a WSGI middleware
  around the whole app: from the request reaching the app to its response's last byte handed
  to the server, whatever answered it (a view, an error handler, a 500). The family comes from
  the URL's prefix (`family_of`: ais, pis, cof, vrp, events, oauth, portal, web, other),
  never the raw URL nor any id in it, so the series stay few whatever the traffic.
- Event notifications (the Celery worker): `aspsp_webhook_deliveries_total{outcome}` (every
  push: delivered = 202, refused = any other answer, failed = no answer) and
  `aspsp_webhook_delivery_lag_seconds` (event created to its push accepted).
- The database pool of each process: `aspsp_db_pool_checked_out`, `aspsp_db_pool_size`,
  `aspsp_db_pool_overflow`, sampled after every request and at every scrape.
- `aspsp_request_log_dropped_total`: calls the request log could not keep, which the KPI
  report (aspsp.kpi) cannot count.
Read from outside the process at scrape time (custom collectors, cached METRICS_CACHE_SECONDS
so that scrapes cannot hammer the database or the broker):
- `aspsp_consents{type,status}` and `aspsp_payments{type,status}` from the database;
- `aspsp_celery_queue_length{queue}` and `aspsp_celery_unacked` from a Redis broker.

Processes: under gunicorn every worker is a process of its own. With PROMETHEUS_MULTIPROC_DIR
set in the environment (deploy/gunicorn.conf.py sets it) prometheus-client keeps each
process's values in files there and a scrape of any worker sums them all; a Celery worker on
the same host, started with the same PROMETHEUS_MULTIPROC_DIR, adds its webhook figures to
them. Without it (the embedded default, `make run`) one process keeps them in memory.

Who may read it: /metrics answers a bearer token equal to METRICS_TOKEN when one is set;
without one, only a loopback peer (the address after aspsp.proxy: a client behind a trusted
proxy is its forwarded address, not the proxy's). Anybody else gets 404: the endpoint is not
advertised. deploy/nginx/aspsp.conf refuses /metrics from outside as well.
"""
from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import threading
import time
from typing import Any, Callable, Iterable

from flask import Flask, Response, current_app, request

log = logging.getLogger(__name__)

EXTENSION = "metrics"
PATH = "/metrics"
FAMILIES = ("ais", "pis", "cof", "vrp", "events", "oauth", "portal", "web", "other")
METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
# Seconds: an API call is expected in tens of milliseconds; OBIE's availability counts a call
# not answered within 30 s as not answered (aspsp.kpi).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
LAG_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)
OAUTH_PATHS = frozenset({"/token", "/par", "/authorize", "/introspect", "/revoke", "/register",
                         "/userinfo", "/jwks"})
EVENT_RESOURCES = ("events", "event-subscriptions", "callback-urls")
VRP_RESOURCES = ("domestic-vrp-consents", "domestic-vrps")


# --- the family of a path (pure) ---------------------------------------------------------------
def family_of(path: str) -> str:
    """The API family of a URL path, from its prefix only (bounded: one of FAMILIES)."""
    if path.startswith("/open-banking/"):
        parts = path.split("/")          # ['', 'open-banking', 'v3.1', 'aisp', resource, ...]
        api = parts[3] if len(parts) > 3 else ""
        resource = parts[4] if len(parts) > 4 else ""
        if api == "aisp":
            return "ais"
        if api == "pisp":
            return "vrp" if resource in VRP_RESOURCES else "pis"
        if api == "cbpii":
            return "cof"
        if api in EVENT_RESOURCES:
            return "events"
        return "other"
    if path in OAUTH_PATHS or path.startswith(("/register/", "/.well-known/")):
        return "oauth"
    if path.startswith("/developers"):
        return "portal"
    if path.startswith(("/sandbox", "/health")) or path == PATH:
        return "other"
    return "web"      # the customer's pages (/psu, /authorize/<ref>/..., /login), landing,
    #                   the regulator's pages


def status_class(status: int) -> str:
    return f"{status // 100}xx" if 100 <= status < 600 else "other"


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


# --- the process's instruments -------------------------------------------------------------
class Instruments:
    """The metrics this process writes (one set per process, whatever the number of apps)."""

    def __init__(self) -> None:
        from prometheus_client import (CollectorRegistry, Counter, Gauge, Histogram,
                                       disable_created_metrics)
        disable_created_metrics()      # no *_created series: Prometheus does not need them
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter("aspsp_http_requests", "HTTP requests answered, by API family, "
                                "method and status class.", ("family", "method", "status"),
                                registry=r)
        self.duration = Histogram("aspsp_http_request_duration_seconds",
                                  "Time from a request reaching the app to the last byte of "
                                  "its response, by API family.", ("family",),
                                  buckets=LATENCY_BUCKETS, registry=r)
        self.webhooks = Counter("aspsp_webhook_deliveries", "Event notification pushes, by "
                                "outcome (delivered: 202; refused: another answer; failed: "
                                "no answer).", ("outcome",), registry=r)
        self.webhook_lag = Histogram("aspsp_webhook_delivery_lag_seconds",
                                     "From an event's creation to its push being accepted.",
                                     buckets=LAG_BUCKETS, registry=r)
        self.request_log_dropped = Counter(
            "aspsp_request_log_dropped", "API calls the request log could not keep (a full "
            "buffer, a batch that could not be written): calls the KPI report cannot count.",
            registry=r)
        self.pool_checked_out = Gauge("aspsp_db_pool_checked_out", "Database connections in "
                                      "use (summed over live processes).", registry=r,
                                      multiprocess_mode="livesum")
        self.pool_size = Gauge("aspsp_db_pool_size", "Database pool size (summed over live "
                               "processes).", registry=r, multiprocess_mode="livesum")
        self.pool_overflow = Gauge("aspsp_db_pool_overflow", "Connections beyond the pool size "
                                   "(summed over live processes).", registry=r,
                                   multiprocess_mode="livesum")
        for family in FAMILIES:        # every family present from the first scrape, at 0
            self.duration.labels(family)


_instruments: Instruments | None = None
_instruments_lock = threading.Lock()


def instruments() -> Instruments:
    global _instruments
    if _instruments is None:
        with _instruments_lock:
            if _instruments is None:
                _instruments = Instruments()
    return _instruments


def observe_request(family: str, method: str, status: int, seconds: float) -> None:
    m = instruments()
    m.requests.labels(family, method if method in METHODS else "other",
                      status_class(status)).inc()
    m.duration.labels(family).observe(seconds)


def observe_webhook(outcome: str, lag_seconds: float | None = None) -> None:
    """One push of an event notification (the worker, after the outcome is recorded)."""
    m = instruments()
    m.webhooks.labels(outcome).inc()
    if lag_seconds is not None:
        m.webhook_lag.observe(max(lag_seconds, 0.0))


def observe_request_log_dropped(calls: int) -> None:
    instruments().request_log_dropped.inc(calls)


def webhook_outcome(http_status: int | None) -> str:
    if http_status is None:
        return "failed"
    return "delivered" if http_status == 202 else "refused"


def sample_pool(engine) -> None:
    pool, m = engine.pool, instruments()
    for gauge, reading in ((m.pool_checked_out, "checkedout"), (m.pool_size, "size"),
                           (m.pool_overflow, "overflow")):
        read = getattr(pool, reading, None)
        if read is not None:
            gauge.set(max(read(), 0))


# --- the WSGI middleware ---------------------------------------------------------------------
class RequestMetrics:
    """Counts and times every request the app answers (the whole WSGI call, body included)."""

    def __init__(self, app: Callable, engine=None):
        self.app, self.engine = app, engine

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        if path == PATH:
            return self.app(environ, start_response)
        started = time.perf_counter()
        seen: dict[str, int] = {}

        def _start_response(status, headers, exc_info=None):
            seen["status"] = int(str(status).split(" ", 1)[0])
            return start_response(status, headers, exc_info)

        try:
            body = self.app(environ, _start_response)
        except BaseException:
            self._done(path, environ, 500, started)
            raise
        return _Body(body, lambda: self._done(path, environ, seen.get("status", 500), started))

    def _done(self, path: str, environ, status: int, started: float) -> None:
        try:
            observe_request(family_of(path), environ.get("REQUEST_METHOD", ""), status,
                            time.perf_counter() - started)
            if self.engine is not None:
                sample_pool(self.engine)
        except Exception:  # noqa: BLE001 (metrics never break a response)
            log.exception("metrics: a request could not be counted")


class _Body:
    """The response iterable: the call is recorded once, when its last chunk has been taken
    by the server or when the server closes it (PEP 3333), whichever comes first."""

    def __init__(self, body: Iterable[bytes], done: Callable[[], None]):
        self.body, self._done = body, done
        self._recorded = False

    def __iter__(self):
        yield from self.body
        self.done()

    def done(self) -> None:
        if not self._recorded:
            self._recorded = True
            self._done()

    def close(self) -> None:
        try:
            close = getattr(self.body, "close", None)
            if close is not None:
                close()
        finally:
            self.done()


# --- scrape-time collectors ------------------------------------------------------------------
class Cached:
    """A collector whose readings are kept `ttl` seconds (one read per ttl, not per scrape)."""

    def __init__(self, read: Callable[[], list], ttl: float):
        self.read, self.ttl = read, ttl
        self._lock = threading.Lock()
        self._at: float | None = None
        self._families: list = []

    def collect(self):
        with self._lock:
            now = time.monotonic()
            if self._at is None or now - self._at >= self.ttl:
                self._families = self.read()
                self._at = now
            families = self._families
        return iter(families)


def read_database(db) -> list:
    """Consents by type and status, payments (PIS orders and VRP payments) by type and status."""
    from prometheus_client.core import GaugeMetricFamily
    from sqlalchemy import func, select

    from consent.models import Consent

    from .ledger.models import Payment
    from .pis.models import PaymentOrder
    from .vrp.models import DomesticVrp
    consents = GaugeMetricFamily("aspsp_consents", "Consents by type and status.",
                                 labels=("type", "status"))
    payments = GaugeMetricFamily("aspsp_payments", "Payments by type and status (PIS orders, "
                                 "VRP payments).", labels=("type", "status"))
    up = GaugeMetricFamily("aspsp_metrics_database_up", "1 when the database figures of this "
                           "scrape could be read.")
    try:
        with db.uow() as uow:
            s = uow.session
            for kind, status, count in s.execute(
                    select(Consent.consent_type, Consent.status, func.count())
                    .group_by(Consent.consent_type, Consent.status)):
                consents.add_metric((kind, status), count)
            # An executed order's status is its ledger payment's (as the API answers it).
            status = func.coalesce(Payment.status, PaymentOrder.status)
            for kind, status, count in s.execute(
                    select(PaymentOrder.order_type, status, func.count())
                    .select_from(PaymentOrder).outerjoin(Payment, Payment.id == PaymentOrder.ledger_payment_pk)
                    .group_by(PaymentOrder.order_type, status)):
                payments.add_metric((kind, status), count)
            status = func.coalesce(Payment.status, DomesticVrp.status)
            for status, count in s.execute(
                    select(status, func.count()).select_from(DomesticVrp)
                    .outerjoin(Payment, Payment.id == DomesticVrp.ledger_payment_pk)
                    .group_by(status)):
                payments.add_metric(("domestic-vrp", status), count)
    except Exception:  # noqa: BLE001 (a scrape reports the database down, it does not fail)
        log.exception("metrics: the database figures could not be read")
        up.add_metric((), 0)
        return [up]
    up.add_metric((), 1)
    return [consents, payments, up]


def read_queues(broker_url: str, queues: tuple[str, ...]) -> Callable[[], list]:
    """LLEN of each broker queue and the size of the unacknowledged set (Redis broker)."""
    import redis

    client = redis.Redis.from_url(broker_url, socket_timeout=2, socket_connect_timeout=2)

    def read() -> list:
        from prometheus_client.core import GaugeMetricFamily
        length = GaugeMetricFamily("aspsp_celery_queue_length", "Tasks waiting in a Celery "
                                   "broker queue (Redis LLEN).", labels=("queue",))
        unacked = GaugeMetricFamily("aspsp_celery_unacked", "Tasks a worker has taken and not "
                                    "acknowledged yet, and tasks waiting for their countdown.")
        up = GaugeMetricFamily("aspsp_metrics_broker_up", "1 when the broker figures of this "
                               "scrape could be read.")
        try:
            with client.pipeline(transaction=False) as pipe:
                for queue in queues:
                    pipe.llen(queue)
                pipe.hlen("unacked")
                *lengths, taken = pipe.execute()
        except Exception:  # noqa: BLE001
            log.warning("metrics: the broker's queues could not be read")
            up.add_metric((), 0)
            return [up]
        for queue, n in zip(queues, lengths):
            length.add_metric((queue,), n)
        unacked.add_metric((), taken)
        up.add_metric((), 1)
        return [length, unacked, up]
    return read


class _Scrape:
    """What one scrape reads: the processes' metrics, then the scrape-time collectors."""

    def __init__(self, collectors: list):
        self.collectors = collectors

    def collect(self):
        for collector in self.collectors:
            yield from collector.collect()


def render(app: Flask) -> tuple[bytes, str]:
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.multiprocess import MultiProcessCollector
    state = app.extensions[EXTENSION]
    sample_pool(app.extensions["aspsp"].db.engine)
    directory = multiprocess_dir()
    if directory:
        processes = CollectorRegistry(auto_describe=False)
        MultiProcessCollector(processes, path=directory)
    else:
        processes = instruments().registry
    return (generate_latest(_Scrape([processes, *state["collectors"]])),  # type: ignore[arg-type]
            CONTENT_TYPE_LATEST)


# --- who may read it -------------------------------------------------------------------------
def allowed(config: dict[str, Any], authorization: str, remote_addr: str | None) -> bool:
    """METRICS_TOKEN set: its bearer token, from anywhere. Unset: a loopback peer only."""
    token = config.get("METRICS_TOKEN") or ""
    if token:
        scheme, _, presented = authorization.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), token.encode())
    try:
        return remote_addr is not None and ipaddress.ip_address(remote_addr).is_loopback
    except ValueError:
        return False


def metrics_view():
    if not allowed(current_app.config, request.headers.get("Authorization", ""),
                   request.remote_addr):
        return Response("Not Found\n", status=404, mimetype="text/plain")
    body, content_type = render(current_app._get_current_object())  # type: ignore[attr-defined]
    response = Response(body, mimetype=None, content_type=content_type)
    response.headers["Cache-Control"] = "no-store"
    return response


def init_app(app: Flask) -> None:
    instruments()
    config = app.config
    ttl = float(config["METRICS_CACHE_SECONDS"])
    db = app.extensions["aspsp"].db
    collectors: list = [Cached(lambda: read_database(db), ttl)]
    broker = config["CELERY_BROKER_URL"] or ""
    if broker.startswith(("redis://", "rediss://")):
        celery = app.extensions.get("celery")
        queue = (celery.conf.task_default_queue if celery is not None else None) or "celery"
        collectors.append(Cached(read_queues(broker, (queue,)), ttl))
    app.extensions[EXTENSION] = {"collectors": collectors}
    app.add_url_rule(PATH, "metrics", metrics_view, methods=["GET"])
    app.wsgi_app = RequestMetrics(app.wsgi_app, db.engine)  # type: ignore[method-assign]


__all__ = ["FAMILIES", "allowed", "family_of", "init_app", "observe_request",
           "observe_webhook", "render", "webhook_outcome"]
