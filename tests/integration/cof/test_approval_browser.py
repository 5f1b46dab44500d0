"""A real browser (headless Chromium, as tests/integration/psu_web/test_browser.py) approves a
funds-confirmation consent: login, one-time code, the page that says what the card issuer may
ask (never the balance) and about which account, Approve, and back to the CBPII."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.integration.cof.test_approval_journey import build, consent_row
from tests.integration.psu_web.test_browser import (  # noqa: F401  (fixtures used here)
    chromium, serving, tpp_site)
from tests.psu_factories import PASSWORD

pytestmark = pytest.mark.browser


def test_customer_approves_a_funds_check_in_a_real_browser(app, chromium, tpp_site, make_tpp,
                                                           create_consent, platform, clock):
    issuer = make_tpp(roles=("CBPII",), name="Card Issuer",
                      redirect_uris=(tpp_site.redirect_uri,))
    world = build(platform, clock, issuer, create_consent)
    with serving(app) as base:
        page = chromium.new_page()
        page.goto(base + world.url)
        page.fill("#username", world.username)
        page.fill("#password", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("#code")
        page.fill("#code", world.totp.at(clock.now()))
        page.click("button[type=submit]")

        page.wait_for_selector("text=has enough money for a payment")
        assert "Card Issuer would like to check whether your account has enough money" in \
            page.inner_text("h1")
        assert "never see your balance" in page.inner_text("#funds-what")
        assert page.inner_text("#funds-expiry") == "31 December 2026, 23:00 GMT"
        assert page.is_checked("input[name=account]")
        with page.expect_navigation(url=tpp_site.redirect_uri + "?*"):
            page.click("button[value=approve]")
        page.close()
    query = parse_qs(urlsplit(tpp_site.hits[0]).query)
    assert query["state"] == ["st-cof"] and query["code"][0]
    assert consent_row(platform, world.consent_pk) == ("Authorised", [world.account_pk])
