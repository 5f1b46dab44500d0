"""The rules of a payment order, pure: what a TPP may ask the bank to pay, and whether a
submission is the order its consent allowed.

No Flask, no SQLAlchemy, no OB wording beyond the field names the request carries: each rule
returns `Problem`s (all of them, not the first), and the API layer gives each kind its OB
error code. The JSON shapes (Initiation, Risk) are the v3.1 ones, which the consent keeps
exactly as the TPP sent them.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Mapping

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from ..ledger.errors import InvalidAmount, UnknownCurrency
from ..ledger.frequency import FrequencyError, Schedule, parse
from ..ledger.money import Money

SORT_CODE_ACCOUNT_NUMBER = "UK.OBIE.SortCodeAccountNumber"
IBAN_SCHEME = "UK.OBIE.IBAN"
SUPPORTED_SCHEMES = (SORT_CODE_ACCOUNT_NUMBER, IBAN_SCHEME)
# Domestic payments go out through Faster Payments (or stay inside the bank).
DOMESTIC_LOCAL_INSTRUMENTS = ("UK.OBIE.FPS",)
DOMESTIC_CURRENCIES = ("GBP",)
_SCAN = re.compile(r"^[0-9]{14}$")


class ProblemKind(StrEnum):
    INVALID = "invalid"                        # a value this field cannot take
    INVALID_DATE = "invalid-date"
    UNSUPPORTED_CURRENCY = "unsupported-currency"
    UNSUPPORTED_SCHEME = "unsupported-scheme"
    UNSUPPORTED_SECONDARY_IDENTIFICATION = "unsupported-secondary-identification"
    UNSUPPORTED_LOCAL_INSTRUMENT = "unsupported-local-instrument"
    MISMATCH = "mismatch"                      # the submission is not what the consent allowed
    UNEXPECTED = "unexpected"                  # a field that may not be given with another
    EXPECTED = "expected"                      # a field another one's value calls for
    EXPIRED = "expired"                        # a quote or time limit that has passed
    DUPLICATE = "duplicate"                    # a reference that must be unique, twice
    FORMAT = "format"                          # a document (a payment file) not of its format


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    path: str
    message: str


class OrderStatus(StrEnum):
    """A payment order's status, named as the ledger's payment lifecycle names it."""
    PENDING = "Pending"
    ACCEPTED_SETTLEMENT_IN_PROCESS = "AcceptedSettlementInProcess"
    ACCEPTED_SETTLEMENT_COMPLETED = "AcceptedSettlementCompleted"
    REJECTED = "Rejected"


@dataclass(frozen=True)
class Payee:
    """The creditor as the ledger takes it: the identification normalised (no spaces, an
    IBAN in its compact upper-case form)."""
    name: str
    scheme: str
    identification: str


# --- amounts -------------------------------------------------------------------------------
def amount_problems(amount: Mapping[str, Any], path: str,
                    currencies: tuple[str, ...] | None = None) -> list[Problem]:
    """An OB amount {"Amount": "10.50", "Currency": "GBP"}: an ISO 4217 currency (one of
    `currencies` when given), more than zero, no more decimals than the currency has."""
    value, currency = amount.get("Amount"), amount.get("Currency")
    try:
        money = Money.of(str(value), str(currency))
    except UnknownCurrency:
        return [Problem(ProblemKind.INVALID, f"{path}.Currency",
                        f"{currency!r} is not an ISO 4217 currency code")]
    except InvalidAmount as error:
        return [Problem(ProblemKind.INVALID, f"{path}.Amount", error.message)]
    if not money.is_positive:
        return [Problem(ProblemKind.INVALID, f"{path}.Amount",
                        "the amount must be more than zero")]
    if currencies is not None and money.currency not in currencies:
        return [Problem(ProblemKind.UNSUPPORTED_CURRENCY, f"{path}.Currency",
                        f"this payment is made in {' or '.join(currencies)}, "
                        f"not {money.currency}")]
    return []


def money_of(amount: Mapping[str, Any]) -> Money:
    return Money.of(str(amount["Amount"]), str(amount["Currency"]))


# --- accounts ------------------------------------------------------------------------------
def account_problems(account: Mapping[str, Any], path: str) -> list[Problem]:
    """A supported scheme, and an identification that is valid in it: 14 digits of sort code
    and account number, or an IBAN whose country format and check digits are right. No
    SecondaryIdentification (a building society's roll number): the ledger and the scheme
    gateway carry none, and the profile wants a field that cannot be processed refused, not
    dropped (UK.OBIE.Unsupported.AccountSecondaryIdentifier)."""
    scheme = account.get("SchemeName")
    if scheme not in SUPPORTED_SCHEMES:
        return [Problem(ProblemKind.UNSUPPORTED_SCHEME, f"{path}.SchemeName",
                        f"the bank pays to {' or '.join(SUPPORTED_SCHEMES)} accounts, "
                        f"not {scheme!r}")]
    try:
        normalised_identification(scheme, str(account.get("Identification", "")))
    except ValueError as error:
        return [Problem(ProblemKind.INVALID, f"{path}.Identification", str(error))]
    if account.get("SecondaryIdentification") is not None:
        return [Problem(ProblemKind.UNSUPPORTED_SECONDARY_IDENTIFICATION,
                        f"{path}.SecondaryIdentification",
                        "the bank does not pay with a secondary identification (roll number): "
                        "give it in RemittanceInformation.Reference")]
    return []


def normalised_identification(scheme: str, identification: str) -> str:
    """ValueError saying what is wrong with `identification` in `scheme`."""
    if scheme == SORT_CODE_ACCOUNT_NUMBER:
        if not _SCAN.fullmatch(identification):
            raise ValueError("a sort code and account number is 14 digits (6 then 8), "
                             "without spaces or dashes")
        if identification[:6] == "000000" or identification[6:] == "00000000":
            raise ValueError("the sort code or the account number is all zeros")
        return identification
    if scheme == IBAN_SCHEME:
        try:
            return IBAN(identification.replace(" ", "")).compact
        except SchwiftyException as error:
            raise ValueError(f"not a valid IBAN ({error})") from None
    raise ValueError(f"unsupported scheme {scheme!r}")


def payee_of(initiation: Mapping[str, Any]) -> Payee:
    creditor = initiation["CreditorAccount"]
    scheme = creditor["SchemeName"]
    return Payee(creditor["Name"], scheme,
                 normalised_identification(scheme, creditor["Identification"]))


# --- the requests ----------------------------------------------------------------------------
def domestic_initiation_problems(initiation: Mapping[str, Any],
                                 path: str = "Data.Initiation") -> list[Problem]:
    problems = amount_problems(initiation["InstructedAmount"], f"{path}.InstructedAmount",
                               DOMESTIC_CURRENCIES)
    problems += account_problems(initiation["CreditorAccount"], f"{path}.CreditorAccount")
    if "DebtorAccount" in initiation:
        problems += account_problems(initiation["DebtorAccount"], f"{path}.DebtorAccount")
    instrument = initiation.get("LocalInstrument")
    if instrument is not None and instrument not in DOMESTIC_LOCAL_INSTRUMENTS:
        problems.append(Problem(ProblemKind.UNSUPPORTED_LOCAL_INSTRUMENT,
                                f"{path}.LocalInstrument",
                                f"domestic payments go by {', '.join(DOMESTIC_LOCAL_INSTRUMENTS)}"
                                f", not {instrument!r}"))
    return problems


def authorisation_problems(data: Mapping[str, Any], now: datetime) -> list[Problem]:
    """Authorisation.CompletionDateTime, when given, is still to come."""
    completion = (data.get("Authorisation") or {}).get("CompletionDateTime")
    if completion is not None and completion <= now:
        return [Problem(ProblemKind.INVALID_DATE, "Data.Authorisation.CompletionDateTime",
                        "CompletionDateTime must be in the future")]
    return []


def submission_problems(consent_data: Mapping[str, Any],
                        submitted: Mapping[str, Any]) -> list[Problem]:
    """The submission's Initiation and Risk must be the consent's, exactly (the JSON values
    equal: same fields, same strings)."""
    problems = []
    if submitted.get("Data", {}).get("Initiation") != consent_data.get("Initiation"):
        problems.append(Problem(ProblemKind.MISMATCH, "Data.Initiation",
                                "the Initiation differs from the consent's"))
    if submitted.get("Risk") != consent_data.get("Risk"):
        problems.append(Problem(ProblemKind.MISMATCH, "Risk",
                                "the Risk differs from the consent's"))
    return problems


def funds_available(available: Money, amount: Money) -> bool:
    """Whether `available` (balance plus any arranged overdraft still unused) covers
    `amount` of the same currency; another currency never does."""
    if available.currency != amount.currency:
        return False
    return available.amount - amount.amount >= Decimal(0)


# --- scheduled payments and standing orders -------------------------------------------------
def _not_before_today(value: datetime | None, now: datetime, path: str) -> list[Problem]:
    if value is not None and value.astimezone(now.tzinfo).date() < now.date():
        return [Problem(ProblemKind.INVALID_DATE, path,
                        f"{path.rsplit('.', 1)[-1]} is in the past")]
    return []


def scheduled_initiation_problems(initiation: Mapping[str, Any], parsed: Mapping[str, Any],
                                  now: datetime, path: str = "Data.Initiation") -> list[Problem]:
    """A domestic scheduled payment: a domestic initiation with a RequestedExecutionDateTime
    that is today or later (`parsed`: the same Initiation with its date-times parsed)."""
    return domestic_initiation_problems(initiation, path) + _not_before_today(
        parsed["RequestedExecutionDateTime"], now, f"{path}.RequestedExecutionDateTime")


def standing_order_problems(initiation: Mapping[str, Any], parsed: Mapping[str, Any],
                            now: datetime, path: str = "Data.Initiation") -> list[Problem]:
    """A domestic standing order: an OBIE frequency code this bank can pay, GBP amounts
    above zero, a first payment today or later, and an end the profile allows
    (NumberOfPayments or FinalPaymentDateTime, not both; a FinalPaymentAmount only with
    one of them): the schedule engine's own rules (aspsp.ledger.frequency)."""
    problems: list[Problem] = []
    for name in ("FirstPaymentAmount", "RecurringPaymentAmount", "FinalPaymentAmount"):
        if name in initiation:
            problems += amount_problems(initiation[name], f"{path}.{name}", DOMESTIC_CURRENCIES)
    problems += account_problems(initiation["CreditorAccount"], f"{path}.CreditorAccount")
    if "DebtorAccount" in initiation:
        problems += account_problems(initiation["DebtorAccount"], f"{path}.DebtorAccount")
    return problems + standing_order_schedule_problems(initiation, parsed, now, path)


def not_before_today(value: datetime | None, now: datetime, path: str) -> list[Problem]:
    """A payment date-time (`path`) that is today or later (UTC dates)."""
    return _not_before_today(value, now, path)


def standing_order_schedule_problems(initiation: Mapping[str, Any], parsed: Mapping[str, Any],
                                     now: datetime, path: str = "Data.Initiation"
                                     ) -> list[Problem]:
    """The schedule of a standing order (domestic or international): an OBIE frequency code
    this bank can pay, a first payment today or later, and an end the profile allows
    (NumberOfPayments or FinalPaymentDateTime, not both; a FinalPaymentAmount only with one
    of them), by the schedule engine's own rules (aspsp.ledger.frequency)."""
    problems = _not_before_today(parsed["FirstPaymentDateTime"], now,
                                 f"{path}.FirstPaymentDateTime")
    count = number_of_payments(initiation)
    if count == -1:
        problems.append(Problem(ProblemKind.INVALID, f"{path}.NumberOfPayments",
                                "NumberOfPayments must be a whole number of at least 1"))
        count = None
    if "NumberOfPayments" in initiation and "FinalPaymentDateTime" in initiation:
        problems.append(Problem(ProblemKind.UNEXPECTED, f"{path}.FinalPaymentDateTime",
                                "give NumberOfPayments or FinalPaymentDateTime, not both"))
        return problems
    if "FinalPaymentAmount" in initiation and "NumberOfPayments" not in initiation \
            and "FinalPaymentDateTime" not in initiation:
        problems.append(Problem(ProblemKind.UNEXPECTED, f"{path}.FinalPaymentAmount",
                                "FinalPaymentAmount needs NumberOfPayments or "
                                "FinalPaymentDateTime: an open-ended standing order has no "
                                "final payment"))
    try:
        Schedule(parse(initiation["Frequency"]), parsed["FirstPaymentDateTime"],
                 parsed.get("RecurringPaymentDateTime"), parsed.get("FinalPaymentDateTime"),
                 count)
    except FrequencyError as error:
        # Every code the OBIE pattern admits is supported, so a Frequency refused here is
        # malformed: Field.Invalid, not Unsupported.Frequency ("not supported by the ASPSP").
        kind = ProblemKind.INVALID_DATE if error.field.endswith("DateTime") else \
            ProblemKind.INVALID
        problems.append(Problem(kind, f"{path}.{error.field}", error.message))
    return problems


def number_of_payments(initiation: Mapping[str, Any]) -> int | None:
    """NumberOfPayments (a string in v3.1.11) as a number; -1 when it is not one of at
    least 1."""
    text = initiation.get("NumberOfPayments")
    if text is None:
        return None
    return int(text) if str(text).isdigit() and int(text) >= 1 else -1
