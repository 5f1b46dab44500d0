"""Consent use cases. Each takes a unit of work, does one thing and leaves the commit to the
caller (the API view, the authorization server's `complete_authorization`, the dashboard).

Every status change goes through the consent type's lifecycle (consent.domain) and is stored
as a ConsentEvent; final statuses never change. A consent is only ever visible to the client
that created it and, once authorised or refused, to the customer who decided it; anything
else is `ConsentNotFound`, the same answer as for an id that does not exist.
"""
from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Protocol

from sqlalchemy import delete, select, update

from aspsp import audit, events
from aspsp.db import UnitOfWork
from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from aspsp.ledger.domain import AccountKind, AccountStatus
from aspsp.ledger.models import Account, AccountParty
from aspsp.oauth import tokens
from aspsp.oauth.models import AuthorizationCode, OAuthClient

from . import permissions
from .domain import (AWAITING, CONSUMED_BY_PAYMENT, DELETED_BY_TPP, EXPIRABLE, EXPIRY_PASSED,
                     FILE_UPLOADED, NOT_AUTHORISED_IN_TIME, REAUTHENTICATED, REVOKED_BY_BANK,
                     REVOKED_BY_PSU, TERMINAL, Actor, ConsentStatus, ConsentType, Transition,
                     authorisation_closed, authorisation_overdue, effective_status,
                     keeps_status_when_revoked, lifecycle, may_reauthenticate)
from .errors import (AccountNotSelectable, AuthorisationClosed, ConsentNotFound,
                     ConsentOfAnotherClient, IllegalConsentTransition, InvalidConsentRequest, NoAccountSelected,
                     Problem, WrongCustomer)
from .models import Consent, ConsentAccount, ConsentEvent

CONSENT_ID = re.compile(r"[\x21-\x7e]{1,128}")     # printable ASCII, Max128Text
ID_PREFIXES = {ConsentType.ACCOUNT_ACCESS: "aac", ConsentType.DOMESTIC_PAYMENT: "pdc",
               ConsentType.DOMESTIC_SCHEDULED_PAYMENT: "psc",
               ConsentType.DOMESTIC_STANDING_ORDER: "pso",
               ConsentType.INTERNATIONAL_PAYMENT: "pic",
               ConsentType.INTERNATIONAL_SCHEDULED_PAYMENT: "pis",
               ConsentType.INTERNATIONAL_STANDING_ORDER: "pio",
               ConsentType.FILE_PAYMENT: "pfc",
               ConsentType.FUNDS_CONFIRMATION: "fcc", ConsentType.DOMESTIC_VRP: "vrc"}
PAYMENT_TYPES = frozenset(ID_PREFIXES) - {ConsentType.ACCOUNT_ACCESS,
                                          ConsentType.FUNDS_CONFIRMATION}


class Client(Protocol):
    """The client a TPP-side use case acts for: an OAuthClient row or the gate's ClientRef."""
    id: int
    client_id: str


@dataclass(frozen=True)
class AccountAccessRequest:
    """What a TPP asks for in an account-access consent, whatever the API version."""
    permissions: list[str]
    expiration: datetime | None = None
    transaction_from: datetime | None = None
    transaction_to: datetime | None = None
    raw: dict = field(default_factory=dict)   # the request as sent, kept with the consent


@dataclass(frozen=True)
class EventRecord:
    at: datetime
    from_status: str | None
    to_status: str
    actor: str
    actor_id: str | None
    reason: str | None


@dataclass(frozen=True)
class ConsentRecord:
    """A consent as the API layers and the customer's pages show it. `status` is the
    effective status (Expired once ExpirationDateTime has passed, recorded or not)."""
    consent_id: str
    consent_type: str
    api_version: str
    client_id: str
    client_name: str
    status: ConsentStatus
    recorded_status: ConsentStatus
    status_updated_at: datetime
    created_at: datetime
    authorised_at: datetime | None
    expiration: datetime | None
    transaction_from: datetime | None
    transaction_to: datetime | None
    permissions: tuple[str, ...]
    psu_id: str | None
    account_ids: tuple[str, ...]
    deleted_by_tpp: bool
    events: tuple[EventRecord, ...]
    # The type-specific request as the TPP sent it: for payment consents {"Initiation",
    # "Risk", and "Authorisation", "SCASupportData", "ReadRefundAccount" when sent}.
    data: dict = field(default_factory=dict)

    @property
    def access_stopped(self) -> EventRecord | None:
        """A VRP consent kept Authorised whose access the customer or the bank stopped (VRP
        profile), not re-authenticated since: that event; None otherwise."""
        last = self.events[-1] if self.events else None
        return last if last is not None and self.status == ConsentStatus.AUTHORISED \
            and _stops_access(self.consent_type, last.from_status, last.to_status,
                              last.reason) else None

    @property
    def revocable_by_psu(self) -> bool:
        return self.status == ConsentStatus.AUTHORISED and self.access_stopped is None


