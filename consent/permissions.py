"""OBIE account-access permission codes, pure: their rules, what each lets a TPP read (in the
customer's words, for the approval and dashboard screens) and which endpoint needs which.

Rules [OBIE Account and Transaction API Profile v3.1.11, §Permissions]: at least one of
ReadAccountsBasic/ReadAccountsDetail; ReadTransactionsBasic/Detail need Credits or Debits and
Credits/Debits need Basic or Detail; an empty list or an unknown code is refused. A Detail
code implies its Basic code; asking for both is not an error.
"""
from __future__ import annotations

from enum import StrEnum
from typing import Iterable

from .errors import Problem


class Permission(StrEnum):
    READ_ACCOUNTS_BASIC = "ReadAccountsBasic"
    READ_ACCOUNTS_DETAIL = "ReadAccountsDetail"
    READ_BALANCES = "ReadBalances"
    READ_BENEFICIARIES_BASIC = "ReadBeneficiariesBasic"
    READ_BENEFICIARIES_DETAIL = "ReadBeneficiariesDetail"
    READ_DIRECT_DEBITS = "ReadDirectDebits"
    READ_OFFERS = "ReadOffers"
    READ_PAN = "ReadPAN"
    READ_PARTY = "ReadParty"
    READ_PARTY_PSU = "ReadPartyPSU"
    READ_PRODUCTS = "ReadProducts"
    READ_SCHEDULED_PAYMENTS_BASIC = "ReadScheduledPaymentsBasic"
    READ_SCHEDULED_PAYMENTS_DETAIL = "ReadScheduledPaymentsDetail"
    READ_STANDING_ORDERS_BASIC = "ReadStandingOrdersBasic"
    READ_STANDING_ORDERS_DETAIL = "ReadStandingOrdersDetail"
    READ_STATEMENTS_BASIC = "ReadStatementsBasic"
    READ_STATEMENTS_DETAIL = "ReadStatementsDetail"
    READ_TRANSACTIONS_BASIC = "ReadTransactionsBasic"
    READ_TRANSACTIONS_CREDITS = "ReadTransactionsCredits"
    READ_TRANSACTIONS_DEBITS = "ReadTransactionsDebits"
    READ_TRANSACTIONS_DETAIL = "ReadTransactionsDetail"


P = Permission
CODES: tuple[str, ...] = tuple(p.value for p in Permission)

# Each Detail code and the Basic code it implies.
IMPLIES: dict[str, str] = {
    P.READ_ACCOUNTS_DETAIL: P.READ_ACCOUNTS_BASIC,
    P.READ_BENEFICIARIES_DETAIL: P.READ_BENEFICIARIES_BASIC,
    P.READ_SCHEDULED_PAYMENTS_DETAIL: P.READ_SCHEDULED_PAYMENTS_BASIC,
    P.READ_STANDING_ORDERS_DETAIL: P.READ_STANDING_ORDERS_BASIC,
    P.READ_STATEMENTS_DETAIL: P.READ_STATEMENTS_BASIC,
    P.READ_TRANSACTIONS_DETAIL: P.READ_TRANSACTIONS_BASIC,
}

_ACCOUNTS = {P.READ_ACCOUNTS_BASIC, P.READ_ACCOUNTS_DETAIL}
_TX_LEVEL = {P.READ_TRANSACTIONS_BASIC, P.READ_TRANSACTIONS_DETAIL}
_TX_DIRECTION = {P.READ_TRANSACTIONS_CREDITS, P.READ_TRANSACTIONS_DEBITS}
PATH = "Data.Permissions"


