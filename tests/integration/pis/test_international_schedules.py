"""International scheduled payments and international standing orders (OBIE v3.1.11): every
endpoint against the official OpenAPI file; bad input with its exact code and nothing written;
the submission that sets up a ledger schedule in the instructed currency, seen at once in the
AIS `scheduled-payments` and `standing-orders`; and the schedule engine converting each
payment when it is made, across a sandbox clock moved forward: an Agreed contract at its rate,
Actual and Indicative at the bank's rate of that moment (the table changes in between here),
the rate recorded on the execution and on the ledger entry, the debit in the account's own
currency in its `transactions`, and the ledger reconciled (`flask ledger reconcile`).

The test clock starts on Monday 2026-06-15 (tests/conftest.py).
"""
from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from aspsp.ledger import schedules
from aspsp.ledger.models import (JournalEntry, Payment, ScheduledPayment, ScheduleExecution,
                                 StandingOrder)
from aspsp.pis import fx
from consent.models import Consent
from tests.conftest import OBIE_SPECS
from tests.contract import validate_response
from tests.integration.ais.conftest import data_of, grant  # noqa: F401  (fixture)
from tests.integration.consent.conftest import aisp  # noqa: F401  (fixture)
from tests.integration.pis.conftest import PISP, codes, idem, payment_body

SPEC = OBIE_SPECS / "v3.1.11" / "payment-initiation-openapi.json"
SCHEDULED = f"{PISP}/international-scheduled-payment-consents"
SCHEDULED_PAYMENTS = f"{PISP}/international-scheduled-payments"
STANDING = f"{PISP}/international-standing-order-consents"
STANDING_ORDERS = f"{PISP}/international-standing-orders"
GERMAN_PAYEE = {"SchemeName": "UK.OBIE.IBAN", "Identification": "DE89370400440532013000",
                "Name": "Conformance Creditor GmbH"}
AIS_READ = ["ReadAccountsDetail", "ReadScheduledPaymentsDetail", "ReadStandingOrdersDetail",
            "ReadTransactionsDebits", "ReadTransactionsDetail"]
AGREED = {"UnitCurrency": "GBP", "RateType": "Agreed", "ExchangeRate": 1.16,
          "ContractIdentification": "FXC-SANDBOX-GBPEUR-1"}


@pytest.fixture
def db_url(sqlite_url) -> str:
    """One database: nothing here is database-specific (the schedule engine's races are
    tests/integration/ledger's, on PostgreSQL)."""
    return sqlite_url


def scheduled_body(amount: str = "116.50", currency: str = "EUR", *,
                   when: str = "2026-06-20T10:00:00+00:00", transfer: str = "EUR",
                   data=None, **initiation) -> dict:
    """The FCS manifest's minimalInternationalScheduledPaymentConsent and `initiation`."""
    return {"Data": {"Permission": "Create", **(data or {}), "Initiation": {
        "RequestedExecutionDateTime": when,
        "InstructionIdentification": "instr-" + uuid.uuid4().hex[:10],
        "EndToEndIdentification": "e2e-internat-sched-pay",
        "CurrencyOfTransfer": transfer,
        "InstructedAmount": {"Amount": amount, "Currency": currency},
        "CreditorAccount": dict(GERMAN_PAYEE), **initiation}},
        "Risk": {"PaymentContextCode": "PartyToParty"}}


def standing_body(amount: str = "23.30", currency: str = "EUR", **initiation) -> dict:
    body = {"Data": {"Permission": "Create", "Initiation": {
        "Frequency": "IntrvlMnthDay:01:30", "Reference": "SUBS", "NumberOfPayments": "2",
        "FirstPaymentDateTime": "2026-06-30T09:00:00+00:00", "CurrencyOfTransfer": "EUR",
        "InstructedAmount": {"Amount": amount, "Currency": currency},
        "CreditorAccount": dict(GERMAN_PAYEE), **initiation}},
        "Risk": {"PaymentContextCode": "PartyToParty"}}
    body["Data"]["Initiation"] = {k: v for k, v in body["Data"]["Initiation"].items()
                                  if v is not None}
    return body


def check(method: str, path: str, response, status: int) -> dict:
    assert response.status_code == status, (path, response.get_json())
    validate_response(SPEC, path.removeprefix(PISP), method, status,
                      response.get_json(silent=True))
    return response.get_json()


def post(tpp, path: str, body: dict):
    return tpp.call("POST", path, token=tpp.token(scope="payments"), json=body, headers=idem())


