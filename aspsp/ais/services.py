"""Account information use cases: what one consent lets its TPP read, shaped by its
permissions. Each use case opens its own unit of work and only reads.

The consent context (consent.gate) has already checked the token, the consent's status and
expiry, the permission the endpoint needs and that a named account is one of the consent's.
What is left here: which rows, through which window, and how much of each row.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Callable

from aspsp.ledger import services as ledger
from aspsp.ledger.models import Account
from aspsp.ledger.statements import render_statement_pdf
from aspsp.platform import Platform
from consent.gate import ConsentContext

from . import shaping
from .errors import InvalidPageCursor, OutsideTransactionPeriod, ResourceNotFound
from .filters import Window, naive_text
from .paging import Cursor, Direction, Page, total_pages
from .repository import AccountInformationRepository, Key, TransactionScope

MAX_ID_LENGTH = 40


def is_known_account(p: Platform, account_id: str) -> bool:
    """Whether an AccountId names a customer account of the bank at all (for telling an
    unknown id, 400, from one outside the consent, 403)."""
    if not _plausible_id(account_id):
        return False
    with p.uow() as uow:
        return AccountInformationRepository(uow.session).is_customer_account(account_id)


def _plausible_id(value: str | None) -> bool:
    """Ours are UUIDs; anything not printable ASCII of at most 40 characters (a NUL, say)
    is unknown without asking the database."""
    return bool(value) and len(value) <= MAX_ID_LENGTH and value.isascii() \
        and value.isprintable()


def _view(ctx: ConsentContext) -> shaping.View:
    return shaping.View.of(ctx.permissions)


def _accounts(repo: AccountInformationRepository, ctx: ConsentContext,
              account_id: str | None) -> list[Account]:
    rows = repo.accounts(ctx.account_pks)
    return rows if account_id is None else [a for a in rows if a.account_id == account_id]


def _ids(accounts: list[Account]) -> dict[int, str]:
    return {a.id: a.account_id for a in accounts}


# --- accounts, balances, standing data ----------------------------------------------------
def accounts(p: Platform, ctx: ConsentContext, account_id: str | None = None) -> list[dict]:
    view = _view(ctx)
    with p.uow() as uow:
        return [shaping.account(a, view)
                for a in _accounts(AccountInformationRepository(uow.session), ctx, account_id)]


def balances(p: Platform, ctx: ConsentContext, account_id: str | None = None) -> list[dict]:
    now = p.clock.now()
    with p.uow() as uow:
        rows = _accounts(AccountInformationRepository(uow.session), ctx, account_id)
        return [shaping.balance(a.account_id, entry) for a in rows
                for entry in ledger.balances(uow, a.account_id, now=now)]


def _standing(kind: str, shape: Callable) -> Callable:
    def read(p: Platform, ctx: ConsentContext, account_id: str | None = None) -> list[dict]:
        view = _view(ctx)
        with p.uow() as uow:
            repo = AccountInformationRepository(uow.session)
            ids = _ids(_accounts(repo, ctx, account_id))
            return [shape(row, ids[row.account_pk], view) for row in getattr(repo, kind)(ids)]
    read.__name__ = kind
    read.__doc__ = f"The {kind.replace('_', ' ')} of the consent's accounts (or of one)."
    return read


beneficiaries = _standing("beneficiaries", shaping.beneficiary)
direct_debits = _standing("direct_debits", lambda row, account_id, view:
                          shaping.direct_debit(row, account_id))
standing_orders = _standing("standing_orders", shaping.standing_order)
scheduled_payments = _standing("scheduled_payments", shaping.scheduled_payment)
offers = _standing("offers", lambda row, account_id, view: shaping.offer(row, account_id))


def products(p: Platform, ctx: ConsentContext, account_id: str | None = None) -> list[dict]:
    with p.uow() as uow:
        repo = AccountInformationRepository(uow.session)
        ids = _ids(_accounts(repo, ctx, account_id))
        return [shaping.product(product, ids[pk]) for pk, product in repo.products(ids)]


# --- parties -------------------------------------------------------------------------------
def account_parties(p: Platform, ctx: ConsentContext, account_id: str,
                    account_url: Callable[[str], str]) -> list[dict]:
    """Every holder and operator of the account."""
    with p.uow() as uow:
        repo = AccountInformationRepository(uow.session)
        account = _accounts(repo, ctx, account_id)[0]
        related = (account_url(account_id), account_id)
        return [shaping.party(party, account_role=link.account_role, related=related)
                for link, party in repo.holders(account.id)]


def account_party(p: Platform, ctx: ConsentContext, account_id: str,
                  account_url: Callable[[str], str]) -> dict | None:
    """The account's owner: the business for a business account, else the customer who
    authorised the consent when they hold it (a joint account), else the first holder
    (Parties resource, GET /accounts/{AccountId}/party)."""
    with p.uow() as uow:
        repo = AccountInformationRepository(uow.session)
        account = _accounts(repo, ctx, account_id)[0]
        holders = repo.holders(account.id)
        if not holders:
            return None
        psu_party = repo.party_of_psu(ctx.psu_pk)
        chosen = holders[0]
        if chosen[1].kind != "organisation" and psu_party is not None:
            chosen = next((h for h in holders if h[1].id == psu_party.id), chosen)
        link, party = chosen
        return shaping.party(party, account_role=link.account_role,
                             related=(account_url(account_id), account_id))


def customer_party(p: Platform, ctx: ConsentContext) -> dict | None:
    """The customer who authorised the consent (GET /party, ReadPartyPSU)."""
    with p.uow() as uow:
        party = AccountInformationRepository(uow.session).party_of_psu(ctx.psu_pk)
        return None if party is None else shaping.party(party)


# --- statements ----------------------------------------------------------------------------
def _consent_window(ctx: ConsentContext) -> Window:
    return Window(ctx.transaction_from, ctx.transaction_to)


def statements(p: Platform, ctx: ConsentContext, account_id: str | None = None, *,
               from_start: datetime | None = None, to_end: datetime | None = None
               ) -> list[dict]:
    """Statements whose whole period lies inside both the consent's transaction period and
    the filter (fromStatementDateTime/toStatementDateTime)."""
    view = _view(ctx)
    within = _consent_window(ctx).narrowed(from_start, to_end)
    with p.uow() as uow:
        repo = AccountInformationRepository(uow.session)
        ids = _ids(_accounts(repo, ctx, account_id))
        return [shaping.statement(s, ids[s.account_pk], view)
                for s in repo.statements(ids, within=within)]


def _statement(repo: AccountInformationRepository, ctx: ConsentContext, account_id: str,
               statement_id: str):
    account = _accounts(repo, ctx, account_id)[0]
    found = repo.statement(account.id, statement_id) if _plausible_id(statement_id) else None
    if found is None:
        raise ResourceNotFound("there is no statement with this StatementId on this account",
                               "StatementId")
    if not _consent_window(ctx).covers(found.start_datetime, found.end_datetime):
        raise OutsideTransactionPeriod("the statement is not within the consent's "
                                       "transaction period", "StatementId")
    return account, found


def statement(p: Platform, ctx: ConsentContext, account_id: str,
              statement_id: str) -> list[dict]:
    with p.uow() as uow:
        _, found = _statement(AccountInformationRepository(uow.session), ctx, account_id,
                              statement_id)
        return [shaping.statement(found, account_id, _view(ctx))]


@dataclass(frozen=True)
class StatementFile:
    filename: str
    content: bytes
    media_type: str = "application/pdf"


def statement_file(p: Platform, ctx: ConsentContext, account_id: str,
                   statement_id: str) -> StatementFile:
    with p.uow() as uow:
        _, found = _statement(AccountInformationRepository(uow.session), ctx, account_id,
                              statement_id)
        content = render_statement_pdf(uow, found.statement_id)
        safe = "".join(c if c.isalnum() or c in "-_" else "-" for c in found.statement_reference)
        return StatementFile(f"statement-{safe}.pdf", content)


# --- transactions --------------------------------------------------------------------------
@dataclass(frozen=True)
class TransactionQuery:
    account_id: str | None = None
    from_booking: datetime | None = None
    to_booking: datetime | None = None
    page: str | None = None


def transactions(p: Platform, ctx: ConsentContext, query: TransactionQuery) -> Page:
    """One page of the transactions (newest first) of the consent's accounts or of one,
    in the consent's transaction period narrowed by the filter, in the directions
    (credits, debits) the consent allows."""
    view = _view(ctx)
    filters = {name: naive_text(value) for name, value in
               (("fromBookingDateTime", query.from_booking),
                ("toBookingDateTime", query.to_booking)) if value is not None}
    # The consent's customer accounts as the gate read them (what `_accounts` would load).
    ids = {pk: account_id for pk, account_id in ctx.customer_accounts
           if query.account_id is None or account_id == query.account_id}
    with p.uow() as uow:
        repo = AccountInformationRepository(uow.session)
        scope = TransactionScope(tuple(ids), _consent_window(ctx),
                                 credits=view.credits, debits=view.debits)
        listed = replace(scope, window=scope.window.narrowed(query.from_booking,
                                                             query.to_booking))
        return _page(repo, scope, listed, query.page, ids, view,
                     p.config["AIS_PAGE_SIZE"], filters)


def statement_transactions(p: Platform, ctx: ConsentContext, account_id: str,
                           statement_id: str, page: str | None = None) -> Page:
    """The booked transactions of one statement's period, paginated as any list."""
    view = _view(ctx)
    with p.uow() as uow:
        repo = AccountInformationRepository(uow.session)
        account, found = _statement(repo, ctx, account_id, statement_id)
        period = Window(found.start_datetime,
                        found.end_datetime + timedelta(seconds=1) - timedelta(microseconds=1))
        scope = TransactionScope((account.id,), period, credits=view.credits,
                                 debits=view.debits, booked_only=True)
        return _page(repo, scope, scope, page, {account.id: account_id}, view,
                     p.config["AIS_PAGE_SIZE"], {})


