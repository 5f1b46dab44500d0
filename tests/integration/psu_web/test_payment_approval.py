"""The customer approves or refuses a payment: what the page shows for each payment consent
type, the account paid from, the signed one-time code bound to amount and payee (dynamic
linking), and the sandbox's authenticator that computes such codes for demo customers."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from markupsafe import escape
from sqlalchemy import select

from aspsp.identity import dynamic_linking as dl
from aspsp.identity import services as identity
from aspsp.identity.models import LoginEvent
from aspsp.ids import new_id
from aspsp.ledger.domain import AccountStatus
from aspsp.ledger.models import Account
from aspsp.oauth.models import PendingAuthorization
from consent.models import Consent, ConsentAccount, ConsentEvent
from sandbox.seed import DEMO_USERS
from tests import factories
from tests.integration.psu_web.conftest import Browser, pushed_journey
from tests.oauth_factories import make_client
from tests.psu_factories import PASSWORD

ALICE_SECRET = next(u.totp_secret for u in DEMO_USERS if u.username == "alice")
RISK = {"PaymentContextCode": "EcommerceGoods", "MerchantCategoryCode": "5967"}


def domestic(**changes) -> dict:
    initiation = {
        "InstructionIdentification": "ACME412", "EndToEndIdentification": "FRESCO.21302.GFX.20",
        "InstructedAmount": {"Amount": "12.50", "Currency": "GBP"},
        "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                            "Identification": "12345612345678", "Name": "ACME Ltd"},
        "RemittanceInformation": {"Reference": "INV-0042", "Unstructured": "Order 42"}}
    initiation.update(changes)
    return initiation


def standing_order(**changes) -> dict:
    initiation = {
        "Frequency": "IntrvlMnthDay:01:15", "Reference": "RENT FLAT 2",
        "NumberOfPayments": "12", "FirstPaymentDateTime": "2026-07-15T06:00:00+00:00",
        "RecurringPaymentDateTime": "2026-08-15T06:00:00+00:00",
        "FirstPaymentAmount": {"Amount": "500.00", "Currency": "GBP"},
        "RecurringPaymentAmount": {"Amount": "450.00", "Currency": "GBP"},
        "FinalPaymentAmount": {"Amount": "250.00", "Currency": "GBP"},
        "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                            "Identification": "40400411112222", "Name": "Homes Lettings"}}
    initiation.update(changes)
    return initiation


def international(**changes) -> dict:
    initiation = {
        "InstructionIdentification": "INTL-1", "EndToEndIdentification": "INTL-E2E-1",
        "InstructionPriority": "Normal", "CurrencyOfTransfer": "USD",
        "DestinationCountryCode": "US", "ChargeBearer": "Shared",
        "InstructedAmount": {"Amount": "100.00", "Currency": "GBP"},
        "ExchangeRateInformation": {"UnitCurrency": "GBP", "ExchangeRate": 1.25,
                                    "RateType": "Agreed", "ContractIdentification": "FX-9981"},
        "CreditorAccount": {"SchemeName": "UK.OBIE.IBAN",
                            "Identification": "DE89370400440532013000",
                            "Name": "Berlin Supplies GmbH"},
        "RemittanceInformation": {"Reference": "PO 7781"}}
    initiation.update(changes)
    return initiation


def payment_world(platform, clock, consent_type: str = "domestic-payment",
                  initiation: dict | None = None, *, username: str | None = None,
                  secret: str | None = None, debtor: str | None = None,
                  redirect_uri: str = "https://tpp.example/callback",
                  client_name: str = "PayFast"):
    """A payment consent waiting for the customer, the customer's accounts (two funded GBP
    ones, a EUR one, a closed one) and a stranger's, and a pending authorization."""
    now = clock.now()
    with platform.uow() as uow:
        tpp = make_client(uow, now=now, name=client_name, redirect_uris=(redirect_uri,))
        party = factories.party(uow, "Alice Morgan", now=now)
        uow.session.flush()
        customer = identity.create_psu(uow, username=username or f"payer{new_id()[:8]}",
                                       password=PASSWORD, party=party, now=now,
                                       totp_secret=secret or pyotp.random_base32())
        current = factories.account(uow, now=now, owner=party, name="Everyday Current",
                                    funded="1250.00")
        saver = factories.account(uow, now=now, owner=party, name="Rainy Day Saver",
                                  sub_type="Savings", funded="300.00")
        euros = factories.account(uow, now=now, owner=party, name="Euro Wallet",
                                  currency="EUR")
        factories.fund(uow, euros.account_id, "80.00", now=now, currency="EUR")
        closed = factories.account(uow, now=now, owner=party, name="Old Account",
                                   status=AccountStatus.DISABLED)
        stranger = factories.account(uow, now=now, name="Somebody Else")
        accounts = {"current": current, "saver": saver, "euros": euros, "closed": closed,
                    "stranger": stranger}
        initiation = dict(initiation or domestic())
        if debtor:
            named = accounts[debtor]
            initiation["DebtorAccount"] = {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                                           "Identification": named.sort_code
                                           + named.account_number, "Name": named.name}
        row = add_payment_consent(uow, tpp, consent_type, initiation, now)
        pending = add_pending(uow, tpp, row, now)
        uow.commit()
        return SimpleNamespace(
            tpp=tpp, psu=customer, username=customer.username, password=PASSWORD,
            secret=identity.totp_secret(customer, platform.keyring), consent_pk=row.id,
            consent_id=row.consent_id, initiation=initiation,
            url=f"/psu/authorize/{pending.reference}", redirect_uri=redirect_uri,
            **{name: a.account_id for name, a in accounts.items()})


