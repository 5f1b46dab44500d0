"""Fault tests on the production topology (deploy/prod_local.py, issue 14): the platform
behind nginx, on a PostgreSQL and a Redis of this module's own (PrivatePostgres, PrivateRedis),
so that a restart or a kill here is real and touches no other test's server.

1. A Celery worker killed (SIGKILL to its process group) in the middle of settlements: the
   tasks come back from the broker (CELERY_VISIBILITY_TIMEOUT, short here), every payment is
   completed once, the simulated scheme received each once, no settlement posted twice, the
   ledger reconciles.
2. PostgreSQL, then Redis, restarted under a load of AIS reads and PIS payments through nginx:
   while it is down every request gets an answer within a bound (a 5xx with the OB error
   body, never a hang, never a half-written payment); afterwards, with no manual step, the
   same processes answer again, every payment submitted before or during the outage (the
   failed ones retried by the TPP with the same idempotency key) is completed exactly once,
   the ledger reconciles.
3. A TPP's webhook receiver down for over two minutes while events are raised for it: once it is
   back, every event arrives, none twice, by the time the retry schedule set for it (its
   first delay shrunk through EVENT_RETRY_FIRST_DELAY_SECONDS; each retry doubles).

One topology serves tests 1 and 2 (a start costs about a minute); each test leaves it healthy
(every process up, ready through nginx, the ledger reconciled). Test 3 mostly waits, so it has
a topology of its own, and pytest-xdist may run it beside the others. A pytest worker that runs
some of tests 1 and 2 starts their topology itself (nothing is shared between workers, so a
split costs a minute, never correctness); the xdist_group marks say what belongs together for
an xdist whose --dist loadgroup honours them (pytest 9.2 with xdist 3.8 does not: Makefile).
"""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pyotp
import pytest
import requests

from deploy.prod_local import (PrivatePostgres, PrivateRedis, Settings, Topology,
                               TopologyError, nginx_binary, postgres_bin_dir)
from tests.conftest import service_missing
from tests.prod.conftest import Production, running
from tests.prod.load import (AISP, ALICE, PISP, COMPLETED, AisLoad, WebhookReceiver,
                             assert_paid_exactly_once, authorised_payment, ob_error_codes,
                             payment_tpp, submit, submit_until_created, wait_settled)
from tests.prod.mtls_tpp import MtlsTpp, field_values

GROUP = pytest.mark.xdist_group("prod-faults")   # on the test: tests/prod/conftest.py keeps it
EVENTS_GROUP = pytest.mark.xdist_group("prod-faults-events")

VISIBILITY_TIMEOUT = 8          # seconds: a dead worker's task comes back after this
EVENT_FIRST_DELAY = 2           # seconds: the first event retry (then 4, 8, 16, 32, 64 ...)
RECEIVER_DOWN = 125             # seconds the webhook receiver refuses connections: minutes
ANSWER_BOUND = 35               # seconds: no request waits longer than this, outage or not
RECOVERY_BOUND = 60             # seconds after a server is back by which requests succeed


@pytest.fixture(scope="module")
def faulty(tmp_path_factory):
    """The topology on servers of its own; the pause file of settlements (absent: no pause)."""
    yield from faulty_platform(tmp_path_factory, "faults")


@pytest.fixture(scope="module")
def events_platform(tmp_path_factory):
    """Another one for the webhook test, which mostly waits: on a pytest worker of its own it
    runs beside the other fault tests instead of after them."""
    yield from faulty_platform(tmp_path_factory, "faults-events")