# --- the TPP's side ------------------------------------------------------------------------
def create_account_access_consent(uow: UnitOfWork, client: Client,
                                  request: AccountAccessRequest, now: datetime, *,
                                  api_version: str = "3.1",
                                  rng: random.Random | None = None) -> ConsentRecord:
    problems = permissions.validate(request.permissions) + _window_problems(request, now)
    if problems:
        raise InvalidConsentRequest(problems)
    created = lifecycle(ConsentType.ACCOUNT_ACCESS).created(client.client_id, now)
    consent = Consent(
        consent_id=f"{ID_PREFIXES[ConsentType.ACCOUNT_ACCESS]}-{new_id(rng)}",
        consent_type=ConsentType.ACCOUNT_ACCESS, client_pk=client.id, psu_pk=None,
        status=created.to_status, status_updated_at=now, created_at=now,
        expiration_datetime=request.expiration,
        transaction_from_datetime=request.transaction_from,
        transaction_to_datetime=request.transaction_to,
        permissions=permissions.normalise(request.permissions), data=dict(request.raw),
        api_version=api_version)
    uow.session.add(consent)
    uow.session.flush()
    _store(uow, consent, created)
    return record_of(uow, consent, now)


def get_consent(uow: UnitOfWork, client: Client, consent_id: str, now: datetime, *,
                consent_type: str = ConsentType.ACCOUNT_ACCESS) -> ConsentRecord:
    return record_of(uow, _tpp_consent(uow, client, consent_id, consent_type), now)


def delete_consent(uow: UnitOfWork, client: Client, consent_id: str, now: datetime, *,
                   consent_type: str = ConsentType.ACCOUNT_ACCESS) -> ConsentRecord:
    """The TPP's DELETE: the consent stops (Revoked, unless already final), its tokens are
    revoked at once, and the resource is gone for the TPP (a later GET finds nothing)."""
    consent = _tpp_consent(uow, client, consent_id, consent_type)
    _settle_expiry(uow, consent, now)
    _store(uow, consent, lifecycle(consent.consent_type).delete_by_tpp(
        consent.status, actor_id=client.client_id, at=now))
    tokens.revoke_for_consent(uow, consent.id, now=now)
    return record_of(uow, consent, now)


# --- funds-confirmation consents (the CoF API's side) ---------------------------------------
def create_funds_confirmation_consent(uow: UnitOfWork, client: Client, data: dict,
                                      now: datetime, *, expiration: datetime | None = None,
                                      api_version: str = "3.1",
                                      rng: random.Random | None = None) -> ConsentRecord:
    """A funds-confirmation consent (AwaitingAuthorisation) holding `data` exactly as the
    CBPII sent it ({"DebtorAccount", "ExpirationDateTime"}); the API layer has validated the
    account's form. Open-ended without an ExpirationDateTime, which must be in the future."""
    problems = _window_problems(AccountAccessRequest(permissions=[], expiration=expiration),
                                now)
    if problems:
        raise InvalidConsentRequest(problems)
    created = lifecycle(ConsentType.FUNDS_CONFIRMATION).created(client.client_id, now)
    consent = Consent(
        consent_id=f"{ID_PREFIXES[ConsentType.FUNDS_CONFIRMATION]}-{new_id(rng)}",
        consent_type=ConsentType.FUNDS_CONFIRMATION, client_pk=client.id, psu_pk=None,
        status=created.to_status, status_updated_at=now, created_at=now,
        expiration_datetime=expiration, permissions=[], data=dict(data),
        api_version=api_version)
    uow.session.add(consent)
    uow.session.flush()
    _store(uow, consent, created)
    return record_of(uow, consent, now)


