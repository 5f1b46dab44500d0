"""A live platform for the end-to-end tests: a new migrated PostgreSQL database, the sandbox
bank seeded with its demo customers (no random ones, a month of history), served by werkzeug
on a free port of 127.0.0.1 in a thread, tasks run eagerly; dropped afterwards."""
from __future__ import annotations

import threading
from contextlib import contextmanager
from datetime import date

from werkzeug.serving import make_server

from bank import create_app
from sandbox.seed import SeedOptions, seed_bank
from tests.conftest import create_pg_database, drop_pg_database, service_missing


@contextmanager
def seeded_bank(tmp_path_factory, prefix: str, config: dict | None = None):
    """Yields (app, base URL); the app's ISSUER is that URL. `config`: more settings."""
    try:
        url = create_pg_database(prefix)
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    app = create_app({"DATABASE_URL": url, "CELERY_ALWAYS_EAGER": True, "SECRET_KEY": "e2e",
                      "INSTANCE_PATH": str(tmp_path_factory.mktemp(prefix)), **(config or {})})
    http = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{http.server_port}"
    app.config["ISSUER"] = app.extensions["aspsp"].config["ISSUER"] = base
    with app.app_context():
        seed_bank(app.extensions["aspsp"].db, SeedOptions(customers=0, business=0, months=1),
                  today=date.today())
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        http.shutdown()
        app.extensions["request_log"].flush()     # before the database goes, not at exit
        app.extensions["aspsp"].db.engine.dispose()
        drop_pg_database(url)
