"""Schema checks of responses against the official OBIE OpenAPI documents (`specs/obie/`, or
a directory the configuration names), as the FCS's `pkg/schema` does for a script with
`schemaCheck`: the body of the response is validated against the document's schema for the
operation and the status code it answered, with jsonschema (Draft 4, what OpenAPI 3.0 schemas
are written in), every `$ref` resolved inside the document, `date-time` checked as RFC 3339.
A status the operation does not document is itself a problem; one documented without content
(a 401, a 404) has no body to check."""
from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

OBIE = Path(__file__).resolve().parents[1] / "obie"
DOCUMENTS = {"ais": "account-info-openapi.json", "pis": "payment-initiation-openapi.json",
             "cbpii": "confirmation-funds-openapi.json", "vrp": "vrp-openapi.json"}
SPEC_URI = "urn:openapi-document"


def document_path(api: str, version: str = "v3.1.11", directory: str | None = None) -> Path:
    return Path(directory or OBIE) / version / DOCUMENTS[api]


@lru_cache(maxsize=None)
def load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def server_prefix(document: dict) -> str:
    """The path the document's operations live under (`/open-banking/v3.1/aisp`)."""
    servers = document.get("servers") or [{}]
    return urlsplit(servers[0].get("url", "")).path.rstrip("/")


def templates(document: dict, method: str | None = None) -> list[str]:
    return [t for t, item in document["paths"].items()
            if method is None or method.lower() in item]


def template_for(document: dict, path: str) -> str | None:
    """The document's path template a request path (without the server prefix) matches;
    literal segments win over parameters."""
    if path in document["paths"]:
        return path
    candidates = [t for t in document["paths"] if re.match(
        "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(t)) + "$", path)]
    return min(candidates, key=lambda t: t.count("{")) if candidates else None


def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time with a time zone")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _resolve(document: dict, node: dict, pointer: str) -> tuple[dict, str]:
    while "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            raise ValueError(f"external $ref {ref} is not supported")
        pointer, node = ref[1:], document
        for token in ref[2:].split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
    return node, pointer


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def check_response(spec_path: str | Path, path: str, method: str, status: int,
                   body: str, headers: dict | None = None) -> list[str]:
    """Every way the response breaks the document (empty: it conforms)."""
    from jsonschema import Draft4Validator, FormatChecker
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    document = load(str(spec_path))
    template = template_for(document, path)
    if template is None:
        return [f"{path} is not an operation of {Path(spec_path).name}"]
    operation = document["paths"][template].get(method.lower())
    if operation is None:
        return [f"{method.upper()} {template} is not an operation of {Path(spec_path).name}"]
    responses = operation["responses"]
    key = str(status) if str(status) in responses else ("default" if "default" in responses
                                                        else None)
    if key is None:
        return [f"{method.upper()} {template} documents no {status} response "
                f"({', '.join(sorted(responses))})"]
    pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{key}"
    response, pointer = _resolve(document, responses[key], pointer)
    problems = []
    lowered = {k.lower() for k in (headers or {})}
    for name, header in (response.get("headers") or {}).items():
        if headers is not None and header.get("required") and name.lower() not in lowered:
            problems.append(f"required response header {name} is missing")
    content = response.get("content") or {}
    media = next((m for m in content if m.startswith("application/json")), None)
    if not media:
        return problems
    try:
        payload = json.loads(body)
    except ValueError:
        return problems + ["the body is not JSON"]
    formats = FormatChecker(formats=())
    formats.checks("date-time", raises=ValueError)(_date_time)
    registry = Registry().with_resource(
        SPEC_URI, Resource.from_contents(document, default_specification=DRAFT4))
    validator = Draft4Validator({"$ref": f"{SPEC_URI}#{pointer}/content/{_escape(media)}/schema"},
                                registry=registry, format_checker=formats)
    for error in sorted(validator.iter_errors(payload), key=lambda e: list(e.absolute_path)):
        where = "/".join(str(p) for p in error.absolute_path) or "(body)"
        cause = f" ({error.cause})" if error.cause else ""
        problems.append(f"schema: {where}: {error.message[:300]}{cause}")
    return problems
