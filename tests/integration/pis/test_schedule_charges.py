"""Charges on international scheduled payments and international standing orders
(aspsp.pis.charges): the bank's tariff shown as Data.Charges on their consents and payments
(checked against the official v3.1.11 contract) and on the approval page (a standing order's
on each payment), and taken by the schedule engine with every payment it makes across a
moved sandbox clock: debtor account to the bank's fee income, valued on the instalment's
day, booked at settlement, refunded when the scheme rejects the payment, the ledger
reconciling; an account that can pay the instalment but not with its charge has it
Rejected with nothing moved. Celery runs eagerly here (settlement follows each commit).

The test clock starts on Monday 2026-06-15 (tests/conftest.py).
"""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from aspsp.ledger.models import JournalEntry, Payment, Posting
from aspsp.ledger.money import Money
from consent import screens
from consent.models import Consent
from tests.integration.pis.conftest import payment_body
from tests.integration.pis.test_charges import REJECTED_BY_SCHEME, charge, fee_income
from tests.integration.pis.test_international import booked
from tests.integration.pis.test_international_schedules import (
    SCHEDULED, SCHEDULED_PAYMENTS, STANDING, STANDING_ORDERS, approved, check, get, post,
    reconciled, run_schedules, scheduled_body, standing_body, submit)


@pytest.fixture
def db_url(sqlite_url) -> str:
    """One database: nothing here is database-specific."""
    return sqlite_url


def charge_postings(platform) -> list[tuple[int, str, str]]:
    """The debits of the charge entries: (amount, status, value day), oldest first."""
    with platform.uow() as uow:
        rows = uow.session.execute(
            select(Posting.amount_minor, Posting.status, Posting.value_datetime)
            .join(JournalEntry, JournalEntry.id == Posting.entry_pk)
            .where(JournalEntry.kind == "payment-charge", Posting.amount_minor < 0)
            .order_by(Posting.id)).all()
    return [(amount, status, value.date().isoformat()) for amount, status, value in rows]


def test_a_scheduled_payment_shows_its_charges_per_the_contract(pisp, payer, approve):
    body = scheduled_body("50.00", LocalInstrument="UK.OBIE.SEPACreditTransfer")
    expected = [charge("FollowingServiceLevel", "SEPAOut", "1.00")]
    created = check("POST", SCHEDULED, post(pisp, SCHEDULED, body), 201)["Data"]
    assert created["Charges"] == expected
    consent_id = created["ConsentId"]
    assert check("GET", f"{SCHEDULED}/{consent_id}", get(pisp, f"{SCHEDULED}/{consent_id}"),
                 200)["Data"]["Charges"] == expected
    approve(consent_id, payer)
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    payment = check("POST", SCHEDULED_PAYMENTS, submit(
        pisp, SCHEDULED_PAYMENTS, token, payment_body(consent_id, body)), 201)["Data"]
    assert payment["Charges"] == expected
    path = f"{SCHEDULED_PAYMENTS}/{payment['InternationalScheduledPaymentId']}"
    assert check("GET", path, get(pisp, path), 200)["Data"]["Charges"] == expected


def test_a_standing_order_shows_the_charges_of_each_payment_per_the_contract(
        pisp, payer, approve, platform):
    body = standing_body(ChargeBearer="BorneByDebtor")
    expected = [charge("BorneByDebtor", "SWIFTOut", "15.00"),
                charge("BorneByDebtor", "CorrespondentCharges", "10.00")]
    created = check("POST", STANDING, post(pisp, STANDING, body), 201)["Data"]
    assert created["Charges"] == expected
    consent_id = created["ConsentId"]
    with platform.uow() as uow:        # what the customer sees on the approval page
        facts = {f.label: f.value for f in screens.payment_of(uow.session.scalars(
            select(Consent).where(Consent.consent_id == consent_id)).one()).facts}
    assert facts["Charges"] == "On each payment: £25.00 paid by you, on top of the amount"
    assert check("GET", f"{STANDING}/{consent_id}", get(pisp, f"{STANDING}/{consent_id}"),
                 200)["Data"]["Charges"] == expected
    approve(consent_id, payer)
    token = pisp.token(scope="payments", grant_type="authorization_code",
                       consent_id=consent_id, psu=payer.psu)
    order = check("POST", STANDING_ORDERS, submit(
        pisp, STANDING_ORDERS, token, payment_body(consent_id, body)), 201)["Data"]
    assert order["Charges"] == expected
    path = f"{STANDING_ORDERS}/{order['InternationalStandingOrderId']}"
    assert check("GET", path, get(pisp, path), 200)["Data"]["Charges"] == expected


