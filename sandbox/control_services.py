"""What the sandbox control API does (sandbox/control.py is its HTTP face), one use case per
function, each in the caller's unit of work (the caller commits). Every one acts for one
client on its own consents only: another client's consent is not found, as in the OB APIs.

- `decide`: a pending authorization (from the client's pushed request_uri, or the consent id of
  one of its consents awaiting authorisation) approved or refused headlessly by a sandbox
  customer. It takes the platform's own path, the one the customer's pages take
  (consent.web): the pushed request is started as /authorize starts it
  (aspsp.oauth.authz_request), the password and SCA steps are recorded on the pending
  authorization (consent.screens), a payment the customer cannot sign or pay from is refused
  by the bank as the pages refuse it (screens.refuse_payment), and the decision is made by
  aspsp.oauth.authorize.complete_authorization, which answers with the redirect the browser
  would follow. The login and the one-time code are skipped: hence sandbox customers only
  (aspsp.identity.services.sandbox_sca_allowed, the demo customers).
- `revoke`: by the customer (consent.services.revoke_by_psu) or the bank (revoke_by_bank).
- `expire`: consent.services.expire_now.
- `fire_event`: aspsp.events.publish for one of the client's consents or payments: real
  delivery (pushed to the callback URL, else kept for polling).
- `advance_clock`: the platform clock, moved forward for the whole deployment.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select

from aspsp import events
from aspsp.db import UnitOfWork
from aspsp.events import domain as event_domain
from aspsp.events import services as event_services
from aspsp.identity import services as identity
from aspsp.identity.models import PsuUser
from aspsp.oauth import authz_request, keys
from aspsp.oauth.authorize import AuthorizationAlreadyCompleted, complete_authorization
from aspsp.oauth.clients import Client
from aspsp.oauth.models import OAuthClient, PendingAuthorization, PushedAuthorizationRequest
from aspsp.pis.models import PaymentOrder
from aspsp.vrp.models import DomesticVrp
from consent import screens
from consent import services as consent_services
from consent.domain import DELETED_BY_TPP, Actor, ConsentStatus, effective_status
from consent.errors import ConsentError
from consent.models import Consent, ConsentEvent

from . import seed

# The "browser" of a headless approval, for the pushed request's binding: a browser that
# opened the request_uri and where nobody signed in yet loses it to the control API, as it
# would to any other browser (aspsp.oauth.authz_request).
HEADLESS_BROWSER = "sandbox-control-api"
DEFAULT_CUSTOMER = seed.DEMO_USERS[0].username
MAX_ADVANCE = timedelta(days=3660)


class ControlError(Exception):
    """A refusal: `code` is an OB error code, `status` the HTTP status, `path` the field."""

    def __init__(self, status: int, code: str, message: str, path: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.path = status, code, message, path


NOT_FOUND = "UK.OBIE.Resource.NotFound"
FIELD_INVALID = "UK.OBIE.Field.Invalid"
FIELD_MISSING = "UK.OBIE.Field.Missing"
STATUS_INVALID = "UK.OBIE.Resource.InvalidConsentStatus"
NO_SUBSCRIPTION = "UK.InvisibleBank.Sandbox.NoEventSubscription"
UNAVAILABLE = "UK.InvisibleBank.Sandbox.TryAgainLater"


@dataclass(frozen=True)
class Decision:
    consent_id: str | None           # None: a sign-in (scope openid alone, no consent)
    status: str                      # Authorised, Rejected
    redirect_uri: str                # where the browser would have been sent
    customer: str
    account_ids: tuple[str, ...] = ()


# --- approve / reject -------------------------------------------------------------------------
def decide(uow: UnitOfWork, client_pk: int, *, approve: bool, request_uri: str | None,
           consent_id: str | None, username: str | None, account_ids: list[str] | None,
           debtor_account: str | None, now: datetime, issuer: str, config) -> Decision:
    client = Client(uow.session.get(OAuthClient, client_pk))
    pending = _pending(uow, client, request_uri=request_uri, consent_id=consent_id,
                       now=now, issuer=issuer)
    psu = _sandbox_customer(uow, username or DEFAULT_CUSTOMER, config)
    screens.record_password_step(pending, psu, now)
    screens.record_sca_step(pending, now)
    consent = screens.consent_of(uow, pending)
    chosen: list[str] = []
    if approve and consent is not None:
        refused = _bank_refusal(uow, pending, psu, consent, now)
        if refused is not None:
            return Decision(consent.consent_id, ConsentStatus.REJECTED.value, refused,
                            psu.username)
        chosen = _accounts(uow, psu, consent, account_ids, debtor_account)
    try:
        target = complete_authorization(uow, pending, approved=approve, psu=psu,
                                        account_ids=sorted(set(chosen)), now=now)
    except AuthorizationAlreadyCompleted:
        raise ControlError(400, STATUS_INVALID, "this authorization request is finished "
                           "(decided, or expired): push a new one") from None
    except keys.NoSigningKey as exc:
        raise ControlError(503, UNAVAILABLE, f"the bank has no key to sign with yet: try "
                           f"again in {exc.retry_after} seconds") from None
    except ConsentError as error:
        raise ControlError(400, STATUS_INVALID, error.message) from None
    if consent is None:              # a sign-in: nothing shared, no consent to report
        status = ConsentStatus.AUTHORISED if approve else ConsentStatus.REJECTED
        return Decision(None, status.value, target, psu.username)
    record = consent_services.record_of(uow, consent, now)
    return Decision(record.consent_id, record.status.value, target, psu.username,
                    record.account_ids)


def _pending(uow: UnitOfWork, client: Client, *, request_uri: str | None,
             consent_id: str | None, now: datetime, issuer: str) -> PendingAuthorization:
    if bool(request_uri) == bool(consent_id):
        raise ControlError(400, FIELD_MISSING, "give either request_uri (from PAR) or "
                           "consent_id (of a consent awaiting authorisation), not both",
                           "request_uri")
    if consent_id:
        pending, request_uri = _pending_of_consent(uow, client, consent_id, now)
        if pending is not None:
            return pending
    try:
        pending = authz_request.start_or_resume(uow, client, {"request_uri": request_uri},
                                                issuer=issuer, now=now,
                                                browser_hash=HEADLESS_BROWSER)
    except authz_request.AuthorizationRequestError as exc:
        raise ControlError(400, FIELD_INVALID, f"the authorization request cannot go ahead "
                           f"({exc.error}): {exc.description}", "request_uri") from None
    found = screens.find_pending(uow, pending.reference, now, lock=True)
    if found is None:
        raise ControlError(400, STATUS_INVALID, "the consent of this authorization request "
                           "is no longer awaiting authorisation", "request_uri")
    return found


def _pending_of_consent(uow: UnitOfWork, client: Client, consent_id: str, now: datetime
                        ) -> tuple[PendingAuthorization | None, str | None]:
    """A journey already started for the client's consent (the newest), else the request_uri
    of the newest unused pushed request naming it."""
    consent = _own_consent(uow, client.id, consent_id)
    status = effective_status(consent.status, consent.expiration_datetime, now)
    if status != ConsentStatus.AWAITING_AUTHORISATION:
        raise ControlError(400, STATUS_INVALID, f"the consent is {status}, not "
                           "AwaitingAuthorisation", "consent_id")
    for pending in uow.session.scalars(select(PendingAuthorization).where(
            PendingAuthorization.consent_pk == consent.id,
            PendingAuthorization.client_pk == client.id,
            PendingAuthorization.completed_at.is_(None))
            .order_by(PendingAuthorization.id.desc())):
        found = screens.find_pending(uow, pending.reference, now, lock=True)
        if found is not None:
            return found, None
    for par in uow.session.scalars(select(PushedAuthorizationRequest).where(
            PushedAuthorizationRequest.client_pk == client.id,
            PushedAuthorizationRequest.used_at.is_(None),
            PushedAuthorizationRequest.expires_at > now)
            .order_by(PushedAuthorizationRequest.id.desc())):
        if _intent_id((par.params or {}).get("claims")) == consent_id:
            return None, par.request_uri
    raise ControlError(400, NOT_FOUND, "no authorization request for this consent is waiting: "
                       "push one (POST /par) first, then approve it by its request_uri or "
                       "this consent_id", "consent_id")


def _intent_id(claims) -> str | None:
    """claims.id_token.openbanking_intent_id.value of a pushed request (a dict, or its JSON)."""
    if isinstance(claims, str):
        try:
            claims = json.loads(claims)
        except ValueError:
            return None
    requested = claims.get("id_token") if isinstance(claims, dict) else None
    intent = requested.get("openbanking_intent_id") if isinstance(requested, dict) else None
    value = intent.get("value") if isinstance(intent, dict) else None
    return value if isinstance(value, str) else None


def _sandbox_customer(uow: UnitOfWork, username: str, config) -> PsuUser:
    psu = identity.find_by_username(uow, username) if isinstance(username, str) else None
    if psu is None or not identity.sandbox_sca_allowed(psu, config):
        demo = ", ".join(sorted(identity.sandbox_demo_usernames()))
        raise ControlError(400, FIELD_INVALID, f"customer must be a sandbox customer (a demo "
                           f"customer: {demo}; or a test customer of the app): others "
                           "approve in the browser", "customer")
    sca_refused = getattr(identity, "sandbox_sca_refused", None)   # scenario customers
    if sca_refused is not None and sca_refused(psu):
        raise ControlError(400, FIELD_INVALID, f"{psu.username}'s strong customer "
                           "authentication always fails (a scenario customer): the approval "
                           "cannot complete, as in the browser", "customer")
    return psu


def _bank_refusal(uow: UnitOfWork, pending: PendingAuthorization, psu: PsuUser,
                  consent: Consent, now: datetime) -> str | None:
    """What the customer's pages refuse before any decision (consent.web authorize_code): a
    payment that cannot be signed, a payment from an account the customer cannot pay from, a
    funds check on an account that is not theirs. Returns the refusal's redirect, or None."""
    if screens.is_payment(consent):
        payment = screens.payment_of(consent)
        if payment.to_sign is None:
            return screens.refuse_payment(uow, pending, now, "the payment's amount or payee "
                                          "cannot be signed")
        if payment.debtor is not None and not screens.payment_accounts(uow, psu, payment):
            return screens.refuse_payment(uow, pending, now, "the debtor account is not one "
                                          "the customer may pay from")
    elif screens.is_funds_confirmation(consent):
        if not screens.funds_check_accounts(uow, psu, screens.funds_check_of(consent)):
            return screens.refuse_payment(uow, pending, now, "the DebtorAccount is not an "
                                          "open account of the customer")
    return None


