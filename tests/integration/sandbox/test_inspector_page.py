"""The webhook inspector's page in the developer portal: what the app's inspector received,
each SET said valid or invalid in words, bodies escaped; only for members of the app's
organisation (404 for anyone else); its one form (point the app's subscription here) is
CSRF-protected and goes through the events API's own services."""
from __future__ import annotations

import re
from html import unescape

import pytest

from aspsp.events import services as event_services
from tests.integration.consent.conftest import make_tpp  # noqa: F401  (fixture)
from tests.integration.events.conftest import (  # noqa: F401  (fixtures used here)
    EventsTpp, make_events_tpp)
from tests.integration.sandbox.test_inspector import signed_set
from tests.portal_factories import make_app, make_developer, make_organisation, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def tpp(make_events_tpp) -> EventsTpp:
    return make_events_tpp(name="Acme Money")


@pytest.fixture
def portal(app, platform, clock, tpp):
    """A developer of the organisation whose app is `tpp`'s client, signed in; and a
    developer of another organisation, signed in too."""
    now = clock.now()
    with platform.uow() as uow:
        developer = make_developer(uow, now)
        org = make_organisation(uow, now, developer)
        portal_app = make_app(uow, now, org, client_id=tpp.client_id)
        unregistered = make_app(uow, now, org, name="Not yet")
        stranger = make_developer(uow, now, name="Sam Stranger")
        make_organisation(uow, now, stranger, name="Other Org Ltd")
        uow.commit()
    mine, theirs = app.test_client(), app.test_client()
    sign_in(mine, developer, now)
    sign_in(theirs, stranger, now)
    page = f"/developers/apps/{portal_app.app_id}/sandbox/webhooks/inspector"
    return type("Portal", (), {"mine": mine, "theirs": theirs, "page": page,
                               "unregistered": f"/developers/apps/{unregistered.app_id}"
                                               "/sandbox/webhooks/inspector"})


def words(response) -> str:
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", response.get_data(as_text=True))).split())


def callback_path(response) -> str:
    url = re.search(r'id="callback-url">([^<]+)<', response.get_data(as_text=True)).group(1)
    return url.removeprefix("http://localhost")


def test_the_page_shows_each_request_with_its_set_verified_and_bodies_escaped(
        portal, client, app, platform, tpp):
    page = portal.mine.get(portal.page)
    assert page.status_code == 200
    assert "Nothing yet" in words(page)
    path = callback_path(page)
    client.post(path, data=b"<script>alert('x')</script>",
                headers={"Content-Type": "text/html"})
    token = signed_set(app, platform, tpp)
    header, payload, signature = token.split(".")
    client.post(path, data=f"{header}.{payload}.{signature[:-4]}AAAA".encode(),
                headers={"Content-Type": "application/jwt"})
    client.post(path, data=token.encode(), headers={"Content-Type": "application/jwt"})
    page = portal.mine.get(portal.page)
    html = page.get_data(as_text=True)
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html
    text = words(page)
    assert "Received (3)" in text
    assert text.count("Signature valid") == 1 and text.count("Signature INVALID") == 1
    assert "Not a signed SET" in text
    assert f'"aud": "{tpp.client_id}"' in text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_another_organisation_never_sees_the_inspector(portal, app):
    assert portal.theirs.get(portal.page).status_code == 404
    assert portal.theirs.post(portal.page + "/subscribe").status_code in (400, 404)
    assert app.test_client().get(portal.page).status_code == 303     # to the login page


def test_an_app_not_registered_yet_is_told_so(portal):
    response = portal.mine.get(portal.unregistered)
    assert response.status_code == 200
    assert "Register this app with the sandbox bank first" in words(response)


def test_the_subscribe_form_points_the_apps_subscription_at_the_inspector(
        portal, platform, tpp):
    page = portal.mine.get(portal.page)
    assert portal.mine.post(portal.page + "/subscribe").status_code == 400   # no CSRF token
    with platform.uow() as uow:
        assert event_services.subscriptions(uow, tpp.client.row.id) == []
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    done = portal.mine.post(portal.page + "/subscribe", data={"csrf_token": token})
    assert done.status_code == 303
    page = portal.mine.get(portal.page)
    assert "This app's event subscription points here" in words(page)
    with platform.uow() as uow:
        [subscription] = event_services.subscriptions(uow, tpp.client.row.id)
    assert subscription.callback_url == "http://localhost" + callback_path(page)
    assert subscription.event_types is None and subscription.version == "3.1"


def test_the_portal_is_offered_the_inspector_url_of_the_apps_client(app, platform, clock, tpp):
    """sandbox.inspector.portal_inspector_url: developer_portal.hooks' inspector_url(app),
    the same URL each time, the same as the control API's; none before registration."""
    from developer_portal.models import PortalApp
    from sandbox import inspector

    with platform.uow() as uow:
        developer = make_developer(uow, clock.now())
        org = make_organisation(uow, clock.now(), developer)
        registered = make_app(uow, clock.now(), org, client_id=tpp.client_id).app_id
        unregistered = make_app(uow, clock.now(), org, name="Later").app_id
        uow.commit()
    with app.test_request_context():
        with platform.uow() as uow:
            rows = {a.app_id: a for a in uow.session.query(PortalApp)}
            first = inspector.portal_inspector_url(rows[registered])
            assert inspector.portal_inspector_url(rows[unregistered]) is None
        with platform.uow() as uow:                      # not committed: made again, same URL
            again = inspector.portal_inspector_url(
                uow.session.query(PortalApp).filter_by(app_id=registered).one())
    assert first == again
    assert first.startswith("http://localhost/sandbox/inspector/")
    response = tpp.call("POST", "/sandbox/control/webhook-inspector", token=tpp.token(),
                        sign=False)
    assert response.get_json()["callback_url"] == first
