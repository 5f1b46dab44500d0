"""Consent domain: every consent type, its state machine and permissions; the consent
resources; the gate every protected call passes; the PSU approval screens and dashboard."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import api, tasks, web  # noqa: F401  (tasks: registers the expiry sweep)
    api.init_app(app)
    web.init_app(app)
