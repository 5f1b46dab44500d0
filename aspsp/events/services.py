"""Event use cases. Each takes a unit of work and leaves the commit to its caller (the view,
the delivery task, or for `publish` the service whose state change raised the event).

Delivery is three steps so that no database transaction stays open while a TPP's server is
talking: `claim` (the client's subscription locked, the per-client cap checked, a batch of its
due events leased, their SETs signed; committed), the POSTs (aspsp.outbound, outside any
transaction), `record_all` (the attempts stored, each event Delivered on a 202, else its next
attempt scheduled or, after the retry window, DeadLettered; the untried ones given back).
Only Pending events are ever claimed: one acknowledged by polling is never pushed again.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, g, has_request_context
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode
from sqlalchemy import case, distinct, func, insert, or_, select, update

from ..db import UnitOfWork
from ..ids import new_id
from ..oauth import keys
from ..oauth.models import OAuthClient
from . import dispatch, domain
from .domain import EventStatus, Subject
from .errors import (EventNotFound, EventRefused, InvalidPoll, InvalidSubscription,
                     SubscriptionExists, SubscriptionNotFound)
from .models import DeliveryAttempt, EventNotification, EventSubscription

API_PREFIX = "/open-banking/v3.1"
SET_ALG = "PS256"
SET_TYP = "secevent+jwt"


# --- publishing ------------------------------------------------------------------------------
def publish(uow: UnitOfWork, *, client_pk: int, event_type: str, rty: str, rid: str,
            path: str, now: datetime, txn: str | None = None,
            reason: str | None = None) -> str | None:
    """Raise `event_type` about the resource `rty`/`rid` (served at API_PREFIX + `path`) for
    the client `client_pk`, in the caller's transaction. Nothing is written when the client
    has no subscription that wants the event. Returns the event's jti (None: not raised)."""
    subscription = uow.session.scalars(select(EventSubscription).where(
        EventSubscription.client_pk == client_pk)).one_or_none()
    if subscription is None or not domain.wanted(event_type, subscription.version,
                                                  subscription.event_types):
        return None
    client_id = uow.session.scalars(select(OAuthClient.client_id).where(
        OAuthClient.id == client_pk)).one()
    issuer = current_app.config["ISSUER"].rstrip("/")
    subject = Subject(rid, rty, (("v3.1", f"{issuer}{API_PREFIX}{path}"),))
    jti = str(uuid.uuid4())
    claims = domain.set_claims(issuer=issuer, audience=client_id, jti=jti,
                               txn=txn or _interaction_id(), subject=subject,
                               event_type=event_type, toe=now, iat=now, reason=reason)
    event = EventNotification(
        jti=jti, client_pk=client_pk, event_type=event_type, claims=claims,
        status=EventStatus.PENDING.value, created_at=now, attempts=0,
        next_attempt_at=now if subscription.callback_url else None)
    uow.session.add(event)
    uow.session.flush()
    if subscription.callback_url:
        dispatch.deliver_after_commit(uow, client_pk, event.id)
    return jti


def _interaction_id() -> str:
    given = g.get("interaction_id") if has_request_context() else None
    return given or str(uuid.uuid4())


def sign(uow: UnitOfWork, claims: dict, now: datetime) -> str:
    """The SET: the claims signed (compact JWS) with the bank's published key (GET /jwks)."""
    return _compact(claims, *_signer(uow, now))


# The private keys this process has loaded, by kid: turning a JWK into a usable RSA key
# costs tens of milliseconds, a signature half of one. Which key signs is still asked of
# aspsp.oauth.keys each time (rotation), only its loading is kept.
_loaded: dict[str, jwk.JWK] = {}


def _signer(uow: UnitOfWork, now: datetime) -> tuple[jwk.JWK, str]:
    kid, key = keys.signing_key(uow, "aspsp", keyring=uow.keyring, now=now, alg=SET_ALG)
    if len(_loaded) > 16:
        _loaded.clear()
    return _loaded.setdefault(kid, key), kid


