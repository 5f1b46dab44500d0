"""Background work of the consents: the sweep that records expiries on time (beat, every
minute: aspsp/tasks.py), so that an authorised consent's expiry reaches its TPP as an event
when it happens, not when the consent is next read."""
from __future__ import annotations

from celery import shared_task

from aspsp import platform

from . import services

EXPIRE_DUE = "consent.expire_due"


@shared_task(name=EXPIRE_DUE, acks_late=True)
def expire_due() -> int:
    p = platform.current()
    expired = 0
    while True:
        with p.uow() as uow:
            batch = services.expire_due(uow, p.clock.now())
            uow.commit()
        expired += batch
        if batch < 500:
            return expired
