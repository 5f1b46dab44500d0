"""Charges (aspsp.pis.charges): the bank's tariff shown as Data.Charges on an international
payment consent and its payment (checked against the official v3.1.11 contract), taken on
the ledger with the payment (debtor account to the bank's fee income, booked at settlement,
refunded when the scheme rejects the payment, the ledger reconciling), honouring the
ChargeBearer; an account that can pay the amount but not the amount and its charge has the
payment rejected with nothing moved. Celery runs eagerly here."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from aspsp.ledger import services as ledger
from aspsp.ledger.models import Account, JournalEntry, Payment, Posting
from aspsp.ledger.money import Money
from aspsp.pis.models import PaymentOrder
from consent import screens
from consent.models import Consent
from tests.integration.pis.conftest import (CONSENTS as DOMESTIC_CONSENTS, Journey,
                                            domestic_consent_body, idem, payment_body)
from tests.integration.pis.test_international import (CONSENTS, PAYMENTS, booked, check,
                                                      consent_body)

# Not database-specific: run once, on PostgreSQL (production's engine).
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

REJECTED_BY_SCHEME = {"SchemeName": "UK.OBIE.IBAN", "Identification": "DE68370400440599999999",
                      "Name": "Closed Account GmbH"}   # the sandbox scheme's magic number


@pytest.fixture
def approved(approve):
    """An international consent made and approved: (journey, the consent's Data)."""
    def run(tpp, customer, body):
        created = check("POST", CONSENTS, tpp.call("POST", CONSENTS,
                                                    token=tpp.token(scope="payments"),
                                                    json=body, headers=idem()), 201)
        consent_id = created["Data"]["ConsentId"]
        approve(consent_id, customer)
        token = tpp.token(scope="payments", grant_type="authorization_code",
                          consent_id=consent_id, psu=customer.psu)
        return Journey(tpp, customer, consent_id, body, token), created["Data"]
    return run


def submit(j: Journey) -> tuple[dict, dict]:
    """The payment's Data as submitted, and as read after settlement."""
    submitted = check("POST", PAYMENTS, j.tpp.call(
        "POST", PAYMENTS, token=j.token, json=payment_body(j.consent_id, j.body),
        headers=idem()), 201)
    path = f"{PAYMENTS}/{submitted['Data']['InternationalPaymentId']}"
    later = check("GET", path, j.tpp.call("GET", path, token=j.tpp.token(scope="payments")),
                  200)
    return submitted["Data"], later["Data"]


@pytest.fixture
def paid(approved):
    """An international consent made, approved and submitted: (journey, consent's Data,
    the payment's Data as submitted, and as read after settlement)."""
    def run(tpp, customer, body):
        j, consent = approved(tpp, customer, body)
        return (j, consent, *submit(j))
    return run


def fee_income(platform) -> Money:
    """What the bank's fee income account holds (booked)."""
    with platform.uow() as uow:
        total = uow.session.scalar(select(func.coalesce(func.sum(Posting.amount_minor), 0))
                                   .join(Account, Posting.account_pk == Account.id)
                                   .where(Account.internal_code == "FEE-INCOME-GBP",
                                          Posting.status == "Booked"))
    return ledger.from_minor(int(total), "GBP")


def charge(bearer: str, kind: str, amount: str) -> dict:
    return {"ChargeBearer": bearer, "Type": f"UK.InvisibleBank.{kind}",
            "Amount": {"Amount": amount, "Currency": "GBP"}}


def test_charges_borne_by_the_debtor_are_shown_and_taken_with_the_payment(
        pisp, make_payer, paid, platform, clock):
    payer = make_payer("500.00")
    before = fee_income(platform)
    body = consent_body("116.50", "EUR", LocalInstrument="UK.OBIE.SWIFT",
                        ChargeBearer="BorneByDebtor")
    j, consent, submitted, settled = paid(pisp, payer, body)
    expected = [charge("BorneByDebtor", "SWIFTOut", "15.00"),
                charge("BorneByDebtor", "CorrespondentCharges", "10.00")]
    assert consent["Charges"] == expected
    assert submitted["Charges"] == expected
    assert settled["Charges"] == expected and settled["Status"] == "AcceptedSettlementCompleted"
    path = f"{CONSENTS}/{j.consent_id}"
    read = pisp.call("GET", path, token=pisp.token(scope="payments"))
    assert check("GET", path, read, 200)["Data"]["Charges"] == expected
    # 116.50 EUR at 1.165 is 100.00 GBP, and 25.00 GBP of charges: both booked at settlement.
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("375.00", "GBP")
    assert fee_income(platform) - before == Money.of("25.00", "GBP")
    with platform.uow() as uow:
        entry = uow.session.scalars(select(JournalEntry).where(
            JournalEntry.kind == "payment-charge").order_by(JournalEntry.id.desc())).first()
        assert {p.status for p in entry.postings} == {"Booked"}
        assert sorted(p.amount_minor for p in entry.postings) == [-2500, 2500]
        assert ledger.reconcile_balances(uow) == []
    with platform.uow() as uow:        # what the customer saw on the approval page
        facts = {f.label: f.value for f in screens.payment_of(uow.session.scalars(
            select(Consent).where(Consent.consent_id == j.consent_id)).one()).facts}
    assert facts["Charges"] == "£25.00 paid by you, on top of the amount"
    domestic = pisp.call("POST", DOMESTIC_CONSENTS, token=pisp.token(scope="payments"),
                         json=domestic_consent_body(), headers=idem())
    assert domestic.status_code == 201 and "Charges" not in domestic.get_json()["Data"]


def test_charges_borne_by_the_creditor_come_out_of_the_amount_sent(pisp, make_payer, paid,
                                                                   platform, clock):
    payer = make_payer("500.00")
    before = fee_income(platform)
    body = consent_body("116.50", "EUR", LocalInstrument="UK.OBIE.SEPACreditTransfer",
                        ChargeBearer="BorneByCreditor", CreditorAgent={
                            "SchemeName": "UK.OBIE.BICFI", "Identification": "COBADEFFXXX"})
    _, consent, _, settled = paid(pisp, payer, body)
    assert consent["Charges"] == [charge("BorneByCreditor", "SEPAOut", "1.00")]
    with platform.uow() as uow:
        facts = {f.label: f.value for f in screens.payment_of(uow.session.scalars(
            select(Consent).where(Consent.consent_id == consent["ConsentId"])).one()).facts}
    assert facts["Charges"] == "£1.00 taken from the amount sent (the payee pays it)"
    assert settled["Status"] == "AcceptedSettlementCompleted"
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("400.00", "GBP")
    assert fee_income(platform) - before == Money.of("1.00", "GBP")
    with platform.uow() as uow:
        payment = uow.session.scalars(select(Payment).join(
            PaymentOrder, PaymentOrder.ledger_payment_pk == Payment.id).where(
            PaymentOrder.payment_order_id == settled["InternationalPaymentId"])).one()
        assert (payment.amount_minor, payment.currency) == (9900, "GBP")   # sent
        assert ledger.reconcile_balances(uow) == []


def test_an_account_that_cannot_pay_the_charge_too_has_the_payment_rejected(
        pisp, make_payer, approved, platform, clock):
    payer = make_payer("110.00")          # 100.00 GBP of payment, but 115.00 with its charge
    before = fee_income(platform)
    with platform.uow() as uow:
        payments = uow.session.scalar(select(func.count()).select_from(Payment))
    body = consent_body("116.50", "EUR")   # SWIFT, Shared by default: 15.00 GBP
    j, consent = approved(pisp, payer, body)
    assert consent["Charges"] == [charge("Shared", "SWIFTOut", "15.00")]
    funds = pisp.call("GET", f"{CONSENTS}/{j.consent_id}/funds-confirmation", token=j.token)
    assert funds.get_json()["Data"]["FundsAvailableResult"]["FundsAvailable"] is False
    _, settled = submit(j)
    assert settled["Status"] == "Rejected"
    details = pisp.call("GET", f"{PAYMENTS}/{settled['InternationalPaymentId']}"
                               "/payment-details", token=pisp.token(scope="payments"))
    last = details.get_json()["Data"]["PaymentStatus"][-1]
    assert last["StatusDetail"]["StatusReasonDescription"] == \
        "Insufficient funds in the debtor account"
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("110.00", "GBP")
    assert fee_income(platform) == before
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Payment)) == payments
        assert ledger.reconcile_balances(uow) == []


