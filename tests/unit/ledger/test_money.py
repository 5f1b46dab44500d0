"""Money: one constructor that refuses anything that is not an exact amount in a real currency."""
from decimal import Decimal

import pytest

from aspsp.ledger.errors import CurrencyMismatch, InvalidAmount, UnknownCurrency
from aspsp.ledger.money import Money, minor_units


@pytest.mark.parametrize("amount", [12.5, 0.1, 1e3, float("nan"), float("inf")])
def test_floats_are_refused(amount):
    with pytest.raises(InvalidAmount):
        Money.of(amount, "GBP")


@pytest.mark.parametrize("amount", [True, False])
def test_booleans_are_refused(amount):
    with pytest.raises(InvalidAmount):
        Money.of(amount, "GBP")


@pytest.mark.parametrize("amount", ["NaN", "-NaN", "sNaN", "Infinity", "-Infinity", "inf",
                                    Decimal("NaN"), Decimal("sNaN"), Decimal("Infinity"),
                                    Decimal("-Infinity")])
def test_non_finite_numbers_are_refused(amount):
    with pytest.raises(InvalidAmount):
        Money.of(amount, "GBP")


@pytest.mark.parametrize("amount", ["", "abc", "12,50", "£12.50", "12.50 GBP", "1.2.3", "0x10",
                                    "--1"])
def test_strings_that_are_not_numbers_are_refused(amount):
    with pytest.raises(InvalidAmount):
        Money.of(amount, "GBP")


@pytest.mark.parametrize("amount", [None, [1], {"Amount": "1.00"}, b"1.00", object()])
def test_other_types_are_refused(amount):
    with pytest.raises(InvalidAmount):
        Money.of(amount, "GBP")


@pytest.mark.parametrize("amount", ["1e30", "12345678901234567890123456789",
                                    Decimal("9" * 30)])
def test_amounts_too_large_to_hold_exactly_are_refused_with_a_typed_error(amount):
    with pytest.raises(InvalidAmount):
        Money.of(amount, "GBP")


@pytest.mark.parametrize("amount, currency", [
    ("0.001", "GBP"), ("12.345", "GBP"), ("1.5", "JPY"), ("0.1", "JPY"), ("1.0005", "BHD"),
    (Decimal("0.005"), "EUR"), ("1E-3", "USD"),
])
def test_more_decimals_than_the_currency_has_are_refused(amount, currency):
    with pytest.raises(InvalidAmount):
        Money.of(amount, currency)


def test_minor_units_come_from_the_currency():
    assert (minor_units("GBP"), minor_units("EUR"), minor_units("JPY"), minor_units("BHD")) \
        == (2, 2, 0, 3)


@pytest.mark.parametrize("currency", ["XYZ", "ZZZ", "gbp", "Gbp", "GB", "GBPX", "", 826, None,
                                      "GBP "])
def test_unknown_currency_codes_are_refused(currency):
    with pytest.raises(UnknownCurrency):
        Money.of("1.00", currency)


@pytest.mark.parametrize("amount, currency, expected", [
    ("12.5", "GBP", "12.50"), (12, "GBP", "12.00"), (Decimal("0.01"), "GBP", "0.01"),
    ("-30.25", "GBP", "30.25"), ("1.000", "GBP", "1.00"), (Decimal("1E+2"), "EUR", "100.00"),
    (1500, "JPY", "1500"), ("0", "JPY", "0"), ("1.5", "BHD", "1.500"),
    ("0.001", "BHD", "0.001"), ("-2.345", "BHD", "2.345"),
])
def test_to_ob_is_the_unsigned_amount_with_exactly_the_minor_unit_places(amount, currency,
                                                                          expected):
    assert Money.of(amount, currency).to_ob() == {"Amount": expected, "Currency": currency}


def test_the_amount_is_kept_at_the_currency_scale():
    assert Money.of("1.5", "GBP").amount.as_tuple().exponent == -2
    assert Money.of(7, "JPY").amount.as_tuple().exponent == 0
    assert Money.of("1.5", "BHD").amount.as_tuple().exponent == -3
    assert str(Money.of("-0.00", "GBP")) == "0.00 GBP"
    assert str(Money.of("-12.5", "GBP")) == "-12.50 GBP"


def test_equal_amounts_written_differently_are_equal():
    assert Money.of("10", "GBP") == Money.of("10.00", "GBP") == Money.of(Decimal("1E+1"), "GBP")
    assert Money.of("10", "GBP") != Money.of("10", "EUR")


def test_arithmetic_within_one_currency():
    a, b = Money.of("10.50", "GBP"), Money.of("0.75", "GBP")
    assert a + b == Money.of("11.25", "GBP")
    assert a - b == Money.of("9.75", "GBP")
    assert -a == Money.of("-10.50", "GBP")
    assert b < a and b <= a and a > b and a >= b and a <= a
    assert Money.zero("GBP").is_zero and not Money.zero("GBP").is_positive
    assert a.is_positive and not (-a).is_positive


@pytest.mark.parametrize("operation", [
    lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a < b, lambda a, b: a <= b,
    lambda a, b: a > b, lambda a, b: a >= b,
])
def test_currencies_never_mix(operation):
    with pytest.raises(CurrencyMismatch):
        operation(Money.of("1.00", "GBP"), Money.of("1.00", "EUR"))


@pytest.mark.parametrize("other", [1, Decimal("1.00"), "1.00"])
def test_money_does_not_combine_with_bare_numbers(other):
    with pytest.raises(TypeError):
        Money.of("1.00", "GBP") + other


def test_money_is_immutable():
    money = Money.of("1.00", "GBP")
    with pytest.raises(AttributeError):
        money.amount = Decimal("2.00")


def test_the_dataclass_constructor_refuses_a_non_decimal_amount():
    with pytest.raises(InvalidAmount):
        Money(1.5, "GBP")


@pytest.mark.parametrize("raw", ["1_000", " 5 ", "1e3", "+5", "5.", ".5", "0x10"])
def test_only_plain_decimal_strings_are_amounts(raw):
    with pytest.raises(InvalidAmount):
        Money.of(raw, "GBP")


@pytest.mark.parametrize("code", ["XAU", "XTS", "XXX", "XDR"])
def test_codes_that_are_not_money_are_refused(code):
    with pytest.raises(UnknownCurrency):
        Money.of("1", code)


def test_amounts_beyond_the_ledgers_64_bit_minor_units_are_refused():
    Money.of("92233720368547758.07", "GBP")
    with pytest.raises(InvalidAmount):
        Money.of("92233720368547758.08", "GBP")
