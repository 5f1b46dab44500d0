"""PSU credentials, SCA factors and login sessions."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import cli, tasks  # noqa: F401  (registers the Celery tasks)
    cli.init_app(app)
