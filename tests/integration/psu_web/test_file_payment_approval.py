"""The customer approves a file of payments: the signing step binds the one-time code to the
file's total and its fingerprint (dynamic linking for a batch), and the approval page lists
every payee and amount of the uploaded file before the customer picks the account to pay
from."""
from __future__ import annotations

import base64
import hashlib
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from aspsp.identity import dynamic_linking as dl
from aspsp.pis.models import PaymentFile
from tests.integration.psu_web.test_browser import (chromium, serving,  # noqa: F401 fixtures
                                                    sign_in, tpp_site)
from tests.integration.psu_web.test_payment_approval import (ALICE_SECRET, log_in,
                                                             payment_world, state)

PAYMENTS = [
    {"InstructionIdentification": "PAY-1", "EndToEndIdentification": "E2E-1",
     "InstructedAmount": {"Amount": "10.00", "Currency": "GBP"},
     "CreditorAccount": {"SchemeName": "UK.OBIE.SortCodeAccountNumber",
                         "Identification": "12345612345678", "Name": "ACME Ltd"},
     "RemittanceInformation": {"Reference": "SALARY 1"}},
    {"InstructionIdentification": "PAY-2", "EndToEndIdentification": "E2E-2",
     "InstructedAmount": {"Amount": "2.50", "Currency": "GBP"},
     "CreditorAccount": {"SchemeName": "UK.OBIE.IBAN",
                         "Identification": "GB29NWBK60161331926819", "Name": "Jo <Bloggs>"}},
]
CONTENT = json.dumps({"Data": {"DomesticPayments": PAYMENTS}}).encode()
FILE_HASH = base64.b64encode(hashlib.sha256(CONTENT).digest()).decode()
FINGERPRINT = hashlib.sha256(CONTENT).hexdigest().upper()[:16]


def file_world(platform, clock, **kw):
    """payment_world's customer and pending authorization for a file payment consent whose
    file (PAYMENTS) is uploaded."""
    world = payment_world(platform, clock, "file-payment", {
        "FileType": "UK.OBIE.PaymentInitiation.3.1", "FileHash": FILE_HASH,
        "FileReference": "DEC-PAYROLL", "NumberOfTransactions": "2", "ControlSum": 12.5}, **kw)
    with platform.uow() as uow:
        uow.session.add(PaymentFile(consent_pk=world.consent_pk, content_type="application/json",
                                    content=CONTENT, payments=PAYMENTS, total_amount="12.50",
                                    currency="GBP", uploaded_at=clock.now()))
        uow.commit()
    return world


@pytest.fixture
def world(platform, clock):
    return file_world(platform, clock)


def signed(world, clock, *, amount: str = "12.50", payee: str = FINGERPRINT) -> str:
    return dl.code_at(world.secret, dl.payment_to_sign(amount, "GBP", payee), clock.now())


def test_the_code_is_signed_over_the_files_total_and_fingerprint(browser, world):
    log_in(browser, world)
    page = browser.html
    assert "a file of 2 payments" in page
    assert '<code id="sign-amount">12.50</code>' in page
    assert f'<code id="sign-payee">{FINGERPRINT}</code>' in page
    assert "File fingerprint" in page and "Payee&#39;s account" not in page


@pytest.mark.parametrize("amount, payee", [("10.00", FINGERPRINT),
                                           ("12.50", "12345612345678")])
def test_a_code_for_another_total_or_a_single_payee_fails(browser, world, clock, amount,
                                                         payee):
    log_in(browser, world)
    response = browser.submit(f"{world.url}/code",
                              {"code": signed(world, clock, amount=amount, payee=payee)})
    assert response.status_code == 401
    assert "Step 3 of 3" not in browser.html


def test_the_page_lists_every_payment_and_approving_authorises(browser, world, platform,
                                                               clock):
    log_in(browser, world)
    response = browser.submit(f"{world.url}/code", {"code": signed(world, clock)})
    assert response.status_code == 200
    page = browser.html
    assert "would like to make a file of 2 payments" in page
    assert '<dd id="payment-amount">£12.50</dd>' in page and ">Total<" in page
    assert "DEC-PAYROLL" in page
    assert "£10.00 to ACME Ltd, 12-34-56 12345678, reference SALARY 1" in page
    assert "£2.50 to Jo &lt;Bloggs&gt;, GB29 NWBK 6016 1331 9268 19" in page
    assert "Jo <Bloggs>" not in page                     # escaped, never markup
    assert "the file&#39;s 2 payees" in page
    response = browser.submit(f"{world.url}/decision", {"decision": "approve",
                                                        "debtor_account": world.current})
    assert response.status_code == 303
    query = parse_qs(urlsplit(response.headers["Location"]).query)
    assert query["code"][0] and "error" not in query
    assert state(platform, world) == ("Authorised", {world.current})


@pytest.mark.browser
def test_a_customer_approves_a_file_in_a_real_browser(app, chromium, tpp_site, platform,
                                                      clock, tmp_path):
    """Headless Chromium: the signing step shows the total and the fingerprint, the sandbox
    authenticator (opened from its link) signs them, the approval page lists the file's
    payments, and Approve returns to the third party with a code."""
    world = file_world(platform, clock, username="alice", secret=ALICE_SECRET,
                       redirect_uri=tpp_site.redirect_uri)
    with serving(app) as base:
        context = chromium.new_context()
        page = context.new_page()
        page.goto(base + world.url)
        assert "a file of 2 payments" in page.inner_text("main")
        sign_in(page, world)
        assert page.inner_text("#sign-amount") == "12.50"
        assert page.inner_text("#sign-payee") == FINGERPRINT
        with context.expect_page() as opened:
            page.click("#sandbox-authenticator")
        tool = opened.value
        tool.wait_for_load_state()
        assert tool.input_value("#payee") == FINGERPRINT
        tool.click("button[type=submit]")
        code = tool.inner_text("#signed-code")
        tool.close()
        page.fill("#code", code)
        page.click("button[type=submit]")
        page.wait_for_selector("text=would like to make a file of 2 payments")
        main = page.inner_text("main")
        for text in ("£10.00 to ACME Ltd, 12-34-56 12345678, reference SALARY 1",
                     "£2.50 to Jo <Bloggs>, GB29 NWBK 6016 1331 9268 19", "£12.50",
                     "DEC-PAYROLL", "£1,250.00 available"):
            assert text in main, text
        page.check(f"input[value='{world.current}']")
        page.screenshot(path=str(tmp_path / "file.png"), full_page=True)
        with page.expect_navigation(url=tpp_site.redirect_uri + "?*"):
            page.click("button[value=approve]")
        context.close()
    assert len(tpp_site.hits) == 1
    assert parse_qs(urlsplit(tpp_site.hits[0]).query)["code"][0]
    assert state(platform, world) == ("Authorised", {world.current})
