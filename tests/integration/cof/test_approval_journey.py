"""The customer's side of a funds-confirmation consent, on the bank's pages with a form
'browser' (tests/integration/psu_web): the approval page says what the CBPII will be able to
ask (whether the account has enough money for a payment, never the balance), until when, and
about which account; approving authorises exactly that account; an account that is not the
customer's is refused at once; the dashboard lists the consent, and revoking it there stops
the CBPII's next confirmation and raises consent-authorization-revoked."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pyotp
from markupsafe import escape
from sqlalchemy import select

from aspsp.events.models import EventNotification, EventSubscription
from aspsp.identity.services import totp_secret
from aspsp.ids import new_id
from aspsp.oauth.models import PendingAuthorization
from consent.models import Consent, ConsentAccount
from tests import factories
from tests.integration.cof.conftest import SCOPE, Cof, consent_body
from tests.integration.psu_web.conftest import Browser
from tests.psu_factories import PASSWORD, psu

CAR = "urn:uk:org:openbanking:events:consent-authorization-revoked"


def build(platform, clock, cbpii, create_consent, *, named: str | None = None,
          expires: str | None = "2026-12-31T23:00:00+00:00"):
    """A customer with a current account (and a saver), a CBPII's consent for the current
    account (or `named`: the identification of another), and the pending authorization the
    CBPII's PAR would have made."""
    now = clock.now()
    with platform.uow() as uow:
        customer = psu(uow, now=now, name="Alice Morgan")
        current = factories.account(uow, now=now, owner=customer.party,
                                    name="Everyday Current", funded="250.00")
        factories.account(uow, now=now, owner=customer.party, name="Rainy Day Saver",
                          sub_type="Savings")
        uow.commit()
        identification = f"{current.sort_code}{current.account_number}"
        username, secret = customer.username, totp_secret(customer, platform.keyring)
        customer_pk, account_pk = customer.id, current.id
    data = {"ExpirationDateTime": expires} if expires else {}
    response = create_consent(cbpii, consent_body(named or identification, **data))
    assert response.status_code == 201
    consent_id = response.get_json()["Data"]["ConsentId"]
    redirect_uri = cbpii.client.row.client_metadata["redirect_uris"][0]
    with platform.uow() as uow:
        consent_pk = uow.session.scalars(select(Consent.id).where(
            Consent.consent_id == consent_id)).one()
        pending = PendingAuthorization(
            reference=new_id(), client_pk=cbpii.client.row.id, consent_pk=consent_pk,
            params={"response_type": "code", "client_id": cbpii.client_id,
                    "redirect_uri": redirect_uri, "scope": f"openid {SCOPE}",
                    "state": "st-cof", "nonce": "n-cof", "code_challenge_method": "S256",
                    "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
            created_at=now, expires_at=now + timedelta(minutes=10))
        uow.session.add(pending)
        uow.commit()
        reference = pending.reference
    return SimpleNamespace(username=username, totp=pyotp.TOTP(secret), consent_id=consent_id,
                           consent_pk=consent_pk, customer_pk=customer_pk,
                           account_pk=account_pk, identification=identification,
                           url=f"/psu/authorize/{reference}", redirect_uri=redirect_uri)


def sign_in(browser: Browser, world, clock):
    browser.get(world.url)
    browser.submit(f"{world.url}/login", {"username": world.username, "password": PASSWORD})
    return browser.submit(f"{world.url}/code", {"code": world.totp.at(clock.now())})


def consent_row(platform, consent_pk: int):
    with platform.uow() as uow:
        row = uow.session.get(Consent, consent_pk)
        accounts = uow.session.scalars(select(ConsentAccount.account_pk).where(
            ConsentAccount.consent_pk == consent_pk)).all()
        return row.status, list(accounts)


def test_the_page_says_what_the_cbpii_may_ask_and_approving_authorises_that_account(
        app, platform, clock, cbpii, create_consent):
    world = build(platform, clock, cbpii, create_consent)
    browser = Browser(app.test_client())
    page = sign_in(browser, world, clock)
    assert page.status_code == 200
    html = browser.html
    assert f"{escape(cbpii.client.row.client_name)}</span> would like to check whether your " \
           "account has enough money for a payment" in html
    assert "never see your balance" in html
    assert "31 December 2026, 23:00 GMT" in html                     # the expiry, UK time
    shown = f"{world.identification[0:2]}-{world.identification[2:4]}-" \
            f"{world.identification[4:6]} {world.identification[6:]}"
    assert f"asked about account {shown}" in html
    assert "Everyday Current" in html and "Rainy Day Saver" not in html
    # no balance on the page (as money: the page's random ids may hold the digits 250)
    assert "250.00" not in html and "£250" not in html and "250 GBP" not in html
    account_id = html.split('name="account" value="')[1].split('"')[0]
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "account": account_id}, follow=False)
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(world.redirect_uri)
    assert "code" in parse_qs(urlsplit(location).query)
    assert consent_row(platform, world.consent_pk) == ("Authorised", [world.account_pk])