def _compact(claims: dict, key: jwk.JWK, kid: str) -> str:
    """The compact JWS (RFC 7515) of the claims, PS256, made by jwcrypto's JWSCore: the
    signature alone, without the JWS object's parsing and checks of a general serialization
    (about 0.1 ms a token; the loaded key above is what saves tens of milliseconds)."""
    signed = jws.JWSCore(SET_ALG, key, json_encode({"alg": SET_ALG, "kid": kid, "typ": SET_TYP}),
                         json_encode(claims).encode()).sign()
    payload = signed["payload"]
    payload = payload.decode() if isinstance(payload, bytes) else payload
    return f"{signed['protected']}.{payload}.{signed['signature']}"


# --- subscriptions ---------------------------------------------------------------------------
@dataclass(frozen=True)
class SubscriptionRecord:
    subscription_id: str
    callback_url: str | None
    version: str
    event_types: tuple[str, ...] | None
    updated_at: datetime | None = None     # when it was created or last replaced


@dataclass(frozen=True)
class SubscriptionRequest:
    callback_url: str | None
    version: str
    event_types: list[str] | None


def create_subscription(uow: UnitOfWork, client_pk: int, request: SubscriptionRequest,
                        now: datetime, *, schemes: tuple[str, ...]) -> SubscriptionRecord:
    _check(request, schemes)
    if _subscription_of(uow, client_pk) is not None:
        raise SubscriptionExists("this client already has an event subscription")
    row = EventSubscription(subscription_id=new_id(), client_pk=client_pk,
                            callback_url=request.callback_url, version=request.version,
                            event_types=request.event_types, created_at=now, updated_at=now)
    uow.session.add(row)
    uow.session.flush()
    return _record(row)


def subscriptions(uow: UnitOfWork, client_pk: int) -> list[SubscriptionRecord]:
    row = _subscription_of(uow, client_pk)
    return [] if row is None else [_record(row)]


def update_subscription(uow: UnitOfWork, client_pk: int, subscription_id: str,
                        request: SubscriptionRequest, now: datetime, *,
                        schemes: tuple[str, ...]) -> SubscriptionRecord:
    row = _own(uow, client_pk, subscription_id)
    _check(request, schemes)
    row.callback_url, row.version = request.callback_url, request.version
    row.event_types, row.updated_at = request.event_types, now
    if request.callback_url:     # events waiting for polling are pushed to the new callback
        uow.session.execute(update(EventNotification).where(
            EventNotification.client_pk == client_pk,
            EventNotification.status == EventStatus.PENDING.value,
            EventNotification.next_attempt_at.is_(None)).values(next_attempt_at=now))
    uow.session.flush()
    return _record(row)


def delete_subscription(uow: UnitOfWork, client_pk: int, subscription_id: str) -> None:
    uow.session.delete(_own(uow, client_pk, subscription_id))
    uow.session.flush()


def _check(request: SubscriptionRequest, schemes: tuple[str, ...]) -> None:
    problems = domain.subscription_problems(request.callback_url, request.version,
                                            request.event_types, schemes=schemes)
    if problems:
        raise InvalidSubscription(problems)


def _subscription_of(uow: UnitOfWork, client_pk: int, *, lock: bool = False
                     ) -> EventSubscription | None:
    query = select(EventSubscription).where(EventSubscription.client_pk == client_pk)
    if lock:
        query = query.with_for_update()
    return uow.session.scalars(query).one_or_none()


def _own(uow: UnitOfWork, client_pk: int, subscription_id: str) -> EventSubscription:
    row = _subscription_of(uow, client_pk, lock=True)
    if row is None or row.subscription_id != subscription_id:
        raise SubscriptionNotFound("there is no event subscription with this id",
                                   "EventSubscriptionId")
    return row


