"""The simulated Faster Payments scheme pays an idempotency key once: a second submission of
the key (a settlement task redelivered after a crash) gets the first outcome back, even when
the scheme would decide otherwise now, and nothing new is recorded."""
from __future__ import annotations

from sqlalchemy import func, select

from aspsp.ledger.scheme import (SchemeSubmission, SimulatedFasterPayments,
                                 SimulatedSchemeRecord)


def submission(payment_id: str, identification: str) -> SchemeSubmission:
    return SchemeSubmission(payment_id=payment_id, amount="10.00", currency="GBP",
                            creditor={"name": "ACME", "scheme": "UK.OBIE.SortCodeAccountNumber",
                                      "identification": identification},
                            reference="INV-1", end_to_end_identification="e2e")


def records(database) -> int:
    with database.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(SimulatedSchemeRecord))


def test_a_key_is_paid_once_and_answered_with_its_first_outcome(database):
    scheme = SimulatedFasterPayments(database)
    first = scheme.submit(submission("pay-1", "20000012345678"))
    assert first.accepted
    # The same key again, even with a creditor the scheme would reject now: the first outcome.
    again = scheme.submit(submission("pay-1", "20000099999999"))
    assert again == first
    assert records(database) == 1


def test_a_rejection_is_kept_for_its_key_too(database):
    scheme = SimulatedFasterPayments(database)
    refused = scheme.submit(submission("pay-2", "20000099999999"))
    assert not refused.accepted and "simulated rejection" in refused.reason
    assert scheme.submit(submission("pay-2", "20000012345678")) == refused
    assert scheme.submit(submission("pay-3", "20000012345678")).accepted
    assert records(database) == 2
