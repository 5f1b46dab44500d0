"""A real browser (headless Chromium through Playwright) approves a domestic payment end to
end: login, the signing step showing the amount and payee, the sandbox authenticator opened
from its link in a second tab to get the signed code, the payment page with the account
chosen, Approve, and back to the third party with a code; the consent is then Authorised with
the account chosen. Served like tests/integration/psu_web/test_browser.py (werkzeug in a
thread, the test's rolled-back database, Debian's Chromium)."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from aspsp.identity import dynamic_linking as dl
from tests.integration.psu_web.test_browser import (chromium, serving,  # noqa: F401 fixtures
                                                    sign_in, tpp_site)
from tests.integration.psu_web.test_payment_approval import (ALICE_SECRET, payment_world,
                                                             state, to_sign)

pytestmark = pytest.mark.browser


def test_customer_signs_and_approves_a_payment_in_a_real_browser(app, chromium, tpp_site,
                                                                 platform, clock, tmp_path):
    world = payment_world(platform, clock, username="alice", secret=ALICE_SECRET,
                          redirect_uri=tpp_site.redirect_uri)
    with serving(app) as base:
        context = chromium.new_context()
        page = context.new_page()
        page.goto(base + world.url)
        assert "PayFast" in page.inner_text("h1")
        assert "has asked to make a payment" in page.inner_text("main")
        sign_in(page, world)
        assert page.inner_text("#sign-amount") == "12.50"
        assert page.inner_text("#sign-currency") == "GBP"
        assert page.inner_text("#sign-payee") == "12345612345678"
        assert "£12.50" in page.inner_text("main") and "ACME Ltd" in page.inner_text("main")
        page.screenshot(path=str(tmp_path / "sign.png"), full_page=True)

        with context.expect_page() as opened:           # the sandbox authenticator, new tab
            page.click("#sandbox-authenticator")
        tool = opened.value
        tool.wait_for_load_state()
        assert tool.input_value("#amount") == "12.50"
        assert tool.input_value("#payee") == "12345612345678"
        tool.click("button[type=submit]")
        code = tool.inner_text("#signed-code")
        assert code == dl.code_at(ALICE_SECRET, to_sign(world.initiation), clock.now())
        tool.close()

        page.fill("#code", code)
        page.click("button[type=submit]")
        page.wait_for_selector("text=would like to make a payment")
        main = page.inner_text("main")
        for text in ("ACME Ltd", "12-34-56 12345678", "£12.50", "INV-0042",
                     "£1,250.00 available", "£300.00 available"):
            assert text in main, text
        assert not page.query_selector(f"input[value='{world.stranger}']")
        page.check(f"input[value='{world.saver}']")
        page.screenshot(path=str(tmp_path / "payment.png"), full_page=True)
        with page.expect_navigation(url=tpp_site.redirect_uri + "?*"):
            page.click("button[value=approve]")
        assert "you are connected" in page.inner_text("h1")
        context.close()

    assert len(tpp_site.hits) == 1
    query = parse_qs(urlsplit(tpp_site.hits[0]).query)
    assert query["state"] == ["st-pay"] and query["code"][0]
    assert state(platform, world) == ("Authorised", {world.saver})
    assert (tmp_path / "payment.png").stat().st_size > 10_000


def test_a_wrong_code_then_refusing_in_a_real_browser(app, chromium, tpp_site, platform,
                                                     clock):
    """A code signed for another amount is refused on the page; then Refuse, with JavaScript
    off: the TPP gets access_denied and the consent is Rejected."""
    world = payment_world(platform, clock, redirect_uri=tpp_site.redirect_uri)
    with serving(app) as base:
        context = chromium.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(base + world.url)
        page.fill("#username", world.username)
        page.fill("#password", world.password)
        page.click("button[type=submit]")
        page.fill("#code", dl.code_at(world.secret, dl.payment_to_sign(
            "125.00", "GBP", "12345612345678"), clock.now()))
        page.click("button[type=submit]")
        assert "not right" in page.inner_text("[role=alert]")
        page.fill("#code", dl.code_at(world.secret, to_sign(world.initiation), clock.now()))
        page.click("button[type=submit]")
        with page.expect_navigation(url=tpp_site.redirect_uri + "?*"):
            page.click("button[value=deny]")
        context.close()
    assert parse_qs(urlsplit(tpp_site.hits[0]).query)["error"] == ["access_denied"]
    assert state(platform, world)[0] == "Rejected"
