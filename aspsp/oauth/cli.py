"""`flask keys ...`: the platform's signing keys and the key-encryption key."""
from __future__ import annotations

from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from .. import audit, platform
from ..keyring import SealedValueError
from . import keys

keys_cli = AppGroup("keys", help="Signing keys published in the JWKS; secrets at rest.")


@keys_cli.command("rotate")
@click.option("--owner", default="aspsp", type=click.Choice(list(keys.OWNERS)))
@click.option("--alg", default="PS256", type=click.Choice(list(keys.ALGORITHMS)))
def rotate_command(owner: str, alg: str) -> None:
    """Publish a new key now; it starts signing after KEY_PUBLISH_LEAD_SECONDS (at least the
    JWKS cache lifetime)."""
    p = platform.current()
    with p.uow() as uow:
        row = keys.rotate(uow, owner, keyring=p.keyring, now=p.clock.now(), alg=alg,
                          lead=timedelta(seconds=p.config["KEY_PUBLISH_LEAD_SECONDS"]),
                          keep_published=timedelta(seconds=p.config["KEY_KEEP_PUBLISHED_SECONDS"]))
        audit.record(uow, "admin.signing_key_rotated", audit.Actor.operator(), now=p.clock.now(),
                     subject=row.kid, facts={"owner": owner, "alg": alg,
                                             "active_from": row.active_from.isoformat()})
        uow.commit()
        click.echo(f"new {alg} key {row.kid} published; signs from {row.active_from.isoformat()}")


@keys_cli.command("list")
@click.option("--owner", default="aspsp", type=click.Choice(list(keys.OWNERS)))
def list_command(owner: str) -> None:
    """The published keys (public parts only)."""
    p = platform.current()
    with p.uow() as uow:
        for key in keys.published_jwks(uow, owner, now=p.clock.now())["keys"]:
            click.echo(f"{key['kid']}\t{key['alg']}")


@keys_cli.command("rewrap")
def rewrap_command() -> None:
    """Re-seal every secret at rest (customers' and developers' TOTP secrets, private signing
    keys, and what the sandbox registered: its CA key) under the newest KEY_ENCRYPTION_KEY
    version; converts values from before the KEK existed."""
    from ..secrets_at_rest import EXTRA_SEALED, rewrap_all
    p = platform.current()
    try:
        with p.uow() as uow:
            counts = rewrap_all(uow, p.keyring, legacy_secret=p.config.get("SECRET_KEY"),
                                extra=current_app.extensions.get(EXTRA_SEALED, ()))
            audit.record(uow, "admin.secrets_rewrapped", audit.Actor.operator(),
                         now=p.clock.now(), facts={"kek_version": p.keyring.current_version,
                                                   "resealed": sum(counts.values())})
            uow.commit()
    except SealedValueError as error:
        raise click.ClickException(f"{error}; nothing was changed") from None
    click.echo(f"re-sealed under KEK version {p.keyring.current_version}: "
               + ", ".join(f"{count} {what}" for what, count in counts.items()))


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_cli)
