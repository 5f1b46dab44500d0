"""What the customer's pages read and record: the pending authorization a browser is working
on, the customer's own accounts, and every consent the customer gave, with its history.

The views call these and never query the ORM themselves. Consent rules stay in
consent.services (which accounts may be shared, effective status, history); this module only
shapes them for the pages. Nothing here commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from aspsp.db import UnitOfWork
from aspsp.identity.models import PsuUser
from aspsp.ledger.models import Account
from aspsp.oauth.models import OAuthClient, PendingAuthorization
from aspsp.oauth.trust import InvalidSignature, unverified_claims

from . import services, wording
from .models import Consent
from .services import ConsentRecord

AWAITING_AUTHORISATION = "AwaitingAuthorisation"

SUB_TYPES = {"CurrentAccount": "Current account", "Savings": "Savings account",
             "CreditCard": "Credit card", "ChargeCard": "Charge card", "Loan": "Loan",
             "Mortgage": "Mortgage", "EMoney": "E-money account", "PrePaidCard": "Prepaid card"}


@dataclass(frozen=True)
class AccountChoice:
    account_id: str
    name: str
    kind: str               # "Current account"
    number: str             # "40-12-34  ••••5678"
    currency: str


@dataclass(frozen=True)
class Requester:
    """The third party asking: the app's name and the organisation behind it."""
    client_name: str
    organisation: str


@dataclass
class ConsentView:
    """One consent as the dashboard shows it, in the customer's words (consent.wording)."""
    record: ConsentRecord
    accounts: list[AccountChoice]
    app: str = ""

    @property
    def active(self) -> bool:
        return self.record.revocable_by_psu

    @property
    def badge(self) -> tuple[str, str]:
        return wording.status_badge(self.record.status)

    @property
    def end(self) -> wording.Fact:
        r = self.record
        return wording.end_fact(r.status, r.expiration, r.status_updated_at,
                                r.deleted_by_tpp, self.app or r.client_name)

    @property
    def history(self) -> list[wording.HistoryLine]:
        r = self.record
        return wording.history(r.events, status=r.status, expiration=r.expiration,
                               app=self.app or r.client_name)


@dataclass
class ProviderConsents:
    requester: Requester
    consents: list[ConsentView] = field(default_factory=list)


def find_pending(uow: UnitOfWork, reference: str, now: datetime, *,
                 lock: bool = False) -> PendingAuthorization | None:
    """The pending authorization named by `reference`, while it can still be decided: not
    expired, not completed, and its consent still awaiting authorisation. `lock` takes its
    row lock, so two posts of the same form are decided one after the other."""
    if not reference or len(reference) > 64:
        return None
    query = select(PendingAuthorization).where(PendingAuthorization.reference == reference)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    pending = uow.session.scalars(query).one_or_none()
    if pending is None or pending.completed_at is not None or pending.expires_at <= now:
        return None
    consent = uow.session.get(Consent, pending.consent_pk)
    if consent is None or consent.status != AWAITING_AUTHORISATION:
        return None
    return pending


def consent_of(uow: UnitOfWork, pending: PendingAuthorization) -> Consent:
    return uow.session.get(Consent, pending.consent_pk)


def record_password_step(pending: PendingAuthorization, psu: PsuUser, now: datetime) -> None:
    """The customer passed the password step on this authorization (the second factor is
    still to come)."""
    pending.psu_pk, pending.authenticated_at, pending.sca_at = psu.id, now, None


def record_sca_step(pending: PendingAuthorization, now: datetime) -> None:
    pending.sca_at = now


def requester(uow: UnitOfWork, client_pk: int) -> Requester:
    client = uow.session.get(OAuthClient, client_pk)
    return Requester(client.client_name, _organisation_name(client))


def accounts_of(uow: UnitOfWork, psu: PsuUser) -> list[AccountChoice]:
    """The customer's own accounts that can be shared (consent.services decides which)."""
    return [_choice(a) for a in services.selectable_accounts(uow, psu)]


def consents_by_provider(uow: UnitOfWork, psu: PsuUser, now: datetime) -> list[ProviderConsents]:
    """Every consent the customer decided, grouped by the third party it was given to (by
    name), newest first inside each group, with the accounts it covers and its history."""
    groups: dict[str, ProviderConsents] = {}
    for record in services.list_for_psu(uow, psu, now):
        if record.client_id not in groups:
            client = uow.session.scalars(select(OAuthClient).where(
                OAuthClient.client_id == record.client_id)).one()
            groups[record.client_id] = ProviderConsents(requester(uow, client.id))
        groups[record.client_id].consents.append(
            ConsentView(record, _accounts_by_id(uow, record.account_ids),
                        groups[record.client_id].requester.client_name))
    return sorted(groups.values(), key=lambda g: (g.requester.client_name.lower(),
                                                  g.requester.organisation))


def consent_to_revoke(uow: UnitOfWork, psu: PsuUser, consent_id: str,
                      now: datetime) -> ProviderConsents | None:
    """The customer's own consent `consent_id` while it can still be revoked, with the third
    party it was given to (for the confirmation page); None otherwise."""
    if not consent_id or len(consent_id) > 128:
        return None
    row = uow.session.scalars(select(Consent).where(Consent.consent_id == consent_id,
                                                    Consent.psu_pk == psu.id)).one_or_none()
    if row is None:
        return None
    record = services.record_of(uow, row, now)
    if not record.revocable_by_psu:
        return None
    who = requester(uow, row.client_pk)
    return ProviderConsents(who, [ConsentView(record, _accounts_by_id(uow, record.account_ids),
                                              who.client_name)])


def _accounts_by_id(uow: UnitOfWork, account_ids) -> list[AccountChoice]:
    if not account_ids:
        return []
    rows = uow.session.scalars(select(Account).where(Account.account_id.in_(account_ids))
                               .order_by(Account.id)).all()
    return [_choice(a) for a in rows]


def _choice(account: Account) -> AccountChoice:
    number = ""
    if account.sort_code and account.account_number:
        sc = account.sort_code
        number = f"{sc[0:2]}-{sc[2:4]}-{sc[4:6]}  ••••{account.account_number[-4:]}"
    elif account.iban:
        number = f"••••{account.iban[-4:]}"
    return AccountChoice(account.account_id, account.nickname or account.name,
                         SUB_TYPES.get(account.account_sub_type or "", "Account"), number,
                         account.currency)


def _organisation_name(client: OAuthClient) -> str:
    """The organisation's name as its directory vouched for it: the org_name claim of the
    software statement verified when the client registered (whichever directory signed it);
    its organisation id when the statement names none."""
    try:
        name = unverified_claims(client.software_statement or "").get("org_name")
    except InvalidSignature:
        name = None
    if isinstance(name, str) and name.strip():
        return name.strip()
    return f"organisation {client.org_id}"
