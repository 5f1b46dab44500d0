"""Every row of the scenario table (sandbox/scenarios.py SCENARIOS) driven through the real
API or pages, with what the developer is told happens; and the table's page. Production mode
has none of it."""
from __future__ import annotations

from datetime import datetime, timedelta

import pyotp
import pytest
from sqlalchemy import select

from aspsp.identity.models import PsuUser
from aspsp.identity.services import find_by_username, totp_secret
from aspsp.ledger import services as ledger
from aspsp.ledger.tasks import settle_stuck_payments
from bank import create_app
from consent import services as consents
from consent.models import Consent
from sandbox import scenarios
from sandbox.seed import SANDBOX_PASSWORD
from sandbox.test_data_models import SCA_FAILS, STANDARD
from tests.integration.consent.conftest import aisp, make_tpp  # noqa: F401  (fixtures)
from tests.integration.pis.conftest import (  # noqa: F401  (fixtures used here)
    OUTSIDE_PAYEE, PAYMENTS, Customer, approve, create_consent, domestic_consent_body,
    journey, pisp)
from tests.integration.psu_web.conftest import Browser
from tests.integration.sandbox.test_test_data import (  # noqa: F401  (fixtures)
    assert_books_balance, balances, gbp, portal)
from tests.oauth_factories import make_client
from tests.psu_factories import consent as make_consent
from tests.psu_factories import pending_authorization

SCENARIO_KEYS = {s.key for s in scenarios.SCENARIOS}


def test_every_scenario_has_a_test_here():
    """The table may not grow a row nobody drives: each key names a test of this module."""
    tested = {name for name in globals() if name.startswith("test_")}
    for key in SCENARIO_KEYS:
        assert any(key.replace("-", "_") in name for name in tested), key


# the page ----------------------------------------------------------------------------------
def test_the_table_is_a_public_portal_page(app):
    response = app.test_client().get("/developers/sandbox/scenarios")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for scenario in scenarios.SCENARIOS:
        assert f'id="scenario-{scenario.key}"' in page
    assert "<code>666.66</code>" in page and "<code>777.77</code>" in page
    assert "<code>2099-01-01T00:01:00+00:00</code>" in page
    assert "<em>SCA always fails</em>" in page
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    home = app.test_client().get("/developers/").get_data(as_text=True)
    assert 'href="/developers/sandbox/scenarios"' in home


def test_the_tables_markup_escapes_everything_else():
    assert str(scenarios.rich("<b>`<i>`</b> *<u>*")) == \
        "&lt;b&gt;<code>&lt;i&gt;</code>&lt;/b&gt; <em>&lt;u&gt;</em>"


# a customer whose SCA always fails ------------------------------------------------------------
def _approval(platform, clock, username: str):
    """An account-access consent of a TPP waiting for `username` on the bank's pages."""
    now = clock.now()
    with platform.uow() as uow:
        tpp = make_client(uow, now=now, name="Budget Buddy")
        ask = make_consent(uow, now=now, client=tpp)
        pending = pending_authorization(uow, now=now, client=tpp, consent_row=ask)
        psu = uow.session.scalars(select(PsuUser).where(PsuUser.username == username)).one()
        secret = totp_secret(psu, platform.keyring)
        uow.commit()
    return ask.consent_id, f"/psu/authorize/{pending.reference}", pyotp.TOTP(secret)


def _consent_status(platform, consent_id: str) -> str:
    with platform.uow() as uow:
        return uow.session.scalars(select(Consent.status).where(
            Consent.consent_id == consent_id)).one()