# --- payment consents (the PIS API's side) --------------------------------------------------
def create_payment_consent(uow: UnitOfWork, client: Client, consent_type: str, data: dict,
                           now: datetime, *, expiration: datetime | None = None,
                           api_version: str = "3.1",
                           rng: random.Random | None = None) -> ConsentRecord:
    """A payment consent (AwaitingAuthorisation) holding `data` exactly as the TPP sent it
    ({"Initiation", "Risk", ...}); the API layer has validated it."""
    consent_type = ConsentType(consent_type)
    if consent_type not in PAYMENT_TYPES:
        raise ValueError(f"{consent_type} is not a payment consent type")
    created = lifecycle(consent_type).created(client.client_id, now)
    consent = Consent(
        consent_id=f"{ID_PREFIXES[consent_type]}-{new_id(rng)}", consent_type=consent_type,
        client_pk=client.id, psu_pk=None, status=created.to_status, status_updated_at=now,
        created_at=now, expiration_datetime=expiration, permissions=[], data=dict(data),
        api_version=api_version)
    uow.session.add(consent)
    uow.session.flush()
    _store(uow, consent, created)
    return record_of(uow, consent, now)


def lock_payment_consent(uow: UnitOfWork, client: Client, consent_id: str,
                         consent_type: str, now: datetime) -> Consent:
    """The client's payment consent of this type, row-locked until the transaction ends (a
    second submission against it waits, then sees it Consumed); its expiry recorded."""
    consent = _tpp_consent(uow, client, consent_id, consent_type)
    _settle_expiry(uow, consent, now)
    return consent


def file_uploaded(uow: UnitOfWork, client: Client, consent: Consent, now: datetime) -> None:
    """A file payment consent's file arrived and was accepted: AwaitingUpload ->
    AwaitingAuthorisation, by the TPP (the caller holds the row lock of
    `lock_payment_consent`)."""
    _store(uow, consent, lifecycle(consent.consent_type).move(
        consent.status, ConsentStatus.AWAITING_AUTHORISATION, actor=Actor.TPP,
        actor_id=client.client_id, at=now, reason=FILE_UPLOADED))


def consume(uow: UnitOfWork, consent: Consent, now: datetime) -> None:
    """The payment order the consent allowed is made: Authorised -> Consumed, in the order's
    transaction (the caller holds the row lock of `lock_payment_consent`). Nothing is read
    back: the submission has what it shows."""
    _store(uow, consent, lifecycle(consent.consent_type).move(
        consent.status, ConsentStatus.CONSUMED, actor=Actor.SYSTEM, actor_id=None, at=now,
        reason=CONSUMED_BY_PAYMENT))


# --- the customer's side (called by complete_authorization and the dashboard) --------------
def authorise(uow: UnitOfWork, consent: Consent, psu: PsuUser, account_pks: list[int],
              now: datetime) -> ConsentRecord:
    """The customer approved, choosing these accounts. On an Authorised consent this is a
    re-authentication by the same customer: the choice of accounts is replaced and the
    tokens issued before stop working."""
    _settle_expiry(uow, consent, now)
    current = ConsentStatus(consent.status)
    reauthentication = current == ConsentStatus.AUTHORISED
    if reauthentication and consent.psu_pk != psu.id:
        raise WrongCustomer("another customer authorised this consent")
    if not reauthentication and authorisation_closed(consent.data, now):
        raise AuthorisationClosed("The payment provider asked for this to be approved by "
                                  "a time that has passed: it can no longer be approved.")
    transition = lifecycle(consent.consent_type).move(
        current, ConsentStatus.AUTHORISED, actor=Actor.PSU, actor_id=psu.psu_id, at=now,
        reason=REAUTHENTICATED if reauthentication else None)
    accounts = _selectable_accounts(uow, psu, account_pks)
    if consent.consent_type == ConsentType.ACCOUNT_ACCESS and not accounts:
        raise NoAccountSelected("choose at least one account to share")
    if consent.consent_type == ConsentType.FUNDS_CONFIRMATION:
        if len(accounts) != 1:
            raise NoAccountSelected("a funds confirmation consent is for exactly one account")
        if not _names(accounts[0], (consent.data or {}).get("DebtorAccount")):
            raise AccountNotSelectable("the account chosen is not the DebtorAccount named")
    consent.psu_pk, consent.authorised_at = psu.id, now
    uow.session.execute(delete(ConsentAccount).where(ConsentAccount.consent_pk == consent.id))
    uow.session.expire(consent, ["accounts"])
    uow.session.add_all(ConsentAccount(consent_pk=consent.id, account_pk=a.id) for a in accounts)
    if reauthentication:
        tokens.revoke_for_consent(uow, consent.id, now=now)
    _store(uow, consent, transition)
    return record_of(uow, consent, now)


