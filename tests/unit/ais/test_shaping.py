"""Payload shaping by permission, on plain values (no database)."""
from datetime import date, datetime, timezone
from types import SimpleNamespace

import pytest
from hypothesis import given, strategies as st

from aspsp.ais import shaping
from aspsp.ledger.services import from_minor
from aspsp.ais.shaping import View, mask_pan

NOW = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)


def posting(**kw):
    values = dict(transaction_id="t1", transaction_reference="REF", statement_reference=None,
                  amount_minor=-1234, currency="GBP", status="Booked", booking_datetime=NOW,
                  value_datetime=NOW, iso_code="CustomerCardTransactions",
                  iso_subcode="PointOfSalePaymentDebitCard", proprietary_code="POS",
                  proprietary_issuer="InvisibleBank", card_instrument=None,
                  transaction_information="WATERSTONES LEEDS", balance_after_minor=-500,
                  merchant_name="Waterstones", merchant_category_code="5942",
                  counterparty={"CreditorAccount": {"SchemeName": "UK.OBIE.PAN",
                                                    "Identification": "4658581234567890"}})
    values.update(kw)
    return SimpleNamespace(**values)


@pytest.mark.parametrize("number, masked", [("4658581234567890", "************7890"),
                                            ("465858******1234", "************1234"),
                                            ("4658 5812 3456 7890", "************7890"),
                                            ("123", "123"), (None, None), ("", None)])
def test_mask_pan_keeps_the_last_four(number, masked):
    assert mask_pan(number) == masked


def test_a_debit_is_unsigned_with_its_indicator():
    shaped = shaping.transaction(posting(), "a1", View(debits=True))
    assert shaped["Amount"] == {"Amount": "12.34", "Currency": "GBP"}
    assert shaped["CreditDebitIndicator"] == "Debit"


def test_basic_leaves_out_every_detail_field():
    shaped = shaping.transaction(posting(), "a1", View(debits=True))
    assert not {"TransactionInformation", "Balance", "MerchantDetails", "CreditorAccount",
                "DebtorAccount", "CreditorAgent", "DebtorAgent"} & set(shaped)


def test_detail_shows_them_and_masks_a_pan_counterparty_without_read_pan():
    shaped = shaping.transaction(posting(), "a1", View(debits=True, transactions_detail=True))
    assert shaped["Balance"] == {"CreditDebitIndicator": "Debit", "Type": "InterimBooked",
                                 "Amount": {"Amount": "5.00", "Currency": "GBP"}}
    assert shaped["MerchantDetails"] == {"MerchantName": "Waterstones",
                                         "MerchantCategoryCode": "5942"}
    assert shaped["CreditorAccount"]["Identification"] == "************7890"
    with_pan = shaping.transaction(posting(), "a1",
                                   View(debits=True, transactions_detail=True, pan=True))
    assert with_pan["CreditorAccount"]["Identification"] == "4658581234567890"


def test_no_field_is_ever_null_or_empty():
    shaped = shaping.transaction(posting(transaction_reference="  ", value_datetime=None,
                                         proprietary_code=None, counterparty=None,
                                         merchant_name=None, merchant_category_code="1"),
                                 "a1", View(debits=True, transactions_detail=True))
    assert all(v not in (None, "", [], {}) for v in shaped.values())
    assert "MerchantDetails" not in shaped and "TransactionReference" not in shaped


@pytest.mark.parametrize("name, shown", [("  ", None), ("", None), (" ACME Ltd ", "ACME Ltd")])
def test_a_creditor_known_only_by_name_is_shown_only_with_a_name(name, shown):
    """The OB schema's Name is a non-empty string: a blank one leaves CreditorAccount out."""
    shaped = shaping.transaction(posting(counterparty={"CreditorName": name}), "a1",
                                 View(debits=True, transactions_detail=True))
    assert shaped.get("CreditorAccount") == (shown and {"Name": shown})


def test_long_text_is_cut_to_the_obie_length():
    shaped = shaping.transaction(posting(transaction_information="x" * 900), "a1",
                                 View(debits=True, transactions_detail=True))
    assert len(shaped["TransactionInformation"]) == 500


def account(**kw):
    values = dict(account_id="a1", status="Enabled", status_updated_at=NOW, currency="GBP",
                  account_type="Personal", account_sub_type="CreditCard", description=None,
                  nickname="Card", opening_date=date(2026, 3, 1), maturity_date=None,
                  name="Alice Morgan", sort_code=None, account_number=None, iban=None,
                  pan="4658581234567890", servicer_bic="INVBGB2LXXX")
    values.update(kw)
    return SimpleNamespace(**values)


def test_account_identification_needs_detail_and_the_pan_read_pan():
    assert "Account" not in shaping.account(account(), View())
    detail = shaping.account(account(), View(accounts_detail=True))
    assert detail["Account"] == [{"SchemeName": "UK.OBIE.PAN",
                                  "Identification": "************7890", "Name": "Alice Morgan"}]
    assert detail["OpeningDate"] == datetime(2026, 3, 1, tzinfo=timezone.utc)
    clear = shaping.account(account(), View(accounts_detail=True, pan=True))
    assert clear["Account"][0]["Identification"] == "4658581234567890"


def test_a_party_address_without_a_country_is_left_out_and_bad_phones_too():
    party = SimpleNamespace(party_id="p1", party_number="1", party_type="Sole", name="A",
                            full_legal_name="A", legal_structure="UK.OBIE.Individual",
                            email=None, phone="01134960000", mobile="+44-7700900123",
                            addresses=[{"TownName": "Leeds"},
                                       {"TownName": "Leeds", "Country": "GB",
                                        "AddressLine": [str(n) for n in range(9)]}])
    shaped = shaping.party(party)
    assert "Phone" not in shaped and shaped["Mobile"] == "+44-7700900123"
    assert shaped["Address"] == [{"TownName": "Leeds", "Country": "GB",
                                  "AddressLine": ["0", "1", "2", "3", "4"]}]


@given(st.integers(min_value=-(10**15), max_value=10**15),
       st.sampled_from(["GBP", "EUR", "JPY", "BHD", "USD"]))
def test_amount_is_exactly_what_money_gives(minor, currency):
    """The fast formatting of minor units says what from_minor(...).to_ob() says."""
    assert shaping.amount(minor, currency) == from_minor(minor, currency).to_ob()
