"""The customer's pages: approving a third party's request, and the consent dashboard.

Plain HTML forms that work without JavaScript; every POST carries a CSRF token; every answer
carries the security headers (aspsp.web_pages).

Approval (`/psu/authorize/<reference>`): log in with password, then a one-time code, then
decide. The progress is recorded twice and both must agree: on the pending authorization
(psu_pk, authenticated_at, sca_at) and in this browser's server-side session
(aspsp.identity.sessions). Another browser holding the same reference gets nowhere: it cannot
resume, nor start a login over the top of one in progress.

Payments (a payment consent's approval): the one-time code is a signed one, bound to the
payment's amount, currency and payee (aspsp.identity.dynamic_linking; the page shows what the
authenticator signs), the signed payment is recorded in the browser's binding as a digest of
the consent's Initiation and checked again at the decision (any change sends the customer back
to sign), and the decision picks the account to pay from (consent.screens.payment_accounts).
An account named by the TPP that the customer cannot pay from refuses the consent at once.

Confirmation of funds (a funds-confirmation consent's approval): the page says in plain words
what the third party may ask (whether the account has enough money for a payment, never its
balance), until when, and for which account: the one the CBPII named, which must be the
customer's own open account (else the consent is refused at once, as a payment's is).

Dashboard (`/psu/consents`): its own login (`/psu/login`, then `/psu/login/code`), a list of
every consent the customer decided, grouped by third party, with a Revoke button for those in
force. Sign-out (`/psu/logout`) deletes the session.

Login and code posts are rate limited per address, password posts also overall (only those
the per-address limit lets through count there), before the view's body runs
(aspsp.identity.login_limits): over the limit, a 429 page with Retry-After.

Sessions: the cookie is a random id, rotated at every login step (password and code, on both
journeys); the session ends after PSU_SESSION_IDLE_TIMEOUT (15 minutes) without a request and
PSU_SESSION_LIFETIME (an hour) after it began, however active and whatever login steps happen
meanwhile; a dashboard login also ends PSU_SESSION_LIFETIME after its password step. A
customer's password step in a browser drops whatever another customer had reached in it
(dashboard login, approvals in progress).
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from flask import (Blueprint, Flask, current_app, flash, redirect, render_template, request,
                   session, url_for)
from flask_wtf.csrf import CSRFError

from aspsp import platform, web_pages
from aspsp.identity import errors as identity_errors
from aspsp.identity import devices
from aspsp.identity import dynamic_linking
from aspsp.identity import login_limits
from aspsp.identity import services as identity
from . import screens, wording
from . import services as consent_services
from .errors import ConsentError
from .permissions import describe

log = logging.getLogger(__name__)

bp = Blueprint("psu", __name__, url_prefix="/psu", template_folder="templates",
               static_folder="static", static_url_path="/static")
web_pages.protect_pages(bp)

SECOND_FACTOR_WITHIN = timedelta(minutes=5)
MAX_BOUND_AUTHORIZATIONS = 3


def init_app(app: Flask) -> None:
    web_pages.init_app(app)
    login_limits.init_app(app)
    app.register_blueprint(bp)


# --- approval -------------------------------------------------------------------------------

@bp.get("/authorize/<reference>")
def authorize(reference: str):
    p = platform.current()
    with p.uow() as uow:
        pending = screens.find_pending(uow, reference, p.clock.now())
        if pending is None:
            return _gone()
        psu, step = _approval_state(uow, reference, pending)
        if step == "login":
            return _login_page(uow, pending, reference)
        payment = _payment(uow, pending)
        if step == "code":
            if payment is not None:
                return _sign_page(uow, pending, psu, payment)
            return _code_page(psu, url_for(".authorize_code", reference=reference),
                              requester=_requester(uow, pending))
        if payment is not None:
            return _payment_page(uow, pending, psu, payment)
        funds = _funds_check(uow, pending)
        if funds is not None:
            return _funds_page(uow, pending, psu, funds)
        if pending.consent_pk is None:
            return _signin_page(uow, pending, psu)
        return _consent_page(uow, pending, psu)


@bp.post("/authorize/<reference>/login")
@login_limits.password_post_limits
def authorize_login(reference: str):
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        pending = screens.find_pending(uow, reference, now, lock=True)
        if pending is None:
            return _gone()
        if pending.psu_pk is not None and _binding(reference) is None:
            return _message("Already in progress",
                            "Someone is already signing in to answer this request in another "
                            "browser. Go back to the app you came from and start again.", 409)
        try:
            username = request.form.get("username", "")
            psu = identity.authenticate_password(uow, username, request.form.get("password", ""),
                                                 request.remote_addr, now,
                                                 known_device=devices.is_known(username))
        except identity_errors.IdentityError as error:
            uow.commit()                      # the failed attempt counts and is recorded
            return _login_page(uow, pending, reference, error=error.message, status=401,
                               username=request.form.get("username", ""))
        screens.record_password_step(pending, psu, now)
        uow.commit()
    _forget_other_customers(psu.psu_id)
    _bind(reference, psu.psu_id, "password", now)
    session.rotate(psu.id)
    return redirect(url_for(".authorize", reference=reference), 303)


@bp.post("/authorize/<reference>/code")
@login_limits.code_post_limits
def authorize_code(reference: str):
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        pending = screens.find_pending(uow, reference, now, lock=True)
        if pending is None:
            return _gone()
        psu, step = _approval_state(uow, reference, pending)
        if step != "code":
            return redirect(url_for(".authorize", reference=reference), 303)
        payment = _payment(uow, pending)
        if payment is not None and payment.to_sign is None:
            target = screens.refuse_payment(uow, pending, now, "the payment's amount or payee "
                                            "cannot be signed")
            uow.commit()
            _unbind(reference)
            return _refused_page(uow, pending, target, "This payment can't be made",
                                 "The app sent a payment we can't check with you, so it was "
                                 "not approved.")
        try:
            if payment is not None:
                dynamic_linking.verify_signed_code(
                    uow, psu, request.form.get("code", ""), payment.to_sign,
                    request.remote_addr, now, replay=p.replay,
                    known_device=devices.is_known(psu.username))
            else:
                identity.verify_totp(uow, psu, request.form.get("code", ""),
                                     request.remote_addr, now, replay=p.replay,
                                     sandbox_code=identity.sandbox_sca_allowed(psu, p.config),
                                     known_device=devices.is_known(psu.username))
        except identity_errors.LoginLocked as error:
            uow.commit()
            _unbind(reference)
            return _message("Login locked", error.message, 403)
        except identity_errors.IdentityError as error:
            uow.commit()
            if payment is not None:
                return _sign_page(uow, pending, psu, payment, error=error.message, status=401)
            return _code_page(psu, url_for(".authorize_code", reference=reference),
                              requester=_requester(uow, pending), error=error.message,
                              status=401)
        screens.record_sca_step(pending, now)
        if payment is not None and payment.debtor is not None \
                and not screens.payment_accounts(uow, psu, payment):
            target = screens.refuse_payment(
                uow, pending, now, "the debtor account is not one the customer may pay from")
            uow.commit()
            _unbind(reference)
            return _refused_page(
                uow, pending, target, "You can't pay from that account",
                f"{_requester(uow, pending).client_name} asked to pay from account "
                f"{payment.debtor_named}, which is not one of your accounts that can make "
                "payments. The payment was not approved, and nothing was paid.")
        funds = _funds_check(uow, pending)
        if funds is not None and not screens.funds_check_accounts(uow, psu, funds):
            target = screens.refuse_payment(
                uow, pending, now, "the DebtorAccount is not an open account of the customer")
            uow.commit()
            _unbind(reference)
            return _refused_page(
                uow, pending, target, "That account can't be checked",
                f"{_requester(uow, pending).client_name} asked about account "
                f"{funds.debtor_named}, which is not one of your open accounts. The request "
                "was refused, and nothing was shared.")
        signed = screens.signed_digest(screens.consent_of(uow, pending)) \
            if payment is not None else None
        uow.commit()
    _bind(reference, psu.psu_id, "sca", now, signed=signed)
    session.rotate(psu.id)
    return devices.remember(redirect(url_for(".authorize", reference=reference), 303),
                            psu.username)


@bp.post("/authorize/<reference>/decision")
def authorize_decision(reference: str):
    from aspsp.oauth import keys
    from aspsp.oauth.authorize import AuthorizationAlreadyCompleted, complete_authorization

    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        pending = screens.find_pending(uow, reference, now, lock=True)
        if pending is None:
            return _gone()
        psu, step = _approval_state(uow, reference, pending)
        if step != "consent":
            return redirect(url_for(".authorize", reference=reference), 303)
        decision = request.form.get("decision")
        account_ids = request.form.getlist("account")
        payment = _payment(uow, pending)
        funds = _funds_check(uow, pending)
        if funds is not None:
            if decision not in ("approve", "deny"):
                return _funds_page(uow, pending, psu, funds, status=400,
                                   error="Choose Approve or Refuse.")
            named = [a.account_id for a in screens.funds_check_accounts(uow, psu, funds)]
            if decision == "approve" and account_ids != named:
                return _funds_page(uow, pending, psu, funds, status=422,
                                   error="Confirm the account, or refuse.")
            account_ids = named if decision == "approve" else []
        elif payment is not None:
            if decision not in ("approve", "deny"):
                return _payment_page(uow, pending, psu, payment, status=400,
                                     error="Choose Approve or Refuse.")
            chosen = request.form.get("debtor_account", "")
            if decision == "approve" and chosen not in {
                    a.account_id for a in screens.payment_accounts(uow, psu, payment)}:
                return _payment_page(uow, pending, psu, payment, status=422,
                                     error="Choose the account to pay from, or refuse.")
            account_ids = [chosen] if decision == "approve" else []
        elif pending.consent_pk is None:              # a sign-in: nothing to pick
            if decision not in ("approve", "deny"):
                return _signin_page(uow, pending, psu, status=400,
                                    error="Choose Approve or Deny.")
            account_ids = []
        elif decision not in ("approve", "deny"):
            return _consent_page(uow, pending, psu, error="Choose Approve or Deny.", status=400)
        elif decision == "approve":
            own = {a.account_id for a in screens.accounts_of(uow, psu)}
            if not account_ids:
                return _consent_page(uow, pending, psu, status=422,
                                     error="Pick at least one account to share, or deny the request.")
            if not set(account_ids) <= own:
                return _consent_page(uow, pending, psu, status=422,
                                     error="You can only share your own open accounts.")
        try:
            target = complete_authorization(uow, pending, approved=decision == "approve",
                                            psu=psu, account_ids=sorted(set(account_ids))
                                            if decision == "approve" else [], now=now)
        except AuthorizationAlreadyCompleted:
            return _gone()
        except keys.NoSigningKey as exc:       # the bank's fault: keep nothing of the decision,
            uow.rollback()                      # so the same page works once a key may sign
            log.error("no signing key for an approval's id_token: %s", exc)
            return _cannot_sign_yet(reference, exc.retry_after)
        except ConsentError as error:          # e.g. the consent expired meanwhile
            uow.rollback()
            if funds is not None:
                return _funds_page(uow, pending, psu, funds, error=error.message, status=422)
            if payment is not None:
                return _payment_page(uow, pending, psu, payment, error=error.message,
                                     status=422)
            return _consent_page(uow, pending, psu, error=error.message, status=422)
        uow.commit()
    _unbind(reference)
    return redirect(target, 303)


def _approval_state(uow, reference: str, pending) -> tuple:
    """(psu, step): where this browser is on this pending authorization. Both the browser's
    session and the pending authorization must say the same customer got this far."""
    binding = _binding(reference)
    if binding is None or pending.psu_pk is None or pending.authenticated_at is None:
        return None, "login"
    psu = identity.find_by_psu_id(uow, binding.get("psu", ""))
    if psu is None or psu.id != pending.psu_pk:
        return None, "login"
    if binding.get("stage") == "sca" and pending.sca_at is not None and _still_signed(
            uow, pending, binding):
        return psu, "consent"
    return psu, "code"


def _still_signed(uow, pending, binding: dict) -> bool:
    """A payment's signed code holds only for the payment as it was signed: any change to the
    consent's Initiation since sends the customer back to sign again."""
    consent = screens.consent_of(uow, pending)
    if not screens.is_payment(consent):
        return True
    signed = binding.get("signed")
    return isinstance(signed, str) and signed == screens.signed_digest(consent)


