"""A real browser (headless Chromium through Playwright) signs up to the developer portal,
sets up TOTP with the key shown on the page, verifies the address from the sandbox outbox,
signs out, and signs in again with a backup code.

The app is served by werkzeug on 127.0.0.1 in a thread on the test's rolled-back database,
as the customer pages' browser tests do (tests/integration/psu_web/test_browser.py, whose
fixtures this reuses)."""
from __future__ import annotations

import pyotp
import pytest

from tests.integration.psu_web.test_browser import chromium, serving  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser


def test_sign_up_enrol_totp_sign_out_and_back_in_with_a_backup_code(app, chromium, clock,
                                                                    tmp_path):
    with serving(app) as base:
        page = chromium.new_page()
        page.goto(base + "/developers/login")
        page.click("text=Create an account")
        page.fill("#email", "pat@example.com")
        page.fill("#name", "Pat Tester")
        page.fill("#password", "a long sandbox passphrase")
        page.click("button[type=submit]")

        page.wait_for_selector("#totp-secret")
        assert page.eval_on_selector("img.qr", "img => img.naturalWidth") > 50  # CSP let it in
        secret = page.inner_text("#totp-secret")
        page.fill("#code", pyotp.TOTP(secret).at(clock.now()))
        page.click("button[type=submit]")

        page.wait_for_selector("#backup-codes")
        codes = [c.inner_text() for c in page.query_selector_all("#backup-codes code")]
        assert len(codes) == 10
        page.screenshot(path=str(tmp_path / "backup-codes.png"), full_page=True)
        page.click("text=I have saved them")
        assert "Hello Pat Tester" in page.inner_text("h1")

        page.goto(base + "/sandbox/outbox")
        page.click("a[href*='/developers/verify/']")
        page.click("text=Verify my address")
        assert "is verified" in page.inner_text("main")

        page.goto(base + "/developers/account")
        page.click("text=Sign out")
        page.wait_for_selector("text=You are signed out")

        page.goto(base + "/developers/account")          # sent to sign in, and back after
        page.fill("#email", "pat@example.com")
        page.fill("#password", "a long sandbox passphrase")
        page.click("button[type=submit]")
        page.wait_for_selector("text=Enter your one-time code")
        page.fill("#code", codes[0])
        page.click("button[type=submit]")
        page.wait_for_selector("#backup-remaining")
        assert page.url == base + "/developers/account"
        assert "9 unused" in page.inner_text("#backup-remaining")
        assert "verified" in page.inner_text("main")
        page.close()
