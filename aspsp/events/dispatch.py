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


def requeue(client_pk: int, event_pk: int, *, countdown: float) -> None:
    """Send the client's delivery task again (its batch stopped early, or its cap is taken)
    unless one of its tasks is already waiting: that one takes every due event of the client.
    At most one task of a client waits at a time however often its batches are cut short."""
    kicks = _kicks()
    if kicks is not None:
        try:
            if not kicks.set(f"events:deliver:{client_pk}", event_pk, nx=True,
                             ex=KICK_SECONDS + int(countdown)):
                return
        except Exception:  # noqa: BLE001 (Redis unreachable: send the task all the same)
            log.warning("event delivery flag not set; sending the task")
    send_later(DELIVER_EVENT, event_pk, countdown=countdown)


# --- which receivers answer promptly ---------------------------------------------------------
# A client whose receiver answered its last batch promptly (every push a 202 within
# SLOW_PUSH_SECONDS, aspsp.events.tasks) may have up to EVENT_MAX_CONCURRENT_PER_CLIENT pushes
# in flight; any other (slow, failing, or not heard from lately) one push at a time, so that
# a slow or dead receiver holds one worker, never all of them. Noted in Redis for
# PROMPT_SECONDS; without Redis (the embedded broker's single worker, eager tests) nothing is
# known and the configured cap applies.
PROMPT_SECONDS = 300


def answers_promptly(client_pk: int) -> bool | None:
    """True or False as last noted; None without Redis (nothing is known)."""
    kicks = _kicks()
    if kicks is None:
        return None
    try:
        return bool(kicks.exists(f"events:prompt:{client_pk}"))
    except Exception:  # noqa: BLE001 (Redis unreachable: not known to be prompt)
        return False


def note_promptness(client_pk: int, prompt: bool) -> None:
    kicks = _kicks()
    if kicks is None:
        return
    try:
        if prompt:
            kicks.set(f"events:prompt:{client_pk}", 1, ex=PROMPT_SECONDS)
        else:
            kicks.delete(f"events:prompt:{client_pk}")
    except Exception:  # noqa: BLE001 (the note expires by itself)
        log.warning("event receiver promptness not noted")


def begin_delivery(client_pk: int) -> None:
    """Called by the task before it reads its client's due events: later events send again."""
    kicks = _kicks()
    if kicks is not None:
        try:
            kicks.delete(f"events:deliver:{client_pk}")
        except Exception:  # noqa: BLE001 (the flag expires by itself)
            log.warning("event delivery flag not cleared")