def validate(codes: Iterable[object] | None) -> list[Problem]:
    """Every rule the permission list breaks (empty when it is acceptable)."""
    codes = list(codes or [])
    if not codes:
        return [Problem("invalid", PATH, "Permissions must name at least one permission")]
    problems = [Problem("invalid", f"{PATH}[{i}]", f"{code!r} is not a permission code")
                for i, code in enumerate(codes) if code not in CODES]
    known = {c for c in codes if c in CODES}
    if not known & _ACCOUNTS:
        problems.append(Problem("expected", PATH,
                                "Permissions must include ReadAccountsBasic or ReadAccountsDetail"))
    if known & _TX_LEVEL and not known & _TX_DIRECTION:
        problems.append(Problem("expected", PATH,
                                "ReadTransactionsBasic/Detail need ReadTransactionsCredits "
                                "or ReadTransactionsDebits"))
    if known & _TX_DIRECTION and not known & _TX_LEVEL:
        problems.append(Problem("expected", PATH,
                                "ReadTransactionsCredits/Debits need ReadTransactionsBasic "
                                "or ReadTransactionsDetail"))
    return problems


def normalise(codes: Iterable[str]) -> list[str]:
    """The codes as sent, duplicates dropped, order kept (the consent is not rewritten)."""
    return list(dict.fromkeys(codes))


def effective(granted: Iterable[str]) -> frozenset[str]:
    """The granted codes plus the Basic codes their Detail codes imply."""
    granted = set(granted)
    return frozenset(granted | {IMPLIES[c] for c in granted if c in IMPLIES})


def grants(granted: Iterable[str], required: str | Iterable[str]) -> bool:
    """True when the consent holds `required` (a code, or any one of several codes)."""
    options = {required} if isinstance(required, str) else set(required)
    return bool(effective(granted) & options)


def transaction_directions(granted: Iterable[str]) -> tuple[bool, bool]:
    """(credits, debits) the consent lets the TPP read."""
    granted = set(granted)
    return P.READ_TRANSACTIONS_CREDITS in granted, P.READ_TRANSACTIONS_DEBITS in granted


# --- which endpoint needs which permission (any one of the codes listed) -------------------
_ACCOUNTS_ANY = (P.READ_ACCOUNTS_BASIC, P.READ_ACCOUNTS_DETAIL)
_BENEFICIARIES = (P.READ_BENEFICIARIES_BASIC, P.READ_BENEFICIARIES_DETAIL)
_TRANSACTIONS = (P.READ_TRANSACTIONS_BASIC, P.READ_TRANSACTIONS_DETAIL)
_STATEMENTS = (P.READ_STATEMENTS_BASIC, P.READ_STATEMENTS_DETAIL)
_SCHEDULED = (P.READ_SCHEDULED_PAYMENTS_BASIC, P.READ_SCHEDULED_PAYMENTS_DETAIL)
_STANDING = (P.READ_STANDING_ORDERS_BASIC, P.READ_STANDING_ORDERS_DETAIL)

ENDPOINTS: dict[str, tuple[str, ...]] = {
    "/accounts": _ACCOUNTS_ANY,
    "/accounts/{AccountId}": _ACCOUNTS_ANY,
    "/balances": (P.READ_BALANCES,),
    "/accounts/{AccountId}/balances": (P.READ_BALANCES,),
    "/beneficiaries": _BENEFICIARIES,
    "/accounts/{AccountId}/beneficiaries": _BENEFICIARIES,
    "/direct-debits": (P.READ_DIRECT_DEBITS,),
    "/accounts/{AccountId}/direct-debits": (P.READ_DIRECT_DEBITS,),
    "/transactions": _TRANSACTIONS,
    "/accounts/{AccountId}/transactions": _TRANSACTIONS,
    "/accounts/{AccountId}/statements/{StatementId}/transactions": _TRANSACTIONS,
    "/statements": _STATEMENTS,
    "/accounts/{AccountId}/statements": _STATEMENTS,
    "/accounts/{AccountId}/statements/{StatementId}": _STATEMENTS,
    "/accounts/{AccountId}/statements/{StatementId}/file": (P.READ_STATEMENTS_DETAIL,),
    "/products": (P.READ_PRODUCTS,),
    "/accounts/{AccountId}/product": (P.READ_PRODUCTS,),
    "/offers": (P.READ_OFFERS,),
    "/accounts/{AccountId}/offers": (P.READ_OFFERS,),
    "/accounts/{AccountId}/party": (P.READ_PARTY,),
    "/accounts/{AccountId}/parties": (P.READ_PARTY,),
    "/party": (P.READ_PARTY_PSU,),
    "/scheduled-payments": _SCHEDULED,
    "/accounts/{AccountId}/scheduled-payments": _SCHEDULED,
    "/standing-orders": _STANDING,
    "/accounts/{AccountId}/standing-orders": _STANDING,
}


