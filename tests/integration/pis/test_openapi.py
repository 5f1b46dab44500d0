"""The PIS operations in the OpenAPI document generated from the schemas, at
/open-banking/openapi.json: every official v3.1.11 operation of the families built (domestic
payments, domestic scheduled payments, domestic standing orders, international payments,
international scheduled payments, international standing orders, file payments)
with its operation id, security and the POSTs' x-idempotency-key and x-jws-signature
headers."""
from __future__ import annotations

import json

from tests.integration.pis.test_contract import SPEC

PREFIX = "/open-banking/v3.1/pisp"
FAMILIES = ("/domestic-payment", "/domestic-scheduled-payment", "/domestic-standing-order",
            "/international-payment", "/international-scheduled-payment",
            "/international-standing-order", "/file-payment")
# The VRP API shares the /pisp prefix: tests/integration/vrp/test_vrp_openapi.py checks it.
VRP = ("/domestic-vrp-consents", "/domestic-vrps")


def operations(paths: dict, prefix: str = "") -> dict[tuple[str, str], dict]:
    return {(path[len(prefix):], method): op for path, item in paths.items()
            if path.startswith(prefix) for method, op in item.items() if method != "parameters"}


def test_every_official_operation_of_the_families_built_is_published(client):
    official = {k: op for k, op in operations(json.loads(SPEC.read_text())["paths"]).items()
                if k[0].startswith(FAMILIES)}
    ours = {k: op for k, op in operations(
        client.get("/open-banking/openapi.json").get_json()["paths"], PREFIX).items()
        if not k[0].startswith(VRP)}
    assert set(ours) == set(official)
    assert {k: op["operationId"] for k, op in ours.items()} == \
        {k: op["operationId"] for k, op in official.items()}
    assert {k: op["security"] for k, op in ours.items()} == \
        {k: op["security"] for k, op in official.items()}


def test_posts_document_their_signature_and_idempotency_headers(client):
    document = client.get("/open-banking/openapi.json").get_json()
    for path in ("/domestic-payment-consents", "/domestic-payments",
                 "/domestic-standing-orders", "/international-payments",
                 "/international-scheduled-payments", "/international-standing-orders"):
        post = document["paths"][PREFIX + path]["post"]
        headers = {p["name"] for p in post["parameters"] if p.get("in") == "header"}
        assert {"x-idempotency-key", "x-jws-signature"} <= headers, path
        assert {"201", "400", "401", "403"} <= set(post["responses"])
