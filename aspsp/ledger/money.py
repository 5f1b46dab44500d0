"""Money: an immutable Decimal amount in an ISO 4217 currency, built through one constructor."""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision, is_currency

from .errors import InvalidAmount, UnknownCurrency, CurrencyMismatch


def minor_units(currency: str) -> int:
    """Number of decimal places of the currency's minor unit (GBP 2, JPY 0, BHD 3)."""
    return get_currency_precision(validate_currency(currency))


# ISO 4217 codes that are not money a bank account can hold: precious metals, IMF units,
# bond-market units, the testing code and "no currency".
NOT_MONEY = frozenset({"XAU", "XAG", "XPT", "XPD", "XDR", "XBA", "XBB", "XBC", "XBD", "XSU",
                       "XUA", "XTS", "XXX"})
# Plain decimal notation only: no exponents, underscores, spaces or signs other than '-'.
_DECIMAL_STRING = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
# The ledger stores amounts as 64-bit integers of minor units.
MAX_MINOR_UNITS = 2**63 - 1


def validate_currency(currency: str) -> str:
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isupper() \
            or currency in NOT_MONEY or not is_currency(currency):
        raise UnknownCurrency(f"{currency!r} is not an ISO 4217 currency code")
    return currency


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self):
        if not isinstance(self.amount, Decimal):
            raise InvalidAmount("Money needs a Decimal amount; use Money.of()")

    @classmethod
    def of(cls, amount: Decimal | int | str, currency: str) -> "Money":
        """The one constructor: refuses floats, non-finite numbers and sub-minor-unit precision."""
        if isinstance(amount, bool) or isinstance(amount, float):
            raise InvalidAmount("amounts are never floats; pass a Decimal, int or string")
        if not isinstance(amount, (Decimal, int, str)):
            raise InvalidAmount(f"unsupported amount type {type(amount).__name__}")
        if isinstance(amount, str) and not _DECIMAL_STRING.match(amount):
            raise InvalidAmount(f"{amount!r} is not a plain decimal number")
        try:
            value = Decimal(amount) if not isinstance(amount, Decimal) else amount
        except InvalidOperation:
            raise InvalidAmount(f"{amount!r} is not a number") from None
        if not value.is_finite():
            raise InvalidAmount("amounts must be finite")
        places = minor_units(currency)
        quantum = Decimal(1).scaleb(-places)
        try:
            exact = value.quantize(quantum)
        except InvalidOperation:  # more digits than a Decimal context holds exactly
            raise InvalidAmount(f"{amount!r} is too large to be an exact amount") from None
        if value != exact:
            raise InvalidAmount(f"{currency} has {places} decimal places; {value} has more")
        if abs(exact.scaleb(places)) > MAX_MINOR_UNITS:
            raise InvalidAmount(f"{amount!r} is larger than the ledger can hold")
        return cls(exact + Decimal(0), currency)

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls.of(0, currency)

    def _same(self, other: "Money") -> None:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(f"{self.currency} and {other.currency} do not mix")

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount + other.amount, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.amount - other.amount, self.currency)

    def __neg__(self) -> "Money":
        return Money(-self.amount, self.currency)

    def __lt__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount < other.amount

    def __le__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount <= other.amount

    def __gt__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount > other.amount

    def __ge__(self, other: "Money") -> bool:
        self._same(other)
        return self.amount >= other.amount

    @property
    def is_positive(self) -> bool:
        return self.amount > 0

    @property
    def is_zero(self) -> bool:
        return self.amount == 0

    def to_ob(self) -> dict[str, str]:
        """The Open Banking shape: {"Amount": "12.50", "Currency": "GBP"} (amount unsigned)."""
        return {"Amount": f"{abs(self.amount):.{minor_units(self.currency)}f}",
                "Currency": self.currency}

    def __str__(self) -> str:
        return f"{self.amount:.{minor_units(self.currency)}f} {self.currency}"
