"""What the customer's pages read and record: the pending authorization a browser is working
on, the customer's own accounts, and every consent the customer gave, with its history; for a
payment consent, the payment in the customer's words (payee, amount, schedule, exchange rate),
the accounts it may be paid from with their available balances, and the bank's refusal when
the account the TPP named is not one of them; for a funds-confirmation consent, the one
account the third party named (never its balance) and until when it may ask.

The views call these and never query the ORM themselves. Consent rules stay in
consent.services (which accounts may be shared, effective status, history); this module only
shapes them for the pages. Nothing here commits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from aspsp.db import UnitOfWork
from aspsp.identity.dynamic_linking import (NotSignable, PaymentToSign, mandate_to_sign,
                                            payment_to_sign)
from aspsp.identity.models import PsuUser
from aspsp.ledger.models import Account
from aspsp.ledger.services import snapshot_of
from aspsp.oauth.models import OAuthClient, PendingAuthorization
from aspsp.oauth.trust import InvalidSignature, unverified_claims

from . import services, wording
from .domain import may_reauthenticate
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
    """One consent as the dashboard shows it, in the customer's words (consent.wording).
    `payment`: what a payment consent pays (a payment is made once or set up once: there is
    nothing to revoke at the bank)."""
    record: ConsentRecord
    accounts: list[AccountChoice]
    app: str = ""
    payment: "PaymentView | None" = None
    limits: "list[LimitLine]" = field(default_factory=list)   # a VRP consent's, this period

    @property
    def active(self) -> bool:
        """Revocable at the bank: long-lived consents (VRP consents too, not single
        payments: a payment is made once or set up once)."""
        return self.record.revocable_by_psu and (self.payment is None or
                                                 self.payment.recurring)

    @property
    def badge(self) -> tuple[str, str]:
        if self.record.access_stopped is not None:      # a VRP consent, kept Authorised
            return wording.status_badge("Revoked")
        if self.payment is not None and not self.payment.recurring \
                and self.record.status == "Authorised":
            return "Approved", "active"
        return wording.status_badge(self.record.status)

    @property
    def end(self) -> wording.Fact:
        r = self.record
        if r.access_stopped is not None:
            return wording.stopped_fact(r.access_stopped.reason, r.access_stopped.at)
        if self.payment is not None and not self.payment.recurring \
                and r.status == "Authorised":
            return wording.Fact("Payment", f"approved, for {self.app or r.client_name} to "
                                           "make")
        return wording.end_fact(r.status, r.expiration, r.status_updated_at,
                                r.deleted_by_tpp, self.app or r.client_name)

    @property
    def history(self) -> list[wording.HistoryLine]:
        r = self.record
        return wording.history(r.events, status=r.status, expiration=r.expiration,
                               app=self.app or r.client_name, payment=self.payment is not None,
                               funds=r.consent_type == "funds-confirmation")


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
    if pending.consent_pk is None:       # a sign-in (aspsp.oauth.authz_request): no consent
        return pending
    consent = uow.session.get(Consent, pending.consent_pk)
    if consent is None or not (consent.status == AWAITING_AUTHORISATION or reauthentication(
            consent, now)):
        return None
    return pending


def reauthentication(consent: Consent, now: datetime) -> bool:
    """The customer is asked to confirm again a VRP consent already Authorised (the PISP sent
    them back: VRP profile, "Consent Re-authentication")."""
    return may_reauthenticate(consent.consent_type, consent.status,
                              consent.expiration_datetime, now)


def consent_of(uow: UnitOfWork, pending: PendingAuthorization) -> Consent | None:
    """The consent the customer is asked to authorise; None for a sign-in."""
    return uow.session.get(Consent, pending.consent_pk) if pending.consent_pk else None


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
                        groups[record.client_id].requester.client_name,
                        _payment_by_id(uow, record), _limits_by_id(uow, record, now)))
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
    if not record.revocable_by_psu or (is_payment(row) and row.consent_type != VRP):
        return None
    who = requester(uow, row.client_pk)
    return ProviderConsents(who, [ConsentView(record, _accounts_by_id(uow, record.account_ids),
                                              who.client_name)])


def _payment_by_id(uow: UnitOfWork, record: ConsentRecord) -> "PaymentView | None":
    if record.consent_type not in PAYMENT_KINDS:
        return None
    row = uow.session.scalars(select(Consent).where(
        Consent.consent_id == record.consent_id)).one()
    return payment_of(row)


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


# --- payments -------------------------------------------------------------------------------

PAYMENT_KINDS = {   # consent type -> (what the customer is asked to approve, domestic?)
    "domestic-payment": ("a payment", True),
    "domestic-scheduled-payment": ("a future-dated payment", True),
    "domestic-standing-order": ("a standing order", True),
    "international-payment": ("an international payment", False),
    "international-scheduled-payment": ("a future-dated international payment", False),
    "international-standing-order": ("an international standing order", False),
    "domestic-vrp": ("variable recurring payments", True),
    "file-payment": ("a file of payments", True),
}
FILE_PAYMENT = "file-payment"
VRP = "domestic-vrp"
CHARGE_BEARERS = {
    "BorneByDebtor": "You pay all the charges",
    "BorneByCreditor": "The payee pays all the charges",
    "Shared": "You pay your bank's charges, the payee pays theirs",
    "FollowingServiceLevel": "As the payment scheme's rules say",
}
RATE_TYPES = {"Agreed": "agreed rate", "Actual": "the bank's rate now",
              "Indicative": "indicative rate"}


@dataclass(frozen=True)
class Payee:
    name: str
    account: str            # "12-34-56 12345678", "GB29 NWBK 6016 1331 9268 19"
    scheme: str             # "Sort code and account number", "IBAN", or the scheme's name
    secondary: str | None = None


@dataclass(frozen=True)
class DebitChoice:
    """One of the customer's accounts a payment can be made from, with what is available."""
    account_id: str
    name: str
    kind: str
    number: str
    currency: str
    available: str          # "£1,234.56"


