"""The confirmation of funds rules, pure: the answer to the penny with and without an
arranged overdraft, the amounts and accounts a CBPII may ask about."""
from __future__ import annotations

from aspsp.cof import domain
from aspsp.cof.domain import ProblemKind
from aspsp.ledger.money import Money


def gbp(amount: str) -> Money:
    return Money.of(amount, "GBP")


def test_available_balance_and_overdraft_cover_the_amount_to_the_penny():
    assert domain.funds_available(gbp("100.00"), gbp("0"), gbp("100.00"))
    assert not domain.funds_available(gbp("100.00"), gbp("0"), gbp("100.01"))
    assert domain.funds_available(gbp("100.00"), gbp("500.00"), gbp("600.00"))
    assert not domain.funds_available(gbp("100.00"), gbp("500.00"), gbp("600.01"))
    assert domain.funds_available(gbp("-1200.00"), gbp("1500.00"), gbp("300.00"))
    assert not domain.funds_available(gbp("-1200.00"), gbp("1500.00"), gbp("300.01"))
    assert not domain.funds_available(gbp("-10.00"), gbp("0"), gbp("0.01"))
    assert not domain.funds_available(gbp("100.00"), gbp("0"), Money.of("1.00", "EUR"))


def kinds(problems) -> list[tuple[str, str]]:
    return [(p.kind, p.path.rsplit(".", 1)[-1]) for p in problems]


def test_amounts_are_positive_in_the_accounts_currency_with_its_decimals():
    assert domain.amount_problems({"Amount": "10.50", "Currency": "GBP"}, "GBP") == []
    assert domain.amount_problems({"Amount": "10", "Currency": "JPY"}, "JPY") == []
    assert kinds(domain.amount_problems({"Amount": "10.50", "Currency": "EUR"}, "GBP")) == \
        [(ProblemKind.UNSUPPORTED_CURRENCY, "Currency")]
    assert kinds(domain.amount_problems({"Amount": "10.5", "Currency": "JPY"}, "JPY")) == \
        [(ProblemKind.INVALID, "Amount")]
    for amount in ("0", "0.00", "1.001", "-1", "abc"):
        assert kinds(domain.amount_problems({"Amount": amount, "Currency": "GBP"}, "GBP")) == \
            [(ProblemKind.INVALID, "Amount")], amount
    assert kinds(domain.amount_problems({"Amount": "1", "Currency": "XXX"}, "GBP")) == \
        [(ProblemKind.INVALID, "Currency")]


def test_the_debtor_account_is_a_sort_code_and_number_or_an_iban_the_bank_can_find():
    scan = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "40123412345678"}
    assert domain.debtor_problems(scan) == []
    assert domain.account_key(scan) == domain.AccountKey(domain.SORT_CODE_ACCOUNT_NUMBER,
                                                         "40123412345678")
    iban = {"SchemeName": "UK.OBIE.IBAN", "Identification": "gb29 nwbk 6016 1331 9268 19"}
    assert domain.debtor_problems(iban) == []
    assert domain.account_key(iban).identification == "GB29NWBK60161331926819"
    assert kinds(domain.debtor_problems({**scan, "Identification": "4012341234567"})) == \
        [(ProblemKind.INVALID, "Identification")]
    assert kinds(domain.debtor_problems({"SchemeName": "UK.OBIE.PAN",
                                         "Identification": "5555444433332222"})) == \
        [(ProblemKind.UNSUPPORTED_SCHEME, "SchemeName")]
