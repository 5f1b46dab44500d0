"""The account information queries: what a consent may read, by the accounts' row ids.

Read-only; the services own the unit of work. Transaction lists are keyset-paginated on
(booking_datetime, id) through the index ix_postings_account_booking.
"""
from __future__ import annotations

import functools
from collections import namedtuple
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Iterable

from sqlalchemy import and_, bindparam, case, exists, false, func, literal, or_, select, true
from sqlalchemy.orm import Session

from aspsp.identity.models import PsuUser
from aspsp.ledger import models
from aspsp.ledger.domain import AccountKind, PostingStatus

from .filters import Window

P = models.Posting
# A posting as the lists read it: the table's columns as a plain named tuple. Reading a field
# of SQLAlchemy's Row costs about twenty times a tuple's, and shaping a page reads some 2,500.
PostingRow = namedtuple("PostingRow", [c.key for c in P.__table__.columns])


@dataclass(frozen=True)
class TransactionScope:
    """Which postings a list may show: accounts, booking window, directions, statuses."""
    account_pks: tuple[int, ...]
    window: Window
    credits: bool
    debits: bool
    booked_only: bool = False

    def conditions_allow_rows(self) -> bool:
        return bool(self.account_pks) and (self.credits or self.debits) \
            and not self.window.is_empty

    def conditions(self) -> list:
        if not self.account_pks or not (self.credits or self.debits) or self.window.is_empty:
            return [false()]
        where = [P.account_pk.in_(self.account_pks) if len(self.account_pks) > 1
                 else P.account_pk == self.account_pks[0]]
        if self.window.start is not None:
            where.append(P.booking_datetime >= self.window.start)
        if self.window.end is not None:
            where.append(P.booking_datetime <= self.window.end)
        if not self.debits:
            where.append(P.amount_minor >= 0)
        if not self.credits:
            where.append(P.amount_minor < 0)
        if self.booked_only:
            where.append(P.status == PostingStatus.BOOKED)
        return where


@dataclass(frozen=True)
class Key:
    booked_at: datetime
    pk: int


@dataclass(frozen=True)
class TransactionPage:
    """What `AccountInformationRepository.transaction_page` read, in one statement."""
    rows: list                          # PostingRows, newest first
    count: int                          # rows in the listed window
    first: datetime | None              # first and last booking time in the whole scope
    last: datetime | None
    last_transaction_id: str | None     # the Last link's key (None: one page only)
    beyond: bool                        # rows on the key's own side of it (with a key)