def _payment(uow, pending) -> screens.PaymentView | None:
    consent = screens.consent_of(uow, pending)
    return screens.payment_of(consent) if screens.is_payment(consent) else None


def _funds_check(uow, pending) -> screens.FundsCheckView | None:
    consent = screens.consent_of(uow, pending)
    return screens.funds_check_of(consent) if screens.is_funds_confirmation(consent) else None


def _binding(reference: str) -> dict | None:
    return (session.get("authz") or {}).get(reference)


def _bind(reference: str, psu_id: str, stage: str, now: datetime, *,
          signed: str | None = None) -> None:
    bound = {ref: b for ref, b in (session.get("authz") or {}).items() if ref != reference}
    bound[reference] = {"psu": psu_id, "stage": stage, "t": int(now.timestamp())}
    if signed is not None:
        bound[reference]["signed"] = signed
    newest = sorted(bound, key=lambda ref: bound[ref].get("t", 0))[-MAX_BOUND_AUTHORIZATIONS:]
    session["authz"] = {ref: bound[ref] for ref in newest}


def _unbind(reference: str) -> None:
    bound = dict(session.get("authz") or {})
    if bound.pop(reference, None) is not None:
        session["authz"] = bound


def _requester(uow, pending) -> screens.Requester:
    return screens.requester(uow, pending.client_pk)


