"""The minute expiry sweep (consent.expire_due, which raises consent-authorization-revoked for
authorised consents that expire) reads the partial index ix_consents_expiry_due on PostgreSQL:
with a table of mostly settled consents, PostgreSQL's plan for the sweep's exact statement
scans that index, not the table."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from consent import services
from tests.oauth_factories import make_client

SETTLED, IN_FORCE = 40_000, 2_000


def plan(uow, statement) -> str:
    compiled = statement.compile(dialect=postgresql.dialect(),
                                 compile_kwargs={"render_postcompile": True})
    connection = uow.session.connection()
    rows = connection.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {compiled}", compiled.params)
    return json.dumps(rows.scalar_one())


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_expiry_sweep_reads_its_partial_index(platform, clock):
    now = clock.now()
    with platform.uow() as uow:
        client = make_client(uow, now=now)
        # Mostly consents long settled (the table's bulk, in time), some in force with an
        # expiry over the next months, a few of them due now.
        uow.session.execute(text("""
            INSERT INTO consents (consent_id, consent_type, client_pk, status,
                                  status_updated_at, created_at, expiration_datetime,
                                  permissions, data, api_version)
            SELECT 'aac-bulk-' || n, 'account-access', :client,
                   CASE WHEN n <= :settled THEN (ARRAY['Consumed', 'Expired', 'Revoked',
                                                       'Rejected'])[1 + n % 4]
                        ELSE 'Authorised' END,
                   :now, :now,
                   CASE WHEN n <= :settled THEN :now - (n % 365) * interval '1 day'
                        ELSE :now + ((n - :settled) - 5) * interval '1 hour' END,
                   '[]', '{}', '3.1'
            FROM generate_series(1, :total) AS n"""),
            {"client": client.row.id, "settled": SETTLED, "total": SETTLED + IN_FORCE,
             "now": now})
        uow.session.execute(text("ANALYZE consents"))
        shown = plan(uow, services.expiry_due_query(now))
        assert "ix_consents_expiry_due" in shown, shown
        assert '"Node Type": "Seq Scan"' not in shown, shown
        # and the sweep finds exactly the due ones through it
        assert services.expire_due(uow, now) == 5
        assert services.expire_due(uow, now + timedelta(hours=1)) == 1