class AccountInformationRepository:
    def __init__(self, session: Session):
        self.session = session

    # accounts ---------------------------------------------------------------------------
    def accounts(self, pks: Iterable[int]) -> list[models.Account]:
        pks = sorted(set(pks))
        if not pks:
            return []
        return list(self.session.scalars(select(models.Account).where(
            models.Account.id.in_(pks), models.Account.kind == AccountKind.CUSTOMER)
            .order_by(models.Account.id)))

    def is_customer_account(self, account_id: str) -> bool:
        return self.session.scalar(select(models.Account.id).where(
            models.Account.account_id == account_id,
            models.Account.kind == AccountKind.CUSTOMER)) is not None

    # standing data ----------------------------------------------------------------------
    def _of_accounts(self, model, pks: Iterable[int], *order) -> list:
        pks = sorted(set(pks))
        if not pks:
            return []
        return list(self.session.scalars(select(model).where(model.account_pk.in_(pks))
                                         .order_by(model.account_pk, *order, model.id)))

    def beneficiaries(self, pks):
        return self._of_accounts(models.Beneficiary, pks)

    def direct_debits(self, pks):
        return self._of_accounts(models.DirectDebit, pks)

    def standing_orders(self, pks):
        return self._of_accounts(models.StandingOrder, pks)

    def scheduled_payments(self, pks):
        """The payments still to be made: one executed, rejected or cancelled is not
        scheduled any more (aspsp.ledger.schedules)."""
        return [row for row in self._of_accounts(
            models.ScheduledPayment, pks, models.ScheduledPayment.scheduled_payment_datetime)
            if row.status == "Scheduled"]

    def offers(self, pks):
        return self._of_accounts(models.Offer, pks)

    def statements(self, pks, *, within: Window) -> list[models.Statement]:
        """Statements lying completely inside `within`, newest first per account."""
        s = models.Statement
        pks = sorted(set(pks))
        if not pks or within.is_empty:
            return []
        query = select(s).where(s.account_pk.in_(pks))
        if within.start is not None:
            query = query.where(s.start_datetime >= within.start)
        if within.end is not None:
            query = query.where(s.end_datetime <= within.end)
        return list(self.session.scalars(query.order_by(s.account_pk, s.start_datetime.desc(),
                                                        s.id)))

    def statement(self, account_pk: int, statement_id: str) -> models.Statement | None:
        s = models.Statement
        return self.session.scalars(select(s).where(s.statement_id == statement_id,
                                                    s.account_pk == account_pk)).one_or_none()

    def products(self, pks) -> list[tuple[int, models.Product]]:
        a = models.Account
        pks = sorted(set(pks))
        if not pks:
            return []
        return [(row[0], row[1]) for row in self.session.execute(
            select(a.id, models.Product).join(models.Product, models.Product.id == a.product_pk)
            .where(a.id.in_(pks)).order_by(a.id))]

    # parties ----------------------------------------------------------------------------
    def holders(self, account_pk: int) -> list[tuple[models.AccountParty, models.Party]]:
        ap = models.AccountParty
        return [(row[0], row[1]) for row in self.session.execute(
            select(ap, models.Party).join(models.Party, models.Party.id == ap.party_pk)
            .where(ap.account_pk == account_pk).order_by(ap.position, ap.party_pk))]

    def party_of_psu(self, psu_pk: int | None) -> models.Party | None:
        if psu_pk is None:
            return None
        return self.session.scalar(select(models.Party).join(
            PsuUser, PsuUser.party_pk == models.Party.id).where(PsuUser.id == psu_pk))

    # transactions -----------------------------------------------------------------------
    def transaction_key(self, scope: TransactionScope, transaction_id: str) -> Key | None:
        """Where a transaction of these accounts sits in the order (any window)."""
        row = self.session.execute(select(P.booking_datetime, P.id).where(
            P.transaction_id == transaction_id,
            P.account_pk.in_(scope.account_pks or (-1,)))).one_or_none()
        return None if row is None else Key(row[0], row[1])

    def transaction_page(self, scope: TransactionScope, listed: TransactionScope, *,
                         limit: int, page_size: int, older_than: Key | None = None,
                         newer_than: Key | None = None) -> "TransactionPage":
        """A page of `listed` (the scope with a narrower window) with everything its Links
        and Meta need, in one statement:

        - the `limit` rows newest first (with `older_than`, the rows just older than the key;
          with `newer_than`, the rows just newer than it, still returned newest first);
        - how many rows `listed` has: the kept day counts (ledger.models.PostingDayCount) of
          the days its window covers whole plus the rows of its two edge days, counted
          through the index, so the cost does not grow with the accounts' history;
        - the first and last booking time in the whole `scope` (an index probe per account
          at each end);
        - the Last link's key: when the rows fill more than one page of `page_size`, the
          TransactionId just newer than the oldest page (found from the oldest end, at most
          a page into the index);
        - with a key, whether `listed` has rows on the key's side of it (at or newer than
          `older_than`, at or older than `newer_than`): the other neighbour's link.

        The summary is a CTE LEFT JOINed to the page, so an empty page still gives one row.
        The statement is built once per shape (how many accounts, which bounds, directions,
        how the count splits, which cursor: `_page_statement`) with every value a bound
        parameter, so a request neither builds nor walks the expression again."""
        if listed.account_pks != scope.account_pks or (listed.credits, listed.debits,
                                                       listed.booked_only) != (
                scope.credits, scope.debits, scope.booked_only):
            raise ValueError("listed must be the scope with a narrower window")
        shape, params = _page_shape(scope, listed, limit, page_size, older_than, newer_than)
        result = self.session.execute(_page_statement(shape), params).all()
        head = 1 + 2 * len(scope.account_pks)
        first = result[0]
        rows = [PostingRow._make(row[head + 2:]) for row in result if row[head + 2] is not None]
        firsts = [t for t in first[1:head:2] if t is not None]
        lasts = [t for t in first[2:head:2] if t is not None]
        return TransactionPage(
            rows=rows[::-1] if newer_than is not None else rows, count=int(first[0] or 0),
            first=min(firsts, default=None), last=max(lasts, default=None),
            last_transaction_id=first[head], beyond=bool(first[head + 1]))


