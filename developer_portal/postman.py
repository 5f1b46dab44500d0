"""A Postman collection (format v2.1) generated from the platform's own OpenAPI document, the
one /open-banking/openapi.json and the interactive docs serve: one folder per API (the
document's tags), one request per operation.

Each request: the method; the URL as `{{baseUrl}}` + the path (path parameters as Postman
`:Name` variables, query parameters listed and disabled); the headers the bank needs:
`Authorization: {{token_type}} {{access_token}}` (token_type Bearer for certificate-bound
tokens over MTLS; DPoP, with the `DPoP` header enabled, for DPoP-bound ones),
`x-fapi-interaction-id`, `x-idempotency-key` on POSTs, `x-jws-signature` where the operation
takes one; and a JSON example body built from the request schema (its `example` when it has
one, else its required fields with plausible values). No host is written in: every URL
starts with `{{baseUrl}}`, a collection variable preset to the bank's issuer.
"""
from __future__ import annotations

import json
import re
import uuid

SCHEMA = "https://schema.getpostman.com/json/collection/v2.1.0/collection.json"
METHODS = ("get", "post", "put", "patch", "delete")
MAX_DEPTH = 12
# Values for strings the schema says little about, by property name.
BY_NAME = {
    "Amount": "10.00", "Currency": "GBP", "SchemeName": "UK.OBIE.SortCodeAccountNumber",
    "Identification": "20000012345678", "Name": "ACME Ltd", "Reference": "INVOICE 1",
    "InstructionIdentification": "INSTR-1", "EndToEndIdentification": "E2E-1",
    "ConsentId": "{{consent_id}}", "CountryCode": "GB", "CurrencyOfTransfer": "GBP",
    "Frequency": "EvryDay", "Permissions": "ReadAccountsDetail",
}
BY_FORMAT = {"date-time": "2030-01-01T00:00:00+00:00", "date": "2030-01-01",
             "uri": "https://tpp.example.com/event-notifications", "email": "dev@example.com"}

VARIABLES = [
    ("baseUrl", None, "The bank's base URL (its issuer)"),
    ("access_token", "", "A token from POST {{baseUrl}}/token"),
    ("token_type", "Bearer", "Bearer (certificate-bound token over MTLS) or DPoP"),
    ("dpop_proof", "", "A DPoP proof for this request (ib_quickstart.py dpop ...)"),
    ("jws_signature", "", "x-jws-signature over the exact body (ib_quickstart.py "
                          "jws-signature ...)"),
    ("consent_id", "", "The consent the request is about"),
    ("customer_ip", "198.51.100.7", "The customer's IP address when they are present"),
]


class _Resolver:
    def __init__(self, spec: dict):
        self.spec = spec

    def resolve(self, node):
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            node = self.lookup(node["$ref"])
            seen += 1
        return node

    def lookup(self, ref: str):
        node = self.spec
        for part in ref.lstrip("#/").split("/"):
            node = node.get(part.replace("~1", "/").replace("~0", "~"), {}) \
                if isinstance(node, dict) else {}
        return node


def example_of(schema, resolver: _Resolver, name: str = "", depth: int = 0):
    """An example value for `schema`: its own example, else one built from it."""
    schema = resolver.resolve(schema) or {}
    if not isinstance(schema, dict) or depth > MAX_DEPTH:
        return None
    if "example" in schema:
        return schema["example"]
    for combined in ("allOf", "oneOf", "anyOf"):
        if schema.get(combined):
            if combined == "allOf":
                merged: dict = {}
                for part in schema["allOf"]:
                    value = example_of(part, resolver, name, depth + 1)
                    if isinstance(value, dict):
                        merged.update(value)
                return merged
            return example_of(schema[combined][0], resolver, name, depth + 1)
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type") or ("object" if "properties" in schema else "string")
    if kind == "object":
        properties = schema.get("properties") or {}
        required = schema.get("required") or []
        return {key: example_of(properties[key], resolver, key, depth + 1)
                for key in required if key in properties}
    if kind == "array":
        return [example_of(schema.get("items") or {}, resolver, name, depth + 1)
                for _ in range(max(1, int(schema.get("minItems") or 1)))]
    if kind == "integer":
        return int(schema.get("minimum") or 1)
    if kind == "number":
        return schema.get("minimum") or 1
    if kind == "boolean":
        return True
    return _string_example(schema, name)


def _string_example(schema: dict, name: str) -> str:
    if schema.get("format") in BY_FORMAT:
        return BY_FORMAT[schema["format"]]
    value = BY_NAME.get(name)
    if value is None:
        pattern = schema.get("pattern") or ""
        value = "10.00" if r"\d{1,13}" in pattern else "GBP" if "[A-Z]{3" in pattern \
            else name or "string"
    low, high = int(schema.get("minLength") or 0), schema.get("maxLength")
    if high is not None and len(value) > int(high):
        value = value[:int(high)]
    return value + "x" * max(0, low - len(value))


