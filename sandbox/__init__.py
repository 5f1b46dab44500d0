"""The sandbox: seed data, the test directory, scenario users and magic values."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import cli
    cli.init_app(app)
