"""Open Banking Variable Recurring Payments API (VRP), v3.1.11: domestic VRP consents with
their control parameters, and the payments they allow, each checked against every limit under
the consent's row lock and executed through the ledger by payment initiation's own execution
task. One flask-smorest blueprint (views), its schemas, the rules of control parameters and
periods as pure functions (domain), use cases (services) over queries (repository)."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from ..ledger import dispatch
    from ..pis import services as pis_services
    from . import services, views
    views.init_app(app)
    # on pis.execute_payment_order, and in its sweep of stuck orders
    pis_services.executes_too(services.execute_vrp, pending=services.pending_vrps)
    dispatch.on_settlement(services.payment_settled)   # its resource-update event
