"""International payments, scheduled payments and standing orders: the rules of an
OBInternational3 (OBInternationalScheduled3, OBInternationalStandingOrder4) initiation and its
exchange rate, pure (as aspsp.pis.domain: each rule returns every Problem it finds), and what
the services ask of them: the bank's quote for a consent, whether a submission still has its
quote, the amount the debtor account pays in its own currency at execution, and the exchange
terms a schedule is converted on each time the schedule engine pays it
(aspsp.ledger.fx.convert_at_execution: Agreed at the contract's rate; Actual and Indicative
at the bank's rate at that moment).

The rules (OBIE Payment Initiation v3.1.11, international-payment-consents):
- InstructedAmount in a currency the sandbox trades (aspsp.pis.fx), above zero, no more
  decimals than the currency has; CurrencyOfTransfer an ISO 4217 code the sandbox trades.
- CreditorAccount (and DebtorAccount) by sort code and account number or IBAN (schwifty);
  CreditorAgent by UK.OBIE.BICFI with a valid BIC, or by Name and PostalAddress; a
  DestinationCountryCode that an IBAN creditor's country agrees with; Purpose a 4-letter
  ISO 20022 code; LocalInstrument one of the international schemes.
- ExchangeRateInformation: UnitCurrency traded; `Agreed` needs ExchangeRate and
  ContractIdentification, and they must be a contract the bank made (fx.CONTRACTS);
  `Actual` and `Indicative` must carry neither.
- Scheduled (international-scheduled-payment-consents): a RequestedExecutionDateTime today
  or later. Standing orders (international-standing-order-consents): the schedule rules of
  a domestic standing order (aspsp.pis.domain.standing_order_schedule_problems); they carry
  no ExchangeRateInformation (v3.1.11 has none for them): each payment is converted at the
  bank's rate on its day, the consent keeping an indicative quote for the approval page.
"""
from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Mapping

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from ..ledger.errors import UnknownCurrency
from ..ledger.money import Money, validate_currency
from . import domain, fx
from .domain import Problem, ProblemKind

INTERNATIONAL_PAYMENT = "international-payment"
INTERNATIONAL_SCHEDULED_PAYMENT = "international-scheduled-payment"
INTERNATIONAL_STANDING_ORDER = "international-standing-order"
ORDER_TYPES = (INTERNATIONAL_PAYMENT, INTERNATIONAL_SCHEDULED_PAYMENT,
               INTERNATIONAL_STANDING_ORDER)
# The consent response of these shows the bank's quote (a standing order's has no place).
QUOTED_TYPES = (INTERNATIONAL_PAYMENT, INTERNATIONAL_SCHEDULED_PAYMENT)
LOCAL_INSTRUMENTS = ("UK.OBIE.SEPACreditTransfer", "UK.OBIE.SEPAInstantCreditTransfer",
                     "UK.OBIE.SWIFT", "UK.OBIE.Target2", "UK.OBIE.Euro1")
BICFI = "UK.OBIE.BICFI"
_PURPOSE = re.compile(r"^[A-Z]{4}$")


# --- the initiation --------------------------------------------------------------------------
def initiation_problems(initiation: Mapping[str, Any],
                        path: str = "Data.Initiation") -> list[Problem]:
    traded = tuple(fx.RATES)
    problems = domain.amount_problems(initiation["InstructedAmount"],
                                      f"{path}.InstructedAmount", traded)
    problems += _currency_problems(initiation["CurrencyOfTransfer"],
                                   f"{path}.CurrencyOfTransfer")
    problems += domain.account_problems(initiation["CreditorAccount"],
                                        f"{path}.CreditorAccount")
    if "DebtorAccount" in initiation:
        problems += domain.account_problems(initiation["DebtorAccount"],
                                            f"{path}.DebtorAccount")
    if "CreditorAgent" in initiation:
        problems += _agent_problems(initiation["CreditorAgent"], f"{path}.CreditorAgent")
    instrument = initiation.get("LocalInstrument")
    if instrument is not None and instrument not in LOCAL_INSTRUMENTS:
        problems.append(Problem(ProblemKind.UNSUPPORTED_LOCAL_INSTRUMENT,
                                f"{path}.LocalInstrument",
                                f"international payments go by {', '.join(LOCAL_INSTRUMENTS)}"
                                f", not {instrument!r}"))
    purpose = initiation.get("Purpose")
    if purpose is not None and not _PURPOSE.fullmatch(purpose):
        problems.append(Problem(ProblemKind.INVALID, f"{path}.Purpose",
                                "Purpose is a 4-letter ISO 20022 external purpose code"))
    problems += _destination_problems(initiation, path)
    if "ExchangeRateInformation" in initiation:
        problems += exchange_rate_problems(initiation, f"{path}.ExchangeRateInformation")
    return problems


