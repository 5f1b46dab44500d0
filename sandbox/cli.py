"""`flask sandbox ...`"""
from __future__ import annotations

from flask import Flask
from flask.cli import AppGroup

sandbox_cli = AppGroup("sandbox", help="Sandbox data and tools.")


def init_app(app: Flask) -> None:
    app.cli.add_command(sandbox_cli)
