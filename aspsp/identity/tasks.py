"""Background work of the customer logins: the sweep of ended sessions and quiet login counts
(also done at every login step; the beat schedule, aspsp/tasks.py, runs it every 15 minutes so
that anonymous sessions do not pile up between logins)."""
from __future__ import annotations

from celery import shared_task

from .. import platform
from . import sessions

SWEEP_SESSIONS = "identity.sweep_sessions"


@shared_task(name=SWEEP_SESSIONS, acks_late=True)
def sweep_sessions() -> int:
    p = platform.current()
    with p.uow() as uow:
        swept = sessions.sweep(uow, p.clock.now(), p.config)
        uow.commit()
    return swept
