"""Background work of the ledger. Tasks are idempotent, acknowledged late, and retried only
for failures that a retry can cure (the database being briefly unreachable). Tasks call the
services; the services send tasks by name through `dispatch`, never by importing this module."""
from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from sqlalchemy.exc import OperationalError

from .. import platform
from . import dispatch, services
from .domain import PaymentStatus

log = logging.getLogger(__name__)


@shared_task(name=dispatch.SETTLE_PAYMENT, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5)
def settle_payment_task(payment_id: str) -> str | None:
    """Read what to send, send it to the scheme outside any transaction of ours, book the
    outcome. A delivery that dies after the scheme's answer comes back (acks_late): the
    scheme answers the same payment id with its first outcome, and the booking happens once
    (the payment row locked, its status checked)."""
    p = platform.current()
    with p.uow() as uow:
        submission = services.settlement_submission(uow, payment_id)
    if submission is None:
        return None
    result = p.scheme.submit(submission)
    if result is None:   # held undecided: it stays in process, and the sweep asks again
        return PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS
    with p.uow() as uow:
        payment = services.book_settlement(uow, payment_id, result, now=p.clock.now())
        uow.commit()
        return payment.status if payment else None


@shared_task(name="ledger.settle_stuck_payments", acks_late=True)
def settle_stuck_payments() -> int:
    """A sweep for payments whose settlement message was lost (e.g. a broker restart)."""
    p = platform.current()
    with p.uow() as uow:
        stuck = services.LedgerRepository(uow.session).payments_in_status(
            PaymentStatus.ACCEPTED_SETTLEMENT_IN_PROCESS, p.clock.now() - timedelta(minutes=1))
    for payment_id in stuck:
        settle_payment_task.delay(payment_id)
    return len(stuck)


@shared_task(name="ledger.reconcile_balances", acks_late=True)
def reconcile_balances() -> int:
    p = platform.current()
    with p.uow() as uow:
        problems = services.reconcile_balances(uow)
    for problem in problems:
        log.error("ledger reconciliation problem", extra={"fields": problem.__dict__})
    if not problems:
        log.info("ledger reconciled: every cached balance equals its postings")
    return len(problems)
