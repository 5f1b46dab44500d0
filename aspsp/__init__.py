"""The Invisible Bank ASPSP platform. `create_app()` builds everything; importing builds nothing.
The bank as deployed, with the sandbox when it is enabled, is `bank.create_app()`."""
from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from flask import Flask

from .config import load_config


def create_app(config: Mapping[str, Any] | None = None,
               extensions: Iterable[Callable[[Flask], None]] = ()) -> Flask:
    """The platform from `config` (else the environment). `extensions` are called with the app
    once the platform's own contexts are in, before the pages and the metrics: the deployment's
    composition root (bank.py) passes the sandbox's wiring, which the platform never imports."""
    from . import cli, health, inputs, logs, request_log
    from .ais import init_app as init_ais
    from .clock import Clock
    from .db import Database
    from .identity import init_app as init_identity
    from .keyring import from_config as keyring_from_config
    from .ledger import init_app as init_ledger
    from .ledger.scheme import scheme_from_config
    from .oauth import init_app as init_oauth
    from .oauth.replay import replay_cache_from_config
    from .platform import Platform
    from .tasks import celery_init_app

    settings = load_config(config)
    Path(settings["INSTANCE_PATH"]).mkdir(parents=True, exist_ok=True)
    app = Flask(__name__, instance_path=settings["INSTANCE_PATH"])
    app.config.update(settings)
    settings["SECRET_KEY"] = settings["SECRET_KEY"] or _instance_secret(app)
    app.config["SECRET_KEY"] = settings["SECRET_KEY"]
    from .proxy import TrustedProxyMiddleware
    app.wsgi_app = TrustedProxyMiddleware(app.wsgi_app, settings)
    # JSON lines with the interaction id, secrets masked (SECRET_KEY and the KEK among them)
    logs.configure_logging(settings["LOG_LEVEL"], secrets=(settings["SECRET_KEY"],
                                                           settings["KEY_ENCRYPTION_KEY"]))
    logs.register_secret(settings.get("METRICS_TOKEN"))   # Prometheus's bearer token
    logs.init_app(app)

    # Production (SANDBOX_ENABLED off) refuses to start without KEY_ENCRYPTION_KEY or REDIS_URL.
    keyring = keyring_from_config(settings)
    replay = replay_cache_from_config(settings)
    # DATABASE: a prebuilt Database (tests bind one to a rolled-back connection).
    database = settings.get("DATABASE") or Database(settings["DATABASE_URL"],
                                                    echo=settings["SQL_ECHO"])
    app.extensions["aspsp"] = Platform(config=settings, db=database,
                                       clock=settings.get("CLOCK") or Clock(),
                                       scheme=scheme_from_config(settings, database),
                                       replay=replay, keyring=keyring)
    celery_init_app(app)
    inputs.init_app(app)
    request_log.init_app(app)
    from . import ratelimit
    ratelimit.init_app(app)       # rate-limit tiers per client and API family (issue 14)
    app.register_blueprint(health.bp)
    cli.init_app(app)
    from .audit import init_app as init_audit
    init_audit(app)
    init_ledger(app)
    init_identity(app)
    init_oauth(app)

    from consent import init_app as init_consent
    init_consent(app)
    init_ais(app)
    from .pis import init_app as init_pis
    init_pis(app)
    from .cof import init_app as init_cof
    init_cof(app)
    from .vrp import init_app as init_vrp
    init_vrp(app)
    from .events import init_app as init_events
    init_events(app)
    from developer_portal import init_app as init_developer_portal
    init_developer_portal(app)
    for extension in extensions:   # bank.py: the sandbox, when SANDBOX_ENABLED
        extension(app)
    from . import conformance_cli, regulator
    regulator.init_app(app)
    conformance_cli.init_app(app)
    from . import landing
    landing.init_app(app)
    from . import kpi, metrics
    metrics.init_app(app)      # last: its middleware times every request the app answers
    kpi.init_app(app)
    return app


def _instance_secret(app: Flask) -> str:
    """A random SECRET_KEY made on first run and kept in the instance folder (never in code)."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()