def _record(row: EventSubscription) -> SubscriptionRecord:
    return SubscriptionRecord(row.subscription_id, row.callback_url, row.version,
                              tuple(row.event_types) if row.event_types is not None else None,
                              row.updated_at)


# --- real-time delivery ----------------------------------------------------------------------
@dataclass(frozen=True)
class Claimed:
    """One event of a batch: its signed SET."""
    event_pk: int
    jti: str
    token: str
    txn: str
    created_at: datetime | None = None      # the event's creation (its delivery lag: metrics)


@dataclass(frozen=True)
class Batch:
    """Due events of one client leased together by one worker, pushed one after the other to
    the client's callback URL (so a batch is one push in flight at a time)."""
    url: str
    events: tuple[Claimed, ...]
    lease_until: datetime


@dataclass(frozen=True)
class Deferred:
    """The client already has its cap of pushes in flight: try again in `seconds`."""
    seconds: float


def claim(uow: UnitOfWork, event_pk: int, now: datetime, *, cap: int, lease: timedelta,
          limit: int = 1, whole_client: bool = False,
          busy_after: timedelta | None = None) -> Batch | Deferred | None:
    """Lease up to `limit` Pending, due, unleased events of `event_pk`'s client, that event
    first, for one worker; their SETs signed with one key lookup. None when there is nothing
    to send. Unless `whole_client` (the task stands for every event of its client that found
    one waiting: dispatch.deliver_after_commit), that is when `event_pk` itself is delivered,
    acknowledged, dead, not due or leased by another worker: checked first without a lock, so
    the tasks of events a batch already took cost one read.

    Deferred when the client already has `cap` batches in flight, or has one that has been
    in flight for longer than `busy_after` (its receiver may have just turned slow: a second
    worker would wait on it too)."""
    e = EventNotification
    head = uow.session.execute(select(e.client_pk, e.status, e.next_attempt_at, e.lease_until)
                               .where(e.id == event_pk)).one_or_none()
    if head is None or not (whole_client or _sendable(head.status, head.next_attempt_at,
                                                      head.lease_until, now)):
        return None
    subscription = _subscription_of(uow, head.client_pk, lock=True)  # serialises the cap
    if subscription is None or not subscription.callback_url:
        return None
    rows = list(uow.session.scalars(select(e).where(
        e.client_pk == head.client_pk, e.status == EventStatus.PENDING.value,
        e.next_attempt_at.is_not(None), e.next_attempt_at <= now,
        or_(e.lease_until.is_(None), e.lease_until <= now))
        .order_by(case((e.id == event_pk, 0), else_=1), e.next_attempt_at, e.id)
        .limit(limit).with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)))
    if not rows:
        return None
    in_flight, oldest = uow.session.execute(select(
        func.count(distinct(e.lease_until)), func.min(e.lease_until)).where(
        e.client_pk == head.client_pk, e.status == EventStatus.PENDING.value,
        e.lease_until > now)).one()
    if in_flight >= max(cap, 1) or (in_flight and busy_after is not None
                                    and oldest - lease < now - busy_after):
        return Deferred(1.0)
    until = now + lease
    uow.session.execute(update(e).where(e.id.in_([row.id for row in rows]))
                        .values(lease_until=until).execution_options(synchronize_session=False))
    key, kid = _signer(uow, now)
    return Batch(subscription.callback_url,
                 tuple(Claimed(row.id, row.jti, _compact(row.claims, key, kid),
                               row.claims["txn"], row.created_at) for row in rows), until)


def _sendable(status: str, next_attempt_at, lease_until, now: datetime) -> bool:
    return status == EventStatus.PENDING and next_attempt_at is not None \
        and next_attempt_at <= now and (lease_until is None or lease_until <= now)


@dataclass(frozen=True)
class Outcome:
    at: datetime
    latency_ms: int
    http_status: int | None
    error: str | None

    @property
    def accepted(self) -> bool:
        return self.http_status == 202


