"""PSU credentials, SCA factors and login sessions."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import cli, services, tasks  # noqa: F401  (registers the Celery tasks)
    cli.init_app(app)
    # The stand-in hash an unknown username is checked against is made now, not by the first
    # such login, which would otherwise take twice as long as any other and tell the name
    # apart (one argon2 hash, once per process).
    services.dummy_hash()
