"""How the events context hands delivery to the background: the task is named and sent only
after the unit of work commits, looked up by name in the Celery app the platform configured,
so services never import `tasks` (aspsp.ledger.dispatch's pattern and its `send`: a broker
that refuses the task is logged, never an error for the committed caller; the beat's
events.deliver_due sends the event then)."""
from __future__ import annotations

import logging

from celery import current_app as current_celery

from ..db import UnitOfWork
from ..ledger.dispatch import send

log = logging.getLogger(__name__)

DELIVER_EVENT = "events.deliver"
DELIVER_DUE = "events.deliver_due"


def after_commit(uow: UnitOfWork, task_name: str, *args) -> None:
    uow.on_commit(lambda: send(task_name, *args))


def send_later(task_name: str, *args, countdown: float) -> None:
    """Send the task after `countdown` seconds; in eager mode (tests, one-off scripts) not at
    all: the sweep (DELIVER_DUE, on the beat) sends every due retry."""
    if not current_celery.conf.task_always_eager:
        current_celery.tasks[task_name].apply_async(args, countdown=max(countdown, 0))


# --- one delivery task per client at a time ----------------------------------------------------
# With a Redis broker, a committed event sends its delivery task only when no task of its
# client is waiting: the flag `events:deliver:<client_pk>` (SET NX) says one is. The task
# clears the flag before it reads the client's due events (`begin_delivery`), so an event
# committed after that read finds the flag gone and sends a task of its own: none is left
# behind. A flag whose task was lost expires after KICK_SECONDS; the beat's sweep
# (events.deliver_due, every 15 s) sends whatever is due meanwhile. Without Redis (the
# embedded broker, eager tests) every event sends its task.
KICK_SECONDS = 10
_redis: dict[str, object] = {}


def _kicks():
    url = current_celery.conf.broker_url or ""
    if current_celery.conf.task_always_eager or not url.startswith(("redis://", "rediss://")):
        return None
    if url not in _redis:
        import redis
        _redis[url] = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
    return _redis[url]


def deliver_after_commit(uow: UnitOfWork, client_pk: int, event_pk: int) -> None:
    uow.on_commit(lambda: _kick(client_pk, event_pk))


def _kick(client_pk: int, event_pk: int) -> None:
    kicks = _kicks()
    if kicks is not None:
        try:
            if not kicks.set(f"events:deliver:{client_pk}", event_pk, nx=True,
                             ex=KICK_SECONDS):
                return                      # a task of this client is waiting: it takes this
        except Exception:  # noqa: BLE001 (Redis unreachable: send the task all the same)
            log.warning("event delivery flag not set; sending the task")
    send(DELIVER_EVENT, event_pk)


def begin_delivery(client_pk: int) -> None:
    """Called by the task before it reads its client's due events: later events send again."""
    kicks = _kicks()
    if kicks is not None:
        try:
            kicks.delete(f"events:deliver:{client_pk}")
        except Exception:  # noqa: BLE001 (the flag expires by itself)
            log.warning("event delivery flag not cleared")
