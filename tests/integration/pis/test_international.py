"""International payments (OBIE v3.1.11): POST/GET /international-payment-consents (+ funds
confirmation), POST /international-payments, GET /international-payments/{id} and its
payment-details. Every response against the official OpenAPI file; the bank's exchange rate
quote (Agreed, Actual, Indicative) and its rules; bad input with its exact code and nothing
written; an execution that debits the converted amount in the account's own currency and
records the rate applied on the ledger entry (Celery runs eagerly here)."""
from __future__ import annotations

import copy
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from aspsp.ledger import services as ledger
from aspsp.ledger.models import JournalEntry, Payment
from aspsp.ledger.money import Money
from aspsp.pis import fx
from consent.models import Consent
from tests.conftest import OBIE_SPECS
from tests.contract import validate_response
from tests.integration.pis.conftest import PISP, Journey, codes, idem, payment_body

SPEC = OBIE_SPECS / "v3.1.11" / "payment-initiation-openapi.json"
CONSENTS = f"{PISP}/international-payment-consents"
PAYMENTS = f"{PISP}/international-payments"
GERMAN_PAYEE = {"SchemeName": "UK.OBIE.IBAN", "Identification": "DE89370400440532013000",
                "Name": "Conformance Creditor GmbH"}


def consent_body(amount: str = "100.00", currency: str = "EUR", *, transfer: str = "EUR",
                 data=None, **initiation) -> dict:
    """The FCS manifest's minimalInternationalPaymentConsent, and `initiation`'s members."""
    body = {"Data": {**(data or {}), "Initiation": {
        "InstructionIdentification": "instr-" + uuid.uuid4().hex[:10],
        "EndToEndIdentification": "e2e-internat-pay",
        "CurrencyOfTransfer": transfer,
        "InstructedAmount": {"Amount": amount, "Currency": currency},
        "CreditorAccount": dict(GERMAN_PAYEE), **initiation}},
        "Risk": {"PaymentContextCode": "PartyToParty"}}
    body["Data"]["Initiation"] = {k: v for k, v in body["Data"]["Initiation"].items()
                                  if v is not None}
    return body


def check(method: str, path: str, response, status: int) -> dict:
    assert response.status_code == status, (path, response.get_json())
    validate_response(SPEC, path.removeprefix(PISP), method, response.status_code,
                      response.get_json(silent=True))
    return response.get_json()


def create(tpp, body):
    return tpp.call("POST", CONSENTS, token=tpp.token(scope="payments"), json=body,
                    headers=idem())


@pytest.fixture
def international(approve):
    def run(tpp, customer, body, account_pk=None) -> Journey:
        response = create(tpp, body)
        assert response.status_code == 201, response.get_json()
        consent_id = response.get_json()["Data"]["ConsentId"]
        approve(consent_id, customer, account_pk)
        token = tpp.token(scope="payments", grant_type="authorization_code",
                          consent_id=consent_id, psu=customer.psu)
        return Journey(tpp, customer, consent_id, body, token)
    return run


def submit(j: Journey, body=None):
    return j.tpp.call("POST", PAYMENTS, token=j.token,
                      json=body or payment_body(j.consent_id, j.body), headers=idem())


def fresh_token(j: Journey) -> Journey:
    """The customer's token again (an access token lives less than a quote)."""
    j.token = j.tpp.token(scope="payments", grant_type="authorization_code",
                          consent_id=j.consent_id, psu=j.customer.psu)
    return j


def read(tpp, payment_id: str, suffix: str = ""):
    return tpp.call("GET", f"{PAYMENTS}/{payment_id}{suffix}", token=tpp.token(scope="payments"))


def booked(platform, clock, account_id: str) -> Money:
    with platform.uow() as uow:
        return {b.type: b.amount for b in ledger.balances(
            uow, account_id, now=clock.now())}["InterimBooked"]


def consents_of_type(platform) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(Consent).where(
            Consent.consent_type == "international-payment"))


