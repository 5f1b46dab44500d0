"""`flask db ...`: the schema changes only through the Alembic migrations in migrations/."""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

import click
from alembic import command
from alembic.config import Config
from flask import Flask, current_app
from flask.cli import AppGroup

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"

db_cli = AppGroup("db", help="Database schema (Alembic migrations).")


def alembic_config(url: str, connection=None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(url: str, revision: str = "head", connection=None, *,
            config: Mapping[str, Any] | None = None, keyring=None,
            now: datetime | None = None) -> dict[str, int]:
    """Migrate to `revision`; at head, also seal the secrets at rest under the newest KEK and
    make the signing keys ahead (aspsp.secrets_at_rest.prepare). `config` and `keyring`
    default to the environment's (aspsp.config, aspsp.keyring)."""
    command.upgrade(alembic_config(url, connection), revision)
    if revision not in ("head", "heads") or connection is not None:
        return {}
    from .config import load_config
    from .db import Database
    from .keyring import from_config
    from .secrets_at_rest import prepare
    config = config if config is not None else load_config({"DATABASE_URL": url})
    keyring = keyring or from_config(config)
    database = Database(url)
    try:
        with database.uow() as uow:
            counts = prepare(uow, keyring, now=now or datetime.now(timezone.utc),
                             legacy_secret=config.get("SECRET_KEY") or _instance_secret(config),
                             sandbox=bool(config.get("SANDBOX_ENABLED")))
            uow.commit()
    finally:
        database.engine.dispose()
    return counts


def _instance_secret(config: Mapping[str, Any]) -> str | None:
    """The embedded SECRET_KEY, if one was made (the signing keys of an embedded install from
    before the KEK were sealed with a key derived from it)."""
    path = Path(config["INSTANCE_PATH"]) / "secret_key"
    return path.read_text().strip() if path.exists() else None


@db_cli.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Migrate the database to REVISION (default: head); at head, also seal secrets at rest
    under the newest KEY_ENCRYPTION_KEY and make the signing keys ahead."""
    from .platform import current
    p = current()
    counts = upgrade(current_app.config["DATABASE_URL"], revision, config=p.config,
                     keyring=p.keyring, now=p.clock.now())
    click.echo(f"database at {revision}")
    if any(counts.values()):
        click.echo(", ".join(f"{count} {what}" for what, count in counts.items() if count))


@db_cli.command("downgrade")
@click.argument("revision")
def downgrade_command(revision: str) -> None:
    """Migrate the database down to REVISION."""
    command.downgrade(alembic_config(current_app.config["DATABASE_URL"]), revision)


@db_cli.command("revision")
@click.option("-m", "--message", required=True)
def revision_command(message: str) -> None:
    """Write a new migration from the difference between the models and the database."""
    command.revision(alembic_config(current_app.config["DATABASE_URL"]), message=message,
                     autogenerate=True)


@db_cli.command("check")
def check_command() -> None:
    """Fail when the models and the migrations have drifted apart."""
    command.check(alembic_config(current_app.config["DATABASE_URL"]))
    click.echo("models and migrations agree")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_cli)