def add_payment_consent(uow, tpp, consent_type: str, initiation: dict, now) -> Consent:
    row = Consent(consent_id=f"pay-{new_id()}", consent_type=consent_type,
                  client_pk=tpp.row.id, psu_pk=None, status="AwaitingAuthorisation",
                  status_updated_at=now, created_at=now, expiration_datetime=None,
                  permissions=[], data={"Initiation": initiation, "Risk": RISK},
                  api_version="3.1")
    uow.session.add(row)
    uow.session.flush()
    uow.session.add(ConsentEvent(consent_pk=row.id, from_status=None,
                                 to_status="AwaitingAuthorisation", actor="tpp",
                                 actor_id=tpp.client_id, at=now))
    uow.session.flush()
    return row


def add_pending(uow, tpp, row: Consent, now) -> PendingAuthorization:
    pending = PendingAuthorization(
        reference=new_id(), client_pk=tpp.row.id, consent_pk=row.id,
        params={"response_type": "code", "client_id": tpp.client_id,
                "redirect_uri": tpp.row.client_metadata["redirect_uris"][0],
                "scope": "openid payments", "state": "st-pay",
                "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
                "code_challenge_method": "S256"},
        created_at=now, expires_at=now + timedelta(minutes=10))
    uow.session.add(pending)
    uow.session.flush()
    return pending


def to_sign(initiation: dict, consent_type: str = "domestic-payment") -> dl.PaymentToSign:
    amount = initiation["FirstPaymentAmount"] if consent_type == "domestic-standing-order" \
        else initiation["InstructedAmount"]
    return dl.payment_to_sign(amount["Amount"], amount["Currency"],
                              initiation["CreditorAccount"]["Identification"])


def log_in(browser, world):
    browser.get(world.url)
    return browser.submit(f"{world.url}/login", {"username": world.username,
                                                 "password": world.password})


def sign(browser, world, clock, *, payment: dl.PaymentToSign | None = None,
         consent_type: str = "domestic-payment", code: str | None = None):
    code = code or dl.code_at(world.secret, payment or to_sign(world.initiation, consent_type),
                              clock.now())
    return browser.submit(f"{world.url}/code", {"code": code})


def signed_in(browser, world, clock, consent_type: str = "domestic-payment"):
    log_in(browser, world)
    return sign(browser, world, clock, consent_type=consent_type)


def state(platform, world) -> tuple[str, set[str]]:
    with platform.uow() as uow:
        row = uow.session.get(Consent, world.consent_pk)
        accounts = set(uow.session.scalars(
            select(Account.account_id).join(ConsentAccount,
                                            ConsentAccount.account_pk == Account.id)
            .where(ConsentAccount.consent_pk == row.id)))
        return row.status, accounts


@pytest.fixture
def world(platform, clock):
    return payment_world(platform, clock)


# --- what the customer is shown ---------------------------------------------------------------

