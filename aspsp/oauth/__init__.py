"""Authorization server: FAPI 1.0 Advanced and FAPI 2.0 on authlib, with OBIE DCR."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import registration, views
    views.init_app(app)
    registration.init_app(app)