def faulty_platform(tmp_path_factory, label: str):
    if not nginx_binary():
        service_missing("nginx (Debian's nginx package; .ci/run installs it)",
                        FileNotFoundError("no nginx on PATH or in /usr/sbin"))
    try:
        postgres_bin_dir()
    except TopologyError as error:
        service_missing("PostgreSQL server binaries", error)
    base = tmp_path_factory.mktemp(label)
    pg = PrivatePostgres()
    redis = PrivateRedis(base / "redis")
    pause = base / "settlement-pause"
    try:
        pg.start()
        redis.start()
    except (OSError, TopologyError) as error:
        pg.cleanup()
        redis.stop()
        service_missing("a private PostgreSQL and redis-server", error)
    topology = Topology(Settings(
        run_dir=base / "run", database_url=pg.database_url("aspsp_" + label.replace("-", "_")),
        redis_url=redis.url(0), https_port=0, http_port=0, health_port=0, web_port=0,
        web_workers=2, web_threads=4, worker_concurrency=2,
        seed_args=("--customers", "0", "--business", "0", "--months", "1"),
        env={"CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_TIMEOUT),
             "SANDBOX_SETTLEMENT_PAUSE_FILE": str(pause),
             "EVENT_RETRY_FIRST_DELAY_SECONDS": str(EVENT_FIRST_DELAY),
             "EVENT_RETRY_WINDOW_SECONDS": "900",
             "EVENT_DELIVERY_TIMEOUT_SECONDS": "5",
             # Alice approves a consent a second from 127.0.0.1 here: not what the login
             # limits (2 password posts a second overall) are about.
             "LOGIN_RATE_LIMIT_PER_ADDRESS": "600 per minute",
             "LOGIN_RATE_LIMIT_GLOBAL": "50 per second"}))
    try:
        with running(topology, base) as production:
            yield Faulty(production, pg, redis, pause, base)
    finally:
        redis.stop()
        pg.cleanup()


class Faulty:
    def __init__(self, production: Production, pg: PrivatePostgres, redis: PrivateRedis,
                 pause: Path, base: Path):
        self.production, self.pg, self.redis, self.pause, self.base = \
            production, pg, redis, pause, base
        self.topology = production.topology
        self._payer: MtlsTpp | None = None
        self._cc: str | None = None

    @property
    def database_url(self) -> str:
        return self.topology.settings.database_url

    def payer(self) -> tuple[MtlsTpp, str]:
        """One PISP of the module and a client-credentials token of it."""
        if self._payer is None:
            self._payer = payment_tpp(self.production, "Fault Pay")
        self._cc = self._payer.client_credentials("payments")["access_token"]
        return self._payer, self._cc

    def assert_healthy(self) -> None:
        """Every process running, /health/ready green through nginx, the ledger reconciled."""
        assert {n: s.running for n, s in self.topology.services.items()} == {
            "web": True, "nginx": True, "worker": True, "beat": True}
        ready = requests.get(self.topology.issuer + "/health/ready",
                             verify=str(self.topology.server_ca), timeout=30)
        assert ready.status_code == 200, ready.text
        reconcile = self.topology.flask("ledger", "reconcile", check=False)
        assert reconcile.returncode == 0, reconcile.stdout + reconcile.stderr
        assert "ledger reconciled: no problems" in reconcile.stdout, reconcile.stdout

    def task_logs(self, lines: int = 60) -> str:
        """What the worker and beat did lately, and whether they still run: the message of an
        assertion on payments that did not settle."""
        return "\n".join(
            f"--- {name} (running: {service.running}), {service.log_path}:\n"
            f"{service.log_tail(lines)}"
            for name, service in self.topology.services.items() if name in ("worker", "beat"))


def scheme_submissions(database_url: str) -> int:
    import psycopg2
    from sqlalchemy.engine import make_url
    url = make_url(database_url)
    with psycopg2.connect(host=url.host, port=url.port, user=url.username,
                          dbname=url.database, connect_timeout=5) as connection:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM simulated_scheme_submissions")
            return cursor.fetchone()[0]


def wait_for(condition, what: str, within: float, poll: float = 0.2) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting {within:.0f} s for {what}"
        time.sleep(poll)


