"""Open Banking Account and Transaction API (AIS), v3.1.11: the resources an authorised
account-access consent lets its TPP read. One flask-smorest blueprint (views), its schemas,
use cases (services) over read-only queries (repository), the permission rules of each
payload (shaping), paging and filters, and the customer-not-present limit (access_limit)."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import views
    views.init_app(app)