def test_sca_fails_every_code_of_that_test_customer_is_refused(app, portal, platform, clock):
    username = portal.new_customer("Faye Fails", behaviour=SCA_FAILS)
    consent_id, url, totp = _approval(platform, clock, username)
    browser = Browser(app.test_client())
    browser.get(url)
    browser.submit(f"{url}/login", {"username": username, "password": SANDBOX_PASSWORD})
    assert "Enter your one-time code" in browser.html
    assert "sandbox-current-code" not in browser.html        # no shortcut shown
    for code in ("123456", totp.at(clock.now())):
        response = browser.submit(f"{url}/code", {"code": code})
        assert response.status_code == 401 and "not right" in browser.html
    assert _consent_status(platform, consent_id) == "AwaitingAuthorisation"


def test_sca_fails_is_that_customers_alone_a_standard_one_passes_with_the_fixed_code(
        app, portal, platform, clock):
    username = portal.new_customer("Stan Standard", behaviour=STANDARD)
    _, url, totp = _approval(platform, clock, username)
    browser = Browser(app.test_client())
    browser.get(url)
    browser.submit(f"{url}/login", {"username": username, "password": SANDBOX_PASSWORD})
    assert f'<code id="sandbox-current-code">{totp.at(clock.now())}</code>' in browser.html
    browser.submit(f"{url}/code", {"code": "123456"})
    assert "would like to see your account information" in browser.html


@pytest.mark.parametrize("behaviour,accepted", [(STANDARD, True), (SCA_FAILS, False)])
def test_sca_fails_a_payments_signed_code_is_refused_too(app, portal, platform, clock,
                                                        behaviour, accepted):
    from aspsp.identity import dynamic_linking
    from aspsp.identity.errors import InvalidCode
    username = portal.new_customer(behaviour=behaviour)
    payment = dynamic_linking.payment_to_sign("10.00", "GBP", "20000012345678")
    with app.app_context(), platform.uow() as uow:
        psu = find_by_username(uow, username)
        right = dynamic_linking.code_at(totp_secret(psu, platform.keyring), payment,
                                        clock.now())
        if accepted:
            dynamic_linking.verify_signed_code(uow, psu, right, payment, "127.0.0.1",
                                               clock.now(), replay=platform.replay)
        else:
            with pytest.raises(InvalidCode):
                dynamic_linking.verify_signed_code(uow, psu, right, payment, "127.0.0.1",
                                                   clock.now(), replay=platform.replay)


# payments ----------------------------------------------------------------------------------
@pytest.fixture
def funded_customer(portal, platform):
    """A test customer of the portal app with a current account funded with 1,000.00."""
    username = portal.new_customer("Pat Payer")
    account_id = portal.new_account(username)
    portal.post(f"/accounts/{account_id}/fund", {"amount": "1000.00"})
    with platform.uow() as uow:
        psu = find_by_username(uow, username)
        account = ledger.LedgerRepository(uow.session).account(account_id)
        uow.commit()          # nothing to write: keeps the rows loaded (no expiry on commit)
        return Customer(psu, [account_id], [account.id],
                        [account.sort_code + account.account_number])


def _pay(pisp, journey, customer, amount: str, creditor=None):
    j = journey(pisp, customer, domestic_consent_body(amount, creditor=creditor))
    created = j.submit()
    assert created.status_code == 201, created.get_json()
    payment_id = created.get_json()["Data"]["DomesticPaymentId"]
    token = pisp.token(scope="payments")
    now = pisp.call("GET", f"{PAYMENTS}/{payment_id}", token=token).get_json()["Data"]
    steps = pisp.call("GET", f"{PAYMENTS}/{payment_id}/payment-details",
                      token=token).get_json()["Data"]["PaymentStatus"]
    return now, steps


def test_amount_rejected_the_scheme_rejects_666_66_and_the_money_comes_back(
        pisp, journey, funded_customer, platform, clock):
    payment, steps = _pay(pisp, journey, funded_customer, "666.66")
    assert payment["Status"] == "Rejected"
    assert [s["Status"] for s in steps] == ["Pending", "AcceptedSettlementInProcess", "Rejected"]
    assert "Rejected by the receiving bank" in steps[-1]["StatusDetail"][
        "StatusReasonDescription"]
    assert balances(platform, clock, funded_customer.account_ids[0])["InterimBooked"] == \
        gbp("1000.00")
    assert_books_balance(platform)