def test_the_login_page_says_a_payment_is_asked_for(browser, world):
    browser.get(world.url)
    assert "PayFast" in browser.html and "has asked to make a payment" in browser.html


def test_the_signing_step_shows_exactly_what_the_authenticator_signs(browser, world):
    log_in(browser, world)
    page = browser.html
    assert "Step 2 of 3" in page and "Sign the payment" in page
    assert '<code id="sign-amount">12.50</code>' in page
    assert '<code id="sign-currency">GBP</code>' in page
    assert '<code id="sign-payee">12345612345678</code>' in page
    assert "£12.50" in page and "ACME Ltd" in page and "12-34-56 12345678" in page


def test_a_signed_code_leads_to_the_payment_page(browser, world, clock):
    response = signed_in(browser, world, clock)
    assert response.status_code == 200
    page = browser.html
    assert "Step 3 of 3" in page and "PayFast</span> would like to make a payment" in page
    assert '<dd id="payee-name">ACME Ltd</dd>' in page
    assert '<dd id="payee-account">12-34-56 12345678</dd>' in page
    assert "Sort code and account number" in page
    assert '<dd id="payment-amount">£12.50</dd>' in page
    assert '<dd id="payment-reference">INV-0042</dd>' in page
    assert "Order 42" in page and "Straight away" in page


CASES = {
    "domestic-scheduled-payment": (
        domestic(RequestedExecutionDateTime="2026-07-01T09:00:00+00:00"),
        ["a future-dated payment", "£12.50", "ACME Ltd", "12-34-56 12345678", "INV-0042",
         "Payment date", "1 July 2026"]),
    "domestic-standing-order": (
        standing_order(),
        ["a standing order", "Homes Lettings", "40-40-04 11112222", "RENT FLAT 2",
         "Every month on the 15th", "£500.00 on 15 July 2026",
         "£450.00 from 15 August 2026", "Final payment", "£250.00", "After 12 payments"]),
    "international-payment": (
        international(),
        ["an international payment", "Berlin Supplies GmbH", "DE89 3704 0044 0532 0130 00",
         "IBAN", "£100.00", "PO 7781", "US Dollar (USD)", "1 GBP = 1.25 USD", "agreed rate",
         "contract FX-9981", "United States", "You pay your bank&#39;s charges"]),
    "international-scheduled-payment": (
        international(RequestedExecutionDateTime="2026-09-30T10:00:00+00:00",
                      ExchangeRateInformation={"UnitCurrency": "GBP",
                                               "RateType": "Indicative"}),
        ["a future-dated international payment", "30 September 2026",
         "indicative rate, set when the payment is made"]),
    "international-standing-order": (
        {**{k: v for k, v in international().items()
            if k not in ("InstructionIdentification", "EndToEndIdentification",
                         "InstructionPriority", "RemittanceInformation",
                         "ExchangeRateInformation")},
         "Frequency": "WkInMnthDay:02:05", "Reference": "SUBS",
         "FirstPaymentDateTime": "2026-07-10T00:00:00+00:00",
         "FinalPaymentDateTime": "2027-01-08T00:00:00+00:00",
         "InstructedAmount": {"Amount": "20.00", "Currency": "EUR"},
         "CurrencyOfTransfer": "EUR"},
        ["an international standing order", "Every month on the second Friday",
         "€20.00", "10 July 2026", "On 8 January 2027", "Euro (EUR)", "SUBS"]),
}


@pytest.mark.parametrize("consent_type", sorted(CASES))
def test_every_payment_type_shows_its_details(browser, platform, clock, consent_type):
    initiation, expected = CASES[consent_type]
    world = payment_world(platform, clock, consent_type, initiation)
    log_in(browser, world)
    signing = to_sign(initiation, consent_type)
    assert f'<code id="sign-payee">{signing.payee}</code>' in browser.html
    assert f'<code id="sign-amount">{Decimal(signing.amount):.2f}</code>' in browser.html
    assert f'<code id="sign-currency">{signing.currency}</code>' in browser.html
    response = sign(browser, world, clock, consent_type=consent_type)
    assert response.status_code == 200, browser.html
    for text in expected:
        assert text in browser.html, text


