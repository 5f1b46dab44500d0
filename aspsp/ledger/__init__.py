"""Core banking: parties, accounts, the double-entry journal, balances, bank data, payments."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import cli, schedule_tasks, tasks  # noqa: F401  (registers the Celery tasks)
    cli.init_app(app)
