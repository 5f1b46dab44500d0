"""Test data per developer-portal app: test customers, their accounts, money and history.

Everything goes through the bank's own services, as for any customer: the login through
identity.create_psu, the accounts through ledger.open_account, money through balanced journal
entries (ledger.post_entry, receive_inbound_payment), an account's status through
ledger.set_account_status (so the consent context's linked-account-update fires). The sandbox
table `sandbox_test_customers` only says which app owns which customer.

- A test customer's username starts `test-<the app id's first 8 characters>-`, their password
  is the sandbox password (sandbox.seed.SANDBOX_PASSWORD), and they get the sandbox's SCA
  shortcuts (code 123456, current code on the page: `SandboxCustomersPolicy`) unless made to
  fail SCA (sandbox/scenarios.py).
- Funding moves money from the sandbox's own funding account (`SANDBOX-FUNDING-<currency>`,
  an internal account of the bank) in one entry.
- Reset: the app's test customers leave (their accounts closed, their logins disabled: the
  journal is append-only, so nothing is deleted), the app's consents are revoked by the bank,
  and a new default customer with funded accounts is made. The seeded bank is not touched.

Every function takes the caller's unit of work and never commits. An account or customer
that is not the app's raises NotTestData (a 404 on the pages, like anything of another app).
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from sqlalchemy import select

from aspsp.db import UnitOfWork
from aspsp.identity import services as identity
from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from aspsp.ledger import models as ledger_models
from aspsp.ledger import services as ledger
from aspsp.ledger.domain import AccountKind, AccountStatus, transfer_lines
from aspsp.ledger.errors import InsufficientFunds, LedgerError
from aspsp.ledger.money import Money

from .seed import SANDBOX_PASSWORD
from .test_data_models import BEHAVIOURS, STANDARD, SandboxTestCustomer

CURRENCY = "GBP"
FUNDING = "SANDBOX-FUNDING"            # internal code prefix of the sandbox's funding account
SORT_CODE = "404799"                   # the sandbox's test accounts (the seed uses 404784..92)
MAX_AMOUNT = Decimal("1000000.00")
DISABLED_LOGIN = "!removed by a sandbox reset"   # never an argon2 hash: no password matches
ACCOUNT_KINDS = {
    "current": ("Everyday Current Account", "CurrentAccount", "Everyday"),
    "savings": ("Easy Access Saver", "Savings", "Saver"),
}
DEFAULT_FUNDING = {"current": Decimal("1500.00"), "savings": Decimal("5000.00")}


class TestDataError(ValueError):
    """Input the page shows back with this message (400)."""


class NotTestData(LookupError):
    """No such test customer or account of this app (404)."""


@dataclass(frozen=True)
class TestAccount:
    account_id: str
    name: str
    sub_type: str
    sort_code: str
    account_number: str
    status: str
    booked: Money
    available: Money


@dataclass(frozen=True)
class TestCustomer:
    username: str
    name: str
    behaviour: str
    created_at: datetime
    accounts: tuple[TestAccount, ...]

    @property
    def behaviour_text(self) -> str:
        return BEHAVIOURS.get(self.behaviour, self.behaviour)


def username_prefix(app) -> str:
    return f"test-{app.app_id[:8].lower()}-"


# customers -------------------------------------------------------------------------------
def create_customer(uow: UnitOfWork, app, *, now: datetime, name: str = "",
                    behaviour: str = STANDARD) -> PsuUser:
    """A new test customer of `app`: a person in the bank and their online-banking login."""
    name = " ".join((name or "").split()) or "Sandbox Tester"
    if len(name) > 70:
        raise TestDataError("A name has at most 70 characters.")
    if behaviour not in BEHAVIOURS:
        raise TestDataError("Choose one of the behaviours offered.")
    party = ledger_models.Party(
        party_id=new_id(), party_number=str(secrets.randbelow(9 * 10**7) + 10**7),
        party_type="Sole", kind="person", name=name, full_legal_name=name,
        legal_structure="UK.OBIE.Individual", email=None, addresses=[], created_at=now)
    uow.session.add(party)
    uow.session.flush()
    psu = None
    while psu is None:
        username = username_prefix(app) + secrets.token_hex(3)
        if identity.find_by_username(uow, username) is None:
            psu = identity.create_psu(uow, username=username, password=SANDBOX_PASSWORD,
                                      party=party, now=now)
    uow.session.add(SandboxTestCustomer(app_pk=app.id, psu_pk=psu.id, behaviour=behaviour,
                                        created_at=now))
    uow.session.flush()
    return psu


def customers(uow: UnitOfWork, app, *, now: datetime) -> list[TestCustomer]:
    """The app's current test customers (newest first) with their accounts and balances."""
    rows = uow.session.scalars(select(SandboxTestCustomer).where(
        SandboxTestCustomer.app_pk == app.id, SandboxTestCustomer.removed_at.is_(None))
        .order_by(SandboxTestCustomer.id.desc())).all()
    return [TestCustomer(row.psu.username, row.psu.party.name, row.behaviour, row.created_at,
                         tuple(_view(account) for account in _accounts_of(uow, row.psu)))
            for row in rows]