def record(uow: UnitOfWork, event_pk: int, outcome: Outcome, policy: domain.RetryPolicy,
           now: datetime) -> datetime | None:
    """Store one attempt (record_all of one)."""
    return dict(record_all(uow, [(event_pk, outcome)], policy, now)).get(event_pk)


def record_all(uow: UnitOfWork, outcomes: list[tuple[int, Outcome]],
               policy: domain.RetryPolicy, now: datetime, *,
               released: tuple[int, ...] = ()) -> list[tuple[int, datetime]]:
    """Store each attempt of a batch, in one transaction: Delivered on a 202, else the next
    attempt or, once the window has run out, DeadLettered. `released`: events of the batch
    not attempted (the batch stopped), whose lease is given back. Returns the retries due,
    as (event_pk, when)."""
    e = EventNotification
    ids = [pk for pk, _ in outcomes] + list(released)
    if not ids:
        return []
    rows = {row.id: row for row in uow.session.execute(
        select(e.id, e.status, e.created_at, e.attempts).where(e.id.in_(ids))
        .order_by(e.id).with_for_update())}
    if outcomes:
        uow.session.execute(insert(DeliveryAttempt), [
            {"event_pk": pk, "attempted_at": o.at, "latency_ms": o.latency_ms,
             "http_status": o.http_status, "error": (o.error or None) and o.error[:500]}
            for pk, o in outcomes])
    changes, retries = [], []
    for pk, outcome in outcomes:
        row = rows[pk]
        change = {"id": pk, "attempts": row.attempts + 1, "lease_until": None}
        if row.status != EventStatus.PENDING:            # acknowledged by polling meanwhile
            pass
        elif outcome.accepted:
            change.update(status=EventStatus.DELIVERED.value, settled_at=now,
                          next_attempt_at=None, last_error=None)
        else:
            next_at = policy.next_attempt(row.created_at, row.attempts + 1, now)
            change.update(next_attempt_at=next_at,
                          last_error=outcome.error or f"HTTP {outcome.http_status}")
            if next_at is None:
                change.update(status=EventStatus.DEAD_LETTERED.value, settled_at=now)
            else:
                retries.append((pk, next_at))
        changes.append(change)
    changes += [{"id": pk, "lease_until": None} for pk in released]
    for keys_ in {tuple(sorted(c)) for c in changes}:     # one executemany per shape
        uow.session.execute(update(e), [c for c in changes if tuple(sorted(c)) == keys_])
    return retries


def due_events(uow: UnitOfWork, now: datetime, limit: int = 500) -> list[int]:
    """Pending events whose push is due and not leased (or whose worker's lease ran out)."""
    e = EventNotification
    return list(uow.session.scalars(select(e.id).where(
        e.status == EventStatus.PENDING.value, e.next_attempt_at.is_not(None),
        e.next_attempt_at <= now, (e.lease_until.is_(None)) | (e.lease_until <= now))
        .order_by(e.next_attempt_at, e.id).limit(limit)))


# --- aggregated polling ----------------------------------------------------------------------
@dataclass(frozen=True)
class Polled:
    sets: dict[str, str]
    more_available: bool