# --- the contract ------------------------------------------------------------------------------
def test_every_international_endpoint_matches_the_contract(pisp, payer, international):
    body = consent_body(
        "50.00", LocalInstrument="UK.OBIE.SWIFT", InstructionPriority="Normal", Purpose="GDDS",
        ExtendedPurpose="Goods", ChargeBearer="Shared", DestinationCountryCode="DE",
        ExchangeRateInformation={"UnitCurrency": "GBP", "RateType": "Actual"},
        Creditor={"Name": "Conformance Creditor GmbH",
                  "PostalAddress": {"TownName": "Frankfurt", "Country": "DE"}},
        CreditorAgent={"SchemeName": "UK.OBIE.BICFI", "Identification": "COBADEFFXXX"},
        RemittanceInformation={"Reference": "INV-7", "Unstructured": "invoice 7"},
        SupplementaryData={"any": "thing"},
        data={"ReadRefundAccount": "No",
              "Authorisation": {"AuthorisationType": "Single",
                                "CompletionDateTime": "2099-01-01T00:00:00+00:00"}})
    created = check("POST", CONSENTS, create(pisp, body), 201)
    assert created["Data"]["Status"] == "AwaitingAuthorisation"
    assert created["Data"]["Initiation"] == body["Data"]["Initiation"]
    consent_id = created["Data"]["ConsentId"]
    check("GET", f"{CONSENTS}/{consent_id}",
          pisp.call("GET", f"{CONSENTS}/{consent_id}", token=pisp.token(scope="payments")), 200)

    j = international(pisp, payer, body)
    check("GET", f"{CONSENTS}/{j.consent_id}", pisp.call(
        "GET", f"{CONSENTS}/{j.consent_id}", token=pisp.token(scope="payments")), 200)
    funds = f"{CONSENTS}/{j.consent_id}/funds-confirmation"
    check("GET", funds, pisp.call("GET", funds, token=j.token), 200)
    payment = check("POST", PAYMENTS, submit(j), 201)
    payment_id = payment["Data"]["InternationalPaymentId"]
    check("GET", f"{PAYMENTS}/{payment_id}", read(pisp, payment_id), 200)
    check("GET", f"{PAYMENTS}/{payment_id}/payment-details",
          read(pisp, payment_id, "/payment-details"), 200)
    bad = create(pisp, consent_body(transfer="XYZ"))
    check("POST", CONSENTS, bad, 400)
    check("GET", f"{PAYMENTS}/nope", read(pisp, "nope"), 400)


# --- the exchange rate ---------------------------------------------------------------------
def test_an_actual_rate_is_quoted_with_an_expiry(pisp, clock):
    body = consent_body(ExchangeRateInformation={"UnitCurrency": "GBP", "RateType": "Actual"})
    data = create(pisp, body).get_json()["Data"]
    quote = data["ExchangeRateInformation"]
    assert quote["RateType"] == "Actual" and quote["UnitCurrency"] == "GBP"
    assert Decimal(str(quote["ExchangeRate"])) == fx.rate("GBP", "EUR") == Decimal("1.165")
    expires = quote["ExpirationDateTime"]
    assert expires.startswith((clock.now() + fx.QUOTE_TTL).isoformat()[:16])


def test_an_agreed_rate_is_the_contracts_without_an_expiry(pisp):
    body = consent_body(ExchangeRateInformation={
        "UnitCurrency": "GBP", "RateType": "Agreed", "ExchangeRate": 1.16,
        "ContractIdentification": "FXC-SANDBOX-GBPEUR-1"})
    quote = create(pisp, body).get_json()["Data"]["ExchangeRateInformation"]
    assert quote == {"UnitCurrency": "GBP", "ExchangeRate": 1.16, "RateType": "Agreed",
                     "ContractIdentification": "FXC-SANDBOX-GBPEUR-1"}


def test_an_indicative_rate_is_quoted_when_none_is_asked_for(pisp):
    quote = create(pisp, consent_body()).get_json()["Data"]["ExchangeRateInformation"]
    assert quote == {"UnitCurrency": "GBP", "ExchangeRate": 1.165, "RateType": "Indicative"}
    same = create(pisp, consent_body("10.00", "GBP", transfer="GBP")).get_json()["Data"]
    assert "ExchangeRateInformation" not in same        # nothing is exchanged


