"""What the bank refuses, with the OB codes a TPP can act on, and nothing written when it
does: bad amounts, currencies, limits and VRP types in a consent; a VRP that is not what its
consent allows; and a consent revoked mid-stream by the customer or deleted by the TPP."""
from __future__ import annotations

import copy
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from aspsp.vrp.models import DomesticVrp
from consent import services as consents
from consent.models import Consent
from tests.integration.pis.conftest import create_consent, journey  # noqa: F401 (fixtures)
from tests.integration.vrp.conftest import (CONSENTS, PISP, codes, limit, vrp_body,
                                            vrp_consent_body)


def consents_of(platform, tpp) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count(Consent.id)).where(
            Consent.client_pk == tpp.client.row.id))


def vrps_of(platform, consent_id: str) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count(DomesticVrp.id)).join(
            Consent, Consent.id == DomesticVrp.consent_pk).where(
            Consent.consent_id == consent_id))


def controls(**changes) -> dict:
    body = vrp_consent_body()
    body["Data"]["ControlParameters"].update(changes)
    return body


BAD_CONSENTS = [
    ("a zero maximum", controls(MaximumIndividualAmount={"Amount": "0.00", "Currency": "GBP"}),
     "UK.OBIE.Field.Invalid", "Data.ControlParameters.MaximumIndividualAmount.Amount"),
    ("too many decimals", controls(MaximumIndividualAmount={"Amount": "1.001",
                                                            "Currency": "GBP"}),
     "UK.OBIE.Field.Invalid", "Data.ControlParameters.MaximumIndividualAmount.Amount"),
    ("a euro limit", controls(PeriodicLimits=[limit("100.00", currency="EUR")]),
     "UK.OBIE.Unsupported.Currency", "Data.ControlParameters.PeriodicLimits[0].Currency"),
    ("no such currency", controls(PeriodicLimits=[limit("100.00", currency="XYZ")]),
     "UK.OBIE.Field.Invalid", "Data.ControlParameters.PeriodicLimits[0].Currency"),
    ("a calendar fortnight", controls(PeriodicLimits=[limit("1.00", "Fortnight")]),
     "UK.OBIE.Field.Invalid", "Data.ControlParameters.PeriodicLimits[0].PeriodAlignment"),
    ("an unknown VRPType", controls(VRPType=["UK.OBIE.VRPType.Lottery"]),
     "UK.OBIE.Field.Invalid", "Data.ControlParameters.VRPType"),
    ("an unknown method", controls(PSUAuthenticationMethods=["UK.OBIE.Fingers"]),
     "UK.OBIE.Field.Invalid", "Data.ControlParameters.PSUAuthenticationMethods"),
    ("ValidTo in the past", controls(ValidToDateTime="2026-06-01T00:00:00+00:00"),
     "UK.OBIE.Field.InvalidDate", "Data.ControlParameters.ValidToDateTime"),
    ("supplementary data", controls(SupplementaryData={"x": 1}),
     "UK.OBIE.Field.Unexpected", "Data.ControlParameters.SupplementaryData"),
]


@pytest.mark.parametrize("why, body, code, path", BAD_CONSENTS, ids=[b[0] for b in BAD_CONSENTS])
def test_a_bad_consent_is_refused_with_its_code_and_nothing_is_written(
        why, body, code, path, pisp, create_vrp_consent, platform):
    before = consents_of(platform, pisp)
    response = create_vrp_consent(pisp, body)
    assert response.status_code == 400, response.get_json()
    assert (code, path) in {(e["ErrorCode"], e.get("Path"))
                            for e in response.get_json()["Errors"]}
    assert consents_of(platform, pisp) == before


def test_a_consent_without_its_limits_or_with_an_unknown_period_fails_the_schema(
        pisp, create_vrp_consent, platform):
    body = vrp_consent_body()
    del body["Data"]["ControlParameters"]["PeriodicLimits"]
    missing = create_vrp_consent(pisp, body)
    assert missing.status_code == 400
    body = controls(PeriodicLimits=[limit("1.00", "Decade")])
    unknown = create_vrp_consent(pisp, body)
    assert unknown.status_code == 400
    assert codes(missing)[0].startswith("UK.OBIE.Field.")
    assert codes(unknown)[0].startswith("UK.OBIE.Field.")
    assert consents_of(platform, pisp) == 0


