"""How the events context hands delivery to the background: the task is named and sent only
after the unit of work commits, looked up by name in the Celery app the platform configured,
so services never import `tasks` (aspsp.ledger.dispatch's pattern and its `send`: a broker
that refuses the task is logged, never an error for the committed caller; the beat's
events.deliver_due sends the event then)."""
from __future__ import annotations

from celery import current_app as current_celery

from ..db import UnitOfWork
from ..ledger.dispatch import send

DELIVER_EVENT = "events.deliver"
DELIVER_DUE = "events.deliver_due"


def after_commit(uow: UnitOfWork, task_name: str, *args) -> None:
    uow.on_commit(lambda: send(task_name, *args))


def send_later(task_name: str, *args, countdown: float) -> None:
    """Send the task after `countdown` seconds; in eager mode (tests, one-off scripts) not at
    all: the sweep (DELIVER_DUE, on the beat) sends every due retry."""
    if not current_celery.conf.task_always_eager:
        current_celery.tasks[task_name].apply_async(args, countdown=max(countdown, 0))
