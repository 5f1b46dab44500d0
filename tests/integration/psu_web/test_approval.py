"""The customer approves or denies a third party's request: login, one-time code, decision."""
from __future__ import annotations

from markupsafe import escape
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from aspsp.identity.models import LoginEvent
from aspsp.ledger.models import Account
from consent.models import Consent, ConsentAccount
from consent.permissions import describe
from tests.integration.psu_web.conftest import build_world


def sign_in(browser, world, *, code=None, clock=None):
    browser.get(world.url)
    browser.submit(f"{world.url}/login", {"username": world.username,
                                          "password": world.password})
    return browser.submit(f"{world.url}/code", {"code": code or world.totp.at(clock.now())})


def consent_row(platform, world):
    with platform.uow() as uow:
        row = uow.session.get(Consent, world.consent_pk)
        accounts = set(uow.session.scalars(
            select(Account.account_id).join(ConsentAccount,
                                            ConsentAccount.account_pk == Account.id)
            .where(ConsentAccount.consent_pk == row.id)))
        return row.status, accounts


def test_the_login_page_names_the_third_party(browser, world):
    response = browser.get(world.url)
    assert response.status_code == 200
    assert "Invisible Bank" in browser.html
    assert "Budget Buddy" in browser.html
    assert 'name="username"' in browser.html and 'type="password"' in browser.html


def test_pages_carry_the_security_headers(browser, world):
    headers = browser.get(world.url).headers
    csp = headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp   # no script runs at all
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Cache-Control"] == "no-store"


def test_session_cookie_is_httponly_and_samesite_lax(browser, world):
    browser.get(world.url)
    response = browser.submit(f"{world.url}/login", {"username": world.username,
                                                     "password": world.password}, follow=False)
    assert response.status_code == 303
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


@pytest.mark.parametrize("case", ["unknown", "expired", "completed"])
def test_a_reference_that_cannot_be_answered_shows_a_page(browser, world, platform, clock,
                                                          case):
    from aspsp.oauth.models import PendingAuthorization

    url = world.url
    if case == "unknown":
        url = "/psu/authorize/no-such-reference"
    elif case == "expired":
        clock.advance(timedelta(minutes=10))
    else:
        with platform.uow() as uow:
            uow.session.scalars(select(PendingAuthorization).where(
                PendingAuthorization.reference == world.reference)).one().completed_at = clock.now()
            uow.commit()
    response = browser.get(url)
    assert response.status_code == 404
    assert "expired or has already been answered" in browser.html


def test_a_post_without_csrf_token_is_refused(browser, world, platform):
    browser.get(world.url)
    response = browser.submit(f"{world.url}/login", {"username": world.username,
                                                     "password": world.password},
                              csrf=False, follow=False)
    assert response.status_code == 400
    assert "did not come from this site" in browser.html
    with platform.uow() as uow:      # refused before any login attempt was made
        assert uow.session.scalars(select(LoginEvent)).all() == []


def test_a_forged_csrf_token_is_refused(browser, world):
    browser.get(world.url)
    response = browser.http.post(f"{world.url}/login", data={
        "username": world.username, "password": world.password, "csrf_token": "forged"})
    assert response.status_code == 400


def test_wrong_password_shows_an_error_and_is_recorded(browser, world, platform):
    browser.get(world.url)
    response = browser.submit(f"{world.url}/login", {"username": world.username,
                                                     "password": "wrong"})
    assert response.status_code == 401
    assert "The username or password is not right." in browser.html
    assert 'name="password"' in browser.html               # still on the login step
    with platform.uow() as uow:
        event = uow.session.scalars(select(LoginEvent)).one()
        assert (event.username, event.step, event.outcome) == (world.username, "password",
                                                               "failure")


def test_five_wrong_passwords_lock_the_login(browser, world, clock):
    browser.get(world.url)
    for _ in range(5):
        browser.submit(f"{world.url}/login", {"username": world.username, "password": "x"})
    response = browser.submit(f"{world.url}/login", {"username": world.username,
                                                     "password": world.password})
    assert response.status_code == 401
    assert "locked" in browser.html


