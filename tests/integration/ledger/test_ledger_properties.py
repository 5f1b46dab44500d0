"""Property-based tests: random sequences of ledger operations through the real services,
on SQLite and PostgreSQL, checked against a small model of what each account should hold.

After every operation: every entry balances per currency, every cached balance equals its
postings, no customer account is below its limit, refused operations wrote nothing, and a
reversal gives back exactly what the reversed entry moved.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import HealthCheck, event, example, given, settings, strategies as st
from sqlalchemy import func, select

from aspsp.ledger import models, services
from aspsp.ledger.domain import AccountStatus, PaymentStatus
from aspsp.ledger.errors import (AccountNotActive, AlreadyReversed, CurrencyMismatch,
                                 InsufficientFunds, InvalidAmount, LedgerError, SameAccount)
from aspsp.ledger.money import Money
from aspsp.ledger.repository import LedgerRepository
from tests import factories

# Each example opens these accounts: three enabled GBP accounts with drawn limits, one
# disabled GBP account, one EUR account.
GBP_ACCOUNTS = 3
DISABLED, EUR = 3, 4
N_ACCOUNTS = 5
EXTERNAL = "20000012345678"          # another bank: the simulated scheme accepts it
REJECTED = "20000099999999"          # the simulated scheme's documented rejection


# operations -----------------------------------------------------------------------------
@dataclass(frozen=True)
class Transfer:
    debtor: int
    creditor: int
    pence: int


@dataclass(frozen=True)
class PayOnUs:
    debtor: int
    creditor: int
    pence: int


@dataclass(frozen=True)
class PayOut:
    debtor: int
    pence: int
    rejected_by_scheme: bool
    foreign_currency: bool


@dataclass(frozen=True)
class Fund:
    account: int
    pence: int


@dataclass(frozen=True)
class Reverse:
    pick: int


# Mostly the enabled GBP accounts and positive amounts, so that most operations go through.
accounts_ = st.one_of(st.integers(0, GBP_ACCOUNTS - 1), st.integers(0, N_ACCOUNTS - 1))
pence_ = st.one_of(st.integers(1, 60_000), st.integers(1, 10_000), st.integers(-500, 0))
operations = st.lists(st.one_of(
    st.builds(Transfer, accounts_, accounts_, pence_),
    st.builds(PayOnUs, accounts_, accounts_, pence_),
    st.builds(PayOut, accounts_, pence_, st.booleans(), st.sampled_from([False] * 3 + [True])),
    st.builds(Fund, accounts_, pence_),
    st.builds(Reverse, st.integers(0, 1_000)),
), min_size=1, max_size=12)
opening = st.fixed_dictionaries({
    "limits": st.lists(st.sampled_from([0, 5_000, 25_000]), min_size=GBP_ACCOUNTS,
                       max_size=GBP_ACCOUNTS),
    "funds": st.lists(st.integers(0, 50_000), min_size=N_ACCOUNTS, max_size=N_ACCOUNTS),
})


# the model ------------------------------------------------------------------------------
@dataclass
class Account:
    account_id: str
    currency: str
    limit: int                 # minor units
    enabled: bool
    identification: str
    booked: int = 0            # what the model says the account holds, minor units


@dataclass
class Entry:
    entry_id: str
    is_reversal: bool
    effects: dict[int, int]    # model account index -> signed minor units
    reversed: bool = False


@dataclass
class World:
    accounts: list[Account]
    entries: list[Entry] = field(default_factory=list)
    entries_by_pk: dict[int, Entry] = field(default_factory=dict)
    last_entry_pk: int = 0


def money(pence: int, currency: str) -> Money:
    return Money.of(Decimal(pence).scaleb(-2), currency)


def other_currency(currency: str) -> str:
    """For GBP accounts a currency the bank holds no accounts in at all."""
    return "USD" if currency == "GBP" else "GBP"


def expected_refusal(world: World, op) -> set[type[LedgerError]]:
    """The errors the services may raise for `op`; empty when it must succeed. Where two
    rules are broken at once, either error is right (accounts are checked in no set order)."""
    acc = world.accounts
    if isinstance(op, Fund):
        if op.pence <= 0:
            return {InvalidAmount}
        return set() if acc[op.account].enabled else {AccountNotActive}
    if isinstance(op, (Transfer, PayOnUs)):
        if op.pence <= 0:
            return {InvalidAmount}
        if op.debtor == op.creditor:
            return {SameAccount}
        debtor, creditor = acc[op.debtor], acc[op.creditor]
        errors = set()
        if not debtor.enabled:
            errors.add(AccountNotActive)
        elif debtor.booked - op.pence < -debtor.limit:
            errors.add(InsufficientFunds)
        if not creditor.enabled:
            errors.add(AccountNotActive)
        elif creditor.currency != debtor.currency:
            errors.add(CurrencyMismatch)
        return errors
    if isinstance(op, PayOut):
        debtor = acc[op.debtor]
        if op.pence <= 0:
            return {InvalidAmount}
        errors = set()
        if op.foreign_currency:
            errors.add(CurrencyMismatch)
        if not debtor.enabled:
            errors.add(AccountNotActive)
        elif not errors and debtor.booked - op.pence < -debtor.limit:
            errors.add(InsufficientFunds)
        return errors
    if isinstance(op, Reverse):
        entry = world.entries[op.pick % len(world.entries)]
        if entry.is_reversal or entry.reversed:
            return {AlreadyReversed}
        errors = set()
        for index, effect in entry.effects.items():
            account = acc[index]
            if not account.enabled:
                errors.add(AccountNotActive)
            elif effect > 0 and account.booked - effect < -account.limit:
                errors.add(InsufficientFunds)
        return errors
    raise AssertionError(op)


def apply(world: World, uow, op, now):
    acc = world.accounts
    if isinstance(op, Fund):
        account = acc[op.account]
        amount = str(money(op.pence, account.currency).amount)
        return factories.fund(uow, account.account_id, amount, now=now,
                              currency=account.currency)
    if isinstance(op, Transfer):
        debtor = acc[op.debtor]
        return services.transfer(uow, debtor_account_id=debtor.account_id,
                                 creditor_account_id=acc[op.creditor].account_id,
                                 amount=money(op.pence, debtor.currency), now=now)
    if isinstance(op, PayOnUs):
        debtor, creditor = acc[op.debtor], acc[op.creditor]
        return services.pay(uow, debtor_account_id=debtor.account_id,
                            creditor=services.Creditor("Own account",
                                                       "UK.OBIE.SortCodeAccountNumber",
                                                       creditor.identification),
                            amount=money(op.pence, debtor.currency), now=now)
    if isinstance(op, PayOut):
        debtor = acc[op.debtor]
        currency = other_currency(debtor.currency) if op.foreign_currency else debtor.currency
        return services.pay(uow, debtor_account_id=debtor.account_id,
                            creditor=services.Creditor(
                                "Acme Ltd", "UK.OBIE.SortCodeAccountNumber",
                                REJECTED if op.rejected_by_scheme else EXTERNAL),
                            amount=money(op.pence, currency), now=now, reference="INV")
    if isinstance(op, Reverse):
        entry = world.entries[op.pick % len(world.entries)]
        return services.reverse_entry(uow, entry.entry_id, reason="correction", now=now)
    raise AssertionError(op)


# reading the database -------------------------------------------------------------------
def counts(uow) -> tuple[int, int, int]:
    s = uow.session
    return (s.scalar(select(func.count()).select_from(models.JournalEntry)),
            s.scalar(select(func.count()).select_from(models.Posting)),
            s.scalar(select(func.count()).select_from(models.Payment)))


def stored_balances(uow, world: World) -> list[tuple[int, int, int]]:
    """Per model account: (cached booked, booked summed from postings, pending summed)."""
    repo = LedgerRepository(uow.session)
    rows = []
    for account in world.accounts:
        row = repo.account(account.account_id)
        booked, pending_debits, pending_credits = repo.posting_totals(row.id)
        rows.append((row.booked_minor, booked, pending_debits + pending_credits))
    return rows


def record_new_entries(uow, world: World) -> None:
    """Entries written since the last look, with their effect on our customer accounts."""
    index_of = {a.account_id: i for i, a in enumerate(world.accounts)}
    new = uow.session.scalars(select(models.JournalEntry)
                              .where(models.JournalEntry.id > world.last_entry_pk)
                              .order_by(models.JournalEntry.id)).all()
    for row in new:
        effects: dict[int, int] = {}
        for posting in row.postings:
            index = index_of.get(posting.account.account_id)
            if index is not None:
                effects[index] = effects.get(index, 0) + posting.amount_minor
        entry = Entry(row.entry_id, row.reverses_pk is not None, effects)
        world.entries.append(entry)
        world.entries_by_pk[row.id] = entry
        if row.reverses_pk is not None:
            world.entries_by_pk[row.reverses_pk].reversed = True
        world.last_entry_pk = row.id


def assert_ledger_is_sound(uow, world: World, now) -> None:
    assert services.reconcile_balances(uow) == []
    p = models.Posting
    unbalanced = uow.session.execute(
        select(p.entry_pk, p.currency).group_by(p.entry_pk, p.currency)
        .having(func.sum(p.amount_minor) != 0)).all()
    assert unbalanced == []
    for account, (cached, from_postings, pending) in zip(world.accounts,
                                                         stored_balances(uow, world)):
        assert cached == from_postings == account.booked
        assert pending == 0  # every outbound payment was settled by the task on commit
        shown = {b.type: b.amount for b in services.balances(uow, account.account_id, now=now)}
        assert shown["InterimBooked"] == money(account.booked, account.currency)
        assert shown["InterimAvailable"] == money(account.booked, account.currency)
        assert account.booked >= -account.limit


# the property ---------------------------------------------------------------------------
def open_world(platform, now, opening) -> World:
    with platform.uow() as uow:
        world_accounts = []
        for index in range(N_ACCOUNTS):
            currency = "EUR" if index == EUR else "GBP"
            limit = opening["limits"][index] if index < GBP_ACCOUNTS else 0
            row = factories.account(uow, now=now, currency=currency,
                                    credit_limit=str(Decimal(limit).scaleb(-2)))
            world_accounts.append(Account(row.account_id, currency, limit, True,
                                          row.sort_code + row.account_number))
        world = World(world_accounts, last_entry_pk=uow.session.scalar(
            select(func.coalesce(func.max(models.JournalEntry.id), 0))))
        for index, pence in enumerate(opening["funds"]):
            if pence:
                account = world.accounts[index]
                factories.fund(uow, account.account_id,
                               str(money(pence, account.currency).amount), now=now,
                               currency=account.currency)
                account.booked += pence
        services.set_account_status(uow, world.accounts[DISABLED].account_id,
                                    AccountStatus.DISABLED, now=now)
        world.accounts[DISABLED].enabled = False
        record_new_entries(uow, world)
        uow.commit()
    return world


def expected_effect(world: World, op) -> dict[int, int]:
    if isinstance(op, Fund):
        return {op.account: op.pence}
    if isinstance(op, (Transfer, PayOnUs)):
        return {op.debtor: -op.pence, op.creditor: op.pence}
    if isinstance(op, PayOut):
        return {} if op.rejected_by_scheme else {op.debtor: -op.pence}
    entry = world.entries[op.pick % len(world.entries)]
    return {index: -effect for index, effect in entry.effects.items()}


@settings(max_examples=35, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(opening=opening, ops=operations)
@example(opening={"limits": [0, 5_000, 0], "funds": [10_000, 0, 0, 100, 100]},
         ops=[PayOut(0, 1_000, False, True), PayOut(4, 1_000, False, True),
              PayOut(3, 50, False, True), PayOut(0, 2_500, False, False),
              PayOut(0, 2_500, True, False),
              Reverse(3), Reverse(6), Reverse(5), Transfer(0, 1, 12_000),
              Transfer(0, 1, 9_000), Transfer(1, 2, 12_000), Reverse(8), Reverse(9), Reverse(1)])
def test_random_ledger_operations_keep_the_books_straight(platform, clock, opening, ops):
    now = clock.now()
    world = open_world(platform, now, opening)
    with platform.uow() as uow:
        assert_ledger_is_sound(uow, world, now)
    for op in ops:
        if isinstance(op, Reverse) and not world.entries:
            continue
        refusal = expected_refusal(world, op)
        with platform.uow() as uow:
            before_counts = counts(uow)
            before_balances = stored_balances(uow, world)
            try:
                result = apply(world, uow, op, now)
            except LedgerError as error:
                assert refusal, f"{op} was refused: {error!r}"
                assert type(error) in refusal, f"{op}: {error!r}, expected one of {refusal}"
                event(f"{type(op).__name__} refused: {type(error).__name__}")
                # Nothing was written: even committing the refused unit of work stores nothing.
                uow.commit()
                assert counts(uow) == before_counts
                assert stored_balances(uow, world) == before_balances
                continue
            assert not refusal, f"{op} succeeded; expected one of {refusal}"
            event(f"{type(op).__name__} done")
            effect = expected_effect(world, op)
            payment_id = getattr(result, "payment_id", None)
            uow.commit()  # an outbound payment is settled by the (eager) task here
        with platform.uow() as uow:
            if isinstance(op, Reverse):
                # A reversal gives back to each account exactly what the entry moved.
                now_balances = stored_balances(uow, world)
                reversed_entry = world.entries[op.pick % len(world.entries)]
                for index, moved in reversed_entry.effects.items():
                    assert now_balances[index][0] == before_balances[index][0] - moved
            if isinstance(op, PayOut):
                payment = LedgerRepository(uow.session).payment(payment_id)
                assert payment.status == (PaymentStatus.REJECTED if op.rejected_by_scheme
                                          else PaymentStatus.ACCEPTED_SETTLEMENT_COMPLETED)
            for index, delta in effect.items():
                world.accounts[index].booked += delta
            record_new_entries(uow, world)
            assert_ledger_is_sound(uow, world, now)
