"""The events API's real responses against the official OBIE v3.1.11 Events OpenAPI document
(subscriptions and aggregated polling, errors included), and a real resource-update SET, as it
reached a receiver, against the TPP side's document (OBEventNotification1)."""
from __future__ import annotations

import json

from jsonschema import Draft4Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from tests.conftest import OBIE_SPECS
from tests.contract import FORMATS, SPEC_URI, validate_response
from tests.integration.events.conftest import EVENTS, SUBSCRIPTIONS
from tests.integration.events.test_delivery import raise_event, verified_claims

SPEC = OBIE_SPECS / "v3.1.11" / "events-openapi.json"
TPP_SPEC = OBIE_SPECS / "v3.1.11" / "event-notifications-openapi.json"
CALLBACK = "https://tpp.example/open-banking/v3.1/event-notifications"


def check(method: str, path: str, response, status: int) -> None:
    assert response.status_code == status, (path, response.get_json())
    validate_response(SPEC, path, method, status, response.get_json(silent=True))


def test_subscription_responses_match_the_document(tpp):
    token = tpp.token()
    created = tpp.call("POST", SUBSCRIPTIONS, token=token, json={"Data": {
        "CallbackUrl": CALLBACK, "Version": "3.1.11",
        "EventTypes": ["urn:uk:org:openbanking:events:resource-update"]}})
    check("POST", SUBSCRIPTIONS, created, 201)
    subscription_id = created.get_json()["Data"]["EventSubscriptionId"]
    check("GET", SUBSCRIPTIONS, tpp.call("GET", SUBSCRIPTIONS, token=token), 200)
    path = f"{SUBSCRIPTIONS}/{subscription_id}"
    check("PUT", path, tpp.call("PUT", path, token=token, json={"Data": {
        "EventSubscriptionId": subscription_id, "Version": "3.1"}}), 200)
    check("POST", SUBSCRIPTIONS, tpp.call("POST", SUBSCRIPTIONS, token=token,
                                          json={"Data": {"Version": "3.1"}}), 409)
    check("PUT", path, tpp.call("PUT", path, token=token, json={"Data": {
        "EventSubscriptionId": subscription_id, "Version": "3.1",
        "EventTypes": ["urn:x"]}}), 400)
    assert tpp.call("DELETE", path, token=token).status_code == 204
    check("GET", SUBSCRIPTIONS, tpp.call("GET", SUBSCRIPTIONS, token=token), 200)


def test_polling_responses_match_the_document(app, platform, tpp):
    tpp.subscribe()
    raise_event(app, platform, tpp)
    check("POST", EVENTS, tpp.poll({"maxEvents": 10, "returnImmediately": True}), 200)
    check("POST", EVENTS, tpp.poll({"maxEvents": -1}), 400)


def test_a_pushed_resource_update_set_matches_the_tpp_document(app, platform, tpp, receiver):
    tpp.subscribe(receiver.url)
    raise_event(app, platform, tpp)
    claims = verified_claims(tpp.http, receiver.tokens()[0])
    document = json.loads(TPP_SPEC.read_text())
    registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(document, default_specification=DRAFT4))
    validator = Draft4Validator(
        {"$ref": f"{SPEC_URI}#/components/schemas/OBEventNotification1"},
        registry=registry, format_checker=FORMATS)
    assert [e.message for e in validator.iter_errors(claims)] == []


def test_the_openapi_document_has_every_events_operation_of_the_spec(client):
    ours = client.get("/open-banking/openapi.json").get_json()["paths"]
    official = json.loads(SPEC.read_text())["paths"]
    expected = {(f"/open-banking/v3.1{path}", method, op["operationId"])
                for path, item in official.items() for method, op in item.items()
                if method in ("get", "post", "put", "delete")}
    served = {(path, method, op["operationId"]) for path, item in ours.items()
              for method, op in item.items() if isinstance(op, dict) and "operationId" in op}
    assert expected <= served