# --- 1. kill -9 a worker mid-settlement ----------------------------------------------------------
@GROUP
def test_a_worker_killed_mid_settlement_completes_every_payment_once(faulty):
    tpp, cc = faulty.payer()
    payments = [authorised_payment(tpp, cc, f"{3 + i}.25", f"KILL-{i}-{uuid.uuid4().hex[:6]}")
                for i in range(4)]
    before = scheme_submissions(faulty.database_url)
    worker = faulty.topology.services["worker"]
    faulty.pause.write_text("hold")
    try:
        for payment in payments:
            response = submit(tpp, payment)
            assert response is not None and response.status_code == 201, payment.answers
        # Both pool processes hold a settlement the scheme has accepted, not yet booked.
        wait_for(lambda: scheme_submissions(faulty.database_url) - before >= 2,
                 "two settlements to reach the pause", 90)
        assert Path(f"{faulty.pause}.reached").exists()
        faulty.topology.kill("worker")             # SIGKILL to the worker and its pool
        assert not worker.running
    finally:
        faulty.pause.unlink(missing_ok=True)
    held = wait_settled(tpp, cc, [p.payment_id for p in payments], within=0)
    assert list(held.values()).count(COMPLETED) <= len(payments) - 2, held   # two held mid-way

    faulty.topology.start_service("worker")        # no other step: the broker hands them back
    statuses = wait_settled(tpp, cc, [p.payment_id for p in payments],
                            within=VISIBILITY_TIMEOUT + 90)
    assert set(statuses.values()) == {COMPLETED}, statuses
    assert scheme_submissions(faulty.database_url) - before == len(payments)
    assert_paid_exactly_once(faulty.database_url, payments)
    for payment in payments:
        details = tpp.call("GET", f"{PISP}/domestic-payments/{payment.payment_id}"
                           "/payment-details", cc)
        assert details.status_code == 200, details.text
        history = [s["Status"] for s in details.json()["Data"]["PaymentStatus"]]
        assert history.count(COMPLETED) == 1, history
    faulty.assert_healthy()


# --- 2. PostgreSQL and Redis restarted under load -------------------------------------------------
def account_reader(faulty) -> tuple[MtlsTpp, str, str]:
    """An AISP with Alice's account-access consent authorised: (tpp, access token, account)."""
    if getattr(faulty, "_reader", None) is None:
        tpp = MtlsTpp(faulty.production, "Fault Lens", ("AISP",), "https://fault-lens.example/cb")
        tpp.enrol().register("accounts")
        cc = tpp.client_credentials("accounts")["access_token"]
        created = tpp.call("POST", f"{AISP}/account-access-consents", cc, body={"Data": {
            "Permissions": ["ReadAccountsDetail", "ReadBalances"]}, "Risk": {}})
        assert created.status_code == 201, created.text
        chosen: list[str] = []

        def first_account(page: str) -> dict:
            chosen.extend(field_values(page, "account")[:1])
            return {"account": chosen}
        tokens = tpp.authorise(created.json()["Data"]["ConsentId"], "accounts", ALICE,
                               sca_code=lambda: pyotp.TOTP(ALICE.totp_secret).now(),
                               decide=first_account)
        faulty._reader = (tpp, tokens["access_token"], chosen[0])
    return faulty._reader