@dataclass(frozen=True)
class PaymentView:
    """A payment consent as the approval page shows it, every part in the customer's words;
    `to_sign` is what the customer's authenticator signs (dynamic linking), None when the
    consent's amount or payee is malformed (nothing can then be approved)."""
    consent_type: str
    what: str                            # "a standing order"
    domestic: bool
    payee: Payee
    amount: str                          # the amount signed: "£12.50"
    reference: str | None
    message: str | None
    facts: list[wording.Fact]            # when, how often, exchange rate ...
    debtor_named: str | None             # the account the TPP named, formatted
    debtor: dict | None                  # the TPP's DebtorAccount as sent
    currency: str
    to_sign: PaymentToSign | None

    @property
    def recurring(self) -> bool:
        """Variable recurring payments: many payments within limits, until revoked."""
        return self.consent_type == VRP

    @property
    def sign_amount(self) -> str:
        """The signed amount as the customer types it: in the currency's decimals ("12.50")
        when that is exact, else as signed (the authenticator takes either)."""
        from decimal import Decimal

        from babel.numbers import get_currency_precision

        if self.to_sign is None:
            return ""
        value = Decimal(self.to_sign.amount)
        places = get_currency_precision(self.to_sign.currency)
        if -value.as_tuple().exponent > places:
            return self.to_sign.amount
        return f"{value:.{places}f}"


def is_payment(consent: Consent | None) -> bool:
    return consent is not None and consent.consent_type in PAYMENT_KINDS


