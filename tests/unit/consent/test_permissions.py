import json

import pytest

from consent import permissions
from consent.permissions import CODES, describe, grants, required_for, validate
from tests.conftest import OBIE_SPECS

SPEC = OBIE_SPECS / "v3.1.11" / "account-info-openapi.json"


def kinds(codes):
    return [(p.kind, p.path) for p in validate(codes)]


def test_the_21_codes_are_the_ones_of_the_v3_1_11_document():
    spec = json.loads(SPEC.read_text())
    enum = spec["components"]["schemas"]["OBReadConsent1"]["properties"]["Data"][
        "properties"]["Permissions"]["items"]["enum"]
    assert len(CODES) == 21 and set(CODES) == set(enum)


@pytest.mark.parametrize("codes", [
    ["ReadAccountsBasic"],
    ["ReadAccountsDetail", "ReadBalances"],
    ["ReadAccountsBasic", "ReadAccountsDetail"],                # duplication is not an error
    ["ReadAccountsBasic", "ReadTransactionsBasic", "ReadTransactionsCredits"],
    ["ReadAccountsBasic", "ReadTransactionsDetail", "ReadTransactionsDebits"],
    list(CODES),
])
def test_acceptable_permission_lists(codes):
    assert validate(codes) == []


def test_an_empty_list_is_refused():
    assert kinds([]) == [("invalid", "Data.Permissions")]
    assert kinds(None) == [("invalid", "Data.Permissions")]


def test_an_unknown_code_is_refused_with_its_position():
    assert kinds(["ReadAccountsBasic", "ReadEverything"]) == \
        [("invalid", "Data.Permissions[1]")]


def test_accounts_basic_or_detail_is_required():
    assert kinds(["ReadBalances"]) == [("expected", "Data.Permissions")]


@pytest.mark.parametrize("level", ["ReadTransactionsBasic", "ReadTransactionsDetail"])
def test_transactions_need_credits_or_debits(level):
    assert kinds(["ReadAccountsBasic", level]) == [("expected", "Data.Permissions")]


@pytest.mark.parametrize("direction", ["ReadTransactionsCredits", "ReadTransactionsDebits"])
def test_credits_or_debits_need_transactions_basic_or_detail(direction):
    assert kinds(["ReadAccountsBasic", direction]) == [("expected", "Data.Permissions")]


def test_every_problem_is_reported_not_only_the_first():
    problems = validate(["ReadNothing", "ReadTransactionsCredits"])
    assert [p.path for p in problems] == ["Data.Permissions[0]", "Data.Permissions",
                                          "Data.Permissions"]


def test_a_detail_code_grants_its_basic_code_but_not_the_reverse():
    assert grants(["ReadAccountsDetail"], "ReadAccountsBasic")
    assert not grants(["ReadAccountsBasic"], "ReadAccountsDetail")
    assert grants(["ReadStatementsBasic"], ("ReadStatementsBasic", "ReadStatementsDetail"))
    assert not grants(["ReadAccountsBasic"], "ReadBalances")


def test_normalise_drops_duplicates_and_keeps_the_order():
    assert permissions.normalise(["ReadBalances", "ReadAccountsBasic", "ReadBalances"]) == \
        ["ReadBalances", "ReadAccountsBasic"]


def test_every_ais_resource_of_the_document_needs_a_permission():
    paths = json.loads(SPEC.read_text())["paths"]
    resources = [p for p in paths if not p.startswith("/account-access-consents")]
    assert sorted(resources) == sorted(permissions.ENDPOINTS)
    assert required_for("/accounts/{AccountId}/statements/{StatementId}/file") == \
        ("ReadStatementsDetail",)
    assert required_for("/party") == ("ReadPartyPSU",)


def test_describe_says_what_the_tpp_will_see_in_plain_words():
    lines = describe(["ReadAccountsDetail", "ReadAccountsBasic", "ReadBalances",
                      "ReadTransactionsDetail", "ReadTransactionsCredits"])
    assert lines == [
        "Your account names, types and currencies, with sort codes and account numbers",
        "Your account balances",
        "Your incoming transactions (money in), with descriptions, merchants, the other "
        "side's account details and running balances",
    ]


def test_describe_covers_every_code_in_one_sentence_per_kind_of_data():
    lines = describe(CODES)
    assert len(lines) == len(set(lines)) == 13
    assert "Your incoming and outgoing transactions, with descriptions, merchants, the other " \
           "side's account details and running balances" in lines
    assert all(line and not line.startswith("Read") for line in lines)


def test_describe_leaves_out_what_is_not_a_permission():
    assert describe(["ReadAccountsBasic", "<script>"]) == \
        ["Your account names, types and currencies"]