def _customer(uow: UnitOfWork, app, username: str) -> SandboxTestCustomer:
    row = uow.session.scalars(select(SandboxTestCustomer).join(
        PsuUser, PsuUser.id == SandboxTestCustomer.psu_pk).where(
        SandboxTestCustomer.app_pk == app.id, SandboxTestCustomer.removed_at.is_(None),
        PsuUser.username == str(username or ""))).one_or_none()
    if row is None:
        raise NotTestData("no such test customer")
    return row


def _accounts_of(uow: UnitOfWork, psu: PsuUser) -> list[ledger_models.Account]:
    return list(uow.session.scalars(select(ledger_models.Account).join(
        ledger_models.AccountParty,
        ledger_models.AccountParty.account_pk == ledger_models.Account.id).where(
        ledger_models.AccountParty.party_pk == psu.party_pk)
        .order_by(ledger_models.Account.id)))


def _view(account: ledger_models.Account) -> TestAccount:
    booked = ledger.from_minor(account.booked_minor, account.currency)
    available = ledger.from_minor(account.booked_minor + account.pending_debits_minor,
                                  account.currency)
    return TestAccount(account.account_id, account.name, account.account_sub_type or "",
                       account.sort_code or "", account.account_number or "", account.status,
                       booked, available)


def _account(uow: UnitOfWork, app, account_id: str) -> ledger_models.Account:
    """The account `account_id` if a current test customer of `app` holds it."""
    account = uow.session.scalars(select(ledger_models.Account).where(
        ledger_models.Account.account_id == str(account_id or ""),
        ledger_models.Account.kind == AccountKind.CUSTOMER)).one_or_none()
    if account is None:
        raise NotTestData("no such test account")
    owned = uow.session.scalars(select(SandboxTestCustomer.id).join(
        PsuUser, PsuUser.id == SandboxTestCustomer.psu_pk).join(
        ledger_models.AccountParty, ledger_models.AccountParty.party_pk == PsuUser.party_pk)
        .where(SandboxTestCustomer.app_pk == app.id, SandboxTestCustomer.removed_at.is_(None),
               ledger_models.AccountParty.account_pk == account.id)).first()
    if owned is None:
        raise NotTestData("no such test account")
    return account


# accounts --------------------------------------------------------------------------------
def open_account(uow: UnitOfWork, app, username: str, kind: str, *,
                 now: datetime) -> ledger_models.Account:
    """A personal current account or an easy-access saver in GBP for the test customer."""
    row = _customer(uow, app, username)
    if kind not in ACCOUNT_KINDS:
        raise TestDataError("Choose a current account or a savings account.")
    name, sub_type, nickname = ACCOUNT_KINDS[kind]
    ledger.ensure_internal_accounts(uow, CURRENCY, now=now)
    spec = ledger.NewAccount(currency=CURRENCY, name=name, account_type="Personal",
                             account_sub_type=sub_type, sort_code=SORT_CODE,
                             account_number=_free_account_number(uow), opening_date=now.date(),
                             nickname=nickname)
    return ledger.open_account(uow, spec, [(row.psu.party, "UK.OBIE.Principal")], now=now)


