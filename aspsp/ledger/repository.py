"""Queries and row locks of the ledger. Repositories never commit: the unit of work does."""
from __future__ import annotations

import functools
from collections import defaultdict
from datetime import date, datetime
from typing import Iterable

from sqlalchemy import JSON, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import flag_dirty, set_committed_value
from sqlalchemy.orm.util import identity_key

from . import models
from .domain import AccountKind, AccountStatus, PostingStatus
from .errors import AccountNotFound, EntryNotFound

_JSON_COLUMNS = ("counterparty", "card_instrument")


@functools.lru_cache(maxsize=None)
def _posting_insert():
    """INSERT of postings for a list of parameters (psycopg2 sends them as one multi-row
    INSERT: SQLAlchemy's insertmanyvalues), of a fixed shape so its compiled form is cached;
    a None JSON value is SQL NULL, as the ORM leaves an unset column."""
    table = models.Posting.__table__
    return insert(table).values({name: bindparam(name, type_=JSON(none_as_null=True))
                                 for name in _JSON_COLUMNS})


@functools.lru_cache(maxsize=None)
def _count_upsert(dialect: str):
    """Add to the day counts: INSERT ... ON CONFLICT DO UPDATE, for a list of parameters."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    table = models.PostingDayCount.__table__
    statement = dialect_insert(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.account_pk, table.c.day],
        set_={"credits": table.c.credits + statement.excluded.credits,
              "debits": table.c.debits + statement.excluded.debits})


_BALANCE_COLUMNS = ("booked_minor", "pending_debits_minor", "pending_credits_minor")
_LOCKED_COLUMNS = ("id", "account_id", "kind", "status", "currency", "name", "sort_code",
                   "account_number", "iban", "credit_limit_minor", "booked_minor",
                   "pending_debits_minor", "pending_credits_minor")


def _internal_pk(name: str):
    """The row id of the enabled internal account whose code is the parameter `name`, in
    the parameter `currency`, as a scalar subquery labelled `name` (NULL when none is)."""
    internal = models.Account.__table__.alias(name)
    return (select(internal.c.id)
            .where(internal.c.internal_code == bindparam(name),
                   internal.c.currency == bindparam("currency"),
                   internal.c.status == AccountStatus.ENABLED)
            .scalar_subquery().label(name))


@functools.lru_cache(maxsize=None)
def _payment_parties(by_iban: bool):
    """The debtor and the payee if it is one of our customers' accounts, row-locked in id
    order, with the enabled clearing account's row id (not locked) in every row. Built once
    per shape, so its compiled form is cached."""
    a = models.Account.__table__
    payee = a.c.iban == bindparam("iban") if by_iban else \
        and_(a.c.sort_code == bindparam("sort_code"),
             a.c.account_number == bindparam("account_number"))
    return (select(*(a.c[name] for name in _LOCKED_COLUMNS), _internal_pk("clearing"))
            .where(a.c.kind == AccountKind.CUSTOMER,
                   or_(a.c.account_id == bindparam("debtor"), payee))
            .order_by(a.c.id).with_for_update(of=a))


@functools.lru_cache(maxsize=None)
def _pending_customer_postings():
    """The pending postings of an entry on customer accounts with their accounts, the
    accounts row-locked in id order; and the settlement's two internal accounts (not
    locked) in every row."""
    p, a = models.Posting.__table__, models.Account.__table__
    return (select(p.c.id, p.c.account_pk, p.c.amount_minor, p.c.booking_datetime,
                   *(a.c[name] for name in _LOCKED_COLUMNS[1:]),
                   _internal_pk("clearing"), _internal_pk("settlement"))
            .join_from(p, a, a.c.id == p.c.account_pk)
            .where(p.c.entry_pk == bindparam("entry_pk"), p.c.status == PostingStatus.PENDING,
                   a.c.kind == AccountKind.CUSTOMER)
            .order_by(a.c.id).with_for_update(of=a))


@functools.lru_cache(maxsize=None)
def _book_entry_postings():
    """Every pending posting of an entry booked at `now`; the one on a customer account
    (`posting_pk`) gets its balance after. A fixed shape, so its compiled form is cached."""
    p = models.Posting.__table__
    return (update(p).where(p.c.entry_pk == bindparam("b_entry_pk"),
                            p.c.status == PostingStatus.PENDING)
            .values(status=PostingStatus.BOOKED, booking_datetime=bindparam("b_now"),
                    balance_after_minor=case(
                        (p.c.id == bindparam("b_posting_pk"), bindparam("b_balance_after")),
                        else_=p.c.balance_after_minor)))


@functools.lru_cache(maxsize=None)
def _returning_insert(table):
    """INSERT ... RETURNING id of one row, its columns given as parameters: built once, so
    neither the statement nor its cache key is made anew for every row."""
    return insert(table).returning(table.c.id)


@functools.lru_cache(maxsize=None)
def _two_balances_update():
    """The cached balances of one or two accounts (pk_1 and pk_2, the same for one)."""
    a = models.Account.__table__

    def column(name):
        return case((a.c.id == bindparam("pk_1"), bindparam(f"{name}_1")),
                    else_=bindparam(f"{name}_2"))
    return update(a).where(a.c.id.in_([bindparam("pk_1"), bindparam("pk_2")])).values(
        booked_minor=column("b"), pending_debits_minor=column("d"),
        pending_credits_minor=column("c"))


@functools.lru_cache(maxsize=None)
def _payment_to_submit():
    p = models.Payment.__table__
    return select(p.c.payment_id, p.c.status, p.c.amount_minor, p.c.currency, p.c.creditor,
                  p.c.reference, p.c.end_to_end_identification) \
        .where(p.c.payment_id == bindparam("payment_id"))


class LedgerRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, obj) -> None:
        self.session.add(obj)

    def flush(self) -> None:
        self.session.flush()

    # accounts ---------------------------------------------------------------------------
    def account(self, account_id: str, lock: bool = False) -> models.Account:
        query = select(models.Account).where(models.Account.account_id == account_id)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        account = self.session.scalars(query).one_or_none()
        if account is None:
            raise AccountNotFound(f"no account {account_id}")
        return account

    def account_by_pk(self, pk: int) -> models.Account:
        return self.session.get(models.Account, pk)

    def internal_account(self, code: str) -> models.Account | None:
        return self.session.scalars(
            select(models.Account).where(models.Account.internal_code == code)).one_or_none()

    def account_by_sort_code(self, sort_code: str, account_number: str) -> models.Account | None:
        return self.session.scalars(select(models.Account).where(
            models.Account.sort_code == sort_code,
            models.Account.account_number == account_number)).one_or_none()

    def account_by_iban(self, iban: str) -> models.Account | None:
        return self.session.scalars(
            select(models.Account).where(models.Account.iban == iban)).one_or_none()

    def accounts_for_posting(self, account_ids: Iterable[str]) -> dict[str, models.Account]:
        """Every named account; customer accounts row-locked in id order (no deadlocks).
        Internal accounts are not locked: they have no limit and no cached balance, so they
        never serialise the bank's payments behind one row."""
        ids = sorted(set(account_ids))
        found = self.session.scalars(
            select(models.Account).where(models.Account.account_id.in_(ids))).all()
        by_id = {a.account_id: a for a in found}
        missing = [i for i in ids if i not in by_id]
        if missing:
            raise AccountNotFound(f"no account {missing[0]}")
        customer_pks = sorted(a.id for a in found if a.kind == AccountKind.CUSTOMER)
        # SQLite has no row locks: its transactions already hold the write lock from BEGIN
        # IMMEDIATE (aspsp.db), so the locking re-read would only cost time there.
        if customer_pks and self.session.get_bind().dialect.name != "sqlite":
            locked = self.session.scalars(
                select(models.Account).where(models.Account.id.in_(customer_pks))
                .order_by(models.Account.id).with_for_update()
                .execution_options(populate_existing=True)).all()
            by_id.update({a.account_id: a for a in locked})
        return by_id

    def lock_customer_accounts(self, account_ids: Iterable[str]) -> dict:
        """The named customer accounts as rows of what posting needs (rules, cached balances,
        names), row-locked in id order in the same statement; the ORM objects of them that
        the session holds get the new balances (store_balances), none from before."""
        a = models.Account.__table__
        self.session.flush()        # a change the session holds (a status, say) counts
        rows = self.session.execute(
            select(a.c.id, a.c.account_id, a.c.kind, a.c.status, a.c.currency, a.c.name,
                   a.c.sort_code, a.c.account_number, a.c.credit_limit_minor, a.c.booked_minor,
                   a.c.pending_debits_minor, a.c.pending_credits_minor)
            .where(a.c.account_id.in_(sorted(set(account_ids))),
                   a.c.kind == AccountKind.CUSTOMER)
            .order_by(a.c.id).with_for_update()).all()
        return {row.account_id: row for row in rows}

    def lock_payment_parties(self, debtor_account_id: str, payee_scheme: str,
                             payee_identification: str, clearing_code: str,
                             currency: str) -> list:
        """For a payment, in one SELECT ... FOR UPDATE: the debtor's account and the
        payee's if it is one of our customer accounts (rows of what posting needs, locked
        in id order), each row also carrying `clearing`, the row id of the enabled internal
        account `clearing_code` in `currency` (not locked: it has no cached balance)."""
        self.session.flush()        # a change the session holds (a status, say) counts
        by_iban = payee_scheme == "UK.OBIE.IBAN"
        payee = {"iban": payee_identification} if by_iban else \
            {"sort_code": payee_identification[:6], "account_number": payee_identification[6:]}
        return self.session.execute(_payment_parties(by_iban), {
            "debtor": debtor_account_id, "clearing": clearing_code, "currency": currency,
            **payee}).all()

    def lock_pending_customer_postings(self, entry_pk: int, clearing_code: str,
                                       settlement_code: str, currency: str) -> list:
        """The entry's pending postings on customer accounts, each with its account's
        columns (as lock_payment_parties), the accounts locked in id order; every row also
        carries `clearing` and `settlement`, the row ids of those enabled internal accounts
        in `currency`."""
        return self.session.execute(_pending_customer_postings(), {
            "entry_pk": entry_pk, "clearing": clearing_code, "settlement": settlement_code,
            "currency": currency}).all()

    def book_entry(self, entry_pk: int, now: datetime, posting_pk: int,
                   balance_after: int) -> None:
        """Book every pending posting of the entry at `now`; `posting_pk` (its one on a
        customer account) with `balance_after`."""
        self.session.execute(_book_entry_postings(), {
            "b_entry_pk": entry_pk, "b_now": now, "b_posting_pk": posting_pk,
            "b_balance_after": balance_after})

    def store_balances(self, balances: dict[int, tuple[int, int, int]]) -> None:
        """Set (booked, pending debits, pending credits) of locked accounts, in one UPDATE
        (of a fixed shape, cached, for the one or two accounts of a payment)."""
        a = models.Account.__table__
        if len(balances) in (1, 2):
            (pk_1, one), (pk_2, two) = (list(balances.items()) * 2)[:2]
            self.session.execute(_two_balances_update(), {
                "pk_1": pk_1, "pk_2": pk_2, **{f"{name}_1": v for name, v in zip("bdc", one)},
                **{f"{name}_2": v for name, v in zip("bdc", two)}})
        elif balances:
            def column(i):
                return case({pk: values[i] for pk, values in balances.items()}, value=a.c.id)
            self.session.execute(update(a).where(a.c.id.in_(list(balances))).values(
                booked_minor=column(0), pending_debits_minor=column(1),
                pending_credits_minor=column(2)))
        for pk, values in balances.items():   # what the session holds is current...
            held = self.session.identity_map.get(identity_key(models.Account, pk))
            if held is not None:                # ...without a read back, and still usable
                for name, value in zip(_BALANCE_COLUMNS, values):   # once it has closed
                    set_committed_value(held, name, value)
                # Marked changed (no UPDATE: nothing differs from what is set as loaded), so
                # a savepoint rolled back expires it like an object the ORM wrote: else it
                # would keep balances the database no longer has (a payment whose charge
                # the account cannot pay, say) for the next post_entry to trust on SQLite.
                flag_dirty(held)

    def insert_entry(self, entry: dict, postings: list[dict]) -> int:
        """A journal entry and its postings in two INSERTs; the entry's row id."""
        entry_pk = self.session.execute(_returning_insert(models.JournalEntry.__table__),
                                        entry).scalar_one()
        self.session.execute(_posting_insert(), [{**posting, "entry_pk": entry_pk}
                                                 for posting in postings])
        return entry_pk

    def insert_payment(self, payment: models.Payment) -> models.Payment:
        """A new (transient) payment in one INSERT ... RETURNING, then held by the session
        as a loaded object without reading it back."""
        table = models.Payment.__table__
        values = {c.key: getattr(payment, c.key) for c in table.columns if c.key != "id"}
        payment.id = self.session.execute(_returning_insert(table), values).scalar_one()
        make_transient_to_detached(payment)
        self.session.add(payment)
        return payment

    # journal ----------------------------------------------------------------------------
    def entry(self, entry_id: str, lock: bool = False) -> models.JournalEntry:
        query = select(models.JournalEntry).where(models.JournalEntry.entry_id == entry_id)
        if lock:
            query = query.with_for_update()
        entry = self.session.scalars(query).one_or_none()
        if entry is None:
            raise EntryNotFound(f"no journal entry {entry_id}")
        return entry

    def reversal_of(self, entry: models.JournalEntry) -> models.JournalEntry | None:
        return self.session.scalars(select(models.JournalEntry)
                                    .where(models.JournalEntry.reverses_pk == entry.id)).one_or_none()

    def posting_totals(self, account_pk: int) -> tuple[int, int, int]:
        """(booked, pending debits, pending credits) summed from the postings themselves."""
        p = models.Posting
        booked = func.coalesce(func.sum(p.amount_minor).filter(p.status == PostingStatus.BOOKED), 0)
        pending_debits = func.coalesce(func.sum(p.amount_minor).filter(
            p.status == PostingStatus.PENDING, p.amount_minor < 0), 0)
        pending_credits = func.coalesce(func.sum(p.amount_minor).filter(
            p.status == PostingStatus.PENDING, p.amount_minor > 0), 0)
        row = self.session.execute(select(booked, pending_debits, pending_credits)
                                   .where(p.account_pk == account_pk)).one()
        return int(row[0]), int(row[1]), int(row[2])

    def booked_before(self, account_pk: int, before: datetime) -> int:
        p = models.Posting
        return int(self.session.scalar(select(func.coalesce(func.sum(p.amount_minor), 0)).where(
            p.account_pk == account_pk, p.status == PostingStatus.BOOKED,
            p.booking_datetime < before)))

    def all_customer_totals(self):
        """Per customer account: cached columns beside the sums of its postings."""
        p, a = models.Posting, models.Account
        sums = (select(p.account_pk,
                       func.sum(p.amount_minor).filter(p.status == PostingStatus.BOOKED).label("booked"),
                       func.sum(p.amount_minor).filter(p.status == PostingStatus.PENDING,
                                                       p.amount_minor < 0).label("pdebits"),
                       func.sum(p.amount_minor).filter(p.status == PostingStatus.PENDING,
                                                       p.amount_minor > 0).label("pcredits"))
                .group_by(p.account_pk).subquery())
        return self.session.execute(
            select(a.account_id, a.booked_minor, a.pending_debits_minor, a.pending_credits_minor,
                   a.credit_limit_minor, func.coalesce(sums.c.booked, 0),
                   func.coalesce(sums.c.pdebits, 0), func.coalesce(sums.c.pcredits, 0))
            .outerjoin(sums, sums.c.account_pk == a.id)
            .where(a.kind == AccountKind.CUSTOMER)).all()

    def unbalanced_entries(self):
        p, e = models.Posting, models.JournalEntry
        return self.session.execute(
            select(e.entry_id, p.currency, func.sum(p.amount_minor))
            .join(p, p.entry_pk == e.id).group_by(e.entry_id, p.currency)
            .having(func.sum(p.amount_minor) != 0)).all()

    def entries_with_fewer_than_two_postings(self):
        p, e = models.Posting, models.JournalEntry
        return self.session.execute(
            select(e.entry_id, func.count(p.id)).outerjoin(p, p.entry_pk == e.id)
            .group_by(e.entry_id).having(func.count(p.id) < 2)).all()

    def transactions(self, account_pk: int, *, limit: int,
                     from_booking: datetime | None = None, to_booking: datetime | None = None,
                     after: tuple[datetime, int] | None = None) -> list[models.Posting]:
        """Newest first, keyset-paginated on (booking_datetime, id): the page after `after`."""
        p = models.Posting
        query = select(p).where(p.account_pk == account_pk)
        if from_booking is not None:
            query = query.where(p.booking_datetime >= from_booking)
        if to_booking is not None:
            query = query.where(p.booking_datetime <= to_booking)
        if after is not None:
            at, pk = after
            query = query.where(or_(p.booking_datetime < at,
                                    and_(p.booking_datetime == at, p.id < pk)))
        query = query.order_by(p.booking_datetime.desc(), p.id.desc()).limit(limit)
        return list(self.session.scalars(query))

    # posting day counts -----------------------------------------------------------------
    def count_postings(self, changes: Iterable[tuple[int, date, int, int]]) -> None:
        """Add (account_pk, day, credits, debits) to the day counts, in one statement: the
        changes of one (account, day) are summed first (an upsert may touch a row once)."""
        totals: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
        for account_pk, day, credits, debits in changes:
            totals[(account_pk, day)][0] += credits
            totals[(account_pk, day)][1] += debits
        rows = [{"account_pk": pk, "day": day, "credits": c, "debits": d}
                for (pk, day), (c, d) in sorted(totals.items()) if c or d]
        if rows:       # a list of parameters: one statement of a fixed shape (cached)
            self.session.execute(_count_upsert(self.session.get_bind().dialect.name), rows)

    def day_count_mismatches(self) -> list[tuple[str, date, tuple[int, int], tuple[int, int]]]:
        """(AccountId, day, kept (credits, debits), counted from the postings) wherever the
        day counts of customer accounts differ from the postings."""
        p, a, d = models.Posting, models.Account, models.PostingDayCount
        counted: dict[tuple[int, date], list[int]] = defaultdict(lambda: [0, 0])
        rows = self.session.execute(select(p.account_pk, p.booking_datetime, p.amount_minor)
                                    .join(a, a.id == p.account_pk)
                                    .where(a.kind == AccountKind.CUSTOMER))
        for account_pk, booked_at, amount in rows:
            counted[(account_pk, booked_at.date())][0 if amount > 0 else 1] += 1
        kept = {(pk, day): (c, dd) for pk, day, c, dd in
                self.session.execute(select(d.account_pk, d.day, d.credits, d.debits))}
        names = dict(self.session.execute(select(a.id, a.account_id)
                                          .where(a.kind == AccountKind.CUSTOMER)).all())
        problems = []
        for key in sorted(set(counted) | set(kept)):
            have, want = tuple(kept.get(key, (0, 0))), tuple(counted.get(key, (0, 0)))
            if have != want:
                problems.append((names.get(key[0], str(key[0])), key[1], have, want))
        return problems

    # payments ---------------------------------------------------------------------------
    def payment(self, payment_id: str, lock: bool = False) -> models.Payment | None:
        query = select(models.Payment).where(models.Payment.payment_id == payment_id)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(query).one_or_none()

    def payment_to_submit(self, payment_id: str):
        """What the scheme is sent of a payment, and its status, as a row (not an ORM
        object: read once, in a unit of work of its own); None when there is no such."""
        return self.session.execute(_payment_to_submit(),
                                    {"payment_id": payment_id}).one_or_none()

    def payments_in_status(self, status: str, updated_before: datetime) -> list[str]:
        return list(self.session.scalars(select(models.Payment.payment_id).where(
            models.Payment.status == status, models.Payment.status_updated_at < updated_before)))