def _accounts(uow: UnitOfWork, psu: PsuUser, consent: Consent, account_ids: list[str] | None,
              debtor_account: str | None) -> list[str]:
    """The accounts the customer picks, as the decision page lets them: for a payment the
    account to pay from (`debtor_account`, default the first it may be paid from), for a funds
    check the one named, for account access `account_ids` (default every account the customer
    may share)."""
    if screens.is_payment(consent):
        payable = [a.account_id for a in screens.payment_accounts(
            uow, psu, screens.payment_of(consent))]
        if not payable:
            raise ControlError(400, FIELD_INVALID, f"{psu.username} has no account this "
                               "payment can be made from", "debtor_account")
        chosen = debtor_account or payable[0]
        if chosen not in payable:
            raise ControlError(400, FIELD_INVALID, f"debtor_account must be one of "
                               f"{psu.username}'s accounts this payment can be made from: "
                               f"{', '.join(payable)}", "debtor_account")
        return [chosen]
    if screens.is_funds_confirmation(consent):
        return [a.account_id for a in screens.funds_check_accounts(
            uow, psu, screens.funds_check_of(consent))]
    own = [a.account_id for a in screens.accounts_of(uow, psu)]
    if not own:
        raise ControlError(400, FIELD_INVALID, f"{psu.username} has no open account to share",
                           "customer")
    if account_ids is None:
        return own
    if not account_ids or not set(account_ids) <= set(own):
        raise ControlError(400, FIELD_INVALID, f"accounts must be some of {psu.username}'s "
                           f"open accounts: {', '.join(own)}", "accounts")
    return list(account_ids)


