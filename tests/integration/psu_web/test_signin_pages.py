"""The customer's pages for a sign-in (scope `openid` alone, no consent: the protocol is in
tests/integration/oauth/test_signin.py): the pages say the app asks the customer to sign in,
what it will and will not learn, offer no account to pick, and the decision goes back to the
app like any other."""
from __future__ import annotations

from tests.oauth_tpp import pkce_verifier, redirect_params

from .conftest import build_world, pushed_journey


def _text(browser) -> str:
    return " ".join(browser.html.split())


def _start(tpp, browser, verifier):
    params = tpp.request_params(None, verifier=verifier, scope="openid", claims=None)
    return pushed_journey(tpp, browser, params), params


def test_the_pages_of_a_sign_in_from_login_to_the_apps_tokens(tpp, browser, platform, clock):
    world = build_world(platform, clock)
    verifier = pkce_verifier()
    pages, params = _start(tpp, browser, verifier)
    browser.get(pages)
    assert "Budget Buddy" in _text(browser)
    assert "asked you to sign in to it with your bank" in _text(browser)
    assert "account information" not in _text(browser)
    browser.submit(f"{pages}/login", {"username": world.username, "password": world.password})
    page = browser.submit(f"{pages}/code", {"code": world.totp.at(clock.now())})
    assert page.status_code == 200
    assert "would like you to sign in with your bank" in _text(browser)
    assert "What it will not get" in _text(browser)
    assert "Your accounts, balances or transactions" in _text(browser)
    assert 'name="account"' not in browser.html          # nothing to share, nothing to pick
    assert "Everyday Current" not in browser.html

    undecided = browser.submit(f"{pages}/decision", {})
    assert undecided.status_code == 400
    assert "Choose Approve or Deny." in _text(browser)

    decision = browser.submit(f"{pages}/decision", {"decision": "approve"})
    assert decision.status_code == 303
    assert decision.headers["Location"].startswith(params["redirect_uri"] + "?")
    returned = redirect_params(decision.headers["Location"])
    assert returned["state"] == params["state"] and returned["code"]
    tokens = tpp.token({"grant_type": "authorization_code", "code": returned["code"],
                        "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.json
    assert tokens.json["scope"] == "openid" and tokens.json["id_token"]

    assert browser.get(pages).status_code == 404           # decided: the journey is over
    assert "This link has expired" in _text(browser)


def test_a_denied_sign_in_goes_back_to_the_app_as_access_denied(tpp, browser, platform, clock):
    world = build_world(platform, clock)
    pages, params = _start(tpp, browser, pkce_verifier())
    browser.get(pages)
    browser.submit(f"{pages}/login", {"username": world.username, "password": world.password})
    browser.submit(f"{pages}/code", {"code": world.totp.at(clock.now())})
    decision = browser.submit(f"{pages}/decision", {"decision": "deny"})
    assert decision.status_code == 303
    returned = redirect_params(decision.headers["Location"])
    assert returned == {"error": "access_denied", "error_description":
                        "The customer declined the request", "state": params["state"],
                        "iss": tpp.issuer}
