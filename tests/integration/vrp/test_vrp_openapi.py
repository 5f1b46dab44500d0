"""The VRP operations in the OpenAPI document generated from the schemas, at
/open-banking/openapi.json: every official v3.1.11 VRP operation with its operation id and
security, the statuses it answers, and the signature and idempotency headers where the VRP
resource docs ask for them."""
from __future__ import annotations

import json

from tests.integration.vrp.conftest import PISP
from tests.integration.vrp.test_vrp_contract import SPEC

IDEMPOTENT = {("/domestic-vrp-consents", "post"), ("/domestic-vrps", "post")}
FUNDS = ("/domestic-vrp-consents/{ConsentId}/funds-confirmation", "post")
SIGNED = IDEMPOTENT | {FUNDS}
# vrp-openapi.json gives every operation TPPOAuth2Security; the resource docs' endpoint tables
# (domestic-vrp-consents, domestic-vrps: "Grant Type") give the funds confirmation and the
# VRP's POST the customer's Authorization Code: the bank follows (and documents) the latter.
CUSTOMER = {FUNDS, ("/domestic-vrps", "post")}


def operations(paths: dict, prefix: str = "") -> dict[tuple[str, str], dict]:
    return {(path[len(prefix):], method): op for path, item in paths.items()
            if path.startswith(prefix) for method, op in item.items() if method != "parameters"}


def test_every_official_vrp_operation_is_published_as_the_official_document_names_it(client):
    official = operations(json.loads(SPEC.read_text())["paths"])
    published = operations(client.get("/open-banking/openapi.json").get_json()["paths"], PISP)
    ours = {key: op for key, op in published.items() if key in official}
    assert set(ours) == set(official)
    for key, op in ours.items():
        assert op["operationId"] == official[key]["operationId"], key
        assert official[key]["security"] == [{"TPPOAuth2Security": ["payments"]}], key
        assert op["security"] == [{("PSUOAuth2Security" if key in CUSTOMER
                                    else "TPPOAuth2Security"): ["payments"]}], key
        expected = {s for s in official[key]["responses"] if s not in ("409", "429")}
        assert expected <= set(op["responses"]), key
        headers = {p.get("name") for p in op.get("parameters") or [] if p.get("in") == "header"}
        assert ("x-jws-signature" in headers) == (key in SIGNED), key
        assert ("x-idempotency-key" in headers) == (key in IDEMPOTENT), key
    made = ours[("/domestic-vrps", "post")]["responses"]["201"]
    assert made["content"]["application/json"]["schema"]["$ref"].endswith(
        "OBDomesticVRPResponse")
