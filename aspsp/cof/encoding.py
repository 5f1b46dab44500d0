"""CoF responses as JSON straight from plain dicts, with orjson (as aspsp.ais.encoding): the
payloads already are what the response schemas would dump (OBIE names, optional fields left
out, aware UTC datetimes); the schemas serve the OpenAPI document, and the contract tests
check the real responses against the official file."""
from __future__ import annotations

from typing import Any

import orjson
from flask import Response, current_app

JSON = "application/json"


def encode(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


def json_response(payload: dict[str, Any], status: int = 200) -> Response:
    return current_app.response_class(encode(payload), status=status, mimetype=JSON)