def reject(uow: UnitOfWork, consent: Consent, psu: PsuUser | None, now: datetime,
           reason: str | None = None) -> ConsentRecord:
    """The customer refused (psu given) or the authorisation did not complete (psu None).
    A refused re-authentication of a VRP consent leaves it as it was (Authorised, and its
    access as it was): the customer only declined to confirm it again."""
    _settle_expiry(uow, consent, now)
    if may_reauthenticate(consent.consent_type, consent.status, consent.expiration_datetime,
                          now):
        return record_of(uow, consent, now)
    actor, actor_id = (Actor.PSU, psu.psu_id) if psu is not None else (Actor.SYSTEM, None)
    transition = lifecycle(consent.consent_type).move(
        consent.status, ConsentStatus.REJECTED, actor=actor, actor_id=actor_id, at=now,
        reason=reason)
    if psu is not None:
        consent.psu_pk = psu.id
    _store(uow, consent, transition)
    tokens.revoke_for_consent(uow, consent.id, now=now)
    return record_of(uow, consent, now)


def revoke_by_psu(uow: UnitOfWork, psu: PsuUser, consent_id: str,
                  now: datetime) -> ConsentRecord:
    """The customer revoked the consent from the dashboard: Revoked, tokens revoked at once.
    An Authorised VRP consent keeps its status (VRP profile, "Consent Revocation"): its access
    stops (tokens, codes not yet exchanged) until the customer re-authenticates it."""
    consent = _find(uow, consent_id)
    if consent is None or consent.psu_pk != psu.id:
        raise ConsentNotFound("no such consent")
    _settle_expiry(uow, consent, now)
    target = ConsentStatus.REVOKED
    if keeps_status_when_revoked(consent.consent_type) \
            and consent.status == ConsentStatus.AUTHORISED:
        if access_revoked(consent):
            raise IllegalConsentTransition("its access is already stopped")
        target = ConsentStatus.AUTHORISED
        _void_codes(uow, consent, now)
    _store(uow, consent, lifecycle(consent.consent_type).move(
        consent.status, target, actor=Actor.PSU, actor_id=psu.psu_id, at=now,
        reason=REVOKED_BY_PSU))
    tokens.revoke_for_consent(uow, consent.id, now=now)
    return record_of(uow, consent, now)


# --- the bank's side (operator commands) -----------------------------------------------------
def revoke_by_bank(uow: UnitOfWork, consent_id: str, now: datetime, *, reason: str,
                   operator: str | None = None) -> ConsentRecord:
    """The bank stops a consent in force (suspected fraud, its TPP no longer authorised...):
    a long-lived consent becomes Revoked, one that cannot be revoked (awaiting authorisation,
    a payment consent) Rejected; its tokens stop working at once; an authorised one raises
    consent-authorization-revoked with `reason` (an OBExternalEventConsentAuthorization
    RevokedReason1Code) for its TPP, in this unit of work."""
    consent = _find(uow, consent_id)
    if consent is None:
        raise ConsentNotFound("no such consent")
    _settle_expiry(uow, consent, now)
    _revoke_by_bank(uow, consent, now, reason=reason, operator=operator)
    return record_of(uow, consent, now)


def revoke_all_of_client(uow: UnitOfWork, client_id: str, now: datetime, *, reason: str,
                         operator: str | None = None) -> list[str]:
    """Every consent of the client still in force, revoked by the bank (its registration was
    deleted or suspended); returns their ids. Expiries that passed are recorded first."""
    client_pk = uow.session.scalars(select(OAuthClient.id).where(
        OAuthClient.client_id == client_id)).one_or_none()
    if client_pk is None:
        raise ConsentNotFound("no such client")
    rows = uow.session.scalars(select(Consent).where(
        Consent.client_pk == client_pk,
        Consent.status.in_(sorted(s.value for s in EXPIRABLE)))
        .order_by(Consent.id).with_for_update()).all()
    revoked = []
    for consent in rows:
        _settle_expiry(uow, consent, now)
        if ConsentStatus(consent.status) not in TERMINAL and not access_revoked(consent):
            _revoke_by_bank(uow, consent, now, reason=reason, operator=operator)
            revoked.append(consent.consent_id)
    return revoked