def _free_account_number(uow: UnitOfWork) -> str:
    while True:
        number = str(secrets.randbelow(9 * 10**7) + 10**7)
        taken = uow.session.scalar(select(ledger_models.Account.id).where(
            ledger_models.Account.sort_code == SORT_CODE,
            ledger_models.Account.account_number == number))
        if taken is None:
            return number


def parse_amount(text: str) -> Money:
    """A positive GBP amount of at most two decimals and at most MAX_AMOUNT."""
    text = (text or "").strip().replace(",", "")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise TestDataError("Enter an amount such as 250.00.") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_AMOUNT \
            or amount.as_tuple().exponent < -2:
        raise TestDataError(f"Enter an amount above 0.00 and up to {MAX_AMOUNT:,}, "
                            "with at most two decimals.")
    return Money.of(amount, CURRENCY)


def funding_account_id(uow: UnitOfWork, currency: str, *, now: datetime) -> str:
    """The sandbox's funding account in `currency` (an internal account: made when first
    needed; its balance is the sandbox's money handed out, so it runs negative)."""
    code = f"{FUNDING}-{currency}"
    found = uow.session.scalars(select(ledger_models.Account).where(
        ledger_models.Account.internal_code == code)).one_or_none()
    if found is None:
        found = ledger_models.Account(
            account_id=new_id(), kind=AccountKind.INTERNAL, internal_code=code,
            status=AccountStatus.ENABLED, status_updated_at=now, currency=currency,
            name=f"Sandbox Funding {currency}", opening_date=now.date(), created_at=now)
        uow.session.add(found)
        uow.session.flush()
    return found.account_id


def fund(uow: UnitOfWork, app, account_id: str, amount: Money, *,
         now: datetime) -> ledger_models.JournalEntry:
    """Move `amount` from the sandbox's funding account into the test account: one entry."""
    account = _account(uow, app, account_id)
    details = {"transaction_information": "Sandbox funding",
               "transaction_reference": "SANDBOX FUNDING",
               "iso_code": "ReceivedCreditTransfers", "iso_subcode": "DomesticCreditTransfer",
               "proprietary_code": "SBX", "proprietary_issuer": "InvisibleBank"}
    return _post(uow, transfer_lines(funding_account_id(uow, amount.currency, now=now),
                                     account.account_id, amount, {}, details),
                 kind="sandbox-funding", description="Sandbox funding", now=now)


def add_card_payment(uow: UnitOfWork, app, account_id: str, amount: Money, merchant: str, *,
                     now: datetime, mcc: str = "5411") -> ledger_models.JournalEntry:
    """A debit-card payment at `merchant`, booked, settled to the bank's card settlement."""
    account = _account(uow, app, account_id)
    merchant = _text(merchant, "merchant", 70)
    details = {"merchant_name": merchant, "merchant_category_code": mcc,
               "transaction_information": merchant.upper(),
               "card_instrument": {"CardSchemeName": "VISA", "AuthorisationType": "ConsumerDevice",
                                   "Name": "SANDBOX TESTER",
                                   "Identification": "465858******0000"},
               "iso_code": "CustomerCardTransactions",
               "iso_subcode": "PointOfSalePaymentDebitCard",
               "proprietary_code": "POS", "proprietary_issuer": "InvisibleBank"}
    card = ledger.internal_account_id(uow, ledger.CARD_SETTLEMENT, amount.currency)
    return _post(uow, transfer_lines(account.account_id, card, amount, details,
                                     {"merchant_name": merchant}),
                 kind="card-payment", description=f"Card payment at {merchant}", now=now)


def add_incoming_transfer(uow: UnitOfWork, app, account_id: str, amount: Money, *,
                          payer: str, payer_account: str, reference: str,
                          now: datetime) -> ledger_models.JournalEntry:
    """A Faster Payment from another bank: its payer's name and account, and its reference."""
    account = _account(uow, app, account_id)
    payer = _text(payer, "payer's name", 70)
    payer_account = "".join((payer_account or "").split()).replace("-", "")
    if not (payer_account.isdigit() and len(payer_account) == 14):
        raise TestDataError("The payer's account is a 6-digit sort code and an 8-digit "
                            "account number, e.g. 20-00-00 12345678.")
    reference = _text(reference, "reference", 18)
    try:
        return ledger.receive_inbound_payment(
            uow, creditor_account_id=account.account_id, amount=amount, debtor_name=payer,
            debtor_identification=payer_account, now=now, reference=reference)
    except LedgerError as error:
        raise TestDataError(_ledger_message(error)) from None


