"""The customer's consent dashboard: its own login, every consent by third party, revoking."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import pytest
from markupsafe import escape
from sqlalchemy import select

from aspsp.identity.models import PsuUser
from aspsp.ledger.models import Account
from aspsp.obapi import OBError
from consent import gate, services
from consent.models import Consent
from consent.permissions import describe
from tests.oauth_factories import dpop_proof, dpop_token, make_client
from tests.psu_factories import consent as make_consent
from tests.psu_factories import psu as make_psu

RESOURCE = "http://localhost/open-banking/v3.1/aisp/accounts"


def authorised(uow, *, now, tpp, customer, accounts, permissions=None):
    row = make_consent(uow, now=now, client=tpp, permissions=permissions)
    pks = list(uow.session.scalars(select(Account.id).where(Account.account_id.in_(accounts))))
    services.authorise(uow, row, customer, pks, now)
    return row


@pytest.fixture
def dash(world, platform, clock):
    """Alice gave Budget Buddy two consents and Pennywise one; Bob gave Budget Buddy one."""
    now = clock.now()
    with platform.uow() as uow:
        alice = uow.session.get(PsuUser, world.psu.id)
        buddy_old = authorised(uow, now=now - timedelta(days=30), tpp=world.tpp,
                               customer=alice, accounts=[world.saver],
                               permissions=["ReadAccountsBasic"])
        buddy = authorised(uow, now=now, tpp=world.tpp, customer=alice,
                           accounts=[world.current, world.saver])
        pennywise = make_client(uow, now=now, name="Pennywise Savings")
        penny = authorised(uow, now=now, tpp=pennywise, customer=alice,
                           accounts=[world.current], permissions=["ReadAccountsDetail",
                                                                  "ReadBalances"])
        bob = make_psu(uow, now=now, name="Bob Other")
        from tests import factories
        bobs_account = factories.account(uow, now=now, owner=bob.party, name="Bob's Account")
        bobs = authorised(uow, now=now, tpp=world.tpp, customer=bob,
                          accounts=[bobs_account.account_id])
        issued = dpop_token(uow, world.tpp, now=now, scope="openid accounts",
                            grant_type="authorization_code", consent_pk=buddy.id,
                            psu_pk=alice.id)
        uow.commit()
        return SimpleNamespace(buddy_old=buddy_old.consent_id, buddy=buddy.consent_id,
                               penny=penny.consent_id, bobs=bobs.consent_id,
                               token=issued.access_token)


def dashboard_login(browser, world, clock):
    browser.get("/psu/login")
    browser.submit("/psu/login", {"username": world.username, "password": world.password})
    return browser.submit("/psu/login/code", {"code": world.totp.at(clock.now())})


def status_of(platform, consent_id):
    with platform.uow() as uow:
        return uow.session.scalars(select(Consent.status).where(
            Consent.consent_id == consent_id)).one()


def gate_answer(app, platform, clock, world, token):
    """What the consent gate makes of the token on an AIS resource: 'ok' or the HTTP status."""
    proof = dpop_proof(world.tpp.dpop_key, "GET", RESOURCE, access_token=token,
                       iat=int(clock.now().timestamp()))
    with app.test_request_context(RESOURCE, headers={"Authorization": f"DPoP {token}",
                                                     "DPoP": proof}):
        from flask import request
        with platform.uow() as uow:
            try:
                gate.authorise_request(uow, request, scope="accounts", now=clock.now(),
                                       permission="ReadBalances")
            except OBError as error:
                return error.status
            return "ok"


def test_the_dashboard_needs_its_own_login(browser):
    response = browser.get("/psu/consents")
    assert response.status_code == 303 and response.headers["Location"] == "/psu/login"


def test_a_password_alone_does_not_open_the_dashboard(browser, world):
    browser.get("/psu/login")
    browser.submit("/psu/login", {"username": world.username, "password": world.password})
    assert "Enter your one-time code" in browser.html
    assert browser.get("/psu/consents").status_code == 303


def test_wrong_code_keeps_the_dashboard_shut(browser, world, clock):
    browser.get("/psu/login")
    browser.submit("/psu/login", {"username": world.username, "password": world.password})
    response = browser.submit("/psu/login/code", {"code": "abcdef"})
    assert response.status_code == 401
    assert browser.get("/psu/consents").status_code == 303


def test_lists_every_consent_grouped_by_third_party(browser, world, dash, clock):
    response = dashboard_login(browser, world, clock)
    assert response.status_code == 200
    page = browser.html
    assert response.headers["Cache-Control"] == "no-store"
    assert page.index("Budget Buddy") < page.index("Pennywise Savings")   # groups by name
    assert page.count('class="card provider"') == 2
    buddy_section = page[page.index("Budget Buddy"):page.index("Pennywise Savings")]
    assert dash.buddy in buddy_section and dash.buddy_old in buddy_section
    assert buddy_section.index(dash.buddy) < buddy_section.index(dash.buddy_old)  # newest first
    assert dash.penny in page[page.index("Pennywise Savings"):]
    assert dash.bobs not in page                                     # another customer's
    for line in describe(["ReadAccountsDetail", "ReadBalances"]):
        assert str(escape(line)) in page
    assert "Everyday Current" in page and "Rainy Day Saver" in page
    assert "Budget Buddy asked to see your account information" in page   # the history,
    assert "You approved access" in page                                  # in plain words
    assert page.count("Revoke access") == 3


def article_of(html: str, consent_id: str) -> str:
    article = html[html.index(f'id="consent-{consent_id}"'):]
    return article[:article.index("</article>")]


def confirm_and_revoke(browser, consent_id):
    """Revoke access, confirm on the page it leads to, submit that page's form."""
    link = f'href="/psu/consents/{consent_id}/revoke"'
    assert link in article_of(browser.html, consent_id)
    assert browser.get(f"/psu/consents/{consent_id}/revoke").status_code == 200
    action = f'action="/psu/consents/{consent_id}/revoke"'
    assert action in browser.html and 'method="post"' in browser.html
    return browser.submit(f"/psu/consents/{consent_id}/revoke", {})