def _login_page(uow, pending, reference: str, *, error: str | None = None, status: int = 200,
                username: str = ""):
    payment = _payment(uow, pending)
    return render_template("psu/login.html", requester=_requester(uow, pending),
                           action=url_for(".authorize_login", reference=reference),
                           payment=payment, signin=pending.consent_pk is None,
                           error=error, username=username[:64]), status


def _consent_page(uow, pending, psu, *, error: str | None = None, status: int = 200):
    consent = screens.consent_of(uow, pending)
    redirect_uri = (pending.params or {}).get("redirect_uri", "")
    parts = urlsplit(redirect_uri)
    if parts.scheme in ("https", "http") and parts.netloc:
        web_pages.allow_form_redirect_to(f"{parts.scheme}://{parts.netloc}")
    selected = set(request.form.getlist("account")) if request.method == "POST" else set()
    return render_template("psu/consent.html", requester=_requester(uow, pending),
                           consent=consent, permissions=describe(consent.permissions),
                           accounts=screens.accounts_of(uow, psu), selected=selected,
                           action=url_for(".authorize_decision",
                                          reference=pending.reference),
                           error=error, customer=psu.username), status


def _signin_page(uow, pending, psu, *, error: str | None = None, status: int = 200):
    """Step 3 of a sign-in (no consent): what the app will and will not learn."""
    _allow_redirect_to_tpp(pending)
    return render_template("psu/signin.html", requester=_requester(uow, pending),
                           action=url_for(".authorize_decision", reference=pending.reference),
                           error=error, customer=psu.username), status