def _parameters(operation: dict, path_item: dict, resolver: _Resolver) -> list[dict]:
    found = {}
    for raw in [*(path_item.get("parameters") or []), *(operation.get("parameters") or [])]:
        parameter = resolver.resolve(raw)
        if isinstance(parameter, dict) and parameter.get("name"):
            found[(parameter.get("in"), parameter["name"].lower())] = parameter
    return list(found.values())


def _headers(method: str, parameters: list[dict], operation: dict) -> list[dict]:
    names = {p["name"].lower() for p in parameters if p.get("in") == "header"}
    headers = [
        {"key": "Authorization", "value": "{{token_type}} {{access_token}}", "type": "text"},
        {"key": "DPoP", "value": "{{dpop_proof}}", "type": "text", "disabled": True,
         "description": "For a DPoP-bound token: a fresh proof for this method and URL"},
        {"key": "x-fapi-interaction-id", "value": "{{$guid}}", "type": "text"},
        {"key": "x-fapi-customer-ip-address", "value": "{{customer_ip}}", "type": "text",
         "disabled": True, "description": "When the customer is present"},
        {"key": "Accept", "value": "application/json", "type": "text"},
    ]
    if method == "post" or "x-idempotency-key" in names:
        headers.append({"key": "x-idempotency-key", "value": "{{$guid}}", "type": "text"})
    if "x-jws-signature" in names:
        headers.append({"key": "x-jws-signature", "value": "{{jws_signature}}", "type": "text"})
    if "requestBody" in operation:
        headers.append({"key": "Content-Type", "value": "application/json", "type": "text"})
    return headers


def _url(path: str, parameters: list[dict]) -> dict:
    postman_path = re.sub(r"\{([^}/]+)\}", r":\1", path)
    segments = [s for s in postman_path.split("/") if s]
    url = {"raw": "{{baseUrl}}" + postman_path, "host": ["{{baseUrl}}"], "path": segments}
    variables = [{"key": p["name"], "value": "", "description": p.get("description", "")}
                 for p in parameters if p.get("in") == "path"]
    if variables:
        url["variable"] = variables
    query = [{"key": p["name"], "value": "", "disabled": True,
              "description": p.get("description", "")}
             for p in parameters if p.get("in") == "query"]
    if query:
        url["query"] = query
    return url


def _request(path: str, method: str, operation: dict, path_item: dict,
             resolver: _Resolver) -> dict:
    parameters = _parameters(operation, path_item, resolver)
    request = {"method": method.upper(), "header": _headers(method, parameters, operation),
               "url": _url(path, parameters)}
    body = resolver.resolve(operation.get("requestBody") or {})
    content = (body.get("content") or {}).get("application/json") if body else None
    if content is not None:
        example = content.get("example")
        if example is None and content.get("examples"):
            first = next(iter(content["examples"].values()))
            example = resolver.resolve(first).get("value")
        if example is None:
            example = example_of(content.get("schema") or {}, resolver)
        request["body"] = {"mode": "raw", "raw": json.dumps(example, indent=2),
                           "options": {"raw": {"language": "json"}}}
    description = operation.get("description") or operation.get("summary")
    if description:
        request["description"] = description
    return {"name": operation.get("summary") or operation.get("operationId")
            or f"{method.upper()} {path}", "request": request}


def collection(spec: dict, *, base_url: str, name: str | None = None) -> dict:
    """The Postman v2.1 collection of every operation of `spec`."""
    resolver = _Resolver(spec)
    folders: dict[str, list] = {}
    for path, path_item in (spec.get("paths") or {}).items():
        for method in METHODS:
            operation = path_item.get(method)
            if not isinstance(operation, dict):
                continue
            tag = (operation.get("tags") or ["Other"])[0]
            folders.setdefault(tag, []).append(
                _request(path, method, operation, path_item, resolver))
    info = spec.get("info") or {}
    descriptions = {t.get("name"): t.get("description", "") for t in spec.get("tags") or []}
    return {
        "info": {"_postman_id": str(uuid.uuid5(uuid.NAMESPACE_URL, base_url)),
                 "name": name or info.get("title", "Open Banking APIs"),
                 "description": (info.get("description") or "") + " Generated from the "
                 "bank's OpenAPI document; set access_token (and token_type) first.",
                 "schema": SCHEMA},
        "item": [{"name": tag, "description": descriptions.get(tag, ""), "item": items}
                 for tag, items in folders.items()],
        "variable": [{"key": key, "value": base_url if value is None else value,
                      "type": "string", "description": text}
                     for key, value, text in VARIABLES],
    }
