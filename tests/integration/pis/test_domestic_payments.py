"""POST /domestic-payments and GET /domestic-payments/{id}[/payment-details]: a submission
equal to its authorised consent makes one payment order, consumes the consent, and the money
moves through the ledger (Celery runs eagerly here); every refusal has its code."""
from __future__ import annotations

import copy

import pytest
from sqlalchemy import func, select

from aspsp.ledger import services as ledger
from aspsp.ledger.money import Money
from aspsp.pis.models import PaymentOrder
from tests.integration.pis.conftest import (CONSENTS, OUTSIDE_PAYEE, PAYMENTS, codes,
                                            domestic_consent_body, idem, payment_body)


def balances(platform, clock, account_id: str) -> dict:
    with platform.uow() as uow:
        return {b.type: b.amount for b in ledger.balances(uow, account_id, now=clock.now())}


def orders(platform) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(PaymentOrder))


def read(tpp, payment_id: str, suffix: str = ""):
    return tpp.call("GET", f"{PAYMENTS}/{payment_id}{suffix}", token=tpp.token(scope="payments"))


def test_a_payment_to_another_bank_settles_and_consumes_its_consent(pisp, payer, journey,
                                                                   platform, clock):
    j = journey(pisp, payer, domestic_consent_body("40.00"))
    response = j.submit()
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["Data"]
    assert data["Status"] == "Pending"
    assert data["ConsentId"] == j.consent_id
    assert data["Initiation"] == j.body["Data"]["Initiation"]
    assert data["Debtor"]["Identification"] == payer.sort_codes[0]
    later = read(pisp, data["DomesticPaymentId"])
    assert later.status_code == 200
    assert later.get_json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    assert balances(platform, clock, payer.account_ids[0])["InterimBooked"] == \
        Money.of("60.00", "GBP")
    consent = pisp.call("GET", f"{CONSENTS}/{j.consent_id}", token=pisp.token(scope="payments"))
    assert consent.get_json()["Data"]["Status"] == "Consumed"
    details = read(pisp, data["DomesticPaymentId"], "/payment-details")
    assert [s["Status"] for s in details.get_json()["Data"]["PaymentStatus"]] == [
        "Pending", "AcceptedSettlementInProcess", "AcceptedSettlementCompleted"]
    with platform.uow() as uow:
        assert ledger.reconcile_balances(uow) == []


def test_a_payment_to_a_customer_of_the_bank_is_booked_at_once(pisp, payer, make_payer,
                                                              journey, platform, clock):
    payee = make_payer(None)
    j = journey(pisp, payer, domestic_consent_body("12.34", creditor={
        "SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": payee.sort_codes[0],
        "Name": "Pat Payee"}))
    payment_id = j.submit().get_json()["Data"]["DomesticPaymentId"]
    assert read(pisp, payment_id).get_json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    assert balances(platform, clock, payee.account_ids[0])["InterimBooked"] == \
        Money.of("12.34", "GBP")


def test_the_consent_allows_one_payment_only(pisp, payer, journey, platform):
    j = journey(pisp, payer)
    assert j.submit().status_code == 201
    again = j.submit()
    assert again.status_code == 400
    assert codes(again) == ["UK.OBIE.Resource.InvalidConsentStatus"]
    assert orders(platform) == 1


@pytest.mark.parametrize("change", [
    lambda b: b["Data"]["Initiation"]["InstructedAmount"].update(Amount="10.51"),
    lambda b: b["Data"]["Initiation"]["CreditorAccount"].update(Name="Someone Else"),
    lambda b: b["Data"]["Initiation"]["RemittanceInformation"].update(Reference="OTHER"),
    lambda b: b["Data"]["Initiation"].pop("RemittanceInformation"),
    lambda b: b["Data"]["Initiation"].update(InstructionIdentification="another"),
], ids=["amount", "payee", "reference", "no reference", "instruction id"])
def test_an_initiation_other_than_the_consents_is_refused(pisp, payer, journey, platform,
                                                          change):
    j = journey(pisp, payer)
    body = payment_body(j.consent_id, j.body)
    change(body)
    response = j.submit(body)
    assert response.status_code == 400, response.get_json()
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]
    assert orders(platform) == 0


def test_a_risk_other_than_the_consents_is_refused(pisp, payer, journey, platform):
    j = journey(pisp, payer)
    body = payment_body(j.consent_id, j.body)
    body["Risk"] = {"PaymentContextCode": "BillPayment"}
    response = j.submit(body)
    assert response.status_code == 400
    assert [(e["ErrorCode"], e["Path"]) for e in response.get_json()["Errors"]] == [
        ("UK.OBIE.Resource.ConsentMismatch", "Risk")]
    assert orders(platform) == 0


def test_a_consent_id_other_than_the_tokens_is_refused(pisp, payer, journey, platform):
    first, second = journey(pisp, payer), journey(pisp, payer)
    response = first.submit(payment_body(second.consent_id, second.body))
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]
    assert orders(platform) == 0


