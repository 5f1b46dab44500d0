"""A transaction page read in one statement (rows, count, first and last, the Last key, the
other neighbour) answers byte for byte what the four-to-five-statement read with the generic
shaping answered (reference_paging.py): the same Data, Links and Meta for every permission set
(Basic and Detail, credits, debits or both, with and without ReadPAN), with and without
booking-date filters, on the first, middle and last pages reached through every link, in
empty windows, for one account and for all of them."""
from __future__ import annotations

import pytest

from aspsp.ais import services
from tests.integration.ais import reference_paging
from tests.integration.ais.conftest import BASIC, EVERYTHING
from tests.integration.ais.test_pagination import follow, long_history  # noqa: F401

WITHOUT_PAN = [p for p in EVERYTHING if p != "ReadPAN"]
PERMISSIONS = {
    "detail-pan-both": EVERYTHING,
    "detail-credits": [p for p in WITHOUT_PAN if p != "ReadTransactionsDebits"],
    "detail-pan-debits": [p for p in EVERYTHING if p != "ReadTransactionsCredits"],
    "basic-both": BASIC,
    "basic-pan-credits": [p for p in BASIC if p != "ReadTransactionsDebits"] + ["ReadPAN"],
}
WINDOWS = [{}, {"fromBookingDateTime": "2026-01-12T08:00:00",
                "toBookingDateTime": "2026-02-03T21:15:00"},
           {"toBookingDateTime": "2026-01-20T23:00:00"},
           {"fromBookingDateTime": "2026-01-21"},
           {"fromBookingDateTime": "2030-01-01"},                   # empty: after the history
           {"fromBookingDateTime": "2026-01-20T01:00:00",
            "toBookingDateTime": "2026-01-20T01:00:01"}]            # empty: between two rows


def _both(access, monkeypatch, url: str, query: dict | None = None) -> dict:
    """The response's bytes, after asserting the reference read answers the same bytes."""
    new = access.get(url, query_string=query)
    with monkeypatch.context() as patched:
        patched.setattr(services, "_page", reference_paging._page)
        old = access.get(url, query_string=query)
    assert new.status_code == old.status_code == 200, new.get_data(as_text=True)
    assert new.get_data() == old.get_data(), url
    return new.get_json()


@pytest.mark.parametrize("permissions", PERMISSIONS.values(), ids=PERMISSIONS)
def test_every_page_reached_every_way_answers_the_same_bytes(permissions, aisp, long_history,
                                                             grant, monkeypatch):
    access = grant(aisp, long_history, permissions)
    paths = [f"/accounts/{long_history.account_ids[0]}/transactions", "/transactions"]
    seen, middle, empty = 0, 0, 0
    for path in paths:
        for query in WINDOWS:
            first = _both(access, monkeypatch, path, query)
            seen += 1
            empty += not first["Data"]["Transaction"]
            links = first["Links"]
            # Forwards from the first page, and backwards from the Last page.
            for start, step in ((links, "Next"), (None, "Prev")):
                body = first if start is not None else _both(
                    access, monkeypatch, follow_path(links["Last"]))
                seen += start is None
                while step in body["Links"]:
                    body = _both(access, monkeypatch, follow_path(body["Links"][step]))
                    seen += 1
                    middle += "Next" in body["Links"] and "Prev" in body["Links"]
    # First and Last of every path and window, middle pages both ways, the empty windows.
    assert seen > 2 * len(paths) * len(WINDOWS) and middle >= 4 and empty == 2 * len(paths)


def follow_path(url: str) -> str:
    return url.split("/aisp", 1)[1]
