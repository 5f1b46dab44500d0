"""Background delivery of event notifications: one task per push attempt, and a sweep on the
beat that sends every due retry and every event whose worker died mid-delivery (its lease ran
out). Tasks are idempotent (only a Pending, due, unleased event is sent) and acknowledged late.

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
from sqlalchemy.exc import OperationalError

from .. import outbound, platform
from . import dispatch, services
from .domain import RetryPolicy

MAX_RESPONSE_BYTES = 16 * 1024


def policy_from_config(config) -> RetryPolicy:
    return RetryPolicy(first_delay=float(config["EVENT_RETRY_FIRST_DELAY_SECONDS"]),
                       window=timedelta(seconds=int(config["EVENT_RETRY_WINDOW_SECONDS"])))


@shared_task(name=dispatch.DELIVER_EVENT, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5)
def deliver(event_pk: int) -> str:
    p = platform.current()
    config = p.config
    timeout = float(config["EVENT_DELIVERY_TIMEOUT_SECONDS"])
    with p.uow() as uow:
        claimed = services.claim(uow, event_pk, p.clock.now(),
                                 cap=int(config["EVENT_MAX_CONCURRENT_PER_CLIENT"]),
                                 lease=timedelta(seconds=2 * timeout + 30))
        uow.commit()
    if claimed is None:
        return "skipped"
    if isinstance(claimed, services.Deferred):
        dispatch.send_later(dispatch.DELIVER_EVENT, event_pk, countdown=claimed.seconds)
        return "deferred"
    outcome = _push(claimed, outbound.policy_from_config(
        config, deadline=timeout, max_bytes=MAX_RESPONSE_BYTES), p.clock)
    with p.uow() as uow:
        next_at = services.record(uow, event_pk, outcome, policy_from_config(config),
                                  p.clock.now())
        uow.commit()
    if next_at is not None:
        dispatch.send_later(dispatch.DELIVER_EVENT, event_pk,
                            countdown=(next_at - p.clock.now()).total_seconds())
    return "delivered" if outcome.accepted else "failed"


def _push(claimed: services.Claimed, policy: outbound.Policy, clock) -> services.Outcome:
    at, started = clock.now(), time.monotonic()
    status, error = None, None
    try:
        response = outbound.post(claimed.url, claimed.token.encode(), policy=policy, headers={
            "Content-Type": "application/jwt", "x-fapi-interaction-id": claimed.txn})
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
