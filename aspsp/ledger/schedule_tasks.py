"""The beat task that pays scheduled payments and standing orders on their dates.

`ledger.run_schedules` runs every minute (aspsp/tasks.py's beat schedule) and pays everything
due at the platform clock's now (aspsp.ledger.schedules.run_due): idempotent, so a run that
overlaps another, or is delivered twice, pays nothing twice. After the sandbox moves the
clock forward, the next run pays every instalment that fell due meanwhile, in date order.
"""
from __future__ import annotations

import logging

from celery import shared_task
from sqlalchemy.exc import OperationalError

from .. import platform
from . import schedules

log = logging.getLogger(__name__)

RUN_SCHEDULES = "ledger.run_schedules"


@shared_task(name=RUN_SCHEDULES, acks_late=True, autoretry_for=(OperationalError,),
             retry_backoff=True, max_retries=3)
def run_schedules() -> int:
    p = platform.current()
    with p.uow() as uow:
        executions = schedules.run_due(uow, p.clock.now())
    for execution in executions:
        log.info("scheduled payment executed", extra={"fields": {
            "schedule": execution.schedule_id, "instalment": execution.instalment,
            "due": execution.due.isoformat(), "status": execution.status}})
    return len(executions)
