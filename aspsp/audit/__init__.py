"""The audit trail (issue 14): a hash-chained, append-only record of consent, token,
payment, registration and administrative events, written in the same transaction as the
change (services.record), verified by `flask audit verify`, exported for auditors.

    from aspsp import audit
    audit.record(uow, "consent.authorised", audit.Actor.customer(psu_id), now=now,
                 subject=consent_id, facts={...})
"""
from __future__ import annotations

from flask import Flask

from .services import Actor, masked, record  # noqa: F401  (the API the use cases call)


def init_app(app: Flask) -> None:
    from . import cli, services, views
    services.install()
    app.cli.add_command(cli.audit_cli)
    views.init_app(app)
