"""Real responses of the account-access-consent resources against the official OBIE v3.1.11
OpenAPI document (the repository's copy in specs/obie)."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from tests.conftest import OBIE_SPECS
from tests.contract import validate_response
from tests.integration.consent.conftest import CONSENTS

SPEC = OBIE_SPECS / "v3.1.11" / "account-info-openapi.json"


def check(method, path, response):
    validate_response(SPEC, path, method, response.status_code,
                      response.get_json(silent=True), headers=response.headers)


def test_post_201_matches_the_contract(aisp, clock):
    response = aisp.call("POST", CONSENTS, token=aisp.token(), json={
        "Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances"],
                 "ExpirationDateTime": (clock.now() + timedelta(days=30)).isoformat(),
                 "TransactionFromDateTime": "2026-01-01T00:00:00+00:00"},
        "Risk": {}})
    assert response.status_code == 201
    check("POST", CONSENTS, response)


@pytest.mark.parametrize("outcome, status", [("approve", "Authorised"),
                                             ("deny", "Rejected"),
                                             ("revoke at the bank", "Revoked")])
def test_get_200_matches_the_contract_after_the_customers_decision(
        aisp, customer, decide, platform, clock, outcome, status):
    from consent import services
    consent_id = aisp.create_consent()
    decide(consent_id, customer, approve=outcome != "deny")
    if outcome == "revoke at the bank":
        with platform.uow() as uow:
            services.revoke_by_psu(uow, customer.psu, consent_id, clock.now())
            uow.commit()
    path = f"{CONSENTS}/{consent_id}"
    response = aisp.call("GET", path, token=aisp.token())
    assert response.status_code == 200
    assert response.get_json()["Data"]["Status"] == status
    check("GET", path, response)


def test_delete_204_matches_the_contract(aisp):
    path = f"{CONSENTS}/{aisp.create_consent()}"
    response = aisp.call("DELETE", path, token=aisp.token())
    assert response.status_code == 204
    check("DELETE", path, response)


def test_error_bodies_match_the_contract(aisp, make_tpp):
    bad = aisp.call("POST", CONSENTS, token=aisp.token(),
                    json={"Data": {"Permissions": ["ReadNothing"]}, "Risk": {}})
    assert bad.status_code == 400
    check("POST", CONSENTS, bad)
    path = f"{CONSENTS}/aac-{uuid.uuid4()}"
    unknown = aisp.call("GET", path, token=aisp.token())
    assert unknown.status_code == 400
    check("GET", path, unknown)
    pisp = make_tpp(roles=("PISP",))
    forbidden = pisp.call("POST", CONSENTS, token=pisp.token(), json={})
    assert forbidden.status_code == 403
    check("POST", CONSENTS, forbidden)


def test_a_response_that_breaks_the_contract_is_caught(aisp):
    """The checker itself: a body missing Data.Status and with a relative Links.Self fails."""
    body = aisp.call("POST", CONSENTS, token=aisp.token(), json={
        "Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}}).get_json()
    del body["Data"]["Status"]
    body["Links"]["Self"] = "/relative"
    with pytest.raises(AssertionError) as failure:
        validate_response(SPEC, CONSENTS, "POST", 201, body)
    assert "'Status' is a required property" in str(failure.value)
    assert "is not an absolute URI" in str(failure.value)