def _allow_redirect_to_tpp(pending) -> None:
    parts = urlsplit((pending.params or {}).get("redirect_uri", ""))
    if parts.scheme in ("https", "http") and parts.netloc:
        web_pages.allow_form_redirect_to(f"{parts.scheme}://{parts.netloc}")


def _sign_page(uow, pending, psu, payment: screens.PaymentView, *, error: str | None = None,
               status: int = 200):
    """Step 2 for a payment: the customer's authenticator signs the amount and the payee."""
    p = platform.current()
    sandbox = identity.sandbox_sca_allowed(psu, p.config)
    authenticator = None
    if sandbox and payment.to_sign is not None \
            and "sandbox_authenticator.page" in current_app.view_functions:
        authenticator = url_for("sandbox_authenticator.page", username=psu.username,
                                amount=payment.sign_amount,
                                currency=payment.to_sign.currency, payee=payment.to_sign.payee)
    return render_template("psu/sign.html", requester=_requester(uow, pending),
                           payment=payment, to_sign=payment.to_sign,
                           action=url_for(".authorize_code", reference=pending.reference),
                           error=error, sandbox=sandbox, authenticator=authenticator,
                           username=psu.username if sandbox else None), status


def _payment_page(uow, pending, psu, payment: screens.PaymentView, *,
                  error: str | None = None, status: int = 200):
    _allow_redirect_to_tpp(pending)
    chosen = request.form.get("debtor_account") if request.method == "POST" else None
    accounts = screens.payment_accounts(uow, psu, payment)
    if chosen is None and len(accounts) == 1:
        chosen = accounts[0].account_id
    return render_template("psu/payment.html", requester=_requester(uow, pending),
                           payment=payment, accounts=accounts, chosen=chosen,
                           action=url_for(".authorize_decision", reference=pending.reference),
                           error=error, customer=psu.username), status


