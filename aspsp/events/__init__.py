"""Open Banking Event Notification API v3.1.11: a client's event subscription, the events the
bank raises for it (signed Security Event Tokens, RFC 8417), pushed to its callback URL and
served by aggregated polling over the same outbox.

`publish` is the one way a context raises an event: it writes the event in the caller's unit
of work (so it exists exactly when the change that caused it commits) and sends its delivery
after the commit. Never called from an API view: the services that change state call it.
"""
from __future__ import annotations

from datetime import datetime

from flask import Flask

from ..db import UnitOfWork
from .domain import (ACCOUNT_CLOSURE, BANK_REVOCATION_REASONS, CASS,
                     CONSENT_AUTHORIZATION_REVOKED, LINKED_ACCOUNT_UPDATE, RESOURCE_UPDATE,
                     consent_resource, payment_resource)
from .services import publish

__all__ = ["ACCOUNT_CLOSURE", "BANK_REVOCATION_REASONS", "CASS",
           "CONSENT_AUTHORIZATION_REVOKED", "LINKED_ACCOUNT_UPDATE", "RESOURCE_UPDATE",
           "consent_authorization_revoked", "init_app", "linked_account_update",
           "payment_status_changed", "publish"]


def consent_authorization_revoked(uow: UnitOfWork, *, client_pk: int, consent_type: str,
                                  consent_id: str, now: datetime,
                                  reason: str | None = None) -> str | None:
    """An authorised consent stopped being so without its TPP asking: the customer revoked it,
    it expired, or the bank revoked it (`reason`: one of BANK_REVOCATION_REASONS' codes)."""
    rty, path = consent_resource(consent_type, consent_id)
    return publish(uow, client_pk=client_pk, event_type=CONSENT_AUTHORIZATION_REVOKED,
                   rty=rty, rid=consent_id, path=path, now=now, reason=reason)


def linked_account_update(uow: UnitOfWork, *, client_pk: int, consent_id: str,
                          now: datetime, reason: str | None = None) -> str | None:
    """An account behind an authorised account-access consent moved out of its scope
    (`reason`: UK.OBIE.AccountClosure, UK.OBIE.CASS)."""
    rty, path = consent_resource("account-access", consent_id)
    return publish(uow, client_pk=client_pk, event_type=LINKED_ACCOUNT_UPDATE, rty=rty,
                   rid=consent_id, path=path, now=now, reason=reason)


def payment_status_changed(uow: UnitOfWork, *, client_pk: int, order_type: str,
                           payment_id: str, now: datetime) -> str | None:
    """A payment resource's status changed after its TPP created it."""
    rty, path = payment_resource(order_type, payment_id)
    return publish(uow, client_pk=client_pk, event_type=RESOURCE_UPDATE, rty=rty,
                   rid=payment_id, path=path, now=now)


def init_app(app: Flask) -> None:
    from . import tasks, views  # noqa: F401  (tasks: registers the delivery tasks)
    views.init_app(app)
