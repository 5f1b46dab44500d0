"""Keyset pagination of transaction lists: every page of a long history walked forwards
(Next from First) and backwards (Prev from Last) shows every transaction exactly once, in
order, also when transactions share a booking time and when new ones arrive mid-walk."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from aspsp.ledger import models, services
from aspsp.ledger.domain import transfer_lines
from tests import factories
from tests.integration.ais.conftest import EVERYTHING

START = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
PAGE = 25


@pytest.fixture
def long_history(platform, make_customer):
    """A customer with two accounts: 140 postings on the first (postings n and n+1 share an
    instant every fourth n), 28 on the second, interleaved in time."""
    customer = make_customer(accounts=2)
    first, second = customer.account_ids
    with platform.uow() as uow:
        capital = services.internal_account_id(uow, services.BANK_CAPITAL, "GBP")
        factories.fund(uow, first, "100000.00", now=START - timedelta(days=1))
        when = START
        for n in range(139):
            if n % 4 != 1:                      # n = 1, 5, 9...: same instant as n - 1
                when += timedelta(hours=7)
            pence = 100 + n
            debtor, creditor = (first, capital) if n % 3 else (capital, first)
            services.post_entry(uow, transfer_lines(debtor, creditor,
                                                    services.from_minor(pence, "GBP")),
                                kind="test", now=when)
            if n % 5 == 0:
                factories.fund(uow, second, "1.00", now=when + timedelta(minutes=30))
        uow.commit()
    return customer


def booked_order(platform, account_ids) -> list[str]:
    """The transaction ids of the accounts, newest first, as the database orders them."""
    p, a = models.Posting, models.Account
    with platform.uow() as uow:
        return list(uow.session.scalars(
            select(p.transaction_id).join(a, a.id == p.account_pk)
            .where(a.account_id.in_(account_ids))
            .order_by(p.booking_datetime.desc(), p.id.desc())))


def follow(access, url: str):
    return access.get(url.split("/aisp", 1)[1])


def walk(access, path: str, link: str, start: str | None = None) -> list[list[str]]:
    """The pages met following `link` from `path` (or from the page `start` links to)."""
    body = access.get(path).get_json()
    if start is not None:
        body = follow(access, body["Links"][start]).get_json()
    pages = []
    while True:
        pages.append([t["TransactionId"] for t in body["Data"]["Transaction"]])
        if link not in body["Links"]:
            return pages
        body = follow(access, body["Links"][link]).get_json()


@pytest.mark.parametrize("scope", ["account", "bulk"])
def test_every_page_once_forwards_and_backwards(scope, aisp, long_history, grant, platform):
    access = grant(aisp, long_history, EVERYTHING)
    first_account = long_history.account_ids[0]
    path = f"/accounts/{first_account}/transactions" if scope == "account" else "/transactions"
    expected = booked_order(platform, [first_account] if scope == "account"
                            else long_history.account_ids)
    assert len(expected) > 5 * PAGE

    forwards = walk(access, path, "Next")
    assert [t for page in forwards for t in page] == expected
    assert all(len(page) == PAGE for page in forwards[:-1]) and 0 < len(forwards[-1]) <= PAGE

    backwards = walk(access, path, "Prev", start="Last")
    assert backwards == forwards[::-1]

    meta = access.get(path).get_json()["Meta"]
    assert meta["TotalPages"] == len(forwards) == -(-len(expected) // PAGE)


def test_links_are_absolute_and_keep_the_filter(aisp, long_history, grant):
    access = grant(aisp, long_history, EVERYTHING)
    path = f"/accounts/{long_history.account_ids[0]}/transactions"
    body = access.get(path, query_string={"fromBookingDateTime": "2026-01-10T00:00:00",
                                          "toBookingDateTime": "2026-02-10"}).get_json()
    links = body["Links"]
    assert set(links) == {"Self", "First", "Last", "Next"}
    for url in links.values():
        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == "http://localhost"   # ISSUER
        assert parts.path == "/open-banking/v3.1/aisp" + path
        query = parse_qs(parts.query)
        assert query["fromBookingDateTime"] == ["2026-01-10T00:00:00"]
        assert query["toBookingDateTime"] == ["2026-02-10T00:00:00"]
    assert "page" not in parse_qs(urlsplit(links["First"]).query)
    pages = walk(access, path + "?fromBookingDateTime=2026-01-10T00:00:00"
                 "&toBookingDateTime=2026-02-10", "Next")
    booked = []
    for page in pages:
        booked += page
    assert len(booked) == len(set(booked)) and booked


def test_a_walk_stays_exact_while_new_transactions_arrive(aisp, long_history, grant,
                                                          platform, clock):
    """Keyset pages are found from their neighbours, not by offset: transactions booked
    after the walk began push no old one onto a second page and skip none."""
    access = grant(aisp, long_history, EVERYTHING)
    account = long_history.account_ids[0]
    path = f"/accounts/{account}/transactions"
    before = booked_order(platform, [account])
    body = access.get(path).get_json()
    seen = [t["TransactionId"] for t in body["Data"]["Transaction"]]
    with platform.uow() as uow:
        for minutes in range(30):
            factories.fund(uow, account, "2.00", now=clock.now() - timedelta(minutes=minutes))
        uow.commit()
    while "Next" in body["Links"]:
        body = follow(access, body["Links"]["Next"]).get_json()
        seen += [t["TransactionId"] for t in body["Data"]["Transaction"]]
    assert seen == before


def test_paging_past_the_end_is_an_empty_page(aisp, long_history, grant):
    access = grant(aisp, long_history, EVERYTHING)
    path = f"/accounts/{long_history.account_ids[0]}/transactions"
    last = follow(access, access.get(path).get_json()["Links"]["Last"]).get_json()
    oldest = last["Data"]["Transaction"][-1]["TransactionId"]
    from aspsp.ais.paging import Cursor, Direction
    beyond = access.get(path, query_string={"page": Cursor(Direction.OLDER, oldest).encode()})
    assert beyond.status_code == 200
    assert beyond.get_json()["Data"]["Transaction"] == []
    assert set(beyond.get_json()["Links"]) == {"Self", "First", "Last"}
