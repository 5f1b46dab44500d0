"""Open Banking Confirmation of Funds API (CoF), v3.1.11: funds-confirmation consents and the
yes/no answers they allow a CBPII to ask for. One flask-smorest blueprint (views), its
schemas, the rules of a request as pure functions (domain), use cases (services) over queries
(repository); responses are plain dicts sent by aspsp.obapi.json_response."""
from __future__ import annotations

from flask import Flask


def init_app(app: Flask) -> None:
    from . import views
    views.init_app(app)
