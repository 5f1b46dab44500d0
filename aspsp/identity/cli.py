"""`flask psu ...`: create a customer's online-banking login, unlock one."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from .. import audit, platform
from ..ledger.models import Party
from . import errors, services

psu_cli = AppGroup("psu", help="Bank customers' online-banking logins.")


@psu_cli.command("create")
@click.argument("username")
@click.option("--party", "party_id", required=True, help="party_id of the customer it acts for")
@click.password_option(help="the login password (prompted when not given)")
def create_command(username: str, party_id: str, password: str) -> None:
    """Create the login USERNAME and print its TOTP secret for an authenticator app."""
    p = platform.current()
    with p.uow() as uow:
        party = uow.session.scalars(select(Party).where(Party.party_id == party_id)).one_or_none()
        if party is None:
            raise click.ClickException(f"no party {party_id}")
        try:
            psu = services.create_psu(uow, username=username, password=password, party=party,
                                      now=p.clock.now())
        except errors.IdentityError as error:
            raise click.ClickException(error.message) from None
        audit.record(uow, "admin.customer_login_created", audit.Actor.operator(),
                     now=p.clock.now(), subject=psu.psu_id, facts={"party_id": party_id})
        uow.commit()
        click.echo(f"created {psu.username} (psu_id {psu.psu_id})")
        click.echo(f"authenticator: {services.provisioning_uri(psu)}")


@psu_cli.command("unlock")
@click.argument("username")
def unlock_command(username: str) -> None:
    """Lift the lockout of USERNAME after too many failed attempts."""
    p = platform.current()
    with p.uow() as uow:
        psu = services.find_by_username(uow, username)
        if psu is None:
            raise click.ClickException(f"no login {username}")
        services.unlock(uow, psu)
        audit.record(uow, "admin.customer_login_unlocked", audit.Actor.operator(),
                     now=p.clock.now(), subject=psu.psu_id)
        uow.commit()
    click.echo(f"unlocked {username}")


def init_app(app: Flask) -> None:
    app.cli.add_command(psu_cli)