def test_password_then_code_then_the_consent_screen(browser, world, clock):
    browser.get(world.url)
    browser.submit(f"{world.url}/login", {"username": world.username,
                                          "password": world.password})
    assert "Enter your one-time code" in browser.html
    wrong = browser.submit(f"{world.url}/code", {"code": "12345x"})
    assert wrong.status_code == 401 and "not right" in browser.html
    response = browser.submit(f"{world.url}/code", {"code": world.totp.at(clock.now())})
    assert response.status_code == 200
    page = browser.html
    assert "Budget Buddy" in page and "would like to see your account information" in page
    for line in describe(["ReadAccountsDetail", "ReadBalances", "ReadTransactionsCredits",
                          "ReadTransactionsDebits", "ReadTransactionsDetail"]):
        assert str(escape(line)) in page
    assert "13 September 2026, 13:00 BST" in page           # ExpirationDateTime, now + 90 days
    assert "15 June 2025" in page                           # TransactionFromDateTime
    assert world.current in page and world.saver in page
    assert world.closed not in page and world.stranger not in page
    assert 'value="approve"' in page and 'value="deny"' in page


def test_approve_with_accounts_sends_the_code_back_to_the_tpp(browser, world, platform, clock):
    sign_in(browser, world, clock=clock)
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "account": [world.current]})
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith(world.redirect_uri + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["state"] == ["st-123"] and query["code"][0]
    assert query["iss"] == [platform.config["ISSUER"]]
    assert consent_row(platform, world) == ("Authorised", {world.current})
    assert browser.get(world.url).status_code == 404        # answered: the link is spent


def test_the_consent_page_lets_the_form_redirect_to_the_tpp(browser, world, clock):
    response = sign_in(browser, world, clock=clock)
    assert "form-action 'self' https://tpp.example;" in response.headers["Content-Security-Policy"]


def test_approve_without_an_account_shows_the_form_again(browser, world, platform, clock):
    sign_in(browser, world, clock=clock)
    response = browser.submit(f"{world.url}/decision", {"decision": "approve"})
    assert response.status_code == 422
    assert "Pick at least one account" in browser.html
    assert 'value="approve"' in browser.html
    assert consent_row(platform, world) == ("AwaitingAuthorisation", set())


@pytest.mark.parametrize("account", ["closed", "stranger"])
def test_only_the_customers_own_open_accounts_can_be_shared(browser, world, platform, clock,
                                                            account):
    sign_in(browser, world, clock=clock)
    response = browser.submit(f"{world.url}/decision", {
        "decision": "approve", "account": [world.current, getattr(world, account)]})
    assert response.status_code == 422
    assert consent_row(platform, world) == ("AwaitingAuthorisation", set())


def test_deny_returns_access_denied_and_rejects_the_consent(browser, world, platform, clock):
    sign_in(browser, world, clock=clock)
    response = browser.submit(f"{world.url}/decision", {"decision": "deny"})
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["error"] == ["access_denied"] and query["state"] == ["st-123"]
    assert "code" not in query
    assert consent_row(platform, world)[0] == "Rejected"


def test_the_decision_needs_the_second_factor(browser, world, platform):
    browser.get(world.url)
    browser.submit(f"{world.url}/login", {"username": world.username,
                                          "password": world.password})
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "account": [world.current]},
                              follow=False)
    assert response.status_code == 303 and response.headers["Location"] == world.url
    assert consent_row(platform, world) == ("AwaitingAuthorisation", set())


def test_a_stolen_reference_cannot_be_resumed_in_another_browser(browser, other_browser,
                                                                 world, platform, clock):
    sign_in(browser, world, clock=clock)
    assert "would like to see your account information" in browser.html

    other_browser.get(world.url)                           # the thief sees a login form only
    assert "would like to see your account information" not in other_browser.html
    token = other_browser.html
    response = other_browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                              "account": [world.current]},
                                    follow=False)
    assert response.status_code == 303 and response.headers["Location"] == world.url
    other_browser.html = token
    response = other_browser.submit(f"{world.url}/login", {"username": world.username,
                                                           "password": world.password})
    assert response.status_code == 409
    assert consent_row(platform, world) == ("AwaitingAuthorisation", set())

    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "account": [world.saver]})
    assert response.status_code == 303                      # the customer's own browser goes on
    assert consent_row(platform, world) == ("Authorised", {world.saver})


