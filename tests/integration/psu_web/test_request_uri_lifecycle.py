"""A pushed request_uri through the customer's journey (FAPI 2.0 SP 5.3.2.2 note 3, and what
the OpenID conformance suite's par-ensure-reused-request-uri-prior-to-auth-completion-succeeds
and par-attempt-reuse-request_uri modules assert): reusable by its own browser until the
decision, single-use at the decision, never past its own lifetime."""
from __future__ import annotations

from datetime import timedelta

import pytest

from tests.oauth_tpp import pkce_verifier, redirect_params
from tests.psu_factories import consent as make_consent

from .conftest import build_world


@pytest.fixture
def journey(tpp, platform, clock):
    world = build_world(platform, clock)
    with platform.uow() as uow:
        consent_id = make_consent(uow, now=clock.now(), client=tpp.client).consent_id
        uow.commit()
    params = tpp.request_params(consent_id, verifier=pkce_verifier())
    pushed = tpp.par(params)
    assert pushed.status_code == 201, pushed.json
    world.request_uri = pushed.json["request_uri"]
    world.state = params["state"]
    return world


def visit(browser, tpp, request_uri):
    return browser.http.get("/authorize", query_string={"client_id": tpp.client_id,
                                                        "request_uri": request_uri})


def log_in(browser, pages, world, clock):
    browser.get(pages)
    browser.submit(f"{pages}/login", {"username": world.username, "password": world.password})
    return browser.submit(f"{pages}/code", {"code": world.totp.at(clock.now())})


def test_a_second_visit_before_logging_in_leads_to_a_login_that_succeeds(browser, tpp, journey,
                                                                        clock):
    first = visit(browser, tpp, journey.request_uri)            # e.g. a link pre-fetcher
    browser.get(first.headers["Location"])
    second = visit(browser, tpp, journey.request_uri)           # the customer's own visit
    assert second.status_code == 303
    pages = second.headers["Location"]
    log_in(browser, pages, journey, clock)
    decision = browser.submit(f"{pages}/decision", {"decision": "approve",
                                                    "account": [journey.current]})
    returned = redirect_params(decision.headers["Location"])
    assert returned["code"] and returned["state"] == journey.state


def test_a_reload_after_logging_in_resumes_where_the_customer_was(browser, tpp, journey, clock):
    pages = visit(browser, tpp, journey.request_uri).headers["Location"]
    log_in(browser, pages, journey, clock)
    again = visit(browser, tpp, journey.request_uri)
    assert again.headers["Location"] == pages
    browser.get(pages)
    assert "would like to see your account information" in browser.html


def test_the_request_uri_is_refused_after_the_decision(browser, tpp, journey, clock):
    pages = visit(browser, tpp, journey.request_uri).headers["Location"]
    log_in(browser, pages, journey, clock)
    browser.submit(f"{pages}/decision", {"decision": "deny"})
    reused = visit(browser, tpp, journey.request_uri)
    assert reused.status_code == 400
    assert "invalid_request_uri" in reused.get_data(as_text=True)
    assert "already used" in reused.get_data(as_text=True)


def test_another_browser_gets_nothing_once_the_customer_has_signed_in(
        browser, other_browser, tpp, journey, clock):
    pages = visit(browser, tpp, journey.request_uri).headers["Location"]
    log_in(browser, pages, journey, clock)
    stolen = visit(other_browser, tpp, journey.request_uri)
    assert stolen.status_code == 400 and "Location" not in stolen.headers
    assert "invalid_request_uri" in stolen.get_data(as_text=True)


def test_a_link_scanner_opening_the_link_first_does_not_burn_it_for_the_customer(
        browser, other_browser, tpp, journey, clock):
    scanned = visit(other_browser, tpp, journey.request_uri)    # its own cookie jar
    assert scanned.status_code == 303
    other_browser.get(scanned.headers["Location"])
    mine = visit(browser, tpp, journey.request_uri)             # the customer's browser
    assert mine.status_code == 303
    pages = mine.headers["Location"]
    log_in(browser, pages, journey, clock)
    decision = browser.submit(f"{pages}/decision", {"decision": "approve",
                                                    "account": [journey.current]})
    assert redirect_params(decision.headers["Location"])["code"]
    assert visit(other_browser, tpp, journey.request_uri).status_code == 400


def test_after_the_customer_signed_in_the_scanners_copy_of_the_pages_gets_nothing(
        browser, other_browser, tpp, journey, clock):
    scanned = visit(other_browser, tpp, journey.request_uri).headers["Location"]
    pages = visit(browser, tpp, journey.request_uri).headers["Location"]
    assert scanned == pages                                     # one journey, not two
    log_in(browser, pages, journey, clock)
    other_browser.get(pages)
    assert "would like to see your account information" not in other_browser.html
    decided = other_browser.http.post(f"{pages}/decision", data={"decision": "deny"})
    assert "Location" not in decided.headers or "code" not in decided.headers["Location"]
    browser.get(pages)                                          # still the customer's
    assert "would like to see your account information" in browser.html


def test_after_par_ttl_the_request_uri_is_refused_but_the_started_journey_goes_on(
        browser, tpp, journey, clock):
    pages = visit(browser, tpp, journey.request_uri).headers["Location"]
    clock.advance(timedelta(seconds=91))                         # PAR_TTL is 90 s
    expired = visit(browser, tpp, journey.request_uri)
    assert expired.status_code == 400 and "expired" in expired.get_data(as_text=True)
    log_in(browser, pages, journey, clock)                      # the pages still work
    decision = browser.submit(f"{pages}/decision", {"decision": "approve",
                                                    "account": [journey.current]})
    assert redirect_params(decision.headers["Location"])["code"]