def scheduled_initiation_problems(initiation: Mapping[str, Any], parsed: Mapping[str, Any],
                                  now: datetime, path: str = "Data.Initiation") -> list[Problem]:
    """An international scheduled payment: an international initiation paid on its
    RequestedExecutionDateTime, today or later (`parsed`: its date-times parsed)."""
    return initiation_problems(initiation, path) + domain.not_before_today(
        parsed["RequestedExecutionDateTime"], now, f"{path}.RequestedExecutionDateTime")


def standing_order_problems(initiation: Mapping[str, Any], parsed: Mapping[str, Any],
                            now: datetime, path: str = "Data.Initiation") -> list[Problem]:
    """An international standing order: an international initiation (every payment of
    its InstructedAmount) on a standing order's schedule."""
    return initiation_problems(initiation, path) + domain.standing_order_schedule_problems(
        initiation, parsed, now, path)


def _currency_problems(currency: Any, path: str) -> list[Problem]:
    try:
        validate_currency(currency)
    except UnknownCurrency:
        return [Problem(ProblemKind.INVALID, path,
                        f"{currency!r} is not an ISO 4217 currency code")]
    if not fx.supported(currency):
        return [Problem(ProblemKind.UNSUPPORTED_CURRENCY, path,
                        f"the bank does not trade {currency}: it pays in "
                        f"{', '.join(fx.RATES)}")]
    return []


def _agent_problems(agent: Mapping[str, Any], path: str) -> list[Problem]:
    """By scheme and identification (UK.OBIE.BICFI, a valid BIC), or by name and postal
    address: at least one of the two pairs (the profile's rule)."""
    problems = []
    scheme, ident = agent.get("SchemeName"), agent.get("Identification")
    if scheme is not None and scheme != BICFI:
        problems.append(Problem(ProblemKind.UNSUPPORTED_SCHEME, f"{path}.SchemeName",
                                f"the creditor's bank is named by {BICFI}, not {scheme!r}"))
    elif scheme is not None and ident is not None:
        try:
            BIC(ident)
        except SchwiftyException as error:
            problems.append(Problem(ProblemKind.INVALID, f"{path}.Identification",
                                    f"not a valid BIC ({error})"))
    by_id = scheme is not None and ident is not None
    by_name = agent.get("Name") is not None and agent.get("PostalAddress") is not None
    if not (by_id or by_name):
        problems.append(Problem(ProblemKind.EXPECTED, path,
                                "name the creditor's bank by SchemeName and Identification, "
                                "or by Name and PostalAddress"))
    return problems


def _destination_problems(initiation: Mapping[str, Any], path: str) -> list[Problem]:
    country = initiation.get("DestinationCountryCode")
    creditor = initiation["CreditorAccount"]
    if country is None or creditor.get("SchemeName") != domain.IBAN_SCHEME:
        return []
    try:
        iban = IBAN(str(creditor.get("Identification", "")).replace(" ", ""))
    except SchwiftyException:
        return []                     # the account's own problem, said once
    if iban.country_code != country:
        return [Problem(ProblemKind.INVALID, f"{path}.DestinationCountryCode",
                        f"the creditor's IBAN is in {iban.country_code}, not {country}")]
    return []


def exchange_rate_problems(initiation: Mapping[str, Any], path: str) -> list[Problem]:
    info = initiation["ExchangeRateInformation"]
    problems = _currency_problems(info["UnitCurrency"], f"{path}.UnitCurrency")
    rate_type, rate = info["RateType"], info.get("ExchangeRate")
    contract = info.get("ContractIdentification")
    if rate_type in (fx.ACTUAL, fx.INDICATIVE):
        for name, value in (("ExchangeRate", rate), ("ContractIdentification", contract)):
            if value is not None:
                problems.append(Problem(ProblemKind.UNEXPECTED, f"{path}.{name}",
                                        f"a PISP must not give {name} with a {rate_type} "
                                        f"RateType"))
        return problems
    for name, value in (("ExchangeRate", rate), ("ContractIdentification", contract)):
        if value is None:
            problems.append(Problem(ProblemKind.EXPECTED, f"{path}.{name}",
                                    f"an Agreed RateType needs {name}"))
    if problems:
        return problems
    requested = _decimal(rate)
    pair = currency_pair(initiation)
    if requested is None or requested <= 0:
        return [Problem(ProblemKind.INVALID, f"{path}.ExchangeRate",
                        "ExchangeRate is a number above zero")]
    if pair is None:
        return [Problem(ProblemKind.UNEXPECTED, path,
                        "there is no currency exchange in this payment")]
    agreed = fx.contract_rate(contract, *pair)
    if agreed is None or agreed != requested:
        return [Problem(ProblemKind.INVALID, f"{path}.ContractIdentification",
                        f"there is no FX contract {contract!r} at {rate} "
                        f"{pair[1]} per {pair[0]}")]
    return []