def get(tpp, path: str):
    return tpp.call("GET", path, token=tpp.token(scope="payments"))


def approved(tpp, customer, path: str, body: dict, approve) -> tuple[str, str]:
    created = post(tpp, path, body)
    assert created.status_code == 201, created.get_json()
    consent_id = created.get_json()["Data"]["ConsentId"]
    approve(consent_id, customer)
    return consent_id, tpp.token(scope="payments", grant_type="authorization_code",
                                 consent_id=consent_id, psu=customer.psu)


def submit(tpp, path: str, token: str, body: dict):
    return tpp.call("POST", path, token=token, json=body, headers=idem())


def count(platform, model) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(model))


def run_schedules(platform, clock, days: int):
    clock.advance(timedelta(days=days))
    with platform.uow() as uow:
        return schedules.run_due(uow, clock.now())


def reconciled(app) -> str:
    result = app.test_cli_runner().invoke(args=["ledger", "reconcile"])
    assert result.exit_code == 0, result.output
    return result.output


# --- the contract ------------------------------------------------------------------------------
def test_every_international_scheduled_payment_endpoint_matches_the_contract(pisp, payer,
                                                                            approve):
    body = scheduled_body(
        "50.00", LocalInstrument="UK.OBIE.SWIFT", InstructionPriority="Normal",
        Purpose="GDDS", ExtendedPurpose="Goods", ChargeBearer="Shared",
        DestinationCountryCode="DE",
        ExchangeRateInformation={"UnitCurrency": "GBP", "RateType": "Actual"},
        Creditor={"Name": "Conformance Creditor GmbH",
                  "PostalAddress": {"TownName": "Frankfurt", "Country": "DE"}},
        CreditorAgent={"SchemeName": "UK.OBIE.BICFI", "Identification": "COBADEFFXXX"},
        RemittanceInformation={"Reference": "INV-7", "Unstructured": "invoice 7"},
        data={"ReadRefundAccount": "No",
              "Authorisation": {"AuthorisationType": "Single",
                                "CompletionDateTime": "2099-01-01T00:00:00+00:00"}})
    created = check("POST", SCHEDULED, post(pisp, SCHEDULED, body), 201)["Data"]
    assert created["Status"] == "AwaitingAuthorisation"
    assert created["Initiation"] == body["Data"]["Initiation"]
    assert created["ExchangeRateInformation"]["RateType"] == "Actual"
    assert created["ExchangeRateInformation"]["ExchangeRate"] == 1.165
    consent_id = created["ConsentId"]
    approve(consent_id, payer)
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    read = check("GET", f"{SCHEDULED}/{consent_id}", get(pisp, f"{SCHEDULED}/{consent_id}"),
                 200)["Data"]
    assert read["Status"] == "Authorised" and read["Debtor"]["Identification"] == \
        payer.sort_codes[0]
    funds = f"{SCHEDULED}/{consent_id}/funds-confirmation"
    assert check("GET", funds, pisp.call("GET", funds, token=token), 200)[
        "Data"]["FundsAvailableResult"]["FundsAvailable"] is True   # 50 EUR of 100 GBP
    payment = check("POST", SCHEDULED_PAYMENTS,
                    submit(pisp, SCHEDULED_PAYMENTS, token, payment_body(consent_id, body)),
                    201)["Data"]
    assert payment["Status"] == "InitiationCompleted"
    assert payment["ExchangeRateInformation"]["RateType"] == "Actual"
    payment_id = payment["InternationalScheduledPaymentId"]
    check("GET", f"{SCHEDULED_PAYMENTS}/{payment_id}",
          get(pisp, f"{SCHEDULED_PAYMENTS}/{payment_id}"), 200)
    details = check("GET", f"{SCHEDULED_PAYMENTS}/{payment_id}/payment-details",
                    get(pisp, f"{SCHEDULED_PAYMENTS}/{payment_id}/payment-details"), 200)
    assert [s["Status"] for s in details["Data"]["PaymentStatus"]] == ["Pending", "Accepted"]
    assert check("GET", f"{SCHEDULED}/{consent_id}", get(pisp, f"{SCHEDULED}/{consent_id}"),
                 200)["Data"]["Status"] == "Consumed"
    check("POST", SCHEDULED, post(pisp, SCHEDULED, scheduled_body(transfer="XYZ")), 400)
    check("GET", f"{SCHEDULED_PAYMENTS}/nope", get(pisp, f"{SCHEDULED_PAYMENTS}/nope"), 400)