def test_standing_order_frequency_and_ending_in_words(browser, platform, clock):
    initiation = standing_order(Frequency="EvryWorkgDay", NumberOfPayments=None,
                                FinalPaymentDateTime="2026-12-31T06:00:00+00:00")
    initiation = {k: v for k, v in initiation.items() if v is not None}
    world = payment_world(platform, clock, "domestic-standing-order", initiation)
    signed_in(browser, world, clock, "domestic-standing-order")
    assert "Every working day" in browser.html and "On 31 December 2026" in browser.html


# --- the account paid from ------------------------------------------------------------------

def test_the_customer_picks_from_their_own_accounts_with_available_balances(browser, world,
                                                                             clock):
    signed_in(browser, world, clock)
    page = browser.html
    assert f'value="{world.current}"' in page and f'value="{world.saver}"' in page
    assert "£1,250.00 available" in page and "£300.00 available" in page
    for other in (world.closed, world.stranger, world.euros):   # a GBP payment: GBP accounts
        assert other not in page


def test_approving_authorises_with_the_chosen_account_and_returns_a_code(browser, world,
                                                                        platform, clock):
    signed_in(browser, world, clock)
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": world.saver})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(world.redirect_uri + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-pay"] and query["code"][0] and "error" not in query
    assert state(platform, world) == ("Authorised", {world.saver})
    spent = browser.get(world.url)               # answered: the link is spent, in payment words
    assert spent.status_code == 404
    assert "nothing more will be shared or paid" in spent.get_data(as_text=True)


@pytest.mark.parametrize("account", ["", "closed", "stranger", "euros", "nonsense"])
def test_an_account_not_offered_cannot_be_chosen(browser, world, platform, clock, account):
    signed_in(browser, world, clock)
    chosen = getattr(world, account, account)
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": chosen})
    assert response.status_code == 422
    assert "Choose the account to pay from" in browser.html
    assert state(platform, world) == ("AwaitingAuthorisation", set())


def test_the_tpps_debtor_account_is_the_only_choice(browser, platform, clock):
    world = payment_world(platform, clock, debtor="saver")
    signed_in(browser, world, clock)
    page = browser.html
    assert f'value="{world.saver}"' in page and f'value="{world.current}"' not in page
    assert "asked to pay from" in page
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": world.current})
    assert response.status_code == 422
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": world.saver})
    assert response.status_code == 303
    assert state(platform, world) == ("Authorised", {world.saver})


def test_the_tpps_debtor_account_may_be_named_by_iban(browser, platform, clock):
    world = payment_world(platform, clock)
    with platform.uow() as uow:
        saver = uow.session.scalars(select(Account).where(
            Account.account_id == world.saver)).one()
        initiation = {**world.initiation, "DebtorAccount": {
            "SchemeName": "UK.OBIE.IBAN", "Identification": saver.iban.lower()}}
        row = uow.session.get(Consent, world.consent_pk)
        row.data = {**row.data, "Initiation": initiation}
        uow.commit()
    signed_in(browser, world, clock)
    assert f'value="{world.saver}"' in browser.html
    assert f'value="{world.current}"' not in browser.html
    assert " ".join(saver.iban[i:i + 4] for i in range(0, len(saver.iban), 4)) in browser.html


@pytest.mark.parametrize("debtor", ["stranger", "closed"])
def test_a_debtor_account_that_is_not_the_customers_refuses_the_consent(browser, platform,
                                                                        clock, debtor):
    world = payment_world(platform, clock, debtor=debtor)
    log_in(browser, world)
    response = sign(browser, world, clock)
    assert response.status_code == 403
    assert "You can&#39;t pay from that account" in browser.html
    assert "nothing was paid" in browser.html
    assert state(platform, world) == ("Rejected", set())
    link = browser.html.split('id="back-to-tpp" href="')[1].split('"')[0]
    query = parse_qs(urlsplit(link.replace("&amp;", "&")).query)
    assert link.startswith(world.redirect_uri + "?")
    assert query["error"] == ["access_denied"] and query["state"] == ["st-pay"]
    assert browser.get(world.url).status_code == 404


def test_refusing_rejects_and_returns_access_denied(browser, world, platform, clock):
    signed_in(browser, world, clock)
    response = browser.submit(f"{world.url}/decision", {"decision": "deny"})
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["st-pay"]
    assert "code" not in query
    assert state(platform, world) == ("Rejected", set())


# --- dynamic linking ------------------------------------------------------------------------

