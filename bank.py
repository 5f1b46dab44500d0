"""The Invisible Bank as it is deployed: the platform (`aspsp`, with consent and the developer
portal) and, while SANDBOX_ENABLED is on, the sandbox wired into it.

This is the composition root, the one module that knows both sides: the platform never imports
the sandbox (tests/unit/test_import_rules.py), the sandbox plugs itself into the platform's
registries from its `init_app`. Everything that runs the bank builds it here: `wsgi.py`
(gunicorn, the Celery worker and beat), `flask --app bank ...`, the dev server
(`python -m deploy.devserver`, `make run`), the tests and the benchmarks.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask
from sqlalchemy import MetaData


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The platform from `config` (else the environment), with the sandbox when it is enabled.
    Importing this module builds nothing."""
    from aspsp import create_app as create_platform
    return create_platform(config, extensions=(_sandbox,))


def _sandbox(app: Flask) -> None:
    # Production (SANDBOX_ENABLED off) never imports the sandbox's code.
    if app.config["SANDBOX_ENABLED"]:
        from sandbox import init_app
        init_app(app)


def schema() -> MetaData:
    """Every table the migrations create: the platform's and the sandbox's (a production
    database has the sandbox's tables too, empty), for Alembic and the drift check."""
    from aspsp.models import metadata
    from sandbox import models, test_data_models  # noqa: F401  (their tables join metadata)
    return metadata