def required_for(endpoint: str) -> tuple[str, ...]:
    """The permissions (any one) an AIS endpoint needs, by its OBIE path template."""
    return ENDPOINTS[endpoint]


# --- in the customer's words ---------------------------------------------------------------
_PLAIN: tuple[tuple[str, str | None, str, str], ...] = (
    # (basic code, detail code or None, words for basic, words for detail)
    (P.READ_ACCOUNTS_BASIC, P.READ_ACCOUNTS_DETAIL,
     "Your account names, types and currencies",
     "Your account names, types and currencies, with sort codes and account numbers"),
    (P.READ_BALANCES, None, "Your account balances", ""),
    (P.READ_BENEFICIARIES_BASIC, P.READ_BENEFICIARIES_DETAIL,
     "The payees you have set up, by name and reference",
     "The payees you have set up, with their account details"),
    (P.READ_DIRECT_DEBITS, None, "Your Direct Debits", ""),
    (P.READ_STANDING_ORDERS_BASIC, P.READ_STANDING_ORDERS_DETAIL,
     "Your standing orders: amounts, dates and references",
     "Your standing orders, with the payees' account details"),
    (P.READ_SCHEDULED_PAYMENTS_BASIC, P.READ_SCHEDULED_PAYMENTS_DETAIL,
     "Your future-dated payments: amounts, dates and references",
     "Your future-dated payments, with the payees' account details"),
    (P.READ_STATEMENTS_BASIC, P.READ_STATEMENTS_DETAIL,
     "Your statements: their dates and types",
     "Your statements, with their amounts, and copies to download"),
    (P.READ_PRODUCTS, None,
     "The products your accounts are on: interest rates, fees and charges", ""),
    (P.READ_OFFERS, None, "Offers on your accounts, such as limit increases", ""),
    (P.READ_PARTY, None, "The names and contact details of your accounts' holders", ""),
    (P.READ_PARTY_PSU, None, "Your own name, address and contact details", ""),
    (P.READ_PAN, None, "Your full card numbers (without this, card numbers are hidden)", ""),
)


def _transactions_in_words(granted: frozenset[str]) -> str | None:
    credits, debits = transaction_directions(granted)
    if not (granted & _TX_LEVEL) or not (credits or debits):
        return None
    which = ("incoming and outgoing transactions" if credits and debits else
             "incoming transactions (money in)" if credits else
             "outgoing transactions (money out)")
    if P.READ_TRANSACTIONS_DETAIL in granted:
        return f"Your {which}, with descriptions, merchants, the other side's account " \
               f"details and running balances"
    return f"Your {which}: dates, amounts and references"


def describe(permissions: Iterable[str]) -> list[str]:
    """What the TPP will be able to see, one plain sentence per kind of data, in a fixed
    order. A Detail code's sentence replaces its Basic one; the four transaction codes make
    one sentence. Codes that are not permission codes are left out."""
    granted = frozenset(permissions)
    lines = []
    for basic, detail, basic_words, detail_words in _PLAIN:
        if detail and detail in granted:
            lines.append(detail_words)
        elif basic in granted:
            lines.append(basic_words)
        if basic == P.READ_BALANCES:      # transactions read best right after balances
            transactions = _transactions_in_words(granted)
            if transactions:
                lines.append(transactions)
    return lines
