"""The Confirmation of Funds operations in the OpenAPI document generated from the schemas,
at /open-banking/openapi.json: every official v3.1.11 operation with its operation id and
security, the statuses it answers, and no signature or idempotency header (the CoF profile
asks for neither)."""
from __future__ import annotations

import json

from tests.integration.cof.conftest import CBPII
from tests.integration.cof.test_contract import SPEC


def operations(paths: dict, prefix: str = "") -> dict[tuple[str, str], dict]:
    return {(path[len(prefix):], method): op for path, item in paths.items()
            if path.startswith(prefix) for method, op in item.items() if method != "parameters"}


def test_every_official_operation_is_published_as_the_official_document_names_it(client):
    official = operations(json.loads(SPEC.read_text())["paths"])
    ours = operations(client.get("/open-banking/openapi.json").get_json()["paths"], CBPII)
    assert set(ours) == set(official)
    for key, op in ours.items():
        assert op["operationId"] == official[key]["operationId"], key
        assert op["security"] == official[key]["security"], key
        expected = {s for s in official[key]["responses"] if s != "429"}
        assert expected <= set(op["responses"]), key
        headers = {p.get("name") for p in op.get("parameters") or [] if p.get("in") == "header"}
        assert not {"x-jws-signature", "x-idempotency-key"} & headers, key
    answer = ours[("/funds-confirmations", "post")]["responses"]["201"]
    schema = answer["content"]["application/json"]["schema"]
    assert schema["$ref"].endswith("OBFundsConfirmationResponse1")
