"""The Open Banking API conventions of aspsp.obapi, seen over HTTP: interaction ids, FAPI
headers, media types, unknown paths and methods, unexpected errors, the OpenAPI document."""
from __future__ import annotations

import io
import json
import logging
import uuid

import pytest

from aspsp import obapi
from aspsp.logs import JsonFormatter
from tests.integration.consent.conftest import CONSENTS

INTERACTION = "93bac548-d2de-4546-b106-880a5018460d"


def codes(response):
    return [(e["ErrorCode"], e.get("Path")) for e in response.get_json()["Errors"]]


def test_a_given_interaction_id_is_echoed_on_success_and_error(aisp):
    ok = aisp.call("POST", CONSENTS, token=aisp.token(),
                   json={"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}},
                   headers={"x-fapi-interaction-id": INTERACTION})
    error = aisp.call("GET", f"{CONSENTS}/nope", token=aisp.token(),
                      headers={"x-fapi-interaction-id": INTERACTION})
    assert ok.headers["x-fapi-interaction-id"] == error.headers["x-fapi-interaction-id"] \
        == INTERACTION


@pytest.mark.parametrize("given", [None, "not-a-uuid", "x" * 500])
def test_otherwise_a_new_uuid_is_generated(client, given):
    headers = {"x-fapi-interaction-id": given} if given else {}
    response = client.get("/open-banking/v3.1/aisp/no-such-thing", headers=headers)
    generated = response.headers["x-fapi-interaction-id"]
    assert generated != given and str(uuid.UUID(generated)) == generated


def test_every_response_carries_a_date_header(client):
    response = client.get("/open-banking/v3.1/aisp/no-such-thing")
    assert response.headers["Date"] == "Mon, 15 Jun 2026 12:00:00 GMT"   # the platform clock


def test_an_unknown_path_is_404_in_ob_format(client):
    response = client.get("/open-banking/v3.1/aisp/card-accounts")
    assert response.status_code == 404
    body = response.get_json()
    assert body["Code"] == "404 Not Found" and body["Message"] and body["Id"]
    assert codes(response) == [("UK.InvisibleBank.Endpoint.NotFound", None)]


@pytest.mark.parametrize("path", ["/open-banking", "/open-banking/", "/open-banking/v9.9/x"])
def test_the_open_banking_root_is_in_ob_format_too(client, path):
    response = client.post(path)
    assert response.status_code == 404 and response.get_json()["Errors"]


def test_a_known_path_with_another_method_is_405(client):
    response = client.put(f"{CONSENTS}/aac-123", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "DELETE, GET"
    assert codes(response) == [("UK.InvisibleBank.Endpoint.MethodNotAllowed", None)]


@pytest.mark.parametrize("value", ["yesterday", "Mon, 10 Sep 2017 19:43:31 GMT"])
def test_a_bad_x_fapi_auth_date_is_400(aisp, value):
    response = aisp.call("GET", f"{CONSENTS}/aac-1", token=aisp.token(),
                         headers={"x-fapi-auth-date": value})
    assert response.status_code == 400
    assert codes(response) == [("UK.OBIE.Header.Invalid", "x-fapi-auth-date")]


def test_a_good_x_fapi_auth_date_passes(aisp):
    response = aisp.call("POST", CONSENTS, token=aisp.token(),
                         json={"Data": {"Permissions": ["ReadAccountsBasic"]}, "Risk": {}},
                         headers={"x-fapi-auth-date": "Sun, 10 Sep 2017 19:43:31 GMT",
                                  "x-fapi-customer-ip-address": "2001:db8::7"})
    assert response.status_code == 201


def test_a_bad_customer_ip_address_is_400(aisp):
    response = aisp.call("GET", f"{CONSENTS}/aac-1", token=aisp.token(),
                         headers={"x-fapi-customer-ip-address": "999.1.1.1"})
    assert response.status_code == 400
    assert codes(response) == [("UK.OBIE.Header.Invalid", "x-fapi-customer-ip-address")]


def test_a_content_type_charset_other_than_utf8_is_415(aisp):
    response = aisp.call("POST", CONSENTS, token=aisp.token(), data=b"{}",
                         content_type="application/json; charset=latin-1")
    assert response.status_code == 415


@pytest.fixture
def throwaway(app):
    blp = obapi.Blueprint("conventions-test", __name__, url_prefix="/open-banking/test")

    @blp.route("/boom")
    def boom():
        raise RuntimeError("secret detail: db password hunter2")

    @blp.route("/payments", methods=["POST"])
    def payments():
        return {"key": obapi.idempotency_key()}, 201

    obapi.register_blueprint(app, blp)
    return blp


@pytest.fixture
def json_log():
    """The JSON lines aspsp.obapi logs, formatted as they are emitted (in the request)."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("aspsp.obapi")
    logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    logger.removeHandler(handler)


def test_an_unexpected_error_is_500_in_ob_format_and_logged_with_the_interaction_id(
        client, throwaway, json_log):
    response = client.get("/open-banking/test/boom",
                          headers={"x-fapi-interaction-id": INTERACTION})
    assert response.status_code == 500
    assert codes(response) == [("UK.OBIE.UnexpectedError", None)]
    assert "hunter2" not in response.get_data(as_text=True)
    assert response.headers["x-fapi-interaction-id"] == INTERACTION
    error = next(line for line in json_log() if line["level"] == "ERROR")
    assert error["x-fapi-interaction-id"] == INTERACTION and "RuntimeError" in error["exc"]
    answered = next(line for line in json_log() if line["message"] == "ob error")
    assert answered["error_id"] == response.get_json()["Id"]


@pytest.mark.parametrize("key, status, expected", [
    (None, 400, [("UK.OBIE.Header.Missing", "x-idempotency-key")]),
    ("x" * 41, 400, [("UK.OBIE.Header.Invalid", "x-idempotency-key")]),
    (" padded", 400, [("UK.OBIE.Header.Invalid", "x-idempotency-key")]),
    ("FRESCO.21302.GFX.20", 201, None),
])
def test_the_idempotency_key_helper(client, throwaway, key, status, expected):
    headers = {"x-idempotency-key": key} if key else {}
    response = client.post("/open-banking/test/payments", json={}, headers=headers)
    assert response.status_code == status
    if expected:
        assert codes(response) == expected
    else:
        assert response.get_json() == {"key": key}


def test_the_openapi_document_describes_the_consent_resources(client):
    response = client.get("/open-banking/openapi.json")
    assert response.status_code == 200
    document = response.get_json()
    operations = document["paths"]["/open-banking/v3.1/aisp/account-access-consents"]
    post = operations["post"]
    assert post["operationId"] == "CreateAccountAccessConsents"
    assert post["security"] == [{"TPPOAuth2Security": ["accounts"]}]
    assert {"$ref": "#/components/parameters/x-fapi-interaction-id"} in post["parameters"]
    assert set(post["responses"]) == {"201", "400", "401", "403", "405", "406", "415", "500"}
    assert "content" not in post["responses"]["401"]
    schemas = document["components"]["schemas"]
    assert {"OBReadConsent1", "OBReadConsentResponse1", "OBErrorResponse1"} <= set(schemas)
    assert len(schemas["OBReadData1"]["properties"]["Permissions"]["items"]["enum"]) == 21
    item = document["paths"]["/open-banking/v3.1/aisp/account-access-consents/{ConsentId}"]
    assert set(item) >= {"get", "delete"}


def test_the_interactive_docs_are_served(client):
    response = client.get("/open-banking/docs")
    assert response.status_code == 200 and b"/open-banking/openapi.json" in response.data
