"""Keyset pagination of transaction lists, pure: page cursors and the OBIE Links.

Transactions are listed newest first, ordered by (BookingDateTime, row) so that rows booked
at the same instant keep one order. A page is found from a neighbour, never by an offset: the
cursor `older:<TransactionId>` is the page of rows after that transaction, `newer:<...>` the
page before it. The TransactionId is one the TPP has already been shown, so a cursor reveals
nothing new; it is still base64url-encoded, so TPPs treat it as opaque (the standard leaves
the paging mechanism to the bank, Read/Write Data API Profile §Pagination).

Links: Self (this page), First (newest), Last (oldest; aligned with First's chain of Next
links), Next (older) when there is one, Prev (newer) when there is one. Meta.TotalPages counts
the pages of the filtered list.
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any
from urllib.parse import urlencode

PAGE_PARAM = "page"
MIN_PAGE_SIZE, MAX_PAGE_SIZE = 25, 1000      # OBIE: at least 25 (but the last), at most 1000
MAX_CURSOR_LENGTH = 200


class Direction(StrEnum):
    OLDER = "older"      # the page after the key transaction (the Next link)
    NEWER = "newer"      # the page before it (the Prev link)


@dataclass(frozen=True)
class Cursor:
    direction: Direction
    transaction_id: str

    def encode(self) -> str:
        raw = json.dumps([self.direction.value, self.transaction_id], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text: str) -> "Cursor":
        """ValueError for anything that is not a cursor this module made."""
        if not isinstance(text, str) or not text or len(text) > MAX_CURSOR_LENGTH \
                or not text.isascii():
            raise ValueError("not a page cursor")
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            direction, transaction_id = json.loads(raw)
            direction = Direction(direction)
        except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
            raise ValueError("not a page cursor") from None
        if not isinstance(transaction_id, str) or not 0 < len(transaction_id) <= 40 \
                or not transaction_id.isascii() or not transaction_id.isprintable():
            raise ValueError("not a page cursor")
        return cls(direction, transaction_id)


def check_page_size(size: int) -> int:
    if not MIN_PAGE_SIZE <= int(size) <= MAX_PAGE_SIZE:
        raise ValueError(f"AIS_PAGE_SIZE must be {MIN_PAGE_SIZE} to {MAX_PAGE_SIZE}, not {size}")
    return int(size)


def total_pages(count: int, size: int) -> int:
    return max(1, -(-count // size))


@dataclass(frozen=True)
class Page:
    """One page of a newest-first list and where its neighbours are."""
    items: list[Any]
    total_pages: int
    current: Cursor | None = None          # None: the first page
    next: Cursor | None = None
    prev: Cursor | None = None
    last: Cursor | None = None             # None: the first page is the last
    first_available: datetime | None = None
    last_available: datetime | None = None
    filters: dict[str, str] = field(default_factory=dict)   # echoed in every link


def links(base_url: str, page: Page) -> dict[str, str]:
    """The OBIE Links of `page`, absolute: base_url is the bank's public URL of the list."""
    def url(cursor: Cursor | None) -> str:
        params = dict(page.filters)
        if cursor is not None:
            params[PAGE_PARAM] = cursor.encode()
        return f"{base_url}?{urlencode(params)}" if params else base_url

    result = {"Self": url(page.current), "First": url(None), "Last": url(page.last)}
    if page.prev is not None:
        result["Prev"] = url(page.prev)
    if page.next is not None:
        result["Next"] = url(page.next)
    return result


def meta(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = {"TotalPages": page.total_pages}
    if page.first_available is not None:
        result["FirstAvailableDateTime"] = page.first_available
    if page.last_available is not None:
        result["LastAvailableDateTime"] = page.last_available
    return result
