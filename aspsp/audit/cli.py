"""`flask audit ...`: verify the audit trail, export a period, show its tail, and grant or
revoke the auditor role of a developer-portal account."""
from __future__ import annotations

import json
from datetime import datetime, time, timedelta, timezone

import click
from flask.cli import AppGroup
from sqlalchemy import func, select

from .. import platform
from . import services

audit_cli = AppGroup("audit", help="The audit trail: verify, export, tail, auditors.")


@audit_cli.command("verify")
def verify_command() -> None:
    """Recompute the hash chain from the first record: exit 0 if no record was changed,
    removed or inserted out of order; otherwise name the first broken record and exit 1."""
    with platform.current().uow() as uow:
        verdict = services.verify(uow)
    if not verdict.ok:
        click.echo(f"audit trail BROKEN at {verdict.problem}", err=True)
        click.echo(f"({verdict.count} records verified before it)", err=True)
        raise SystemExit(1)
    click.echo(f"audit trail verified: {verdict.count} records, last hash {verdict.last_hash}")


def parse_day_or_time(value: str, *, end: bool = False) -> datetime:
    """2026-12-01 (a day: its start, or the next day's start for an end) or an ISO 8601
    time; naive times are UTC."""
    try:
        if len(value) == 10:
            day = datetime.combine(datetime.strptime(value, "%Y-%m-%d").date(), time(),
                                   tzinfo=timezone.utc)
            return day + timedelta(days=1) if end else day
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD) or an ISO 8601 time")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


@audit_cli.command("export")
@click.option("--from", "start", required=True, help="first day (YYYY-MM-DD) or time, UTC")
@click.option("--to", "end", required=True, help="last day (inclusive) or time (exclusive)")
@click.option("--output", "-o", type=click.File("w", encoding="utf-8"), default="-",
              help="file to write (default: standard output)")
def export_command(start: str, end: str, output) -> None:
    """Write the records of a period as JSON lines, hashes included: an auditor verifies it
    offline with `python -m aspsp.audit.chain FILE --previous-hash HASH`. The export is
    itself audited."""
    begin, finish = parse_day_or_time(start), parse_day_or_time(end, end=True)
    p = platform.current()
    count = 0
    with p.uow() as uow:
        for line in services.export(uow, begin, finish):
            output.write(json.dumps(line, sort_keys=True, ensure_ascii=False) + "\n")
            count += 1
        services.record(uow, "admin.audit_exported", services.Actor.operator(),
                        now=p.clock.now(), facts={"from": begin.isoformat(),
                                                  "to": finish.isoformat(), "records": count,
                                                  "via": "cli"})
        uow.commit()
    click.echo(f"{count} records exported", err=True)


@audit_cli.command("tail")
@click.option("-n", "count", default=20, show_default=True, type=click.IntRange(1, 10000))
def tail_command(count: int) -> None:
    """Print the last records, one JSON line each."""
    with platform.current().uow() as uow:
        for line in services.tail(uow, count):
            click.echo(json.dumps(line, sort_keys=True, ensure_ascii=False))


def _developer(uow, email: str):
    from developer_portal.models import PortalDeveloper
    developer = uow.session.scalar(select(PortalDeveloper).where(
        func.lower(PortalDeveloper.email) == email.strip().lower()))
    if developer is None:
        raise click.ClickException(f"no developer-portal account {email}")
    return developer


@audit_cli.command("grant-auditor")
@click.argument("email")
def grant_auditor_command(email: str) -> None:
    """Let the developer-portal account EMAIL export the audit trail (regulator page)."""
    p = platform.current()
    with p.uow() as uow:
        done = services.grant_auditor(uow, _developer(uow, email), services.Actor.operator(),
                                      p.clock.now())
        uow.commit()
    click.echo(f"{email} is an auditor" + ("" if done else " already"))


@audit_cli.command("revoke-auditor")
@click.argument("email")
def revoke_auditor_command(email: str) -> None:
    """Take the auditor role away from the developer-portal account EMAIL."""
    p = platform.current()
    with p.uow() as uow:
        done = services.revoke_auditor(uow, _developer(uow, email), services.Actor.operator(),
                                       p.clock.now())
        uow.commit()
    click.echo(f"{email} is no longer an auditor" if done else f"{email} was not an auditor")


