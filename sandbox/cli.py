"""`flask sandbox ...`"""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

sandbox_cli = AppGroup("sandbox", help="Sandbox data and tools.")


@sandbox_cli.command("seed")
@click.option("--customers", default=20, show_default=True, type=click.IntRange(min=0),
              help="Random personal customers, on top of the demo users.")
@click.option("--business", default=5, show_default=True, type=click.IntRange(min=0),
              help="Random business customers, on top of the demo business.")
@click.option("--months", default=12, show_default=True, type=click.IntRange(1, 120),
              help="Months of history before the as-of day.")
@click.option("--seed", "seed_value", default=42, show_default=True, type=int,
              help="The same seed (and as-of day) gives the same data.")
@click.option("--as-of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="The 'today' of the history, YYYY-MM-DD. Default: the platform clock's today.")
@click.option("--reset", is_flag=True,
              help="First delete all bank data (customers, accounts, journal, bank data, PSU "
                   "logins, and the consents and tokens that refer to them).")
@click.option("--no-logins", is_flag=True,
              help="Do not print the demo logins at the end (`make run` prints them itself).")
def seed_command(customers: int, business: int, months: int, seed_value: int, as_of, reset: bool,
                 no_logins: bool):
    """Seed the sandbox bank: customers, accounts, history, bank data and demo users."""
    from aspsp import platform
    from .seed import (SeedOptions, customer_keys, demo_users_text, existing_bank_data,
                       reset_bank_data, seed_bank)

    current = platform.current()
    if reset:
        deleted = reset_bank_data(current.db)
        click.echo(f"reset: deleted {sum(deleted.values())} rows from {len(deleted)} tables")
    existing = existing_bank_data(current.db)
    if existing:
        found = ", ".join(f"{count} {name}" for name, count in existing.items())
        raise click.ClickException(
            f"the database already holds bank data ({found}). Seeding again would mix two "
            f"banks: run `flask sandbox seed --reset` to delete it and seed afresh.")
    options = SeedOptions(customers=customers, business=business, months=months,
                          seed=seed_value, as_of=as_of.date() if as_of else None)
    total = len(customer_keys(options))
    with click.progressbar(length=total, label="Seeding customers", show_pos=True) as bar:
        summary = seed_bank(current.db, options, today=current.clock.now().date(),
                            progress=lambda _key: bar.update(1))
    click.echo(f"Seeded {summary.customers} customers, {summary.accounts} accounts, "
               f"{summary.journal_entries} journal entries ({summary.postings} postings) and "
               f"{summary.statements} statements: {months} months of history to "
               f"{summary.as_of.isoformat()}, seed {seed_value}.")
    if not no_logins:
        click.echo(demo_users_text())


clock_cli = AppGroup("clock", help="The sandbox clock, shared by every process.")
sandbox_cli.add_command(clock_cli)


@clock_cli.command("show")
def clock_show_command():
    """Print the platform clock's time and how far the sandbox moved it."""
    from aspsp import platform

    clock = platform.current().clock
    now = clock.now()
    click.echo(f"{now.isoformat()} (moved {clock.offset} ahead of the wall clock)")


@clock_cli.command("advance")
@click.option("--days", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--hours", default=0, show_default=True, type=click.IntRange(min=0))
@click.option("--run", "run_now", is_flag=True,
              help="Also pay now what fell due (else the beat does, within a minute).")
def clock_advance_command(days: int, hours: int, run_now: bool):
    """Move the clock of every process forward; the scheduled payments and standing-order
    instalments that fall due are paid by the next `ledger.run_schedules` run, in date
    order, each valued on its own due date."""
    from datetime import timedelta

    from aspsp import platform
    from aspsp.ledger import schedules

    if days == 0 and hours == 0:
        raise click.UsageError("say how far: --days N and/or --hours N")
    current = platform.current()
    try:
        current.clock.advance(timedelta(days=days, hours=hours))
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    now = current.clock.now()
    click.echo(f"The sandbox clock now reads {now.isoformat()}.")
    if run_now:
        with current.uow() as uow:
            executed = schedules.run_due(uow, now)
        for execution in executed:
            click.echo(f"  {execution.due.date().isoformat()}  {execution.schedule_id}  "
                       f"#{execution.instalment}  {execution.amount.amount} "
                       f"{execution.amount.currency}  {execution.status}")
        click.echo(f"Paid {len(executed)} scheduled payment(s) and instalment(s) due.")


def init_app(app: Flask) -> None:
    app.cli.add_command(sandbox_cli)