def test_amount_pending_777_77_stays_in_process_even_when_the_sweep_asks_again(
        app, pisp, journey, funded_customer, platform, clock):
    payment, steps = _pay(pisp, journey, funded_customer, "777.77")
    assert payment["Status"] == "AcceptedSettlementInProcess"
    assert [s["Status"] for s in steps] == ["Pending", "AcceptedSettlementInProcess"]
    account = funded_customer.account_ids[0]
    assert balances(platform, clock, account)["InterimBooked"] == gbp("1000.00")
    assert balances(platform, clock, account)["InterimAvailable"] == gbp("222.23")
    clock.advance(timedelta(minutes=5))
    with app.app_context():
        assert settle_stuck_payments() == 1
    again = pisp.call("GET", f"{PAYMENTS}/{payment['DomesticPaymentId']}",
                      token=pisp.token(scope="payments")).get_json()["Data"]
    assert again["Status"] == "AcceptedSettlementInProcess"
    assert_books_balance(platform)


def test_an_ordinary_amount_settles_through_the_wrapped_scheme(pisp, journey, funded_customer,
                                                              platform, clock):
    payment, _ = _pay(pisp, journey, funded_customer, "666.67")
    assert payment["Status"] == "AcceptedSettlementCompleted"
    assert balances(platform, clock, funded_customer.account_ids[0])["InterimBooked"] == \
        gbp("333.33")


def test_creditor_rejects_account_99999999(pisp, journey, funded_customer, platform, clock):
    payment, steps = _pay(pisp, journey, funded_customer, "20.00",
                          creditor={**OUTSIDE_PAYEE, "Identification": "20000099999999"})
    assert payment["Status"] == "Rejected"
    assert "Beneficiary account closed" in steps[-1]["StatusDetail"]["StatusReasonDescription"]
    assert balances(platform, clock, funded_customer.account_ids[0])["InterimBooked"] == \
        gbp("1000.00")
    assert_books_balance(platform)


def test_insufficient_funds_rejects_the_payment_and_posts_nothing(pisp, journey,
                                                                 funded_customer, platform,
                                                                 clock):
    payment, steps = _pay(pisp, journey, funded_customer, "1000.01")
    assert payment["Status"] == "Rejected"
    assert steps[-1]["StatusDetail"]["StatusReasonDescription"] == \
        "Insufficient funds in the debtor account"
    assert balances(platform, clock, funded_customer.account_ids[0])["InterimBooked"] == \
        gbp("1000.00")


def test_debtor_disabled_on_the_test_data_page_rejects_the_payment(pisp, journey, portal,
                                                                  funded_customer, platform,
                                                                  clock):
    j = journey(pisp, funded_customer, domestic_consent_body("10.00"))
    assert portal.post(f"/accounts/{funded_customer.account_ids[0]}/disable").status_code == 200
    payment_id = j.submit().get_json()["Data"]["DomesticPaymentId"]
    steps = pisp.call("GET", f"{PAYMENTS}/{payment_id}/payment-details",
                      token=pisp.token(scope="payments")).get_json()["Data"]["PaymentStatus"]
    assert steps[-1]["Status"] == "Rejected"
    assert steps[-1]["StatusDetail"]["StatusReasonDescription"] == \
        "The debtor account is not enabled"


# a consent that expires in a minute ----------------------------------------------------------
AIS_CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"
ACCOUNTS = "/open-banking/v3.1/aisp/accounts"


def _ask(aisp, expiry: str):
    return aisp.call("POST", AIS_CONSENTS, token=aisp.token(), json={
        "Data": {"Permissions": ["ReadAccountsBasic"], "ExpirationDateTime": expiry},
        "Risk": {}})