def disable_account(uow: UnitOfWork, app, account_id: str, *, now: datetime) -> None:
    """The account goes Disabled (through the ledger, so its consents hear of it)."""
    account = _account(uow, app, account_id)
    if account.status != AccountStatus.ENABLED:
        raise TestDataError(f"The account is {account.status} already.")
    ledger.set_account_status(uow, account.account_id, AccountStatus.DISABLED, now=now)


def _post(uow, lines, *, kind: str, description: str, now: datetime):
    try:
        return ledger.post_entry(uow, lines, kind=kind, now=now, description=description)
    except LedgerError as error:
        raise TestDataError(_ledger_message(error)) from None


def _ledger_message(error: LedgerError) -> str:
    text = str(error) or "the ledger refused it"
    if isinstance(error, InsufficientFunds):
        return f"Insufficient funds: {text}."
    return text[:1].upper() + text[1:] + "."


def _text(value: str, what: str, limit: int) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise TestDataError(f"Enter the {what}.")
    if len(value) > limit:
        raise TestDataError(f"The {what} has at most {limit} characters.")
    return value


# reset -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class ResetSummary:
    customers_removed: int
    accounts_closed: int
    consents_revoked: int
    new_customer: str


def reset(uow: UnitOfWork, app, *, now: datetime) -> ResetSummary:
    """The app's sandbox back to the seed: its test customers leave (accounts closed, logins
    disabled), its consents are revoked, and a new default test customer is made."""
    from consent import services as consents
    from consent.errors import ConsentNotFound

    rows = uow.session.scalars(select(SandboxTestCustomer).where(
        SandboxTestCustomer.app_pk == app.id, SandboxTestCustomer.removed_at.is_(None))
        .order_by(SandboxTestCustomer.id).with_for_update()).all()
    closed = 0
    for row in rows:
        for account in _accounts_of(uow, row.psu):
            if account.status != AccountStatus.DELETED:
                ledger.set_account_status(uow, account.account_id, AccountStatus.DELETED,
                                          now=now)
                closed += 1
        row.psu.password_hash = DISABLED_LOGIN
        row.removed_at = now
    revoked = []
    if app.client_id:
        try:
            revoked = consents.revoke_all_of_client(uow, app.client_id, now,
                                                    reason="the app's sandbox was reset",
                                                    operator="sandbox")
        except ConsentNotFound:      # registered once, the client deleted since
            revoked = []
    uow.session.flush()
    psu = create_default_customer(uow, app, now=now)
    return ResetSummary(len(rows), closed, len(revoked), psu.username)


def create_default_customer(uow: UnitOfWork, app, *, now: datetime) -> PsuUser:
    """A standard test customer with a funded current account and a funded saver."""
    psu = create_customer(uow, app, now=now, name="Sam Sandbox")
    for kind, amount in DEFAULT_FUNDING.items():
        account = open_account(uow, app, psu.username, kind, now=now)
        fund(uow, app, account.account_id, Money.of(amount, CURRENCY), now=now)
    return psu


# the sandbox's view of a login (identity.services.SandboxCustomers) ---------------------
class SandboxCustomersPolicy:
    """Registered by sandbox.init_app under identity's SANDBOX_CUSTOMERS: a current test
    customer has the sandbox's SCA shortcuts, unless made to fail SCA, whose every code is
    refused (sandbox/scenarios.py)."""

    def _behaviour(self, psu: PsuUser) -> str | None:
        from sqlalchemy.orm import object_session
        session = object_session(psu)
        if session is None or psu.id is None:
            return None
        return session.scalar(select(SandboxTestCustomer.behaviour).where(
            SandboxTestCustomer.psu_pk == psu.id, SandboxTestCustomer.removed_at.is_(None)))

    def has_shortcuts(self, psu: PsuUser) -> bool:
        return self._behaviour(psu) == STANDARD

    def sca_always_fails(self, psu: PsuUser) -> bool:
        from .test_data_models import SCA_FAILS
        return self._behaviour(psu) == SCA_FAILS
