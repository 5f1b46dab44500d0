"""The developer portal's webhooks pages: the app's event subscription set from the page (the
API's own service and refusals), test events delivered for real to a receiver on 127.0.0.1 and
shown with their SET verified, resend, and the access, CSRF and escaping rules."""
from __future__ import annotations

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from jwcrypto import jwk, jws

from aspsp import events
from aspsp.events import services as event_services
from developer_portal import hooks
from tests.integration.events.conftest import (  # noqa: F401  (fixtures used here)
    SUBSCRIPTIONS, make_events_tpp, make_receiver, make_tpp, receiver)
from tests.portal_factories import make_app, make_developer, make_organisation, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REVOKED = events.CONSENT_AUTHORIZATION_REVOKED
RU = events.RESOURCE_UPDATE


class Portal:
    """A signed-in developer's browser on one app's webhooks pages."""

    def __init__(self, http, app_id: str, client_pk: int | None):
        self.http, self.app_id, self.client_pk = http, app_id, client_pk
        self.base = f"/developers/apps/{app_id}/webhooks"
        self.html = ""

    def get(self, path: str = ""):
        response = self.http.get(self.base + path)
        self.html = response.get_data(as_text=True)
        return response

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True,
             follow: bool = True):
        form = dict(data or {})
        if csrf:
            found = CSRF.search(self.html) or CSRF.search(self.get().get_data(as_text=True))
            form["csrf_token"] = found.group(1)
        response = self.http.post(self.base + path, data=form)
        self.html = response.get_data(as_text=True)
        if follow and response.status_code == 303:
            location = response.headers["Location"]
            response = self.http.get(location)
            self.html = response.get_data(as_text=True)
        return response

    def text(self) -> str:
        return " ".join(unescape(re.sub(r"<[^>]+>", " ", self.html)).split())


@pytest.fixture
def tpp(make_events_tpp):
    return make_events_tpp(name="Acme Money")


def open_portal(app, database, clock, *, client_id: str | None, client_pk: int | None = None,
                app_name: str = "Acme Money") -> Portal:
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now)
        org = make_organisation(uow, now, dana)
        portal_app = make_app(uow, now, org, name=app_name, client_id=client_id)
        uow.commit()
    http = app.test_client()
    sign_in(http, dana, now)
    portal = Portal(http, portal_app.app_id, client_pk)
    portal.get()
    return portal


@pytest.fixture
def portal(app, database, clock, tpp) -> Portal:
    return open_portal(app, database, clock, client_id=tpp.client_id,
                       client_pk=tpp.client.row.id)


def subscription_of(platform, client_pk: int):
    with platform.uow() as uow:
        found = event_services.subscriptions(uow, client_pk)
    return found[0] if found else None


def jti_of(html: str) -> str:
    return re.search(r"/webhooks/events/([0-9a-f-]{36})", html).group(1)


# --- the subscription ---------------------------------------------------------------------------
def test_an_unregistered_app_explains_that_webhooks_need_registration_first(
        app, database, clock):
    portal = open_portal(app, database, clock, client_id=None)
    assert portal.get().status_code == 200
    assert "This app is not registered with the bank yet" in portal.text()
    assert "Save the subscription" not in portal.html
    response = portal.post("/test", {"event_type": RU}, follow=False)
    assert response.status_code == 303 and response.headers["Location"].endswith("/webhooks")


def test_the_subscription_is_set_changed_and_deleted_from_the_page(
        portal, platform, receiver):
    assert "No subscription yet" in portal.text()
    portal.post("/subscription", {"callback_url": receiver.url, "version": "3.1.11",
                                  "scope": "only", "event_types": [RU, REVOKED]})
    assert "The event subscription is saved: events are pushed to " + receiver.url \
        in portal.text()
    saved = subscription_of(platform, portal.client_pk)
    assert (saved.callback_url, saved.version, saved.event_types) == (
        receiver.url, "3.1.11", (RU, REVOKED))
    assert saved.subscription_id in portal.html
    portal.post("/subscription", {"callback_url": "", "version": "3.1", "scope": "all"})
    assert "no callback URL, so events wait to be polled" in portal.text()
    changed = subscription_of(platform, portal.client_pk)
    assert changed.subscription_id == saved.subscription_id      # the PUT's service: replaced
    assert (changed.callback_url, changed.event_types) == (None, None)
    portal.post("/subscription/delete")
    assert "The event subscription is deleted" in portal.text()
    assert subscription_of(platform, portal.client_pk) is None


