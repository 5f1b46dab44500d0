"""The account information queries: what a consent may read, by the accounts' row ids.

Read-only; the services own the unit of work. Transaction lists are keyset-paginated on
(booking_datetime, id) through the index ix_postings_account_booking.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Iterable

from sqlalchemy import and_, false, func, or_, select
from sqlalchemy.orm import Session

from aspsp.identity.models import PsuUser
from aspsp.ledger import models
from aspsp.ledger.domain import AccountKind, PostingStatus

from .filters import Window

P = models.Posting


@dataclass(frozen=True)
class TransactionScope:
    """Which postings a list may show: accounts, booking window, directions, statuses."""
    account_pks: tuple[int, ...]
    window: Window
    credits: bool
    debits: bool
    booked_only: bool = False

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
        return self._of_accounts(models.ScheduledPayment, pks,
                                 models.ScheduledPayment.scheduled_payment_datetime)

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

    def transaction_summary(self, scope: TransactionScope, listed: Window
                            ) -> tuple[int, datetime | None, datetime | None]:
        """(rows in `listed`, first and last booking time in the whole scope)."""
        in_listed = [false()] if listed.is_empty else \
            [c for c in (P.booking_datetime >= listed.start if listed.start else None,
                         P.booking_datetime <= listed.end if listed.end else None)
             if c is not None]
        counted = func.count(P.id).filter(*in_listed) if in_listed else func.count(P.id)
        row = self.session.execute(select(counted, func.min(P.booking_datetime),
                                          func.max(P.booking_datetime))
                                   .where(*scope.conditions())).one()
        return int(row[0] or 0), row[1], row[2]

    def transactions(self, scope: TransactionScope, *, limit: int, older_than: Key | None = None,
                     newer_than: Key | None = None) -> list[models.Posting]:
        """Newest first. With `newer_than`, the `limit` rows just newer than the key (still
        returned newest first)."""
        query = select(P).where(*scope.conditions())
        if older_than is not None:
            query = query.where(_before(older_than)).order_by(P.booking_datetime.desc(),
                                                              P.id.desc())
        elif newer_than is not None:
            query = query.where(_after(newer_than)).order_by(P.booking_datetime.asc(),
                                                             P.id.asc())
        else:
            query = query.order_by(P.booking_datetime.desc(), P.id.desc())
        rows = list(self.session.scalars(query.limit(limit)))
        return rows[::-1] if newer_than is not None else rows

    def any_newer(self, scope: TransactionScope, key: Key) -> bool:
        return self.session.scalar(select(P.id).where(*scope.conditions(), _after(key))
                                   .limit(1)) is not None

    def any_older(self, scope: TransactionScope, key: Key) -> bool:
        return self.session.scalar(select(P.id).where(*scope.conditions(), _before(key))
                                   .limit(1)) is not None

    def transaction_at(self, scope: TransactionScope, offset: int) -> str | None:
        """The TransactionId of the row at `offset` in newest-first order."""
        return self.session.scalar(select(P.transaction_id).where(*scope.conditions())
                                   .order_by(P.booking_datetime.desc(), P.id.desc())
                                   .offset(offset).limit(1))


def _before(key: Key):
    return or_(P.booking_datetime < key.booked_at,
               and_(P.booking_datetime == key.booked_at, P.id < key.pk))


def _after(key: Key):
    return or_(P.booking_datetime > key.booked_at,
               and_(P.booking_datetime == key.booked_at, P.id > key.pk))