# --- the page statement, built once per shape ---------------------------------------------
def _page_shape(scope: TransactionScope, listed: TransactionScope, limit: int, size: int,
                older_than: Key | None, newer_than: Key | None) -> tuple[tuple, dict]:
    """What decides the page statement's form, and its parameters' values."""
    pks = scope.account_pks
    params: dict = {f"pk_{n}": pk for n, pk in enumerate(pks)}
    if len(pks) > 1:
        params["pks"] = list(pks)
    bounds = []
    for prefix, window in (("scope_", scope.window), ("", listed.window)):
        for name, value in (("start", window.start), ("end", window.end)):
            if value is not None:
                params[prefix + name] = value
            bounds.append(value is not None)
    # The count (what `_count_in` would build): none, the rows between the bounds (a day or
    # two, or booked only), or the kept day counts of the whole days plus the edge days.
    window = listed.window
    if window.is_empty or not scope.conditions_allow_rows():
        count: tuple = ("none",)
    else:
        start, end = window.start, window.end
        first_whole = None if start is None else (
            start.date() if start == _midnight(start.date()) else start.date() + timedelta(1))
        after_whole = None if end is None else end.date()   # the end's own day is an edge
        if scope.booked_only or (first_whole is not None and after_whole is not None
                                 and first_whole >= after_whole):
            count = ("rows",)                                # a day or two: count them
        else:
            start_edge = first_whole is not None and start != _midnight(first_whole)
            count = ("days", first_whole is not None, after_whole is not None, start_edge)
            if first_whole is not None:
                params["days_from"] = first_whole
                params["start_edge_end"] = _midnight(first_whole)
            if after_whole is not None:
                params["days_to"] = after_whole
                params["end_edge_start"] = _midnight(after_whole)
    key = older_than or newer_than
    if key is not None:
        params["key_at"], params["key_pk"] = key.booked_at, key.pk
    cursor = "older" if older_than is not None else "newer" if newer_than is not None else None
    shape = (len(pks), scope.conditions_allow_rows(), listed.conditions_allow_rows(),
             *bounds, scope.credits, scope.debits, scope.booked_only, count, cursor,
             limit, size)
    return shape, params


_AT = P.booking_datetime.type