@pytest.mark.parametrize("info, code, path", [
    ({"UnitCurrency": "GBP", "RateType": "Agreed", "ExchangeRate": 1.16},
     "UK.OBIE.Field.Expected", "ContractIdentification"),
    ({"UnitCurrency": "GBP", "RateType": "Agreed",
      "ContractIdentification": "FXC-SANDBOX-GBPEUR-1"},
     "UK.OBIE.Field.Expected", "ExchangeRate"),
    ({"UnitCurrency": "GBP", "RateType": "Agreed", "ExchangeRate": 1.20,
      "ContractIdentification": "FXC-SANDBOX-GBPEUR-1"},
     "UK.OBIE.Field.Invalid", "ContractIdentification"),
    ({"UnitCurrency": "GBP", "RateType": "Agreed", "ExchangeRate": 1.16,
      "ContractIdentification": "FXC-UNKNOWN"},
     "UK.OBIE.Field.Invalid", "ContractIdentification"),
    ({"UnitCurrency": "GBP", "RateType": "Actual", "ExchangeRate": 1.16},
     "UK.OBIE.Field.Unexpected", "ExchangeRate"),
    ({"UnitCurrency": "GBP", "RateType": "Indicative", "ContractIdentification": "X-1"},
     "UK.OBIE.Field.Unexpected", "ContractIdentification"),
    ({"UnitCurrency": "ZZZ", "RateType": "Actual"}, "UK.OBIE.Field.Invalid", "UnitCurrency"),
    ({"UnitCurrency": "NOK", "RateType": "Actual"}, "UK.OBIE.Unsupported.Currency",
     "UnitCurrency"),
])
def test_exchange_rate_rules_are_enforced(pisp, platform, info, code, path):
    response = create(pisp, consent_body(ExchangeRateInformation=info))
    assert response.status_code == 400, response.get_json()
    assert [(e["ErrorCode"], e["Path"]) for e in response.get_json()["Errors"]] == [
        (code, f"Data.Initiation.ExchangeRateInformation.{path}")]
    assert consents_of_type(platform) == 0


