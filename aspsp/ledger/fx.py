"""The bank's foreign exchange (the sandbox's desk): one table of rates, the quotes the bank
gives on them, the FX contracts a PISP may name for an `Agreed` rate, and the conversion of a
payment in another currency when it is made (`convert_at_execution`: the schedule engine's
international scheduled payments and standing orders). Pure: no Flask, no database. The PIS
API reads it as `aspsp.pis.fx`.

A rate is what 1 unit of the base currency (GBP) buys; a cross rate goes through GBP. A
quote of RateType `Actual` holds until its ExpirationDateTime (`QUOTE_TTL` after the consent
was created); an `Indicative` one is the table's rate on the day the payment executes; an
`Agreed` one is the rate of a contract the PISP and the bank made beforehand (`CONTRACTS`).
Amounts converted are rounded half-up to the minor unit of the currency they are in.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .money import Money, minor_units

BASE = "GBP"
# 1 GBP buys this much (the sandbox's rates; a real bank reads its dealing desk).
RATES: dict[str, Decimal] = {
    "GBP": Decimal("1"), "EUR": Decimal("1.1650"), "USD": Decimal("1.2700"),
    "CHF": Decimal("1.1200"), "JPY": Decimal("190.50"), "PLN": Decimal("5.0500"),
    "SEK": Decimal("13.6000"), "INR": Decimal("105.8000"),
}
QUOTE_TTL = timedelta(minutes=15)
# FX contracts agreed beforehand: ContractIdentification -> (UnitCurrency, currency, rate).
CONTRACTS: dict[str, tuple[str, str, Decimal]] = {
    "FXC-SANDBOX-GBPEUR-1": ("GBP", "EUR", Decimal("1.1600")),
    "FXC-SANDBOX-GBPUSD-1": ("GBP", "USD", Decimal("1.2650")),
    "FXC-SANDBOX-EURGBP-1": ("EUR", "GBP", Decimal("0.8600")),
}
ACTUAL, AGREED, INDICATIVE = "Actual", "Agreed", "Indicative"
_PRECISION = Decimal("0.000001")


def supported(currency: str) -> bool:
    return currency in RATES


def rate(unit_currency: str, currency: str) -> Decimal:
    """What 1 `unit_currency` buys in `currency` by the table (6 decimal places)."""
    return (RATES[currency] / RATES[unit_currency]).quantize(_PRECISION, ROUND_HALF_UP)


@dataclass(frozen=True)
class Quote:
    """An exchange rate as OBExchangeRate2 names it: 1 `unit_currency` = `rate` `currency`."""
    unit_currency: str
    currency: str
    rate: Decimal
    rate_type: str
    contract: str | None = None
    expires_at: datetime | None = None

    def to_ob(self) -> dict:
        """Data.ExchangeRateInformation (the rate a JSON number, as the contract has it)."""
        body: dict = {"UnitCurrency": self.unit_currency, "ExchangeRate": float(self.rate),
                      "RateType": self.rate_type}
        if self.contract:
            body["ContractIdentification"] = self.contract
        if self.expires_at is not None:
            body["ExpirationDateTime"] = self.expires_at.isoformat()
        return body

    def convert(self, amount: Money, to: str) -> Money:
        """`amount` in `to`, by this quote when it is between the two currencies, else by
        the table (a cross rate through the quote's currencies would be another quote)."""
        if amount.currency == to:
            return amount
        if (amount.currency, to) == (self.unit_currency, self.currency):
            value = amount.amount * self.rate
        elif (amount.currency, to) == (self.currency, self.unit_currency):
            value = amount.amount / self.rate
        else:
            value = amount.amount * rate(amount.currency, to)
        return Money.of(value.quantize(Decimal(1).scaleb(-minor_units(to)), ROUND_HALF_UP), to)


def contract_rate(contract: str, unit_currency: str, currency: str) -> Decimal | None:
    """The rate of a known contract between these two currencies, else None."""
    terms = CONTRACTS.get(contract)
    if terms is None or terms[:2] != (unit_currency, currency):
        return None
    return terms[2]


def quote(unit_currency: str, currency: str, rate_type: str, now: datetime,
          requested_rate: Decimal | None = None, contract: str | None = None) -> Quote:
    """The bank's answer to a request for a rate (validated before: see aspsp.pis.
    international). Agreed: the contract's rate, no expiry; Actual: the table's rate now,
    firm until QUOTE_TTL; Indicative: the table's rate now, no expiry (the rate applied is
    the one on the day of execution)."""
    if rate_type == AGREED:
        return Quote(unit_currency, currency, requested_rate, AGREED, contract)
    if rate_type == ACTUAL:
        return Quote(unit_currency, currency, rate(unit_currency, currency), ACTUAL,
                     expires_at=now + QUOTE_TTL)
    return Quote(unit_currency, currency, rate(unit_currency, currency), INDICATIVE)


def quote_of(body: dict, currency: str) -> Quote:
    """A Quote from a Data.ExchangeRateInformation the consent keeps (which names only the
    unit currency: `currency` is the other one)."""
    expires = body.get("ExpirationDateTime")
    return Quote(body["UnitCurrency"], currency, Decimal(str(body["ExchangeRate"])),
                 body["RateType"], body.get("ContractIdentification"),
                 datetime.fromisoformat(expires) if expires else None)


def terms(unit_currency: str, currency: str, rate_type: str,
          agreed_rate: Decimal | None = None, contract: str | None = None) -> dict:
    """The exchange terms a schedule keeps (JSON): the pair, the RateType, and an Agreed
    contract's rate and identification."""
    body: dict = {"UnitCurrency": unit_currency, "Currency": currency, "RateType": rate_type}
    if rate_type == AGREED:
        body.update(ExchangeRate=str(agreed_rate), ContractIdentification=contract)
    return body


def convert_at_execution(amount: Money, debtor_currency: str, kept: dict,
                         now: datetime) -> tuple[Money, dict | None]:
    """What a debtor account in `debtor_currency` pays for `amount` at `now`, and the rate
    applied (an OB ExchangeRateInformation): an Agreed contract between the two currencies
    at its rate; otherwise (Actual, Indicative, or a contract on another pair) the table's
    rate at `now`, under the RateType the PISP asked for. An amount in the account's own
    currency is paid as it is, the rate of its exchange downstream still recorded."""
    pair = {kept["UnitCurrency"], kept["Currency"]}
    if amount.currency == debtor_currency and len(pair) == 1:
        return amount, None          # nothing exchanged anywhere
    if kept["RateType"] == AGREED and (amount.currency == debtor_currency
                                       or pair == {amount.currency, debtor_currency}):
        applied = Quote(kept["UnitCurrency"], kept["Currency"],
                        Decimal(kept["ExchangeRate"]), AGREED, kept["ContractIdentification"])
    elif amount.currency == debtor_currency:
        applied = Quote(kept["UnitCurrency"], kept["Currency"],
                        rate(kept["UnitCurrency"], kept["Currency"]), kept["RateType"])
    else:
        applied = Quote(debtor_currency, amount.currency,
                        rate(debtor_currency, amount.currency), kept["RateType"])
    return applied.convert(amount, debtor_currency), applied.to_ob()


def describe(amount: Money, debited: Money, applied: dict | None) -> str:
    """A ledger entry's description of a payment in another currency: what was sent and at
    what rate the debtor account paid for it."""
    if applied is None:
        return f"International payment of {amount}"
    return (f"International payment of {amount}, {debited} debited at "
            f"1 {applied['UnitCurrency']} = {Decimal(str(applied['ExchangeRate']))} "
            f"({applied['RateType']})")[:500]
