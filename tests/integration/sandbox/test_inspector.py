"""The webhook inspector: a per-client receiving URL inside the sandbox that records every
request (headers, body, time) and answers 202, keeps the newest 200, and shows each SET decoded
with its signature verified against the bank's published keys; the events API accepts it as a
callback URL and the bank's real delivery task pushes to it over HTTP."""
from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from aspsp import events
from aspsp.events import services as event_services
from sandbox import inspector
from sandbox.models import InspectedRequest
from tests.integration.consent.conftest import make_tpp  # noqa: F401  (fixture)
from tests.integration.events.conftest import (  # noqa: F401  (fixtures used here)
    EventsTpp, make_events_tpp)

CONTROL = "/sandbox/control"
RESOURCE_UPDATE = "urn:uk:org:openbanking:events:resource-update"


@pytest.fixture
def tpp(make_events_tpp) -> EventsTpp:
    return make_events_tpp(name="Hook Tester")


def control(tpp, method: str, path: str, body=None):
    return tpp.call(method, f"{CONTROL}{path}", token=tpp.token(), json=body, sign=False)


def inspector_of(tpp) -> dict:
    response = control(tpp, "POST", "/webhook-inspector")
    assert response.status_code == 200, response.get_json()
    return response.get_json()


def signed_set(app, platform, tpp, rid: str = "pay-1", **claims) -> str:
    with app.test_request_context():
        now = platform.clock.now()
        issuer = app.config["ISSUER"].rstrip("/")
        body = {"iss": issuer, "iat": int(now.timestamp()), "jti": "jti-1",
                "aud": tpp.client_id, "sub": f"{issuer}/x", "txn": "t", "toe": 1,
                "events": {RESOURCE_UPDATE: {}}, **claims}
        with platform.uow() as uow:
            token = event_services.sign(uow, body, now)
            uow.commit()
    return token


def test_the_inspector_records_what_it_receives_and_answers_202(tpp, client, clock):
    found = inspector_of(tpp)
    assert found == inspector_of(tpp)                        # one per client, made once
    url = found["callback_url"]
    assert url.startswith("http://localhost/sandbox/inspector/")
    assert url.endswith("/event-notifications")
    path = url.removeprefix("http://localhost")
    response = client.post(path, data=b"hello <script>alert(1)</script>",
                           headers={"Content-Type": "text/plain", "X-Trace": "abc",
                                    "Authorization": "Bearer secret-value"})
    assert response.status_code == 202 and response.get_data() == b""
    listed = control(tpp, "GET", "/webhook-inspector/requests").get_json()["requests"]
    [got] = listed
    assert got["method"] == "POST" and got["path"] == path
    assert got["body"] == "hello <script>alert(1)</script>" and got["set"] is None
    headers = dict(got["headers"])
    assert headers["X-Trace"] == "abc" and headers["Authorization"] == "(masked)"
    assert got["received_at"] == clock.now().isoformat()


def test_an_unknown_inspector_is_404(client):
    assert client.post("/sandbox/inspector/nope/event-notifications", data=b"x").status_code \
        == 404
    assert client.post("/sandbox/inspector/" + "a" * 100, data=b"x").status_code == 404


def test_only_the_newest_200_are_kept(tpp, client, platform):
    path = inspector_of(tpp)["callback_url"].removeprefix("http://localhost")
    for i in range(inspector.MAX_KEPT + 5):
        assert client.post(path, data=f"n{i}".encode()).status_code == 202
    listed = control(tpp, "GET", "/webhook-inspector/requests").get_json()["requests"]
    assert len(listed) == inspector.MAX_KEPT
    assert listed[0]["body"] == f"n{inspector.MAX_KEPT + 4}" and listed[-1]["body"] == "n5"
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(InspectedRequest)) == \
            inspector.MAX_KEPT


def test_a_large_body_is_kept_in_part_with_its_size(tpp, client):
    path = inspector_of(tpp)["callback_url"].removeprefix("http://localhost")
    big = b"a" * (inspector.MAX_BODY_BYTES + 10)
    assert client.post(path, data=big).status_code == 202
    [got] = control(tpp, "GET", "/webhook-inspector/requests").get_json()["requests"]
    assert got["body_bytes"] == len(big) and len(got["body"]) == inspector.MAX_BODY_BYTES


