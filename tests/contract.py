"""Contract checks: a real response against an official OBIE OpenAPI document.

    validate_response(spec_path, path, method, status, body, headers=None)

`path` is the request path as sent ("/open-banking/v3.1/aisp/accounts/123") or a template of
the document ("/accounts/{AccountId}"); the document's server prefix is stripped. The body
is validated with jsonschema (Draft 4, what OpenAPI 3.0 schemas are written in) against the
document's schema for that operation and status, every $ref resolved inside the document;
`date-time` and `uri` formats are checked. A response the document gives no content (401,
404, 405...) has no body schema to check: assert on the body in the test itself. With
`headers`, the response headers the document marks required must be there. Raises
AssertionError listing every problem found.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from urllib.parse import urlsplit

from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_URI = "urn:openapi-document"
FORMATS = FormatChecker(formats=())


@FORMATS.checks("date-time", raises=ValueError)
def _date_time(value) -> bool:
    if not isinstance(value, str):
        return True
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", value):
        raise ValueError(f"{value!r} is not an RFC 3339 date-time with a time zone")
    datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


@FORMATS.checks("uri", raises=ValueError)
def _uri(value) -> bool:
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    if not (parts.scheme and parts.netloc):
        raise ValueError(f"{value!r} is not an absolute URI")
    return True


@lru_cache(maxsize=None)
def _document(spec_path: str) -> dict:
    return json.loads(Path(spec_path).read_text())


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _template_for(document: dict, path: str) -> str:
    paths = document["paths"]
    if path in paths:
        return path
    path = urlsplit(path).path
    for server in document.get("servers", []):
        prefix = urlsplit(server.get("url", "")).path.rstrip("/")
        if prefix and path.startswith(prefix + "/"):
            path = path[len(prefix):]
            break
    candidates = []
    for template in paths:
        pattern = "^" + re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template)) + "$"
        if re.match(pattern, path):
            candidates.append(template)
    assert candidates, f"no operation of the document matches {path}"
    return min(candidates, key=lambda t: t.count("{"))   # literal segments win


def _resolve(document: dict, node: dict, pointer: str) -> tuple[dict, str]:
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"external $ref {ref} is not supported"
        pointer = ref[1:]
        node = document
        for token in ref[2:].split("/"):
            node = node[token.replace("~1", "/").replace("~0", "~")]
    return node, pointer


def response_spec(spec_path: str, path: str, method: str, status: int) -> tuple[dict, str]:
    """The response object of the operation (resolved) and its JSON pointer."""
    document = _document(str(spec_path))
    template = _template_for(document, path)
    operation = document["paths"][template].get(method.lower())
    assert operation is not None, f"{method.upper()} {template} is not in the document"
    responses = operation["responses"]
    key = str(status) if str(status) in responses else "default"
    assert key in responses, \
        f"{method.upper()} {template} documents no {status} response ({sorted(responses)})"
    pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{key}"
    return _resolve(document, responses[key], pointer)


def validate_response(spec_path, path: str, method: str, status: int, body,
                      headers=None) -> None:
    response, pointer = response_spec(spec_path, path, method, status)
    problems = []
    for name, header in (response.get("headers") or {}).items():
        if headers is not None and header.get("required") and name not in headers:
            problems.append(f"required response header {name} is missing")
    content = response.get("content") or {}
    if content:
        media = next((m for m in ("application/json", "application/json; charset=utf-8")
                      if m in content), None)
        assert media, f"the document has no JSON content for {status}: {sorted(content)}"
        document = _document(str(spec_path))
        registry = Registry().with_resource(
            SPEC_URI, Resource.from_contents(document, default_specification=DRAFT4))
        schema_pointer = f"{pointer}/content/{_escape(media)}/schema"
        validator = Draft4Validator({"$ref": f"{SPEC_URI}#{schema_pointer}"},
                                    registry=registry, format_checker=FORMATS)
        for error in sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in error.absolute_path) or "(body)"
            cause = f" ({error.cause})" if error.cause else ""
            problems.append(f"{where}: {error.message}{cause}")
    assert not problems, f"{method.upper()} {path} -> {status} breaks the contract:\n  " + \
        "\n  ".join(problems)
