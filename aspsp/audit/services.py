"""Writing, verifying and exporting the audit trail.

`record(uow, event_type, actor, ...)` is called by a use case inside its unit of work; the
record is written by that unit of work's own commit, in the same transaction as the change
(a rolled-back change leaves no record). The append happens as late as possible: at the
commit (a `before_commit` hook on the session), the chain head row is locked
(`SELECT ... FOR UPDATE` on PostgreSQL; SQLite's writers are serialised by BEGIN IMMEDIATE),
the pending records get the next sequence numbers, each hashing the one before, and the head
moves to the last. So concurrent transactions queue only for the few statements between the
lock and their commit, and never fork the chain.

Where from and which interaction: read from the request being served, if any (the client
address as aspsp.proxy's trusted-proxy middleware resolved it, and the x-fapi-interaction-id
the OB API conventions set in `g`). Facts are a small JSON of what happened; keys that name a
secret (tokens, passwords, one-time codes, client secrets, full account numbers) are refused.
"""
from __future__ import annotations

import getpass
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator, Mapping

from sqlalchemy import bindparam, event, func, select, update
from sqlalchemy.orm import Session

from ..clock import ensure_utc
from . import chain
from .models import AuditAuditor, AuditChainHead, AuditRecord

PENDING = "audit.pending"
HEAD_ID = 1
# Facts keys that would carry a secret; `record` refuses them (a programming error).
SECRET_KEY = re.compile(r"(^|_)(token|password|passwd|secret|otp|totp|code|pin|assertion|"
                        r"identification|account_number|iban|pan)($|_)", re.IGNORECASE)
# A code that is not a secret may still be recorded under one of these names.
ALLOWED_KEYS = {"status_code", "reason_code", "error_code", "currency_code"}


@dataclass(frozen=True)
class Actor:
    """Who did it: a customer (PSU id), a client (OAuth client_id), a developer (portal
    developer id), an operator (the OS user running a CLI command) or the system (which
    part of it, e.g. the settlement worker)."""
    type: str
    id: str

    @classmethod
    def customer(cls, psu_id: str) -> "Actor":
        return cls("customer", str(psu_id))

    @classmethod
    def client(cls, client_id: str) -> "Actor":
        return cls("client", str(client_id))

    @classmethod
    def developer(cls, developer_id: str) -> "Actor":
        return cls("developer", str(developer_id))

    @classmethod
    def operator(cls, name: str | None = None) -> "Actor":
        if name is None:
            try:
                name = getpass.getuser()
            except Exception:  # no user name in the environment (a container)
                name = "unknown"
        return cls("operator", name)

    @classmethod
    def system(cls, part: str) -> "Actor":
        return cls("system", part)


class SecretInFacts(ValueError):
    pass


def check_facts(facts: Mapping[str, Any], path: str = "") -> None:
    for key, value in facts.items():
        if SECRET_KEY.search(str(key)) and str(key).lower() not in ALLOWED_KEYS:
            raise SecretInFacts(f"audit facts may not hold {path}{key}")
        if isinstance(value, Mapping):
            check_facts(value, f"{path}{key}.")


def masked(identification: str | None) -> str | None:
    """An account number as the trail may keep it: its last four characters."""
    if not identification:
        return None
    return "…" + str(identification)[-4:]


def _request_origin() -> tuple[str | None, str | None]:
    from flask import g, has_request_context, request
    if not has_request_context():
        return None, None
    interaction = getattr(g, "interaction_id", None)
    if interaction is None:
        from ..obapi import is_interaction_id
        given = request.headers.get("x-fapi-interaction-id")
        interaction = given if is_interaction_id(given) else None
    return (request.remote_addr or None), interaction