def access_revoked(consent: Consent) -> bool:
    """A VRP consent whose access the bank or the customer revoked, its status kept
    Authorised (VRP profile), that its customer has not re-authenticated since: its latest
    event is that revocation."""
    last = consent.events[-1] if consent.events else None
    return last is not None and _stops_access(consent.consent_type, last.from_status,
                                              last.to_status, last.reason)


def _stops_access(consent_type: str, from_status, to_status, reason: str | None) -> bool:
    return keeps_status_when_revoked(consent_type) \
        and from_status == to_status == ConsentStatus.AUTHORISED \
        and ((reason or "").startswith(REVOKED_BY_BANK) or reason == REVOKED_BY_PSU)


def _void_codes(uow: UnitOfWork, consent: Consent, now: datetime) -> None:
    """Authorization codes of the consent not yet exchanged give no token any more."""
    uow.session.execute(update(AuthorizationCode).where(
        AuthorizationCode.consent_pk == consent.id, AuthorizationCode.used_at.is_(None))
        .values(used_at=now))


def _revoke_by_bank(uow: UnitOfWork, consent: Consent, now: datetime, *, reason: str,
                    operator: str | None) -> None:
    """An Authorised VRP consent keeps its status (VRP profile, "Consent Revocation"): its
    tokens and any authorization code not yet exchanged stop working, and only the customer
    re-authenticating it gives its PISP a token again."""
    life = lifecycle(consent.consent_type)
    if keeps_status_when_revoked(consent.consent_type) \
            and consent.status == ConsentStatus.AUTHORISED:
        if access_revoked(consent):
            raise IllegalConsentTransition("its access is already revoked, and the customer "
                                           "has not re-authenticated it since")
        target = ConsentStatus.AUTHORISED
        _void_codes(uow, consent, now)
    else:
        target = ConsentStatus.REVOKED if life.can(consent.status, ConsentStatus.REVOKED,
                                                   Actor.SYSTEM) else ConsentStatus.REJECTED
    _store(uow, consent, life.move(consent.status, target, actor=Actor.SYSTEM,
                                   actor_id=operator, at=now,
                                   reason=f"{REVOKED_BY_BANK}: {reason}"), event_reason=reason)
    tokens.revoke_for_consent(uow, consent.id, now=now)


def expire_now(uow: UnitOfWork, client: Client, consent_id: str,
               now: datetime) -> ConsentRecord:
    """The client's consent (of any type, not deleted by it) expires now: its
    ExpirationDateTime becomes `now` and Expired is recorded at once, as the expiry sweep
    records it (an authorised consent raises consent-authorization-revoked; every read
    already treats it as expired). The sandbox's control API calls it (`sandbox.control`).
    Only a consent still in force (awaiting authorisation or upload, or authorised) can."""
    consent = _find(uow, consent_id)
    if consent is None or consent.client_pk != client.id or _deleted_by_tpp(
            uow.session.scalars(select(ConsentEvent).where(
                ConsentEvent.consent_pk == consent.id)).all()):
        raise ConsentNotFound("no such consent")
    _settle_expiry(uow, consent, now)
    if ConsentStatus(consent.status) not in EXPIRABLE:
        raise IllegalConsentTransition(f"the consent is {consent.status}, a final status: "
                                       "it cannot expire")
    consent.expiration_datetime = now
    _settle_expiry(uow, consent, now)
    return record_of(uow, consent, now)


# --- accounts leaving a consent's scope -------------------------------------------------------
LINKED_ACCOUNT_REASONS = {"closure": events.ACCOUNT_CLOSURE, "cass": events.CASS}


def linked_account_left(uow: UnitOfWork, account_pk: int, now: datetime,
                        reason: str | None = None) -> list[str]:
    """An account some authorised account-access consents cover left their scope (closed or
    disabled by the bank: reason "closure"; switched to another bank: "cass"): each such
    consent's TPP gets account-access-consent-linked-account-update (reason
    UK.OBIE.AccountClosure or UK.OBIE.CASS), in this unit of work, and the account is no
    longer associated with the consent: it stays Authorised for its other accounts. Consents
    no longer in force keep their accounts (the customer's history). The ledger calls it
    (aspsp.ledger.dispatch.on_account_out_of_service). Returns the consents' ids."""
    code = LINKED_ACCOUNT_REASONS.get(reason or "")
    rows = uow.session.execute(select(Consent.id, Consent.consent_id, Consent.client_pk,
                                      Consent.expiration_datetime)
                               .join(ConsentAccount, ConsentAccount.consent_pk == Consent.id)
                               .where(ConsentAccount.account_pk == account_pk,
                                      Consent.consent_type == ConsentType.ACCOUNT_ACCESS,
                                      Consent.status == ConsentStatus.AUTHORISED.value)
                               .order_by(Consent.id)).all()
    raised = []
    for row in rows:
        if effective_status(ConsentStatus.AUTHORISED, row.expiration_datetime, now) \
                != ConsentStatus.AUTHORISED:
            continue
        uow.session.execute(delete(ConsentAccount).where(ConsentAccount.consent_pk == row.id,
                                                         ConsentAccount.account_pk == account_pk))
        events.linked_account_update(uow, client_pk=row.client_pk, consent_id=row.consent_id,
                                     reason=code, now=now)
        raised.append(row.consent_id)
    return raised


