"""Background delivery of event notifications: a task that leases a batch of one client's due
events and pushes them one after the other, and a sweep on the beat that sends every due retry
and every event whose worker died mid-delivery (its lease ran out). Tasks are idempotent (only
Pending, due, unleased events are leased) and acknowledged late.

A push is POST {CallbackUrl} with the SET as an application/jwt body, through aspsp.outbound
(https only outside the sandbox, public addresses only unless allowed, no redirects, one
deadline, a size cap on the answer). Only a 202 delivers; anything else, a timeout or a
refused address is an attempt recorded, retried with exponential backoff and jitter until the
retry window (EVENT_RETRY_WINDOW_SECONDS) runs out, then dead-lettered (still pollable). A slow
or dead receiver holds at most EVENT_MAX_CONCURRENT_PER_CLIENT pushes of its own client for at
most EVENT_DELIVERY_TIMEOUT_SECONDS each: other clients' events never wait behind it.
"""
from __future__ import annotations

import time
from datetime import timedelta

from celery import shared_task
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from .. import outbound, platform
from . import dispatch, services
from .domain import RetryPolicy
from .models import EventNotification

MAX_RESPONSE_BYTES = 16 * 1024
LEASE_MARGIN_SECONDS = 5     # the last push of a batch starts this long before its lease ends


def policy_from_config(config) -> RetryPolicy:
    return RetryPolicy(first_delay=float(config["EVENT_RETRY_FIRST_DELAY_SECONDS"]),
                       window=timedelta(seconds=int(config["EVENT_RETRY_WINDOW_SECONDS"])))


@shared_task(name=dispatch.DELIVER_EVENT, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5)
def deliver(event_pk: int) -> str:
    """Push the event's client's due events (up to EVENT_DELIVERY_BATCH, this one first), one
    after the other; the batch stops at the first push that is not a 202 (the receiver is in
    trouble: the rest wait for their own turn) and before its lease could run out."""
    p = platform.current()
    config = p.config
    timeout = float(config["EVENT_DELIVERY_TIMEOUT_SECONDS"])
    lease = timedelta(seconds=2 * (timeout + LEASE_MARGIN_SECONDS))
    started = time.monotonic()
    limit = int(config["EVENT_DELIVERY_BATCH"])
    with p.uow() as uow:
        client_pk = uow.session.scalar(select(EventNotification.client_pk).where(
            EventNotification.id == event_pk))
        if client_pk is not None:
            dispatch.begin_delivery(client_pk)      # events committed from now send again
        claimed = services.claim(uow, event_pk, p.clock.now(),
                                 cap=int(config["EVENT_MAX_CONCURRENT_PER_CLIENT"]),
                                 lease=lease, limit=limit, whole_client=True)
        uow.commit()
    if claimed is None:
        return "skipped"
    if isinstance(claimed, services.Deferred):
        dispatch.send_later(dispatch.DELIVER_EVENT, event_pk, countdown=claimed.seconds)
        return "deferred"
    if len(claimed.events) == limit:      # a full batch: more may wait; another worker may
        dispatch.send_later(dispatch.DELIVER_EVENT, claimed.events[-1].event_pk, countdown=0)
    policy = outbound.policy_from_config(config, deadline=timeout,           # take them now
                                         max_bytes=MAX_RESPONSE_BYTES)
    last_start = started + lease.total_seconds() - timeout - LEASE_MARGIN_SECONDS
    outcomes: list[tuple[int, services.Outcome]] = []
    for event in claimed.events:
        if time.monotonic() > last_start:     # the push could outlive the lease
            break
        outcome = _push(claimed.url, event, policy, p.clock)
        outcomes.append((event.event_pk, outcome))
        if not outcome.accepted:
            break
    released = tuple(e.event_pk for e in claimed.events[len(outcomes):])
    with p.uow() as uow:
        retries = services.record_all(uow, outcomes, policy_from_config(config),
                                      p.clock.now(), released=released)
        uow.commit()
    for pk, next_at in retries:
        dispatch.send_later(dispatch.DELIVER_EVENT, pk,
                            countdown=(next_at - p.clock.now()).total_seconds())
    if released and all(o.accepted for _, o in outcomes):    # stopped by the lease's clock
        dispatch.send_later(dispatch.DELIVER_EVENT, released[0], countdown=0)
    accepted = sum(o.accepted for _, o in outcomes)
    return f"delivered {accepted} of {len(claimed.events)}"


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
