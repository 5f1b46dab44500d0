"""Liveness and readiness, with every dependency up and with each one down.

A dependency is "down" when its URL points at a closed port on this machine (port 1). The
all-up cases run on both database engines; the down cases need only one.
"""
from __future__ import annotations

import pytest

from bank import create_app

CLOSED_REDIS = "redis://127.0.0.1:1/0"
CLOSED_POSTGRES = "postgresql://postgres@127.0.0.1:1/aspsp"


@pytest.fixture
def make_client(tmp_path):
    apps = []

    def make(**config):
        settings = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                    "CELERY_ALWAYS_EAGER": False, "REDIS_URL": None, "CELERY_BROKER_URL": None,
                    "TESTING": True, **config}
        app = create_app(settings)
        apps.append(app)
        return app.test_client()

    yield make
    for app in apps:
        app.extensions["aspsp"].db.engine.dispose()


def states(response) -> dict[str, str]:
    return {name: check["status"] for name, check in response.get_json()["checks"].items()}


def test_live_answers_ok(client):
    response = client.get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_live_answers_ok_even_when_the_database_is_down(make_client):
    response = make_client(DATABASE_URL=CLOSED_POSTGRES).get("/health/live")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_ready_with_the_database_up_and_tasks_run_inline(make_client, db_url):
    # Tasks run in the calling process and there is no Redis: only the database counts.
    response = make_client(DATABASE_URL=db_url, CELERY_ALWAYS_EAGER=True).get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": {"status": "up"}}}


def test_ready_with_the_embedded_defaults(make_client, db_url):
    # No Redis configured: the broker is the SQLite file under the instance folder.
    response = make_client(DATABASE_URL=db_url).get("/health/ready")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ready", "checks": {"database": {"status": "up"},
                                                                 "broker": {"status": "up"}}}


def test_ready_with_redis_and_a_redis_broker_up(make_client, db_url, redis_url):
    client = make_client(DATABASE_URL=db_url, REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url)
    response = client.get("/health/ready")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ready"
    assert states(response) == {"database": "up", "redis": "up", "broker": "up"}


def test_ready_is_503_when_the_database_is_down(make_client, redis_url):
    client = make_client(DATABASE_URL=CLOSED_POSTGRES, REDIS_URL=redis_url,
                         CELERY_BROKER_URL=redis_url)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert states(response) == {"database": "down", "redis": "up", "broker": "up"}


def test_ready_is_503_when_redis_is_down(make_client, sqlite_url, redis_url):
    client = make_client(DATABASE_URL=sqlite_url, REDIS_URL=CLOSED_REDIS,
                         CELERY_BROKER_URL=redis_url)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert states(response) == {"database": "up", "redis": "down", "broker": "up"}


def test_ready_is_503_when_the_broker_is_down(make_client, sqlite_url, redis_url):
    client = make_client(DATABASE_URL=sqlite_url, REDIS_URL=redis_url,
                         CELERY_BROKER_URL=CLOSED_REDIS)
    response = client.get("/health/ready")
    assert response.status_code == 503
    assert response.get_json()["status"] == "unavailable"
    assert states(response) == {"database": "up", "redis": "up", "broker": "down"}


def test_redis_down_takes_the_broker_that_defaults_to_it_down_too(make_client, sqlite_url):
    response = make_client(DATABASE_URL=sqlite_url, REDIS_URL=CLOSED_REDIS).get("/health/ready")
    assert response.status_code == 503
    assert states(response) == {"database": "up", "redis": "down", "broker": "down"}


def test_a_down_dependency_is_reported_without_its_url(make_client):
    response = make_client(DATABASE_URL=CLOSED_POSTGRES, REDIS_URL=CLOSED_REDIS,
                           CELERY_BROKER_URL=CLOSED_REDIS).get("/health/ready")
    assert response.status_code == 503
    assert states(response) == {"database": "down", "redis": "down", "broker": "down"}
    body = response.get_data(as_text=True)
    assert "127.0.0.1" not in body and "postgres@" not in body
