"""The AIS operations in the OpenAPI document generated from the schemas (flask-smorest), at
/open-banking/openapi.json, with the interactive docs at /open-banking/docs: every path and
operation id of the official v3.1.11 document, and their parameters."""
from __future__ import annotations

import json

from tests.integration.ais.test_contract import SPEC

PREFIX = "/open-banking/v3.1/aisp"


def operations(paths: dict, prefix: str = "") -> dict[tuple[str, str], dict]:
    return {(path[len(prefix):], method): op for path, item in paths.items()
            if path.startswith(prefix) for method, op in item.items() if method != "parameters"}


def test_every_official_operation_is_published_with_its_id(client):
    official = operations(json.loads(SPEC.read_text())["paths"])
    ours = operations(client.get("/open-banking/openapi.json").get_json()["paths"], PREFIX)
    assert set(ours) == set(official)
    assert {k: op["operationId"] for k, op in ours.items()} == \
        {k: op["operationId"] for k, op in official.items()}


def test_filters_and_security_are_documented(client):
    document = client.get("/open-banking/openapi.json").get_json()
    get = document["paths"][f"{PREFIX}/accounts/{{AccountId}}/transactions"]["get"]
    query = {p["name"] for p in get["parameters"] if p.get("in") == "query"}
    assert query == {"fromBookingDateTime", "toBookingDateTime", "page"}
    assert get["security"] == [{"PSUOAuth2Security": ["accounts"]}]
    assert {"200", "400", "401", "403", "429"} <= set(get["responses"])
    file_get = document["paths"][f"{PREFIX}/accounts/{{AccountId}}/statements/{{StatementId}}"
                                 "/file"]["get"]
    assert "application/pdf" in file_get["responses"]["200"]["content"]
    schema = document["components"]["schemas"]["OBTransaction6"]
    assert {"AccountId", "Amount", "BookingDateTime", "CreditDebitIndicator", "Status"} <= \
        set(schema["required"])


def test_the_interactive_docs_are_served(client):
    response = client.get("/open-banking/docs")
    assert response.status_code == 200 and b"swagger" in response.data.lower()
