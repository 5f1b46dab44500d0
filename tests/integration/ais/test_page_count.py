"""Meta.TotalPages and the Last link come from a bound that does not grow with the account's
history: the ledger's kept day counts for the days a window covers whole, the index for its
two edge days, and the Last page's key found from the oldest end. They must still be exact for
every window (edges inside a day, at midnight, one day, none), for credit-only and debit-only
consents, and must come from the kept counts, not from reading the history."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest
from sqlalchemy import select, update

from aspsp.ledger import models
from tests.integration.ais.conftest import EVERYTHING
from tests.integration.ais.test_pagination import PAGE, follow, long_history  # noqa: F401

CREDITS_ONLY = [p for p in EVERYTHING if p != "ReadTransactionsDebits"]
DEBITS_ONLY = [p for p in EVERYTHING if p != "ReadTransactionsCredits"]
WINDOWS = [(None, None), ("2026-01-10T13:30:00", None), (None, "2026-02-10T05:00:00"),
           ("2026-01-10", "2026-02-10"), ("2026-01-12T08:00:00", "2026-02-03T21:15:00"),
           ("2026-01-20T01:00:00", "2026-01-20T23:00:00"), ("2026-01-21", "2026-01-21")]


def listed(platform, account_id: str, start, end, credits: bool, debits: bool) -> list[str]:
    """The account's transactions in the window and directions, newest first."""
    p, a = models.Posting, models.Account
    query = select(p.transaction_id, p.amount_minor).join(a, a.id == p.account_pk).where(
        a.account_id == account_id)
    if start:
        query = query.where(p.booking_datetime >= _utc(start))
    if end:
        query = query.where(p.booking_datetime <= _utc(end))
    with platform.uow() as uow:
        rows = uow.session.execute(query.order_by(p.booking_datetime.desc(), p.id.desc()))
        return [t for t, amount in rows if (credits if amount > 0 else debits)]


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("permissions,credits,debits", [
    (EVERYTHING, True, True), (CREDITS_ONLY, True, False), (DEBITS_ONLY, False, True)],
    ids=["both", "credits", "debits"])
def test_total_pages_and_last_page_are_exact_for_every_window(permissions, credits, debits,
                                                              aisp, long_history, grant,
                                                              platform):
    access = grant(aisp, long_history, permissions)
    account = long_history.account_ids[0]
    path = f"/accounts/{account}/transactions"
    for start, end in WINDOWS:
        query = {k: v for k, v in (("fromBookingDateTime", start), ("toBookingDateTime", end))
                 if v}
        expected = listed(platform, account, start, end, credits, debits)
        body = access.get(path, query_string=query).get_json()
        pages = max(1, -(-len(expected) // PAGE))
        assert body["Meta"]["TotalPages"] == pages, (start, end)
        last = follow(access, body["Links"]["Last"]).get_json()
        shown = [t["TransactionId"] for t in last["Data"]["Transaction"]]
        assert shown == expected[(pages - 1) * PAGE:], (start, end)


def test_total_pages_come_from_the_kept_day_counts(aisp, long_history, grant, platform):
    """Proof that the count reads the kept counts: change one day's count behind the
    ledger's back and the page count follows it (reconcile_balances reports such a
    difference; the ledger itself never makes one)."""
    access = grant(aisp, long_history, EVERYTHING)
    account = long_history.account_ids[0]
    path = f"/accounts/{account}/transactions"
    before = access.get(path).get_json()["Meta"]["TotalPages"]
    d, a = models.PostingDayCount, models.Account
    with platform.uow() as uow:
        pk = uow.session.scalar(select(a.id).where(a.account_id == account))
        day = uow.session.scalar(select(d.day).where(d.account_pk == pk).order_by(d.day)
                                 .offset(3).limit(1))
        uow.session.execute(update(d).where(d.account_pk == pk, d.day == day)
                            .values(credits=d.credits + 10 * PAGE))
        uow.commit()
    assert access.get(path).get_json()["Meta"]["TotalPages"] == before + 10