def test_revoking_stops_the_tokens_at_once(app, browser, world, dash, platform, clock):
    assert gate_answer(app, platform, clock, world, dash.token) == "ok"
    dashboard_login(browser, world, clock)
    response = confirm_and_revoke(browser, dash.buddy)
    assert response.status_code == 200
    assert "Budget Buddy can no longer see your accounts" in browser.html
    assert status_of(platform, dash.buddy) == "Revoked"
    assert status_of(platform, dash.penny) == "Authorised"
    assert gate_answer(app, platform, clock, world, dash.token) == 401
    article = article_of(browser.html, dash.buddy)
    assert "Access stopped" in article and "Revoke access" not in article
    assert "You stopped access" in article


def test_revoke_without_csrf_token_is_refused(browser, world, dash, platform, clock):
    dashboard_login(browser, world, clock)
    response = browser.submit(f"/psu/consents/{dash.buddy}/revoke", {}, csrf=False)
    assert response.status_code == 400
    assert status_of(platform, dash.buddy) == "Authorised"


def test_another_customers_consent_cannot_be_revoked(browser, world, dash, platform, clock):
    dashboard_login(browser, world, clock)
    browser.submit(f"/psu/consents/{dash.bobs}/revoke", {})
    assert "cannot be revoked" in browser.html
    assert status_of(platform, dash.bobs) == "Authorised"


def test_revoking_twice_says_it_is_no_longer_in_force(browser, world, dash, platform, clock):
    dashboard_login(browser, world, clock)
    token_page = browser.html
    browser.submit(f"/psu/consents/{dash.penny}/revoke", {})
    browser.html = token_page
    browser.submit(f"/psu/consents/{dash.penny}/revoke", {})
    assert "cannot be revoked" in browser.html
    assert status_of(platform, dash.penny) == "Revoked"


def test_logout_ends_the_dashboard_session(browser, world, dash, clock):
    dashboard_login(browser, world, clock)
    response = browser.submit("/psu/logout", {})
    assert "You are signed out." in browser.html and response.status_code == 200
    assert browser.get("/psu/consents").status_code == 303


def test_fifteen_idle_minutes_end_the_dashboard_session(browser, world, dash, clock):
    dashboard_login(browser, world, clock)
    clock.advance(timedelta(minutes=14))
    assert browser.get("/psu/consents").status_code == 200           # activity keeps it open
    clock.advance(timedelta(minutes=15, seconds=1))
    assert browser.get("/psu/consents").status_code == 303


def test_a_customer_with_no_consents_is_told_so(browser, world, clock):
    dashboard_login(browser, world, clock)
    assert "You have not connected any apps to your accounts." in browser.html


# --- revoking asks first ---------------------------------------------------------------------

