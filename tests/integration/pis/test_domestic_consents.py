"""POST and GET /domestic-payment-consents and GET .../funds-confirmation: what a PISP gets,
and every bad input refused with its OBIE code and nothing written."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from consent.models import Consent
from tests.integration.pis.conftest import (CONSENTS, OUTSIDE_PAYEE, codes,
                                            domestic_consent_body, idem)


def consent_count(platform) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Consent))


def test_a_consent_is_created_awaiting_authorisation_with_its_request_kept(
        pisp, create_consent, platform):
    body = domestic_consent_body("25.00",
                                 data={"Authorisation": {"AuthorisationType": "Single"}})
    response = create_consent(pisp, body)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["Data"]
    assert data["Status"] == "AwaitingAuthorisation"
    assert data["Initiation"] == body["Data"]["Initiation"]
    assert data["Authorisation"] == {"AuthorisationType": "Single"}
    assert response.get_json()["Risk"] == body["Risk"]
    assert response.headers["x-fapi-interaction-id"]
    with platform.uow() as uow:
        stored = uow.session.scalars(select(Consent).where(
            Consent.consent_id == data["ConsentId"])).one()
        # what the approval pages read: the v3.1 Initiation and Risk as the TPP sent them
        assert stored.consent_type == "domestic-payment"
        assert stored.data["Initiation"] == body["Data"]["Initiation"]
        assert stored.data["Risk"] == body["Risk"]


def test_the_consent_reads_back_and_shows_the_chosen_debtor_once_authorised(
        pisp, payer, create_consent, approve):
    consent_id = create_consent(pisp, domestic_consent_body()).get_json()["Data"]["ConsentId"]
    token = pisp.token(scope="payments")
    before = pisp.call("GET", f"{CONSENTS}/{consent_id}", token=token)
    assert before.status_code == 200
    assert before.get_json()["Data"]["Status"] == "AwaitingAuthorisation"
    assert "Debtor" not in before.get_json()["Data"]
    approve(consent_id, payer)
    after = pisp.call("GET", f"{CONSENTS}/{consent_id}", token=pisp.token(scope="payments"))
    assert after.get_json()["Data"]["Status"] == "Authorised"
    assert after.get_json()["Data"]["Debtor"]["Identification"] == payer.sort_codes[0]


def test_another_pisps_consent_is_forbidden(pisp, other_pisp, create_consent):
    consent_id = create_consent(pisp, domestic_consent_body()).get_json()["Data"]["ConsentId"]
    response = other_pisp.call("GET", f"{CONSENTS}/{consent_id}",
                               token=other_pisp.token(scope="payments"))
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Resource.OfAnotherClient"]


def test_an_account_access_consent_is_not_a_payment_consent(make_tpp):
    tpp = make_tpp(roles=("AISP", "PISP"))
    aac = tpp.create_consent()
    response = tpp.call("GET", f"{CONSENTS}/{aac}", token=tpp.token(scope="payments"))
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.NotFound"]


def test_only_a_pisp_may_create_one(make_tpp):
    aisp = make_tpp(roles=("AISP",))
    response = aisp.call("POST", CONSENTS, token=aisp.token(scope="payments"),
                         json=domestic_consent_body(), headers=idem())
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Client.RoleMissing"]


def test_an_accounts_token_may_not_create_one(pisp):
    response = pisp.call("POST", CONSENTS, token=pisp.token(scope="accounts"),
                         json=domestic_consent_body(), headers=idem())
    assert response.status_code == 403


def test_a_customer_token_may_not_create_one(pisp, payer, journey):
    j = journey(pisp, payer)
    response = pisp.call("POST", CONSENTS, token=j.token, json=domestic_consent_body(),
                         headers=idem())
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Token.WrongGrantType"]


def iban_payee(iban: str) -> dict:
    return {"SchemeName": "UK.OBIE.IBAN", "Identification": iban, "Name": "Euro Payee"}


BAD = [
    ("too many decimals", domestic_consent_body("10.123"), "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Amount"),
    ("zero", domestic_consent_body("0.00"), "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Amount"),
    ("negative", domestic_consent_body("-5.00"), "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Amount"),
    ("not the OB amount pattern", domestic_consent_body("1e3"), "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Amount"),
    ("14 integer digits", domestic_consent_body("12345678901234"), "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Amount"),
    ("unknown currency", domestic_consent_body(InstructedAmount={"Amount": "1.00",
                                                                 "Currency": "ABC"}),
     "UK.OBIE.Field.Invalid", "Data.Initiation.InstructedAmount.Currency"),
    ("lower-case currency", domestic_consent_body(InstructedAmount={"Amount": "1.00",
                                                                    "Currency": "gbp"}),
     "UK.OBIE.Field.Invalid", "Data.Initiation.InstructedAmount.Currency"),
    ("a domestic payment in euros", domestic_consent_body(InstructedAmount={
        "Amount": "1.00", "Currency": "EUR"}), "UK.OBIE.Unsupported.Currency",
     "Data.Initiation.InstructedAmount.Currency"),
    ("unknown scheme", domestic_consent_body(creditor={**OUTSIDE_PAYEE,
                                                       "SchemeName": "UK.OBIE.Wallet"}),
     "UK.OBIE.Unsupported.Scheme", "Data.Initiation.CreditorAccount.SchemeName"),
    ("sort code and account of 13 digits", domestic_consent_body(
        creditor={**OUTSIDE_PAYEE, "Identification": "2000001234567"}),
     "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAccount.Identification"),
    ("sort code with dashes", domestic_consent_body(
        creditor={**OUTSIDE_PAYEE, "Identification": "20-00-0012345678"}),
     "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAccount.Identification"),
    ("all-zero sort code", domestic_consent_body(
        creditor={**OUTSIDE_PAYEE, "Identification": "00000012345678"}),
     "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAccount.Identification"),
    ("IBAN with wrong check digits", domestic_consent_body(
        creditor=iban_payee("GB82WEST12345698765433")),
     "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAccount.Identification"),
    ("IBAN of an unknown country", domestic_consent_body(
        creditor=iban_payee("XX82WEST12345698765432")),
     "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAccount.Identification"),
    ("debtor account of an unsupported scheme", domestic_consent_body(
        DebtorAccount={"SchemeName": "UK.OBIE.PAN", "Identification": "4111111111111111"}),
     "UK.OBIE.Unsupported.Scheme", "Data.Initiation.DebtorAccount.SchemeName"),
    ("a payee's roll number (SecondaryIdentification)", domestic_consent_body(
        creditor={**OUTSIDE_PAYEE, "SecondaryIdentification": "ROLL-123/45"}),
     "UK.OBIE.Unsupported.AccountSecondaryIdentifier",
     "Data.Initiation.CreditorAccount.SecondaryIdentification"),
    ("CHAPS", domestic_consent_body(LocalInstrument="UK.OBIE.CHAPS"),
     "UK.OBIE.Unsupported.LocalInstrument", "Data.Initiation.LocalInstrument"),
    ("a completion date in the past", domestic_consent_body(data={"Authorisation": {
        "AuthorisationType": "Any", "CompletionDateTime": "2020-01-01T00:00:00+00:00"}}),
     "UK.OBIE.Field.InvalidDate", "Data.Authorisation.CompletionDateTime"),
    ("a completion date that is not a date", domestic_consent_body(data={"Authorisation": {
        "AuthorisationType": "Any", "CompletionDateTime": "tomorrow"}}),
     "UK.OBIE.Field.InvalidDate", "Data.Authorisation.CompletionDateTime"),
    ("an EndToEndIdentification of 36 characters", domestic_consent_body(
        EndToEndIdentification="x" * 36), "UK.OBIE.Field.Invalid",
     "Data.Initiation.EndToEndIdentification"),
    ("a reference of 36 characters", domestic_consent_body(
        RemittanceInformation={"Reference": "r" * 36}), "UK.OBIE.Field.Invalid",
     "Data.Initiation.RemittanceInformation.Reference"),
    ("a creditor without a name", domestic_consent_body(
        creditor={k: v for k, v in OUTSIDE_PAYEE.items() if k != "Name"}),
     "UK.OBIE.Field.Missing", "Data.Initiation.CreditorAccount.Name"),
    ("a field OBIE does not have", domestic_consent_body(Colour="blue"),
     "UK.OBIE.Field.Unexpected", "Data.Initiation.Colour"),
]


@pytest.mark.parametrize("body,code,path", [b[1:] for b in BAD], ids=[b[0] for b in BAD])
def test_bad_input_is_refused_with_its_code_and_nothing_is_written(pisp, create_consent,
                                                                   platform, body, code, path):
    before = consent_count(platform)
    response = create_consent(pisp, body)
    assert response.status_code == 400, response.get_json()
    assert (code, path) in [(e["ErrorCode"], e.get("Path")) for e in
                            response.get_json()["Errors"]], response.get_json()
    assert consent_count(platform) == before


def test_a_risk_that_is_not_obie_is_refused(pisp, create_consent):
    body = domestic_consent_body()
    body["Risk"] = {"PaymentContextCode": "Gambling"}
    response = create_consent(pisp, body)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Field.Invalid"]


def test_a_valid_iban_payee_is_accepted(pisp, create_consent):
    response = create_consent(pisp, domestic_consent_body(
        creditor=iban_payee("GB82WEST12345698765432")))
    assert response.status_code == 201, response.get_json()


def test_x_idempotency_key_is_required(pisp):
    response = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"),
                         json=domestic_consent_body())
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Header.Missing"]


def test_funds_confirmation_answers_for_the_chosen_account(pisp, make_payer, journey):
    rich, poor = make_payer("100.00"), make_payer("5.00")
    for customer, expected in ((rich, True), (poor, False)):
        j = journey(pisp, customer, domestic_consent_body("10.50"))
        response = pisp.call("GET", f"{CONSENTS}/{j.consent_id}/funds-confirmation",
                             token=j.token)
        assert response.status_code == 200, response.get_json()
        assert response.get_json()["Data"]["FundsAvailableResult"]["FundsAvailable"] \
            is expected


def test_funds_confirmation_counts_the_arranged_overdraft(pisp, make_payer, journey):
    customer = make_payer("5.00", credit_limit="50")
    j = journey(pisp, customer, domestic_consent_body("54.00"))
    response = pisp.call("GET", f"{CONSENTS}/{j.consent_id}/funds-confirmation", token=j.token)
    assert response.get_json()["Data"]["FundsAvailableResult"]["FundsAvailable"] is True


def test_funds_confirmation_needs_the_customers_token_of_that_consent(pisp, payer, journey):
    first, second = journey(pisp, payer), journey(pisp, payer)
    client_token = pisp.call("GET", f"{CONSENTS}/{first.consent_id}/funds-confirmation",
                             token=pisp.token(scope="payments"))
    assert client_token.status_code == 401
    other = pisp.call("GET", f"{CONSENTS}/{first.consent_id}/funds-confirmation",
                      token=second.token)
    assert other.status_code == 400
    assert codes(other) == ["UK.OBIE.Resource.ConsentMismatch"]


def test_funds_confirmation_of_a_consumed_consent_is_400_invalid_consent_status(
        pisp, payer, journey):
    """OBIE v3.1.11 domestic-payment-consents: "If the status is not Authorised, an ASPSP must
    respond with a 400 (Bad Request) and a UK.OBIE.Resource.InvalidConsentStatus"."""
    j = journey(pisp, payer)
    url = f"{CONSENTS}/{j.consent_id}/funds-confirmation"
    assert pisp.call("GET", url, token=j.token).status_code == 200
    assert j.submit().status_code == 201                       # the consent is Consumed
    response = pisp.call("GET", url, token=j.token)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.InvalidConsentStatus"]
