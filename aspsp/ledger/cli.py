"""`flask ledger ...`: operator commands."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .. import audit, platform
from . import services

ledger_cli = AppGroup("ledger", help="Core ledger operations.")


@ledger_cli.command("reconcile")
def reconcile_command() -> None:
    """Prove every cached balance equals its postings and every entry balances."""
    with platform.current().uow() as uow:
        problems = services.reconcile_balances(uow)
    for problem in problems:
        click.echo(f"{problem.kind}\t{problem.subject}\t{problem.detail}")
    if problems:
        raise SystemExit(1)
    click.echo("ledger reconciled: no problems")


@ledger_cli.command("close-account")
@click.argument("account_id")
@click.option("--status", type=click.Choice(["Disabled", "Deleted"]), default="Disabled",
              show_default=True, help="The account's status from now on.")
@click.option("--reason", type=click.Choice(["closure", "cass"]), default="closure",
              show_default=True,
              help="closure: the account is closed; cass: switched to another bank (CASS).")
def close_account_command(account_id: str, status: str, reason: str) -> None:
    """Take a customer account out of service: no payment or Open Banking access any more,
    and every TPP whose authorised account-access consent covered it is told
    (account-access-consent-linked-account-update), in the same transaction
    (ledger.set_account_status does both)."""
    from .errors import AccountNotFound
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        try:
            services.set_account_status(uow, account_id, status, now=now, reason=reason)
        except AccountNotFound:
            raise click.ClickException(f"no account {account_id}") from None
        audit.record(uow, "admin.account_status_set", audit.Actor.operator(), now=now,
                     subject=account_id, facts={"status": status, "reason": reason})
        uow.commit()
    click.echo(f"account {account_id} is {status}")


def init_app(app: Flask) -> None:
    app.cli.add_command(ledger_cli)
