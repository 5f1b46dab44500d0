"""Open Banking Payment Initiation API (PIS), v3.1.11: payment consents and the payments
they allow, executed through the ledger. One flask-smorest blueprint (views), its schemas,
the rules of a payment order as pure functions (domain), use cases (services) over queries
(repository), and the Celery task that executes an order (tasks); responses are plain
dicts sent by aspsp.obapi.json_response."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from ..ledger import dispatch, schedules
    from . import services, tasks, views  # noqa: F401  (tasks: registers the execution task)
    views.init_app(app)
    dispatch.on_settlement(services.payment_settled)   # its resource-update event
    schedules.on_instalment(services.instalment_charge)   # the charges of its schedules
    schedules.on_executed(services.instalment_executed)   # each instalment's resource-update
