"""The real responses of every VRP endpoint against the official OBIE v3.1.11 VRP OpenAPI
document (the repository's copy in specs/obie): created, read, authorised, paid, settled,
rejected and deleted resources, and the error responses; each response signed."""
from __future__ import annotations

from tests.conftest import OBIE_SPECS
from tests.contract import validate_response
from tests.integration.vrp.conftest import (CONSENTS, PISP, VRPS, codes, idem, limit,
                                            vrp_body, vrp_consent_body)

SPEC = OBIE_SPECS / "v3.1.11" / "vrp-openapi.json"


def check(method: str, path: str, response, status: int) -> dict:
    assert response.status_code == status, (path, response.get_json())
    body = response.get_json(silent=True)
    validate_response(SPEC, path.removeprefix(PISP), method, response.status_code, body)
    if body is not None:
        assert response.headers.get("x-jws-signature"), path
    return body


def test_every_vrp_endpoint_matches_the_contract(pisp, make_payer, create_vrp_consent,
                                                 vrp_journey):
    customer = make_payer("40.00")
    consent_body = vrp_consent_body(
        "30.00", [limit("100.00", "Week", "Consent"), limit("1000.00", "Year", "Calendar")],
        ValidFromDateTime="2026-06-01T00:00:00+00:00",
        PSUInteractionTypes=["OffSession"])
    consent_body["Data"]["ReadRefundAccount"] = "No"
    created = check("POST", CONSENTS, create_vrp_consent(pisp, consent_body), 201)
    assert created["Data"]["Status"] == "AwaitingAuthorisation"
    assert created["Data"]["ControlParameters"] == consent_body["Data"]["ControlParameters"]
    consent_id = created["Data"]["ConsentId"]
    path = f"{CONSENTS}/{consent_id}"
    check("GET", path, pisp.call("GET", path, token=pisp.token(scope="payments")), 200)

    j = vrp_journey(pisp, customer, consent_body)
    read = check("GET", f"{CONSENTS}/{j.consent_id}", j.consent(), 200)
    assert read["Data"]["Status"] == "Authorised"
    assert read["Data"]["DebtorAccount"]["Identification"] == customer.sort_codes[0]

    funds = f"{CONSENTS}/{j.consent_id}/funds-confirmation"
    asked = {"Data": {"ConsentId": j.consent_id, "Reference": "check-1",
                      "InstructedAmount": {"Amount": "40.00", "Currency": "GBP"}}}
    answer = check("POST", funds, pisp.call("POST", funds, token=j.token, json=asked), 201)
    assert answer["Data"]["FundsAvailableResult"]["FundsAvailable"] == "Available"
    asked["Data"]["InstructedAmount"]["Amount"] = "40.01"
    answer = check("POST", funds, pisp.call("POST", funds, token=j.token, json=asked), 201)
    assert answer["Data"]["FundsAvailableResult"]["FundsAvailable"] == "NotAvailable"

    paid = check("POST", VRPS, j.pay("25.00"), 201)
    assert paid["Data"]["Status"] == "Pending"
    vrp_id = paid["Data"]["DomesticVRPId"]
    settled = check("GET", f"{VRPS}/{vrp_id}", j.read(vrp_id), 200)
    assert settled["Data"]["Status"] == "AcceptedSettlementCompleted"
    details = check("GET", f"{VRPS}/{vrp_id}/payment-details",
                    j.read(vrp_id, "/payment-details"), 200)
    assert [s["Status"] for s in details["Data"]["PaymentStatus"]] == [
        "Pending", "AcceptedSettlementInProcess", "AcceptedSettlementCompleted"]

    # 15.00 left, 20.00 asked: accepted (within the limits), rejected by the ledger
    rejected = check("POST", VRPS, j.pay("20.00"), 201)
    vrp_id = rejected["Data"]["DomesticVRPId"]
    read = check("GET", f"{VRPS}/{vrp_id}", j.read(vrp_id), 200)
    assert read["Data"]["Status"] == "Rejected"
    assert read["Data"]["StatusReasonDescription"] == "Insufficient funds in the debtor account"
    check("GET", f"{VRPS}/{vrp_id}/payment-details", j.read(vrp_id, "/payment-details"), 200)

    over = check("POST", VRPS, j.pay("30.01"), 400)
    assert [e["ErrorCode"] for e in over["Errors"]] == ["UK.OBIE.Rules.FailsControlParameters"]
    assert over["Errors"][0]["Path"] == "Data.ControlParameters.MaximumIndividualAmount"
    unknown = j.read("no-such-vrp")
    check("GET", f"{VRPS}/no-such-vrp", unknown, 400)
    assert codes(unknown) == ["UK.OBIE.Resource.NotFound"]

    deleted = pisp.call("DELETE", f"{CONSENTS}/{j.consent_id}",
                        token=pisp.token(scope="payments"))
    assert deleted.status_code == 204 and deleted.data == b""
    gone = j.consent()
    check("GET", f"{CONSENTS}/{j.consent_id}", gone, 400)
    assert codes(gone) == ["UK.OBIE.Resource.NotFound"]
    again = pisp.call("DELETE", f"{CONSENTS}/{j.consent_id}",
                      token=pisp.token(scope="payments"))
    assert again.status_code == 400


def test_a_consent_post_is_idempotent_and_signed(pisp, create_vrp_consent):
    body = vrp_consent_body()
    key = idem()
    first = create_vrp_consent(pisp, body, headers=key)
    second = create_vrp_consent(pisp, body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["Data"]["ConsentId"] == second.get_json()["Data"]["ConsentId"]
    unsigned = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"), json=body,
                         headers=idem(), sign=False)
    assert unsigned.status_code == 400
    assert codes(unsigned) == ["UK.OBIE.Signature.Missing"]


def test_a_vrp_post_is_idempotent(pisp, payer, vrp_journey):
    j = vrp_journey(pisp, payer)
    body, key = vrp_body(j.consent_id, j.body, "12.00"), idem()
    first, second = j.pay(body=body, headers=key), j.pay(body=body, headers=key)
    assert first.status_code == second.status_code == 201
    assert first.get_json()["Data"]["DomesticVRPId"] == second.get_json()["Data"]["DomesticVRPId"]
    assert second.get_json()["Data"]["Status"] == "AcceptedSettlementCompleted"   # as it is now


def test_a_vrp_that_is_not_what_its_consent_allows_is_refused_in_the_contracts_shape(
        pisp, payer, vrp_journey):
    """400 UK.OBIE.Resource.ConsentMismatch (an Initiation, a creditor or a Risk other than the
    consent's, or another consent's id in the body), validated against the VRP document as
    the refusals' own tests (test_vrp_refusals.py) check their codes."""
    j = vrp_journey(pisp, payer)
    changed_reference = vrp_body(j.consent_id, j.body)
    changed_reference["Data"]["Initiation"]["RemittanceInformation"]["Reference"] = "OTHER"
    changed_risk = vrp_body(j.consent_id, j.body)
    changed_risk["Risk"] = {"PaymentContextCode": "PartyToParty"}
    other_consent = vrp_body(j.consent_id, j.body)
    other_consent["Data"]["ConsentId"] = "vrc-someone-else"
    for body in (changed_reference, changed_risk, other_consent):
        refused = check("POST", VRPS, j.pay(body=body), 400)
        assert [e["ErrorCode"] for e in refused["Errors"]] == \
            ["UK.OBIE.Resource.ConsentMismatch"], refused
