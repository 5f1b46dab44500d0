"""Fixtures for the customer's pages: a bank customer with accounts, a third party asking, and
a small form-filling 'browser' on the Flask test client."""
from __future__ import annotations

import re
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import urlsplit

import pyotp
import pytest

from aspsp.identity.services import totp_secret
from aspsp.ledger.domain import AccountStatus
from tests import factories
from tests.oauth_factories import make_client
from tests.oauth_tpp import Tpp
from tests.psu_factories import PASSWORD, consent, pending_authorization, psu

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives a real headless Chromium (Playwright)")


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@dataclass
class Browser:
    """Keeps its cookies (the Flask test client does) and the last page it was shown."""
    http: object
    html: str = ""

    def get(self, path: str):
        response = self.http.get(path)
        self.html = response.get_data(as_text=True)
        return response

    def submit(self, path: str, data: dict, *, csrf: bool = True, follow: bool = True):
        form = dict(data)
        if csrf:
            form["csrf_token"] = csrf_of(self.html)
        response = self.http.post(path, data=form)
        self.html = response.get_data(as_text=True)
        location = response.headers.get("Location", "")
        if follow and response.status_code == 303 and not urlsplit(location).netloc:
            return self.get(location)
        return response


@pytest.fixture
def browser(app):
    return Browser(app.test_client())


@pytest.fixture
def other_browser(app):
    return Browser(app.test_client())


def build_world(platform, clock, *, client_name="Budget Buddy", username=None,
                redirect_uri="https://tpp.example/callback"):
    now = clock.now()
    with platform.uow() as uow:
        tpp = make_client(uow, now=now, name=client_name, redirect_uris=(redirect_uri,))
        customer = psu(uow, now=now, username=username, name="Alice Morgan")
        party = customer.party
        current = factories.account(uow, now=now, owner=party, name="Everyday Current")
        saver = factories.account(uow, now=now, owner=party, name="Rainy Day Saver",
                                  sub_type="Savings")
        closed = factories.account(uow, now=now, owner=party, name="Old Account",
                                   status=AccountStatus.DISABLED)
        stranger = factories.account(uow, now=now, name="Somebody Else")
        ask = consent(uow, now=now, client=tpp)
        pending = pending_authorization(uow, now=now, client=tpp, consent_row=ask)
        uow.commit()
        return SimpleNamespace(
            tpp=tpp, psu=customer, username=customer.username, password=PASSWORD,
            totp=pyotp.TOTP(totp_secret(customer, platform.keyring)), consent_id=ask.consent_id,
            consent_pk=ask.id, reference=pending.reference,
            url=f"/psu/authorize/{pending.reference}",
            current=current.account_id, saver=saver.account_id, closed=closed.account_id,
            stranger=stranger.account_id,
            redirect_uri=tpp.row.client_metadata["redirect_uris"][0])


@pytest.fixture
def world(platform, clock):
    return build_world(platform, clock)


@pytest.fixture
def tpp(platform, app, client, clock):
    """A FAPI 2.0 TPP ("Budget Buddy": PAR, DPoP, private_key_jwt) on the test client. The
    platform knows its app: the pages build the authorization response with it."""
    platform.app = app
    with platform.uow() as uow:
        test_client = make_client(uow, now=clock.now(), name="Budget Buddy")
        uow.commit()
    return Tpp(client, test_client, clock=clock)


def pushed_journey(tpp, browser, params: dict) -> str:
    """`params` pushed (PAR), then the browser at /authorize with the request_uri: the URL of
    the bank's pages it is sent to."""
    pushed = tpp.par(params)
    assert pushed.status_code == 201, pushed.json
    response = browser.http.get("/authorize", query_string={
        "client_id": tpp.client_id, "request_uri": pushed.json["request_uri"]})
    assert response.status_code == 303
    pages = response.headers["Location"]
    assert urlsplit(pages).path.startswith("/psu/authorize/")
    return pages
