"""JSON from untrusted sources (a JWS payload a client signed with its own key, a fetched JWKS,
the `claims` request parameter): parsed so that nesting can never become a 500.

`json.loads` raises RecursionError on a few thousand nested brackets, which no handler that
catches ValueError expects; a document merely deep (under the interpreter's limit) can still
overflow whatever walks it later. `loads` turns both into ValueError: a document nested deeper
than MAX_DEPTH is not one any standard here defines.
"""
from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32      # OAuth/OIDC/OBIE documents need a handful of levels; JWKS three


class TooDeep(ValueError):
    """The JSON nests deeper than MAX_DEPTH (or deeper than the parser can go)."""


def loads(data: str | bytes | bytearray, *, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads for untrusted input: ValueError (UnicodeDecodeError, JSONDecodeError,
    TooDeep) for anything that is not a JSON document of at most `max_depth` levels."""
    try:
        value = json.loads(data)
    except RecursionError:
        raise TooDeep("the JSON is nested too deeply") from None
    if depth(value, stop_after=max_depth) > max_depth:
        raise TooDeep("the JSON is nested too deeply")
    return value


def depth(value: Any, *, stop_after: int = MAX_DEPTH) -> int:
    """How many arrays/objects deep `value` goes (0 for a scalar), walked without recursion;
    stops counting once past `stop_after`."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > stop_after:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest
