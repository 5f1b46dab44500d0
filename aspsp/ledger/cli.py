"""`flask ledger ...`: operator commands."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .. import platform
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


def init_app(app: Flask) -> None:
    app.cli.add_command(ledger_cli)