def test_the_page_refuses_what_the_api_refuses_with_the_same_messages(portal, tpp, platform):
    data = {"callback_url": "http://127.0.0.1:9/hooks", "version": "2.0", "scope": "only",
            "event_types": ["urn:example:not-an-event"]}
    response = portal.post("/subscription", data)
    assert response.status_code == 400
    api = tpp.call("POST", SUBSCRIPTIONS, token=tpp.token(), json={"Data": {
        "CallbackUrl": data["callback_url"], "Version": "2.0",
        "EventTypes": data["event_types"]}})
    assert api.status_code == 400
    errors = api.get_json()["Errors"]
    assert len(errors) == 3
    text = portal.text()
    for error in errors:
        assert f"{error['Path']} : {error['Message']}" in text, error
    assert "The subscription was not saved" in text
    assert 'value="http://127.0.0.1:9/hooks"' in portal.html       # kept for correction
    assert subscription_of(platform, portal.client_pk) is None


def test_choosing_some_event_types_needs_at_least_one(portal, platform, receiver):
    response = portal.post("/subscription", {"callback_url": receiver.url, "version": "3.1",
                                             "scope": "only"})
    assert response.status_code == 400
    assert "tick at least one event type" in portal.text()
    assert subscription_of(platform, portal.client_pk) is None


def test_the_sandbox_inspector_is_offered_as_the_callback_when_the_sandbox_has_one(
        app, portal, platform, monkeypatch):
    offered = "http://localhost/sandbox/inspector/abc/event-notifications"
    monkeypatch.setitem(app.extensions, hooks.EXTENSION, _Hooks(offered))
    portal.get()
    assert "Use the sandbox webhook inspector" in portal.html and offered in portal.html
    portal.post("/subscription", {"callback_url": "", "version": "3.1", "scope": "all",
                                  "use_inspector": "1"})
    assert subscription_of(platform, portal.client_pk).callback_url == offered


def test_without_an_inspector_the_offer_is_absent(app, portal, monkeypatch):
    monkeypatch.setitem(app.extensions, hooks.EXTENSION, _Hooks(None))
    portal.get()
    assert "Use the sandbox webhook inspector" not in portal.html
    monkeypatch.delitem(app.extensions, hooks.EXTENSION)       # production: no sandbox hooks
    portal.get()
    assert "Use the sandbox webhook inspector" not in portal.html
    response = portal.post("/subscription", {"callback_url": "", "version": "3.1",
                                             "scope": "all", "use_inspector": "1"})
    assert response.status_code == 400
    assert "the sandbox offers no webhook inspector here" in portal.text()


class _Hooks:
    def __init__(self, url):
        self.url = url

    def app_links(self, app):
        return []

    def inspector_url(self, app):
        return self.url


