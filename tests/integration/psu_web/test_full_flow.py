"""From the TPP's pushed authorization request, through the customer's pages, to tokens:
the browser follows /authorize to the bank's pages and the code comes back to the TPP."""
from __future__ import annotations

from tests.oauth_tpp import pkce_verifier, redirect_params
from tests.psu_factories import consent as make_consent

from .conftest import build_world, pushed_journey


def test_par_authorize_pages_and_code_exchange(tpp, browser, platform, clock):
    world = build_world(platform, clock)                  # the customer and their accounts
    with platform.uow() as uow:
        consent_id = make_consent(uow, now=clock.now(), client=tpp.client).consent_id
        uow.commit()
    verifier = pkce_verifier()
    params = tpp.request_params(consent_id, verifier=verifier)
    pages = pushed_journey(tpp, browser, params)
    browser.get(pages)
    assert "Budget Buddy" in browser.html
    browser.submit(f"{pages}/login", {"username": world.username, "password": world.password})
    browser.submit(f"{pages}/code", {"code": world.totp.at(clock.now())})
    decision = browser.submit(f"{pages}/decision", {"decision": "approve",
                                                    "account": [world.current]})
    assert decision.status_code == 303
    returned = redirect_params(decision.headers["Location"])
    assert returned["state"] == params["state"] and returned["iss"]

    tokens = tpp.token({"grant_type": "authorization_code", "code": returned["code"],
                        "redirect_uri": params["redirect_uri"], "code_verifier": verifier})
    assert tokens.status_code == 200, tokens.json
    assert tokens.json["token_type"] == "DPoP"