def poll(uow: UnitOfWork, client_pk: int, body: dict, now: datetime, *,
         max_events_cap: int) -> Polled:
    """Settle what the TPP acknowledged (ack) or refused (setErrs), then return up to
    maxEvents events it has not had yet, oldest first. Only its own events are touched; a
    jti it does not know is ignored (the poll draft: acks are idempotent)."""
    problems = domain.poll_problems(body, max_events_cap=max_events_cap)
    if problems:
        raise InvalidPoll(problems)
    if _subscription_of(uow, client_pk) is None:
        raise SubscriptionNotFound("the client has no event subscription: create one with "
                                   "POST /event-subscriptions first")
    e = EventNotification
    acked = list(dict.fromkeys(body.get("ack") or ()))
    if acked:
        uow.session.execute(update(e).where(
            e.client_pk == client_pk, e.jti.in_(acked),
            e.status.in_([s.value for s in domain.POLLABLE]))
            .values(status=EventStatus.ACKNOWLEDGED.value, settled_at=now,
                    next_attempt_at=None))
    for jti, err in (body.get("setErrs") or {}).items():
        uow.session.execute(update(e).where(
            e.client_pk == client_pk, e.jti == jti,
            e.status.in_([s.value for s in domain.POLLABLE]))
            .values(status=EventStatus.REFUSED.value, settled_at=now, next_attempt_at=None,
                    last_error=f"{err['err']}: {err['description']}"[:1000]))
    wanted = body.get("maxEvents")
    wanted = max_events_cap if wanted is None else wanted
    rows = list(uow.session.scalars(select(e).where(
        e.client_pk == client_pk, e.status.in_([s.value for s in domain.POLLABLE]))
        .order_by(e.created_at, e.id).limit(wanted + 1))) if wanted else []
    more = len(rows) > wanted if wanted else uow.session.scalar(
        select(func.count()).select_from(e).where(
            e.client_pk == client_pk,
            e.status.in_([s.value for s in domain.POLLABLE]))) > 0
    signer = _signer(uow, now) if rows else None       # one key for the whole answer
    sets = {row.jti: _compact(row.claims, *signer) for row in rows[:wanted]} if wanted else {}
    uow.session.flush()
    return Polled(sets, bool(more))


# --- reading (tests, the developer portal) -----------------------------------------------------
def attempts_of(uow: UnitOfWork, jti: str) -> list[DeliveryAttempt]:
    return list(uow.session.scalars(select(DeliveryAttempt).join(
        EventNotification, EventNotification.id == DeliveryAttempt.event_pk)
        .where(EventNotification.jti == jti).order_by(DeliveryAttempt.id)))


# --- the developer portal: deliveries, resend, test events --------------------------------------
@dataclass(frozen=True)
class AttemptRecord:
    at: datetime
    latency_ms: int
    http_status: int | None
    error: str | None


@dataclass(frozen=True)
class DeliveryRecord:
    """One event of a client as its developer sees it: where it stands and every push."""
    jti: str
    event_type: str
    claims: dict
    status: str
    created_at: datetime
    next_attempt_at: datetime | None
    in_flight: bool
    settled_at: datetime | None
    last_error: str | None
    attempts: tuple[AttemptRecord, ...]


def deliveries(uow: UnitOfWork, client_pk: int, now: datetime, *, limit: int,
               offset: int = 0) -> tuple[list[DeliveryRecord], bool]:
    """The client's events, newest first, each with its delivery attempts (oldest first);
    and whether older ones follow."""
    e = EventNotification
    rows = list(uow.session.scalars(select(e).where(e.client_pk == client_pk)
                                    .order_by(e.created_at.desc(), e.id.desc())
                                    .limit(limit + 1).offset(offset)))
    return _with_attempts(uow, rows[:limit], now), len(rows) > limit


def delivery(uow: UnitOfWork, client_pk: int, jti: str, now: datetime) -> DeliveryRecord:
    """One event of the client by jti; EventNotFound for another client's or an unknown one."""
    return _with_attempts(uow, [_event_of(uow, client_pk, jti)], now)[0]


