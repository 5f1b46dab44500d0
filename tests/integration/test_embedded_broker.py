"""The embedded default's background work: with no Redis, tasks go through an SQLite broker.
Tests run Celery eagerly, so only a real send proves that a POST which dispatches work (a
payment's settlement) does not fail on the broker under `make run`."""
from __future__ import annotations

import sqlite3

from aspsp import create_app
from aspsp.cli import upgrade


def test_a_task_sent_without_redis_lands_in_the_sqlite_broker(tmp_path):
    database = f"sqlite:///{tmp_path / 'bank.sqlite'}"
    upgrade(database)
    broker = tmp_path / "broker.sqlite"
    app = create_app({"DATABASE_URL": database, "SECRET_KEY": "test", "REDIS_URL": None,
                      "CELERY_BROKER_URL": f"sqla+sqlite:///{broker}",
                      "CELERY_ALWAYS_EAGER": False})
    celery = app.extensions["celery"]
    assert celery.conf.broker_transport_options == {}     # Redis-only options stay out
    celery.send_task("ledger.settle_stuck_payments")
    with sqlite3.connect(broker) as connection:
        (queued,) = connection.execute("SELECT count(*) FROM kombu_message").fetchone()
    assert queued == 1


def test_the_redis_broker_hands_back_a_dead_workers_task_within_minutes(tmp_path):
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'bank.sqlite'}",
                      "SECRET_KEY": "test", "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
                      "CELERY_VISIBILITY_TIMEOUT": 300})
    options = app.extensions["celery"].conf.broker_transport_options
    assert options["visibility_timeout"] == 300
    assert options["unacked_restore_interval"] <= 60
