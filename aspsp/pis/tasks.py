"""Background work of payment initiation: executing a submitted payment order through the
ledger. Idempotent (an order no longer Pending is left alone), acknowledged late, retried
only when the database was briefly unreachable. Sent by name after the submission commits."""
from __future__ import annotations

from celery import shared_task
from sqlalchemy.exc import OperationalError

from .. import platform
from . import services


@shared_task(name=services.EXECUTE_ORDER, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=5)
def execute_payment_order(payment_order_id: str) -> str | None:
    p = platform.current()
    with p.uow() as uow:
        status = services.execute_order(uow, payment_order_id, p.clock.now())
        uow.commit()
        return status