def payment_of(consent: Consent) -> PaymentView:
    """The payment a consent asks for, from its Initiation exactly as the TPP sent it."""
    initiation = _obj((consent.data or {}).get("Initiation"))
    if consent.consent_type == VRP:
        return _vrp_of(consent, initiation)
    if consent.consent_type == FILE_PAYMENT:
        return _file_of(consent, initiation)
    what, domestic = PAYMENT_KINDS[consent.consent_type]
    standing_order = consent.consent_type.endswith("standing-order")
    signed = _obj(initiation.get("FirstPaymentAmount")) if consent.consent_type == \
        "domestic-standing-order" else _obj(initiation.get("InstructedAmount"))
    creditor = _obj(initiation.get("CreditorAccount"))
    payee = Payee(_text(creditor.get("Name")) or _text(_obj(initiation.get("Creditor"))
                                                        .get("Name")) or "—",
                  wording.account_number(creditor.get("SchemeName"),
                                         creditor.get("Identification")) or "—",
                  _scheme_words(creditor.get("SchemeName")),
                  _text(creditor.get("SecondaryIdentification")))
    remittance = _obj(initiation.get("RemittanceInformation"))
    reference = _text(initiation.get("Reference")) if standing_order else \
        _text(remittance.get("Reference"))
    debtor = initiation.get("DebtorAccount") if isinstance(initiation.get("DebtorAccount"),
                                                           dict) else None
    try:
        to_sign = payment_to_sign(signed.get("Amount"), signed.get("Currency"),
                                  creditor.get("Identification"))
    except NotSignable:
        to_sign = None
    return PaymentView(
        consent.consent_type, what, domestic, payee,
        wording.money(signed.get("Amount"), signed.get("Currency")), reference,
        _text(remittance.get("Unstructured")),
        _schedule_facts(consent.consent_type, initiation, consent.data or {}),
        wording.account_number(debtor.get("SchemeName"), debtor.get("Identification"))
        if debtor else None, debtor, _text(signed.get("Currency")) or "", to_sign)


def payment_accounts(uow: UnitOfWork, psu: PsuUser, payment: PaymentView
                     ) -> list[DebitChoice]:
    """The customer's accounts this payment may be made from, each with its available
    balance: the one the TPP named (if it is the customer's), else every account the customer
    may use (consent.services decides which), in the payment's currency for a domestic one."""
    accounts = services.selectable_accounts(uow, psu)
    if payment.debtor is not None:
        accounts = [a for a in accounts if _is_named(a, payment.debtor)]
    elif payment.domestic:
        accounts = [a for a in accounts if a.currency == payment.currency]
    return [_debit_choice(a) for a in accounts]


