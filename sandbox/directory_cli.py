"""`flask sandbox directory ...`: organisations, software statements and SSAs of the sandbox
directory, from the command line."""
from __future__ import annotations

import json
import os

import click
from flask import Flask
from flask.cli import AppGroup

from aspsp import platform
from aspsp.oauth.keys import generate_jwk, public_jwk

from . import directory

directory_cli = AppGroup("directory", help="The sandbox directory (trust anchor): organisations, "
                                           "software statements and software statement assertions.")

ROLE = click.Choice(directory.ROLES, case_sensitive=False)


@directory_cli.command("create-org")
@click.option("--name", required=True, help="Legal name of the TPP.")
@click.option("--authority", "competent_authority", default="GB:FCA", show_default=True,
              help="Competent authority: member state and authority.")
@click.option("--authorisation-id", required=True, help="The authority's reference, e.g. FRN.")
@click.option("--role", "roles", multiple=True, required=True, type=ROLE,
              help="PSD2 role (repeat for several).")
@click.option("--org-id", default=None, help="Choose the org_id (default: random Base62).")
def create_org_command(name, competent_authority, authorisation_id, roles, org_id):
    """Create a TPP organisation; prints its org_id."""
    p = platform.current()
    with p.uow() as uow:
        try:
            org = directory.create_organisation(
                uow, name=name, competent_authority=competent_authority,
                authorisation_id=authorisation_id, roles=roles, org_id=org_id, now=p.clock.now())
        except directory.DirectoryError as exc:
            raise click.ClickException(str(exc)) from None
        uow.commit()
        click.echo(org.org_id)


@directory_cli.command("create-software")
@click.argument("org_id")
@click.option("--name", required=True, help="Client name shown to customers (max 40).")
@click.option("--redirect-uri", "redirect_uris", multiple=True, required=True,
              help="https redirect URI (repeat for several).")
@click.option("--role", "roles", multiple=True, required=True, type=ROLE)
@click.option("--description", default=None)
@click.option("--client-uri", default=None)
@click.option("--jwks", "jwks_file", type=click.File("r"), default=None,
              help="A public JWKS file with the software's signing keys.")
@click.option("--new-key", "new_key", type=click.Path(dir_okay=False), default=None,
              help="Generate a key pair: the private JWK is written to this new file "
                   "(mode 0600), the public key is registered.")
@click.option("--alg", type=click.Choice(["PS256", "ES256"]), default="PS256", show_default=True,
              help="Algorithm of the key made by --new-key.")
@click.option("--software-id", default=None, help="Choose the software_id (default: random).")
def create_software_command(org_id, name, redirect_uris, roles, description, client_uri,
                            jwks_file, new_key, alg, software_id):
    """Create a software statement of ORG_ID; prints its software_id."""
    if bool(jwks_file) == bool(new_key):
        raise click.UsageError("give exactly one of --jwks FILE or --new-key FILE")
    if jwks_file:
        try:
            jwks = json.load(jwks_file)
        except ValueError:
            raise click.ClickException("the --jwks file is not JSON") from None
    else:
        if os.path.exists(new_key):
            raise click.ClickException(f"{new_key} exists: choose a new file for the private key")
        key = generate_jwk(alg)
        kid = key.thumbprint()
        jwks = {"keys": [public_jwk(key, kid, alg)]}
    p = platform.current()
    with p.uow() as uow:
        try:
            sw = directory.create_software(
                uow, org_id=org_id, client_name=name, redirect_uris=redirect_uris, roles=roles,
                jwks=jwks, client_description=description, client_uri=client_uri,
                software_id=software_id, now=p.clock.now())
        except (directory.DirectoryError, directory.NotFound) as exc:
            raise click.ClickException(str(exc)) from None
        if new_key:
            private = json.loads(key.export_private())
            private.update(kid=kid, alg=alg, use="sig")
            fd = os.open(new_key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                json.dump(private, out)
        uow.commit()
        click.echo(sw.software_id)


@directory_cli.command("issue-ssa")
@click.argument("software_id")
@click.option("--software-version", default="1.0", show_default=True)
def issue_ssa_command(software_id, software_version):
    """Print a software statement assertion for SOFTWARE_ID, signed by the directory."""
    p = platform.current()
    with p.uow() as uow:
        try:
            ssa = directory.issue_ssa(uow, software_id, now=p.clock.now(),
                                      issuer=p.config["ISSUER"],
                                      keyring=p.keyring,
                                      software_version=software_version)
        except (directory.DirectoryError, directory.NotFound) as exc:
            raise click.ClickException(str(exc)) from None
        uow.commit()
    click.echo(ssa)


def init_app(app: Flask) -> None:
    """Hang `directory` under the `flask sandbox` group."""
    from .cli import sandbox_cli
    sandbox_cli.add_command(directory_cli)