def test_a_payment_the_scheme_rejects_has_its_charge_refunded(pisp, make_payer, paid,
                                                              platform, clock):
    payer = make_payer("200.00")
    before = fee_income(platform)
    body = consent_body("116.50", "EUR", LocalInstrument="UK.OBIE.Target2")
    body["Data"]["Initiation"]["CreditorAccount"] = dict(REJECTED_BY_SCHEME)
    _, consent, _, settled = paid(pisp, payer, body)
    assert consent["Charges"] == [charge("Shared", "Target2Out", "10.00")]
    assert settled["Status"] == "Rejected"
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("200.00", "GBP")
    assert fee_income(platform) == before
    with platform.uow() as uow:
        refunds = uow.session.scalar(select(func.count()).select_from(JournalEntry).where(
            JournalEntry.kind == "reversal",
            JournalEntry.description == "charge refunded: the payment was rejected"))
        assert refunds >= 1
        assert ledger.reconcile_balances(uow) == []


def test_a_payment_to_an_account_of_the_bank_has_no_charge(pisp, make_payer, platform):
    payee = make_payer(None)
    body = consent_body("10.00", "GBP", transfer="GBP")
    body["Data"]["Initiation"]["CreditorAccount"] = {
        "SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": payee.sort_codes[0],
        "Name": "A customer of the bank"}
    created = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"), json=body,
                        headers=idem())
    assert "Charges" not in check("POST", CONSENTS, created, 201)["Data"]