def signed_digest(consent: Consent) -> str:
    """A digest of everything the customer approves in a payment consent (its Initiation as
    stored): recorded when the signed code passes, compared at the decision, so that any
    change in between invalidates the code."""
    import hashlib
    import json

    signed = (consent.consent_id, (consent.data or {}).get("Initiation"))
    if consent.consent_type == VRP:      # and the limits the customer approves
        signed += ((consent.data or {}).get("ControlParameters"),)
    text = json.dumps(signed, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def refuse_payment(uow: UnitOfWork, pending: PendingAuthorization, now: datetime,
                   reason: str) -> str:
    """The bank refuses a payment consent it cannot carry out for this customer (the account
    the TPP named is not one they may pay from): the consent is Rejected, the authorization
    is finished, and the TPP's redirect URI with access_denied comes back."""
    from aspsp.oauth.authorize import error_redirect

    consent = uow.session.scalars(select(Consent).where(Consent.id == pending.consent_pk)
                                  .with_for_update()
                                  .execution_options(populate_existing=True)).one()
    pending.completed_at = now
    services.reject(uow, consent, None, now, reason=reason)
    params = pending.params or {}
    return error_redirect(params.get("redirect_uri", ""), "access_denied", reason,
                          state=params.get("state"),
                          response_type=params.get("response_type", "code"))


def _schedule_facts(consent_type: str, initiation: dict, data: dict) -> list[wording.Fact]:
    facts: list[wording.Fact] = []
    fact = facts.append
    if consent_type in ("domestic-payment", "international-payment"):
        fact(wording.Fact("When", "Straight away"))
    if "RequestedExecutionDateTime" in initiation:
        fact(wording.Fact("Payment date", _day(initiation.get("RequestedExecutionDateTime"))))
    if consent_type.endswith("standing-order"):
        fact(wording.Fact("How often", wording.frequency(initiation.get("Frequency"))))
        if consent_type == "domestic-standing-order":
            first = _obj(initiation.get("FirstPaymentAmount"))
            fact(wording.Fact("First payment", _amount_on(first, initiation.get(
                "FirstPaymentDateTime"))))
            recurring = _obj(initiation.get("RecurringPaymentAmount"))
            if recurring:
                fact(wording.Fact("Regular payments", _amount_on(
                    recurring, initiation.get("RecurringPaymentDateTime"), "from")))
            final = _obj(initiation.get("FinalPaymentAmount"))
            if final:
                fact(wording.Fact("Final payment", _amount_on(
                    final, initiation.get("FinalPaymentDateTime"))))
        else:
            amount = _obj(initiation.get("InstructedAmount"))
            fact(wording.Fact("Each payment", wording.money(amount.get("Amount"),
                                                            amount.get("Currency"))))
            fact(wording.Fact("First payment", _day(initiation.get("FirstPaymentDateTime"))))
        fact(wording.Fact("Ends", _ending(initiation)))
    if not consent_type.startswith("international"):
        return facts
    transfer = _text(initiation.get("CurrencyOfTransfer"))
    fact(wording.Fact("Currency of transfer", _currency_words(transfer)))
    if initiation.get("DestinationCountryCode"):
        fact(wording.Fact("Destination", _country(initiation.get("DestinationCountryCode"))))
    rate = _obj(initiation.get("ExchangeRateInformation"))
    quote = _obj(data.get("ExchangeRateInformation"))     # the bank's quote, when it gave one
    if rate or quote:
        fact(wording.Fact("Exchange rate", _rate_words({**rate, **quote}, transfer,
                                                       _obj(initiation.get("InstructedAmount")))))
    if initiation.get("ChargeBearer") or data.get("Charges"):     # the bank's, when it has
        words = _charge_words(data.get("Charges"), initiation.get("ChargeBearer"))
        if data.get("Charges") and consent_type.endswith("standing-order"):
            words = f"On each payment: {words}"       # the tariff's, per instalment
        fact(wording.Fact("Charges", words))
    agent = _obj(initiation.get("CreditorAgent"))
    if agent.get("Name") or agent.get("Identification"):
        fact(wording.Fact("Payee's bank", " ".join(filter(None, (
            _text(agent.get("Name")), _text(agent.get("Identification")))))))
    return facts


def _ending(initiation: dict) -> str:
    count = _text(initiation.get("NumberOfPayments"))
    if count:
        return f"After {count} payment{'' if count == '1' else 's'}"
    if initiation.get("FinalPaymentDateTime"):
        return f"On {_day(initiation.get('FinalPaymentDateTime'))}"
    return "When you cancel it"


def _rate_words(rate: dict, transfer: str, instructed: dict) -> str:
    unit = _text(rate.get("UnitCurrency")) or ""
    other = transfer if transfer and transfer != unit else _text(instructed.get("Currency"))
    kind = RATE_TYPES.get(rate.get("RateType"), _text(rate.get("RateType")) or "rate")
    parts = []
    if rate.get("ExchangeRate") is not None:
        parts.append(f"1 {unit} = {rate['ExchangeRate']} {other or ''}".strip())
    parts.append(kind if parts else f"{kind}, set when the payment is made")
    if rate.get("ContractIdentification"):
        parts.append(f"contract {rate['ContractIdentification']}")
    expiry = _moment(rate.get("ExpirationDateTime"))
    if expiry is not None:
        parts.append(f"quote valid until {wording.uk_time(expiry)}")
    return ", ".join(parts)


def _charge_words(charges, bearer) -> str:
    """The bank's charges for the payment (the consent's Charges, aspsp.pis.charges) and
    who pays them; without any, what the ChargeBearer asked for."""
    if not isinstance(charges, list) or not charges:
        return CHARGE_BEARERS.get(bearer, _text(bearer))
    parts = []
    for payee_pays, words in ((False, "paid by you, on top of the amount"),
                              (True, "taken from the amount sent (the payee pays it)")):
        total, currency = Decimal(0), None
        for charge in charges:
            amount = _obj(_obj(charge).get("Amount"))
            if (_obj(charge).get("ChargeBearer") == "BorneByCreditor") == payee_pays:
                total += Decimal(str(amount.get("Amount", "0")))
                currency = _text(amount.get("Currency"))
        if currency:
            parts.append(f"{wording.money(str(total), currency)} {words}")
    return "; ".join(parts)


def _amount_on(amount: dict, when, word: str = "on") -> str:
    money = wording.money(amount.get("Amount"), amount.get("Currency"))
    return f"{money} {word} {_day(when)}" if when else money


def _day(value) -> str:
    moment = _moment(value)
    return wording.uk_day(moment) if moment else (_text(value) or "—")


def _moment(value) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _currency_words(code: str | None) -> str:
    from babel.numbers import get_currency_name, is_currency

    if code and is_currency(code):
        return f"{get_currency_name(code, locale='en_GB')} ({code})"
    return code or "—"


def _country(code) -> str:
    from babel import Locale

    return Locale("en", "GB").territories.get(str(code), str(code))


def _scheme_words(scheme) -> str:
    scheme = str(scheme or "")
    if scheme.endswith("SortCodeAccountNumber"):
        return "Sort code and account number"
    if scheme.endswith("IBAN"):
        return "IBAN"
    return scheme.rsplit(".", 1)[-1] or "Account"


def _is_named(account: Account, named: dict) -> bool:
    scheme = str(named.get("SchemeName") or "")
    ident = "".join(str(named.get("Identification") or "").split()).upper()
    if scheme.endswith("SortCodeAccountNumber"):
        return bool(account.sort_code and account.account_number) and \
            ident == f"{account.sort_code}{account.account_number}"
    if scheme.endswith("IBAN"):
        return bool(account.iban) and ident == account.iban.upper()
    return False


def _debit_choice(account: Account) -> DebitChoice:
    choice = _choice(account)
    available = snapshot_of(account).interim_available
    return DebitChoice(choice.account_id, choice.name, choice.kind, choice.number,
                       choice.currency, wording.money(str(available.amount),
                                                      available.currency))


def _obj(value) -> dict:
    return value if isinstance(value, dict) else {}


def _text(value) -> str | None:
    return value.strip() or None if isinstance(value, str) else \
        (str(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None)


# --- confirmation of funds ----------------------------------------------------------------------

FUNDS_CONFIRMATION = "funds-confirmation"


@dataclass(frozen=True)
class FundsCheckView:
    """A funds-confirmation consent as the approval page shows it: the account the third
    party named (formatted, and as sent) and until when it may ask."""
    debtor_named: str               # "40-12-34 12345678", an IBAN in groups of four
    debtor: dict
    expiration: datetime | None


def is_funds_confirmation(consent: Consent | None) -> bool:
    return consent is not None and consent.consent_type == FUNDS_CONFIRMATION


def funds_check_of(consent: Consent) -> FundsCheckView:
    debtor = _obj((consent.data or {}).get("DebtorAccount"))
    return FundsCheckView(wording.account_number(debtor.get("SchemeName"),
                                                 debtor.get("Identification")) or "—",
                          debtor, consent.expiration_datetime)


def funds_check_accounts(uow: UnitOfWork, psu: PsuUser, view: FundsCheckView
                         ) -> list[AccountChoice]:
    """The customer's account the third party named, when the customer may share it (their
    own, open): one account, or none."""
    return [_choice(a) for a in services.selectable_accounts(uow, psu)
            if _is_named(a, view.debtor)][:1]


# --- variable recurring payments -------------------------------------------------------------

PERIOD_WORDS = {"Day": "a day", "Week": "a week", "Fortnight": "a fortnight",
                "Month": "a month", "Half-year": "every six months", "Year": "a year"}
PERIOD_NAMES = {"Day": "Today", "Week": "This week", "Fortnight": "This fortnight",
                "Month": "This month", "Half-year": "These six months", "Year": "This year"}


@dataclass(frozen=True)
class LimitLine:
    """One periodic limit of a VRP consent on the dashboard: "This month: £120 of £1,000
    used (1 June to 30 June 2026)"."""
    period: str
    used: str
    limit: str
    dates: str


def _file_of(consent: Consent, initiation: dict) -> PaymentView:
    """A file of payments: every payee and amount of the uploaded file, and their total. The
    customer signs the total and the file's fingerprint (dynamic linking for a batch, PSD2
    RTS art. 5(3)(c): the code is specific to the total amount and the payees; the
    fingerprint is of the file, which holds them all), and the consent's signed digest holds
    its FileHash, so no other file can be approved with that code."""
    from sqlalchemy.orm import object_session

    from aspsp.pis import files
    upload = files.uploaded_file(object_session(consent), consent.id)
    payments = upload.payments if upload is not None else []
    total, currency = (upload.total_amount, upload.currency) if upload is not None \
        else (None, files.CURRENCY)
    facts = [wording.Fact("Payments in the file", str(len(payments)))]
    if initiation.get("FileReference"):
        facts.append(wording.Fact("File reference", str(initiation["FileReference"])))
    for number, payment in enumerate(payments, 1):
        amount, creditor = _obj(payment.get("InstructedAmount")), \
            _obj(payment.get("CreditorAccount"))
        account = wording.account_number(creditor.get("SchemeName"),
                                         creditor.get("Identification"))
        line = (f"{wording.money(amount.get('Amount'), amount.get('Currency'))} to "
                f"{_text(creditor.get('Name')) or '—'}, {account}")
        reference = _text(_obj(payment.get("RemittanceInformation")).get("Reference"))
        facts.append(wording.Fact(f"Payment {number}",
                                  f"{line}, reference {reference}" if reference else line))
    signed = files.fingerprint(initiation.get("FileHash"))
    try:
        to_sign = payment_to_sign(total, currency, signed) if upload is not None else None
    except NotSignable:
        to_sign = None
    debtor = initiation.get("DebtorAccount") if isinstance(initiation.get("DebtorAccount"),
                                                           dict) else None
    count = len(payments)
    return PaymentView(
        FILE_PAYMENT, f"a file of {count} payment{'s' if count != 1 else ''}", True,
        Payee(f"the file's {count} payees" if count != 1 else "the file's payee",
              " ".join(signed[i:i + 4] for i in range(0, len(signed), 4)) or "—",
              "File fingerprint"),
        wording.money(total, currency), _text(_obj(initiation.get("RemittanceInformation"))
                                              .get("Reference")),
        _text(_obj(initiation.get("RemittanceInformation")).get("Unstructured")), facts,
        wording.account_number(debtor.get("SchemeName"), debtor.get("Identification"))
        if debtor else None, debtor, currency, to_sign)


def _vrp_of(consent: Consent, initiation: dict) -> PaymentView:
    """A VRP consent as the approval page shows it: the payee, the limits in words; the
    customer signs the payee and the maximum a payment may be (dynamic_linking.
    mandate_to_sign says why)."""
    controls = _obj((consent.data or {}).get("ControlParameters"))
    maximum = _obj(controls.get("MaximumIndividualAmount"))
    creditor = _obj(initiation.get("CreditorAccount"))
    payee = Payee(_text(creditor.get("Name")) or "—",
                  wording.account_number(creditor.get("SchemeName"),
                                         creditor.get("Identification")) or "—",
                  _scheme_words(creditor.get("SchemeName")),
                  _text(creditor.get("SecondaryIdentification")))
    remittance = _obj(initiation.get("RemittanceInformation"))
    debtor = initiation.get("DebtorAccount") if isinstance(initiation.get("DebtorAccount"),
                                                           dict) else None
    try:
        to_sign = mandate_to_sign(maximum.get("Amount"), maximum.get("Currency"),
                                  creditor.get("Identification"))
    except NotSignable:
        to_sign = None
    facts = [wording.Fact("Limits", limits_in_words(controls))]
    kinds = controls.get("VRPType") if isinstance(controls.get("VRPType"), list) else []
    if kinds:
        fact_text = ", ".join("moving your own money between your accounts (sweeping)"
                              if k == "UK.OBIE.VRPType.Sweeping" else "other payments"
                              for k in kinds)
        facts.append(wording.Fact("For", fact_text))
    return PaymentView(VRP, PAYMENT_KINDS[VRP][0], True, payee,
                       wording.money(maximum.get("Amount"), maximum.get("Currency")),
                       _text(remittance.get("Reference")), _text(remittance.get("Unstructured")),
                       facts,
                       wording.account_number(debtor.get("SchemeName"),
                                              debtor.get("Identification")) if debtor else None,
                       debtor, _text(maximum.get("Currency")) or "", to_sign)


def _short_money(amount, currency) -> str:
    """£250 for 250.00, £12.50 for 12.50: whole amounts without their pence."""
    text = wording.money(amount, currency)
    return text[:-3] if text.endswith(".00") else text


def limits_in_words(controls: dict) -> str:
    """"up to £250 a payment, £1,000 a month, until 1 June 2027": the maximum a payment,
    each periodic limit (a calendar one "each calendar month", less in the first), and the
    dates it is valid."""
    maximum = _obj(controls.get("MaximumIndividualAmount"))
    parts = [f"up to {_short_money(maximum.get('Amount'), maximum.get('Currency'))} a payment"]
    for item in controls.get("PeriodicLimits") or []:
        item = _obj(item)
        words = PERIOD_WORDS.get(item.get("PeriodType"), str(item.get("PeriodType")))
        if item.get("PeriodAlignment") == "Calendar" and item.get("PeriodType") != "Day":
            words = "each calendar " + words.removeprefix("a ").removeprefix("every ") \
                .replace("six months", "half-year") + " (less in the first)"
        parts.append(f"{_short_money(item.get('Amount'), item.get('Currency'))} {words}")
    start, end = _moment(controls.get("ValidFromDateTime")), \
        _moment(controls.get("ValidToDateTime"))
    if start is not None:
        parts.append(f"from {wording.uk_day(start)}")
    parts.append(f"until {wording.uk_day(end)}" if end is not None else "until you cancel")
    return ", ".join(parts)


def _limits_by_id(uow: UnitOfWork, record: ConsentRecord, now: datetime) -> list[LimitLine]:
    """A VRP consent's use of each periodic limit in its current period."""
    if record.consent_type != VRP:
        return []
    from aspsp.vrp import services as vrp

    row = uow.session.scalars(select(Consent).where(
        Consent.consent_id == record.consent_id)).one()
    lines = []
    for use in vrp.usage(uow, row.id, row.data or {}, row.created_at, now):
        lines.append(LimitLine(
            PERIOD_NAMES.get(use.period_type, use.period_type),
            wording.money(str(use.used), use.currency),
            wording.money(str(use.limit), use.currency),
            f"{wording.uk_day(use.start)} to {wording.uk_day(use.end - timedelta(seconds=1))}"))
    return lines
