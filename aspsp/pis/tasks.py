"""Background work of payment initiation: executing a submitted payment order through the
ledger. Idempotent (an order no longer Pending is left alone), acknowledged late, retried
only when the database was briefly unreachable. Sent by name after the submission commits."""
from __future__ import annotations

from datetime import timedelta

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


@shared_task(name="pis.execute_stuck_orders", acks_late=True)
def execute_stuck_orders() -> int:
    """A sweep (beat, every minute) for domestic and international payment orders still
    Pending a minute after their submission: their execution message was lost (the broker
    down at the commit, a restart). Executing twice is harmless: an order no longer Pending is left alone."""
    p = platform.current()
    with p.uow() as uow:
        stuck = services.pending_orders(uow, p.clock.now() - timedelta(minutes=1))
    for payment_order_id in stuck:
        execute_payment_order.delay(payment_order_id)
    return len(stuck)
