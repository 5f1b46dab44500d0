"""The permission matrix (Account and Transaction API Profile §Permissions, §Detail
Permissions, and the resources' Permission Codes): for each permission a consent can hold,
which endpoints answer and which refuse with 403, and which fields each payload carries."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from aspsp.ledger import models
from tests.integration.ais.conftest import CARD_PAN, codes, data_of

PERMISSION_MISSING = "UK.InvisibleBank.Consent.PermissionMissing"
TX_BASIC = {"ReadTransactionsBasic", "ReadTransactionsDetail"}
# Endpoint -> the permissions (any one) that open it, as the profile's table gives them.
OPENS = {
    "/accounts": {"ReadAccountsBasic", "ReadAccountsDetail"},
    "/accounts/{A}": {"ReadAccountsBasic", "ReadAccountsDetail"},
    "/balances": {"ReadBalances"},
    "/accounts/{A}/balances": {"ReadBalances"},
    "/beneficiaries": {"ReadBeneficiariesBasic", "ReadBeneficiariesDetail"},
    "/accounts/{A}/beneficiaries": {"ReadBeneficiariesBasic", "ReadBeneficiariesDetail"},
    "/direct-debits": {"ReadDirectDebits"},
    "/accounts/{A}/direct-debits": {"ReadDirectDebits"},
    "/offers": {"ReadOffers"},
    "/accounts/{A}/offers": {"ReadOffers"},
    "/products": {"ReadProducts"},
    "/accounts/{A}/product": {"ReadProducts"},
    "/party": {"ReadPartyPSU"},
    "/accounts/{A}/party": {"ReadParty"},
    "/accounts/{A}/parties": {"ReadParty"},
    "/scheduled-payments": {"ReadScheduledPaymentsBasic", "ReadScheduledPaymentsDetail"},
    "/accounts/{A}/scheduled-payments": {"ReadScheduledPaymentsBasic",
                                         "ReadScheduledPaymentsDetail"},
    "/standing-orders": {"ReadStandingOrdersBasic", "ReadStandingOrdersDetail"},
    "/accounts/{A}/standing-orders": {"ReadStandingOrdersBasic", "ReadStandingOrdersDetail"},
    "/statements": {"ReadStatementsBasic", "ReadStatementsDetail"},
    "/accounts/{A}/statements": {"ReadStatementsBasic", "ReadStatementsDetail"},
    "/accounts/{A}/statements/{S}": {"ReadStatementsBasic", "ReadStatementsDetail"},
    "/accounts/{A}/statements/{S}/file": {"ReadStatementsDetail"},
    "/accounts/{A}/statements/{S}/transactions": TX_BASIC,
    "/transactions": TX_BASIC,
    "/accounts/{A}/transactions": TX_BASIC,
}
# Consents that each add one data cluster to ReadAccountsBasic (transactions with a direction).
SETS = {
    "accounts-basic": [],
    "accounts-detail": ["ReadAccountsDetail"],
    "balances": ["ReadBalances"],
    "beneficiaries-basic": ["ReadBeneficiariesBasic"],
    "beneficiaries-detail": ["ReadBeneficiariesDetail"],
    "direct-debits": ["ReadDirectDebits"],
    "offers": ["ReadOffers"],
    "products": ["ReadProducts"],
    "party": ["ReadParty"],
    "party-psu": ["ReadPartyPSU"],
    "pan": ["ReadPAN"],
    "scheduled-basic": ["ReadScheduledPaymentsBasic"],
    "scheduled-detail": ["ReadScheduledPaymentsDetail"],
    "standing-basic": ["ReadStandingOrdersBasic"],
    "standing-detail": ["ReadStandingOrdersDetail"],
    "statements-basic": ["ReadStatementsBasic"],
    "statements-detail": ["ReadStatementsDetail"],
    "transactions-basic-credits": ["ReadTransactionsBasic", "ReadTransactionsCredits"],
    "transactions-detail-debits": ["ReadTransactionsDetail", "ReadTransactionsDebits"],
}
DETAIL_IMPLIES = {"ReadAccountsDetail": "ReadAccountsBasic",
                  "ReadBeneficiariesDetail": "ReadBeneficiariesBasic",
                  "ReadScheduledPaymentsDetail": "ReadScheduledPaymentsBasic",
                  "ReadStandingOrdersDetail": "ReadStandingOrdersBasic",
                  "ReadStatementsDetail": "ReadStatementsBasic",
                  "ReadTransactionsDetail": "ReadTransactionsBasic"}


@pytest.fixture
def statement_of(platform):
    def find(account_id: str) -> str:
        with platform.uow() as uow:
            return uow.session.scalars(
                select(models.Statement.statement_id).join(
                    models.Account, models.Account.id == models.Statement.account_pk)
                .where(models.Account.account_id == account_id)
                .order_by(models.Statement.start_datetime)).first()
    return find


@pytest.mark.parametrize("name", SETS)
def test_each_permission_opens_exactly_its_endpoints(name, aisp, demo, grant, statement_of):
    alice = demo("alice")
    granted = {"ReadAccountsBasic", *SETS[name]}
    effective = granted | {DETAIL_IMPLIES[c] for c in granted if c in DETAIL_IMPLIES}
    access = grant(aisp, alice, sorted(granted))
    current = alice.account_ids[0]
    statement = statement_of(current)
    for template, opened_by in OPENS.items():
        path = template.replace("{A}", current).replace("{S}", statement)
        response = access.get(path)
        if effective & opened_by:
            assert response.status_code == 200, (name, path, response.get_json())
        else:
            assert response.status_code == 403, (name, path, response.status_code)
            assert codes(response) == [PERMISSION_MISSING], (name, path)


# --- the fields each level shows ---------------------------------------------------------------
def _keys(rows: list[dict]) -> set[str]:
    return set().union(*(row.keys() for row in rows)) if rows else set()


@pytest.mark.parametrize("detail", [False, True], ids=["basic", "detail"])
def test_accounts_show_identification_only_with_detail(detail, aisp, demo, grant):
    alice = demo("alice")
    access = grant(aisp, alice, ["ReadAccountsDetail" if detail else "ReadAccountsBasic"])
    accounts = data_of(access.get("/accounts"))["Account"]
    assert {"AccountId", "Currency", "AccountType", "AccountSubType", "Status"} <= _keys(accounts)
    assert ({"Account", "Servicer"} <= _keys(accounts)) is detail
    assert ({"Account", "Servicer"} & _keys(accounts) == set()) is not detail


@pytest.mark.parametrize("detail", [False, True], ids=["basic", "detail"])
@pytest.mark.parametrize("resource, basic, detail_only", [
    ("beneficiaries", {"BeneficiaryId", "BeneficiaryType"}, {"CreditorAccount"}),
    ("standing-orders", {"StandingOrderId", "Frequency", "FirstPaymentAmount"},
     {"CreditorAccount"}),
    ("scheduled-payments", {"ScheduledPaymentId", "InstructedAmount", "ScheduledType"},
     {"CreditorAccount"}),
    ("statements", {"StatementId", "StartDateTime", "EndDateTime", "Type"},
     {"StatementAmount"}),
])
def test_detail_permissions_add_their_fields(resource, basic, detail_only, detail, aisp, demo,
                                             grant):
    code = {"beneficiaries": "ReadBeneficiaries", "standing-orders": "ReadStandingOrders",
            "scheduled-payments": "ReadScheduledPayments", "statements": "ReadStatements"}
    alice = demo("alice")
    access = grant(aisp, alice, ["ReadAccountsBasic",
                                 code[resource] + ("Detail" if detail else "Basic")])
    (rows,) = data_of(access.get(f"/{resource}")).values()
    assert rows and basic <= _keys(rows)
    assert (detail_only <= _keys(rows)) is detail
    if not detail:
        assert not detail_only & _keys(rows)


TRANSACTION_DETAIL = {"TransactionInformation", "Balance", "MerchantDetails",
                      "CreditorAccount", "DebtorAccount"}


@pytest.mark.parametrize("level", ["Basic", "Detail"])
def test_transaction_details_only_with_read_transactions_detail(level, aisp, demo, grant):
    alice = demo("alice")
    access = grant(aisp, alice, ["ReadAccountsBasic", f"ReadTransactions{level}",
                                 "ReadTransactionsCredits", "ReadTransactionsDebits"])
    rows = data_of(access.get("/transactions"))["Transaction"]
    assert rows and {"AccountId", "TransactionId", "Amount", "CreditDebitIndicator", "Status",
                     "BookingDateTime", "BankTransactionCode"} <= _keys(rows)
    if level == "Detail":
        assert TRANSACTION_DETAIL <= _keys(rows)
    else:
        assert not TRANSACTION_DETAIL & _keys(rows)


def walk(access, path: str) -> list[dict]:
    """Every transaction of a list, following Links.Next."""
    seen = []
    while path:
        body = access.get(path).get_json()
        seen += body["Data"]["Transaction"]
        path = body["Links"]["Next"].split("/aisp", 1)[1] if "Next" in body["Links"] else None
    return seen


def test_credits_and_debits_permissions_split_the_transactions(aisp, demo, grant):
    """ReadTransactionsCredits shows the credits only, ReadTransactionsDebits the debits
    only; together they are every transaction, each once."""
    alice = demo("alice")
    path = f"/accounts/{alice.account_ids[0]}/transactions"
    seen = {}
    for directions in (["Credits"], ["Debits"], ["Credits", "Debits"]):
        access = grant(aisp, alice, ["ReadAccountsBasic", "ReadTransactionsBasic",
                                     *(f"ReadTransactions{d}" for d in directions)])
        seen["+".join(directions)] = walk(access, path)
    assert {t["CreditDebitIndicator"] for t in seen["Credits"]} == {"Credit"}
    assert {t["CreditDebitIndicator"] for t in seen["Debits"]} == {"Debit"}
    assert len(seen["Debits"]) > 25 and seen["Credits"]
    both = [t["TransactionId"] for t in seen["Credits+Debits"]]
    assert sorted(both) == sorted(t["TransactionId"] for t in seen["Credits"] + seen["Debits"])
    assert len(set(both)) == len(both)


@pytest.mark.parametrize("pan", [False, True], ids=["masked", "ReadPAN"])
def test_card_numbers_are_masked_without_read_pan(pan, aisp, demo, grant):
    alice = demo("alice")
    permissions = ["ReadAccountsDetail", "ReadTransactionsBasic", "ReadTransactionsDebits"]
    access = grant(aisp, alice, permissions + (["ReadPAN"] if pan else []))
    expected = CARD_PAN if pan else "************" + CARD_PAN[-4:]
    card = next(a for a in data_of(access.get("/accounts"))["Account"]
                if a["AccountSubType"] == "CreditCard")
    (number,) = [i["Identification"] for i in card["Account"]
                 if i["SchemeName"] == "UK.OBIE.PAN"]
    assert number == expected
    rows = data_of(access.get(f"/accounts/{card['AccountId']}/transactions"))["Transaction"]
    assert len(rows) == 3
    assert {t["CardInstrument"]["Identification"] for t in rows} == {expected}
    body = access.get(f"/accounts/{card['AccountId']}/transactions").get_data(as_text=True)
    assert (CARD_PAN in body) is pan


def test_seeded_card_numbers_never_show_more_than_the_last_four_without_read_pan(
        aisp, demo, grant):
    alice = demo("alice")
    access = grant(aisp, alice, ["ReadAccountsBasic", "ReadTransactionsBasic",
                                 "ReadTransactionsDebits"])
    rows = data_of(access.get(f"/accounts/{alice.account_ids[0]}/transactions"))["Transaction"]
    cards = [t["CardInstrument"]["Identification"] for t in rows if "CardInstrument" in t]
    assert cards and all(c[:-4] == "*" * (len(c) - 4) for c in cards)


def test_party_is_the_account_owner_and_party_psu_the_customer(aisp, demo, grant):
    """For a business account, /accounts/{id}/party is the business and /parties also lists
    its director; /party is the customer who authorised the consent."""
    business = demo("brightcraft")
    access = grant(aisp, business, ["ReadAccountsBasic", "ReadParty", "ReadPartyPSU"])
    (account,) = business.account_ids
    owner = data_of(access.get(f"/accounts/{account}/party"))["Party"]
    assert owner["Name"] == "Brightcraft Ltd"
    assert owner["LegalStructure"] == "UK.OBIE.PrivateLimitedCompany"
    assert owner["Relationships"]["Account"]["Id"] == account
    holders = data_of(access.get(f"/accounts/{account}/parties"))["Party"]
    assert [(p["Name"], p["AccountRole"]) for p in holders] == [
        ("Brightcraft Ltd", "UK.OBIE.Principal"),
        ("Sam Okafor", "UK.OBIE.SeniorManagingOfficial")]
    me = data_of(access.get("/party"))["Party"]
    assert me["Name"] == "Brightcraft Ltd"     # the demo login is the company's own
    assert "AccountRole" not in me and "Relationships" not in me


def test_bulk_endpoints_cover_exactly_the_selected_accounts(aisp, demo, grant):
    """The customer shared one of their accounts: every bulk list holds that account's data,
    all of it, and nothing of the others'."""
    alice = demo("alice")
    permissions = ["ReadAccountsDetail", "ReadBalances", "ReadBeneficiariesDetail",
                   "ReadDirectDebits", "ReadOffers", "ReadProducts", "ReadStandingOrdersDetail",
                   "ReadScheduledPaymentsDetail", "ReadStatementsDetail",
                   "ReadTransactionsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits"]
    every = grant(aisp, alice, permissions)
    one = grant(aisp, alice, permissions, accounts=alice.account_pks[:1])
    shared = alice.account_ids[0]
    for path in ("/accounts", "/balances", "/beneficiaries", "/direct-debits", "/offers",
                 "/products", "/standing-orders", "/scheduled-payments", "/statements"):
        (of_every,) = data_of(every.get(path)).values()
        (of_one,) = data_of(one.get(path)).values()
        assert of_one and of_one == [row for row in of_every if row["AccountId"] == shared], \
            path
    bulk = walk(one, "/transactions")
    assert bulk and {t["AccountId"] for t in bulk} == {shared}
    assert bulk == walk(one, f"/accounts/{shared}/transactions")
