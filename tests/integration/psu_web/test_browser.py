"""A real browser (headless Chromium through Playwright) goes through the customer's pages:
login, one-time code, picking an account, Approve, and back to the third party.

The app is served by werkzeug on 127.0.0.1 in a thread, on the test's rolled-back database;
the single-threaded server handles the browser's requests, and so the one database
connection, one at a time. A second little server on 127.0.0.1 stands for the TPP's
redirect URI, so the browser really follows the redirect back to it. Chromium is Debian's package at /usr/bin/chromium (CI
installs it); without it this test fails under CI and is skipped elsewhere.
"""
from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit

import pytest
from types import SimpleNamespace

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.conftest import service_missing
from tests.integration.psu_web.conftest import build_world
from tests.integration.psu_web.test_approval import consent_row
from tests.psu_factories import pending_authorization

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.browser


@contextmanager
def serving(app):
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join()


def sign_in(page, world) -> None:
    """The login page filled and sent as the customer would, up to the code step (the
    one-time code, or for a payment the signed code)."""
    page.fill("#username", world.username)
    page.fill("#password", world.password)
    page.click("button[type=submit]")
    page.wait_for_selector("#code")


def log_in(page, world, clock) -> None:
    """The login page, then the one-time code page, filled as the customer would."""
    sign_in(page, world)
    page.fill("#code", world.totp.at(clock.now()))
    page.click("button[type=submit]")


@pytest.fixture
def tpp_site():
    """The TPP's redirect URI: records what the bank sent the browser back with."""
    hits = []

    @Request.application
    def callback(request):
        if request.path == "/callback":
            hits.append(request.url)
        return Response("<h1>Budget Buddy: thanks, you are connected</h1>",
                        content_type="text/html")

    with serving(callback) as base:
        yield SimpleNamespace(redirect_uri=f"{base}/callback", hits=hits)


@pytest.fixture
def world(platform, clock, tpp_site):
    return build_world(platform, clock, redirect_uri=tpp_site.redirect_uri)


@pytest.fixture
def chromium():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        service_missing("the playwright package", error)
    if not os.access(CHROMIUM, os.X_OK):
        service_missing(f"Chromium at {CHROMIUM}", FileNotFoundError(CHROMIUM))
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_customer_approves_in_a_real_browser(app, chromium, world, tpp_site, platform, clock,
                                             tmp_path):
    with serving(app) as base:
        page = chromium.new_page()

        page.goto(base + world.url)
        assert "Budget Buddy" in page.inner_text("h1")
        log_in(page, world, clock)

        page.wait_for_selector("text=would like to see your account information")
        assert page.is_visible(f"input[value='{world.current}']")
        assert not page.query_selector(f"input[value='{world.closed}']")
        page.check(f"input[value='{world.current}']")
        # The stylesheet loaded under the page's Content-Security-Policy.
        page.wait_for_load_state("load")
        assert page.eval_on_selector("header.bank",
                                     "e => getComputedStyle(e).display") == "flex"
        page.screenshot(path=str(tmp_path / "consent.png"), full_page=True)

        with page.expect_navigation(url=tpp_site.redirect_uri + "?*"):
            page.click("button[value=approve]")
        assert "you are connected" in page.inner_text("h1")
        page.close()

    assert len(tpp_site.hits) == 1
    query = parse_qs(urlsplit(tpp_site.hits[0]).query)
    assert query["state"] == ["st-123"] and query["code"][0]
    assert consent_row(platform, world) == ("Authorised", {world.current})
    assert (tmp_path / "consent.png").stat().st_size > 10_000


def test_nothing_on_the_pages_needs_javascript(app, chromium, world, tpp_site, platform,
                                               clock):
    """The same journey with JavaScript turned off in the browser, ending in Deny."""
    with serving(app) as base:
        context = chromium.new_context(java_script_enabled=False)
        page = context.new_page()
        page.goto(base + world.url)
        log_in(page, world, clock)
        with page.expect_navigation(url=tpp_site.redirect_uri + "?*"):
            page.click("button[value=deny]")
        context.close()
    assert parse_qs(urlsplit(tpp_site.hits[0]).query)["error"] == ["access_denied"]
    assert consent_row(platform, world)[0] == "Rejected"


def test_the_api_docs_render_their_operations_with_no_network_beyond_this_machine(
        app, chromium, tmp_path):
    """/open-banking/docs in a browser that may reach nothing but 127.0.0.1: Swagger UI loads,
    lists the operations, and breaks no rule of the page's Content-Security-Policy."""
    requested, refused, console_errors = [], [], []

    def only_this_machine(route):
        url = route.request.url
        requested.append(url)
        if urlsplit(url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(url)
            route.abort()

    with serving(app) as base:
        page = chromium.new_page()
        page.route("**/*", only_this_machine)
        page.on("console", lambda m: console_errors.append(m.text) if m.type == "error" else None)
        page.goto(base + "/open-banking/docs")
        page.wait_for_selector(".opblock-summary", timeout=30_000)
        operations = page.locator(".opblock").count()
        reads = page.locator(".opblock-get").count()
        page.screenshot(path=str(tmp_path / "docs.png"), full_page=False)
        page.close()

    assert operations >= 10 and reads >= 5
    assert refused == [] and all(urlsplit(u).hostname == "127.0.0.1" for u in requested)
    assert not [e for e in console_errors if "Content Security Policy" in e], console_errors


def test_customer_signs_in_to_an_app_in_a_real_browser(app, chromium, world, tpp_site, platform,
                                                       clock):
    """A sign-in (no consent): the pages say what the app learns, offer no account, and
    Approve sends the browser back to the app with a code."""
    with platform.uow() as uow:
        signin = pending_authorization(uow, now=clock.now(), client=world.tpp, consent_row=None)
        uow.commit()
        url = f"/psu/authorize/{signin.reference}"
    with serving(app) as base:
        page = chromium.new_page()
        page.goto(base + url)
        assert "asked you to sign in to it with your bank" in " ".join(
            page.inner_text("main").split())
        log_in(page, world, clock)

        page.wait_for_selector("text=would like you to sign in with your bank")
        assert page.is_visible("text=What it will not get")
        assert not page.query_selector("input[name=account]")
        with page.expect_navigation(url=tpp_site.redirect_uri + "?*"):
            page.click("button[value=approve]")
        page.close()

    assert len(tpp_site.hits) == 1
    query = parse_qs(urlsplit(tpp_site.hits[0]).query)
    assert query["state"] == ["st-123"] and query["code"][0]