def list_for_psu(uow: UnitOfWork, psu: PsuUser, now: datetime | None = None
                 ) -> list[ConsentRecord]:
    """Every consent the customer decided, newest first, with accounts and history."""
    rows = uow.session.scalars(select(Consent).where(Consent.psu_pk == psu.id)
                               .order_by(Consent.created_at.desc(), Consent.id.desc())).all()
    return [record_of(uow, c, now) for c in rows]


def selectable_accounts(uow: UnitOfWork, psu: PsuUser) -> list[Account]:
    """The accounts a customer may share: held by the customer's party, customer accounts,
    enabled."""
    return list(uow.session.scalars(_selectable_query(psu).order_by(Account.id)))


# --- reading --------------------------------------------------------------------------------
def record_of(uow: UnitOfWork, consent: Consent, now: datetime | None = None) -> ConsentRecord:
    client = uow.session.get(OAuthClient, consent.client_pk)
    psu = uow.session.get(PsuUser, consent.psu_pk) if consent.psu_pk else None
    account_ids = uow.session.scalars(
        select(Account.account_id).join(ConsentAccount, ConsentAccount.account_pk == Account.id)
        .where(ConsentAccount.consent_pk == consent.id).order_by(Account.id)).all()
    events = uow.session.scalars(select(ConsentEvent).where(
        ConsentEvent.consent_pk == consent.id).order_by(ConsentEvent.id)).all()
    recorded = ConsentStatus(consent.status)
    return ConsentRecord(
        consent_id=consent.consent_id, consent_type=consent.consent_type,
        api_version=consent.api_version, client_id=client.client_id,
        client_name=client.client_name,
        status=effective_status(recorded, consent.expiration_datetime, now)
        if now is not None else recorded,
        recorded_status=recorded, status_updated_at=consent.status_updated_at,
        created_at=consent.created_at, authorised_at=consent.authorised_at,
        expiration=consent.expiration_datetime,
        transaction_from=consent.transaction_from_datetime,
        transaction_to=consent.transaction_to_datetime,
        permissions=tuple(consent.permissions or ()), psu_id=psu.psu_id if psu else None,
        account_ids=tuple(account_ids), deleted_by_tpp=_deleted_by_tpp(events),
        events=tuple(EventRecord(e.at, e.from_status, e.to_status, e.actor, e.actor_id,
                                 e.reason) for e in events),
        data=dict(consent.data or {}))


def _find(uow: UnitOfWork, consent_id: str) -> Consent | None:
    """The consent, row-locked: whoever changes it next (the TPP's DELETE, the customer's
    decision or revocation) waits, then sees the status as it is now."""
    if not CONSENT_ID.fullmatch(consent_id or ""):    # ours are "aac-<uuid>"; never NUL etc.
        return None
    return uow.session.scalars(select(Consent).where(Consent.consent_id == consent_id)
                               .with_for_update().execution_options(populate_existing=True)
                               ).one_or_none()


def _tpp_consent(uow: UnitOfWork, client: Client, consent_id: str,
                 consent_type: str) -> Consent:
    """The client's own consent of this type that it has not deleted; another client's:
    ConsentOfAnotherClient (403); else not found (400)."""
    consent = _find(uow, consent_id)
    if consent is not None and consent.client_pk != client.id:
        raise ConsentOfAnotherClient("this consent was created by another client")
    if consent is None or consent.consent_type != consent_type:
        raise ConsentNotFound("no such consent")
    events = uow.session.scalars(select(ConsentEvent).where(
        ConsentEvent.consent_pk == consent.id)).all()
    if _deleted_by_tpp(events):
        raise ConsentNotFound("no such consent")
    return consent