def test_every_international_standing_order_endpoint_matches_the_contract(pisp, payer,
                                                                         approve):
    body = standing_body(
        Purpose="GDDS", ExtendedPurpose="Goods", ChargeBearer="BorneByDebtor",
        DestinationCountryCode="DE", NumberOfPayments=None,
        FinalPaymentDateTime="2026-12-30T09:00:00+00:00",
        Creditor={"Name": "Conformance Creditor GmbH"},
        CreditorAgent={"SchemeName": "UK.OBIE.BICFI", "Identification": "COBADEFFXXX"},
        SupplementaryData={"any": "thing"})
    created = check("POST", STANDING, post(pisp, STANDING, body), 201)["Data"]
    assert created["Initiation"] == body["Data"]["Initiation"]
    assert "ExchangeRateInformation" not in created      # v3.1.11 has none for these
    consent_id = created["ConsentId"]
    check("GET", f"{STANDING}/{consent_id}", get(pisp, f"{STANDING}/{consent_id}"), 200)
    approve(consent_id, payer)
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    assert pisp.call("GET", f"{STANDING}/{consent_id}/funds-confirmation",
                     token=token).status_code == 404       # no such operation for these
    order = check("POST", STANDING_ORDERS,
                  submit(pisp, STANDING_ORDERS, token, payment_body(consent_id, body)),
                  201)["Data"]
    assert order["Status"] == "InitiationCompleted"
    order_id = order["InternationalStandingOrderId"]
    check("GET", f"{STANDING_ORDERS}/{order_id}", get(pisp, f"{STANDING_ORDERS}/{order_id}"),
          200)
    check("GET", f"{STANDING_ORDERS}/{order_id}/payment-details",
          get(pisp, f"{STANDING_ORDERS}/{order_id}/payment-details"), 200)
    check("POST", STANDING, post(pisp, STANDING, standing_body(Frequency="Fortnightly")), 400)
    check("GET", f"{STANDING_ORDERS}/nope", get(pisp, f"{STANDING_ORDERS}/nope"), 400)