@pytest.mark.parametrize("other", [
    dl.PaymentToSign("12.51", "GBP", "12345612345678"),
    dl.PaymentToSign("1250", "GBP", "12345612345678"),
    dl.PaymentToSign("12.5", "EUR", "12345612345678"),
    dl.PaymentToSign("12.5", "GBP", "12345612345679"),
    dl.PaymentToSign("12.5", "GBP", "99999999999999")])
def test_a_code_signed_for_another_amount_or_payee_is_refused(browser, world, platform, clock,
                                                              other):
    log_in(browser, world)
    response = sign(browser, world, clock, payment=other)
    assert response.status_code == 401
    assert "not right" in browser.html and "Sign the payment" in browser.html
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": world.current},
                              follow=False)
    assert response.status_code == 303 and response.headers["Location"] == world.url
    assert state(platform, world) == ("AwaitingAuthorisation", set())
    with platform.uow() as uow:
        event = uow.session.scalars(select(LoginEvent).where(
            LoginEvent.step == dl.STEP)).one()
        assert event.outcome == "failure"


def test_the_plain_totp_does_not_sign_a_payment(browser, world, clock):
    log_in(browser, world)
    response = sign(browser, world, clock, code=pyotp.TOTP(world.secret).at(clock.now()))
    assert response.status_code == 401


def test_a_signed_code_is_accepted_once(browser, other_browser, platform, clock):
    """Two consents for the same amount and payee: the code the first used is refused for the
    second within its lifetime."""
    world = payment_world(platform, clock)
    with platform.uow() as uow:
        second = add_payment_consent(uow, world.tpp, "domestic-payment", world.initiation,
                                     clock.now())
        reference = add_pending(uow, world.tpp, second, clock.now()).reference
        uow.commit()
    code = dl.code_at(world.secret, to_sign(world.initiation), clock.now())
    log_in(browser, world)
    assert sign(browser, world, clock, code=code).status_code == 200
    again = SimpleNamespace(**{**vars(world), "url": f"/psu/authorize/{reference}"})
    log_in(other_browser, again)
    response = sign(other_browser, again, clock, code=code)
    assert response.status_code == 401 and "already used" in other_browser.html


def test_the_sandbox_fixed_code_does_not_sign_payments(browser, platform, clock):
    world = payment_world(platform, clock, username="alice", secret=ALICE_SECRET)
    log_in(browser, world)
    assert "fixed sandbox code does not sign" in browser.html
    assert sign(browser, world, clock, code=identity.SANDBOX_CODE).status_code == 401


def test_five_wrong_signed_codes_lock_the_login(browser, world, platform, clock):
    log_in(browser, world)
    for _ in range(4):
        assert sign(browser, world, clock, code="000000").status_code == 401
    response = sign(browser, world, clock, code="000000")
    assert response.status_code == 403 and "locked" in browser.html
    browser.get(world.url)                                  # back to the start, not signing
    assert 'name="password"' in browser.html and "Sign the payment" not in browser.html
    assert state(platform, world) == ("AwaitingAuthorisation", set())


def test_a_change_to_the_payment_after_signing_invalidates_the_code(browser, world, platform,
                                                                    clock):
    signed_in(browser, world, clock)
    assert "Step 3 of 3" in browser.html
    with platform.uow() as uow:
        row = uow.session.get(Consent, world.consent_pk)
        row.data = {**row.data, "Initiation": domestic(
            InstructedAmount={"Amount": "1250.00", "Currency": "GBP"})}
        uow.commit()
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": world.current},
                              follow=False)
    assert response.status_code == 303 and response.headers["Location"] == world.url
    assert state(platform, world) == ("AwaitingAuthorisation", set())
    browser.get(world.url)
    assert "Sign the payment" in browser.html and '<code id="sign-amount">1250.00</code>' in \
        browser.html


def test_ais_consents_keep_the_plain_totp(browser, platform, clock):
    from tests.integration.psu_web.conftest import build_world

    world = build_world(platform, clock)
    browser.get(world.url)
    browser.submit(f"{world.url}/login", {"username": world.username,
                                          "password": world.password})
    assert "Enter your one-time code" in browser.html and "sign-amount" not in browser.html
    browser.submit(f"{world.url}/code", {"code": world.totp.at(clock.now())})
    assert "would like to see your account information" in browser.html


