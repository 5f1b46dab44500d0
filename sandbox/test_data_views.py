"""The app's sandbox test data in the developer portal (only while SANDBOX_ENABLED):
/developers/apps/<app_id>/sandbox/test-data.

For a signed-in developer who is a member of the app's organisation (developer_portal.auth
.member_app: anyone else gets 404, and so does an account or customer of another app). Each
form is one service call of sandbox/test_data.py; a refusal shows the page again with its
message (400), a success comes back to the page with a notice.
"""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from werkzeug.exceptions import NotFound

from aspsp import platform, web_pages
from developer_portal import auth

from . import test_data
from .seed import SANDBOX_PASSWORD
from .test_data_models import BEHAVIOURS

bp = Blueprint("sandbox_test_data", __name__,
               url_prefix="/developers/apps/<app_id>/sandbox/test-data",
               template_folder="templates")
web_pages.protect_pages(bp)


def _page(app, *, error: str | None = None, status: int = 200):
    now = platform.current().clock.now()
    return render_template("sandbox/test_data.html", app=app, error=error,
                           customers=test_data.customers(g.uow, app, now=now),
                           behaviours=BEHAVIOURS, password=SANDBOX_PASSWORD,
                           prefix=test_data.username_prefix(app)), status


def _do(app_id: str, action, notice):
    """Run `action(uow, app, now)` for the app; commit and come back with `notice(result)`,
    or show the page with the refusal."""
    uow, now = g.uow, platform.current().clock.now()
    app, _ = auth.member_app(uow, g.developer, app_id)
    try:
        result = action(uow, app, now)
    except test_data.NotTestData:
        raise NotFound("no such test data") from None
    except test_data.TestDataError as error:
        uow.rollback()
        return _page(app, error=str(error), status=400)
    uow.commit()
    flash(notice(result), "success")
    return redirect(url_for(".page", app_id=app.app_id), 303)


def _form(name: str) -> str:
    value = request.form.get(name, "")
    return value if isinstance(value, str) else ""


@bp.get("")
@auth.login_required
def page(app_id: str):
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    return _page(app)


@bp.post("/customers")
@auth.login_required
def create_customer(app_id: str):
    return _do(app_id, lambda uow, app, now: test_data.create_customer(
        uow, app, now=now, name=_form("name"), behaviour=_form("behaviour")),
        lambda psu: f"Test customer {psu.username} created.")


@bp.post("/customers/<username>/accounts")
@auth.login_required
def open_account(app_id: str, username: str):
    return _do(app_id, lambda uow, app, now: test_data.open_account(
        uow, app, username, _form("kind"), now=now),
        lambda account: f"{account.name} {account.sort_code} {account.account_number} opened.")


@bp.post("/accounts/<account_id>/fund")
@auth.login_required
def fund(app_id: str, account_id: str):
    return _do(app_id, lambda uow, app, now: test_data.fund(
        uow, app, account_id, test_data.parse_amount(_form("amount")), now=now),
        lambda entry: "Funded from the sandbox's funding account.")


@bp.post("/accounts/<account_id>/card-payment")
@auth.login_required
def card_payment(app_id: str, account_id: str):
    return _do(app_id, lambda uow, app, now: test_data.add_card_payment(
        uow, app, account_id, test_data.parse_amount(_form("amount")), _form("merchant"),
        now=now), lambda entry: "Card payment added.")


@bp.post("/accounts/<account_id>/incoming-transfer")
@auth.login_required
def incoming_transfer(app_id: str, account_id: str):
    return _do(app_id, lambda uow, app, now: test_data.add_incoming_transfer(
        uow, app, account_id, test_data.parse_amount(_form("amount")), payer=_form("payer"),
        payer_account=_form("payer_account"), reference=_form("reference"), now=now),
        lambda entry: "Incoming transfer added.")


@bp.post("/accounts/<account_id>/disable")
@auth.login_required
def disable(app_id: str, account_id: str):
    return _do(app_id, lambda uow, app, now: test_data.disable_account(
        uow, app, account_id, now=now), lambda _: "Account disabled.")


@bp.post("/reset")
@auth.login_required
def reset(app_id: str):
    return _do(app_id, lambda uow, app, now: test_data.reset(uow, app, now=now),
               lambda s: (f"Sandbox reset: {s.customers_removed} test customer(s) removed, "
                          f"{s.accounts_closed} account(s) closed, {s.consents_revoked} "
                          f"consent(s) revoked; new test customer {s.new_customer}."))