def _page(repo: AccountInformationRepository, scope: TransactionScope,
          listed: TransactionScope, page: str | None, ids: dict[int, str],
          view: shaping.View, size: int, filters: dict[str, str]) -> Page:
    cursor = _cursor(repo, listed, page)
    # One statement: the rows, the count, first and last, the Last key, the other neighbour.
    key, direction = (cursor[1], cursor[0].direction) if cursor else (None, None)
    read = repo.transaction_page(scope, listed, limit=size + 1, page_size=size,
                                 older_than=key if direction == Direction.OLDER else None,
                                 newer_than=key if direction == Direction.NEWER else None)
    rows = read.rows
    if cursor is None:
        older, newer = len(rows) > size, False
        rows = rows[:size]
    elif cursor[0].direction == Direction.OLDER:
        older = len(rows) > size
        rows = rows[:size]
        # Rows newer than the page's first are exactly the rows at or newer than the key.
        newer = bool(rows) and read.beyond
    else:
        newer = len(rows) > size
        rows = rows[-size:]
        # Rows older than the page's last are exactly the rows at or older than the key.
        older = bool(rows) and read.beyond
    pages = total_pages(read.count, size)
    shape = shaping.transaction_plan(view)
    return Page(
        items=[shape(row, ids[row.account_pk]) for row in rows],
        total_pages=pages, current=cursor[0] if cursor else None,
        next=Cursor(Direction.OLDER, rows[-1].transaction_id) if older else None,
        prev=Cursor(Direction.NEWER, rows[0].transaction_id) if newer else None,
        last=Cursor(Direction.OLDER, read.last_transaction_id)
        if pages > 1 and read.last_transaction_id else None,
        first_available=read.first, last_available=read.last, filters=filters)


def _cursor(repo: AccountInformationRepository, listed: TransactionScope,
            page: str | None) -> tuple[Cursor, Key] | None:
    if page is None:
        return None
    try:
        cursor = Cursor.decode(page)
    except ValueError:
        raise InvalidPageCursor("page is not a page of this list; follow the Links",
                                "page") from None
    key = repo.transaction_key(listed, cursor.transaction_id)
    if key is None:
        raise InvalidPageCursor("page is not a page of this list; follow the Links", "page")
    return cursor, key
