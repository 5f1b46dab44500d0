"""The request log's tests: TPPs that call the platform through the Flask test client, and the
rows their calls leave once the log is flushed (the app's Database is the test's connection:
no writer thread, rows wait for `flush`)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from aspsp.request_log import RequestLogEntry
from tests.integration.consent.conftest import (  # noqa: F401  (fixtures used here)
    Tpp, aisp, make_tpp, other_aisp)

COLUMNS = ("client_id", "method", "path", "query", "interaction_id", "request_type",
           "request_body", "response_type", "response_body")


@pytest.fixture
def logged(app, platform):
    """Flush the app's request log; every row, oldest first."""
    def read(client_id: str | None = None) -> list[RequestLogEntry]:
        app.extensions["request_log"].flush()
        with platform.uow() as uow:
            query = select(RequestLogEntry).order_by(RequestLogEntry.id)
            if client_id is not None:
                query = query.where(RequestLogEntry.client_id == client_id)
            rows = list(uow.session.scalars(query))
            uow.session.expunge_all()
        return rows
    return read


def stored_text(rows) -> str:
    """Everything stored of the rows, as one string (to look for secrets in)."""
    return "\n".join(str(getattr(row, column)) for row in rows for column in COLUMNS)