# --- what the TPP sends is text, never markup -------------------------------------------------

def test_tpp_supplied_text_is_escaped(browser, platform, clock):
    hostile = '<script>alert("x")</script>'
    initiation = domestic(
        CreditorAccount={"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                         "Identification": "12345612345678", "Name": f"<b>Evil</b>{hostile}"},
        RemittanceInformation={"Reference": "<img src=x onerror=alert(1)>",
                               "Unstructured": hostile})
    world = payment_world(platform, clock, initiation=initiation, client_name=hostile)
    log_in(browser, world)
    assert "<script>" not in browser.html and "<b>Evil" not in browser.html
    signed_in(browser, world, clock)
    page = browser.html
    assert "<script>" not in page and "<b>Evil</b>" not in page and "<img" not in page
    assert str(escape("<b>Evil</b>")) in page
    assert str(escape("<img src=x onerror=alert(1)>")) in page


def test_the_decision_needs_a_csrf_token(browser, world, platform, clock):
    signed_in(browser, world, clock)
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": world.current},
                              csrf=False)
    assert response.status_code == 400 and "did not come from this site" in browser.html
    response = browser.http.post(f"{world.url}/code", data={"code": "123456",
                                                            "csrf_token": "forged"})
    assert response.status_code == 400
    assert state(platform, world) == ("AwaitingAuthorisation", set())


def test_the_payment_page_lets_the_form_redirect_to_the_tpp(browser, world, clock):
    response = signed_in(browser, world, clock)
    assert "form-action 'self' https://tpp.example;" in \
        response.headers["Content-Security-Policy"]


# --- the sandbox's authenticator --------------------------------------------------------------

def test_the_sign_page_links_demo_customers_to_the_sandbox_authenticator(browser, platform,
                                                                         clock):
    world = payment_world(platform, clock, username="alice", secret=ALICE_SECRET)
    log_in(browser, world)
    assert ("flask sandbox sign-code alice --amount 12.50 --currency GBP --payee "
            "12345612345678") in browser.html
    link = browser.html.split('id="sandbox-authenticator" href="')[1].split('"')[0]
    link = link.replace("&amp;", "&")
    query = parse_qs(urlsplit(link).query)
    assert urlsplit(link).path == "/sandbox/authenticator"
    assert query == {"username": ["alice"], "amount": ["12.50"], "currency": ["GBP"],
                     "payee": ["12345612345678"]}
    tool = Browser(browser.http.application.test_client())
    tool.get(link)
    assert 'value="12.50"' in tool.html and 'value="alice"' in tool.html
    response = tool.submit("/sandbox/authenticator", {
        "username": "alice", "amount": "12.50", "currency": "GBP",
        "payee": "12-34-56 12345678"})
    assert response.status_code == 200
    code = tool.html.split('<code id="signed-code">')[1].split("<")[0]
    assert code == dl.code_at(ALICE_SECRET, to_sign(world.initiation), clock.now())
    assert sign(browser, world, clock, code=code).status_code == 200
    assert "Step 3 of 3" in browser.html


def test_other_customers_get_no_authenticator_link(browser, world):
    log_in(browser, world)
    assert "sandbox-authenticator" not in browser.html and "Sandbox" not in browser.html


@pytest.mark.parametrize("username", ["not-a-demo-user", ""])
def test_the_authenticator_signs_for_demo_customers_only(app, platform, clock, username):
    world = payment_world(platform, clock, username="carol-real")
    tool = Browser(app.test_client())
    tool.get("/sandbox/authenticator")
    response = tool.submit("/sandbox/authenticator", {
        "username": username or world.username, "amount": "12.50", "currency": "GBP",
        "payee": "12345612345678"})
    assert response.status_code == 404 and "signed-code" not in tool.html


def test_the_authenticator_refuses_a_malformed_payment_and_posts_without_csrf(app):
    tool = Browser(app.test_client())
    tool.get("/sandbox/authenticator")
    response = tool.submit("/sandbox/authenticator", {
        "username": "alice", "amount": "-3", "currency": "GBP", "payee": "1"})
    assert response.status_code == 400 and "signed-code" not in tool.html
    response = tool.submit("/sandbox/authenticator", {
        "username": "alice", "amount": "3", "currency": "GBP", "payee": "1"}, csrf=False)
    assert response.status_code == 400 and "signed-code" not in tool.html