def _deleted_by_tpp(events) -> bool:
    return any(e.actor == Actor.TPP and e.reason == DELETED_BY_TPP for e in events)


def _window_problems(request: AccountAccessRequest, now: datetime) -> list[Problem]:
    unrepresentable = [Problem("date", f"Data.{name}", f"{name} is out of range")
                       for name, value in (("ExpirationDateTime", request.expiration),
                                           ("TransactionFromDateTime", request.transaction_from),
                                           ("TransactionToDateTime", request.transaction_to))
                       if value is not None and not _in_utc_range(value)]
    if unrepresentable:
        return unrepresentable
    problems = []
    if request.expiration is not None and request.expiration <= now:
        problems.append(Problem("date", "Data.ExpirationDateTime",
                                "ExpirationDateTime must be in the future"))
    if request.transaction_from and request.transaction_to \
            and request.transaction_from > request.transaction_to:
        problems.append(Problem("date", "Data.TransactionToDateTime",
                                "TransactionToDateTime must not be before "
                                "TransactionFromDateTime"))
    return problems


def _in_utc_range(value: datetime) -> bool:
    try:
        value.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        return False
    return True


def _selectable_query(psu: PsuUser):
    return (select(Account).join(AccountParty, AccountParty.account_pk == Account.id)
            .where(AccountParty.party_pk == psu.party_pk, Account.kind == AccountKind.CUSTOMER,
                   Account.status == AccountStatus.ENABLED))


def _names(account: Account, debtor) -> bool:
    """Whether a TPP's DebtorAccount ({SchemeName, Identification}) is this account."""
    if not isinstance(debtor, dict):
        return False
    scheme = str(debtor.get("SchemeName") or "")
    ident = "".join(str(debtor.get("Identification") or "").split()).upper()
    if scheme == "UK.OBIE.SortCodeAccountNumber":
        return bool(account.sort_code and account.account_number) and \
            ident == f"{account.sort_code}{account.account_number}"
    if scheme == "UK.OBIE.IBAN":
        return bool(account.iban) and ident == account.iban.replace(" ", "").upper()
    return False


def _selectable_accounts(uow: UnitOfWork, psu: PsuUser, account_pks) -> list[Account]:
    wanted = set(account_pks or ())
    if not wanted:
        return []
    found = list(uow.session.scalars(_selectable_query(psu).where(Account.id.in_(wanted))
                                     .order_by(Account.id)))
    if len(found) != len(wanted):
        raise AccountNotSelectable("an account chosen cannot be shared by this customer")
    return found


def expire_due(uow: UnitOfWork, now: datetime, *, limit: int = 500) -> int:
    """Record Expired for up to `limit` consents whose ExpirationDateTime has passed, in the
    caller's unit of work (the beat's sweep commits each batch). Every read already treats such
    a consent as expired; recording it on time is what tells the TPP at once (an authorised
    consent's expiry raises consent-authorization-revoked) and what the customer's history
    shows. Rows another sweep holds are skipped (PostgreSQL), never recorded twice."""
    due = uow.session.scalars(expiry_due_query(now, limit)).all()
    for consent in due:
        _settle_expiry(uow, consent, now)
    return len(due)


def expiry_due_query(now: datetime, limit: int = 500):
    """The sweep's statement: it reads the partial index ix_consents_expiry_due (consents in
    force with an expiry, by expiry), from the oldest expiry up to `now`."""
    return (select(Consent).where(Consent.status.in_(sorted(s.value for s in EXPIRABLE)),
                                  Consent.expiration_datetime.is_not(None),
                                  Consent.expiration_datetime <= now)
            .order_by(Consent.expiration_datetime, Consent.id).limit(limit)
            .with_for_update(skip_locked=True))


def reject_overdue(uow: UnitOfWork, now: datetime, window_seconds: int, *,
                   limit: int = 500) -> int:
    """Record Rejected for up to `limit` consents still awaiting authorisation (or their file)
    a whole authorisation window after they were made, in the caller's unit of work (the
    beat's sweep commits each batch). One whose ExpirationDateTime came first is Expired
    instead. Rows another sweep holds are skipped (PostgreSQL), never recorded twice."""
    due = uow.session.scalars(overdue_query(now, window_seconds, limit)).all()
    for consent in due:
        closed_at = consent.created_at + timedelta(seconds=window_seconds)
        if consent.expiration_datetime is not None and consent.expiration_datetime <= closed_at:
            _settle_expiry(uow, consent, now)        # it expired while the window was open
        else:
            _store(uow, consent, lifecycle(consent.consent_type).move(
                consent.status, ConsentStatus.REJECTED, actor=Actor.SYSTEM, actor_id=None,
                at=closed_at, reason=NOT_AUTHORISED_IN_TIME))
    return len(due)


