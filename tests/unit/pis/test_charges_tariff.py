"""The bank's tariff (aspsp.pis.charges), pure: the charge by scheme, the default
ChargeBearer, the correspondent charges of BorneByDebtor, and how a consent's charges split
between what the debtor pays on top and what comes out of the amount sent."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from aspsp.ledger.errors import LedgerError
from aspsp.ledger.money import Money
from aspsp.pis import charges

NOW = datetime(2026, 12, 7, 12, tzinfo=timezone.utc)


def amounts(found: list[dict]) -> list[tuple[str, str, str]]:
    return [(c["ChargeBearer"], c["Type"].removeprefix("UK.InvisibleBank."),
             c["Amount"]["Amount"]) for c in found]


@pytest.mark.parametrize("instrument, expected", [
    ("UK.OBIE.SEPACreditTransfer", [("FollowingServiceLevel", "SEPAOut", "1.00")]),
    ("UK.OBIE.SEPAInstantCreditTransfer", [("FollowingServiceLevel", "SEPAInstantOut",
                                            "2.00")]),
    ("UK.OBIE.Target2", [("Shared", "Target2Out", "10.00")]),
    ("UK.OBIE.Euro1", [("Shared", "Euro1Out", "10.00")]),
    ("UK.OBIE.SWIFT", [("Shared", "SWIFTOut", "15.00")]),
    (None, [("Shared", "SWIFTOut", "15.00")]),
])
def test_the_charge_is_the_schemes_and_the_bearer_defaults_to_its_rule(instrument, expected):
    initiation = {"LocalInstrument": instrument} if instrument else {}
    assert amounts(charges.international_charges(initiation)) == expected


def test_borne_by_the_debtor_adds_the_correspondent_charges():
    found = charges.international_charges({"LocalInstrument": "UK.OBIE.SWIFT",
                                           "ChargeBearer": "BorneByDebtor"})
    assert amounts(found) == [("BorneByDebtor", "SWIFTOut", "15.00"),
                              ("BorneByDebtor", "CorrespondentCharges", "10.00")]
    split = charges.split(found, "GBP", NOW)
    assert (split.debtor, split.creditor) == (Money.of("25.00", "GBP"), Money.zero("GBP"))
    assert charges.with_charges(Money.of("100.00", "GBP"), split) == Money.of("125.00", "GBP")
    assert charges.amount_sent(Money.of("100.00", "GBP"), split) == Money.of("100.00", "GBP")


def test_borne_by_the_creditor_comes_out_of_the_amount_sent():
    found = charges.international_charges({"ChargeBearer": "BorneByCreditor"})
    split = charges.split(found, "GBP", NOW)
    assert charges.with_charges(Money.of("100.00", "GBP"), split) == Money.of("100.00", "GBP")
    assert charges.amount_sent(Money.of("100.00", "GBP"), split) == Money.of("85.00", "GBP")
    with pytest.raises(LedgerError):
        charges.amount_sent(Money.of("15.00", "GBP"), split)


def test_an_account_in_another_currency_pays_the_charge_converted():
    split = charges.split(charges.international_charges({}), "EUR", NOW)
    assert split.debtor.currency == "EUR" and split.debtor.amount > 15
    assert charges.split([], "GBP", NOW) is None


def test_a_charge_in_another_currency_is_the_tariff_at_the_tables_rate_to_the_minor_unit():
    # 1 GBP buys 105.80 INR: 15.00 GBP is 1587.00 INR, 10.00 GBP 1058.00 (not the 1586.97
    # and 1057.98 of dividing by the inverse rate rounded to six places, 0.009452)
    found = charges.international_charges({"ChargeBearer": "BorneByDebtor"})
    assert charges.split(found, "INR", NOW).debtor == Money.of("2645.00", "INR")
    assert charges.split(charges.international_charges({}), "JPY", NOW).debtor == \
        Money.of("2858", "JPY")             # 15.00 x 190.50 = 2857.5, half up
