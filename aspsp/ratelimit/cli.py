"""`flask ratelimit ...`: the operator sets and reads a client's rate-limit tier and burst."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from .. import platform
from . import current
from .services import (ClientLimits, RateLimitError, all_client_limits, client_limits,
                       set_client_limits)
from .tiers import MAX_BURST, Tier

ratelimit_cli = AppGroup("ratelimit", help="Rate-limit tiers and burst allowances per client.")


def _describe(limits: ClientLimits) -> str:
    lines = [f"client {limits.client_id} ({limits.client_name})",
             f"tier: {limits.tier.value}{'' if limits.tier_set else ' (default)'}",
             f"burst: {limits.burst} (added to the per-second rate of every family)"]
    for family, family_limits in limits.families.items():
        lines.append(f"  {family.value:<7} " + ", ".join(w.text for w in family_limits.windows))
    return "\n".join(lines)


@ratelimit_cli.command("set")
@click.argument("client_id")
@click.option("--tier", type=click.Choice([t.value for t in Tier]), default=None,
              help="The client's tier.")
@click.option("--burst", type=click.IntRange(0, MAX_BURST), default=None,
              help="Calls a second above the tier's per-second rate, in every family.")
@click.option("--reset", is_flag=True,
              help="Back to the default tier (RATELIMIT_DEFAULT_TIER) and no burst.")
def set_command(client_id: str, tier: str | None, burst: int | None, reset: bool) -> None:
    """Set a client's tier and/or burst allowance; it holds from the client's next call."""
    if tier is None and burst is None and not reset:
        raise click.UsageError("give --tier, --burst or --reset")
    p = platform.current()
    try:
        with p.uow() as uow:
            limits = set_client_limits(uow, current(), client_id, now=p.clock.now(),
                                       tier=Tier(tier) if tier else None, burst=burst,
                                       reset=reset)
    except RateLimitError as error:
        raise click.ClickException(str(error)) from None
    click.echo(_describe(limits))


@ratelimit_cli.command("show")
@click.argument("client_id")
def show_command(client_id: str) -> None:
    """A client's tier, burst and limits per API family."""
    p = platform.current()
    try:
        with p.uow() as uow:
            limits = client_limits(uow, current(), client_id)
    except RateLimitError as error:
        raise click.ClickException(str(error)) from None
    click.echo(_describe(limits))


@ratelimit_cli.command("list")
def list_command() -> None:
    """Every registered client with its tier and burst."""
    p = platform.current()
    with p.uow() as uow:
        rows = all_client_limits(uow, current())
    for limits in rows:
        click.echo(f"{limits.client_id}\t{limits.tier.value}"
                   f"{'' if limits.tier_set else ' (default)'}\tburst {limits.burst}\t"
                   f"{limits.client_name}")


def init_app(app: Flask) -> None:
    app.cli.add_command(ratelimit_cli)
