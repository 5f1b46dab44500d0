"""The request log and usage pages of an app in the developer portal, through the Flask test
client: what a member sees, filters, escaping, the empty states, and 404 for anyone else."""
from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from aspsp.request_log import RequestLogEntry
from tests import portal_factories
from tests.conftest import NOW
from tests.integration.consent.conftest import CONSENTS

PERMISSIONS = ["ReadAccountsDetail", "ReadBalances"]


@pytest.fixture
def portal(platform, clock, aisp):
    """A developer of an organisation whose app is registered as `aisp`'s client."""
    with platform.uow() as uow:
        developer = portal_factories.make_developer(uow, clock.now())
        org = portal_factories.make_organisation(uow, clock.now(), developer)
        app = portal_factories.make_app(uow, clock.now(), org, client_id=aisp.client_id,
                                        name="Budget <b>Buddy</b>")
        uow.commit()
        return developer, app.app_id


@pytest.fixture
def browser(app, portal, clock):
    browser = app.test_client()
    portal_factories.sign_in(browser, portal[0], clock.now())
    return browser


def page(browser, url: str, status: int = 200) -> str:
    response = browser.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    return response.get_data(as_text=True)


def paths(html: str) -> list[str]:
    """The path column of the log's table, in order, unescaped of nothing."""
    return sorted(re.findall(r'<td><code>(/[^<]*)</code></td>', html))


def add_calls(platform, client_id: str, calls) -> None:
    with platform.uow() as uow:
        for at, status, latency, path in calls:
            uow.session.add(RequestLogEntry(
                call_id=str(uuid.uuid4()), client_id=client_id, created_at=at, method="GET",
                path=path, status=status, latency_ms=latency))
        uow.commit()


def test_a_member_sees_the_apps_calls_and_one_calls_masked_bodies(browser, portal, aisp):
    token = aisp.token()
    created = aisp.call("POST", CONSENTS, token=token,
                        json={"Data": {"Permissions": PERMISSIONS}, "Risk": {}})
    consent_id = created.json["Data"]["ConsentId"]
    aisp.call("GET", f"{CONSENTS}/{consent_id}", token=token, proof=False)     # 401

    html = page(browser, f"/developers/apps/{portal[1]}/requests")
    assert html.index(f"{CONSENTS}/{consent_id}") < html.index(f"<code>{CONSENTS}</code>")
    assert '<span class="status status-4xx">401</span>' in html
    assert '<span class="status status-2xx">201</span>' in html
    assert created.headers["x-fapi-interaction-id"] in html
    assert "Budget &lt;b&gt;Buddy&lt;/b&gt;" in html

    detail_url = re.findall(r'href="(/developers/apps/[^"]+/requests/[^"]+)"', html)[-1]
    detail = page(browser, detail_url)
    assert f"POST {CONSENTS}" in detail
    assert "&#34;ReadBalances&#34;" in detail and consent_id in detail
    assert token not in html + detail


def test_filters_by_status_class_and_path(browser, portal, platform, aisp):
    add_calls(platform, aisp.client_id, [
        (NOW, 200, 5.0, "/open-banking/v3.1/aisp/accounts"),
        (NOW, 403, 5.0, "/open-banking/v3.1/aisp/accounts/abc/balances"),
        (NOW, 500, 5.0, "/token"),
        (NOW, 200, 5.0, "/open-banking/v3.1/pisp/domestic-payments")])
    base = f"/developers/apps/{portal[1]}/requests"

    assert paths(page(browser, f"{base}?status=4xx")) == [
        "/open-banking/v3.1/aisp/accounts/abc/balances"]
    assert paths(page(browser, f"{base}?path=AISP/Accounts")) == [
        "/open-banking/v3.1/aisp/accounts", "/open-banking/v3.1/aisp/accounts/abc/balances"]
    assert paths(page(browser, f"{base}?status=2xx&path=pisp")) == [
        "/open-banking/v3.1/pisp/domestic-payments"]
    html = page(browser, f"{base}?path=%25")                  # taken literally, not a wildcard
    assert "No calls match this filter." in html


def test_a_bad_filter_is_explained_and_ignored(browser, portal, platform, aisp):
    add_calls(platform, aisp.client_id, [(NOW, 200, 5.0, "/token")])
    base = f"/developers/apps/{portal[1]}/requests"
    html = page(browser, f"{base}?status=6xx&page=abc")
    assert "Status must be one of 2xx, 3xx, 4xx, 5xx." in html
    assert "Page must be a number from 1 to 1000." in html
    assert "<code>/token</code>" in html
    assert "Path contains" in page(browser, f"{base}?path={'x' * 300}")