# --- revoke, expire ----------------------------------------------------------------------------
REVOKERS = ("customer", "bank")


def revoke(uow: UnitOfWork, client_pk: int, consent_id: str, now: datetime, *,
           by: str = "customer", reason: str | None = None) -> consent_services.ConsentRecord:
    """The customer revokes the consent at the bank (their dashboard's Revoke), or the bank
    does (`reason`: a key of aspsp.events.BANK_REVOCATION_REASONS, default bank-decision)."""
    consent = _own_consent(uow, client_pk, consent_id)
    if by not in REVOKERS:
        raise ControlError(400, FIELD_INVALID, "by must be customer or bank", "by")
    try:
        if by == "bank":
            reason = reason or "bank-decision"
            if reason not in events.BANK_REVOCATION_REASONS:
                raise ControlError(400, FIELD_INVALID, "reason must be one of " + ", ".join(
                    sorted(events.BANK_REVOCATION_REASONS)), "reason")
            return consent_services.revoke_by_bank(
                uow, consent_id, now, reason=events.BANK_REVOCATION_REASONS[reason],
                operator="sandbox control API")
        if reason is not None:
            raise ControlError(400, FIELD_INVALID, "a customer gives no reason: reason is "
                               "only for by=bank", "reason")
        psu = uow.session.get(PsuUser, consent.psu_pk) if consent.psu_pk else None
        status = effective_status(consent.status, consent.expiration_datetime, now)
        if psu is None or status != ConsentStatus.AUTHORISED:
            raise ControlError(400, STATUS_INVALID, f"the consent is {status}: a customer "
                               "revokes only an authorised consent")
        return consent_services.revoke_by_psu(uow, psu, consent_id, now)
    except ConsentError as error:
        raise ControlError(400, STATUS_INVALID, error.message) from None


