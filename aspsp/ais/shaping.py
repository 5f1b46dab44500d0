"""What a TPP sees of each resource, pure: ledger rows as OBIE v3.1.11 payloads, shaped by
the consent's permissions (Account and Transaction API Profile, §Permissions, §Detail
Permissions; the resources' "Permission Codes" sections).

- Detail codes add fields, everything else is Basic: ReadAccountsDetail adds Account and
  Servicer; ReadBeneficiariesDetail, ReadStandingOrdersDetail, ReadScheduledPaymentsDetail
  add CreditorAgent and CreditorAccount; ReadTransactionsDetail adds TransactionInformation,
  Balance, MerchantDetails, Creditor/Debtor Agent and Account; ReadStatementsDetail adds
  StatementAmount (and the statement file, see the views).
- ReadPAN: without it a card number shows its last four digits only (the profile allows "last
  4 digits unmasked, or at max first 6 and last 4"); with it, the number as the bank holds it.
- Amounts are unsigned OB strings from the ledger's integer minor units; the sign becomes
  CreditDebitIndicator (a zero amount is a credit, as OBIE says for statement amounts).
- Text is cut to the field's OBIE maximum length; empty values are left out, never null.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import date, datetime, time, timezone
from typing import Any, Callable, Iterable

from aspsp.ledger.money import minor_units
from consent.permissions import Permission as P

SORT_CODE_ACCOUNT_NUMBER = "UK.OBIE.SortCodeAccountNumber"
IBAN = "UK.OBIE.IBAN"
PAN = "UK.OBIE.PAN"
BICFI = "UK.OBIE.BICFI"
_PHONE = re.compile(r"\+[0-9]{1,3}-[0-9()+\-]{1,30}")
_ADDRESS_FIELDS = {"AddressType": 70, "StreetName": 70, "BuildingNumber": 16, "PostCode": 16,
                   "TownName": 35, "CountrySubDivision": 35}
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class View:
    """How much of each resource the consent shows."""
    accounts_detail: bool = False
    beneficiaries_detail: bool = False
    standing_orders_detail: bool = False
    scheduled_payments_detail: bool = False
    transactions_detail: bool = False
    statements_detail: bool = False
    pan: bool = False
    credits: bool = False
    debits: bool = False

    @classmethod
    def of(cls, permissions: Iterable[str]) -> "View":
        granted = set(permissions)
        return cls(accounts_detail=P.READ_ACCOUNTS_DETAIL in granted,
                   beneficiaries_detail=P.READ_BENEFICIARIES_DETAIL in granted,
                   standing_orders_detail=P.READ_STANDING_ORDERS_DETAIL in granted,
                   scheduled_payments_detail=P.READ_SCHEDULED_PAYMENTS_DETAIL in granted,
                   transactions_detail=P.READ_TRANSACTIONS_DETAIL in granted,
                   statements_detail=P.READ_STATEMENTS_DETAIL in granted,
                   pan=P.READ_PAN in granted,
                   credits=P.READ_TRANSACTIONS_CREDITS in granted,
                   debits=P.READ_TRANSACTIONS_DEBITS in granted)


# --- small values ------------------------------------------------------------------------
def text(value: Any, limit: int) -> str | None:
    if value is None:
        return None
    value = str(value).strip()
    return value[:limit] if value else None


def amount(minor: int, currency: str) -> dict[str, str]:
    """{"Amount", "Currency"} of an integer of minor units, unsigned: the same text as
    `from_minor(minor, currency).to_ob()`, without building a Money for each of a page's
    hundreds of amounts (the currency's minor unit is looked up once per currency)."""
    places = _places(currency)
    whole, part = divmod(abs(int(minor)), 10 ** places)
    return {"Amount": f"{whole}.{part:0{places}d}" if places else str(whole),
            "Currency": currency}


@functools.lru_cache(maxsize=64)
def _places(currency: str) -> int:
    return minor_units(currency)


def indicator(minor: int) -> str:
    return "Debit" if minor < 0 else "Credit"


def midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime.combine(day, time.min, tzinfo=timezone.utc)


def mask_pan(number: str | None) -> str | None:
    """The last four digits shown, every other character a '*' (spaces dropped)."""
    if not number:
        return None
    compact = "".join(number.split())
    return "*" * max(0, len(compact) - 4) + compact[-4:]


def _pan(number: str | None, view: View) -> str | None:
    return text(number, 34) if view.pan else mask_pan(number)


def cash_account(raw: dict | None, view: View, *, required: bool = False) -> dict | None:
    """OBCashAccount5/6 from a stored counterparty: SchemeName, Identification, Name."""
    if not isinstance(raw, dict):
        return None
    scheme = text(raw.get("SchemeName"), 40)
    identification = text(raw.get("Identification"), 256)
    if scheme == PAN:
        identification = _pan(identification, view)
    result = {"SchemeName": scheme, "Identification": identification,
              "Name": text(raw.get("Name"), 350),
              "SecondaryIdentification": text(raw.get("SecondaryIdentification"), 34)}
    if required and not (scheme and identification):
        return None
    result = {k: v for k, v in result.items() if v is not None}
    return result or None


def agent(raw: dict | None) -> dict | None:
    if not isinstance(raw, dict):
        return None
    result = {"SchemeName": text(raw.get("SchemeName"), 40),
              "Identification": text(raw.get("Identification"), 35),
              "Name": text(raw.get("Name"), 140)}
    result = {k: v for k, v in result.items() if v is not None}
    return result or None


def _creditor(scheme: str, identification: str, name: str | None) -> dict:
    return cash_account({"SchemeName": scheme, "Identification": identification,
                         "Name": name}, View(pan=True), required=True)


def _clean(payload: dict) -> dict:
    return {k: v for k, v in payload.items() if v is not None and v != [] and v != {}}


# --- accounts and balances ---------------------------------------------------------------
def account(row, view: View) -> dict:
    payload = {
        "AccountId": row.account_id, "Status": row.status,
        "StatusUpdateDateTime": row.status_updated_at, "Currency": row.currency,
        "AccountType": row.account_type, "AccountSubType": row.account_sub_type,
        "Description": text(row.description, 35), "Nickname": text(row.nickname, 70),
        "OpeningDate": midnight(row.opening_date), "MaturityDate": midnight(row.maturity_date),
    }
    if view.accounts_detail:
        name = text(row.name, 350)
        identifiers = []
        if row.sort_code and row.account_number:
            identifiers.append({"SchemeName": SORT_CODE_ACCOUNT_NUMBER,
                                "Identification": f"{row.sort_code}{row.account_number}",
                                "Name": name})
        if row.iban:
            identifiers.append({"SchemeName": IBAN, "Identification": row.iban, "Name": name})
        if row.pan:
            identifiers.append({"SchemeName": PAN, "Identification": _pan(row.pan, view),
                                "Name": name})
        payload["Account"] = [_clean(i) for i in identifiers]
        if row.servicer_bic:
            payload["Servicer"] = {"SchemeName": BICFI, "Identification": row.servicer_bic}
    return _clean(payload)


def balance(account_id: str, entry) -> dict:
    """One ledger Balance (aspsp.ledger.services.balances). An arranged overdraft is a
    CreditLine, included in the available balance only."""
    signed = entry.amount.amount
    payload = {"AccountId": account_id, "CreditDebitIndicator": "Debit" if signed < 0 else "Credit",
               "Type": entry.type, "DateTime": entry.at, "Amount": entry.amount.to_ob()}
    if entry.credit_limit.is_positive:
        payload["CreditLine"] = [{"Included": entry.type == "InterimAvailable",
                                  "Type": entry.credit_line_type or "Pre-Agreed",
                                  "Amount": entry.credit_limit.to_ob()}]
    return payload


# --- transactions ------------------------------------------------------------------------
# A page shapes up to 1,000 postings with the same permissions, so the shaping is compiled
# once per permission set into a plan (`transaction_plan`): a function of (row, AccountId)
# that builds the OBTransaction6 dict field by field, leaving out what is empty as it goes,
# instead of building every field and cleaning the dict afterwards. Only ReadTransactionsDetail
# and ReadPAN change a transaction's fields; the directions (credits, debits) choose rows, not
# fields. The result is the same dict, keys in the same order, as the generic build and clean
# it replaced (tests/unit/ais/test_shaping_plan.py holds that one as the reference).
def transaction(row, account_id: str, view: View) -> dict:
    """A posting as OBTransaction6."""
    return transaction_plan(view)(row, account_id)


def transaction_plan(view: View) -> Callable[[Any, str], dict]:
    """The shaping of a posting for this view, compiled once per permission set."""
    return _plan(view.transactions_detail, view.pan)


@functools.lru_cache(maxsize=4)
def _plan(detail: bool, pan: bool) -> Callable[[Any, str], dict]:
    money = _money

    def basic(row, account_id: str) -> dict:
        minor = row.amount_minor
        payload = {} if account_id is None else {"AccountId": account_id}
        if (value := row.transaction_id) is not None:
            payload["TransactionId"] = value
        if (value := row.transaction_reference) is not None \
                and (value := (value if value.__class__ is str else str(value)).strip()):
            payload["TransactionReference"] = value[:210]
        if (value := row.statement_reference) is not None \
                and (value := (value if value.__class__ is str else str(value)).strip()):
            payload["StatementReference"] = [value[:35]]
        if minor < 0:
            payload["CreditDebitIndicator"] = "Debit"
            minor = -minor
        else:
            payload["CreditDebitIndicator"] = "Credit"
        if (value := row.status) is not None:
            payload["Status"] = value
        if (value := row.booking_datetime) is not None:
            payload["BookingDateTime"] = value
        if (value := row.value_datetime) is not None:
            payload["ValueDateTime"] = value
        payload["Amount"] = money(minor, row.currency)
        if (code := row.iso_code) and (sub := row.iso_subcode):
            payload["BankTransactionCode"] = {"Code": code, "SubCode": sub}
        if row.proprietary_code:
            proprietary = {}
            if (value := text(row.proprietary_code, 35)) is not None:
                proprietary["Code"] = value
            if (value := text(row.proprietary_issuer, 35)) is not None:
                proprietary["Issuer"] = value
            if proprietary:
                payload["ProprietaryBankTransactionCode"] = proprietary
        if (card := row.card_instrument) is not None and (card := card_of(card)) is not None:
            payload["CardInstrument"] = card
        return payload

    def pan_of(number):
        return text(number, 34) if pan else mask_pan(number)

    def card_of(raw) -> dict | None:          # card_instrument(raw, view)
        if not isinstance(raw, dict) or not (scheme := raw.get("CardSchemeName")):
            return None
        card = {"CardSchemeName": scheme}
        if (value := raw.get("AuthorisationType")) is not None and value != [] and value != {}:
            card["AuthorisationType"] = value
        if (value := text(raw.get("Name"), 70)) is not None:
            card["Name"] = value
        if (value := pan_of(raw.get("Identification"))) is not None:
            card["Identification"] = value
        return card

    def account_of(raw) -> dict | None:       # cash_account(raw, view)
        if not isinstance(raw, dict):
            return None
        result = {}
        scheme = text(raw.get("SchemeName"), 40)
        if scheme is not None:
            result["SchemeName"] = scheme
        identification = text(raw.get("Identification"), 256)
        if scheme == PAN:
            identification = pan_of(identification)
        if identification is not None:
            result["Identification"] = identification
        if (value := text(raw.get("Name"), 350)) is not None:
            result["Name"] = value
        if (value := text(raw.get("SecondaryIdentification"), 34)) is not None:
            result["SecondaryIdentification"] = value
        return result or None

    if not detail:
        return basic

    def with_detail(row, account_id: str) -> dict:
        payload = basic(row, account_id)
        counterparty = row.counterparty
        if not isinstance(counterparty, dict):
            counterparty = {}
        if (value := row.transaction_information) is not None \
                and (value := (value if value.__class__ is str else str(value)).strip()):
            payload["TransactionInformation"] = value[:500]
        if (after := row.balance_after_minor) is not None:
            payload["Balance"] = {"CreditDebitIndicator": "Debit" if after < 0 else "Credit",
                                  "Type": "InterimBooked",
                                  "Amount": money(-after if after < 0 else after, row.currency)}
        merchant = {}
        if (value := text(row.merchant_name, 350)) is not None:
            merchant["MerchantName"] = value
        if (value := row.merchant_category_code) and 3 <= len(value) <= 4:
            merchant["MerchantCategoryCode"] = value
        if merchant:
            payload["MerchantDetails"] = merchant
        if counterparty:
            if (value := agent(counterparty.get("CreditorAgent"))) is not None:
                payload["CreditorAgent"] = value
            creditor = account_of(counterparty.get("CreditorAccount"))
            if creditor is None and (name := text(counterparty.get("CreditorName"), 350)):
                creditor = {"Name": name}      # a blank name is no name: no null Name
            if creditor is not None:
                payload["CreditorAccount"] = creditor
            if (value := agent(counterparty.get("DebtorAgent"))) is not None:
                payload["DebtorAgent"] = value
            if (value := account_of(counterparty.get("DebtorAccount"))) is not None:
                payload["DebtorAccount"] = value
        return payload

    return with_detail


def _money(minor: int, currency: str) -> dict[str, str]:
    """`amount` of a non-negative integer, the currency's minor unit looked up in a dict."""
    try:
        places, unit = _UNITS[currency]
    except KeyError:
        places = _places(currency)
        places, unit = _UNITS.setdefault(currency, (places, 10 ** places))
    if not places:
        return {"Amount": str(minor), "Currency": currency}
    whole, part = divmod(minor, unit)
    return {"Amount": f"{whole}.{part:0{places}d}", "Currency": currency}


_UNITS: dict[str, tuple[int, int]] = {}


def card_instrument(raw: dict | None, view: View) -> dict | None:
    if not isinstance(raw, dict) or not raw.get("CardSchemeName"):
        return None
    return _clean({"CardSchemeName": raw["CardSchemeName"],
                   "AuthorisationType": raw.get("AuthorisationType"),
                   "Name": text(raw.get("Name"), 70),
                   "Identification": _pan(raw.get("Identification"), view)})


# --- standing data -----------------------------------------------------------------------
def beneficiary(row, account_id: str, view: View) -> dict:
    payload = {"AccountId": account_id, "BeneficiaryId": row.beneficiary_id,
               "BeneficiaryType": row.beneficiary_type, "Reference": text(row.reference, 35)}
    if view.beneficiaries_detail:
        payload["CreditorAgent"] = agent(row.creditor_agent)
        payload["CreditorAccount"] = cash_account({
            "SchemeName": row.creditor_scheme, "Identification": row.creditor_identification,
            "Name": row.creditor_name,
            "SecondaryIdentification": row.creditor_secondary_identification},
            view, required=True)
    return _clean(payload)


def direct_debit(row, account_id: str) -> dict:
    return _clean({
        "AccountId": account_id, "DirectDebitId": row.direct_debit_id,
        "MandateIdentification": text(row.mandate_identification, 35),
        "DirectDebitStatusCode": row.status, "Name": text(row.name, 70),
        "PreviousPaymentDateTime": row.previous_payment_datetime,
        "Frequency": row.frequency,
        "PreviousPaymentAmount": amount(row.previous_payment_minor, row.currency)
        if row.previous_payment_minor is not None else None})


def standing_order(row, account_id: str, view: View) -> dict:
    """Amounts as the schedule engine keeps them (aspsp.ledger.schedules): the first, the
    next and last payments', the final (the recurring one unless it differs); an order
    without them (sandbox history) pays the same amount each time."""
    each = amount(row.amount_minor, row.currency)
    recurring = _or(row.recurring_amount_minor, row.amount_minor)
    payload = {
        "AccountId": account_id, "StandingOrderId": row.standing_order_id,
        "Frequency": row.frequency, "Reference": text(row.reference, 35),
        "FirstPaymentDateTime": row.first_payment_datetime,
        "NextPaymentDateTime": row.next_payment_datetime,
        "LastPaymentDateTime": row.last_payment_datetime,
        "FinalPaymentDateTime": row.final_payment_datetime,
        "NumberOfPayments": str(row.number_of_payments)
        if row.number_of_payments is not None else None,
        "StandingOrderStatusCode": row.status,
        "FirstPaymentAmount": each,
        "NextPaymentAmount": amount(_or(row.next_amount_minor, row.amount_minor), row.currency)
        if row.next_payment_datetime else None,
        "LastPaymentAmount": amount(_or(row.last_amount_minor, row.amount_minor), row.currency)
        if row.last_payment_datetime else None,
        "FinalPaymentAmount": amount(_or(row.final_amount_minor, recurring), row.currency)
        if row.final_payment_datetime else None,
    }
    if view.standing_orders_detail:
        payload["CreditorAccount"] = _creditor(row.creditor_scheme, row.creditor_identification,
                                               row.creditor_name)
    return _clean(payload)


def _or(value, default):
    return default if value is None else value


def scheduled_payment(row, account_id: str, view: View) -> dict:
    payload = {
        "AccountId": account_id, "ScheduledPaymentId": row.scheduled_payment_id,
        "ScheduledPaymentDateTime": row.scheduled_payment_datetime,
        "ScheduledType": row.scheduled_type, "Reference": text(row.reference, 35),
        "DebtorReference": text(row.debtor_reference, 35),
        "InstructedAmount": amount(row.amount_minor, row.currency)}
    if view.scheduled_payments_detail:
        payload["CreditorAccount"] = _creditor(row.creditor_scheme, row.creditor_identification,
                                               row.creditor_name)
    return _clean(payload)


def statement(row, account_id: str, view: View) -> dict:
    payload = {
        "AccountId": account_id, "StatementId": row.statement_id,
        "StatementReference": text(row.statement_reference, 35), "Type": row.statement_type,
        "StartDateTime": row.start_datetime, "EndDateTime": row.end_datetime,
        "CreationDateTime": row.creation_datetime,
        "StatementDescription": [d for d in (text(x, 500) for x in row.descriptions or ()) if d]}
    if view.statements_detail:
        cur = row.currency
        payload["StatementAmount"] = [
            {"CreditDebitIndicator": indicator(row.opening_booked_minor),
             "Type": "UK.OBIE.StartingBalance",
             "Amount": amount(abs(row.opening_booked_minor), cur)},
            {"CreditDebitIndicator": "Credit", "Type": "UK.OBIE.TotalCredits",
             "Amount": amount(row.total_credits_minor, cur)},
            {"CreditDebitIndicator": "Debit", "Type": "UK.OBIE.TotalDebits",
             "Amount": amount(row.total_debits_minor, cur)},
            {"CreditDebitIndicator": indicator(row.closing_booked_minor),
             "Type": "UK.OBIE.ClosingBalance",
             "Amount": amount(abs(row.closing_booked_minor), cur)}]
    return _clean(payload)


def product(row, account_id: str) -> dict:
    details = row.details if isinstance(row.details, dict) else {}
    other = details.get("OtherProductType") if row.product_type == "Other" else None
    return _clean({
        "ProductName": text(row.name, 350), "ProductId": row.product_id,
        "AccountId": account_id, "ProductType": row.product_type,
        "MarketingStateId": text(row.marketing_state_id, 35),
        "OtherProductType": {"Name": text(other.get("Name"), 350),
                             "Description": text(other.get("Description"), 350)}
        if isinstance(other, dict) and other.get("Name") and other.get("Description")
        else None})


def offer(row, account_id: str) -> dict:
    return _clean({
        "AccountId": account_id, "OfferId": row.offer_id, "OfferType": row.offer_type,
        "Description": text(row.description, 500), "StartDateTime": row.start_datetime,
        "EndDateTime": row.end_datetime, "Rate": row.rate, "Term": text(row.term, 500),
        "URL": text(row.url, 256),
        "Amount": amount(row.amount_minor, row.currency) if row.amount_minor is not None else None,
        "Fee": amount(row.fee_minor, row.currency) if row.fee_minor is not None else None})


# --- parties -----------------------------------------------------------------------------
def party(row, *, account_role: str | None = None,
          related: tuple[str, str] | None = None) -> dict:
    """OBParty2. `related` is (absolute URL, AccountId) of the account it was read through."""
    return _clean({
        "PartyId": row.party_id, "PartyNumber": text(row.party_number, 35),
        "PartyType": row.party_type, "Name": text(row.name, 350),
        "FullLegalName": text(row.full_legal_name, 350),
        "LegalStructure": row.legal_structure, "AccountRole": account_role,
        "EmailAddress": text(row.email, 256),
        "Phone": row.phone if row.phone and _PHONE.fullmatch(row.phone) else None,
        "Mobile": row.mobile if row.mobile and _PHONE.fullmatch(row.mobile) else None,
        "Relationships": {"Account": {"Related": related[0], "Id": related[1]}}
        if related else None,
        "Address": [a for a in (address(x) for x in row.addresses or ()) if a]})


def address(raw: dict) -> dict | None:
    """OBPostalAddress8; an address without a valid Country (mandatory there) is left out."""
    if not isinstance(raw, dict) or not _COUNTRY.fullmatch(str(raw.get("Country", ""))):
        return None
    result = {name: text(raw.get(name), limit) for name, limit in _ADDRESS_FIELDS.items()}
    lines = [line for line in (text(x, 70) for x in raw.get("AddressLine") or ()) if line]
    result["AddressLine"] = lines[:5]
    result["Country"] = raw["Country"]
    return _clean(result)