def record(uow, event_type: str, actor: Actor, *, now: datetime, subject: str | None = None,
           facts: Mapping[str, Any] | None = None, client_ip: str | None = None,
           interaction_id: str | None = None) -> None:
    """Audit `event_type` in `uow`'s transaction: written at its commit, gone with its
    rollback. The address and interaction id default to the request being served."""
    install()
    facts = dict(facts or {})
    check_facts(facts)
    ip, interaction = _request_origin()
    if not uow.session.in_transaction():
        uow.session.begin()   # so that a rollback before any statement drops it too
    pending = uow.session.info.setdefault(PENDING, [])
    pending.append({
        "occurred_at": ensure_utc(now).isoformat(timespec="microseconds"),
        "event_type": event_type, "actor_type": actor.type, "actor_id": actor.id[:254],
        "subject": None if subject is None else str(subject)[:128],
        "client_ip": (client_ip or ip or None) and str(client_ip or ip)[:64],
        "interaction_id": (interaction_id or interaction or None)
        and str(interaction_id or interaction)[:64],
        "facts": json.loads(chain.canonical(facts)),   # JSON values only, as hashed
    })


# The append's three statements, built once. Core, not the ORM: an append is on the path of
# every audited commit (every token issued), and the ORM's flush of a head object and a
# record object cost that path about a fifth of a token's CPU (bench/README.md). No ORM
# object of the head is ever kept, so none can go stale in a session that committed before.
_HEAD = select(AuditChainHead.seq, AuditChainHead.hash).where(AuditChainHead.id == HEAD_ID)
_LOCK_HEAD = _HEAD.with_for_update()
_INSERT_RECORDS = AuditRecord.__table__.insert()
_MOVE_HEAD = (update(AuditChainHead.__table__)
              .where(AuditChainHead.__table__.c.id == HEAD_ID)
              .values(seq=bindparam("new_seq"), hash=bindparam("new_hash")))


def _append_pending(session: Session) -> None:
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    # The transaction's own changes first, so that every row lock it needs is taken before
    # the head's: holding the head, it then only inserts records and updates the head, and
    # can never wait for a row that a transaction queued on the head holds (no deadlock).
    session.flush()
    seq, prev = session.execute(_LOCK_HEAD).one()
    records = []
    for fields in pending:
        seq += 1
        fields = {**fields, "seq": seq}
        digest = chain.record_hash(fields, prev)
        records.append({
            "seq": seq, "occurred_at": datetime.fromisoformat(fields["occurred_at"]),
            "event_type": fields["event_type"], "actor_type": fields["actor_type"],
            "actor_id": fields["actor_id"], "subject": fields["subject"],
            "client_ip": fields["client_ip"], "interaction_id": fields["interaction_id"],
            "facts": chain.canonical(fields["facts"]), "prev_hash": prev, "hash": digest})
        prev = digest
    session.execute(_INSERT_RECORDS, records)
    session.execute(_MOVE_HEAD, {"new_seq": seq, "new_hash": prev})


def _drop_pending(session: Session, previous_transaction) -> None:
    if not previous_transaction.nested:
        session.info.pop(PENDING, None)


def install() -> None:
    """Hook the append into every session's commit (idempotent)."""
    if not event.contains(Session, "before_commit", _append_pending):
        event.listen(Session, "before_commit", _append_pending)
        event.listen(Session, "after_soft_rollback", _drop_pending)


# --- reading --------------------------------------------------------------------------------

def as_fields(row: AuditRecord) -> dict[str, Any]:
    """A stored record as the chain hashes it (and as an export writes it)."""
    return {"seq": row.seq, "occurred_at": ensure_utc(row.occurred_at)
            .isoformat(timespec="microseconds"),
            "event_type": row.event_type, "actor_type": row.actor_type,
            "actor_id": row.actor_id, "subject": row.subject, "client_ip": row.client_ip,
            "interaction_id": row.interaction_id, "facts": _facts(row.facts),
            "prev_hash": row.prev_hash, "hash": row.hash}


