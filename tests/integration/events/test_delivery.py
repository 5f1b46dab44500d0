"""Real-time delivery to a real HTTP receiver on 127.0.0.1: the SET (verified with the bank's
/jwks, its claims as the OBIE profile shows), the outbox written in the caller's transaction,
202 delivering, retries with backoff on 500s and timeouts, dead-letter after the window, every
attempt recorded, a dead worker's event sent again, the SSRF guard, and a slow receiver that
never holds another client's delivery."""
from __future__ import annotations

import json
import threading
from datetime import timedelta

from jwcrypto import jwk, jws

from aspsp import events
from aspsp.events import services, tasks
from aspsp.events.domain import EventStatus

RU = "urn:uk:org:openbanking:events:resource-update"


def raise_event(app, platform, tpp, rid: str = "pay-1", *, commit: bool = True,
                lose_dispatch: bool = False) -> str | None:
    with app.test_request_context(headers={
            "x-fapi-interaction-id": "93bac548-d2de-4546-b106-880a5018460d"}):
        from flask import g
        g.interaction_id = "93bac548-d2de-4546-b106-880a5018460d"
        with platform.uow() as uow:
            jti = events.publish(uow, client_pk=tpp.client.row.id, event_type=RU,
                                 rty="domestic-payment", rid=rid,
                                 path=f"/pisp/domestic-payments/{rid}", now=platform.clock.now())
            if lose_dispatch:          # the process died after the commit, before the send
                uow._after_commit.clear()
            if commit:
                uow.commit()
    return jti


def verified_claims(http, token: str) -> dict:
    keys = jwk.JWKSet.from_json(http.get("/jwks").get_data(as_text=True))
    parsed = jws.JWS()
    parsed.deserialize(token)
    header = parsed.jose_header
    parsed.verify(keys.get_key(header["kid"]), alg=header["alg"])
    assert header["alg"] == "PS256" and header["typ"] == "secevent+jwt"
    return json.loads(parsed.payload)


def sweep(app):
    with app.app_context():
        return tasks.deliver_due()


def test_a_signed_set_arrives_at_the_callback_and_202_delivers_it(
        app, platform, tpp, receiver, outbox, attempts, client):
    tpp.subscribe(receiver.url)
    jti = raise_event(app, platform, tpp)
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert got.path == "/open-banking/v3.1/event-notifications"
    assert got.headers["Content-Type"] == "application/jwt"
    assert got.headers["x-fapi-interaction-id"] == "93bac548-d2de-4546-b106-880a5018460d"
    claims = verified_claims(client, got.body.decode())
    issuer = app.config["ISSUER"].rstrip("/")
    url = f"{issuer}/open-banking/v3.1/pisp/domestic-payments/pay-1"
    now = int(platform.clock.now().timestamp())
    assert claims == {
        "iss": issuer, "iat": now, "jti": jti, "aud": tpp.client_id, "sub": url,
        "txn": "93bac548-d2de-4546-b106-880a5018460d", "toe": now,
        "events": {RU: {"subject": {
            "subject_type": "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty",
            "http://openbanking.org.uk/rid": "pay-1",
            "http://openbanking.org.uk/rty": "domestic-payment",
            "http://openbanking.org.uk/rlk": [{"version": "v3.1", "link": url}]}}}}
    [event] = outbox()
    assert event.status == EventStatus.DELIVERED
    [attempt] = attempts(jti)
    assert attempt.http_status == 202 and attempt.error is None and attempt.latency_ms >= 0


def test_the_event_exists_only_if_the_change_commits(app, platform, tpp, receiver, outbox):
    tpp.subscribe(receiver.url)
    raise_event(app, platform, tpp, commit=False)
    assert outbox() == [] and receiver.received == []


def test_no_event_for_a_client_without_a_subscription_or_not_wanting_the_type(
        app, platform, make_events_tpp, receiver, outbox):
    unsubscribed = make_events_tpp()
    assert raise_event(app, platform, unsubscribed) is None
    revocations_only = make_events_tpp(name="Revocations only")
    revocations_only.subscribe(receiver.url, version="3.1.11", event_types=[
        "urn:uk:org:openbanking:events:consent-authorization-revoked"])
    assert raise_event(app, platform, revocations_only) is None
    assert outbox() == [] and receiver.received == []