def test_a_vrp_that_is_not_what_its_consent_allows(pisp, payer, vrp_journey, platform):
    j = vrp_journey(pisp, payer)

    def refused(body) -> set:
        response = j.pay(body=body)
        assert response.status_code == 400, response.get_json()
        return {(e["ErrorCode"], e.get("Path")) for e in response.get_json()["Errors"]}

    body = vrp_body(j.consent_id, j.body)
    body["Data"]["Instruction"]["InstructedAmount"]["Currency"] = "EUR"
    assert ("UK.OBIE.Unsupported.Currency", "Data.Instruction.InstructedAmount.Currency") \
        in refused(body)
    body = vrp_body(j.consent_id, j.body, "0.00")
    assert ("UK.OBIE.Field.Invalid", "Data.Instruction.InstructedAmount.Amount") in refused(body)
    body = vrp_body(j.consent_id, j.body)
    body["Data"]["Initiation"]["RemittanceInformation"]["Reference"] = "OTHER"
    assert ("UK.OBIE.Resource.ConsentMismatch", "Data.Initiation") in refused(body)
    body = vrp_body(j.consent_id, j.body)
    body["Data"]["Instruction"]["CreditorAccount"]["Identification"] = "20000087654321"
    assert ("UK.OBIE.Resource.ConsentMismatch", "Data.Instruction.CreditorAccount") \
        in refused(body)
    body = vrp_body(j.consent_id, j.body)
    body["Risk"] = {"PaymentContextCode": "PartyToParty"}
    assert ("UK.OBIE.Resource.ConsentMismatch", "Risk") in refused(body)
    body = vrp_body(j.consent_id, j.body, VRPType="UK.OBIE.VRPType.Other")
    assert refused(body) == {("UK.OBIE.Rules.FailsControlParameters",
                              "Data.ControlParameters.VRPType")}
    body = vrp_body(j.consent_id, j.body, PSUAuthenticationMethod="UK.OBIE.SCA")
    assert refused(body) == {("UK.OBIE.Rules.FailsControlParameters",
                              "Data.ControlParameters.PSUAuthenticationMethods")}
    body = vrp_body(j.consent_id, j.body)
    body["Data"]["Instruction"]["LocalInstrument"] = "UK.OBIE.CHAPS"
    assert ("UK.OBIE.Unsupported.LocalInstrument", "Data.Instruction.LocalInstrument") \
        in refused(body)
    other = copy.deepcopy(vrp_body(j.consent_id, j.body))
    other["Data"]["ConsentId"] = "vrc-someone-else"
    response = j.pay(body=other)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]
    assert vrps_of(platform, j.consent_id) == 0


def test_the_customer_revokes_the_consent_mid_stream(pisp, payer, vrp_journey, platform,
                                                     clock):
    j = vrp_journey(pisp, payer)
    first = j.pay("10.00")
    assert first.status_code == 201
    clock.advance(timedelta(days=3))
    with platform.uow() as uow:
        consents.revoke_by_psu(uow, payer.psu, j.consent_id, clock.now())
        uow.commit()
    refused = j.pay("10.00")
    assert refused.status_code in (401, 403)
    assert vrps_of(platform, j.consent_id) == 1
    # VRP profile, "Consent Revocation": the status stays, the access (its tokens) stops
    assert j.consent().get_json()["Data"]["Status"] == "Authorised"
    vrp_id = first.get_json()["Data"]["DomesticVRPId"]     # what was paid stays readable
    assert j.read(vrp_id).get_json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    funds = pisp.call("POST", f"{CONSENTS}/{j.consent_id}/funds-confirmation", token=j.token,
                      json={"Data": {"ConsentId": j.consent_id, "InstructedAmount": {
                          "Amount": "1.00", "Currency": "GBP"}}})
    assert funds.status_code in (401, 403)


def test_the_tpp_deletes_the_consent_mid_stream(pisp, payer, vrp_journey, platform):
    j = vrp_journey(pisp, payer)
    assert j.pay("10.00").status_code == 201
    deleted = pisp.call("DELETE", f"{CONSENTS}/{j.consent_id}",
                        token=pisp.token(scope="payments"))
    assert deleted.status_code == 204
    refused = j.pay("10.00")
    assert refused.status_code in (401, 403)
    assert vrps_of(platform, j.consent_id) == 1


def test_another_pisp_cannot_read_or_delete_the_consent(pisp, other_pisp, payer, vrp_journey):
    j = vrp_journey(pisp, payer)
    paid = j.pay("5.00").get_json()["Data"]["DomesticVRPId"]
    token = other_pisp.token(scope="payments")
    for method, path in (("GET", f"{CONSENTS}/{j.consent_id}"),
                         ("DELETE", f"{CONSENTS}/{j.consent_id}"),
                         ("GET", f"/open-banking/v3.1/pisp/domestic-vrps/{paid}")):
        response = other_pisp.call(method, path, token=token)
        assert response.status_code == 403       # OBIE Read/Write profile, "403 (Forbidden)"
        assert codes(response) == ["UK.InvisibleBank.Resource.OfAnotherClient"]
    assert j.consent().get_json()["Data"]["Status"] == "Authorised"


def test_a_payment_consents_token_gets_no_vrp_funds_confirmation(pisp, payer, journey):
    """A PISP's token for a single domestic payment (scope payments, like a VRP consent's)
    cannot ask the VRP funds-confirmation of its own consent: the path is a VRP consent's
    resource, so the answer is 403 ConsentMismatch, not whether the account can pay."""
    j = journey(pisp, payer)
    answer = pisp.call("POST", f"{CONSENTS}/{j.consent_id}/funds-confirmation", token=j.token,
                       json={"Data": {"ConsentId": j.consent_id, "InstructedAmount": {
                           "Amount": "1.00", "Currency": "GBP"}}})
    assert answer.status_code == 403, answer.get_json()
    assert codes(answer) == ["UK.OBIE.Resource.ConsentMismatch"]
    assert "FundsAvailableResult" not in (answer.get_json().get("Data") or {})


def test_a_vrp_consents_token_gets_no_payment_consents_funds_confirmation(pisp, payer,
                                                                         vrp_journey):
    """The other way round: a VRP consent's token on the domestic (or international) payment
    consents' funds-confirmation GET is 403 ConsentMismatch, not a 500 (a VRP consent has no
    InstructedAmount) nor an answer about another kind of consent."""
    j = vrp_journey(pisp, payer)
    for kind in ("domestic-payment-consents", "international-payment-consents",
                 "international-scheduled-payment-consents"):
        answer = pisp.call("GET", f"{PISP}/{kind}/{j.consent_id}/funds-confirmation",
                           token=j.token)
        assert answer.status_code == 403, (kind, answer.status_code, answer.get_data()[:300])
        assert codes(answer) == ["UK.OBIE.Resource.ConsentMismatch"]