def _facts(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text   # not JSON any more: the hash check will name the record


def _rows(uow, first: int = 1, last: int | None = None) -> Iterator[AuditRecord]:
    query = select(AuditRecord).where(AuditRecord.seq >= first).order_by(AuditRecord.seq)
    if last is not None:
        query = query.where(AuditRecord.seq <= last)
    yield from uow.session.scalars(query.execution_options(yield_per=1000))


@dataclass(frozen=True)
class Verdict:
    count: int
    last_hash: str
    problem: chain.Break | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify(uow) -> Verdict:
    """Recompute the whole chain from the genesis; the first break, if any. The head row
    must then name the last record (a removed tail is a break too)."""
    problem, count, last = chain.first_break(as_fields(row) for row in _rows(uow))
    if problem is None:
        head = uow.session.execute(_HEAD).one_or_none()
        if head is None:
            problem = chain.Break(count + 1, "the chain head is missing")
        elif head.seq != count:
            problem = (chain.Break(count + 1, f"is missing (the chain head says the last "
                                   f"record is {head.seq})") if head.seq > count else
                       chain.Break(head.seq + 1, f"is not in the chain head (which ends at "
                                   f"record {head.seq})"))
        elif head.hash != last:
            problem = chain.Break(count, "is not the record the chain head names (hash "
                                  "differs)")
    return Verdict(count=count, last_hash=last, problem=problem)


def period(uow, start: datetime, end: datetime) -> tuple[int, int] | None:
    """The records of [start, end) as one unbroken run of sequence numbers, reading the chain
    in order: from the first record at or after `start` up to the last before the first
    record at or after `end`. (With a clock that never goes back this is exactly the records
    of the period; a record whose time is out of order inside the run stays in it, as the
    chain needs it.) None when the period holds no record."""
    first = uow.session.scalar(select(func.min(AuditRecord.seq))
                               .where(AuditRecord.occurred_at >= start))
    if first is None:
        return None
    stop = uow.session.scalar(select(func.min(AuditRecord.seq))
                              .where(AuditRecord.seq >= first, AuditRecord.occurred_at >= end))
    last = stop - 1 if stop is not None else uow.session.scalar(
        select(func.max(AuditRecord.seq)))
    return (first, last) if last >= first else None


def export(uow, start: datetime, end: datetime) -> Iterator[dict[str, Any]]:
    """The records of [start, end) with their hashes, in order: with the first one's
    prev_hash an auditor can verify the period offline (aspsp.audit.chain)."""
    span = period(uow, start, end)
    if span is None:
        return
    yield from (as_fields(row) for row in _rows(uow, *span))


def tail(uow, count: int) -> list[dict[str, Any]]:
    rows = uow.session.scalars(select(AuditRecord).order_by(AuditRecord.seq.desc())
                               .limit(count))
    return [as_fields(row) for row in reversed(list(rows))]


# --- auditors -------------------------------------------------------------------------------

def is_auditor(uow, developer_pk: int) -> bool:
    return uow.session.scalar(select(AuditAuditor.id).where(
        AuditAuditor.developer_pk == developer_pk)) is not None


def grant_auditor(uow, developer, by: Actor, now: datetime) -> bool:
    """Make a portal developer an auditor; False if they already were. Audited."""
    if is_auditor(uow, developer.id):
        return False
    uow.session.add(AuditAuditor(developer_pk=developer.id, granted_by=f"{by.type}:{by.id}",
                                 granted_at=now))
    record(uow, "admin.auditor_granted", by, now=now, subject=developer.developer_id,
           facts={"developer_id": developer.developer_id})
    return True


def revoke_auditor(uow, developer, by: Actor, now: datetime) -> bool:
    """Take the auditor role away; False if they had none. Audited."""
    found = uow.session.scalar(select(AuditAuditor).where(
        AuditAuditor.developer_pk == developer.id))
    if found is None:
        return False
    uow.session.delete(found)
    record(uow, "admin.auditor_revoked", by, now=now, subject=developer.developer_id,
           facts={"developer_id": developer.developer_id})
    return True