# --- bad input ---------------------------------------------------------------------------------
BAD = [
    ({"CurrencyOfTransfer": "XYZ"}, "UK.OBIE.Field.Invalid", "Data.Initiation.CurrencyOfTransfer"),
    ({"CurrencyOfTransfer": "NOK"}, "UK.OBIE.Unsupported.Currency",
     "Data.Initiation.CurrencyOfTransfer"),
    ({"InstructedAmount": {"Amount": "10.001", "Currency": "EUR"}}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Amount"),
    ({"InstructedAmount": {"Amount": "0.00", "Currency": "EUR"}}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Amount"),
    ({"InstructedAmount": {"Amount": "10.00", "Currency": "ABC"}}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.InstructedAmount.Currency"),
    ({"InstructedAmount": {"Amount": "10.00", "Currency": "NOK"}},
     "UK.OBIE.Unsupported.Currency", "Data.Initiation.InstructedAmount.Currency"),
    ({"CreditorAccount": {**GERMAN_PAYEE, "Identification": "DE89370400440532013001"}},
     "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAccount.Identification"),
    ({"CreditorAccount": {**GERMAN_PAYEE, "SchemeName": "UK.OBIE.PAN"}},
     "UK.OBIE.Unsupported.Scheme", "Data.Initiation.CreditorAccount.SchemeName"),
    ({"CreditorAgent": {"SchemeName": "UK.OBIE.BICFI", "Identification": "NOTABIC!"}},
     "UK.OBIE.Field.Invalid", "Data.Initiation.CreditorAgent.Identification"),
    ({"CreditorAgent": {"SchemeName": "UK.OBIE.LEI", "Identification": "COBADEFFXXX"}},
     "UK.OBIE.Unsupported.Scheme", "Data.Initiation.CreditorAgent.SchemeName"),
    ({"CreditorAgent": {"Name": "Commerzbank"}}, "UK.OBIE.Field.Expected",
     "Data.Initiation.CreditorAgent"),
    ({"DestinationCountryCode": "FR"}, "UK.OBIE.Field.Invalid",
     "Data.Initiation.DestinationCountryCode"),
    ({"Purpose": "gd1"}, "UK.OBIE.Field.Invalid", "Data.Initiation.Purpose"),
    ({"LocalInstrument": "UK.OBIE.FPS"}, "UK.OBIE.Unsupported.LocalInstrument",
     "Data.Initiation.LocalInstrument"),
]


@pytest.mark.parametrize("change, code, path", BAD)
def test_bad_input_is_refused_with_its_code_and_nothing_is_written(pisp, platform, change,
                                                                   code, path):
    body = consent_body()
    body["Data"]["Initiation"].update(change)
    response = create(pisp, body)
    assert response.status_code == 400, response.get_json()
    assert [(e["ErrorCode"], e["Path"]) for e in response.get_json()["Errors"]] == [(code, path)]
    assert consents_of_type(platform) == 0


@pytest.mark.parametrize("change", [
    {"ChargeBearer": "Everybody"}, {"CurrencyOfTransfer": "eur"},
    {"ExchangeRateInformation": {"UnitCurrency": "GBP", "RateType": "Spot"}},
    {"ExchangeRateInformation": {"UnitCurrency": "GBP", "RateType": "Agreed",
                                 "ExchangeRate": "1.16", "ContractIdentification": "X"}},
])
def test_what_the_contract_forbids_is_refused(pisp, platform, change):
    body = consent_body()
    body["Data"]["Initiation"].update(change)
    response = create(pisp, body)
    assert response.status_code == 400
    assert codes(response) and all(c.startswith("UK.OBIE.Field.") for c in codes(response))
    assert consents_of_type(platform) == 0


# --- execution -------------------------------------------------------------------------------
def test_a_euro_payment_debits_the_converted_pounds_and_records_the_rate(pisp, make_payer,
                                                                        international,
                                                                        platform, clock):
    payer = make_payer("500.00")
    j = international(pisp, payer, consent_body("116.50", "EUR"))
    response = submit(j)
    assert response.status_code == 201, response.get_json()
    data = response.get_json()["Data"]
    assert data["Status"] == "Pending"
    assert data["ExchangeRateInformation"]["RateType"] == "Indicative"
    later = read(pisp, data["InternationalPaymentId"]).get_json()["Data"]
    assert later["Status"] == "AcceptedSettlementCompleted"
    assert later["ExchangeRateInformation"] == {"UnitCurrency": "GBP", "ExchangeRate": 1.165,
                                                "RateType": "Indicative"}
    # 116.50 EUR at 1.165 EUR per GBP is exactly 100.00 GBP, and the SWIFT charge 15.00 GBP.
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("385.00", "GBP")
    with platform.uow() as uow:
        payment = uow.session.scalars(select(Payment).where(
            Payment.end_to_end_identification == "e2e-internat-pay")).one()
        assert (payment.amount_minor, payment.currency, payment.kind) == (10000, "GBP",
                                                                          "outbound")
        entry = uow.session.get(JournalEntry, payment.entry_pk)
        assert entry.description == ("International payment of 116.50 EUR, 100.00 GBP "
                                     "debited at 1 GBP = 1.165 (Indicative)")
        assert ledger.reconcile_balances(uow) == []
    details = read(pisp, data["InternationalPaymentId"], "/payment-details").get_json()
    assert [s["Status"] for s in details["Data"]["PaymentStatus"]] == [
        "Pending", "AcceptedSettlementInProcess", "AcceptedSettlementCompleted"]


def test_an_agreed_rate_is_the_rate_applied(pisp, make_payer, international, platform,
                                            clock):
    payer = make_payer("500.00")
    j = international(pisp, payer, consent_body("232.00", ExchangeRateInformation={
        "UnitCurrency": "GBP", "RateType": "Agreed", "ExchangeRate": 1.16,
        "ContractIdentification": "FXC-SANDBOX-GBPEUR-1"}))
    payment_id = submit(j).get_json()["Data"]["InternationalPaymentId"]
    data = read(pisp, payment_id).get_json()["Data"]
    assert data["ExchangeRateInformation"]["RateType"] == "Agreed"
    assert data["ExchangeRateInformation"]["ExchangeRate"] == 1.16
    # 232.00 EUR at the contract's 1.16 is 200.00 GBP; the SWIFT charge 15.00 GBP.
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("285.00", "GBP")


def test_pounds_sent_abroad_debit_the_pounds_instructed(pisp, make_payer, international,
                                                        platform, clock):
    payer = make_payer("100.00")
    j = international(pisp, payer, consent_body("25.00", "GBP", transfer="USD"))
    payment_id = submit(j).get_json()["Data"]["InternationalPaymentId"]
    data = read(pisp, payment_id).get_json()["Data"]
    assert data["ExchangeRateInformation"]["ExchangeRate"] == 1.27     # GBP to USD
    # 25.00 GBP and the SWIFT charge 15.00 GBP.
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("60.00", "GBP")


def test_an_actual_quote_refuses_a_submission_after_it_expired(pisp, payer, international,
                                                               platform, clock):
    j = international(pisp, payer, consent_body("10.00", ExchangeRateInformation={
        "UnitCurrency": "GBP", "RateType": "Actual"}))
    clock.advance(fx.QUOTE_TTL + timedelta(seconds=1))
    response = submit(fresh_token(j))
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Rules.AfterCutOffDateTime"]
    with platform.uow() as uow:
        assert uow.session.scalar(select(Consent.status).where(
            Consent.consent_id == j.consent_id)) == "Authorised"


def test_an_actual_quote_within_its_time_is_the_rate_applied(pisp, make_payer, international,
                                                             platform, clock):
    payer = make_payer("500.00")
    j = international(pisp, payer, consent_body("116.50", ExchangeRateInformation={
        "UnitCurrency": "GBP", "RateType": "Actual"}))
    clock.advance(fx.QUOTE_TTL - timedelta(seconds=30))
    payment_id = submit(fresh_token(j)).get_json()["Data"]["InternationalPaymentId"]
    rate = read(pisp, payment_id).get_json()["Data"]["ExchangeRateInformation"]
    assert rate["RateType"] == "Actual" and rate["ExchangeRate"] == 1.165
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("385.00", "GBP")  # +15


def test_not_enough_money_for_the_converted_amount_rejects_it(pisp, make_payer, international,
                                                              platform, clock):
    payer = make_payer("99.99")
    j = international(pisp, payer, consent_body("116.50"))
    funds = pisp.call("GET", f"{CONSENTS}/{j.consent_id}/funds-confirmation", token=j.token)
    assert funds.get_json()["Data"]["FundsAvailableResult"]["FundsAvailable"] is False
    payment_id = submit(j).get_json()["Data"]["InternationalPaymentId"]
    data = read(pisp, payment_id).get_json()["Data"]
    assert data["Status"] == "Rejected"
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("99.99", "GBP")


def test_the_submission_must_be_the_consents(pisp, payer, international):
    j = international(pisp, payer, consent_body())
    body = payment_body(j.consent_id, j.body)
    changed = copy.deepcopy(body)
    changed["Data"]["Initiation"]["CurrencyOfTransfer"] = "USD"
    response = submit(j, changed)
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]
    assert submit(j, body).status_code == 201
    again = submit(j, body)
    assert again.status_code == 400
    assert codes(again) == ["UK.OBIE.Resource.InvalidConsentStatus"]


def test_a_domestic_consent_does_not_make_an_international_payment(pisp, payer, journey):
    j = journey(pisp, payer)
    body = payment_body(j.consent_id, consent_body())
    response = pisp.call("POST", PAYMENTS, token=j.token, json=body, headers=idem())
    assert response.status_code == 403
    assert codes(response) == ["UK.OBIE.Resource.ConsentMismatch"]


def test_another_pisps_payment_and_consent_are_forbidden(pisp, other_pisp, payer,
                                                         international):
    j = international(pisp, payer, consent_body())
    payment_id = submit(j).get_json()["Data"]["InternationalPaymentId"]
    assert codes(read(other_pisp, payment_id)) == ["UK.InvisibleBank.Resource.OfAnotherClient"]
    theirs = other_pisp.call("GET", f"{CONSENTS}/{j.consent_id}",
                             token=other_pisp.token(scope="payments"))
    assert theirs.status_code == 403
    assert codes(theirs) == ["UK.InvisibleBank.Resource.OfAnotherClient"]


def test_the_approval_page_shows_the_banks_quote(pisp, platform):
    """consent.screens reads the consent as stored: the Initiation and the bank's quote."""
    from consent import screens

    body = consent_body("50.00", "EUR", ExchangeRateInformation={
        "UnitCurrency": "GBP", "RateType": "Actual"}, ChargeBearer="Shared")
    consent_id = create(pisp, body).get_json()["Data"]["ConsentId"]
    with platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(
            Consent.consent_id == consent_id)).one()
        view = screens.payment_of(consent)
    facts = {f.label: f.value for f in view.facts}
    assert view.what == "an international payment" and view.amount == "€50.00"
    assert facts["Currency of transfer"] == "Euro (EUR)"
    assert facts["Exchange rate"].startswith(
        "1 GBP = 1.165 EUR, the bank's rate now, quote valid until")
