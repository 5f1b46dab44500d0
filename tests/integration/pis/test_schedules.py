"""Domestic scheduled payments and standing orders: consents, their bad input with its OBIE
code, the submission setting up the ledger schedule the schedule engine pays, and the
payments it made shown in payment-details; every response against the official document."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from aspsp.ledger import schedules
from aspsp.ledger import services as ledger
from aspsp.ledger.models import ScheduledPayment, StandingOrder
from aspsp.ledger.money import Money
from tests.conftest import OBIE_SPECS
from tests.contract import validate_response
from tests.integration.pis.conftest import (OUTSIDE_PAYEE, PISP, codes, domestic_consent_body,
                                            idem, payment_body)

SPEC = OBIE_SPECS / "v3.1.11" / "payment-initiation-openapi.json"
SCHEDULED = f"{PISP}/domestic-scheduled-payment-consents"
SCHEDULED_PAYMENTS = f"{PISP}/domestic-scheduled-payments"
STANDING = f"{PISP}/domestic-standing-order-consents"
STANDING_ORDERS = f"{PISP}/domestic-standing-orders"


def scheduled_body(when: str = "2026-06-20T10:00:00+00:00", amount: str = "15.00") -> dict:
    body = domestic_consent_body(amount, RequestedExecutionDateTime=when)
    body["Data"]["Permission"] = "Create"
    return body


def standing_body(**initiation) -> dict:
    return {"Data": {"Permission": "Create", "Initiation": {
        "Frequency": "IntrvlMnthDay:01:31", "Reference": "RENT",
        "NumberOfPayments": "3", "FirstPaymentDateTime": "2026-06-30T09:00:00+00:00",
        "FirstPaymentAmount": {"Amount": "20.00", "Currency": "GBP"},
        "CreditorAccount": dict(OUTSIDE_PAYEE), **initiation}},
        "Risk": {"PaymentContextCode": "PartyToParty"}}


def check(method: str, path: str, response, status: int) -> None:
    assert response.status_code == status, (path, response.get_json())
    validate_response(SPEC, path.removeprefix(PISP), method, status, response.get_json())


def post(tpp, path: str, body: dict):
    return tpp.call("POST", path, token=tpp.token(scope="payments"), json=body, headers=idem())


def approved(tpp, customer, path: str, body: dict, approve) -> tuple[str, str]:
    created = post(tpp, path, body)
    check("POST", path, created, 201)
    consent_id = created.get_json()["Data"]["ConsentId"]
    approve(consent_id, customer)
    token = tpp.token(scope="payments", grant_type="authorization_code",
                      consent_id=consent_id, psu=customer.psu)
    return consent_id, token


def submit(tpp, path: str, token: str, body: dict):
    return tpp.call("POST", path, token=token, json=body, headers=idem())


def test_a_scheduled_payment_is_set_up_then_paid_on_its_working_day(
        pisp, payer, approve, platform, clock):
    body = scheduled_body("2026-06-20T10:00:00+00:00")     # a Saturday
    consent_id, token = approved(pisp, payer, SCHEDULED, body, approve)
    check("GET", f"{SCHEDULED}/{consent_id}",
          pisp.call("GET", f"{SCHEDULED}/{consent_id}", token=pisp.token(scope="payments")),
          200)
    response = submit(pisp, SCHEDULED_PAYMENTS, token, payment_body(consent_id, body))
    check("POST", SCHEDULED_PAYMENTS, response, 201)
    data = response.get_json()["Data"]
    assert data["Status"] == "InitiationCompleted"
    payment_id = data["DomesticScheduledPaymentId"]
    with platform.uow() as uow:
        row = uow.session.scalars(select(ScheduledPayment)).one()
        assert row.amount_minor == 1500 and row.reference == "INV-42"

    clock.advance(timedelta(days=8))
    with platform.uow() as uow:
        executed = schedules.run_due(uow, clock.now())
    assert [e.due.date().isoformat() for e in executed] == ["2026-06-22"]   # the Monday
    details = pisp.call("GET", f"{SCHEDULED_PAYMENTS}/{payment_id}/payment-details",
                        token=pisp.token(scope="payments"))
    check("GET", f"{SCHEDULED_PAYMENTS}/{payment_id}/payment-details", details, 200)
    steps = details.get_json()["Data"]["PaymentStatus"]
    assert [s["Status"] for s in steps] == ["Pending", "Accepted",
                                            "AcceptedSettlementCompleted"]
    assert steps[1]["StatusDetail"]["Status"] == "InitiationCompleted"
    check("GET", f"{SCHEDULED_PAYMENTS}/{payment_id}",
          pisp.call("GET", f"{SCHEDULED_PAYMENTS}/{payment_id}",
                    token=pisp.token(scope="payments")), 200)
    with platform.uow() as uow:
        balances = {b.type: b.amount for b in ledger.balances(uow, payer.account_ids[0],
                                                              now=clock.now())}
        assert balances["InterimBooked"] == Money.of("85.00", "GBP")


def test_a_standing_order_is_set_up_and_pays_each_month_end(pisp, payer, approve, platform,
                                                            clock):
    body = standing_body()
    consent_id, token = approved(pisp, payer, STANDING, body, approve)
    check("GET", f"{STANDING}/{consent_id}",
          pisp.call("GET", f"{STANDING}/{consent_id}", token=pisp.token(scope="payments")),
          200)
    response = submit(pisp, STANDING_ORDERS, token, payment_body(consent_id, body))
    check("POST", STANDING_ORDERS, response, 201)
    order_id = response.get_json()["Data"]["DomesticStandingOrderId"]
    with platform.uow() as uow:
        order = uow.session.scalars(select(StandingOrder)).one()
        assert (order.frequency, order.number_of_payments) == ("IntrvlMnthDay:01:31", 3)

    clock.advance(timedelta(days=80))
    with platform.uow() as uow:
        executed = schedules.run_due(uow, clock.now())
    # 30 June (Tue), 31 July (Fri), 31 August 2026 is the summer bank holiday: 1 September
    assert [e.due.date().isoformat() for e in executed] == ["2026-06-30", "2026-07-31",
                                                            "2026-09-01"]
    details = pisp.call("GET", f"{STANDING_ORDERS}/{order_id}/payment-details",
                        token=pisp.token(scope="payments"))
    check("GET", f"{STANDING_ORDERS}/{order_id}/payment-details", details, 200)
    assert [s["Status"] for s in details.get_json()["Data"]["PaymentStatus"]] == \
        ["Pending", "Accepted"] + ["AcceptedSettlementCompleted"] * 3
    check("GET", f"{STANDING_ORDERS}/{order_id}",
          pisp.call("GET", f"{STANDING_ORDERS}/{order_id}",
                    token=pisp.token(scope="payments")), 200)


def test_a_standing_order_of_another_frequency_than_its_consent_is_refused(
        pisp, payer, approve):
    """FCS OB-301-DOP-101400: a standing order whose frequency is not the consent's."""
    body = standing_body()
    consent_id, token = approved(pisp, payer, STANDING, body, approve)
    changed = payment_body(consent_id, body)
    changed["Data"]["Initiation"]["Frequency"] = "EvryDay"
    response = submit(pisp, STANDING_ORDERS, token, changed)
    check("POST", STANDING_ORDERS, response, 400)
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]


