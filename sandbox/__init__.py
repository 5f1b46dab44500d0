"""The sandbox: seed data, the test directory, scenario users and magic values."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import cli, directory_cli, directory_views
    cli.init_app(app)
    directory_cli.init_app(app)
    if app.config["SANDBOX_ENABLED"]:
        app.register_blueprint(directory_views.bp)