def outage_under_load(faulty, take_down, bring_back, *, down_for: float, label: str,
                      pounds: int) -> dict:
    """AIS readers and payments through nginx while a server is down for `down_for` seconds:
    two payments submitted before, two during, two after it is back. Checks every answer,
    retries the failed submissions as a TPP would, and that every payment completes once."""
    tpp, cc = faulty.payer()
    reader, access, account_id = account_reader(faulty)
    # Amounts of this test's own (`pounds`): a dynamic-linking code signs the amount and payee
    # for a 30-second step and is single-use, so another test's payment of the same amount to
    # the same payee in the same step would have used this one's code.
    payments = [authorised_payment(tpp, cc, f"{pounds}.{10 + i}",
                                   f"{label}-{i}-{uuid.uuid4().hex[:6]}") for i in range(6)]
    before, during, after = payments[:2], payments[2:4], payments[4:]
    with AisLoad(reader, access, account_id, threads=2, timeout=ANSWER_BOUND + 20) as load:
        time.sleep(1)
        for payment in before:
            response = submit(tpp, payment, timeout=ANSWER_BOUND + 20)
            assert response is not None and response.status_code == 201, payment.answers
        down_at = time.monotonic()
        take_down()
        time.sleep(1)
        for payment in during:
            submit(tpp, payment, timeout=ANSWER_BOUND + 20)
        time.sleep(max(0.0, down_for - (time.monotonic() - down_at)))
        bring_back()
        back_at = time.monotonic()

        def reads_succeed_again() -> bool:
            return any(a.at > back_at and a.status == 200 for a in list(load.answers))
        wait_for(reads_succeed_again, f"AIS reads to succeed after {label} came back",
                 RECOVERY_BOUND, poll=0.5)
        recovered_in = time.monotonic() - back_at
        for payment in after:
            submit_until_created(tpp, payment, within=RECOVERY_BOUND)
        time.sleep(1)
    answers = list(load.answers)

    # While it was down: answers, each within the bound; a failure is a 5xx with the OB error
    # body (not nginx's page, not a hang).
    outage = [a for a in answers if down_at <= a.at <= back_at]
    assert outage, "no AIS read was sent during the outage"
    for answer in answers:
        assert answer.status is not None, answer
        assert answer.seconds <= ANSWER_BOUND, answer
        if answer.status != 200:
            assert answer.status >= 500, answer
            assert any(code.startswith("UK.OBIE.") for code in ob_error_codes(answer.body)), answer
    for payment in during:
        for status, body, seconds in payment.answers:
            assert status is not None and seconds <= ANSWER_BOUND, payment.answers
            assert status == 201 or (status >= 500 and ob_error_codes(body)), payment.answers
    # A TPP retries what failed, with the same idempotency key: one payment each.
    for payment in during:
        if payment.payment_id is None:
            submit_until_created(tpp, payment, within=RECOVERY_BOUND)
        else:                       # a retry of an answered one gives the same payment
            first = payment.payment_id
            again = submit(tpp, payment)
            assert again is not None and again.status_code == 201, payment.answers
            assert payment.payment_id == first
    # A payment whose task the outage lost waits for a sweep (beat, every minute, for work
    # over a minute old): about two minutes, more on a loaded machine. Five is the bound.
    statuses = wait_settled(tpp, cc, [p.payment_id for p in payments], within=300)
    assert set(statuses.values()) == {COMPLETED}, (statuses, faulty.task_logs())
    assert_paid_exactly_once(faulty.database_url, payments)
    faulty.assert_healthy()
    return {"outage_answers": [(a.status, round(a.seconds, 2)) for a in outage],
            "during": [p.answers for p in during], "recovered_in": recovered_in}


@GROUP
def test_postgresql_restarted_under_load(faulty):
    seen = outage_under_load(faulty, lambda: faulty.pg.stop("fast"), faulty.pg.start,
                             down_for=8, label="PG", pounds=1)
    # It was an outage: the database's absence was seen by the readers.
    assert any(status != 200 for status, _ in seen["outage_answers"]), seen


@GROUP
def test_redis_restarted_under_load(faulty):
    outage_under_load(faulty, faulty.redis.stop, faulty.redis.start, down_for=8, label="REDIS",
                      pounds=7)


# --- 3. a webhook receiver down for minutes ------------------------------------------------------
EVENT_SUBSCRIPTIONS = "/open-banking/v3.1/event-subscriptions"
RESOURCE_UPDATE = "urn:uk:org:openbanking:events:resource-update"


