"""The portal's webhooks page offers the app's real webhook inspector (the sandbox's
developer_portal.hooks `inspector_url`, sandbox/portal_directory.py): choosing it points the
app's subscription at the inspector, whose receiving URL then exists (made in the page's own
transaction), and the app's page links to the inspector's page."""
from __future__ import annotations

import re

from aspsp.events import services as event_services
from tests.integration.consent.conftest import make_tpp  # noqa: F401  (fixture)
from tests.integration.events.conftest import make_events_tpp  # noqa: F401  (fixture)
from tests.portal_factories import make_app, make_developer, make_organisation, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def test_use_the_sandbox_webhook_inspector_from_the_portals_webhooks_page(
        app, platform, clock, client, make_events_tpp):
    tpp = make_events_tpp(name="Acme Money")
    now = clock.now()
    with platform.uow() as uow:
        developer = make_developer(uow, now)
        org = make_organisation(uow, now, developer)
        app_id = make_app(uow, now, org, client_id=tpp.client_id).app_id
        uow.commit()
    browser = app.test_client()
    sign_in(browser, developer, now)
    page = browser.get(f"/developers/apps/{app_id}/webhooks")
    html = page.get_data(as_text=True)
    offered = re.search(r"<code>(http://localhost/sandbox/inspector/[0-9a-f]+/"
                        r"event-notifications)</code>", html).group(1)
    chosen = browser.post(f"/developers/apps/{app_id}/webhooks/subscription", data={
        "csrf_token": CSRF.search(html).group(1), "callback_url": "", "version": "3.1",
        "scope": "all", "use_inspector": "1"})
    assert chosen.status_code == 303, chosen.get_data(as_text=True)
    with platform.uow() as uow:
        [subscription] = event_services.subscriptions(uow, tpp.client.row.id)
    assert subscription.callback_url == offered
    assert client.post(offered.removeprefix("http://localhost"), data=b"x").status_code == 202
    inspector_page = browser.get(f"/developers/apps/{app_id}/sandbox/webhooks/inspector")
    assert "This app's event subscription points here" in inspector_page.get_data(as_text=True)
    app_page = browser.get(f"/developers/apps/{app_id}").get_data(as_text=True)
    assert f"/developers/apps/{app_id}/sandbox/webhooks/inspector" in app_page
