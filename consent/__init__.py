"""Consent domain: every consent type, its state machine and permissions; the consent
resources; the gate every protected call passes; the PSU approval screens and dashboard."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from aspsp.ledger import dispatch

    from . import api, cli, services, tasks, web  # noqa: F401  (tasks: the consent sweeps)
    api.init_app(app)
    web.init_app(app)
    cli.init_app(app)
    dispatch.on_account_out_of_service(services.linked_account_left)  # linked-account-update