def test_a_set_is_decoded_and_its_signature_verified(tpp, client, app, platform):
    path = inspector_of(tpp)["callback_url"].removeprefix("http://localhost")
    token = signed_set(app, platform, tpp)
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"
    other_key = f"{_header(kid='not-ours')}.{payload}.{signature}"
    for body in (token, forged, other_key):
        client.post(path, data=body.encode(), headers={"Content-Type": "application/jwt"})
    checked = [r["set"] for r in control(tpp, "GET", "/webhook-inspector/requests")
               .get_json()["requests"]]
    later_key, bad_signature, good = checked
    assert good["valid"] and good["verdict"].startswith("Valid")
    assert good["claims"]["aud"] == tpp.client_id and good["notes"] == []
    assert not bad_signature["valid"] and "does not verify" in bad_signature["verdict"]
    assert bad_signature["claims"] == good["claims"]          # still decoded, to look at
    assert not later_key["valid"] and "not a key the bank publishes" in later_key["verdict"]


def test_a_set_for_another_audience_is_flagged(tpp, client, app, platform):
    path = inspector_of(tpp)["callback_url"].removeprefix("http://localhost")
    client.post(path, data=signed_set(app, platform, tpp, aud="someone-else").encode())
    [got] = control(tpp, "GET", "/webhook-inspector/requests").get_json()["requests"]
    assert got["set"]["valid"]
    assert any("aud" in note for note in got["set"]["notes"])


def test_the_events_api_accepts_the_inspector_as_callback(tpp):
    url = inspector_of(tpp)["callback_url"]
    tpp.subscribe(url)
    listed = tpp.call("GET", "/open-banking/v3.1/event-subscriptions", token=tpp.token(),
                      sign=False).get_json()
    assert listed["Data"]["EventSubscription"][0]["CallbackUrl"] == url


def test_the_banks_real_delivery_reaches_the_inspector_over_http(app, platform, tpp):
    """The platform served on 127.0.0.1 (its ISSUER that address, as under `make run`): an
    event raised for the client is pushed by the delivery task through aspsp.outbound to the
    inspector's URL, which records it and answers 202, so the event is Delivered."""
    server = make_server("127.0.0.1", 0, app, threaded=False)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    issuer = f"http://127.0.0.1:{server.server_port}"
    app.config["ISSUER"] = platform.config["ISSUER"] = issuer
    try:
        with app.test_request_context():
            with platform.uow() as uow:
                found = inspector.inspector_for(uow, tpp.client.row.id, platform.clock.now())
                event_services.create_subscription(
                    uow, tpp.client.row.id,
                    event_services.SubscriptionRequest(found.callback_url, "3.1", None),
                    platform.clock.now(), schemes=("http", "https"))
                uow.commit()
            assert found.callback_url.startswith(issuer + "/sandbox/inspector/")
            with platform.uow() as uow:
                jti = events.publish(uow, client_pk=tpp.client.row.id,
                                     event_type=RESOURCE_UPDATE, rty="domestic-payment",
                                     rid="pay-9", path="/pisp/domestic-payments/pay-9",
                                     now=platform.clock.now())
                uow.commit()
            with platform.uow() as uow:
                [got] = inspector.received(uow, found, platform.clock.now())
                statuses = [a.http_status for a in event_services.attempts_of(uow, jti)]
    finally:
        server.shutdown()
        thread.join(5)
    assert statuses == [202]
    assert got.method == "POST" and got.path.endswith("/event-notifications")
    assert dict(got.headers)["Content-Type"] == "application/jwt"
    assert got.set.valid and got.set.claims["jti"] == jti and got.set.notes == ()


def _header(**changes) -> str:
    import base64
    header = {"alg": "PS256", "typ": "secevent+jwt", **changes}
    return base64.urlsafe_b64encode(json.dumps(header).encode()).rstrip(b"=").decode()
