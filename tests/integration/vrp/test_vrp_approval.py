"""The customer sets up variable recurring payments on the bank's pages (form by form, as a
browser): the payee and the limits in plain words, the code signed for the payee and the most
a payment can be (dynamic linking), the account picked; then the dashboard shows the
consent's use of each limit this period and lets the customer revoke it."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from sqlalchemy import select

from aspsp.identity import dynamic_linking as dl
from aspsp.ledger.models import Account
from aspsp.vrp.models import DomesticVrp
from consent.models import Consent, ConsentAccount
from tests.integration.psu_web.conftest import Browser
from tests.integration.psu_web.test_payment_approval import log_in, payment_world

PAYEE = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "12345612345678",
         "Name": "Sweep Savings Ltd"}
CONTROLS = {"PSUAuthenticationMethods": ["UK.OBIE.SCANotRequired"],
            "VRPType": ["UK.OBIE.VRPType.Sweeping"],
            "MaximumIndividualAmount": {"Amount": "250.00", "Currency": "GBP"},
            "PeriodicLimits": [{"PeriodType": "Month", "PeriodAlignment": "Consent",
                                "Amount": "1000.00", "Currency": "GBP"}],
            "ValidToDateTime": "2027-06-01T00:00:00+00:00"}


def vrp_world(platform, clock, controls=None, **kw):
    world = payment_world(platform, clock, "domestic-vrp", {
        "CreditorAccount": PAYEE, "RemittanceInformation": {"Reference": "SWEEP"}},
        client_name="Sweepr", **kw)
    with platform.uow() as uow:
        row = uow.session.get(Consent, world.consent_pk)
        row.data = {**row.data, "ControlParameters": controls or CONTROLS}
        uow.commit()
    return world


def test_the_customer_sets_up_vrps_sees_their_use_and_revokes_them(app, platform, clock):
    world, browser = vrp_world(platform, clock), Browser(app.test_client())
    log_in(browser, world)
    page = browser.html
    assert "Sign the payment" in page and "of up to <strong>£250.00</strong>" in page
    assert '<code id="sign-amount">250.00</code>' in page
    assert '<code id="sign-payee">12345612345678</code>' in page

    wrong = dl.code_at(world.secret, dl.payment_to_sign("25.00", "GBP", "12345612345678"),
                       clock.now())          # a code for another maximum does not pass
    assert browser.submit(f"{world.url}/code", {"code": wrong}).status_code == 401
    signed = dl.code_at(world.secret, dl.mandate_to_sign("250.00", "GBP", "12345612345678"),
                        clock.now())
    assert browser.submit(f"{world.url}/code", {"code": signed}).status_code == 200
    page = browser.html
    assert "Sweepr</span> would like to make variable recurring payments" in page
    assert '<dd id="payee-name">Sweep Savings Ltd</dd>' in page
    assert "Most a payment can be" in page and '<dd id="payment-amount">£250.00</dd>' in page
    assert "up to £250 a payment, £1,000 a month, until 1 June 2027" in page
    assert "moving your own money between your accounts (sweeping)" in page
    assert 'id="recurring-note"' in page

    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": world.current},
                              follow=False)
    assert response.status_code == 303
    assert "code" in parse_qs(urlsplit(response.headers["Location"]).query)
    with platform.uow() as uow:
        row = uow.session.get(Consent, world.consent_pk)
        chosen = uow.session.scalars(select(Account.account_id).join(
            ConsentAccount, ConsentAccount.account_pk == Account.id).where(
            ConsentAccount.consent_pk == row.id)).all()
        assert (row.status, chosen) == ("Authorised", [world.current])
        account_pk = uow.session.scalars(select(Account.id).where(
            Account.account_id == world.current)).one()
        uow.session.add(DomesticVrp(       # a VRP the PISP made this month
            domestic_vrp_id="vrp-dash-1", consent_pk=row.id, client_pk=row.client_pk,
            debtor_account_pk=account_pk, amount_minor=12000, currency="GBP",
            request={}, status="AcceptedSettlementCompleted", status_history=[],
            created_at=clock.now(), status_updated_at=clock.now()))
        uow.commit()

    dashboard = Browser(app.test_client())
    dashboard.get("/psu/login")
    dashboard.submit("/psu/login", {"username": world.username, "password": world.password})
    import pyotp
    dashboard.submit("/psu/login/code", {"code": pyotp.TOTP(world.secret).at(clock.now())})
    dashboard.get("/psu/consents")
    page = dashboard.html
    assert "Sweep Savings Ltd" in page
    assert "This month" in page
    assert "£120.00 of £1,000.00 used (15 June 2026 to 14 July 2026)" in page
    assert "Revoke access" in page

    dashboard.get(f"/psu/consents/{world.consent_id}/revoke")
    assert "making payments from your account" in dashboard.html
    response = dashboard.submit(f"/psu/consents/{world.consent_id}/revoke", {})
    assert response.status_code == 200
    assert "Sweepr can no longer make payments from your account" in dashboard.html
    with platform.uow() as uow:       # VRP profile: the status stays, the access stops
        row = uow.session.get(Consent, world.consent_pk)
        assert (row.status, row.events[-1].reason) == ("Authorised", "revoked by the customer")
    assert "Revoke access" not in dashboard.html
    dashboard.get("/psu/consents")
    assert "You stopped Sweepr&#39;s access until you confirm it again" in dashboard.html
    assert "Access stopped" in dashboard.html and "Revoke access" not in dashboard.html
