"""The real responses of every domestic PIS endpoint against the official OBIE v3.1.11
Payment Initiation OpenAPI document (the repository's copy in specs/obie): created, read,
authorised, consumed, settled and rejected resources, and the error responses."""
from __future__ import annotations

from aspsp.ledger.models import Account
from tests.conftest import OBIE_SPECS
from tests.contract import validate_response
from tests.integration.pis.conftest import (CONSENTS, OUTSIDE_PAYEE, PAYMENTS, PISP,
                                            domestic_consent_body, idem, payment_body)

SPEC = OBIE_SPECS / "v3.1.11" / "payment-initiation-openapi.json"


def check(method: str, path: str, response, status: int) -> None:
    assert response.status_code == status, (path, response.get_json())
    validate_response(SPEC, path.removeprefix(PISP), method, response.status_code,
                      response.get_json(silent=True))


def full_consent_body() -> dict:
    """Every optional member a domestic consent may carry."""
    return domestic_consent_body(
        "99.99", LocalInstrument="UK.OBIE.FPS",
        DebtorAccount=None,
        CreditorPostalAddress={"AddressType": "Business", "StreetName": "High Street",
                               "BuildingNumber": "1", "PostCode": "EC1A 1AA",
                               "TownName": "London", "Country": "GB",
                               "AddressLine": ["Suite 5"]},
        SupplementaryData={"anything": {"goes": True}},
        data={"ReadRefundAccount": "No",
              "Authorisation": {"AuthorisationType": "Single",
                                "CompletionDateTime": "2027-01-01T00:00:00+00:00"},
              "SCASupportData": {"RequestedSCAExemptionType": "EcommerceGoods",
                                 "AppliedAuthenticationApproach": "SCA"}})


def without_none(body: dict) -> dict:
    body["Data"]["Initiation"] = {k: v for k, v in body["Data"]["Initiation"].items()
                                  if v is not None}
    return body


def test_every_domestic_endpoint_matches_the_contract(pisp, payer, create_consent, approve,
                                                      journey):
    body = without_none(full_consent_body())
    body["Risk"] = {"PaymentContextCode": "EcommerceGoods", "MerchantCategoryCode": "5964",
                    "MerchantCustomerIdentification": "cust-1",
                    "ContractPresentInidicator": False,
                    "BeneficiaryPrepopulatedIndicator": True,
                    "DeliveryAddress": {"AddressLine": ["Flat 1"], "TownName": "Leeds",
                                        "Country": "GB"}}
    created = create_consent(pisp, body)
    check("POST", CONSENTS, created, 201)
    consent_id = created.get_json()["Data"]["ConsentId"]
    token = pisp.token(scope="payments")
    check("GET", f"{CONSENTS}/{consent_id}",
          pisp.call("GET", f"{CONSENTS}/{consent_id}", token=token), 200)

    j = journey(pisp, payer, body)
    check("GET", f"{CONSENTS}/{j.consent_id}",
          pisp.call("GET", f"{CONSENTS}/{j.consent_id}", token=pisp.token(scope="payments")),
          200)
    funds = f"{CONSENTS}/{j.consent_id}/funds-confirmation"
    check("GET", funds, pisp.call("GET", funds, token=j.token), 200)
    submitted = j.submit()
    check("POST", PAYMENTS, submitted, 201)
    payment_id = submitted.get_json()["Data"]["DomesticPaymentId"]
    for path in (f"{PAYMENTS}/{payment_id}", f"{PAYMENTS}/{payment_id}/payment-details",
                 f"{CONSENTS}/{j.consent_id}"):
        check("GET", path, pisp.call("GET", path, token=pisp.token(scope="payments")), 200)


def test_a_rejected_payment_matches_the_contract(pisp, make_payer, journey):
    j = journey(pisp, make_payer("1.00"), domestic_consent_body("50.00"))
    payment_id = j.submit().get_json()["Data"]["DomesticPaymentId"]
    for path in (f"{PAYMENTS}/{payment_id}", f"{PAYMENTS}/{payment_id}/payment-details"):
        response = pisp.call("GET", path, token=pisp.token(scope="payments"))
        check("GET", path, response, 200)
    assert response.get_json()["Data"]["PaymentStatus"][-1]["Status"] == "Rejected"


def test_error_responses_match_the_contract(pisp, payer, journey, create_consent):
    check("POST", CONSENTS, create_consent(pisp, domestic_consent_body("0.001")), 400)
    check("POST", CONSENTS, create_consent(pisp, domestic_consent_body(creditor={
        **OUTSIDE_PAYEE, "SchemeName": "UK.OBIE.PAN"})), 400)
    unknown = f"{CONSENTS}/pdc-unknown"
    check("GET", unknown, pisp.call("GET", unknown, token=pisp.token(scope="payments")), 400)
    j = journey(pisp, payer)
    mismatch = payment_body(j.consent_id, j.body)
    mismatch["Risk"] = {}
    check("POST", PAYMENTS, j.submit(mismatch), 400)
    check("POST", PAYMENTS, j.submit(), 201)
    check("POST", PAYMENTS, j.submit(), 400)           # consumed: InvalidConsentStatus
    forbidden = pisp.call("POST", CONSENTS, token=pisp.token(scope="accounts"),
                          json=domestic_consent_body(), headers=idem())
    check("POST", CONSENTS, forbidden, 403)


def test_a_refund_account_asked_for_is_the_account_paid_from(pisp, payer, journey, platform):
    """ReadRefundAccount "Yes": the payment names, in Refund, the account a refund goes to,
    on its creation and every read; "No" or absent: no Refund."""
    j = journey(pisp, payer, domestic_consent_body(data={"ReadRefundAccount": "Yes"}))
    submitted = j.submit()
    check("POST", PAYMENTS, submitted, 201)
    data = submitted.get_json()["Data"]
    assert data["Refund"] == {"Account": data["Debtor"]}
    with platform.uow() as uow:
        paid_from = uow.session.get(Account, payer.account_pks[0])
        assert data["Refund"]["Account"]["Identification"] == \
            paid_from.sort_code + paid_from.account_number
    path = f"{PAYMENTS}/{data['DomesticPaymentId']}"
    read = pisp.call("GET", path, token=pisp.token(scope="payments"))
    check("GET", path, read, 200)
    assert read.get_json()["Data"]["Refund"] == data["Refund"]
    for asked in ({"ReadRefundAccount": "No"}, {}):
        other = journey(pisp, payer, domestic_consent_body(data=asked)).submit()
        assert "Refund" not in other.get_json()["Data"]


def test_another_pisps_payment_and_consent_answer_a_403_of_the_contract(pisp, other_pisp, payer,
                                                                      journey):
    j = journey(pisp, payer)
    payment_id = j.submit().get_json()["Data"]["DomesticPaymentId"]
    token = other_pisp.token(scope="payments")
    for path in (f"{PAYMENTS}/{payment_id}", f"{PAYMENTS}/{payment_id}/payment-details",
                 f"{CONSENTS}/{j.consent_id}"):
        check("GET", path, other_pisp.call("GET", path, token=token), 403)