BAD_STANDING = [
    ("a frequency that does not parse", {"Frequency": "EvryFortnight"},
     "UK.OBIE.Field.Invalid", "Data.Initiation.Frequency"),
    ("a month day out of range", {"Frequency": "IntrvlMnthDay:01:32"},
     "UK.OBIE.Field.Invalid", "Data.Initiation.Frequency"),
    ("both NumberOfPayments and FinalPaymentDateTime",
     {"FinalPaymentDateTime": "2026-12-31T09:00:00+00:00"}, "UK.OBIE.Field.Unexpected",
     "Data.Initiation.FinalPaymentDateTime"),
    ("a final amount of an open-ended order", {
        "NumberOfPayments": None, "FinalPaymentAmount": {"Amount": "1.00", "Currency": "GBP"}},
     "UK.OBIE.Field.Unexpected", "Data.Initiation.FinalPaymentAmount"),
    ("NumberOfPayments not a number", {"NumberOfPayments": "three"}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.NumberOfPayments"),
    ("NumberOfPayments zero", {"NumberOfPayments": "0"}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.NumberOfPayments"),
    ("a first payment in the past", {"FirstPaymentDateTime": "2026-06-14T09:00:00+00:00"},
     "UK.OBIE.Field.InvalidDate", "Data.Initiation.FirstPaymentDateTime"),
    ("a final payment before the first", {
        "NumberOfPayments": None, "FinalPaymentDateTime": "2026-06-20T09:00:00+00:00"},
     "UK.OBIE.Field.InvalidDate", "Data.Initiation.FinalPaymentDateTime"),
    ("a recurring amount in euros", {"RecurringPaymentAmount": {"Amount": "1.00",
                                                               "Currency": "EUR"}},
     "UK.OBIE.Unsupported.Currency", "Data.Initiation.RecurringPaymentAmount.Currency"),
    ("a first amount of zero", {"FirstPaymentAmount": {"Amount": "0", "Currency": "GBP"}},
     "UK.OBIE.Field.Invalid", "Data.Initiation.FirstPaymentAmount.Amount"),
]


@pytest.mark.parametrize("change,code,path", [b[1:] for b in BAD_STANDING],
                         ids=[b[0] for b in BAD_STANDING])
def test_bad_standing_orders_are_refused(pisp, change, code, path):
    body = standing_body()
    for name, value in change.items():
        if value is None:
            body["Data"]["Initiation"].pop(name)
        else:
            body["Data"]["Initiation"][name] = value
    response = post(pisp, STANDING, body)
    check("POST", STANDING, response, 400)
    assert (code, path) in [(e["ErrorCode"], e.get("Path"))
                            for e in response.get_json()["Errors"]], response.get_json()


def test_a_scheduled_payment_in_the_past_is_refused(pisp):
    response = post(pisp, SCHEDULED, scheduled_body("2026-06-14T10:00:00+00:00"))
    check("POST", SCHEDULED, response, 400)
    assert codes(response) == ["UK.OBIE.Field.InvalidDate"]


def test_a_scheduled_payment_needs_its_permission(pisp):
    body = scheduled_body()
    del body["Data"]["Permission"]
    response = post(pisp, SCHEDULED, body)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Field.Missing"]


def test_a_scheduled_consent_is_not_a_domestic_payment_consent(pisp, payer, approve):
    """Another type's consent: its token cannot submit a domestic payment."""
    body = scheduled_body()
    consent_id, token = approved(pisp, payer, SCHEDULED, body, approve)
    domestic = payment_body(consent_id, domestic_consent_body())
    response = submit(pisp, f"{PISP}/domestic-payments", token, domestic)
    assert response.status_code == 403
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]