# --- test events, deliveries, the SET ------------------------------------------------------------
def test_a_test_event_is_delivered_to_the_receiver_and_shown_with_its_set_verified(
        portal, platform, receiver, client):
    portal.post("/subscription", {"callback_url": receiver.url, "version": "3.1",
                                  "scope": "all"})
    portal.post("/test", {"event_type": REVOKED})
    jti = jti_of(portal.html)
    assert "Test event " + jti + " raised" in portal.text()
    [got] = receiver.received
    keys = jwk.JWKSet.from_json(client.get("/jwks").get_data(as_text=True))
    token = jws.JWS()
    token.deserialize(got.body.decode())
    token.verify(keys.get_key(token.jose_header["kid"]))
    claims = json.loads(token.payload)
    assert claims["jti"] == jti and REVOKED in claims["events"]
    assert claims["sub"].endswith("/aisp/account-access-consents/" + claims["events"][RU][
        "subject"]["http://openbanking.org.uk/rid"])
    assert claims["events"][RU]["subject"]["http://openbanking.org.uk/rid"].startswith("test-")
    text = portal.text()
    kid = token.jose_header["kid"]
    assert f"Signature valid: signed PS256 by the bank's published key {kid}" in text
    assert "Delivered 2026-06-15 12:00:00 UTC" in text
    assert "HTTP 202" in text and receiver.url in text
    assert f'"jti": "{jti}"' in text and '"typ": "secevent+jwt"' in text
    portal.get()
    assert "consent-authorization-revoked" in portal.text() and jti in portal.html
    assert "1: last HTTP 202" in portal.text()


def test_a_failed_push_shows_its_attempts_and_next_retry(portal, platform, receiver):
    receiver.default = 500
    portal.post("/subscription", {"callback_url": receiver.url, "version": "3.1",
                                  "scope": "all"})
    portal.post("/test", {"event_type": RU})
    text = portal.text()
    assert "HTTP 500" in text and "Pending: next retry 2026-06-15 12:00:" in text
    assert "Last error HTTP 500" in text


def test_without_a_callback_url_a_test_event_waits_for_polling(portal, tpp, platform):
    portal.post("/subscription", {"callback_url": "", "version": "3.1", "scope": "all"})
    portal.post("/test", {"event_type": events.LINKED_ACCOUNT_UPDATE})
    jti = jti_of(portal.html)
    assert "Pending: waiting to be polled" in portal.text() and "Not pushed yet" in portal.text()
    polled = tpp.poll({"maxEvents": 10}).get_json()
    assert list(polled["sets"]) == [jti]
    claims = _claims(polled["sets"][jti])
    assert claims["events"][events.LINKED_ACCOUNT_UPDATE]["reason"] == "UK.OBIE.AccountClosure"


def test_a_test_event_needs_a_subscription_that_receives_its_type(portal, platform, receiver):
    portal.post("/test", {"event_type": RU})
    assert "No test event was sent: set an event subscription first" in portal.text()
    portal.post("/subscription", {"callback_url": receiver.url, "version": "3.1.1",
                                  "scope": "all"})
    portal.post("/test", {"event_type": REVOKED})
    assert "does not receive " + REVOKED in portal.text()
    assert "Version 3.1.1, which receives resource-update only" in portal.text()
    portal.post("/test", {"event_type": "urn:example:nothing"})
    assert "urn:example:nothing is not an event type of this bank" in portal.text()
    assert receiver.received == []


def test_resend_pushes_the_event_again_once_per_click(portal, platform, receiver, clock):
    portal.post("/subscription", {"callback_url": receiver.url, "version": "3.1",
                                  "scope": "all"})
    portal.post("/test", {"event_type": RU})
    jti = jti_of(portal.html)
    assert len(receiver.received) == 1
    clock.advance(timedelta(seconds=5))
    portal.post(f"/events/{jti}/resend")
    assert "The event is re-sent to the current callback URL" in portal.text()
    assert len(receiver.received) == 2
    assert receiver.tokens()[1] != receiver.tokens()[0]       # signed afresh, same claims
    assert [_claims(t)["jti"] for t in receiver.tokens()] == [jti, jti]
    with platform.uow() as uow:
        assert len(event_services.attempts_of(uow, jti)) == 2
    assert "2 (again: a retry or a re-send)" in portal.text()
    portal.post(f"/events/{jti}/resend")                        # a double click
    assert "nothing more was sent" in portal.text()
    assert len(receiver.received) == 2


def test_resend_without_a_callback_url_says_why(portal, platform):
    portal.post("/subscription", {"callback_url": "", "version": "3.1", "scope": "all"})
    portal.post("/test", {"event_type": RU})
    jti = jti_of(portal.html)
    portal.post(f"/events/{jti}/resend")
    assert "Not re-sent: the subscription has no callback URL" in portal.text()


