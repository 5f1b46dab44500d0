"""The one place the ledger's services hand work to the background.

Services name a task and its arguments; the task is sent only after the unit of work commits
(never for work that rolled back). Services never import `tasks`; `tasks` call services. The
task is looked up by name in the Celery app the platform configured (`aspsp/tasks.py`), so the
eager mode of tests and one-off scripts runs it inline as before.
"""
from __future__ import annotations

from celery import current_app as current_celery

from ..db import UnitOfWork

SETTLE_PAYMENT = "ledger.settle_payment"


def after_commit(uow: UnitOfWork, task_name: str, *args) -> None:
    """Send the task `task_name` with `args` once `uow` has committed."""
    uow.on_commit(lambda: current_celery.tasks[task_name].delay(*args))