def test_an_account_that_is_not_the_customers_is_refused_and_refusing_rejects(
        app, platform, clock, cbpii, create_consent):
    with platform.uow() as uow:
        stranger = factories.account(uow, now=clock.now(), name="Somebody Else")
        uow.commit()
        theirs = f"{stranger.sort_code}{stranger.account_number}"
    world = build(platform, clock, cbpii, create_consent, named=theirs)
    browser = Browser(app.test_client())
    page = sign_in(browser, world, clock)
    assert page.status_code == 403
    assert "That account can&#39;t be checked" in browser.html
    target = browser.html.split('id="back-to-tpp" href="')[1].split('"')[0]
    assert "error=access_denied" in target.replace("&amp;", "&")
    assert consent_row(platform, world.consent_pk)[0] == "Rejected"

    world = build(platform, clock, cbpii, create_consent)
    browser = Browser(app.test_client())
    sign_in(browser, world, clock)
    response = browser.submit(f"{world.url}/decision", {"decision": "deny"}, follow=False)
    assert response.status_code == 303 and "error=access_denied" in response.headers["Location"]
    assert consent_row(platform, world.consent_pk) == ("Rejected", [])


def test_revoking_in_the_dashboard_stops_the_next_confirmation_and_tells_the_cbpii(
        app, platform, clock, cbpii, create_consent):
    world = build(platform, clock, cbpii, create_consent, expires=None)
    browser = Browser(app.test_client())
    sign_in(browser, world, clock)
    account_id = browser.html.split('name="account" value="')[1].split('"')[0]
    browser.submit(f"{world.url}/decision", {"decision": "approve", "account": account_id},
                   follow=False)
    with platform.uow() as uow:          # the CBPII polls for events (no callback)
        uow.session.add(EventSubscription(subscription_id=new_id(), client_pk=cbpii.client.row.id,
                                          callback_url=None, version="3.1", event_types=None,
                                          created_at=clock.now(), updated_at=clock.now()))
        uow.commit()
    holder = SimpleNamespace(psu=SimpleNamespace(id=world.customer_pk))
    token = cbpii.token(scope=SCOPE, grant_type="authorization_code",
                        consent_id=world.consent_id, psu=holder.psu)
    cof = Cof(cbpii, holder, world.consent_id, token)
    assert cof.available("250.00") is True

    clock.advance(timedelta(seconds=30))      # a fresh one-time code for the dashboard
    browser.get("/psu/login")
    browser.submit("/psu/login", {"username": world.username, "password": PASSWORD})
    browser.submit("/psu/login/code", {"code": world.totp.at(clock.now())})
    assert "Whether your account has enough money for a payment: yes or no, never your " \
           "balance" in browser.html
    assert "no end date" in browser.html
    assert "asked to check whether your account has enough money for payments" in browser.html
    browser.get(f"/psu/consents/{world.consent_id}/revoke")
    assert "it can no longer ask whether" in " ".join(browser.html.split())
    browser.submit(f"/psu/consents/{world.consent_id}/revoke", {})
    assert "can no longer check whether your account has enough money" in browser.html
    assert consent_row(platform, world.consent_pk)[0] == "Revoked"

    refused = cof.confirm("1.00")                     # its tokens went with the consent
    assert refused.status_code == 401 and refused.get_data() == b""
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    with platform.uow() as uow:
        events = uow.session.scalars(select(EventNotification).where(
            EventNotification.client_pk == cbpii.client.row.id)).all()
        assert len(events) == 1 and CAR in events[0].claims["events"]
        assert events[0].claims["sub"].endswith(
            f"/open-banking/v3.1/cbpii/funds-confirmation-consents/{world.consent_id}")