def overdue_query(now: datetime, window_seconds: int, limit: int = 500):
    """The window sweep's statement: it reads the partial index ix_consents_awaiting (consents
    awaiting authorisation or a file, by creation), from the oldest up to the window's start."""
    return (select(Consent).where(Consent.status.in_(sorted(s.value for s in AWAITING)),
                                  Consent.created_at <= now - timedelta(seconds=window_seconds))
            .order_by(Consent.created_at, Consent.id).limit(limit)
            .with_for_update(skip_locked=True))


def check_authorisation_window(consent: Consent, now: datetime, window_seconds: int) -> None:
    """AuthorisationClosed when the consent has waited the bank's whole authorisation window
    (the sweep marks it Rejected within the minute; no approval completes meanwhile)."""
    if authorisation_overdue(consent.status, consent.created_at, now, window_seconds):
        raise AuthorisationClosed("This request waited too long for your approval: it can no "
                                  "longer be approved. The app can ask you again.")


def _settle_expiry(uow: UnitOfWork, consent: Consent, now: datetime) -> None:
    """Record Expired when ExpirationDateTime has passed and nobody has recorded it yet."""
    current = ConsentStatus(consent.status)
    if effective_status(current, consent.expiration_datetime, now) != ConsentStatus.EXPIRED \
            or current == ConsentStatus.EXPIRED:
        return
    _store(uow, consent, lifecycle(consent.consent_type).move(
        current, ConsentStatus.EXPIRED, actor=Actor.SYSTEM, actor_id=None,
        at=consent.expiration_datetime, reason=EXPIRY_PASSED))


def _audit(uow: UnitOfWork, consent: Consent, transition: Transition) -> None:
    """Every consent event in the audit trail, in its unit of work: created, authorised,
    rejected, revoked, consumed, expired... (`consent.<status>`; an act that keeps the status,
    such as a VRP consent's access revoked, is `consent.<status>` with its reason)."""
    event = "created" if transition.from_status is None else \
        transition.to_status.value.lower()
    audit.record(uow, f"consent.{event}", _audit_actor(transition, consent), now=transition.at,
                 subject=consent.consent_id,
                 facts={"consent_type": consent.consent_type,
                        "from": transition.from_status.value if transition.from_status else None,
                        "to": transition.to_status.value, "reason": transition.reason})


def _audit_actor(transition: Transition, consent: Consent) -> audit.Actor:
    if transition.actor == Actor.PSU and transition.actor_id:
        return audit.Actor.customer(transition.actor_id)
    if transition.actor == Actor.TPP and transition.actor_id:
        return audit.Actor.client(transition.actor_id)
    if (transition.reason or "").startswith(REVOKED_BY_BANK):
        return audit.Actor.operator(transition.actor_id)   # the bank's operator command
    return audit.Actor.system(transition.actor_id or "consent-lifecycle")


def _store(uow: UnitOfWork, consent: Consent, transition: Transition, *,
           event_reason: str | None = None) -> None:
    if transition.from_status != transition.to_status:
        consent.status = transition.to_status
        consent.status_updated_at = transition.at
    uow.session.add(ConsentEvent(
        consent_pk=consent.id,
        from_status=transition.from_status.value if transition.from_status else None,
        to_status=transition.to_status.value, actor=transition.actor.value,
        actor_id=transition.actor_id, reason=transition.reason, at=transition.at))
    uow.session.flush()
    _audit(uow, consent, transition)
    # by the bank; or a VRP consent's access stopped by the customer, its status kept
    stopped = (transition.reason or "").startswith(REVOKED_BY_BANK) or _stops_access(
        consent.consent_type, transition.from_status, transition.to_status, transition.reason)
    if transition.from_status == ConsentStatus.AUTHORISED and transition.reason != DELETED_BY_TPP \
            and (transition.to_status in (ConsentStatus.REVOKED, ConsentStatus.EXPIRED)
                 or stopped):
        events.consent_authorization_revoked(   # revoked by the customer or the bank, expired
            uow, client_pk=consent.client_pk, consent_type=consent.consent_type,
            consent_id=consent.consent_id, now=transition.at, reason=event_reason)
