"""The generic transaction shaping as it was before it was compiled per permission set
(aspsp/ais/shaping.py at commit 8c4b183), kept verbatim as the reference that
test_shaping_plan.py compares the compiled plans with. Test code only: nothing in the product
imports it. Its helpers are copied too, so a later change to shaping's helpers cannot change
the reference along with what it checks."""
from __future__ import annotations

import functools

from aspsp.ledger.money import minor_units

PAN = "UK.OBIE.PAN"


def text(value, limit):
    if value is None:
        return None
    value = str(value).strip()
    return value[:limit] if value else None


def amount(minor, currency):
    places = _places(currency)
    whole, part = divmod(abs(int(minor)), 10 ** places)
    return {"Amount": f"{whole}.{part:0{places}d}" if places else str(whole),
            "Currency": currency}


@functools.lru_cache(maxsize=64)
def _places(currency):
    return minor_units(currency)


def indicator(minor):
    return "Debit" if minor < 0 else "Credit"


def mask_pan(number):
    if not number:
        return None
    compact = "".join(number.split())
    return "*" * max(0, len(compact) - 4) + compact[-4:]


def _pan(number, view):
    return text(number, 34) if view.pan else mask_pan(number)


def cash_account(raw, view, *, required=False):
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


def agent(raw):
    if not isinstance(raw, dict):
        return None
    result = {"SchemeName": text(raw.get("SchemeName"), 40),
              "Identification": text(raw.get("Identification"), 35),
              "Name": text(raw.get("Name"), 140)}
    result = {k: v for k, v in result.items() if v is not None}
    return result or None


def _clean(payload):
    return {k: v for k, v in payload.items() if v is not None and v != [] and v != {}}


def transaction(row, account_id, view):
    """A posting as OBTransaction6."""
    minor = row.amount_minor
    payload = {
        "AccountId": account_id, "TransactionId": row.transaction_id,
        "TransactionReference": text(row.transaction_reference, 210),
        "StatementReference": [s for s in [text(row.statement_reference, 35)] if s],
        "CreditDebitIndicator": indicator(minor), "Status": row.status,
        "BookingDateTime": row.booking_datetime, "ValueDateTime": row.value_datetime,
        "Amount": amount(abs(minor), row.currency),
        "BankTransactionCode": {"Code": row.iso_code, "SubCode": row.iso_subcode}
        if row.iso_code and row.iso_subcode else None,
        "ProprietaryBankTransactionCode": _clean({
            "Code": text(row.proprietary_code, 35), "Issuer": text(row.proprietary_issuer, 35)})
        if row.proprietary_code else None,
        "CardInstrument": card_instrument(row.card_instrument, view),
    }
    if view.transactions_detail:
        counterparty = row.counterparty if isinstance(row.counterparty, dict) else {}
        creditor = cash_account(counterparty.get("CreditorAccount"), view)
        # The one change since it was the product's: a blank CreditorName gave {"Name": null}.
        if creditor is None and (name := text(counterparty.get("CreditorName"), 350)):
            creditor = {"Name": name}
        payload.update({
            "TransactionInformation": text(row.transaction_information, 500),
            "Balance": {"CreditDebitIndicator": indicator(row.balance_after_minor),
                        "Type": "InterimBooked",
                        "Amount": amount(abs(row.balance_after_minor), row.currency)}
            if row.balance_after_minor is not None else None,
            "MerchantDetails": _clean({"MerchantName": text(row.merchant_name, 350),
                                       "MerchantCategoryCode": row.merchant_category_code
                                       if row.merchant_category_code
                                       and 3 <= len(row.merchant_category_code) <= 4 else None})
            or None,
            "CreditorAgent": agent(counterparty.get("CreditorAgent")),
            "CreditorAccount": creditor,
            "DebtorAgent": agent(counterparty.get("DebtorAgent")),
            "DebtorAccount": cash_account(counterparty.get("DebtorAccount"), view),
        })
    return _clean(payload)


def card_instrument(raw, view):
    if not isinstance(raw, dict) or not raw.get("CardSchemeName"):
        return None
    return _clean({"CardSchemeName": raw["CardSchemeName"],
                   "AuthorisationType": raw.get("AuthorisationType"),
                   "Name": text(raw.get("Name"), 70),
                   "Identification": _pan(raw.get("Identification"), view)})