def _decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def currency_pair(initiation: Mapping[str, Any]) -> tuple[str, str] | None:
    """(UnitCurrency, the other currency) of the payment's exchange: the unit currency the
    PISP named (the debtor account's), else the bank's own; the other the CurrencyOfTransfer,
    or the InstructedAmount's currency when the transfer is in the unit currency. None when
    all are one currency (no exchange)."""
    info = initiation.get("ExchangeRateInformation") or {}
    unit = info.get("UnitCurrency") or fx.BASE
    for other in (initiation["CurrencyOfTransfer"], initiation["InstructedAmount"]["Currency"]):
        if other != unit:
            return unit, other
    return None


# --- what the services ask -------------------------------------------------------------------
def consent_quote(initiation: Mapping[str, Any], now: datetime) -> dict | None:
    """The bank's Data.ExchangeRateInformation for a valid initiation: the quote asked for
    (an indicative one when none was), or None when there is no exchange."""
    pair = currency_pair(initiation)
    if pair is None:
        return None
    info = initiation.get("ExchangeRateInformation") or {}
    rate_type = info.get("RateType", fx.INDICATIVE)
    requested = _decimal(info.get("ExchangeRate"))
    return fx.quote(*pair, rate_type, now, requested,
                    info.get("ContractIdentification")).to_ob()


def submission_problems(consent_data: Mapping[str, Any], now: datetime) -> list[Problem]:
    """An Actual quote holds until its ExpirationDateTime: a later submission is refused
    (the profile: the ASPSP must reject it)."""
    quote = consent_data.get("ExchangeRateInformation") or {}
    expires = quote.get("ExpirationDateTime")
    if quote.get("RateType") == fx.ACTUAL and expires \
            and datetime.fromisoformat(expires) <= now:
        return [Problem(ProblemKind.EXPIRED, "Data.Initiation.ExchangeRateInformation",
                        f"the exchange rate quote expired at {expires}")]
    return []


def schedule_terms(consent_data: Mapping[str, Any]) -> dict:
    """The exchange terms the schedule engine converts each payment of an international
    schedule on (aspsp.ledger.fx.terms): the payment's currency pair and the RateType the
    PISP asked for (Indicative when none), with an Agreed contract's rate."""
    initiation = consent_data["Initiation"]
    info = initiation.get("ExchangeRateInformation") or {}
    instructed = initiation["InstructedAmount"]["Currency"]
    unit, other = currency_pair(initiation) or (instructed, instructed)
    rate_type = info.get("RateType", fx.INDICATIVE)
    if rate_type == fx.AGREED:
        return fx.terms(unit, other, fx.AGREED, _decimal(info["ExchangeRate"]),
                        info["ContractIdentification"])
    return fx.terms(unit, other, rate_type)


def applied_rate(executions) -> dict | None:
    """The rate the latest payment of a schedule applied (its ExchangeRateInformation), or
    None before the first."""
    applied = [e.exchange_rate for e in executions if e.exchange_rate]
    if not applied:
        return None
    return {k: v for k, v in applied[-1].items() if k != "DebitedAmount"}


def debit(consent_data: Mapping[str, Any], debtor_currency: str,
          now: datetime) -> tuple[Money, dict | None]:
    """What the debtor account pays, in its own currency, and the rate applied (an OB
    ExchangeRateInformation, None when nothing is exchanged). An Agreed or Actual quote
    between the debtor's currency and the instructed one applies as quoted; otherwise the
    table's rate at `now` (Indicative: the market rate on the day the account is debited)."""
    initiation = consent_data["Initiation"]
    amount = domain.money_of(initiation["InstructedAmount"])
    kept = consent_data.get("ExchangeRateInformation")
    quote = None
    if kept is not None:
        pair = currency_pair(initiation)
        quote = fx.quote_of(kept, pair[1]) if pair else None
        if quote is not None and quote.rate_type == fx.INDICATIVE:
            quote = fx.quote(quote.unit_currency, quote.currency, fx.INDICATIVE, now)
    if amount.currency == debtor_currency:
        return amount, quote.to_ob() if quote is not None else None
    if quote is None or {quote.unit_currency, quote.currency} != {amount.currency,
                                                                   debtor_currency}:
        quote = fx.quote(debtor_currency, amount.currency, fx.INDICATIVE, now)
    return quote.convert(amount, debtor_currency), quote.to_ob()


def describe(amount: Money, debited: Money, applied: dict | None) -> str:
    """The ledger entry's description of an international payment: what was sent and at
    what rate the debtor account paid for it (the schedule engine's words too)."""
    return fx.describe(amount, debited, applied)
