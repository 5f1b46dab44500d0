"""The embedded default's background work: with no Redis, tasks go through an SQLite broker.
Tests run Celery eagerly, so only a real send proves that a POST which dispatches work (a
payment's settlement) does not fail on the broker under `make run`."""
from __future__ import annotations

import sqlite3

from aspsp.cli import upgrade
from bank import create_app


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


def test_a_broker_that_refuses_a_task_does_not_fail_the_committed_request(tmp_path, caplog):
    """After the commit, the work is the sweep's if the broker cannot take it: the caller
    (a TPP's POST that created a payment) still gets its answer."""
    from aspsp import platform
    from aspsp.ledger import dispatch

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'bank.sqlite'}",
                      "SECRET_KEY": "test", "REDIS_URL": None,
                      "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",   # nothing listens there
                      "CELERY_ALWAYS_EAGER": False})
    app.extensions["celery"].conf.broker_connection_max_retries = 0
    app.extensions["celery"].conf.broker_connection_timeout = 1
    app.extensions["celery"].conf.task_publish_retry = False
    upgrade(app.config["DATABASE_URL"])
    with app.app_context():
        with platform.current().uow() as uow:
            sent = []
            dispatch.after_commit(uow, dispatch.SETTLE_PAYMENT, "payment-1")
            uow.on_commit(lambda: sent.append(True))
            uow.commit()                                  # does not raise
    assert sent == [True]                                 # later callbacks still ran
    assert "the sweep will resend it" in caplog.text
