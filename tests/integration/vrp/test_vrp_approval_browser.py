"""One VRP consent approved in a real browser (headless Chromium through Playwright): the
signing step showing the most a payment can be and the payee, the code from the sandbox's
authenticator in a second tab, the limits in words on the payment page, the account picked,
and back to the PISP with a code. Served like tests/integration/psu_web/test_browser.py."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from aspsp.identity import dynamic_linking as dl
from tests.integration.psu_web.test_browser import (chromium, serving,  # noqa: F401 fixtures
                                                    sign_in, tpp_site)
from tests.integration.psu_web.test_payment_approval import ALICE_SECRET, state
from tests.integration.vrp.test_vrp_approval import vrp_world

pytestmark = pytest.mark.browser


def test_customer_sets_up_vrps_in_a_real_browser(app, chromium, tpp_site, platform, clock):
    world = vrp_world(platform, clock, username="alice", secret=ALICE_SECRET,
                      redirect_uri=tpp_site.redirect_uri)
    with serving(app) as base:
        context = chromium.new_context()
        page = context.new_page()
        page.goto(base + world.url)
        assert "variable recurring payments" in page.inner_text("main")
        sign_in(page, world)
        assert page.inner_text("#sign-amount") == "250.00"
        assert page.inner_text("#sign-payee") == "12345612345678"
        with context.expect_page() as opened:           # the sandbox authenticator, new tab
            page.click("#sandbox-authenticator")
        tool = opened.value
        tool.wait_for_load_state()
        tool.click("button[type=submit]")
        code = tool.inner_text("#signed-code")
        assert code == dl.code_at(ALICE_SECRET, dl.mandate_to_sign(
            "250.00", "GBP", "12345612345678"), clock.now())
        tool.close()

        page.fill("#code", code)
        page.click("button[type=submit]")
        page.wait_for_selector("text=would like to make variable recurring payments")
        main = page.inner_text("main")
        assert "up to £250 a payment, £1,000 a month, until 1 June 2027" in main
        assert "Sweep Savings Ltd" in main
        page.check(f"input[value='{world.current}']")
        with page.expect_navigation(url=tpp_site.redirect_uri + "?*"):
            page.click("button[value=approve]")
        context.close()

    assert parse_qs(urlsplit(tpp_site.hits[0]).query)["code"][0]
    assert state(platform, world) == ("Authorised", {world.current})