@functools.lru_cache(maxsize=512)
def _page_statement(shape: tuple):
    (accounts, scope_allows, listed_allows, scope_start, scope_end, start, end,
     credits, debits, booked_only, count, cursor, limit, size) = shape
    all_accounts = P.account_pk == bindparam("pk_0") if accounts == 1 \
        else P.account_pk.in_(bindparam("pks", expanding=True))

    def where(account, low: str | None, high: str | None, *, high_open: bool = False,
              allows: bool = True) -> list:
        """TransactionScope.conditions with the window's bounds as named parameters."""
        if not allows:
            return [false()]
        result = [account]
        if low is not None:
            result.append(P.booking_datetime >= bindparam(low, type_=_AT))
        if high is not None:
            result.append(P.booking_datetime < bindparam(high, type_=_AT) if high_open
                          else P.booking_datetime <= bindparam(high, type_=_AT))
        if not debits:
            result.append(P.amount_minor >= 0)
        if not credits:
            result.append(P.amount_minor < 0)
        if booked_only:
            result.append(P.status == PostingStatus.BOOKED)
        return result

    listed = where(all_accounts, "start" if start else None, "end" if end else None,
                   allows=listed_allows)

    def rows_between(low: str | None, high: str | None, high_open: bool = False):
        return select(func.count()).select_from(P).where(
            *where(all_accounts, low, high, high_open=high_open)).scalar_subquery()

    if count[0] == "none":
        total = literal(0)
    elif count[0] == "rows":
        total = rows_between("start" if start else None, "end" if end else None)
    else:
        _, has_first_whole, has_after_whole, start_edge = count
        d = models.PostingDayCount
        kept = [c for c, allowed in ((d.credits, credits), (d.debits, debits)) if allowed]
        days = [d.account_pk == bindparam("pk_0") if accounts == 1
                else d.account_pk.in_(bindparam("pks", expanding=True))]
        if has_first_whole:
            days.append(d.day >= bindparam("days_from", type_=d.day.type))
        if has_after_whole:
            days.append(d.day < bindparam("days_to", type_=d.day.type))
        total = select(func.coalesce(func.sum(sum(kept[1:], kept[0])), 0)).where(*days) \
            .scalar_subquery()
        if start_edge:
            total = total + rows_between("start", "start_edge_end", True)
        if has_after_whole:
            total = total + rows_between("end_edge_start", "end")
    parts = [total.label("n")]
    for n in range(accounts):
        one = where(P.account_pk == bindparam(f"pk_{n}"),
                    "scope_start" if scope_start else None, "scope_end" if scope_end else None,
                    allows=scope_allows)
        parts.append(select(func.min(P.booking_datetime)).where(*one).scalar_subquery()
                     .label(f"first_{n}"))
        parts.append(select(func.max(P.booking_datetime)).where(*one).scalar_subquery()
                     .label(f"last_{n}"))
    summary = select(*parts).cte("summary")
    counted = select(summary.c.n).scalar_subquery()
    # Rows the Last page holds: count - (pages - 1) * size, i.e. (count - 1) % size + 1.
    on_last_page = select((summary.c.n - 1) % size + 1).scalar_subquery()
    last_key = case((counted > size, select(P.transaction_id).where(*listed)
                     .order_by(P.booking_datetime.asc(), P.id.asc())
                     .offset(on_last_page).limit(1).scalar_subquery()), else_=None)
    at, pk = bindparam("key_at", type_=_AT), bindparam("key_pk", type_=P.id.type)
    page = select(*P.__table__.columns).where(*listed)
    if cursor == "older":
        page = page.where(or_(P.booking_datetime < at, and_(P.booking_datetime == at,
                                                            P.id < pk)))
        beyond = exists().where(*listed, or_(P.booking_datetime > at,
                                             and_(P.booking_datetime == at, P.id >= pk)))
    elif cursor == "newer":
        page = page.where(or_(P.booking_datetime > at, and_(P.booking_datetime == at,
                                                            P.id > pk)))
        beyond = exists().where(*listed, or_(P.booking_datetime < at,
                                             and_(P.booking_datetime == at, P.id <= pk)))
    else:
        beyond = false()
    order = (P.booking_datetime.asc(), P.id.asc()) if cursor == "newer" \
        else (P.booking_datetime.desc(), P.id.desc())
    page = page.order_by(*order).limit(limit).subquery("page")
    outer = (page.c.booking_datetime.asc(), page.c.id.asc()) if cursor == "newer" \
        else (page.c.booking_datetime.desc(), page.c.id.desc())
    return select(*summary.c, last_key.label("last_transaction_id"), beyond.label("beyond"),
                  *page.c).select_from(summary.outerjoin(page, true())).order_by(*outer)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _before(key: Key):
    return or_(P.booking_datetime < key.booked_at,
               and_(P.booking_datetime == key.booked_at, P.id < key.pk))


def _after(key: Key):
    return or_(P.booking_datetime > key.booked_at,
               and_(P.booking_datetime == key.booked_at, P.id > key.pk))