def test_a_hostile_client_name_is_escaped(browser, platform, clock):
    world = build_world(platform, clock, client_name='<script>alert("pwned")</script>')
    browser.get(world.url)
    assert "<script>" not in browser.html
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in browser.html
    sign_in(browser, world, clock=clock)
    assert "<script>" not in browser.html
    assert "&lt;script&gt;" in browser.html


def test_sandbox_demo_customer_sees_the_code_and_may_use_the_fixed_one(browser, platform,
                                                                       clock):
    world = build_world(platform, clock, username="alice")   # in sandbox.seed.DEMO_USERS
    browser.get(world.url)
    browser.submit(f"{world.url}/login", {"username": "alice", "password": world.password})
    assert f'<code id="sandbox-current-code">{world.totp.at(clock.now())}</code>' in browser.html
    assert "123456" in browser.html
    browser.submit(f"{world.url}/code", {"code": "123456"})
    assert "would like to see your account information" in browser.html


def test_other_customers_get_no_sandbox_shortcut(browser, world, clock):
    browser.get(world.url)
    browser.submit(f"{world.url}/login", {"username": world.username,
                                          "password": world.password})
    assert "sandbox-current-code" not in browser.html
    response = browser.submit(f"{world.url}/code", {"code": "123456"})
    assert response.status_code == 401 or world.totp.at(clock.now()) == "123456"


def test_no_key_that_may_sign_the_id_token_is_a_503_page_and_the_decision_can_be_retried(
        browser, world, platform, clock, caplog):
    """A FAPI 1.0 hybrid client's id_token rides in the redirect. If the bank has no key that
    may sign it yet (a new algorithm's key waits out the JWKS cache lifetime), the customer
    gets a bank page saying when to try again, nothing is approved, and the same decision
    works once the key may sign."""
    from sqlalchemy import delete

    from aspsp.oauth import keys
    from aspsp.oauth.models import PendingAuthorization, SigningKey
    with platform.uow() as uow:
        pending = uow.session.scalars(select(PendingAuthorization).where(
            PendingAuthorization.reference == world.reference)).one()
        pending.params = {**pending.params, "response_type": "code id_token"}
        uow.session.execute(delete(SigningKey).where(SigningKey.owner == "aspsp",
                                                     SigningKey.alg == "PS256"))
        [made] = keys.ensure_keys(uow, "aspsp", keyring=platform.keyring, now=clock.now())
        uow.commit()
        made_id = made.id
    sign_in(browser, world, clock=clock)

    with caplog.at_level("ERROR", logger="consent.web"):
        response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                            "account": [world.current]})
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(keys.JWKS_MAX_AGE_SECONDS)
    assert escape("We can't finish this just now") in browser.html
    assert "Nothing has been approved or shared yet" in browser.html
    assert "temporarily_unavailable" in browser.html
    assert any("no signing key" in r.getMessage() for r in caplog.records)
    assert consent_row(platform, world) == ("AwaitingAuthorisation", set())

    with platform.uow() as uow:
        row = uow.session.get(SigningKey, made_id)
        row.created_at = row.active_from = clock.now() - keys.JWKS_MAX_AGE
        uow.commit()
    browser.get(world.url)
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "account": [world.current]})
    assert response.status_code == 303
    fragment = parse_qs(urlsplit(response.headers["Location"]).fragment)
    assert fragment["code"][0] and fragment["id_token"][0] and fragment["state"] == ["st-123"]
    assert consent_row(platform, world) == ("Authorised", {world.current})


def test_an_approval_after_the_banks_authorisation_window_is_refused_on_the_page(
        browser, world, platform, clock):
    """The consent was made a day ago (CONSENT_AUTHORISATION_WINDOW): the customer who
    approves it now is told it can no longer be approved, and nothing is authorised."""
    with platform.uow() as uow:
        uow.session.get(Consent, world.consent_pk).created_at = clock.now() - timedelta(days=1)
        uow.commit()
    sign_in(browser, world, clock=clock)
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "account": [world.current]})
    assert response.status_code == 422
    assert "waited too long for your approval" in browser.html
    assert consent_row(platform, world) == ("AwaitingAuthorisation", set())
