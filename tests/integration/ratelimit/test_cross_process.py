"""The limits hold across processes: two apps (two `create_app`, each with its own engine,
pool and module state: two gunicorn workers' worth) over one database that both really commit
to and one Redis. Calls through either count against one budget, and a tier the operator
changes through one process holds from the next call through the other."""
from __future__ import annotations

import json

import pytest
from limits.storage import MemoryStorage, RedisStorage
from sqlalchemy import select

from aspsp.audit.models import AuditRecord
from aspsp.cli import upgrade
from aspsp.clock import Clock
from tests.conftest import NOW, committed_database

from .conftest import Tpp, build_app, refused


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request, tmp_path):
    with committed_database(request.param, tmp_path, "aspsp_rate_limits") as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock(frozen_at=NOW)


@pytest.fixture
def apps(shared_url, redis_url, tmp_path, clock):
    built = []
    for name in ("a", "b"):
        instance = tmp_path / name
        instance.mkdir()
        built.append(build_app({"DATABASE_URL": shared_url, "REDIS_URL": redis_url,
                                "CLOCK": clock, "INSTANCE_PATH": str(instance)}))
    yield built
    for app in built:
        app.extensions["aspsp"].db.engine.dispose()


def test_the_counts_live_in_redis_and_both_processes_count_against_one_budget(apps, clock):
    a, b = apps
    assert isinstance(a.extensions["aspsp-rate-limits"].storage, RedisStorage)
    tpp = Tpp(a, clock)
    assert tpp.call("ais", a).status_code == 200
    assert tpp.call("ais", b).status_code == 200
    assert tpp.call("ais", a).status_code == 200
    refused(tpp.call("ais", b))
    refused(tpp.call("ais", a))


def test_a_tier_changed_through_one_process_holds_from_the_next_call_through_the_other(
        apps, clock):
    a, b = apps
    tpp = Tpp(a, clock)
    for _ in range(3):
        assert tpp.call("pis", b).status_code != 429
    refused(tpp.call("pis", b))          # b has served the client at the standard tier

    result = a.test_cli_runner().invoke(
        args=["ratelimit", "set", tpp.client_id, "--tier", "premium", "--burst", "1"])
    assert result.exit_code == 0, result.output

    # The next call through b: premium's 6 a minute plus the burst of 1.
    assert [tpp.call("pis", b).status_code != 429 for _ in range(7)] == [True] * 7
    refused(tpp.call("pis", b))
    shown = b.test_cli_runner().invoke(args=["ratelimit", "show", tpp.client_id]).output
    assert "tier: premium\n" in shown and "burst: 1" in shown

    # The operator's change is on the audit trail, and the chain still verifies.
    with a.app_context(), a.extensions["aspsp"].uow() as uow:
        changes = uow.session.execute(select(
            AuditRecord.actor_type, AuditRecord.subject, AuditRecord.facts).where(
            AuditRecord.event_type == "admin.rate_limits_set")).all()
    assert [(actor, subject, json.loads(facts)) for actor, subject, facts in changes] == [
        ("operator", tpp.client_id, {"tier": "premium", "burst": 1, "reset": False})]
    verified = b.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_the_embedded_mode_counts_in_process(tmp_path, clock):
    """`make run`: SQLite, no REDIS_URL: the counts live in the process."""
    url = f"sqlite:///{tmp_path / 'embedded.sqlite'}"
    upgrade(url)
    app = build_app({"DATABASE_URL": url, "CLOCK": clock, "INSTANCE_PATH": str(tmp_path)})
    try:
        assert isinstance(app.extensions["aspsp-rate-limits"].storage, MemoryStorage)
        tpp = Tpp(app, clock)
        assert [tpp.call("vrp").status_code != 429 for _ in range(3)] == [True] * 3
        refused(tpp.call("vrp"))
    finally:
        app.extensions["aspsp"].db.engine.dispose()


def test_calls_are_let_through_while_the_limits_redis_cannot_be_reached(rl_app, clock, caplog):
    """The limits protect the platform; they must not take it down with Redis."""
    from aspsp.ratelimit import build
    rl_app.extensions["aspsp-rate-limits"] = build(
        {**rl_app.config, "REDIS_URL": "redis://127.0.0.1:1/0"})      # nothing listens there
    tpp = Tpp(rl_app, clock)
    with caplog.at_level("WARNING", logger="aspsp.ratelimit"):
        assert [tpp.call("ais").status_code for _ in range(5)] == [200] * 5
    assert "rate limit storage unavailable, call admitted" in caplog.text