def test_the_sign_code_command_prints_the_demo_customers_code(app, clock):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["sandbox", "sign-code", "alice", "--amount", "12.50",
                                 "--currency", "GBP", "--payee", "12345612345678"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == dl.code_at(
        ALICE_SECRET, dl.payment_to_sign("12.50", "GBP", "12345612345678"), clock.now())
    refused = runner.invoke(args=["sandbox", "sign-code", "mallory", "--amount", "1",
                                  "--payee", "12345612345678"])
    assert refused.exit_code != 0 and "demo customers" in refused.output


def test_no_authenticator_without_the_sandbox(database, clock, tmp_path, redis_url):
    from bank import create_app

    production = create_app({"DATABASE_URL": database.url, "DATABASE": database,
                             "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                             "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                             "TESTING": True, "SANDBOX_ENABLED": False,
                             "REDIS_URL": redis_url})
    assert "sandbox_authenticator.page" not in production.view_functions
    assert production.test_client().get("/sandbox/authenticator").status_code == 404
    result = production.test_cli_runner().invoke(args=["sandbox", "sign-code", "alice",
                                                        "--amount", "1", "--payee", "1"])
    assert result.exit_code != 0


# --- the dashboard afterwards ---------------------------------------------------------------

def test_an_approved_payment_on_the_dashboard_says_what_it_pays_and_cannot_be_revoked(
        browser, other_browser, world, platform, clock):
    signed_in(browser, world, clock)
    browser.submit(f"{world.url}/decision", {"decision": "approve",
                                             "debtor_account": world.current})
    clock.advance(timedelta(seconds=60))                 # a fresh code step for the login
    other_browser.get("/psu/login")
    other_browser.submit("/psu/login", {"username": world.username,
                                        "password": world.password})
    other_browser.submit("/psu/login/code", {"code": pyotp.TOTP(world.secret).at(clock.now())})
    page = other_browser.html
    article = page.split(f'id="consent-{world.consent_id}"')[1].split("</article>")[0]
    assert "Approved" in article and "£12.50 to ACME Ltd (12-34-56 12345678)" in article
    assert "reference INV-0042" in article and "Everyday Current" in article
    assert "PayFast asked to make a payment" in article and "You approved the payment" in article
    assert "Revoke access" not in article and "What it can see" not in article
    response = other_browser.get(f"/psu/consents/{world.consent_id}/revoke")
    assert response.status_code == 303
    assert state(platform, world) == ("Authorised", {world.current})


# --- from the TPP's pushed request to tokens --------------------------------------------------

def test_a_payment_consent_goes_from_par_through_the_pages_to_tokens(app, client, browser,
                                                                     platform, clock):
    from tests.oauth_tpp import Tpp, pkce_verifier, redirect_params

    platform.app = app
    world = payment_world(platform, clock)
    tpp = Tpp(client, world.tpp, clock=clock)
    with platform.uow() as uow:
        consent_id = add_payment_consent(uow, world.tpp, "domestic-payment", world.initiation,
                                         clock.now()).consent_id
        uow.commit()
    verifier = pkce_verifier()
    params = tpp.request_params(consent_id, verifier=verifier, scope="openid payments")
    pages = pushed_journey(tpp, browser, params)
    journey = SimpleNamespace(**{**vars(world), "url": urlsplit(pages).path})
    signed_in(browser, journey, clock)
    assert "would like to make a payment" in browser.html
    decision = browser.submit(f"{journey.url}/decision", {"decision": "approve",
                                                          "debtor_account": world.current})
    returned = redirect_params(decision.headers["Location"])
    assert returned["state"] == params["state"]
    tokens = tpp.token({"grant_type": "authorization_code", "code": returned["code"],
                        "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.json
    assert "payments" in tokens.json["scope"].split()
    with platform.uow() as uow:
        row = uow.session.scalars(select(Consent).where(Consent.consent_id == consent_id)).one()
        chosen = uow.session.scalars(select(Account.account_id).join(
            ConsentAccount, ConsentAccount.account_pk == Account.id).where(
            ConsentAccount.consent_pk == row.id)).all()
        assert (row.status, chosen) == ("Authorised", [world.current])