def _funds_page(uow, pending, psu, funds: screens.FundsCheckView, *,
                error: str | None = None, status: int = 200):
    _allow_redirect_to_tpp(pending)
    return render_template("psu/funds.html", requester=_requester(uow, pending), funds=funds,
                           accounts=screens.funds_check_accounts(uow, psu, funds),
                           action=url_for(".authorize_decision", reference=pending.reference),
                           error=error, customer=psu.username), status


def _refused_page(uow, pending, target: str, title: str, text: str):
    return render_template("psu/refused.html", title=title, text=text, target=target,
                           requester=_requester(uow, pending)), 403


# --- dashboard ------------------------------------------------------------------------------

@bp.route("/login", methods=["GET", "POST"])
@login_limits.password_post_limits
def login():
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        if request.method == "GET":
            if _dashboard_psu(uow, now) is not None:
                return redirect(url_for(".consents"), 303)
            return render_template("psu/login.html", requester=None, action=url_for(".login"))
        username = request.form.get("username", "")
        try:
            psu = identity.authenticate_password(uow, username, request.form.get("password", ""),
                                                 request.remote_addr, now,
                                                 known_device=devices.is_known(username))
        except identity_errors.IdentityError as error:
            uow.commit()
            return render_template("psu/login.html", requester=None, action=url_for(".login"),
                                   error=error.message, username=username[:64]), 401
        uow.commit()
    _forget_other_customers(psu.psu_id)
    at = int(now.timestamp())
    session["psu_login"] = {"psu": psu.psu_id, "stage": "password", "t": at, "since": at}
    session.rotate(psu.id)
    return redirect(url_for(".login_code"), 303)


@bp.route("/login/code", methods=["GET", "POST"])
@login_limits.code_post_limits
def login_code():
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        psu = _dashboard_psu(uow, now, stage="password", within=SECOND_FACTOR_WITHIN)
        if psu is None:
            return redirect(url_for(".login"), 303)
        if request.method == "GET":
            return _code_page(psu, url_for(".login_code"))
        try:
            identity.verify_totp(uow, psu, request.form.get("code", ""), request.remote_addr,
                                 now, replay=p.replay,
                                 sandbox_code=identity.sandbox_sca_allowed(psu, p.config),
                                 known_device=devices.is_known(psu.username))
        except identity_errors.LoginLocked as error:
            uow.commit()
            session.pop("psu_login", None)
            return _message("Login locked", error.message, 403)
        except identity_errors.IdentityError as error:
            uow.commit()
            return _code_page(psu, url_for(".login_code"), error=error.message, status=401)
        uow.commit()
    since = (session.get("psu_login") or {}).get("since", 0)
    session["psu_login"] = {"psu": psu.psu_id, "stage": "sca", "t": int(now.timestamp()),
                            "since": since}
    session.rotate(psu.id)
    return devices.remember(redirect(url_for(".consents"), 303), psu.username)


@bp.get("/consents")
def consents():
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        psu = _dashboard_psu(uow, now)
        if psu is None:
            return redirect(url_for(".login"), 303)
        groups = screens.consents_by_provider(uow, psu, now)
        return render_template("psu/dashboard.html", groups=groups, describe=describe,
                               customer=psu.username)


@bp.get("/consents/<consent_id>/revoke")
def confirm_revoke(consent_id: str):
    """Revoking asks first, and says what will happen; its form posts to `revoke`."""
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        psu = _dashboard_psu(uow, now)
        if psu is None:
            return redirect(url_for(".login"), 303)
        found = screens.consent_to_revoke(uow, psu, consent_id, now)
        if found is None:
            flash("That access cannot be revoked: it is no longer in force.", "error")
            return redirect(url_for(".consents"), 303)
        return render_template("psu/revoke.html", requester=found.requester,
                               item=found.consents[0], describe=describe,
                               customer=psu.username)


