"""A page of transactions read as it was before the one-statement read (aspsp/ais/services.py
`_page` and the repository's list methods at commit 8c4b183: the count with first and last,
the page, the neighbour's probe and the Last key, each its own statement), shaped by the
generic shaping of that commit (tests/unit/ais/reference_shaping.py). Test code only:
test_page_statement.py puts it in place of `services._page` to compare the responses."""
from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from sqlalchemy import func, literal, select

from aspsp.ais.filters import Window
from aspsp.ais.paging import Cursor, Direction, Page, total_pages
from aspsp.ais.repository import P, PostingRow, Key, _after, _before, _midnight
from aspsp.ledger import models
from aspsp.ais.services import _cursor
from tests.unit.ais import reference_shaping


def _count_in(scope, listed):
    if listed.is_empty or not scope.conditions_allow_rows():
        return literal(0)

    def rows_between(start, end, end_open):
        where = replace(scope, window=Window()).conditions()
        if start is not None:
            where.append(P.booking_datetime >= start)
        if end is not None:
            where.append(P.booking_datetime < end if end_open else P.booking_datetime <= end)
        return select(func.count()).select_from(P).where(*where).scalar_subquery()

    start, end = listed.start, listed.end
    first_whole = None if start is None else (
        start.date() if start == _midnight(start.date()) else start.date() + timedelta(1))
    after_whole = None if end is None else end.date()
    if scope.booked_only or (first_whole is not None and after_whole is not None
                             and first_whole >= after_whole):
        return rows_between(start, end, False)
    d = models.PostingDayCount
    kept = [c for c, allowed in ((d.credits, scope.credits), (d.debits, scope.debits))
            if allowed]
    days = [d.account_pk.in_(scope.account_pks)]
    if first_whole is not None:
        days.append(d.day >= first_whole)
    if after_whole is not None:
        days.append(d.day < after_whole)
    total = select(func.coalesce(func.sum(sum(kept[1:], kept[0])), 0)).where(*days) \
        .scalar_subquery()
    if first_whole is not None and start != _midnight(first_whole):
        total = total + rows_between(start, _midnight(first_whole), True)
    if after_whole is not None:
        total = total + rows_between(_midnight(after_whole), end, False)
    return total


def transaction_summary(repo, scope, listed):
    parts = [_count_in(scope, listed)]
    for pk in scope.account_pks:
        one = replace(scope, account_pks=(pk,))
        parts.append(select(func.min(P.booking_datetime)).where(*one.conditions())
                     .scalar_subquery())
        parts.append(select(func.max(P.booking_datetime)).where(*one.conditions())
                     .scalar_subquery())
    row = repo.session.execute(select(*parts)).one()
    firsts = [t for t in row[1::2] if t is not None]
    lasts = [t for t in row[2::2] if t is not None]
    return (int(row[0] or 0), min(firsts, default=None), max(lasts, default=None))


def transactions(repo, scope, *, limit, older_than=None, newer_than=None):
    query = select(*P.__table__.columns).where(*scope.conditions())
    if older_than is not None:
        query = query.where(_before(older_than)).order_by(P.booking_datetime.desc(),
                                                          P.id.desc())
    elif newer_than is not None:
        query = query.where(_after(newer_than)).order_by(P.booking_datetime.asc(),
                                                         P.id.asc())
    else:
        query = query.order_by(P.booking_datetime.desc(), P.id.desc())
    rows = [PostingRow._make(row) for row in repo.session.execute(query.limit(limit))]
    return rows[::-1] if newer_than is not None else rows


def any_newer(repo, scope, key):
    return repo.session.scalar(select(P.id).where(*scope.conditions(), _after(key))
                               .limit(1)) is not None


def any_older(repo, scope, key):
    return repo.session.scalar(select(P.id).where(*scope.conditions(), _before(key))
                               .limit(1)) is not None


def transaction_from_oldest(repo, scope, offset):
    return repo.session.scalar(select(P.transaction_id).where(*scope.conditions())
                               .order_by(P.booking_datetime.asc(), P.id.asc())
                               .offset(offset).limit(1))


def _key(row):
    return Key(row.booking_datetime, row.id)


def _page(repo, scope, listed, page, ids, view, size, filters):
    cursor = _cursor(repo, listed, page)
    count, first, last = transaction_summary(repo, scope, listed.window)
    if cursor is None:
        rows = transactions(repo, listed, limit=size + 1)
        older, newer = len(rows) > size, False
        rows = rows[:size]
    elif cursor[0].direction == Direction.OLDER:
        rows = transactions(repo, listed, limit=size + 1, older_than=cursor[1])
        older = len(rows) > size
        rows = rows[:size]
        newer = bool(rows) and any_newer(repo, listed, _key(rows[0]))
    else:
        rows = transactions(repo, listed, limit=size + 1, newer_than=cursor[1])
        newer = len(rows) > size
        rows = rows[-size:]
        older = bool(rows) and any_older(repo, listed, _key(rows[-1]))
    pages = total_pages(count, size)
    last_id = transaction_from_oldest(repo, listed, count - (pages - 1) * size) \
        if pages > 1 else None
    return Page(
        items=[reference_shaping.transaction(row, ids[row.account_pk], view) for row in rows],
        total_pages=pages, current=cursor[0] if cursor else None,
        next=Cursor(Direction.OLDER, rows[-1].transaction_id) if older else None,
        prev=Cursor(Direction.NEWER, rows[0].transaction_id) if newer else None,
        last=Cursor(Direction.OLDER, last_id) if last_id else None,
        first_available=first, last_available=last, filters=filters)
