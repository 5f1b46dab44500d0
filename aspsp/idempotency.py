"""Idempotent POSTs (OBIE Read/Write API profile v3.1.11, "Idempotency"): `x-idempotency-key`.

The rules: the key (1 to 40 characters, no leading or trailing white space: checked by
aspsp.obapi.idempotency_key) is kept 24 hours per client and resource type. The same key with
the same body (compared by the SHA-256 of the raw bytes) gets no second resource, and the
first response's status with the resource as it is now: the profile asks for "the current
status of the resource" (a payment created Pending and settled since replays as
AcceptedSettlementCompleted). A view says how to read its resource again with `current=`, a
function of the stored response body (parsed JSON) returning the body to send now; without
one (or when it returns None) the stored response is sent again byte for byte. The same key
with another body is refused: 400 UK.OBIE.Header.Invalid, Path x-idempotency-key (v3.1.11
has no code of its own for it; the profile only says the resource must not change). A
response that created nothing (an error) is not kept: the TPP may retry with the same key.

Concurrency, without read-then-write: the view's unit of work INSERTs the key's row as its
FIRST write (`claim`), under the unique constraint (client_pk, resource_type, key), then
creates the resource and stores the response in that row (`respond`), and commits once. Of two
requests racing with one key, the second INSERT waits on the unique index (PostgreSQL) or on
the write lock (SQLite) until the first commits, then fails: its whole transaction rolls back
(no second resource, and none of its business checks ran against the first one's changes) and
the decorator answers with the response the first one stored. Claiming first matters: a
payment that consumes its consent would otherwise have the second request fail on the
consumed consent instead of replaying.

Usage (the decorator below the consent gate, which tells who the client is):

    @blp.route("/domestic-payment-consents", methods=["POST"])
    @gate.requires_client("payments")
    @ob_signing.signed_request
    @idempotency.idempotent("domestic-payment-consent", current=read_again)
    @blp.arguments(Schema, error_status_code=400)
    def create(body):
        p = platform.current()
        with p.uow() as uow:
            key = idempotency.claim(uow)               # first write of the transaction
            record = services.create_...(uow, ...)      # may raise an OBError: nothing is kept
            response = key.respond(201, to_json(record))
            uow.commit()                                # the resource and the key, together
        return response                                 # exactly what respond() built

    def read_again(stored: dict) -> bytes:              # a replay: the resource as it is now
        with p.uow() as uow:
            return to_json(services.get_...(uow, stored["Data"]["ConsentId"]))

A retry must reach the decorator to be replayed: a resource whose creation changes what the
gate checks (a payment consumes its consent) needs a gate that lets the retry through, e.g.
`requires_consent(SCOPE, statuses=(AUTHORISED, CONSUMED))`, the service refusing a consumed
consent itself; the retry's claim meets the first request's key before the service runs.

Misuse fails loudly (IdempotencyMisuse, a 500 in every test that exercises it): a view under
`@idempotent` that returns successfully without `claim` + `respond`, or returns something
other than the Response `respond` built; `claim` outside `@idempotent`, twice, or after other
writes; `respond` after the transaction it claimed in was committed.

Expired rows (older than KEEP) are swept by the beat task `ob.sweep_idempotency_keys`; until
then an expired row is removed when its key comes back, and the request runs afresh.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable

from celery import shared_task
from flask import Response, current_app, g, request
from sqlalchemy import ForeignKey, Integer, String, Text, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from . import obapi, platform
from .db import Base, UnitOfWork
from .ob_signing import caller_client_pk
from .obapi import ErrorCode
from .types import BigPK, UTCDateTime

log = logging.getLogger("aspsp.idempotency")

KEEP = timedelta(hours=24)
HEADER = "x-idempotency-key"
SWEEP_TASK = "ob.sweep_idempotency_keys"
MAX_ATTEMPTS = 3        # a key whose expired row is removed meanwhile is tried again


class IdempotencyKey(Base):
    """A POST's x-idempotency-key and the response it got, committed with the resource."""
    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("client_pk", "resource_type", "key"),)
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"))
    resource_type: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(40))
    request_hash: Mapped[str] = mapped_column(String(64))       # SHA-256 of the raw body, hex
    status: Mapped[int | None] = mapped_column(Integer)         # set by respond(), same commit
    body: Mapped[str | None] = mapped_column(Text)              # the response body as sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class IdempotencyMisuse(RuntimeError):
    """A view under @idempotent broke the protocol (see the module docstring)."""


class KeyAlreadyUsed(Exception):
    """The claim's INSERT met the unique constraint: another request holds the key."""


@dataclass
class Claim:
    """The current request's key, as @idempotent found it; `claim` inserts it."""
    client_pk: int
    resource_type: str
    key: str
    request_hash: str
    now: datetime
    row: IdempotencyKey | None = None
    transaction: object | None = None
    session: object | None = None
    response: Response | None = field(default=None, repr=False)

    def respond(self, status: int, body: dict | list | str | bytes) -> Response:
        """Store the response in the claimed row (same transaction, before its commit) and
        return it as the Response the view must return. `body`: JSON-serialisable, or the
        JSON text/bytes already encoded."""
        if self.row is None:
            raise IdempotencyMisuse("respond() before claim()")
        if self.response is not None:
            raise IdempotencyMisuse("respond() called twice")
        if self.session.get_transaction() is not self.transaction:
            raise IdempotencyMisuse("respond() after the claiming transaction ended: store "
                                    "the response before the commit")
        if isinstance(body, bytes):
            text = body.decode("utf-8")
        elif isinstance(body, str):
            text = body
        else:
            text = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        self.row.status, self.row.body = int(status), text
        self.session.flush()
        self.response = _response(self.row.status, text)
        return self.response


