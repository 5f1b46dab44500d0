"""`flask consents ...`: the bank's operator commands on consents. A consent the bank revokes
stops at once (its tokens too), and its TPP is told: consent-authorization-revoked with the
bank's reason code (aspsp.events.BANK_REVOCATION_REASONS), in the same transaction."""
from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from aspsp import platform
from aspsp.events import BANK_REVOCATION_REASONS

from . import services
from .errors import ConsentError

consents_cli = AppGroup("consents", help="The bank's operations on consents.")
REASON = click.option(
    "--reason", required=True, type=click.Choice(sorted(BANK_REVOCATION_REASONS)),
    help="fraud: misuse suspected; tpp-unauthorised: the TPP's registration was deleted or "
         "suspended; bank-decision: any other decision of the bank.")
OPERATOR = click.option("--operator", default=None,
                        help="Who decided (kept in the consent's history).")


@consents_cli.command("revoke")
@click.argument("consent_id")
@REASON
@OPERATOR
def revoke_command(consent_id: str, reason: str, operator: str | None) -> None:
    """Revoke one consent (a payment consent, or one awaiting authorisation, is Rejected; an
    Authorised VRP consent stays Authorised with its access revoked, as the VRP profile says)."""
    p = platform.current()
    with p.uow() as uow:
        try:
            record = services.revoke_by_bank(uow, consent_id, p.clock.now(),
                                             reason=BANK_REVOCATION_REASONS[reason],
                                             operator=operator)
        except ConsentError as error:
            raise click.ClickException(f"{consent_id}: {error}") from None
        uow.commit()
    if record.recorded_status == "Authorised":      # a VRP consent keeps its status (VRP profile)
        click.echo(f"{record.consent_id} Authorised, its access revoked (its PISP may ask the "
                   "customer to re-authenticate it)")
    else:
        click.echo(f"{record.consent_id} {record.recorded_status}")


@consents_cli.command("revoke-client")
@click.argument("client_id")
@REASON
@OPERATOR
def revoke_client_command(client_id: str, reason: str, operator: str | None) -> None:
    """Revoke every consent of a TPP's client still in force."""
    p = platform.current()
    with p.uow() as uow:
        try:
            revoked = services.revoke_all_of_client(uow, client_id, p.clock.now(),
                                                    reason=BANK_REVOCATION_REASONS[reason],
                                                    operator=operator)
        except ConsentError as error:
            raise click.ClickException(f"{client_id}: {error}") from None
        uow.commit()
    for consent_id in revoked:
        click.echo(consent_id)
    click.echo(f"{len(revoked)} consents of {client_id} revoked")


def init_app(app: Flask) -> None:
    app.cli.add_command(consents_cli)
