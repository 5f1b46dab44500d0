"""The database pool without a `SELECT 1` before every use (aspsp.db): a PostgreSQL
connection that the server ended while it sat in the pool (a restart, an idle timeout,
pg_terminate_backend) is discarded at checkout, so the next request gets a live connection
instead of an error."""
from __future__ import annotations

import time

from sqlalchemy import text

from bank import create_app
from tests.conftest import TEST_ISSUER, _pg_admin_engine


def backend_pids(platform) -> set[int]:
    """The server processes behind the connections the app's pool holds now."""
    pool = platform.db.engine.pool
    held = []
    try:
        for _ in range(pool.checkedin()):
            held.append(platform.db.engine.raw_connection())
        return {c.driver_connection.get_backend_pid() for c in held}
    finally:
        for connection in held:
            connection.close()


def terminate(pids: set[int]) -> None:
    admin = _pg_admin_engine()
    try:
        with admin.connect() as connection:
            for pid in pids:
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
            # pg_terminate_backend only signals: wait until the backends are gone
            for _ in range(100):
                alive = connection.execute(text(
                    "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(:pids)"),
                    {"pids": list(pids)}).scalar()
                if not alive:
                    return
                time.sleep(0.05)
    finally:
        admin.dispose()


def test_a_pooled_connection_the_server_ended_is_not_the_next_requests_error(
        postgres_url, clock, tmp_path):
    app = create_app({"DATABASE_URL": postgres_url, "CLOCK": clock,
                      "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER})
    platform = app.extensions["aspsp"]
    client = app.test_client()
    try:
        assert client.get("/health/ready").status_code == 200
        pids = backend_pids(platform)
        assert pids, "the pool kept no connection to end"
        terminate(pids)

        response = client.get("/health/ready")
        assert response.status_code == 200, response.get_json()
        with platform.uow() as uow:
            assert uow.session.execute(text("SELECT 41 + 1")).scalar() == 42
        assert backend_pids(platform).isdisjoint(pids)
    finally:
        platform.db.engine.dispose()