def claim(uow: UnitOfWork) -> Claim:
    """INSERT the current request's key: the first write of the unit of work that creates the
    resource. Raises KeyAlreadyUsed (handled by @idempotent) when another request has it."""
    current: Claim | None = g.get("ob_idempotency")
    if current is None:
        raise IdempotencyMisuse("claim() outside a view decorated with @idempotent")
    if current.row is not None:
        raise IdempotencyMisuse("claim() called twice")
    session = uow.session
    if session.new or session.dirty or session.deleted:
        raise IdempotencyMisuse("claim() must be the first write of the unit of work")
    row = IdempotencyKey(client_pk=current.client_pk, resource_type=current.resource_type,
                         key=current.key, request_hash=current.request_hash,
                         created_at=current.now, expires_at=current.now + KEEP)
    session.add(row)
    try:
        session.flush()
    except IntegrityError:
        raise KeyAlreadyUsed(current.key) from None
    current.row, current.session = row, session
    current.transaction = session.get_transaction()
    return current


Current = Callable[[dict], "dict | bytes | None"]


def idempotent(resource_type: str, current: Current | None = None):
    """Decorate a POST view (below the consent gate's decorator) that creates a resource of
    `resource_type`: x-idempotency-key required; a repeat gets the first response's status
    and `current(stored body)`, the resource as it is now (the first body when None)."""
    if not resource_type or len(resource_type) > 64:
        raise ValueError("resource_type: 1 to 64 characters")

    def decorate(view):
        @functools.wraps(view)
        def guarded(*args, **kwargs):
            key = obapi.idempotency_key(required=True)
            client_pk = caller_client_pk()
            request_hash = hashlib.sha256(request.get_data(cache=True)).hexdigest()
            for _ in range(MAX_ATTEMPTS):
                pending = Claim(client_pk, resource_type, key, request_hash,
                                platform.current().clock.now())
                g.ob_idempotency = pending
                try:
                    result = view(*args, **kwargs)
                except KeyAlreadyUsed:
                    replay = _replay(pending)
                    if replay is not None:
                        return _current(replay, current)
                    continue          # the row had expired and is gone: run afresh
                finally:
                    g.pop("ob_idempotency", None)
                _check_protocol(pending, result)
                return result
            raise IdempotencyMisuse(f"x-idempotency-key {key!r} kept conflicting")
        return guarded
    return decorate


def _check_protocol(pending: Claim, result) -> None:
    if pending.response is not None and result is pending.response:
        return
    if isinstance(result, Response) and result.status_code >= 400 and pending.row is None:
        return                      # an error answered without creating anything
    raise IdempotencyMisuse("an @idempotent view must claim(), respond() and return the "
                            "Response respond() built")


def _current(replay: Response, current: Current | None) -> Response:
    """The replayed status with the resource read again (outside the replay's transaction)."""
    if current is None:
        return replay
    body = current(json.loads(replay.get_data()))
    if body is None:
        return replay
    return _response(replay.status_code, body if isinstance(body, bytes)
                     else json.dumps(body, separators=(",", ":"), ensure_ascii=False))


def _replay(pending: Claim) -> Response | None:
    """The stored response for a key another request holds; None when that row had expired
    (it is removed here, atomically, so that the request can run afresh)."""
    p = platform.current()
    with p.uow() as uow:
        row = uow.session.scalars(select(IdempotencyKey).where(
            IdempotencyKey.client_pk == pending.client_pk,
            IdempotencyKey.resource_type == pending.resource_type,
            IdempotencyKey.key == pending.key)).one_or_none()
        if row is None:
            return None
        if row.expires_at <= pending.now:
            uow.session.execute(delete(IdempotencyKey).where(
                IdempotencyKey.id == row.id, IdempotencyKey.expires_at <= pending.now))
            uow.commit()
            return None
        if row.request_hash != pending.request_hash:
            log.warning("x-idempotency-key reused with another body", extra={"fields": {
                "client_pk": pending.client_pk, "resource_type": pending.resource_type}})
            raise obapi.bad_request(
                ErrorCode.HEADER_INVALID, "this x-idempotency-key was used in the last 24 "
                "hours with another request body; a new request needs a new key", HEADER)
        if row.status is None or row.body is None:
            raise IdempotencyMisuse("a committed idempotency key has no stored response")
        return _response(row.status, row.body)


def _response(status: int, body: str | bytes) -> Response:
    return current_app.response_class(body, status=status, mimetype=obapi.JSON)


def sweep(uow: UnitOfWork, now: datetime) -> int:
    """Delete the keys older than KEEP; how many."""
    result = uow.session.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at <= now))
    return result.rowcount or 0


@shared_task(name=SWEEP_TASK, acks_late=True)
def sweep_idempotency_keys() -> int:
    p = platform.current()
    with p.uow() as uow:
        swept = sweep(uow, p.clock.now())
        uow.commit()
    return swept


__all__ = ["Claim", "IdempotencyKey", "IdempotencyMisuse", "KEEP", "claim", "idempotent",
           "sweep"]
