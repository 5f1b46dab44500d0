"""Liveness and readiness: JSON with the state of each dependency."""
from __future__ import annotations

from flask import Blueprint, current_app, jsonify

from . import platform

bp = Blueprint("health", __name__, url_prefix="/health")


@bp.get("/live")
def live():
    return jsonify(status="ok")


def _check_database() -> dict:
    try:
        # A raw DBAPI connection: no BEGIN, so SQLite's write lock (BEGIN IMMEDIATE) held by
        # a long writer such as the seed never makes the probe wait.
        connection = platform.current().db.engine.raw_connection()
        try:
            cursor = connection.cursor()
            cursor.execute("SELECT 1")
            cursor.close()
        finally:
            connection.close()
        return {"status": "up"}
    except Exception as exc:  # any driver error means "down"; the reason is for the operator
        return {"status": "down", "error": type(exc).__name__}


def _check_redis(url: str) -> dict:
    import redis

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1)
        client.ping()
        return {"status": "up"}
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}


def _check_broker() -> dict:
    celery = current_app.extensions["celery"]
    try:
        with celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=1)
        return {"status": "up"}
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}


@bp.get("/ready")
def ready():
    config = current_app.config
    checks = {"database": _check_database()}
    if config.get("REDIS_URL"):
        checks["redis"] = _check_redis(config["REDIS_URL"])
    if not config.get("CELERY_ALWAYS_EAGER"):
        checks["broker"] = _check_broker()
    up = all(check["status"] == "up" for check in checks.values())
    return jsonify(status="ready" if up else "unavailable", checks=checks), (200 if up else 503)
