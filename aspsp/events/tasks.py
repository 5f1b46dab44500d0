"""Background delivery of event notifications: a task that leases a batch of one client's due
events and pushes them one after the other, and a sweep on the beat that sends every due retry
and every event whose worker died mid-delivery (its lease ran out). Tasks are idempotent (only
Pending, due, unleased events are leased) and acknowledged late.

A push is POST {CallbackUrl} with the SET as an application/jwt body, through aspsp.outbound
(https only outside the sandbox, public addresses only unless allowed, no redirects, one
deadline, a size cap on the answer; the connection kept for the next push to that receiver
when it keeps it open). Only a 202 delivers; anything else, a timeout or a
refused address is an attempt recorded, retried with exponential backoff and jitter until the
retry window (EVENT_RETRY_WINDOW_SECONDS) runs out, then dead-lettered (still pollable).

Fairness: a slow or dead receiver never holds more than one worker.
- A client may have up to EVENT_MAX_CONCURRENT_PER_CLIENT batches in flight only while its
  receiver is known to answer promptly (its last batch: every push a 202 within
  SLOW_PUSH_SECONDS, noted by aspsp.events.dispatch), and while none of its batches has been
  in flight for longer than BUSY_AFTER_SECONDS; otherwise one at a time. A second task of such
  a client is deferred (one waiting task per client), its worker free for other clients.
- A push that fails, times out (EVENT_DELIVERY_TIMEOUT_SECONDS) or answers later than
  SLOW_PUSH_SECONDS ends its batch: the rest of the batch goes back to the queue, behind the
  tasks of other clients already waiting, instead of holding the worker push after push.
So with two delivery workers or more, one slow receiver leaves the others free; several slow
receivers each hold a worker for one push at a time, between which the queue moves on. (A
receiver that turns slow while known to be prompt holds the workers already pushing to it
for that one push each; then it is noted slow.)
"""
from __future__ import annotations

import time
from datetime import timedelta

from celery import shared_task
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from .. import metrics, outbound, platform
from . import dispatch, services
from .domain import RetryPolicy
from .models import EventNotification

MAX_RESPONSE_BYTES = 16 * 1024
LEASE_MARGIN_SECONDS = 5     # the last push of a batch starts this long before its lease ends
SLOW_PUSH_SECONDS = 1.0      # a push answered later than this is slow: its batch ends there
BUSY_AFTER_SECONDS = 2.0     # a batch in flight this long: its client gets no second worker


def policy_from_config(config) -> RetryPolicy:
    return RetryPolicy(first_delay=float(config["EVENT_RETRY_FIRST_DELAY_SECONDS"]),
                       window=timedelta(seconds=int(config["EVENT_RETRY_WINDOW_SECONDS"])))


@shared_task(name=dispatch.DELIVER_EVENT, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5)
def deliver(event_pk: int) -> str:
    """Push the event's client's due events (up to EVENT_DELIVERY_BATCH, this one first), one
    after the other; the batch stops at the first push that is not a 202 (the receiver is in
    trouble: the rest wait for their own turn), at the first slow one (the rest go back to
    the queue, behind other clients) and before its lease could run out."""
    p = platform.current()
    config = p.config
    timeout = float(config["EVENT_DELIVERY_TIMEOUT_SECONDS"])
    lease = timedelta(seconds=2 * (timeout + LEASE_MARGIN_SECONDS))
    started = time.monotonic()
    limit = int(config["EVENT_DELIVERY_BATCH"])
    with p.uow() as uow:
        client_pk = uow.session.scalar(select(EventNotification.client_pk).where(
            EventNotification.id == event_pk))
        cap = int(config["EVENT_MAX_CONCURRENT_PER_CLIENT"])
        if client_pk is not None:
            dispatch.begin_delivery(client_pk)      # events committed from now send again
            if dispatch.answers_promptly(client_pk) is False:
                cap = 1                             # slow, failing or not heard from lately
        claimed = services.claim(uow, event_pk, p.clock.now(), cap=cap, lease=lease,
                                 limit=limit, whole_client=True,
                                 busy_after=timedelta(seconds=BUSY_AFTER_SECONDS))
        uow.commit()
    if claimed is None:
        return "skipped"
    if isinstance(claimed, services.Deferred):
        dispatch.requeue(client_pk, event_pk, countdown=claimed.seconds)
        return "deferred"
    if len(claimed.events) == limit and cap > 1:   # a full batch: more may wait; another
        dispatch.requeue(client_pk, claimed.events[-1].event_pk,    # worker may take them now
                         countdown=0)
    policy = outbound.policy_from_config(config, deadline=timeout, keep_alive=True,
                                         max_bytes=MAX_RESPONSE_BYTES)
    last_start = started + lease.total_seconds() - timeout - LEASE_MARGIN_SECONDS
    outcomes: list[tuple[int, services.Outcome]] = []
    for event in claimed.events:
        if time.monotonic() > last_start:     # the push could outlive the lease
            break
        outcome = _push(claimed.url, event, policy, p.clock)
        outcomes.append((event.event_pk, outcome))
        if not outcome.accepted or outcome.latency_ms > SLOW_PUSH_SECONDS * 1000:
            break
    released = tuple(e.event_pk for e in claimed.events[len(outcomes):])
    if outcomes:
        dispatch.note_promptness(client_pk, all(
            o.accepted and o.latency_ms <= SLOW_PUSH_SECONDS * 1000 for _, o in outcomes))
    with p.uow() as uow:
        retries = services.record_all(uow, outcomes, policy_from_config(config),
                                      p.clock.now(), released=released)
        uow.commit()
    _count(claimed.events, outcomes)
    for pk, next_at in retries:
        dispatch.send_later(dispatch.DELIVER_EVENT, pk,
                            countdown=(next_at - p.clock.now()).total_seconds())
    more = released or (len(claimed.events) == limit and cap == 1)   # (cap > 1: sent above)
    if more and all(o.accepted for _, o in outcomes):   # stopped by a slow push or the lease's
        dispatch.requeue(client_pk, claimed.events[-1].event_pk,     # clock, or a full batch:
                         countdown=0)                   # to the back of the queue
    accepted = sum(o.accepted for _, o in outcomes)
    return f"delivered {accepted} of {len(claimed.events)}"


def _count(events: tuple[services.Claimed, ...],
           outcomes: list[tuple[int, services.Outcome]]) -> None:
    """Each push's outcome, and the lag of each delivered event, for /metrics."""
    created = {e.event_pk: e.created_at for e in events}
    for pk, outcome in outcomes:
        at = created.get(pk)
        metrics.observe_webhook(metrics.webhook_outcome(outcome.http_status),
                                (outcome.at - at).total_seconds() + outcome.latency_ms / 1000
                                if outcome.accepted and at is not None else None)


def _push(url: str, event: services.Claimed, policy: outbound.Policy,
          clock) -> services.Outcome:
    at, started = clock.now(), time.monotonic()
    status, error = None, None
    try:
        response = outbound.post(url, event.token.encode(), policy=policy, headers={
            "Content-Type": "application/jwt", "x-fapi-interaction-id": event.txn})
        status = response.status
    except outbound.OutboundError as exc:
        error = f"{type(exc).__name__}: {exc}"
    return services.Outcome(at, int((time.monotonic() - started) * 1000), status, error)


@shared_task(name=dispatch.DELIVER_DUE, acks_late=True)
def deliver_due() -> int:
    """Send a delivery task for every due event (retries, and events a dead worker held)."""
    p = platform.current()
    with p.uow() as uow:
        due = services.due_events(uow, p.clock.now())
    for event_pk in due:
        deliver.delay(event_pk)
    return len(due)