def expire(uow: UnitOfWork, client_pk: int, consent_id: str,
           now: datetime) -> consent_services.ConsentRecord:
    client = uow.session.get(OAuthClient, client_pk)
    try:
        return consent_services.expire_now(uow, client, consent_id, now)
    except consent_services.ConsentNotFound:
        raise _consent_not_found() from None
    except ConsentError as error:
        raise ControlError(400, STATUS_INVALID, error.message) from None


def _own_consent(uow: UnitOfWork, client_pk: int, consent_id) -> Consent:
    """The client's consent, unless it deleted it; another client's is not found either."""
    if not isinstance(consent_id, str) or not consent_services.CONSENT_ID.fullmatch(consent_id):
        raise _consent_not_found()
    consent = uow.session.scalars(select(Consent).where(Consent.consent_id == consent_id)
                                  ).one_or_none()
    if consent is None or consent.client_pk != client_pk or uow.session.scalar(
            select(ConsentEvent.id).where(ConsentEvent.consent_pk == consent.id,
                                          ConsentEvent.actor == Actor.TPP.value,
                                          ConsentEvent.reason == DELETED_BY_TPP).limit(1)):
        raise _consent_not_found()
    return consent


def _consent_not_found() -> ControlError:
    return ControlError(404, NOT_FOUND, "this client has no consent with this id",
                        "consent_id")


# --- events ------------------------------------------------------------------------------------
EVENT_TYPES = event_domain.EVENT_TYPES
LINKED_REASONS = {"closure": events.ACCOUNT_CLOSURE, "cass": events.CASS}


@dataclass(frozen=True)
class Fired:
    jti: str
    event_type: str
    delivery: str                 # "push" (to the callback URL) or "polling"
    subject: dict = field(default_factory=dict)


def fire_event(uow: UnitOfWork, client_pk: int, event_type: str, *, consent_id: str | None,
               payment_id: str | None, reason: str | None, now: datetime) -> Fired:
    """Raise `event_type` for the client about one of its consents (any type) or, for a
    resource-update, one of its payments. Only the event: the resource itself does not change
    (revoke or expire a consent for the real thing, which raises its own event)."""
    if event_type not in EVENT_TYPES:
        raise ControlError(400, "UK.OBIE.Unsupported.EventType", "event_type must be one of "
                           + ", ".join(EVENT_TYPES), "event_type")
    if bool(consent_id) == bool(payment_id):
        raise ControlError(400, FIELD_MISSING, "name the event's resource: consent_id, or "
                           "payment_id for a resource-update", "consent_id")
    rid, rty, path, code = _subject(uow, client_pk, event_type, consent_id, payment_id,
                                    reason)
    jti = events.publish(uow, client_pk=client_pk, event_type=event_type, rty=rty, rid=rid,
                         path=path, now=now, reason=code)
    if jti is None:
        raise ControlError(409, NO_SUBSCRIPTION, "the client has no event subscription that "
                           "receives this event type: create one (POST /open-banking/v3.1/"
                           "event-subscriptions, with a CallbackUrl for pushes or without "
                           "one for polling) first")
    subscription = event_services.subscriptions(uow, client_pk)[0]
    return Fired(jti, event_type, "push" if subscription.callback_url else "polling",
                 {"rid": rid, "rty": rty})


