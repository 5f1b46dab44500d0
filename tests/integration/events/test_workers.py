"""Delivery through real Celery workers: separate `celery -A wsgi:celery worker` processes on a
Redis broker, against a PostgreSQL database of this module's own, pushing to a real receiver
on 127.0.0.1. Every event arrives exactly once (receivers deduplicate by jti; here no event
is even pushed twice), with one worker and with two (the lease keeps two workers off one
event); a receiver that is down, then up, gets every event once its retry comes; a worker
killed (SIGKILL) mid-push loses nothing: once its lease runs out the sweep (the beat's
events.deliver_due, sent by the test as the beat would) hands the events to a live worker.

The workers are expensive to start (each imports the platform), so one pool serves the whole
module, resized per test. The broker is a Redis db of its own (TEST_EVENTS_BROKER_URL, by
default db 9 of TEST_REDIS_URL's server), flushed at the start; a file lock keeps two pytest
processes (xdist workers, or two checkouts on one machine) from sharing it at once.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis
from sqlalchemy import func, select

from aspsp import events
from aspsp.clock import Clock
from aspsp.db import Database
from aspsp.events.domain import EventStatus
from aspsp.events.models import DeliveryAttempt, EventNotification
from bank import create_app
from tests.conftest import (REDIS_URL, TEST_ISSUER, UNLIMITED_RATES, create_pg_database,
                            drop_pg_database, service_missing)
from tests.integration.events.test_delivery import verified_claims

ROOT = Path(__file__).resolve().parents[3]
HANG_GUARD = 120          # seconds; only so that a broken test cannot hang the suite
RU = "urn:uk:org:openbanking:events:resource-update"
TIMEOUT = 2               # EVENT_DELIVERY_TIMEOUT_SECONDS: a lease of 2 * (2 + 5) = 14 s
WORKER_SETTINGS = {"EVENT_DELIVERY_TIMEOUT_SECONDS": str(TIMEOUT),
                   "EVENT_RETRY_FIRST_DELAY_SECONDS": "1",      # retries come within seconds
                   "EVENT_RETRY_WINDOW_SECONDS": "600",
                   "CELERY_VISIBILITY_TIMEOUT": "5"}


def _broker_url() -> str:
    given = os.environ.get("TEST_EVENTS_BROKER_URL")
    if given:
        return given
    parts = urlsplit(REDIS_URL)
    return urlunsplit(parts._replace(path="/9"))


class Pool:
    """`celery -A wsgi:celery worker` processes (solo pool, one task at a time each)."""

    def __init__(self, env: dict, logs: Path):
        self.env, self.logs, self.workers = env, logs, []
        self.settings: dict = {}

    def resize(self, n: int, **settings: str) -> None:
        """n workers, with WORKER_SETTINGS changed by `settings` (workers started with other
        settings are stopped first)."""
        if settings != self.settings:
            for worker in list(self.workers):
                self.stop(worker)
            self.settings = settings
        self.workers = [w for w in self.workers if w.poll() is None]
        while len(self.workers) > n:
            self.stop(self.workers[-1])
        started = [self._start() for _ in range(n - len(self.workers))]
        for worker in started:
            self._wait_ready(worker)
        self.workers += started

    def kill(self, worker: subprocess.Popen) -> None:
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        self.workers.remove(worker)

    def stop(self, worker: subprocess.Popen) -> None:
        worker.terminate()
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        if worker in self.workers:
            self.workers.remove(worker)

    def alive(self) -> None:
        for worker in self.workers:
            assert worker.poll() is None, f"a worker exited: see {worker.log_path}"

    def _start(self) -> subprocess.Popen:
        name = f"events-{uuid.uuid4().hex[:6]}"
        log_path = self.logs / f"{name}.log"
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "wsgi:celery", "worker", "--pool=solo",
             "--concurrency=1", "--without-heartbeat", "--without-gossip", "--without-mingle",
             "-n", f"{name}@%h", "--loglevel=INFO"],
            cwd=ROOT, env={**self.env, **self.settings}, stdout=open(log_path, "w"),
            stderr=subprocess.STDOUT)
        worker.log_path = log_path
        return worker

    def _wait_ready(self, worker: subprocess.Popen) -> None:
        deadline = time.monotonic() + HANG_GUARD
        while " ready." not in worker.log_path.read_text():
            assert worker.poll() is None, worker.log_path.read_text()[-3000:]
            assert time.monotonic() < deadline, "a worker did not start"
            time.sleep(0.1)


@pytest.fixture(scope="module")
def own_database_url():
    try:
        url = create_pg_database("aspsp_events_workers")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    yield url
    drop_pg_database(url)


@pytest.fixture(scope="module")
def broker():
    url = _broker_url()
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2)
        client.ping()
    except Exception as error:
        service_missing(f"Redis at {url}", error)
    lock_path = Path(tempfile.gettempdir()) / \
        f"aspsp-events-workers-{urlsplit(url).port}{urlsplit(url).path.replace('/', '-')}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)      # one user of this broker db at a time
        client.flushdb()
        yield url
        client.flushdb()


@pytest.fixture(scope="module")
def pool(own_database_url, broker, tmp_path_factory):
    folder = tmp_path_factory.mktemp("event-workers")
    env = {**os.environ, "DATABASE_URL": own_database_url, "CELERY_BROKER_URL": broker,
           "ISSUER": TEST_ISSUER, "INSTANCE_PATH": str(folder / "instance"),
           "CELERY_ALWAYS_EAGER": "false", "SECRET_KEY": "test-secret", "REDIS_URL": "",
           **WORKER_SETTINGS}
    workers = Pool(env, folder)
    yield workers
    workers.resize(0)


@pytest.fixture
def clock() -> Clock:
    return Clock()          # the workers' clock: real time


@pytest.fixture
def app(own_database_url, broker, clock, tmp_path):
    return create_app({"DATABASE_URL": own_database_url, "DATABASE": Database(own_database_url),
                       "CLOCK": clock, "CELERY_ALWAYS_EAGER": False,
                       "CELERY_BROKER_URL": broker, "INSTANCE_PATH": str(tmp_path),
                       "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                       **UNLIMITED_RATES,
                       "REDIS_URL": None,
                       **{k: int(v) for k, v in WORKER_SETTINGS.items()}})


# --- helpers -----------------------------------------------------------------------------------
def publish(app, platform, tpp, n: int) -> list[str]:
    """n state changes, each committed on its own: each raises one event."""
    jtis = []
    with app.app_context():
        for i in range(n):
            with platform.uow() as uow:
                jtis.append(events.publish(
                    uow, client_pk=tpp.client.row.id, event_type=RU, rty="domestic-payment",
                    rid=f"pay-{i}", path=f"/pisp/domestic-payments/pay-{i}",
                    now=platform.clock.now()))
                uow.commit()
    return jtis


def jti_of(body: bytes) -> str:
    payload = body.split(b".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + b"=" * (-len(payload) % 4)))["jti"]


def accepted(receiver) -> Counter:
    """How many times the receiver answered 202 to each jti."""
    return Counter(jti_of(body) for body, status in list(receiver.answered) if status == 202)


def wait_until_delivered(app, receiver, jtis, pool, *, sweep: bool = False) -> None:
    """Until every jti got its 202; with `sweep`, sending events.deliver_due every second as
    the beat does (every 15 s in production)."""
    wait_for(app, pool, lambda: set(jtis) <= set(accepted(receiver)),
             lambda: f"{len(set(jtis) - set(accepted(receiver)))} of {len(jtis)} events "
                     "never arrived", sweep=sweep)


def wait_for(app, pool, condition, failure, *, sweep: bool = False) -> None:
    deadline, last_sweep = time.monotonic() + HANG_GUARD, 0.0
    while not condition():
        pool.alive()
        assert time.monotonic() < deadline, failure()
        if sweep and time.monotonic() - last_sweep > 1:
            app.extensions["celery"].send_task("events.deliver_due")
            last_sweep = time.monotonic()
        time.sleep(0.1)


def stored(platform, client_pk: int) -> tuple[Counter, Counter]:
    """(events by status, attempts by HTTP status) of the client."""
    with platform.uow() as uow:
        e = EventNotification
        statuses = Counter(dict(uow.session.execute(
            select(e.status, func.count()).where(e.client_pk == client_pk)
            .group_by(e.status)).all()))
        tried = Counter(dict(uow.session.execute(
            select(DeliveryAttempt.http_status, func.count())
            .join(e, e.id == DeliveryAttempt.event_pk).where(e.client_pk == client_pk)
            .group_by(DeliveryAttempt.http_status)).all()))
    return statuses, tried


# --- the tests ---------------------------------------------------------------------------------
@pytest.mark.parametrize("workers, n", [(1, 150), (2, 300)])
def test_every_event_arrives_exactly_once(app, platform, pool, tpp, receiver, workers, n):
    pool.resize(workers)
    tpp.subscribe(receiver.url)
    jtis = publish(app, platform, tpp, n)
    assert len(set(jtis)) == n
    wait_until_delivered(app, receiver, jtis, pool)
    time.sleep(1)                       # anything sent twice would arrive by now
    assert accepted(receiver) == Counter({jti: 1 for jti in jtis})   # once each, no more
    assert len(receiver.received) == n  # never pushed twice: the lease keeps workers apart
    statuses, tried = stored(platform, tpp.client.row.id)
    assert statuses == Counter({EventStatus.DELIVERED.value: n})
    assert tried == Counter({202: n})
    sample = verified_claims(tpp.http, receiver.tokens()[0])
    assert sample["aud"] == tpp.client_id and sample["jti"] in set(jtis)


def test_a_receiver_down_then_up_gets_every_event_once_its_retry_comes(
        app, platform, pool, tpp, make_receiver):
    pool.resize(2)
    probe = make_receiver()
    port = probe.server.server_address[1]
    tpp.subscribe(probe.url)
    probe.server.shutdown()
    probe.server.server_close()          # down: connections to its port are refused
    jtis = publish(app, platform, tpp, 20)
    deadline = time.monotonic() + HANG_GUARD
    while stored(platform, tpp.client.row.id)[1][None] < 3:     # failed attempts recorded
        pool.alive()
        assert time.monotonic() < deadline, "no push was attempted while the receiver was down"
        time.sleep(0.2)
    receiver = make_receiver(port)       # up again, same callback URL
    wait_until_delivered(app, receiver, jtis, pool, sweep=True)
    time.sleep(1)
    assert accepted(receiver) == Counter({jti: 1 for jti in jtis})
    statuses, tried = stored(platform, tpp.client.row.id)
    assert statuses == Counter({EventStatus.DELIVERED.value: 20})
    assert tried[202] == 20 and tried[None] >= 3       # the refused pushes, each recorded
    with platform.uow() as uow:
        errors = uow.session.scalars(select(DeliveryAttempt.error).where(
            DeliveryAttempt.http_status.is_(None))).all()
    assert errors and all(e.startswith("ConnectionFailed") for e in errors)


def test_a_worker_killed_mid_push_loses_nothing(app, platform, pool, tpp, receiver):
    pool.resize(1)
    tpp.subscribe(receiver.url)
    receiver.hold = True                 # the first push hangs until released
    jtis = publish(app, platform, tpp, 10)
    assert receiver.arrived.wait(HANG_GUARD), "no push arrived"
    [victim] = pool.workers
    pool.kill(victim)                    # SIGKILL mid-push: nothing recorded, leases held
    receiver.hold = False
    receiver.release.set()               # the hung request ends; its 202 reaches no one
    statuses, tried = stored(platform, tpp.client.row.id)
    assert statuses == Counter({EventStatus.PENDING.value: 10}) and tried == Counter()
    pool.resize(1)                       # a live worker; the sweep hands it the events once
    client_pk = tpp.client.row.id        # their leases run out (the bank never saw a 202)
    wait_for(app, pool, lambda: stored(platform, client_pk)[0]
             == Counter({EventStatus.DELIVERED.value: 10}),
             lambda: f"still {stored(platform, client_pk)[0]}", sweep=True)
    time.sleep(1)
    counts = accepted(receiver)
    assert set(counts) == set(jtis)
    # the push the dead worker was making may have been answered 202 too (a receiver
    # deduplicates by jti); every other event was accepted once
    held = jti_of(receiver.received[0].body)
    assert counts[held] in (1, 2)
    assert all(counts[jti] == 1 for jti in jtis if jti != held)
    statuses, tried = stored(platform, tpp.client.row.id)
    assert statuses == Counter({EventStatus.DELIVERED.value: 10})
    assert tried == Counter({202: 10})


# --- fairness: a slow receiver never holds the workers other receivers need --------------------
def test_a_receiver_that_hangs_holds_one_worker_and_another_tpps_events_pass_it(
        app, platform, pool, make_events_tpp, make_receiver):
    """Two workers; one TPP's receiver hangs on every push, the other's answers at once. The
    bank's push timeout is a minute here, so the hung push is still in flight throughout: the
    fast TPP's events all arrive while it is, through the other worker (the slow TPP's
    second task is deferred, not pushed: a receiver not known to answer promptly gets one
    push at a time)."""
    pool.resize(2, EVENT_DELIVERY_TIMEOUT_SECONDS="60")
    slow_tpp, fast_tpp = make_events_tpp(name="Hangs"), make_events_tpp(name="Answers")
    slow, fast = make_receiver(), make_receiver()
    slow.hold = True
    slow_tpp.subscribe(slow.url)
    fast_tpp.subscribe(fast.url)
    slow_jtis = publish(app, platform, slow_tpp, 3)
    assert slow.arrived.wait(HANG_GUARD), "no push reached the slow receiver"
    slow_jtis += publish(app, platform, slow_tpp, 3)   # a second task of the slow TPP: the
    fast_jtis = publish(app, platform, fast_tpp, 20)  # other worker takes it before these
    wait_until_delivered(app, fast, fast_jtis, pool)

    assert len(slow.received) == 1 and slow.answered == []   # still hung, and alone
    assert stored(platform, slow_tpp.client.row.id)[1] == Counter()  # no push of it ended
    assert accepted(fast) == Counter({jti: 1 for jti in fast_jtis})

    slow.hold = False
    slow.release.set()                   # the hung push is answered; the rest follow
    wait_until_delivered(app, slow, slow_jtis, pool)
    time.sleep(1)
    assert accepted(slow) == Counter({jti: 1 for jti in slow_jtis})
    statuses, tried = stored(platform, slow_tpp.client.row.id)
    assert statuses == Counter({EventStatus.DELIVERED.value: 6}) and tried == Counter({202: 6})


def test_a_slow_answer_ends_its_batch_and_the_rest_waits_behind_other_tpps(
        app, platform, pool, make_events_tpp, make_receiver):
    """One worker; one TPP's receiver answers 202 but slowly (later than SLOW_PUSH_SECONDS),
    the other's at once. Both TPPs' events are committed before the worker starts, the slow
    TPP's first. The worker pushes one slow event, then the rest of that batch goes back to
    the queue behind the fast TPP's task: every fast event is answered before the slow
    receiver gets its second push."""
    from aspsp.events.tasks import SLOW_PUSH_SECONDS
    pool.resize(0)
    log: list = []
    slow = make_receiver(name="slow", log=log, delay=SLOW_PUSH_SECONDS + 0.5)
    fast = make_receiver(name="fast", log=log)
    slow_tpp, fast_tpp = make_events_tpp(name="Slow"), make_events_tpp(name="Fast")
    slow_tpp.subscribe(slow.url)
    fast_tpp.subscribe(fast.url)
    slow_jtis = publish(app, platform, slow_tpp, 3)
    fast_jtis = publish(app, platform, fast_tpp, 10)
    pool.resize(1)
    wait_until_delivered(app, fast, fast_jtis, pool)
    wait_until_delivered(app, slow, slow_jtis, pool)

    order = [(name, what) for name, what, _ in log]
    second_slow_push = [i for i, e in enumerate(order) if e == ("slow", "arrived")][1]
    fast_answers = [i for i, e in enumerate(order) if e == ("fast", "answered")]
    assert len(fast_answers) == 10 and max(fast_answers) < second_slow_push, order
    assert accepted(slow) == Counter({jti: 1 for jti in slow_jtis})
    assert accepted(fast) == Counter({jti: 1 for jti in fast_jtis})