# --- bad input ---------------------------------------------------------------------------------
BAD_SCHEDULED = [
    ({"CurrencyOfTransfer": "XYZ"}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.CurrencyOfTransfer"),
    ({"CurrencyOfTransfer": "NOK"}, "UK.OBIE.Unsupported.Currency",
     "Data.Initiation.CurrencyOfTransfer"),
    ({"InstructedAmount": {"Amount": "10.001", "Currency": "EUR"}}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Amount"),
    ({"InstructedAmount": {"Amount": "100.5", "Currency": "JPY"}}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Amount"),
    ({"RequestedExecutionDateTime": "2026-06-14T10:00:00+00:00"},
     "UK.OBIE.Field.InvalidDate", "Data.Initiation.RequestedExecutionDateTime"),
    ({"CreditorAccount": {**GERMAN_PAYEE, "Identification": "DE89370400440532013001"}},
     "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAccount.Identification"),
    ({"CreditorAgent": {"SchemeName": "UK.OBIE.BICFI", "Identification": "NOTABIC"}},
     "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAgent.Identification"),
    ({"ExchangeRateInformation": {"UnitCurrency": "GBP", "RateType": "Agreed",
                                  "ExchangeRate": 1.16}},
     "UK.OBIE.Field.Expected", "Data.Initiation.ExchangeRateInformation.ContractIdentification"),
]
BAD_STANDING = [
    ({"Frequency": "EvryFortnight"}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.Frequency"),
    ({"FirstPaymentDateTime": "2026-06-01T09:00:00+00:00"}, "UK.OBIE.Field.InvalidDate",
     "Data.Initiation.FirstPaymentDateTime"),
    ({"FinalPaymentDateTime": "2026-12-30T09:00:00+00:00"}, "UK.OBIE.Field.Unexpected",
     "Data.Initiation.FinalPaymentDateTime"),
    ({"NumberOfPayments": "two"}, "UK.OBIE.Field.Invalid", "Data.Initiation.NumberOfPayments"),
    ({"InstructedAmount": {"Amount": "5.00", "Currency": "AUD"}},
     "UK.OBIE.Unsupported.Currency", "Data.Initiation.InstructedAmount.Currency"),
    ({"CreditorAccount": {"SchemeName": "UK.OBIE.PAN", "Identification": "4111111111111111",
                          "Name": "Card"}},
     "UK.OBIE.Unsupported.Scheme", "Data.Initiation.CreditorAccount.SchemeName"),
    ({"ExchangeRateInformation": {"UnitCurrency": "GBP", "RateType": "Indicative"}},
     "UK.OBIE.Field.Unexpected", "Data.Initiation.ExchangeRateInformation"),
]


@pytest.mark.parametrize("path, body, change, code, where", [
    (SCHEDULED, scheduled_body, *bad) for bad in BAD_SCHEDULED] + [
    (STANDING, standing_body, *bad) for bad in BAD_STANDING])
def test_bad_input_is_refused_with_its_code_and_nothing_is_written(pisp, platform, path, body,
                                                                  change, code, where):
    sent = body()
    sent["Data"]["Initiation"].update(change)
    response = post(pisp, path, sent)
    check("POST", path, response, 400)
    assert (code, where) in [(e["ErrorCode"], e.get("Path")) for e in
                             response.get_json()["Errors"]], response.get_json()
    assert count(platform, Consent) == 0


def test_a_submission_unlike_its_consent_is_refused_and_sets_up_nothing(pisp, payer, approve,
                                                                        platform):
    body = standing_body()
    consent_id, token = approved(pisp, payer, STANDING, body, approve)
    other_risk = payment_body(consent_id, body)
    other_risk["Risk"] = {"PaymentContextCode": "EcommerceGoods"}
    response = submit(pisp, STANDING_ORDERS, token, other_risk)
    check("POST", STANDING_ORDERS, response, 400)
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]
    other_day = payment_body(consent_id, body)
    other_day["Data"]["Initiation"]["FirstPaymentDateTime"] = "2026-07-30T09:00:00+00:00"
    assert codes(submit(pisp, STANDING_ORDERS, token, other_day)) == [
        "UK.OBIE.Resource.ConsentMismatch"]
    assert count(platform, StandingOrder) == 0
    assert submit(pisp, STANDING_ORDERS, token,
                  payment_body(consent_id, body)).status_code == 201
    again = submit(pisp, STANDING_ORDERS, token, payment_body(consent_id, body))
    assert again.status_code == 400 and codes(again) == ["UK.OBIE.Resource.InvalidConsentStatus"]
    assert count(platform, StandingOrder) == 1


def test_an_actual_quote_refuses_a_submission_after_it_expired(pisp, payer, approve, platform,
                                                               clock):
    body = scheduled_body(ExchangeRateInformation={"UnitCurrency": "GBP",
                                                   "RateType": "Actual"})
    consent_id, _ = approved(pisp, payer, SCHEDULED, body, approve)
    clock.advance(timedelta(minutes=16))
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    response = submit(pisp, SCHEDULED_PAYMENTS, token, payment_body(consent_id, body))
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Rules.AfterCutOffDateTime"]
    assert count(platform, ScheduledPayment) == 0


# --- execution ---------------------------------------------------------------------------------
def test_a_scheduled_payment_is_converted_at_the_rate_of_its_day(pisp, make_payer, approve,
                                                                 platform, clock, grant, aisp,
                                                                 app, monkeypatch):
    payer = make_payer("500.00")
    body = scheduled_body("116.50", "EUR")            # Indicative: no rate asked for
    consent_id, token = approved(pisp, payer, SCHEDULED, body, approve)
    quoted = get(pisp, f"{SCHEDULED}/{consent_id}").get_json()["Data"]
    assert quoted["ExchangeRateInformation"] == {"UnitCurrency": "GBP", "ExchangeRate": 1.165,
                                                 "RateType": "Indicative"}
    created = submit(pisp, SCHEDULED_PAYMENTS, token, payment_body(consent_id, body))
    payment_id = check("POST", SCHEDULED_PAYMENTS, created, 201)[
        "Data"]["InternationalScheduledPaymentId"]

    ais = grant(aisp, payer, AIS_READ)                 # at once, in the instructed currency
    listed = data_of(ais.get(f"/accounts/{payer.account_ids[0]}/scheduled-payments"))[
        "ScheduledPayment"]
    assert [(s["InstructedAmount"], s["ScheduledPaymentDateTime"][:10]) for s in listed] == [
        ({"Amount": "116.50", "Currency": "EUR"}, "2026-06-20")]

    # The market moves before the day: 1 GBP buys 1.25 EUR on Monday 22 June (the 20th is a
    # Saturday); the payment costs 93.20 GBP, not the 100.00 quoted.
    monkeypatch.setitem(fx.RATES, "EUR", Decimal("1.2500"))
    executed = run_schedules(platform, clock, 8)
    assert [e.due.date().isoformat() for e in executed] == ["2026-06-22"]
    assert executed[0].exchange_rate == {
        "UnitCurrency": "GBP", "ExchangeRate": 1.25, "RateType": "Indicative",
        "DebitedAmount": {"Amount": "93.20", "Currency": "GBP"}}
    with platform.uow() as uow:
        payment = uow.session.scalars(select(Payment).where(
            Payment.end_to_end_identification == "e2e-internat-sched-pay")).one()
        assert (payment.amount_minor, payment.currency) == (9320, "GBP")
        assert uow.session.get(JournalEntry, payment.entry_pk).description == (
            "International payment of 116.50 EUR, 93.20 GBP debited at 1 GBP = 1.25 "
            "(Indicative)")
    data = get(pisp, f"{SCHEDULED_PAYMENTS}/{payment_id}").get_json()["Data"]
    assert data["ExchangeRateInformation"] == {"UnitCurrency": "GBP", "ExchangeRate": 1.25,
                                               "RateType": "Indicative"}
    ais = grant(aisp, payer, AIS_READ)
    debits = [t for t in data_of(ais.get(f"/accounts/{payer.account_ids[0]}/transactions"))[
        "Transaction"] if t["CreditDebitIndicator"] == "Debit"]
    assert sorted((t["Amount"]["Amount"], t["ValueDateTime"][:10]) for t in debits) == [
        ("15.00", "2026-06-22"), ("93.20", "2026-06-22")]     # and the bank's SWIFT charge
    assert data_of(ais.get(f"/accounts/{payer.account_ids[0]}/scheduled-payments")).get(
        "ScheduledPayment", []) == []
    assert "no problems" in reconciled(app)


def test_an_agreed_contract_is_the_rate_applied_whatever_the_market(pisp, make_payer, approve,
                                                                    platform, clock,
                                                                    monkeypatch):
    payer = make_payer("500.00")
    body = scheduled_body("232.00", ExchangeRateInformation=dict(AGREED))
    consent_id, token = approved(pisp, payer, SCHEDULED, body, approve)
    submit(pisp, SCHEDULED_PAYMENTS, token, payment_body(consent_id, body))
    monkeypatch.setitem(fx.RATES, "EUR", Decimal("1.3000"))
    executed = run_schedules(platform, clock, 8)
    assert executed[0].exchange_rate["DebitedAmount"] == {"Amount": "200.00",
                                                          "Currency": "GBP"}
    assert executed[0].exchange_rate["ContractIdentification"] == "FXC-SANDBOX-GBPEUR-1"


def test_a_standing_order_converts_each_instalment_on_its_day(pisp, make_payer, approve,
                                                             platform, clock, grant, aisp, app,
                                                             monkeypatch):
    payer = make_payer("500.00")
    body = standing_body("23.30", "EUR")            # 30 June and 30 July 2026
    consent_id, token = approved(pisp, payer, STANDING, body, approve)
    order_id = submit(pisp, STANDING_ORDERS, token, payment_body(consent_id, body)).get_json()[
        "Data"]["InternationalStandingOrderId"]
    ais = grant(aisp, payer, AIS_READ)
    listed = data_of(ais.get(f"/accounts/{payer.account_ids[0]}/standing-orders"))[
        "StandingOrder"]
    assert [(s["Frequency"], s["NextPaymentAmount"], s["NextPaymentDateTime"][:10])
            for s in listed] == [("IntrvlMnthDay:01:30", {"Amount": "23.30", "Currency": "EUR"},
                                  "2026-06-30")]

    first = run_schedules(platform, clock, 16)                  # 1 July: 23.30 / 1.165
    monkeypatch.setitem(fx.RATES, "EUR", Decimal("1.1000"))
    second = run_schedules(platform, clock, 30)                 # 31 July: 23.30 / 1.10
    assert [(e.due.date().isoformat(), e.exchange_rate["ExchangeRate"],
             e.exchange_rate["DebitedAmount"]["Amount"]) for e in first + second] == [
        ("2026-06-30", 1.165, "20.00"), ("2026-07-30", 1.1, "21.18")]
    with platform.uow() as uow:
        rates = uow.session.scalars(select(ScheduleExecution.exchange_rate)
                                    .order_by(ScheduleExecution.instalment)).all()
        assert [r["RateType"] for r in rates] == ["Indicative", "Indicative"]
        descriptions = uow.session.scalars(select(JournalEntry.description).where(
            JournalEntry.description.like("International payment%"))
            .order_by(JournalEntry.id)).all()
    assert descriptions == [
        "International payment of 23.30 EUR, 20.00 GBP debited at 1 GBP = 1.165 (Indicative)",
        "International payment of 23.30 EUR, 21.18 GBP debited at 1 GBP = 1.1 (Indicative)"]
    details = get(pisp, f"{STANDING_ORDERS}/{order_id}/payment-details").get_json()
    assert [s["Status"] for s in details["Data"]["PaymentStatus"]] == \
        ["Pending", "Accepted"] + ["AcceptedSettlementCompleted"] * 2
    ais = grant(aisp, payer, AIS_READ)
    debits = [t["Amount"]["Amount"] for t in data_of(ais.get(
        f"/accounts/{payer.account_ids[0]}/transactions"))["Transaction"]
        if t["CreditDebitIndicator"] == "Debit"]
    assert sorted(debits) == ["15.00", "15.00", "20.00", "21.18"]   # a charge with each
    assert "no problems" in reconciled(app)


def test_not_enough_money_on_the_day_rejects_the_instalment(pisp, make_payer, approve,
                                                            platform, clock):
    payer = make_payer("10.00")
    body = scheduled_body("116.50", "EUR")
    consent_id, token = approved(pisp, payer, SCHEDULED, body, approve)
    payment_id = submit(pisp, SCHEDULED_PAYMENTS, token, payment_body(consent_id, body)
                        ).get_json()["Data"]["InternationalScheduledPaymentId"]
    executed = run_schedules(platform, clock, 8)
    assert [(e.status, e.exchange_rate) for e in executed] == [("Rejected", None)]
    details = get(pisp, f"{SCHEDULED_PAYMENTS}/{payment_id}/payment-details").get_json()
    last = details["Data"]["PaymentStatus"][-1]
    assert last["Status"] == "Rejected"
    assert "Insufficient funds" in last["StatusDetail"]["StatusReasonDescription"]
    assert count(platform, Payment) == 0


def test_the_approval_page_shows_the_schedule_and_the_rate(pisp, platform):
    """consent.screens reads the consent as stored: the standing order's indicative quote is
    kept for the page though its API response has no place for it."""
    from consent import screens

    body = copy.deepcopy(standing_body())
    consent_id = post(pisp, STANDING, body).get_json()["Data"]["ConsentId"]
    with platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(
            Consent.consent_id == consent_id)).one()
        view = screens.payment_of(consent)
    facts = {f.label: f.value for f in view.facts}
    assert view.what == "an international standing order" and view.amount == "€23.30"
    assert facts["First payment"] == "30 June 2026" and facts["Ends"] == "After 2 payments"
    assert facts["Exchange rate"] == "1 GBP = 1.165 EUR, indicative rate"
    assert view.sign_amount == "23.30" and view.to_sign.currency == "EUR"   # the code signs it


def test_the_new_posts_are_signed_and_idempotent(pisp, payer, approve, platform):
    body = standing_body()
    unsigned = pisp.call("POST", STANDING, token=pisp.token(scope="payments"), json=body,
                         headers=idem(), sign=False)
    assert unsigned.status_code == 400 and codes(unsigned) == ["UK.OBIE.Signature.Missing"]
    key = idem()
    first = pisp.call("POST", STANDING, token=pisp.token(scope="payments"), json=body,
                      headers=key)
    again = pisp.call("POST", STANDING, token=pisp.token(scope="payments"), json=body,
                      headers=key)
    assert first.status_code == again.status_code == 201
    assert again.get_json()["Data"]["ConsentId"] == first.get_json()["Data"]["ConsentId"]
    assert count(platform, Consent) == 1
    consent_id = first.get_json()["Data"]["ConsentId"]
    approve(consent_id, payer)
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    key = idem()
    orders = [pisp.call("POST", STANDING_ORDERS, token=token,
                        json=payment_body(consent_id, body), headers=key) for _ in range(2)]
    assert [o.status_code for o in orders] == [201, 201]
    assert len({o.get_json()["Data"]["InternationalStandingOrderId"] for o in orders}) == 1
    assert count(platform, StandingOrder) == 1
    assert orders[0].headers["x-jws-signature"].count(".") == 2       # a signed response
