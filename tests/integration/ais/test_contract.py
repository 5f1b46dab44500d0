"""The real responses of every AIS endpoint against the official OBIE v3.1.11 OpenAPI
document (the repository's copy in specs/obie): under Detail and Basic permissions, for a
customer whose every resource has data and for one who has none, with full and empty pages."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import update

from consent.models import Consent
from tests.conftest import OBIE_SPECS
from tests.contract import validate_response
from tests.integration.ais.conftest import AISP, BASIC, EVERYTHING, data_of

SPEC = OBIE_SPECS / "v3.1.11" / "account-info-openapi.json"
BULK = ["/accounts", "/balances", "/beneficiaries", "/direct-debits", "/offers", "/party",
        "/products", "/scheduled-payments", "/standing-orders", "/statements", "/transactions"]
OF_ACCOUNT = ["", "/balances", "/beneficiaries", "/direct-debits", "/offers", "/parties",
              "/party", "/product", "/scheduled-payments", "/standing-orders", "/statements",
              "/transactions"]
OF_STATEMENT = ["", "/transactions"]
PERMISSIONS = pytest.mark.parametrize("permissions", [EVERYTHING, BASIC],
                                      ids=["detail", "basic"])


def check(path: str, response) -> None:
    validate_response(SPEC, AISP + path, "GET", response.status_code,
                      response.get_json(silent=True), headers=response.headers)


def paths(account_id: str, statement_id: str | None) -> list[str]:
    found = list(BULK) + [f"/accounts/{account_id}{p}" for p in OF_ACCOUNT]
    if statement_id:
        found += [f"/accounts/{account_id}/statements/{statement_id}{p}" for p in OF_STATEMENT]
    return found


def items(data: dict) -> list:
    (value,) = data.values()
    return value if isinstance(value, list) else [value]


@PERMISSIONS
def test_every_endpoint_with_data_matches_the_contract(permissions, aisp, demo, grant):
    alice = demo("alice")
    access = grant(aisp, alice, permissions)
    current = alice.account_ids[0]
    statement = data_of(access.get(f"/accounts/{current}/statements"))["Statement"][0]
    for path in paths(current, statement["StatementId"]):
        response = access.get(path)
        assert response.status_code == 200, (path, response.get_json())
        check(path, response)
        assert items(response.get_json()["Data"]), f"{path} has no data to check"


@PERMISSIONS
def test_every_endpoint_without_data_matches_the_contract(permissions, aisp, make_customer,
                                                          grant):
    """A customer with one new account: the lists are empty arrays (200 with []), never 404."""
    newcomer = make_customer(accounts=1)
    access = grant(aisp, newcomer, permissions)
    (account,) = newcomer.account_ids
    for path in paths(account, None):
        response = access.get(path)
        assert response.status_code == 200, (path, response.get_json())
        check(path, response)
        data = response.get_json()["Data"]
        if path.rsplit("/", 1)[-1] in {"beneficiaries", "direct-debits", "offers", "products",
                                       "product", "scheduled-payments", "standing-orders",
                                       "statements", "transactions"}:
            assert items(data) == [], path


@PERMISSIONS
def test_full_and_empty_pages_of_transactions_match_the_contract(permissions, aisp, demo,
                                                                 grant):
    alice = demo("alice")
    access = grant(aisp, alice, permissions)
    current = alice.account_ids[0]
    path = f"/accounts/{current}/transactions"
    first = access.get(path)
    assert len(first.get_json()["Data"]["Transaction"]) == 25 and "Next" in first.get_json()["Links"]
    check(path, first)
    second = access.get(first.get_json()["Links"]["Next"].split("/aisp", 1)[1])
    check(path, second)
    assert "Prev" in second.get_json()["Links"]
    last = access.get(first.get_json()["Links"]["Last"].split("/aisp", 1)[1])
    check(path, last)
    assert "Next" not in last.get_json()["Links"]
    empty = access.get(path, query_string={"fromBookingDateTime": "2030-01-01"})
    check(path, empty)
    assert empty.get_json()["Data"]["Transaction"] == []
    assert empty.get_json()["Meta"]["TotalPages"] == 1


def test_the_statement_file_is_the_pdf(aisp, demo, grant):
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING)
    current = alice.account_ids[0]
    statement = data_of(access.get(f"/accounts/{current}/statements"))["Statement"][0]
    response = access.get(f"/accounts/{current}/statements/{statement['StatementId']}/file",
                          headers={"Accept": "application/pdf"})
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF-")
    assert response.headers["x-fapi-interaction-id"]


def test_error_responses_match_the_contract(aisp, demo, grant):
    alice = demo("alice")
    basic = grant(aisp, alice, ["ReadAccountsBasic"])
    current = alice.account_ids[0]
    for path, status in ((f"/accounts/{current}/transactions", 403),
                         (f"/accounts/{uuid.uuid4()}", 400),
                         ("/accounts?limit=5", 400)):
        response = basic.get(path)
        assert response.status_code == status, (path, response.get_json())
        check(path.split("?")[0], response)
    unauthenticated = aisp.http.get(AISP + "/accounts")
    assert unauthenticated.status_code == 401 and not unauthenticated.data
    check("/accounts", unauthenticated)


def test_a_consent_no_longer_authorised_answers_a_400_of_the_contract(platform, aisp, demo,
                                                                       grant):
    access = grant(aisp, demo("alice"), ["ReadAccountsBasic"])
    with platform.uow() as uow:
        uow.session.execute(update(Consent).where(Consent.consent_id == access.consent_id)
                            .values(status="Revoked"))
        uow.commit()
    response = access.get("/accounts")
    assert response.status_code == 400        # UK.OBIE.Resource.InvalidConsentStatus
    check("/accounts", response)
