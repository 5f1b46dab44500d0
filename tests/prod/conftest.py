"""The production topology for the tests of this tier, started once per pytest process
(deploy/prod_local.py: nginx with deploy/nginx/aspsp.conf -> gunicorn, a Celery worker and beat):

- PostgreSQL: the machine's (TEST_PG_URL's server), a database of this run's own, dropped after;
- Redis: a redis-server of its own on a free port, so no other test's Redis db is touched and
  two topologies never share a broker (TEST_PROD_REDIS_URL names another, e.g. the machine's
  redis://127.0.0.1:6379/1: only for a run in which one process runs the tier);
- every port free at start, a run directory under pytest's temp directory;
- the sandbox on (its directory issues the TPPs' software statements and transport
  certificates) with the demo customers only.

Starting it costs about a minute. Under pytest-xdist every worker that runs some of the tier's
tests starts a topology of its own: slower, still correct, as nothing is shared. The modules
name the xdist group "prod" (GROUP) for `--dist loadgroup`, which would send them to one
worker, but with pytest 9.2 and pytest-xdist 3.8 it groups nothing (xdist renames the tests
through Item._nodeid, which pytest no longer reads), so `make test` does not pass it.
nginx, PostgreSQL or Redis missing: the tests fail under CI=true and are skipped elsewhere
(tests/conftest.py's service_missing).
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from deploy.prod_local import (PrivateRedis, Settings, Topology, TopologyError,
                               nginx_binary)
from tests.conftest import PG_SERVER, service_missing

# Every test module of the tier that uses the `production` fixture carries
# `pytestmark = pytest.mark.xdist_group(GROUP)`.
GROUP = "prod"


@dataclass
class Production:
    topology: Topology
    app: object                       # create_app() on the same settings, for set-up only
    work_dir: Path                    # where the tests keep their certificates

    @property
    def issuer(self) -> str:
        return self.topology.issuer

    @property
    def server_ca(self) -> str:
        return str(self.topology.server_ca)


def _check_services(redis_url: str | None) -> None:
    if not nginx_binary():
        service_missing("nginx (Debian's nginx package; .ci/run installs it)",
                        FileNotFoundError("no nginx on PATH or in /usr/sbin"))
    import psycopg2
    from sqlalchemy.engine import make_url
    server = make_url(PG_SERVER)
    try:
        psycopg2.connect(host=server.host, port=server.port or 5432,
                         user=server.username or "postgres", dbname="postgres",
                         connect_timeout=3).close()
    except Exception as error:
        service_missing(f"PostgreSQL at {server.host}:{server.port or 5432}", error)
    if redis_url:
        import redis
        try:
            redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
        except Exception as error:
            service_missing(f"Redis at {redis_url}", error)


@contextmanager
def running(topology: Topology, base: Path):
    """The topology started, an app on its settings for the tests' set-up and a directory
    for the TPPs' certificates; afterwards the topology stopped and the app's request log
    written and its pool closed, whatever happened."""
    from bank import create_app

    app = None
    try:
        topology.start()
        app = create_app(topology.app_config())
        work_dir = base / "tpp"
        work_dir.mkdir()
        yield Production(topology=topology, app=app, work_dir=work_dir)
    finally:
        topology.stop()
        if app is not None:
            app.extensions["request_log"].flush()
            app.extensions["aspsp"].db.engine.dispose()


@pytest.fixture(scope="session")
def production(tmp_path_factory):
    redis_url = os.environ.get("TEST_PROD_REDIS_URL")
    _check_services(redis_url)
    base = tmp_path_factory.mktemp("prod")
    private_redis = None
    if not redis_url:
        private_redis = PrivateRedis(base / "redis")
        try:
            private_redis.start()
        except (OSError, TopologyError) as error:
            service_missing("redis-server", error)
        redis_url = private_redis.url(0)
    topology = Topology(Settings(
        run_dir=base / "run", database_url=f"{PG_SERVER}/aspsp_prod_{uuid.uuid4().hex[:10]}",
        redis_url=redis_url, https_port=0, http_port=0, health_port=0, web_port=0,
        web_workers=2, web_threads=4, worker_concurrency=2, ready_timeout=300,  # a busy CI
        seed_args=("--customers", "0", "--business", "0", "--months", "1")))
    try:
        with running(topology, base) as production:
            yield production
    finally:
        topology.drop_database()
        if private_redis is not None:
            private_redis.stop()
