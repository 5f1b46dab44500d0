"""`flask keys ...`: the ASPSP's signing keys."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask
from flask.cli import AppGroup

from .. import platform
from . import keys

keys_cli = AppGroup("keys", help="Signing keys published in the JWKS.")


@keys_cli.command("rotate")
@click.option("--owner", default="aspsp", type=click.Choice(["aspsp", "directory"]))
@click.option("--alg", default="PS256", type=click.Choice(list(keys.ALGORITHMS)))
def rotate_command(owner: str, alg: str) -> None:
    """Publish a new key now; it starts signing after KEY_PUBLISH_LEAD_SECONDS."""
    p = platform.current()
    with p.uow() as uow:
        row = keys.rotate(uow, owner, secret=p.config["SECRET_KEY"], now=p.clock.now(), alg=alg,
                          lead=timedelta(seconds=p.config["KEY_PUBLISH_LEAD_SECONDS"]),
                          keep_published=timedelta(seconds=p.config["KEY_KEEP_PUBLISHED_SECONDS"]))
        uow.commit()
        click.echo(f"new {alg} key {row.kid} published; signs from {row.active_from.isoformat()}")


@keys_cli.command("list")
@click.option("--owner", default="aspsp", type=click.Choice(["aspsp", "directory"]))
def list_command(owner: str) -> None:
    """The published keys (public parts only)."""
    p = platform.current()
    with p.uow() as uow:
        for key in keys.published_jwks(uow, owner, now=p.clock.now())["keys"]:
            click.echo(f"{key['kid']}\t{key['alg']}")


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_cli)