def _subject(uow: UnitOfWork, client_pk: int, event_type: str, consent_id: str | None,
             payment_id: str | None, reason: str | None) -> tuple[str, str, str, str | None]:
    if payment_id:
        if event_type != events.RESOURCE_UPDATE:
            raise ControlError(400, FIELD_INVALID, "a payment is the subject of a "
                               "resource-update only", "payment_id")
        if reason is not None:
            raise ControlError(400, FIELD_INVALID, "a resource-update has no reason", "reason")
        order_type = _payment_type(uow, client_pk, payment_id)
        rty, path = event_domain.payment_resource(order_type, payment_id)
        return payment_id, rty, path, None
    consent = _own_consent(uow, client_pk, consent_id)
    rty, path = event_domain.consent_resource(consent.consent_type, consent.consent_id)
    code = None
    if event_type == events.LINKED_ACCOUNT_UPDATE:
        if consent.consent_type != "account-access":
            raise ControlError(400, FIELD_INVALID, "account-access-consent-linked-account-"
                               "update is about an account-access consent", "consent_id")
        if reason is not None and reason not in LINKED_REASONS:
            raise ControlError(400, FIELD_INVALID, "reason must be closure or cass", "reason")
        code = LINKED_REASONS.get(reason or "")
    elif event_type == events.CONSENT_AUTHORIZATION_REVOKED:
        if reason is not None and reason not in events.BANK_REVOCATION_REASONS:
            raise ControlError(400, FIELD_INVALID, "reason must be one of " + ", ".join(
                sorted(events.BANK_REVOCATION_REASONS)) + " (or none: the customer revoked)",
                "reason")
        code = events.BANK_REVOCATION_REASONS.get(reason or "")
    elif reason is not None:
        raise ControlError(400, FIELD_INVALID, "a resource-update has no reason", "reason")
    return consent.consent_id, rty, path, code


def _payment_type(uow: UnitOfWork, client_pk: int, payment_id) -> str:
    if isinstance(payment_id, str) and len(payment_id) <= 40:
        order = uow.session.execute(select(PaymentOrder.order_type, PaymentOrder.client_pk)
                                    .where(PaymentOrder.payment_order_id == payment_id)).first()
        if order is not None and order.client_pk == client_pk:
            return order.order_type
        vrp = uow.session.execute(select(DomesticVrp.client_pk).where(
            DomesticVrp.domestic_vrp_id == payment_id)).first()
        if vrp is not None and vrp.client_pk == client_pk:
            return "domestic-vrp"
    raise ControlError(404, NOT_FOUND, "this client has no payment with this id",
                       "payment_id")


# --- the clock ---------------------------------------------------------------------------------
def advance_clock(clock, delta: timedelta) -> datetime:
    """Move the platform clock forward by `delta` (for every process of the deployment: the
    sandbox clock keeps its offset in the database); returns the new time. The scheduled
    payments that fell due are paid by the beat's next `ledger.run_schedules` (within a
    minute), or at once by `run_schedules`."""
    if delta <= timedelta(0):
        raise ControlError(400, FIELD_INVALID, "say how far forward: days, hours, minutes "
                           "and/or seconds, at least one second in all (the clock never goes "
                           "back)", "days")
    if delta > MAX_ADVANCE:
        raise ControlError(400, FIELD_INVALID, "at most 3660 days at a time", "days")
    try:
        clock.advance(delta)
    except ValueError as error:
        raise ControlError(400, FIELD_INVALID, str(error), "days") from None
    return clock.now()


def run_schedules(uow: UnitOfWork, now: datetime, *, limit: int = 1000) -> int:
    """Pay now what fell due (what the beat's next run would pay); how many were executed.
    The ledger's own use case, which commits each instalment itself."""
    from aspsp.ledger import schedules
    return len(schedules.run_due(uow, now, limit=limit))