def test_an_unknown_jti_is_404(portal):
    assert portal.get("/events/00000000-0000-0000-0000-000000000000").status_code == 404
    assert portal.post("/events/00000000-0000-0000-0000-000000000000/resend",
                       follow=False).status_code == 404


def _claims(token: str) -> dict:
    parsed = jws.JWS()
    parsed.deserialize(token)
    return json.loads(parsed.objects["payload"])


# --- access, CSRF, escaping --------------------------------------------------------------------
def test_another_organisations_developer_gets_404_everywhere(
        app, database, clock, portal, receiver):
    portal.post("/subscription", {"callback_url": receiver.url, "version": "3.1",
                                  "scope": "all"})
    portal.post("/test", {"event_type": RU})
    jti = jti_of(portal.html)
    eve = open_portal(app, database, clock, client_id=None)          # her own org and app
    eve.base = portal.base
    csrf = CSRF.search(eve.html).group(1)
    for path in ("", f"/events/{jti}"):
        assert eve.http.get(eve.base + path).status_code == 404
    for path in ("/subscription", "/subscription/delete", "/test", f"/events/{jti}/resend"):
        response = eve.http.post(eve.base + path, data={
            "csrf_token": csrf, "callback_url": "", "version": "3.1", "event_type": RU})
        assert response.status_code == 404, path
    assert len(receiver.received) == 1


def test_a_visitor_is_sent_to_sign_in(app, portal):
    response = app.test_client().get(portal.base)
    assert response.status_code == 303 and "/developers/login" in response.headers["Location"]


def test_every_form_refuses_a_post_without_its_csrf_token(portal, platform, receiver):
    portal.post("/subscription", {"callback_url": receiver.url, "version": "3.1",
                                  "scope": "all"})
    portal.post("/test", {"event_type": RU})
    jti = jti_of(portal.html)
    before = subscription_of(platform, portal.client_pk)
    for path, data in (("/subscription", {"callback_url": "", "version": "3.1"}),
                       ("/subscription/delete", {}), ("/test", {"event_type": RU}),
                       (f"/events/{jti}/resend", {})):
        response = portal.post(path, data, csrf=False, follow=False)
        assert response.status_code == 400, path
        assert "CSRF" in response.get_data(as_text=True) or "form" in response.get_data(
            as_text=True).lower()
    assert subscription_of(platform, portal.client_pk) == before
    assert len(receiver.received) == 1
    portal.get()
    assert portal.html.count('name="csrf_token"') == 4       # sign-out, save, delete, test


def test_what_developers_and_events_carry_is_shown_escaped(
        app, database, clock, tpp, platform):
    portal = open_portal(app, database, clock, client_id=tpp.client_id,
                         client_pk=tpp.client.row.id, app_name="Acme <script>x()</script>")
    assert "Acme &lt;script&gt;x()&lt;/script&gt;" in portal.html
    assert "<script>x()" not in portal.html
    response = portal.post("/subscription", {
        "callback_url": 'https://tpp.example/"><script>alert(1)</script>', "version": "3.1",
        "scope": "all"})
    assert response.status_code == 400
    assert "<script>alert(1)" not in portal.html
    assert "&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in portal.html
    portal.post("/subscription", {"callback_url": "", "version": "3.1", "scope": "all"})
    with app.test_request_context():
        with platform.uow() as uow:
            jti = events.publish(uow, client_pk=tpp.client.row.id, event_type=RU,
                                 rty="domestic-payment", rid="<img src=x onerror=alert(1)>",
                                 path="/pisp/domestic-payments/x", now=clock.now())
            uow.commit()
    portal.get()
    assert "<img src=x" not in portal.html and "&lt;img src=x onerror=alert(1)&gt;" \
        in portal.html
    portal.get(f"/events/{jti}")
    assert "<img src=x" not in portal.html and "&lt;img src=x onerror=alert(1)&gt;" \
        in portal.html
