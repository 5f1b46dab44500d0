"""Page cursors and the OBIE Links of a page."""
from urllib.parse import parse_qs, urlsplit

import pytest
from hypothesis import given, strategies as st

from aspsp.ais.paging import (Cursor, Direction, Page, check_page_size, links, meta,
                              total_pages)

BASE = "https://bank.example/open-banking/v3.1/aisp/accounts/a1/transactions"


@given(st.sampled_from(list(Direction)),
       st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1,
               max_size=40))
def test_a_cursor_reads_back(direction, transaction_id):
    cursor = Cursor(direction, transaction_id)
    text = cursor.encode()
    assert Cursor.decode(text) == cursor
    assert text.isascii() and "=" not in text and "&" not in text


@pytest.mark.parametrize("text", ["", "!!!", "bm9wZQ", "WyJvbGRlciJd", "WyJzaWRld2F5cyIsImEiXQ",
                                  "WyJvbGRlciIsMV0", "a" * 201, "é"])
def test_anything_else_is_not_a_cursor(text):
    with pytest.raises(ValueError):
        Cursor.decode(text)


@pytest.mark.parametrize("size", [24, 1001, 0])
def test_page_sizes_outside_the_obie_bounds_are_refused(size):
    with pytest.raises(ValueError):
        check_page_size(size)


def test_page_sizes_within_them_are_kept():
    assert check_page_size(25) == 25 and check_page_size(1000) == 1000


@pytest.mark.parametrize("count, pages", [(0, 1), (1, 1), (25, 1), (26, 2), (250, 10)])
def test_total_pages(count, pages):
    assert total_pages(count, 25) == pages


def test_links_of_a_middle_page():
    page = Page(items=[], total_pages=3, current=Cursor(Direction.OLDER, "t25"),
                next=Cursor(Direction.OLDER, "t50"), prev=Cursor(Direction.NEWER, "t26"),
                last=Cursor(Direction.OLDER, "t50"),
                filters={"fromBookingDateTime": "2026-01-01T00:00:00"})
    found = links(BASE, page)
    assert set(found) == {"Self", "First", "Prev", "Next", "Last"}
    for url in found.values():
        assert url.startswith(BASE + "?")
        assert parse_qs(urlsplit(url).query)["fromBookingDateTime"] == ["2026-01-01T00:00:00"]
    assert "page" not in parse_qs(urlsplit(found["First"]).query)
    cursor = parse_qs(urlsplit(found["Next"]).query)["page"][0]
    assert Cursor.decode(cursor) == Cursor(Direction.OLDER, "t50")


def test_a_single_page_links_to_itself_only():
    found = links(BASE, Page(items=[], total_pages=1))
    assert found == {"Self": BASE, "First": BASE, "Last": BASE}


def test_meta_leaves_out_what_it_does_not_know():
    assert meta(Page(items=[], total_pages=1)) == {"TotalPages": 1}
