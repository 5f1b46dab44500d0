"""The customer approves an international standing order in a real browser (headless
Chromium, the pattern of tests/integration/psu_web/test_browser.py): the login, the one-time
code the authenticator signs over the amount, currency and payee (dynamic linking), the
payment page with the schedule and today's indicative exchange rate, the account picked, and
the redirect back to the PISP."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from aspsp.identity import dynamic_linking as dl
from aspsp.pis import international
from consent.models import Consent
from tests.integration.psu_web.test_browser import (  # noqa: F401  (fixtures)
    chromium, serving, tpp_site)
from tests.integration.psu_web.test_payment_approval import payment_world, state

STANDING_ORDER = {
    "Frequency": "IntrvlMnthDay:01:30", "Reference": "SUBS", "NumberOfPayments": "6",
    "FirstPaymentDateTime": "2026-06-30T09:00:00+00:00", "CurrencyOfTransfer": "EUR",
    "InstructedAmount": {"Amount": "23.30", "Currency": "EUR"},
    "CreditorAccount": {"SchemeName": "UK.OBIE.IBAN",
                        "Identification": "DE89370400440532013000",
                        "Name": "Conformance Creditor GmbH"}}


@pytest.fixture
def db_url(sqlite_url) -> str:
    return sqlite_url


def test_an_international_standing_order_is_approved_in_a_real_browser(
        app, chromium, tpp_site, platform, clock):
    world = payment_world(platform, clock, "international-standing-order",
                          dict(STANDING_ORDER), redirect_uri=tpp_site.redirect_uri)
    with platform.uow() as uow:       # the bank's quote, as the consent API keeps it
        row = uow.session.get(Consent, world.consent_pk)
        row.data = {**row.data, "ExchangeRateInformation": international.consent_quote(
            STANDING_ORDER, clock.now())}
        uow.commit()
    signed = dl.payment_to_sign("23.30", "EUR", "DE89370400440532013000")

    with serving(app) as base:
        page = chromium.new_page()
        page.goto(base + world.url)
        page.fill("#username", world.username)
        page.fill("#password", world.password)
        page.click("button[type=submit]")

        page.wait_for_selector("#sign-amount")
        assert page.inner_text("#sign-amount") == "23.30"
        assert page.inner_text("#sign-currency") == "EUR"
        assert page.inner_text("#sign-payee") == signed.payee
        page.fill("#code", dl.code_at(world.secret, signed, clock.now()))
        page.click("button[type=submit]")

        page.wait_for_selector("button[value=approve]")
        text = page.inner_text("main")
        for shown in ("an international standing order", "Conformance Creditor GmbH",
                      "€23.30", "30 June 2026", "After 6 payments", "Euro (EUR)",
                      "1 GBP = 1.165 EUR, indicative rate", "SUBS"):
            assert shown in text, shown
        page.check(f"input[value='{world.current}']")
        with page.expect_navigation(url=tpp_site.redirect_uri + "?*"):
            page.click("button[value=approve]")
        page.close()

    query = parse_qs(urlsplit(tpp_site.hits[0]).query)
    assert query["state"] == ["st-pay"] and query["code"][0]
    assert state(platform, world) == ("Authorised", {world.current})