def test_pages_of_fifty_newest_first(browser, portal, platform, aisp):
    add_calls(platform, aisp.client_id, [(NOW - timedelta(minutes=n), 200, 1.0, f"/p{n}")
                                         for n in range(51)])
    base = f"/developers/apps/{portal[1]}/requests"
    first = page(browser, base)
    assert first.count('<tr>') == 51                              # header + 50 calls
    assert "<code>/p0</code>" in first and "<code>/p50</code>" not in first
    assert f'href="{base}?page=2"' in first and ">Newer<" not in first
    second = page(browser, f"{base}?page=2")
    assert "<code>/p50</code>" in second and ">Older<" not in second and ">Newer<" in second


def test_a_script_in_a_path_or_a_body_is_shown_escaped(browser, portal, aisp):
    token = aisp.token()
    aisp.call("GET", "/open-banking/v3.1/aisp/<script>alert(1)</script>", token=token)
    aisp.call("POST", CONSENTS, token=token, json={"Data": {
        "Permissions": ["<script>alert(2)</script>"]}, "Risk": {}})
    html = page(browser, f"/developers/apps/{portal[1]}/requests")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    details = [page(browser, url) for url in
               re.findall(r'href="(/developers/apps/[^"]+/requests/[^"]+)"', html)]
    assert any("&lt;script&gt;alert(2)&lt;/script&gt;" in d for d in details)
    assert "<script" not in html + "".join(details)


def test_usage_shows_charts_and_numbers(browser, portal, platform, aisp):
    add_calls(platform, aisp.client_id, [
        (NOW, 200, 10.0, "/a"), (NOW, 200, 20.0, "/a"), (NOW, 404, 30.0, "/a"),
        (NOW, 500, 40.0, "/a"), (NOW - timedelta(days=2), 200, 7.0, "/a"),
        (NOW - timedelta(days=14), 200, 7.0, "/too-old")])
    html = page(browser, f"/developers/apps/{portal[1]}/usage")
    assert "5 calls, 2 failed (40.0%)" in html
    assert html.count('<svg class="chart"') == 3
    assert 'class="bar bad"' in html and 'class="line p99"' in html
    assert "style=" not in html and "<script" not in html
    today = re.search(r"<tr><td>Mon 15 Jun</td>(.*?)</tr>", html, re.S).group(1)
    cells = re.findall(r'<td class="num">([^<]*)</td>', today)
    assert cells == ["4", "1", "1", "50.0%", "25.0 ms", "38.5 ms", "39.7 ms"]


def test_an_app_without_a_client_id_explains_why_it_has_no_calls(app, platform, clock):
    with platform.uow() as uow:
        developer = portal_factories.make_developer(uow, clock.now())
        org = portal_factories.make_organisation(uow, clock.now(), developer)
        app_id = portal_factories.make_app(uow, clock.now(), org, client_id=None).app_id
        uow.commit()
    browser = app.test_client()
    portal_factories.sign_in(browser, developer, clock.now())
    for what in ("requests", "usage"):
        html = page(browser, f"/developers/apps/{app_id}/{what}")
        assert "has no client id yet" in html and "<svg" not in html


def test_another_organisations_developer_gets_404(app, platform, clock, portal, aisp):
    aisp.create_consent(PERMISSIONS)
    with platform.uow() as uow:
        stranger = portal_factories.make_developer(uow, clock.now())
        own_org = portal_factories.make_organisation(uow, clock.now(), stranger,
                                                     name="Other Ltd")
        own_app = portal_factories.make_app(uow, clock.now(), own_org, client_id="x").app_id
        uow.commit()
    owner = app.test_client()
    portal_factories.sign_in(owner, portal[0], clock.now())
    listing = page(owner, f"/developers/apps/{portal[1]}/requests")
    call_id = re.findall(r'/requests/([0-9a-f-]{36})"', listing)[0]

    browser = app.test_client()
    portal_factories.sign_in(browser, stranger, clock.now())
    for url in (f"/developers/apps/{portal[1]}/requests",
                f"/developers/apps/{portal[1]}/requests/{call_id}",
                f"/developers/apps/{portal[1]}/usage",
                f"/developers/apps/{own_app}/requests/{call_id}",      # via their own app
                f"/developers/apps/{portal[1]}/requests/not-a-call"):
        html = page(browser, url, 404)
        assert CONSENTS not in html and aisp.client_id not in html


def test_signed_out_visitors_go_to_the_login_page(app, portal):
    response = app.test_client().get(f"/developers/apps/{portal[1]}/requests")
    assert response.status_code == 303 and "/developers/" in response.headers["Location"]