def test_a_consent_not_yet_authorised_cannot_pay(pisp, payer, create_consent):
    consent_id = create_consent(pisp, domestic_consent_body()).get_json()["Data"]["ConsentId"]
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    response = pisp.call("POST", PAYMENTS, token=token, headers=idem(),
                         json=payment_body(consent_id, domestic_consent_body()))
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.InvalidConsentStatus"]


def test_a_client_credentials_token_cannot_pay(pisp, payer, journey):
    j = journey(pisp, payer)
    response = pisp.call("POST", PAYMENTS, token=pisp.token(scope="payments"), headers=idem(),
                         json=payment_body(j.consent_id, j.body))
    assert response.status_code == 401


def test_another_pisps_token_of_its_own_cannot_read_the_payment(pisp, other_pisp, payer,
                                                                journey):
    payment_id = journey(pisp, payer).submit().get_json()["Data"]["DomesticPaymentId"]
    for suffix in ("", "/payment-details"):
        response = read(other_pisp, payment_id, suffix)
        assert response.status_code == 403       # OBIE Read/Write profile, "403 (Forbidden)"
        assert codes(response) == ["UK.InvisibleBank.Resource.OfAnotherClient"]


def test_an_unknown_payment_id_is_not_found(pisp):
    response = read(pisp, "no-such-payment")
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.NotFound"]


def test_without_the_funds_the_payment_is_rejected_and_says_why(pisp, make_payer, journey,
                                                                platform, clock):
    poor = make_payer("5.00")
    j = journey(pisp, poor, domestic_consent_body("10.00"))
    payment_id = j.submit().get_json()["Data"]["DomesticPaymentId"]
    assert read(pisp, payment_id).get_json()["Data"]["Status"] == "Rejected"
    steps = read(pisp, payment_id, "/payment-details").get_json()["Data"]["PaymentStatus"]
    assert [s["Status"] for s in steps] == ["Pending", "Rejected"]
    assert steps[-1]["StatusDetail"]["StatusReasonDescription"] == \
        "Insufficient funds in the debtor account"
    assert balances(platform, clock, poor.account_ids[0])["InterimBooked"] == \
        Money.of("5.00", "GBP")


def test_from_a_disabled_account_the_payment_is_rejected(pisp, make_payer, journey, platform,
                                                         clock):
    customer = make_payer("50.00")
    j = journey(pisp, customer)
    with platform.uow() as uow:
        ledger.set_account_status(uow, customer.account_ids[0], "Disabled", now=clock.now())
        uow.commit()
    payment_id = j.submit().get_json()["Data"]["DomesticPaymentId"]
    steps = read(pisp, payment_id, "/payment-details").get_json()["Data"]["PaymentStatus"]
    assert steps[-1]["Status"] == "Rejected"
    assert steps[-1]["StatusDetail"]["StatusReasonDescription"] == \
        "The debtor account is not enabled"


def test_the_sandbox_receiving_bank_rejects_account_99999999(pisp, payer, journey, platform,
                                                             clock):
    j = journey(pisp, payer, domestic_consent_body("20.00", creditor={
        **OUTSIDE_PAYEE, "Identification": "20000099999999"}))
    payment_id = j.submit().get_json()["Data"]["DomesticPaymentId"]
    steps = read(pisp, payment_id, "/payment-details").get_json()["Data"]["PaymentStatus"]
    assert [s["Status"] for s in steps] == ["Pending", "AcceptedSettlementInProcess",
                                            "Rejected"]
    assert "simulated rejection" in steps[-1]["StatusDetail"]["StatusReasonDescription"]
    assert balances(platform, clock, payer.account_ids[0])["InterimBooked"] == \
        Money.of("100.00", "GBP")
    with platform.uow() as uow:
        assert ledger.reconcile_balances(uow) == []


def test_the_debtor_account_named_by_the_tpp_must_be_the_customers(pisp, payer, make_payer,
                                                                   journey, platform):
    stranger = make_payer("10.00")
    body = domestic_consent_body(DebtorAccount={
        "SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": stranger.sort_codes[0]})
    j = journey(pisp, payer, body)
    response = j.submit()
    assert response.status_code == 403
    assert codes(response) == ["UK.InvisibleBank.Consent.AccountNotPermitted"]
    assert orders(platform) == 0


def test_the_debtor_account_named_by_the_tpp_pays(pisp, make_payer, journey, platform, clock):
    customer = make_payer("30.00", accounts=2)
    body = domestic_consent_body("10.00", DebtorAccount={
        "SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": customer.sort_codes[0]})
    j = journey(pisp, customer, body, account_pk=customer.account_pks[0])
    assert j.submit().status_code == 201
    assert balances(platform, clock, customer.account_ids[0])["InterimBooked"] == \
        Money.of("20.00", "GBP")


def test_the_payment_body_must_be_obie(pisp, payer, journey):
    j = journey(pisp, payer)
    body = copy.deepcopy(payment_body(j.consent_id, j.body))
    del body["Data"]["ConsentId"]
    response = j.submit(body)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Field.Missing"]