def events_of(database_url: str, client_id: str) -> list[dict]:
    """The client's events as the bank keeps them, with their failed pushes."""
    import psycopg2
    from sqlalchemy.engine import make_url
    url = make_url(database_url)
    with psycopg2.connect(host=url.host, port=url.port, user=url.username,
                          dbname=url.database, connect_timeout=5) as connection:
        with connection.cursor() as cursor:
            cursor.execute("""
                SELECT e.jti, e.status, e.attempts, e.created_at, e.next_attempt_at,
                       e.settled_at,
                       (SELECT count(*) FROM event_delivery_attempts a
                         WHERE a.event_pk = e.id AND a.http_status IS NULL)
                  FROM event_notifications e JOIN oauth_clients c ON c.id = e.client_pk
                 WHERE c.client_id = %s ORDER BY e.id""", (client_id,))
            return [dict(zip(("jti", "status", "attempts", "created_at", "next_attempt_at",
                              "settled_at", "refused_pushes"), row))
                    for row in cursor.fetchall()]


@EVENTS_GROUP
def test_a_webhook_receiver_down_for_minutes_gets_every_event_once(events_platform,
                                                                          tmp_path):
    faulty = events_platform
    receiver = WebhookReceiver(tmp_path)
    receiver.start()
    try:
        tpp, cc = faulty.payer()
        subscribed = tpp.call("POST", EVENT_SUBSCRIPTIONS, cc, sign=True, body={"Data": {
            "CallbackUrl": receiver.callback_url, "Version": "3.1",
            "EventTypes": [RESOURCE_UPDATE]}})
        assert subscribed.status_code == 201, subscribed.text
        payments = [authorised_payment(tpp, cc, f"2.{10 + i}", f"HOOK-{i}-{uuid.uuid4().hex[:6]}")
                    for i in range(4)]

        # While it is up, a payment's events arrive: the receiver and the subscription work.
        submit_until_created(tpp, payments[0])
        assert wait_settled(tpp, cc, [payments[0].payment_id], within=60) == {
            payments[0].payment_id: COMPLETED}
        wait_for(lambda: len(receiver.received()) >= 1 and {
            e["status"] for e in events_of(faulty.database_url, tpp.client_id)} == {"Delivered"},
            "the first payment's events to arrive", 60, poll=0.5)
        delivered_before = set(receiver.received())

        receiver.stop()
        down_at = time.monotonic()
        assert not receiver.listening()
        # Events raised while it refuses connections: three payments settled over the minute.
        for i, payment in enumerate(payments[1:]):
            time.sleep(max(0.0, down_at + 20 * i - time.monotonic()))
            submit_until_created(tpp, payment)
        statuses = wait_settled(tpp, cc, [p.payment_id for p in payments], within=60)
        assert set(statuses.values()) == {COMPLETED}, statuses
        time.sleep(max(0.0, down_at + RECEIVER_DOWN - time.monotonic()))
        raised = [e for e in events_of(faulty.database_url, tpp.client_id)
                  if e["jti"] not in delivered_before]
        assert len(raised) >= len(payments) - 1, raised     # one event a payment at least
        # Pushed and refused, again and again, and not given up on.
        assert all(e["status"] == "Pending" and e["refused_pushes"] >= 2 for e in raised), raised
        assert not set(receiver.received()) - delivered_before
        # The retry schedule's promise: each event is tried again at its next_attempt_at.
        promised = max(e["next_attempt_at"] for e in raised)
        promised = promised if promised.tzinfo else promised.replace(tzinfo=timezone.utc)

        receiver.start()                               # back, on the same port
        slack = 20      # the beat's 15 s sweep of due events, and a push's own time
        deadline = time.monotonic() + max(
            0.0, (promised - datetime.now(timezone.utc)).total_seconds()) + slack
        expected = delivered_before | {e["jti"] for e in raised}

        def all_arrived() -> bool:
            return set(receiver.received()) >= expected
        wait_for(all_arrived, "every event raised while the receiver was down", max(
            1.0, deadline - time.monotonic()), poll=0.5)
        time.sleep(3)                              # room for a duplicate to show up, if any
        received = receiver.received()
        assert len(received) == len(set(received)), "an event was delivered twice"
        assert set(received) == expected
        after = events_of(faulty.database_url, tpp.client_id)
        assert {e["status"] for e in after} == {"Delivered"}, after
    finally:
        receiver.stop()
    faulty.assert_healthy()