def test_each_instalment_of_a_standing_order_pays_its_charge_with_it(
        pisp, make_payer, approve, platform, clock, app):
    payer = make_payer("500.00")
    before = fee_income(platform)
    body = standing_body("23.30", "EUR")        # 30 June and 30 July; SWIFT, Shared: 15.00
    consent_id, token = approved(pisp, payer, STANDING, body, approve)
    submit(pisp, STANDING_ORDERS, token, payment_body(consent_id, body))
    assert charge_postings(platform) == []      # nothing charged until a payment is made

    first = run_schedules(platform, clock, 16)  # 1 July: 23.30 EUR at 1.165 = 20.00 GBP
    assert [e.status for e in first] == ["AcceptedSettlementInProcess"]   # settled after
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("465.00", "GBP")
    assert fee_income(platform) - before == Money.of("15.00", "GBP")
    second = run_schedules(platform, clock, 30)
    assert [e.status for e in second] == ["AcceptedSettlementInProcess"]
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("430.00", "GBP")
    assert fee_income(platform) - before == Money.of("30.00", "GBP")
    # One charge per instalment, booked with it and valued on its day, as its payment is.
    assert charge_postings(platform) == [(-1500, "Booked", "2026-06-30"),
                                         (-1500, "Booked", "2026-07-30")]
    with platform.uow() as uow:
        payments = uow.session.execute(select(Payment.amount_minor).order_by(Payment.id)
                                       ).scalars().all()
    assert payments == [2000, 2000]             # the whole amount sent each time
    assert "no problems" in reconciled(app)


def test_charges_borne_by_the_creditor_come_out_of_each_amount_sent(
        pisp, make_payer, approve, platform, clock, app):
    payer = make_payer("500.00")
    body = scheduled_body("116.50", "EUR", ChargeBearer="BorneByCreditor")   # 100.00 GBP
    consent_id, token = approved(pisp, payer, SCHEDULED, body, approve)
    submit(pisp, SCHEDULED_PAYMENTS, token, payment_body(consent_id, body))
    executed = run_schedules(platform, clock, 8)
    assert [e.status for e in executed] == ["AcceptedSettlementInProcess"]
    with platform.uow() as uow:
        sent = uow.session.scalars(select(Payment.amount_minor)).all()
    assert sent == [8500]                       # 100.00 GBP less the 15.00 GBP charge
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("400.00", "GBP")
    assert "no problems" in reconciled(app)


def test_an_account_that_cannot_pay_the_charge_too_has_the_instalment_rejected(
        pisp, make_payer, approve, platform, clock, app):
    payer = make_payer("30.00")             # pays 20.00 GBP, but not 35.00 with the charge
    before = fee_income(platform)
    body = standing_body("23.30", "EUR")
    consent_id, token = approved(pisp, payer, STANDING, body, approve)
    order_id = submit(pisp, STANDING_ORDERS, token, payment_body(consent_id, body)
                      ).get_json()["Data"]["InternationalStandingOrderId"]
    executed = run_schedules(platform, clock, 16)
    assert [e.status for e in executed] == ["Rejected"]
    details = get(pisp, f"{STANDING_ORDERS}/{order_id}/payment-details").get_json()
    last = details["Data"]["PaymentStatus"][-1]
    assert last["Status"] == "Rejected"
    assert "Insufficient funds" in last["StatusDetail"]["StatusReasonDescription"]
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("30.00", "GBP")
    assert fee_income(platform) == before
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(Payment)) == 0
    assert charge_postings(platform) == []
    assert "no problems" in reconciled(app)


def test_an_instalment_the_scheme_rejects_has_its_charge_refunded(
        pisp, make_payer, approve, platform, clock, app):
    payer = make_payer("200.00")
    before = fee_income(platform)
    body = scheduled_body("116.50", "EUR", LocalInstrument="UK.OBIE.Target2",
                          CreditorAccount=dict(REJECTED_BY_SCHEME))
    consent_id, token = approved(pisp, payer, SCHEDULED, body, approve)
    submit(pisp, SCHEDULED_PAYMENTS, token, payment_body(consent_id, body))
    executed = run_schedules(platform, clock, 8)
    assert len(executed) == 1
    with platform.uow() as uow:
        assert uow.session.scalars(select(Payment.status)).all() == ["Rejected"]
        refunds = uow.session.scalar(select(func.count()).select_from(JournalEntry).where(
            JournalEntry.kind == "reversal",
            JournalEntry.description == "charge refunded: the payment was rejected"))
    assert refunds == 1
    assert charge_postings(platform) == [(-1000, "Booked", "2026-06-22")]
    assert booked(platform, clock, payer.account_ids[0]) == Money.of("200.00", "GBP")
    assert fee_income(platform) == before
    assert "no problems" in reconciled(app)
