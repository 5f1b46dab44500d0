"""How the events context hands delivery to the background: the task is named and sent only
after the unit of work commits (aspsp.ledger.dispatch's pattern), looked up by name in the
Celery app the platform configured, so services never import `tasks`."""
from __future__ import annotations

from celery import current_app as current_celery

from ..db import UnitOfWork

DELIVER_EVENT = "events.deliver"
DELIVER_DUE = "events.deliver_due"


def after_commit(uow: UnitOfWork, task_name: str, *args) -> None:
    uow.on_commit(lambda: current_celery.tasks[task_name].delay(*args))


def send_later(task_name: str, *args, countdown: float) -> None:
    """Send the task after `countdown` seconds; in eager mode (tests, one-off scripts) not at
    all: the sweep (DELIVER_DUE, on the beat) sends every due retry."""
    if not current_celery.conf.task_always_eager:
        current_celery.tasks[task_name].apply_async(args, countdown=max(countdown, 0))
