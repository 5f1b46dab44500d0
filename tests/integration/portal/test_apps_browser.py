"""A real browser (headless Chromium, Playwright) creates an organisation, an app in it, and
generates the app's key pair: the private key arrives as a download, the page then lists the
public key. The developer is signed in by the test (the login pages have their own tests):
the browser gets the session cookie of a signed-in test client."""
from __future__ import annotations

import json

import pytest
from jwcrypto import jwk
from sqlalchemy import select

from aspsp.identity import sessions
from developer_portal.models import PortalApp
from tests.integration.psu_web.test_browser import chromium, serving  # noqa: F401 (fixture)
from tests.portal_factories import make_developer, sign_in

pytestmark = pytest.mark.browser


def test_create_an_organisation_an_app_and_generate_a_key_in_a_browser(
        app, chromium, platform, clock, tmp_path):  # noqa: F811
    now = clock.now()
    with platform.uow() as uow:
        dana = make_developer(uow, now, email="dana@moneywise.example")
        uow.commit()
    client = app.test_client()
    sign_in(client, dana, now)
    cookie = client.get_cookie(sessions.cookie_name(app))
    with serving(app) as base:
        context = chromium.new_context(accept_downloads=True)
        context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base}])
        page = context.new_page()

        page.goto(base + "/developers/organisations/new")
        page.fill("#name", "Moneywise Ltd")
        page.fill("#authorisation_id", "123456")
        page.check("input[name=roles][value=AISP]")
        page.click("text=Create organisation")
        page.wait_for_selector("text=You are its administrator")
        assert "Moneywise Ltd" in page.inner_text("h1")

        page.click("text=Create an app")
        page.fill("#name", "Moneywise")
        page.fill("#redirect_uris", "https://tpp.example/callback")
        page.click("text=Create app")
        page.wait_for_selector("text=No keys yet")
        app_url = page.url

        page.select_option("#alg", "ES256")
        page.select_option("#format", "jwk")
        with page.expect_download() as download:
            page.click("text=Generate and download")
        saved = tmp_path / "private.jwk.json"
        download.value.save_as(saved)
        private = jwk.JWK(**json.loads(saved.read_text()))
        assert private.has_private

        page.goto(app_url)
        kid = private.thumbprint()
        assert kid in page.inner_text("#keys")
        assert "EC P-256" in page.inner_text("#keys")
        context.close()

    with platform.uow() as uow:
        row = uow.session.scalars(select(PortalApp).where(PortalApp.name == "Moneywise")).one()
        assert [k["kid"] for k in row.jwks["keys"]] == [kid]
        assert "d" not in row.jwks["keys"][0]