@bp.post("/consents/<consent_id>/revoke")
def revoke(consent_id: str):
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        psu = _dashboard_psu(uow, now)
        if psu is None:
            return redirect(url_for(".login"), 303)
        try:
            record = consent_services.revoke_by_psu(uow, psu, consent_id, now)
        except ConsentError:
            flash("That access cannot be revoked: it is no longer in force.", "error")
        else:
            uow.commit()
            flash(f"Done: {record.client_name} can no longer check whether your account has "
                  "enough money for a payment." if record.consent_type ==
                  screens.FUNDS_CONFIRMATION else
                  f"Done: {record.client_name} can no longer make payments from your account."
                  if record.consent_type == screens.VRP else
                  f"Done: {record.client_name} can no longer see your accounts.", "success")
    return redirect(url_for(".consents"), 303)


@bp.post("/logout")
def logout():
    session.end()
    flash("You are signed out.", "success")
    return redirect(url_for(".login"), 303)


def _dashboard_psu(uow, now: datetime, *, stage: str = "sca",
                   within: timedelta | None = None):
    """The customer logged in to the dashboard in this browser (up to `stage`, reached at
    most `within` ago); None when nobody is. The session's own idle timeout and lifetime
    (aspsp.identity.sessions) end a login that went quiet or lasted too long; the login itself
    ends PSU_SESSION_LIFETIME after its password step ("since")."""
    state = session.get("psu_login") or {}
    if state.get("stage") != stage:
        return None
    lifetime = timedelta(seconds=platform.current().config["PSU_SESSION_LIFETIME"])
    if now - _moment(state.get("since", 0), now) > lifetime or (
            within is not None and now - _moment(state.get("t", 0), now) > within):
        session.pop("psu_login", None)
        return None
    psu = identity.find_by_psu_id(uow, state.get("psu", ""))
    if psu is None:
        session.pop("psu_login", None)
        return None
    return psu


def _moment(timestamp, now: datetime) -> datetime:
    return datetime.fromtimestamp(timestamp if isinstance(timestamp, int) else 0, now.tzinfo)


def _forget_other_customers(psu_id: str) -> None:
    """A customer passed the password step in this browser: what any other customer reached
    in it (a dashboard login, approvals in progress) goes."""
    if (session.get("psu_login") or {}).get("psu") != psu_id:
        session.pop("psu_login", None)
    bound = session.get("authz") or {}
    mine = {ref: b for ref, b in bound.items() if b.get("psu") == psu_id}
    if mine != bound:
        session["authz"] = mine


# --- shared ---------------------------------------------------------------------------------

def _code_page(psu, action: str, *, requester=None, error: str | None = None,
               status: int = 200):
    p = platform.current()
    sandbox = identity.sandbox_sca_allowed(psu, p.config)
    return render_template("psu/code.html", action=action, requester=requester, error=error,
                           sandbox=sandbox, sandbox_code=identity.SANDBOX_CODE,
                           current_code=identity.current_code(psu, p.clock.now())
                           if sandbox else None), status


def _cannot_sign_yet(reference: str, retry_after: int):
    minutes = max(1, -(-retry_after // 60))
    return web_pages.error_page(
        "We can't finish this just now",
        "The bank could not complete your answer because of a problem on our side. Nothing "
        "has been approved or shared yet.",
        503, next_step=f"Please try again in {minutes} minute{'s' if minutes != 1 else ''}: "
                       "go back to the previous page and choose again.",
        developer="temporarily_unavailable", headers={"Retry-After": str(retry_after)})


def _gone():
    return _message("This link has expired",
                    "This request from the app has expired or has already been answered, "
                    "so nothing more will be shared or paid through it. Go back to the app "
                    "you came from and start again.", 404)


def _message(title: str, text: str, status: int):
    return render_template("psu/message.html", title=title, text=text), status


@bp.errorhandler(429)
def _too_many_attempts(error):
    """A login or code post over the rate limits (aspsp.identity.login_limits)."""
    html, status = _message("Too many attempts",
                            "There have been too many sign-in attempts. Nothing was checked. "
                            "Please wait a moment, then try again.", 429)
    return html, status, {"Retry-After": str(login_limits.retry_after_seconds())}


@bp.errorhandler(CSRFError)
def _csrf_failed(error):
    return _message("Please try again",
                    "This form had expired or did not come from this site, so nothing was "
                    "done. Go back, reload the page and try again.", 400)


bp.add_app_template_filter(wording.uk_time, "psu_when")     # UK local time, zone named
bp.add_app_template_filter(wording.uk_day, "psu_day")
