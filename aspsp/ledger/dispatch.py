"""The one place the ledger's services hand work to the background.

Services name a task and its arguments; the task is sent only after the unit of work commits
(never for work that rolled back). Services never import `tasks`; `tasks` call services. The
task is looked up by name in the Celery app the platform configured (`aspsp/tasks.py`), so the
eager mode of tests and one-off scripts runs it inline as before.
"""
from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable

from celery import current_app as current_celery

from ..db import UnitOfWork

log = logging.getLogger(__name__)

SETTLE_PAYMENT = "ledger.settle_payment"


# Called in the settling unit of work when settlement changes a payment's status (the payment
# initiation context raises its resource-update event from it); registered by init_app.
_settled_listeners: list[Callable[[UnitOfWork, Any, datetime], None]] = []


def on_settlement(listener: Callable[[UnitOfWork, Any, datetime], None]) -> None:
    """Call `listener(uow, payment, now)` whenever settlement changes a payment's status."""
    if listener not in _settled_listeners:
        _settled_listeners.append(listener)


def settled(uow: UnitOfWork, payment, now: datetime) -> None:
    for listener in list(_settled_listeners):
        listener(uow, payment, now)


# Called in the unit of work that takes a customer account out of service (closed, disabled,
# switched away): the consent context raises account-access-consent-linked-account-update for
# the consents that covered it. Registered by init_app.
_out_of_service_listeners: list[Callable[[UnitOfWork, int, datetime, str | None], None]] = []


def on_account_out_of_service(listener: Callable[[UnitOfWork, int, datetime, str | None],
                                                 None]) -> None:
    """Call `listener(uow, account_pk, now, reason)` when an account leaves service (reason:
    "closure", or "cass" when switched to another bank)."""
    if listener not in _out_of_service_listeners:
        _out_of_service_listeners.append(listener)


def account_out_of_service(uow: UnitOfWork, account_pk: int, now: datetime,
                           reason: str | None) -> None:
    for listener in list(_out_of_service_listeners):
        listener(uow, account_pk, now, reason)


def after_commit(uow: UnitOfWork, task_name: str, *args) -> None:
    """Send the task `task_name` with `args` once `uow` has committed."""
    uow.on_commit(lambda: send(task_name, *args))


def send(task_name: str, *args) -> None:
    """Send a task whose work is already committed. A broker that refuses it (down, full)
    must not turn the caller's committed request into an error: the failure is logged and the
    periodic sweeps (stuck payments, due schedules) send the work again. In eager mode (tests,
    one-off scripts) the task runs inline and its own errors propagate as before."""
    task = current_celery.tasks[task_name]
    if current_celery.conf.task_always_eager:
        task.delay(*args)
        return
    try:
        task.delay(*args)
    except Exception:  # noqa: BLE001 (any broker failure; the sweep resends)
        log.exception("could not send a committed task to the broker; the sweep will resend it",
                      extra={"fields": {"task": task_name}})
