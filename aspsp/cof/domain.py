"""The rules of confirmation of funds, pure: which account a CBPII may name, what amount it
may ask about, and the answer.

No Flask, no SQLAlchemy. Each rule returns `Problem`s (all of them, not the first); the API
layer gives each kind its OB error code. The answer is a yes or a no: whether the account's
available balance plus its arranged overdraft covers the amount (OBIE CoF profile: "funds can
only be confirmed against the currency of the account"); the balance itself never leaves
this module's caller.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, Mapping

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException

from ..ledger.errors import InvalidAmount, UnknownCurrency
from ..ledger.money import Money

SORT_CODE_ACCOUNT_NUMBER = "UK.OBIE.SortCodeAccountNumber"
IBAN_SCHEME = "UK.OBIE.IBAN"
SUPPORTED_SCHEMES = (SORT_CODE_ACCOUNT_NUMBER, IBAN_SCHEME)
_SCAN = re.compile(r"^[0-9]{14}$")


class ProblemKind(StrEnum):
    INVALID = "invalid"
    UNSUPPORTED_SCHEME = "unsupported-scheme"
    UNSUPPORTED_CURRENCY = "unsupported-currency"


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    path: str
    message: str


@dataclass(frozen=True)
class AccountKey:
    """How the bank finds an account the CBPII named: by sort code and account number, or by
    IBAN (normalised: no spaces, upper case)."""
    scheme: str
    identification: str


# --- the consent's account ---------------------------------------------------------------------
def debtor_problems(debtor: Mapping[str, Any], path: str = "Data.DebtorAccount"
                    ) -> list[Problem]:
    """A scheme the bank's accounts are identified by, and an identification valid in it."""
    scheme = debtor.get("SchemeName")
    if scheme not in SUPPORTED_SCHEMES:
        return [Problem(ProblemKind.UNSUPPORTED_SCHEME, f"{path}.SchemeName",
                        f"the bank's accounts are identified by {' or '.join(SUPPORTED_SCHEMES)}"
                        f", not {str(scheme)[:40]!r}")]
    try:
        account_key(debtor)
    except ValueError as error:
        return [Problem(ProblemKind.INVALID, f"{path}.Identification", str(error))]
    return []


def account_key(debtor: Mapping[str, Any]) -> AccountKey:
    """ValueError when the identification is not valid in its scheme."""
    scheme = str(debtor.get("SchemeName") or "")
    ident = "".join(str(debtor.get("Identification") or "").split()).upper()
    if scheme == SORT_CODE_ACCOUNT_NUMBER:
        if not _SCAN.fullmatch(ident) or ident[:6] == "000000" or ident[6:] == "00000000":
            raise ValueError("a UK.OBIE.SortCodeAccountNumber is 14 digits: the sort code, "
                             "then the account number")
        return AccountKey(scheme, ident)
    if scheme == IBAN_SCHEME:
        try:
            return AccountKey(scheme, str(IBAN(ident).compact))
        except SchwiftyException as error:
            raise ValueError(f"not a valid IBAN: {error}") from None
    raise ValueError(f"unsupported scheme {scheme[:40]!r}")


# --- the amount asked about --------------------------------------------------------------------
def amount_problems(amount: Mapping[str, Any], account_currency: str,
                    path: str = "Data.InstructedAmount") -> list[Problem]:
    """An ISO 4217 currency that is the account's, an amount more than zero with no more
    decimals than the currency has."""
    value, currency = amount.get("Amount"), amount.get("Currency")
    try:
        money = Money.of(str(value), str(currency))
    except UnknownCurrency:
        return [Problem(ProblemKind.INVALID, f"{path}.Currency",
                        f"{str(currency)[:10]!r} is not an ISO 4217 currency code")]
    except InvalidAmount as error:
        return [Problem(ProblemKind.INVALID, f"{path}.Amount", error.message)]
    problems = []
    if not money.is_positive:
        problems.append(Problem(ProblemKind.INVALID, f"{path}.Amount",
                                "the amount must be more than zero"))
    if money.currency != account_currency:
        problems.append(Problem(ProblemKind.UNSUPPORTED_CURRENCY, f"{path}.Currency",
                                f"funds are confirmed in the account's currency "
                                f"({account_currency}) only"))
    return problems


def money_of(amount: Mapping[str, Any]) -> Money:
    return Money.of(str(amount["Amount"]), str(amount["Currency"]))


def funds_available(available: Money, credit_limit: Money, asked: Money) -> bool:
    """Whether the available balance and the arranged overdraft together cover `asked`: the
    account may go down to minus its limit, not a penny below."""
    if asked.currency != available.currency or credit_limit.currency != available.currency:
        return False
    return available.amount + credit_limit.amount - asked.amount >= Decimal(0)
