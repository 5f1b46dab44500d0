"""Known devices (aspsp.identity.devices): guessing a customer's password from many addresses
locks the username for every other browser, but never keeps the customer out of the browser
they normally sign in with; everything else still applies to that browser."""
from __future__ import annotations

from datetime import timedelta

import pytest
from itsdangerous import URLSafeTimedSerializer

from aspsp.identity import services as identity
from tests.integration.psu_web.conftest import Browser

CUSTOMER = "203.0.113.7"
DASHBOARD = "<h1>Connected apps</h1>"


def browser_at(app, address: str) -> Browser:
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = address
    return Browser(http)


def sign_in(browser, world, clock):
    """The dashboard login, password then code; the page it ends on."""
    browser.get("/psu/login")
    browser.submit("/psu/login", {"username": world.username, "password": world.password})
    return browser.submit("/psu/login/code", {"code": world.totp.at(clock.now())})


def lock_overall_from_many_addresses(app, world):
    """MAX_FAILURES_PER_USERNAME wrong passwords, each from an address of its own (so no
    address reaches its own lock): the username's overall lock."""
    for n in range(identity.MAX_FAILURES_PER_USERNAME):
        guesser = browser_at(app, f"198.51.100.{n + 1}")
        guesser.get("/psu/login")
        guesser.submit("/psu/login", {"username": world.username, "password": "guess"})
    probe = browser_at(app, "192.0.2.200")
    probe.get("/psu/login")
    probe.submit("/psu/login", {"username": world.username, "password": world.password})
    assert "locked" in probe.html                      # the overall lock holds elsewhere


@pytest.fixture
def customers_browser(app, world, clock):
    browser = browser_at(app, CUSTOMER)
    sign_in(browser, world, clock)
    assert DASHBOARD in browser.html
    browser.submit("/psu/logout", {})
    return browser


def test_the_overall_lock_does_not_keep_the_customer_out_of_their_usual_browser(
        app, world, clock, customers_browser):
    lock_overall_from_many_addresses(app, world)
    clock.advance(timedelta(seconds=31))              # a fresh one-time code
    sign_in(customers_browser, world, clock)
    assert "locked" not in customers_browser.html
    assert DASHBOARD in customers_browser.html


def test_a_new_browser_at_the_customers_own_address_is_still_refused_by_the_overall_lock(
        app, world, clock, customers_browser):
    lock_overall_from_many_addresses(app, world)
    fresh = browser_at(app, CUSTOMER)                  # same address, no device cookie
    fresh.get("/psu/login")
    fresh.submit("/psu/login", {"username": world.username, "password": world.password})
    assert "locked" in fresh.html


def test_a_device_cookie_of_another_username_or_altered_does_not_pass_the_overall_lock(
        app, world, clock, customers_browser):
    lock_overall_from_many_addresses(app, world)
    cookie = customers_browser.http.get_cookie("ib_device")
    assert cookie is not None
    for value in (cookie.value[:-2] + ("AA" if not cookie.value.endswith("AA") else "BB"),
                  URLSafeTimedSerializer(app.config["SECRET_KEY"], salt="another-salt")
                  .dumps({"u": world.username})):
        forged = browser_at(app, CUSTOMER)
        forged.http.set_cookie("ib_device", value)
        forged.get("/psu/login")
        forged.submit("/psu/login", {"username": world.username, "password": world.password})
        assert "locked" in forged.html


def test_the_usual_browser_still_meets_its_own_addresss_lock(app, world, clock,
                                                             customers_browser):
    for _ in range(identity.MAX_FAILED_ATTEMPTS):
        customers_browser.get("/psu/login")
        customers_browser.submit("/psu/login", {"username": world.username,
                                                "password": "guess"})
    customers_browser.get("/psu/login")
    customers_browser.submit("/psu/login", {"username": world.username,
                                            "password": world.password})
    assert "locked" in customers_browser.html
