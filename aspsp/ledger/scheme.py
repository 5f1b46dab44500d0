"""The outbound payment scheme (Faster Payments) behind a small interface.

Production plugs a real gateway in here; the sandbox's simulated scheme accepts every
payment except the documented magic values, so TPP developers can test rejections.

Every submission carries an idempotency key (the ledger payment's id): a scheme pays a key
once. A settlement task that crashed after the scheme accepted the payment but before its
own transaction committed is redelivered and submits again; the scheme answers with the
outcome it gave the first time and moves no money twice. The simulated scheme keeps what it
accepted in its own table, written in its own transaction (as an outside system would keep
it: the bank's rollback does not undo it).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Mapping, Protocol

from sqlalchemy import Boolean, String, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from ..db import Base, Database
from ..types import UTCDateTime


@dataclass(frozen=True)
class SchemeSubmission:
    payment_id: str
    amount: str           # decimal string
    currency: str
    creditor: Mapping[str, Any]
    reference: str | None
    end_to_end_identification: str | None

    @property
    def idempotency_key(self) -> str:
        """The ledger payment's id: unique per payment (a TPP's EndToEndIdentification need
        not be, and is passed on as the payment's end-to-end reference)."""
        return self.payment_id


@dataclass(frozen=True)
class SchemeResult:
    accepted: bool
    scheme_reference: str | None = None
    reason: str | None = None


class PaymentScheme(Protocol):
    name: str

    def submit(self, submission: SchemeSubmission) -> SchemeResult | None:
        """The scheme's outcome, or None while it holds the payment undecided."""


class SimulatedSchemeRecord(Base):
    """What the simulated Faster Payments scheme accepted or refused, once per key."""
    __tablename__ = "simulated_scheme_submissions"
    idempotency_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    end_to_end_identification: Mapped[str | None] = mapped_column(String(35))
    amount: Mapped[str] = mapped_column(String(32))
    currency: Mapped[str] = mapped_column(String(3))
    creditor_identification: Mapped[str] = mapped_column(String(256))
    accepted: Mapped[bool] = mapped_column(Boolean)
    scheme_reference: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(500))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SimulatedFasterPayments:
    """Settles at once. Creditor account number 99999999 is rejected by the 'receiving bank';
    the magic values are listed in README.md for sandbox users. `db` holds the scheme's own
    record of submissions (each in a transaction of its own); `after_record` (sandbox tests
    only) runs once a submission is recorded, before the bank's transaction goes on."""

    name = "simulated-faster-payments"
    REJECTED_ACCOUNT_NUMBER = "99999999"

    def __init__(self, db: Database | None = None,
                 after_record: Callable[[SchemeSubmission], None] | None = None):
        self.db = db
        self.after_record = after_record

    def decide(self, submission: SchemeSubmission) -> SchemeResult:
        identification = str(submission.creditor.get("identification", ""))
        if identification.endswith(self.REJECTED_ACCOUNT_NUMBER):
            return SchemeResult(False, reason="Beneficiary account closed (simulated rejection)")
        return SchemeResult(True, scheme_reference=f"FPS{submission.payment_id[:8].upper()}")

    def submit(self, submission: SchemeSubmission) -> SchemeResult:
        if self.db is None:
            return self.decide(submission)
        result = self._record(submission)
        if self.after_record is not None:
            self.after_record(submission)
        return result

    def submissions(self, key: str) -> SimulatedSchemeRecord | None:
        with self.db.uow() as uow:
            return uow.session.get(SimulatedSchemeRecord, key)

    def _record(self, submission: SchemeSubmission) -> SchemeResult:
        """The outcome given to this key before, or a new one recorded for it. The record
        is inserted first (a key is nearly always new): a key seen before, or two
        submissions of one key at once, fail on the key and read the first outcome."""
        key = submission.idempotency_key
        with self.db.uow() as uow:
            result = self.decide(submission)
            uow.session.add(SimulatedSchemeRecord(
                idempotency_key=key,
                end_to_end_identification=submission.end_to_end_identification,
                amount=submission.amount, currency=submission.currency,
                creditor_identification=str(submission.creditor.get("identification", "")),
                accepted=result.accepted, scheme_reference=result.scheme_reference,
                reason=result.reason, received_at=datetime.now(timezone.utc)))
            try:
                uow.commit()
            except IntegrityError:
                uow.rollback()
                return _result_of(uow.session.scalars(select(SimulatedSchemeRecord).where(
                    SimulatedSchemeRecord.idempotency_key == key)).one())
            return result


def _result_of(record: SimulatedSchemeRecord) -> SchemeResult:
    return SchemeResult(record.accepted, record.scheme_reference, record.reason)


def scheme_from_config(config: Mapping[str, Any], db: Database | None = None) -> PaymentScheme:
    name = config.get("PAYMENT_SCHEME", "simulated")
    if name == "simulated":
        return SimulatedFasterPayments(db, after_record=_pause_hook(config))
    raise ValueError(f"unknown PAYMENT_SCHEME {name!r}")


def _pause_hook(config: Mapping[str, Any]) -> Callable[[SchemeSubmission], None] | None:
    """SANDBOX_SETTLEMENT_PAUSE_FILE (sandbox only): once the scheme has recorded a
    submission, write `<file>.reached` and wait while `<file>` exists. A test kills the
    worker there, between the scheme's acceptance and the bank's commit."""
    path = config.get("SANDBOX_SETTLEMENT_PAUSE_FILE")
    if not path:
        return None
    if not config.get("SANDBOX_ENABLED"):
        raise ValueError("SANDBOX_SETTLEMENT_PAUSE_FILE is a sandbox setting")
    import os
    import time

    def pause(submission: SchemeSubmission) -> None:
        with open(f"{path}.reached", "w") as marker:
            marker.write(submission.idempotency_key)
        while os.path.exists(path):
            time.sleep(0.1)
    return pause
