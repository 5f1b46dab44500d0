"""The transaction pages as JSON straight from the shaped payloads, with orjson.

A page is up to 1,000 transactions of about 15 nested objects each; dumping it through the
marshmallow response schema cost more than everything else the request did. The shaping
(aspsp.ais.shaping) already produces exactly what the schema would dump: the OBIE field
names, optional fields left out rather than null, amounts as OB strings, aware UTC datetimes
(orjson writes them as `isoformat()` does, the schema's AwareDateTime format). So the views
encode the payload directly and keep the schemas for what they are for: the generated OpenAPI
document (flask-smorest passes a ready Response through `blp.response` untouched) and the
test that the two agree (tests/integration/ais/test_fast_encoding.py).
"""
from __future__ import annotations

from typing import Any

import orjson
from flask import Response, current_app

JSON = "application/json"


def encode(payload: dict[str, Any]) -> bytes:
    """TypeError for a value JSON has no form for (a Decimal, a naive datetime slipping
    through shaping is caught by the contract tests instead)."""
    return orjson.dumps(payload)


def json_response(payload: dict[str, Any]) -> Response:
    return current_app.response_class(encode(payload), status=200, mimetype=JSON)
