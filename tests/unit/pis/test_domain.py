"""The pure rules of a payment order: amounts, accounts, the submission against its consent."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from aspsp.ledger.money import Money
from aspsp.pis import domain
from aspsp.pis.domain import ProblemKind

PAYEE = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "20000012345678",
         "Name": "ACME"}


def kinds(problems) -> list[tuple[str, str]]:
    return [(p.kind, p.path) for p in problems]


@pytest.mark.parametrize("amount,currency,expected", [
    ("10.50", "GBP", []),
    ("10", "GBP", []),
    ("10.5", "GBP", []),
    ("10.505", "GBP", [(ProblemKind.INVALID, "A.Amount")]),
    ("0", "GBP", [(ProblemKind.INVALID, "A.Amount")]),
    ("0.00000", "GBP", [(ProblemKind.INVALID, "A.Amount")]),
    ("100", "JPY", [(ProblemKind.UNSUPPORTED_CURRENCY, "A.Currency")]),
    ("1.5", "JPY", [(ProblemKind.INVALID, "A.Amount")]),
    ("1.00", "XAU", [(ProblemKind.INVALID, "A.Currency")]),
    ("1.00", "QQQ", [(ProblemKind.INVALID, "A.Currency")]),
])
def test_amounts(amount, currency, expected):
    assert kinds(domain.amount_problems({"Amount": amount, "Currency": currency}, "A",
                                        ("GBP",))) == expected


@pytest.mark.parametrize("scheme,identification,expected", [
    ("UK.OBIE.SortCodeAccountNumber", "20000012345678", []),
    ("UK.OBIE.SortCodeAccountNumber", "200000123456789", [ProblemKind.INVALID]),
    ("UK.OBIE.SortCodeAccountNumber", "2000001234567a", [ProblemKind.INVALID]),
    ("UK.OBIE.SortCodeAccountNumber", "20000000000000", [ProblemKind.INVALID]),
    ("UK.OBIE.IBAN", "GB82WEST12345698765432", []),
    ("UK.OBIE.IBAN", "GB82 WEST 1234 5698 7654 32", []),
    ("UK.OBIE.IBAN", "DE89370400440532013000", []),
    ("UK.OBIE.IBAN", "GB82WEST12345698765431", [ProblemKind.INVALID]),
    ("UK.OBIE.IBAN", "GB82WEST123456987654", [ProblemKind.INVALID]),
    ("UK.OBIE.BBAN", "12345678", [ProblemKind.UNSUPPORTED_SCHEME]),
    ("UK.OBIE.Paym", "07700900123", [ProblemKind.UNSUPPORTED_SCHEME]),
])
def test_accounts(scheme, identification, expected):
    problems = domain.account_problems({"SchemeName": scheme, "Identification": identification},
                                       "X")
    assert [p.kind for p in problems] == expected


def test_an_iban_is_normalised_for_the_ledger():
    assert domain.normalised_identification("UK.OBIE.IBAN", "gb82 west 1234 5698 7654 32") == \
        "GB82WEST12345698765432"


def test_every_problem_of_an_initiation_is_reported():
    initiation = {"InstructedAmount": {"Amount": "1.001", "Currency": "GBP"},
                  "CreditorAccount": {**PAYEE, "SchemeName": "UK.OBIE.Wallet"},
                  "LocalInstrument": "UK.OBIE.BACS"}
    assert [p.kind for p in domain.domestic_initiation_problems(initiation)] == [
        ProblemKind.INVALID, ProblemKind.UNSUPPORTED_SCHEME,
        ProblemKind.UNSUPPORTED_LOCAL_INSTRUMENT]


def test_a_submission_must_be_the_consents_exactly():
    consent = {"Initiation": {"InstructedAmount": {"Amount": "1.00", "Currency": "GBP"}},
               "Risk": {}}
    same = {"Data": {"ConsentId": "c", "Initiation": {
        "InstructedAmount": {"Amount": "1.00", "Currency": "GBP"}}}, "Risk": {}}
    assert domain.submission_problems(consent, same) == []
    # "1.0" is the same amount but not the same Initiation
    other = {"Data": {"ConsentId": "c", "Initiation": {
        "InstructedAmount": {"Amount": "1.0", "Currency": "GBP"}}}, "Risk": {"X": 1}}
    assert kinds(domain.submission_problems(consent, other)) == [
        (ProblemKind.MISMATCH, "Data.Initiation"), (ProblemKind.MISMATCH, "Risk")]


def test_a_completion_date_must_be_to_come():
    now = datetime(2026, 6, 15, 12, tzinfo=timezone.utc)
    assert domain.authorisation_problems({"Authorisation": {"CompletionDateTime": now}}, now)
    assert not domain.authorisation_problems({}, now)


def test_funds_available():
    gbp = lambda a: Money.of(a, "GBP")  # noqa: E731
    assert domain.funds_available(gbp("10.00"), gbp("10.00"))
    assert not domain.funds_available(gbp("9.99"), gbp("10.00"))
    assert not domain.funds_available(Money.of("100", "EUR"), gbp("1.00"))