def test_consent_expires_in_a_minute_with_the_magic_expiration_date_time(
        aisp, funded_customer, platform, clock):
    created = _ask(aisp, "2099-01-01T00:01:00+00:00")
    assert created.status_code == 201, created.get_json()
    data = created.get_json()["Data"]
    assert datetime.fromisoformat(data["ExpirationDateTime"]) == \
        clock.now() + timedelta(seconds=60)
    with platform.uow() as uow:
        row = uow.session.scalars(select(Consent).where(
            Consent.consent_id == data["ConsentId"])).one()
        consents.authorise(uow, row, funded_customer.psu, funded_customer.account_pks,
                           clock.now())
        uow.commit()
    token = aisp.token(grant_type="authorization_code", consent_id=data["ConsentId"],
                       psu=funded_customer.psu)
    path = f"{AIS_CONSENTS}/{data['ConsentId']}"
    clock.advance(timedelta(seconds=59))
    assert aisp.call("GET", path, token=aisp.token()).get_json()["Data"]["Status"] == \
        "Authorised"
    assert aisp.call("GET", ACCOUNTS, token=token).status_code == 200
    clock.advance(timedelta(seconds=2))
    refused = aisp.call("GET", ACCOUNTS, token=token)      # OBIE: a bare 401 once expired
    assert refused.status_code == 401
    assert "invalid_token" in refused.headers["WWW-Authenticate"]
    assert "expired" in refused.headers["WWW-Authenticate"]
    # v3.1's consent resource has no Expired: it shows Authorised, its expiry in the past
    shown = aisp.call("GET", path, token=aisp.token()).get_json()["Data"]
    assert shown["Status"] == "Authorised"
    assert datetime.fromisoformat(shown["ExpirationDateTime"]) < clock.now()
    with platform.uow() as uow:
        row = uow.session.scalars(select(Consent).where(
            Consent.consent_id == data["ConsentId"])).one()
        assert consents.record_of(uow, row, clock.now()).status == "Expired"


def test_consent_expires_in_a_minute_unauthorised_it_is_rejected(aisp, clock):
    data = _ask(aisp, "2099-01-01T00:01:00+00:00").get_json()["Data"]
    clock.advance(timedelta(seconds=61))
    status = aisp.call("GET", f"{AIS_CONSENTS}/{data['ConsentId']}", token=aisp.token())
    assert status.get_json()["Data"]["Status"] == "Rejected"


def test_consent_expires_in_a_minute_only_for_the_magic_value(aisp):
    created = _ask(aisp, "2099-01-01T00:02:00+00:00")
    assert created.get_json()["Data"]["ExpirationDateTime"].startswith("2099-01-01T00:02:00")


# production mode ---------------------------------------------------------------------------
def test_production_has_no_scenarios(database, clock, tmp_path, redis_url, platform):
    production = create_app({"DATABASE_URL": database.url, "DATABASE": database,
                             "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                             "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                             "TESTING": True, "SANDBOX_ENABLED": False,
                             "REDIS_URL": redis_url})
    p = production.extensions["aspsp"]
    assert not isinstance(p.scheme, scenarios.ScenarioScheme)
    assert scenarios.EXTENSION not in production.extensions
    assert "identity.sandbox_customers" not in production.extensions
    http = production.test_client()
    assert http.get("/developers/sandbox/scenarios").status_code == 404
    assert http.get("/developers/apps/x/sandbox/test-data").status_code == 404
    # the mapper hook the sandbox app installed ignores a production app's consents
    from consent.services import AccountAccessRequest
    from tests.oauth_factories import make_client as client_of
    magic = scenarios.ONE_MINUTE_EXPIRY
    with production.app_context(), p.uow() as uow:
        tpp = client_of(uow, now=clock.now(), name="Prod TPP")
        record = consents.create_account_access_consent(
            uow, tpp.row,
            AccountAccessRequest(["ReadAccountsBasic"], expiration=magic), clock.now())
        assert record.expiration == magic