def test_an_event_whose_send_was_lost_is_sent_by_the_sweep(app, platform, tpp, receiver):
    tpp.subscribe(receiver.url)
    jti = raise_event(app, platform, tpp, lose_dispatch=True)
    assert receiver.received == []
    assert sweep(app) == 1
    assert [verified_claims(tpp.http, t)["jti"] for t in receiver.tokens()] == [jti]


def test_500s_are_retried_with_growing_backoff_until_a_202(
        app, platform, clock, tpp, receiver, outbox, attempts):
    tpp.subscribe(receiver.url)
    receiver.statuses = [500, 503]
    jti = raise_event(app, platform, tpp)
    [event] = outbox()
    first_delay = event.next_attempt_at - event.created_at
    assert timedelta(seconds=2.5) <= first_delay <= timedelta(seconds=5)
    assert sweep(app) == 0                   # not due yet: nothing is sent early
    clock.advance(first_delay)
    assert sweep(app) == 1
    [event] = outbox()
    second_delay = event.next_attempt_at - clock.now()
    assert timedelta(seconds=5) <= second_delay <= timedelta(seconds=10)
    clock.advance(second_delay)
    sweep(app)
    assert [a.http_status for a in attempts(jti)] == [500, 503, 202]
    assert outbox()[0].status == EventStatus.DELIVERED
    # the receiver saw the same SET three times: one event once deduplicated by jti
    assert {verified_claims(tpp.http, t)["jti"] for t in receiver.tokens()} == {jti}
    clock.advance(timedelta(hours=2))
    sweep(app)
    assert len(receiver.received) == 3       # delivered: never sent again


def test_a_receiver_that_does_not_answer_in_time_is_an_attempt_with_an_error(
        app, platform, tpp, receiver, attempts, outbox):
    platform.config["EVENT_DELIVERY_TIMEOUT_SECONDS"] = 1
    tpp.subscribe(receiver.url)
    receiver.hold = True                      # answers only when released: never, here
    jti = raise_event(app, platform, tpp)
    [attempt] = attempts(jti)
    assert attempt.http_status is None and attempt.error.startswith("DeadlineExceeded")
    assert outbox()[0].status == EventStatus.PENDING and outbox()[0].next_attempt_at


def test_after_the_retry_window_the_event_is_dead_lettered(
        app, platform, clock, tpp, receiver, attempts, outbox):
    tpp.subscribe(receiver.url)
    receiver.default = 500
    jti = raise_event(app, platform, tpp)
    for _ in range(40):
        clock.advance(timedelta(hours=1))
        sweep(app)
        if outbox()[0].status != EventStatus.PENDING:
            break
    event = outbox()[0]
    assert event.status == EventStatus.DEAD_LETTERED and event.next_attempt_at is None
    tried = attempts(jti)
    assert all(a.http_status == 500 for a in tried) and len(tried) == event.attempts > 2
    assert tried[-1].attempted_at - event.created_at <= timedelta(hours=24)
    sent = len(receiver.received)
    clock.advance(timedelta(days=2))
    sweep(app)
    assert len(receiver.received) == sent     # dead: no more pushes (still pollable)


def test_a_worker_that_died_mid_delivery_loses_nothing(
        app, platform, clock, tpp, receiver, outbox, attempts):
    """The worker took the lease and POSTed, then died before recording: once the lease
    runs out the sweep sends the event again; the receiver deduplicates by jti."""
    tpp.subscribe(receiver.url)
    receiver.statuses = [500]
    jti = raise_event(app, platform, tpp)
    clock.advance(timedelta(minutes=1))
    with app.app_context(), platform.uow() as uow:
        claimed = services.claim(uow, outbox()[0].id, clock.now(), cap=4,
                                 lease=timedelta(minutes=1))
        uow.commit()
    [event] = claimed.events
    tasks._push(claimed.url, event, tasks.outbound.policy_from_config(platform.config),
                clock)                                                       # then dies
    assert sweep(app) == 0                    # the lease still holds
    clock.advance(timedelta(minutes=2))
    assert sweep(app) == 1
    assert outbox()[0].status == EventStatus.DELIVERED
    assert {verified_claims(tpp.http, t)["jti"] for t in receiver.tokens()} == {jti}
    assert [a.http_status for a in attempts(jti)] == [500, 202]