def _event_of(uow: UnitOfWork, client_pk: int, jti: str, *, lock: bool = False
              ) -> EventNotification:
    query = select(EventNotification).where(EventNotification.client_pk == client_pk,
                                            EventNotification.jti == str(jti)[:128])
    row = uow.session.scalars(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise EventNotFound("this app has no event with this jti")
    return row


def _with_attempts(uow: UnitOfWork, rows: list[EventNotification], now: datetime
                   ) -> list[DeliveryRecord]:
    by_event: dict[int, list[AttemptRecord]] = {row.id: [] for row in rows}
    if rows:
        for a in uow.session.scalars(select(DeliveryAttempt).where(
                DeliveryAttempt.event_pk.in_(list(by_event))).order_by(DeliveryAttempt.id)):
            by_event[a.event_pk].append(AttemptRecord(a.attempted_at, a.latency_ms,
                                                      a.http_status, a.error))
    return [DeliveryRecord(row.jti, row.event_type, row.claims, row.status, row.created_at,
                           row.next_attempt_at,
                           row.lease_until is not None and row.lease_until > now,
                           row.settled_at, row.last_error, tuple(by_event[row.id]))
            for row in rows]


RESEND_GAP = timedelta(seconds=2)


def resend(uow: UnitOfWork, client_pk: int, jti: str, now: datetime) -> str:
    """Push one of the client's events again to its subscription's current CallbackUrl,
    whatever it stands at (delivered, acknowledged, refused, dead-lettered): it becomes
    Pending and due now, and its delivery is sent after the commit. Same jti: the TPP
    deduplicates. Returns "queued", or "already" when nothing was changed because a push of it
    is waiting, in flight, or was made less than RESEND_GAP ago (a double click sends once).
    A resend that fails is retried as any push, within the retry window counted from the
    event's creation (an older event is dead-lettered again at once)."""
    row = _event_of(uow, client_pk, jti, lock=True)
    subscription = _subscription_of(uow, client_pk)
    if subscription is None or not subscription.callback_url:
        raise EventRefused("the subscription has no callback URL: events wait to be polled "
                           "(POST /open-banking/v3.1/events); set a callback URL to push them")
    last = uow.session.scalar(select(func.max(DeliveryAttempt.attempted_at))
                              .where(DeliveryAttempt.event_pk == row.id))
    waiting = row.status == EventStatus.PENDING.value and row.next_attempt_at is not None \
        and row.next_attempt_at <= now
    leased = row.lease_until is not None and row.lease_until > now
    if waiting or leased or (last is not None and last > now - RESEND_GAP):
        return "already"
    row.status, row.next_attempt_at, row.settled_at = EventStatus.PENDING.value, now, None
    uow.session.flush()
    dispatch.deliver_after_commit(uow, client_pk, row.id)
    return "queued"


TEST_RESOURCE_PREFIX = "test-"


def publish_test_event(uow: UnitOfWork, client_pk: int, event_type: str, now: datetime
                       ) -> str:
    """Raise a test event of `event_type` for the client, through `publish` and real delivery
    (pushed to the callback URL, else kept for polling). Its subject is a resource that does
    not exist (id `test-...`): an account-access consent, or for a resource-update a domestic
    payment, so that no TPP acts on a real consent or payment because of a test; the
    linked-account-update carries UK.OBIE.AccountClosure. Returns the jti."""
    if event_type not in domain.EVENT_TYPES:
        raise EventRefused(f"{str(event_type)[:128]} is not an event type of this bank")
    subscription = _subscription_of(uow, client_pk)
    if subscription is None:
        raise EventRefused("set an event subscription first: events are raised only for a "
                           "client that has one")
    rid = TEST_RESOURCE_PREFIX + new_id()
    if event_type == domain.RESOURCE_UPDATE:
        (rty, path), reason = domain.payment_resource("domestic-payment", rid), None
    else:
        rty, path = domain.consent_resource("account-access", rid)
        reason = domain.ACCOUNT_CLOSURE if event_type == domain.LINKED_ACCOUNT_UPDATE else None
    jti = publish(uow, client_pk=client_pk, event_type=event_type, rty=rty, rid=rid,
                  path=path, now=now, reason=reason)
    if jti is None:
        raise EventRefused(f"the subscription does not receive {event_type} (its EventTypes"
                           + (", or its Version 3.1.1, which receives resource-update only"
                              if subscription.version in domain.RESOURCE_UPDATE_ONLY else "")
                           + ")")
    return jti
