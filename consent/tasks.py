"""Background work of the consents, each a sweep the beat runs every minute (aspsp/tasks.py):
expiries recorded on time, so that an authorised consent's expiry reaches its TPP as an event
when it happens, not when the consent is next read; and consents their customer did not
authorise within the bank's authorisation window marked Rejected."""
from __future__ import annotations

from celery import shared_task

from aspsp import platform

from . import services

EXPIRE_DUE = "consent.expire_due"
REJECT_OVERDUE = "consent.reject_overdue"


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


@shared_task(name=REJECT_OVERDUE, acks_late=True)
def reject_overdue() -> int:
    p = platform.current()
    window = int(p.config["CONSENT_AUTHORISATION_WINDOW"])
    rejected = 0
    while True:
        with p.uow() as uow:
            batch = services.reject_overdue(uow, p.clock.now(), window)
            uow.commit()
        rejected += batch
        if batch < 500:
            return rejected
