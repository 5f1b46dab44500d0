"""International scheduled payments and standing orders, pure: the rules of their initiations
(every problem, with its path), the exchange terms a schedule keeps, and the conversion the
schedule engine applies when it pays (aspsp.ledger.fx.convert_at_execution)."""
from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from aspsp.ledger.money import Money
from aspsp.pis import fx, international
from aspsp.pis.domain import ProblemKind

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=timezone.utc)
PAYEE = {"SchemeName": "UK.OBIE.IBAN", "Identification": "DE89370400440532013000",
         "Name": "Creditor GmbH"}


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def standing(**changes) -> tuple[dict, dict]:
    initiation = {"Frequency": "EvryWorkgDay", "NumberOfPayments": "3",
                  "FirstPaymentDateTime": "2026-06-16T09:00:00+00:00", "CurrencyOfTransfer": "EUR",
                  "InstructedAmount": {"Amount": "10.00", "Currency": "EUR"},
                  "CreditorAccount": dict(PAYEE), **changes}
    initiation = {k: v for k, v in initiation.items() if v is not None}
    parsed = {k: at(v) for k, v in initiation.items() if k.endswith("DateTime")}
    return initiation, parsed


def kinds(problems) -> list[tuple[str, str]]:
    return [(p.kind, p.path.removeprefix("Data.Initiation.")) for p in problems]


def test_a_valid_standing_order_has_no_problem():
    assert international.standing_order_problems(*standing(), NOW) == []


@pytest.mark.parametrize("changes, expected", [
    ({"Frequency": "IntrvlMnthDay:13:01"}, [(ProblemKind.INVALID, "Frequency")]),
    ({"FirstPaymentDateTime": "2026-06-14T23:00:00+00:00"},
     [(ProblemKind.INVALID_DATE, "FirstPaymentDateTime")]),
    ({"InstructedAmount": {"Amount": "10", "Currency": "JPX"}},
     [(ProblemKind.INVALID, "InstructedAmount.Currency")]),
    ({"CurrencyOfTransfer": "NOK", "CreditorAccount": {**PAYEE, "Identification": "DE00"}},
     [(ProblemKind.UNSUPPORTED_CURRENCY, "CurrencyOfTransfer"),
      (ProblemKind.INVALID, "CreditorAccount.Identification")]),
])
def test_standing_order_problems_are_all_found(changes, expected):
    assert kinds(international.standing_order_problems(*standing(**changes), NOW)) == expected


def test_a_scheduled_payment_today_is_fine_yesterday_is_not():
    initiation = {"CurrencyOfTransfer": "EUR", "CreditorAccount": dict(PAYEE),
                  "InstructedAmount": {"Amount": "10.00", "Currency": "EUR"}}
    today = international.scheduled_initiation_problems(
        initiation, {"RequestedExecutionDateTime": at("2026-06-15T00:00:00+00:00")}, NOW)
    yesterday = international.scheduled_initiation_problems(
        initiation, {"RequestedExecutionDateTime": at("2026-06-14T10:00:00+00:00")}, NOW)
    assert today == [] and kinds(yesterday) == [(ProblemKind.INVALID_DATE,
                                                  "RequestedExecutionDateTime")]


def test_terms_keep_the_pair_and_an_agreed_contract():
    agreed = {"Initiation": {"CurrencyOfTransfer": "EUR",
                             "InstructedAmount": {"Amount": "10", "Currency": "EUR"},
                             "ExchangeRateInformation": {
                                 "UnitCurrency": "GBP", "RateType": "Agreed",
                                 "ExchangeRate": 1.16,
                                 "ContractIdentification": "FXC-SANDBOX-GBPEUR-1"}}}
    assert international.schedule_terms(agreed) == {
        "UnitCurrency": "GBP", "Currency": "EUR", "RateType": "Agreed", "ExchangeRate": "1.16",
        "ContractIdentification": "FXC-SANDBOX-GBPEUR-1"}
    none_asked = {"Initiation": {"CurrencyOfTransfer": "USD",
                                 "InstructedAmount": {"Amount": "10", "Currency": "USD"}}}
    assert international.schedule_terms(none_asked) == {
        "UnitCurrency": "GBP", "Currency": "USD", "RateType": "Indicative"}


def test_the_rate_of_the_moment_applies_unless_a_contract_was_agreed(monkeypatch):
    indicative = fx.terms("GBP", "EUR", fx.INDICATIVE)
    debited, applied = fx.convert_at_execution(Money.of("116.50", "EUR"), "GBP", indicative,
                                               NOW)
    assert debited == Money.of("100.00", "GBP") and applied["ExchangeRate"] == 1.165
    monkeypatch.setitem(fx.RATES, "EUR", Decimal("1.25"))
    debited, applied = fx.convert_at_execution(Money.of("116.50", "EUR"), "GBP", indicative,
                                               NOW)
    assert debited == Money.of("93.20", "GBP") and applied["RateType"] == "Indicative"
    agreed = fx.terms("GBP", "EUR", fx.AGREED, Decimal("1.16"), "FXC-SANDBOX-GBPEUR-1")
    debited, applied = fx.convert_at_execution(Money.of("232.00", "EUR"), "GBP", agreed, NOW)
    assert debited == Money.of("200.00", "GBP")
    assert applied == {"UnitCurrency": "GBP", "ExchangeRate": 1.16, "RateType": "Agreed",
                       "ContractIdentification": "FXC-SANDBOX-GBPEUR-1"}


def test_an_amount_in_the_accounts_currency_is_paid_as_it_is():
    same = fx.terms("GBP", "GBP", fx.INDICATIVE)
    assert fx.convert_at_execution(Money.of("5.00", "GBP"), "GBP", same, NOW) == (
        Money.of("5.00", "GBP"), None)
    abroad = fx.terms("GBP", "USD", fx.INDICATIVE)
    debited, applied = fx.convert_at_execution(Money.of("25.00", "GBP"), "GBP", abroad, NOW)
    assert debited == Money.of("25.00", "GBP") and applied["ExchangeRate"] == 1.27