def test_a_callback_resolving_to_a_private_address_is_refused_outside_the_sandbox(
        app, platform, tpp, receiver, attempts):
    tpp.subscribe(receiver.url)
    platform.config["SANDBOX_ENABLED"] = False     # production's outbound policy
    try:
        jti = raise_event(app, platform, tpp)
    finally:
        platform.config["SANDBOX_ENABLED"] = True
    assert receiver.received == []                 # nothing was sent to 127.0.0.1
    [attempt] = attempts(jti)
    assert attempt.http_status is None and attempt.error.startswith("RefusedDestination")


def test_a_slow_receiver_never_holds_another_clients_delivery(
        app, platform, clock, make_events_tpp, make_receiver, outbox, attempts):
    platform.config["EVENT_MAX_CONCURRENT_PER_CLIENT"] = 1
    slow_tpp, fast_tpp = make_events_tpp(name="Slow"), make_events_tpp(name="Fast")
    slow, fast = make_receiver(), make_receiver()
    slow_tpp.subscribe(slow.url)
    fast_tpp.subscribe(fast.url)
    slow.statuses = [500]
    first = raise_event(app, platform, slow_tpp, "slow-1")   # fails at once, retry due later
    clock.advance(timedelta(minutes=5))
    slow.hold, slow.arrived = True, threading.Event()
    event_pk = outbox(slow_tpp.client.row.id)[0].id
    worker = threading.Thread(target=tasks.deliver, args=(event_pk,))
    worker.start()
    assert slow.arrived.wait(10)              # the slow receiver holds that push now

    second = raise_event(app, platform, slow_tpp, "slow-2")   # over the slow client's cap
    fast_jti = raise_event(app, platform, fast_tpp, "fast-1")
    assert [verified_claims(fast_tpp.http, t)["jti"] for t in fast.tokens()] == [fast_jti]
    assert outbox(fast_tpp.client.row.id)[0].status == EventStatus.DELIVERED
    assert len(slow.received) == 2 and attempts(second) == []  # deferred, not attempted

    slow.release.set()
    worker.join(30)
    assert [a.http_status for a in attempts(first)] == [500, 202]
    clock.advance(timedelta(seconds=1))
    sweep(app)                                # the deferred one goes once the cap frees
    assert [a.http_status for a in attempts(second)] == [202]


def test_one_task_pushes_the_clients_due_events_in_order_and_stops_at_a_failure(
        app, platform, clock, tpp, receiver, outbox, attempts):
    """A worker takes the client's due events as one batch (one lease, one key lookup) and
    pushes them one after the other; the first answer that is not a 202 ends the batch: the
    events after it are given back untried, for their own turn."""
    tpp.subscribe(receiver.url)
    jtis = [raise_event(app, platform, tpp, f"pay-{i}", lose_dispatch=True) for i in range(4)]
    receiver.statuses = [202, 503]
    with app.app_context():
        assert tasks.deliver(outbox()[0].id) == "delivered 1 of 4"
    assert [verified_claims(tpp.http, t)["jti"] for t in receiver.tokens()] == jtis[:2]
    assert [e.status for e in outbox()] == ["Delivered", "Pending", "Pending", "Pending"]
    assert [a.http_status for a in attempts(jtis[1])] == [503]
    assert attempts(jtis[2]) == [] and attempts(jtis[3]) == []
    assert all(e.lease_until is None for e in outbox())      # nothing held any more
    assert sweep(app) == 2                    # the untried ones are due; the 503 one is not
    assert [e.status for e in outbox()] == ["Delivered", "Pending", "Delivered", "Delivered"]
    clock.advance(timedelta(seconds=10))
    sweep(app)
    assert all(e.status == EventStatus.DELIVERED for e in outbox())
    assert len(receiver.received) == 5        # one 503, then each event accepted once


def test_a_batch_leaves_events_leased_by_another_worker_alone(
        app, platform, clock, tpp, receiver, outbox):
    tpp.subscribe(receiver.url)
    jtis = [raise_event(app, platform, tpp, f"pay-{i}", lose_dispatch=True) for i in range(3)]
    with app.app_context(), platform.uow() as uow:     # another worker holds the second one
        held = services.claim(uow, outbox()[1].id, clock.now(), cap=4,
                              lease=timedelta(minutes=1))
        uow.commit()
    assert [e.jti for e in held.events] == [jtis[1]]
    with app.app_context():
        tasks.deliver(outbox()[0].id)
    assert [verified_claims(tpp.http, t)["jti"] for t in receiver.tokens()] == \
        [jtis[0], jtis[2]]
    assert [e.status for e in outbox()] == ["Delivered", "Pending", "Delivered"]