def test_revoking_asks_for_confirmation_and_says_what_happens_next(browser, world, dash,
                                                                   platform, clock):
    dashboard_login(browser, world, clock)
    page = browser.get(f"/psu/consents/{dash.penny}/revoke")
    html = browser.html
    assert page.status_code == 200
    assert "Stop <span class=\"tpp\">Pennywise Savings</span> seeing your accounts?" in html
    assert "What happens next" in html
    assert "loses access straight away" in html and "Everyday Current" in html
    assert "start again from the app" in html
    assert 'href="/psu/consents">Keep access</a>' in html
    assert 'name="csrf_token"' in html
    assert status_of(platform, dash.penny) == "Authorised"       # asking changes nothing
    browser.submit(f"/psu/consents/{dash.penny}/revoke", {})
    assert status_of(platform, dash.penny) == "Revoked"


def test_the_confirmation_page_needs_the_dashboard_login(browser, world, dash, platform):
    response = browser.get(f"/psu/consents/{dash.buddy}/revoke")
    assert response.status_code == 303 and response.headers["Location"] == "/psu/login"
    assert status_of(platform, dash.buddy) == "Authorised"


@pytest.mark.parametrize("which", ["bobs", "unknown"])
def test_no_confirmation_page_for_a_consent_the_customer_cannot_revoke(browser, world, dash,
                                                                       platform, clock, which):
    dashboard_login(browser, world, clock)
    consent_id = {"bobs": dash.bobs, "unknown": "aac-no-such-consent"}[which]
    response = browser.get(f"/psu/consents/{consent_id}/revoke")
    assert response.status_code == 303 and response.headers["Location"] == "/psu/consents"
    assert "cannot be revoked" in browser.get("/psu/consents").get_data(as_text=True)
    assert status_of(platform, dash.bobs) == "Authorised"


def test_revoking_works_without_javascript_in_a_real_form(browser, world, dash, platform,
                                                          clock):
    """The confirmation page's form is what posts: its CSRF token is the one sent."""
    dashboard_login(browser, world, clock)
    browser.get(f"/psu/consents/{dash.buddy}/revoke")
    confirmation = browser.html
    browser.html = confirmation.replace('class="bank"', "")          # only this page's token
    browser.submit(f"/psu/consents/{dash.buddy}/revoke", {})
    assert status_of(platform, dash.buddy) == "Revoked"


# --- what the dashboard says ------------------------------------------------------------------

def test_a_revoked_consent_shows_when_it_was_revoked_instead_of_when_access_ends(
        browser, world, dash, platform, clock):
    dashboard_login(browser, world, clock)
    clock.advance(timedelta(minutes=10))
    confirm_and_revoke(browser, dash.buddy)
    revoked = article_of(browser.html, dash.buddy)
    assert "<dt>You stopped access</dt><dd>15 June 2026, 13:10 BST</dd>" in revoked
    assert "Access ends" not in revoked
    assert "Access ends" in article_of(browser.html, dash.penny)    # still in force


def test_times_are_uk_local_time_with_the_zone_named(browser, world, dash, clock):
    dashboard_login(browser, world, clock)                # the clock: 15 June 2026 12:00 UTC
    article = article_of(browser.html, dash.buddy)
    assert "<dt>Asked</dt><dd>15 June 2026, 13:00 BST</dd>" in article
    assert "<dt>Approved</dt><dd>15 June 2026, 13:00 BST</dd>" in article
    assert "UTC" not in browser.html


def test_the_history_is_in_customer_words_not_state_names(browser, world, dash, platform,
                                                         clock):
    dashboard_login(browser, world, clock)
    confirm_and_revoke(browser, dash.buddy)
    history = article_of(browser.html, dash.buddy)
    history = history[history.index('<ol class="history">'):]
    lines = [item[:item.index("</li>")] for item in history.split("<li>")[1:]]
    assert [line.split(": ", 1)[1] for line in lines] == [
        "Budget Buddy asked to see your account information", "You approved access",
        "You stopped access"]
    assert lines[0].startswith('<span class="when">15 June 2026, 13:00 BST</span>')
    for state in ("AwaitingAuthorisation", "Authorised", "Revoked", "→"):
        assert state not in browser.html


def test_the_approval_screen_links_to_the_dashboard(browser, world, clock):
    from tests.integration.psu_web.test_approval import sign_in
    sign_in(browser, world, clock=clock)
    assert "would like to see your account information" in browser.html
    assert '<a href="/psu/consents"' in browser.html
