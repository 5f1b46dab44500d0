"""The sandbox's authenticator for payments (only while SANDBOX_ENABLED): what a demo customer's
authenticator app would show in "Sign" mode, so that a payment can be approved without one.

- `/sandbox/authenticator`: a page where a demo customer's code for an amount, currency and
  payee account is worked out (aspsp.identity.dynamic_linking, RFC 6287 OCRA), at the
  platform's clock. The approval page links to it with the payment filled in.
- `flask sandbox sign-code USERNAME --amount 12.50 --currency GBP --payee 12345612345678`: the
  same on the command line.

Only the demo customers (sandbox.seed.DEMO_USERS), whose TOTP secrets are published in the
README: their secrets come from that list, never from the database, so no other customer's
secret is ever opened here.
"""
from __future__ import annotations

from datetime import datetime

import click
from flask import Blueprint, Flask, render_template, request
from flask.cli import with_appcontext

from aspsp import platform, web_pages
from aspsp.identity import dynamic_linking

from .seed import DEMO_USERS

bp = Blueprint("sandbox_authenticator", __name__, url_prefix="/sandbox/authenticator",
               template_folder="templates")
web_pages.protect_pages(bp)


def demo_secret(username: str) -> str | None:
    """The demo customer's published TOTP secret; None for anyone else."""
    return next((u.totp_secret for u in DEMO_USERS if u.username == username), None)


def signed_code(username: str, amount: str, currency: str, payee: str,
                at: datetime) -> tuple[str, dynamic_linking.PaymentToSign]:
    """The demo customer's code for this payment at `at`. Raises LookupError for a username
    that is not a demo customer's, dynamic_linking.NotSignable for a malformed payment."""
    secret = demo_secret(username)
    if secret is None:
        raise LookupError(f"{username!r} is not one of the sandbox's demo customers")
    payment = dynamic_linking.payment_to_sign(amount, currency, payee)
    return dynamic_linking.code_at(secret, payment, at), payment


@bp.route("", methods=["GET", "POST"])
def page():
    source = request.form if request.method == "POST" else request.args
    fields = {name: str(source.get(name, ""))[:300]
              for name in ("username", "amount", "currency", "payee")}
    fields["currency"] = fields["currency"] or "GBP"
    code = payment = error = None
    status = 200
    if request.method == "POST":
        try:
            code, payment = signed_code(fields["username"], fields["amount"],
                                        fields["currency"], fields["payee"],
                                        platform.current().clock.now())
        except LookupError:
            error, status = "That is not one of the sandbox's demo customers.", 404
        except dynamic_linking.NotSignable as exc:
            error, status = f"Nothing signed: {exc}.", 400
    return render_template("sandbox/authenticator.html", fields=fields, code=code,
                           payment=payment, error=error,
                           demo_users=[u.username for u in DEMO_USERS]), status


@click.command("sign-code")
@with_appcontext
@click.argument("username")
@click.option("--amount", required=True, help="The payment's amount, e.g. 12.50.")
@click.option("--currency", default="GBP", show_default=True, help="ISO 4217 currency.")
@click.option("--payee", required=True,
              help="The payee's account: sort code and account number (12345612345678) or IBAN.")
def sign_code_command(username: str, amount: str, currency: str, payee: str):
    """Print a demo customer's signed code for a payment (dynamic linking), now on the
    platform's clock: what their authenticator shows in Sign mode."""
    try:
        code, _ = signed_code(username, amount, currency, payee, platform.current().clock.now())
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    except dynamic_linking.NotSignable as exc:
        raise click.BadParameter(str(exc)) from None
    click.echo(code)


def init_app(app: Flask) -> None:
    """Called by sandbox.init_app, which runs only while SANDBOX_ENABLED."""
    from .cli import sandbox_cli

    if "sign-code" not in sandbox_cli.commands:
        sandbox_cli.add_command(sign_code_command)
    if app.config["SANDBOX_ENABLED"]:
        app.register_blueprint(bp)
