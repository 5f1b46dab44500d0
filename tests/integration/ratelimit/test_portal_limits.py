"""The developer portal shows an app its rate limits, read-only: the tier and burst its client
has now (a change by the operator shows on the next page view), or the default tier's limits
before it is registered."""
from __future__ import annotations

import re

from tests.oauth_factories import make_client
from tests.portal_factories import make_app, make_developer, make_organisation, sign_in


def section(html: str) -> str:
    found = re.search(r'<section class="card" id="rate-limits">(.*?)</section>', html, re.S)
    assert found, "the app page has no rate-limits section"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", found.group(1)))


def test_the_app_page_shows_its_tier_burst_and_limits_per_family(rl_app, clock):
    now = clock.now()
    with rl_app.extensions["aspsp"].uow() as uow:
        client = make_client(uow, now=now)
        dana = make_developer(uow, now)
        org = make_organisation(uow, now, dana)
        registered = make_app(uow, now, org, name="Registered", client_id=client.client_id)
        unregistered = make_app(uow, now, org, name="Draft")
        uow.commit()
    browser = rl_app.test_client()
    sign_in(browser, dana, now)

    page = browser.get(f"/developers/apps/{registered.app_id}")
    assert page.status_code == 200
    text = section(page.get_data(as_text=True))
    assert "Tier standard (the bank's default)" in text
    assert "burst allowance 0" in text
    assert "Account information (AIS) 3 per minute" in text
    assert "OAuth token and PAR 2 per minute" in text
    assert "429 Too Many Requests" in text and "Retry-After" in text
    assert "<form" not in page.get_data(as_text=True).split('id="rate-limits"')[1] \
        .split("</section>")[0]                       # read-only: nothing to post

    result = rl_app.test_cli_runner().invoke(
        args=["ratelimit", "set", client.client_id, "--tier", "premium", "--burst", "5"])
    assert result.exit_code == 0, result.output
    text = section(browser.get(f"/developers/apps/{registered.app_id}").get_data(as_text=True))
    assert "Tier premium, burst allowance 5 calls a second above each per-second rate" in text
    assert "Account information (AIS) 11 per minute" in text       # premium's 6 + 5
    assert "Variable recurring payments (VRP) 11 per minute" in text

    draft = section(browser.get(f"/developers/apps/{unregistered.app_id}")
                    .get_data(as_text=True))
    assert "Not registered with the bank yet: once registered, the app gets the standard " \
        "tier's limits below" in draft
    assert "Event notifications 3 per minute" in draft


def test_another_organisations_developer_does_not_see_the_limits(rl_app, clock):
    now = clock.now()
    with rl_app.extensions["aspsp"].uow() as uow:
        dana = make_developer(uow, now)
        org = make_organisation(uow, now, dana)
        app = make_app(uow, now, org)
        mallory = make_developer(uow, now)
        make_organisation(uow, now, mallory, name="Other Corp")
        uow.commit()
    browser = rl_app.test_client()
    sign_in(browser, mallory, now)
    page = browser.get(f"/developers/apps/{app.app_id}")
    assert page.status_code == 404
    assert "rate-limits" not in page.get_data(as_text=True)
