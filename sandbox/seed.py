"""The sandbox bank's data: `flask sandbox seed`.

Realistic customers (Faker's en_GB names, addresses in real towns, phone numbers from Ofcom's
drama ranges), personal and business accounts, and months of history posted in chronological
order through the ledger services: salaries, rent and mortgages, bills by direct debit, card
spending at merchants with their MCCs, cash, transfers between a customer's own accounts,
business income and costs. Beneficiaries, standing orders, direct-debit mandates, scheduled
payments, offers and monthly statements come with them, and the named demo users below.

The same `--seed` and `--as-of` give the same data, id for id: every choice comes from a
`random.Random` seeded from them, one per customer.
"""
from __future__ import annotations

import dataclasses
import functools
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Callable

from faker import Faker
from sqlalchemy import MetaData, delete, func, or_, select, true

from aspsp.db import Database
from aspsp.identity.models import PsuUser
from aspsp.identity.passwords import hash_password
from aspsp.identity.services import seal_totp_secret
from aspsp.keyring import Keyring
from aspsp.ids import new_id
from aspsp.ledger import models, services
from aspsp.ledger.domain import AccountKind

from . import catalogue as cat
from .history import (Built, Customer, Frame, business_customer, personal_customer,
                      plan_business, plan_person, plan_personal)

SANDBOX_PASSWORD = "sandbox-pass-1"


@dataclass(frozen=True)
class DemoUser:
    username: str
    password: str
    totp_secret: str          # base32; any authenticator app or `pyotp.TOTP(secret).now()`
    customer: str
    who: str
    accounts: tuple[str, ...]


DEMO_USERS: tuple[DemoUser, ...] = (
    DemoUser("alice", SANDBOX_PASSWORD, "ALICESANDBOXTOTPSECRETKEY2345AAA", "Alice Morgan",
             "personal customer with two accounts",
             ("Everyday Current Account (Enabled, £500 arranged overdraft)",
              "Easy Access Saver (Enabled)")),
    DemoUser("brightcraft", SANDBOX_PASSWORD, "BRIGHTCRAFTSANDBOXTOTPSECRET2345", "Brightcraft Ltd",
             "business customer: a private limited company (UK.OBIE.PrivateLimitedCompany)",
             ("Business Current Account (Enabled, £5,000 arranged overdraft)",)),
    DemoUser("owen", SANDBOX_PASSWORD, "OWENSANDBOXTOTPSECRETKEY2345AAAA", "Owen Price",
             "personal customer in his arranged overdraft",
             ("Everyday Current Account (Enabled, overdrawn within its £1,500 arranged "
              "overdraft)",)),
    DemoUser("dana", SANDBOX_PASSWORD, "DANASANDBOXTOTPSECRETKEY2345AAAA", "Dana Whitfield",
             "personal customer with an enabled and a disabled account",
             ("Everyday Current Account (Enabled)", "Easy Access Saver (Disabled)")),
)


def demo_users_text() -> str:
    """The demo logins as lines of text, for the CLI, `make run` and the README."""
    lines = [f"Demo PSU logins (password for all: {SANDBOX_PASSWORD}):"]
    for user in DEMO_USERS:
        lines.append(f"  {user.username:<12} {user.customer} - {user.who}")
        lines.extend(f"  {'':<12}   * {account}" for account in user.accounts)
        lines.append(f"  {'':<12}   TOTP secret {user.totp_secret}")
    return "\n".join(lines)


@dataclass(frozen=True)
class SeedOptions:
    customers: int = 20        # random personal customers, on top of the demo users
    business: int = 5          # random business customers, on top of brightcraft
    months: int = 12
    seed: int = 42
    as_of: date | None = None  # "today" of the history; default the platform clock's


@dataclass
class SeedSummary:
    as_of: date
    customers: int = 0
    accounts: int = 0
    journal_entries: int = 0
    postings: int = 0
    statements: int = 0


class SeedRefused(Exception):
    """The database already holds bank data; seeding again would mix two banks."""


# what the seed writes -------------------------------------------------------------------
BANK_DATA_TABLES = ("parties", "products", "accounts", "account_parties", "journal_entries",
                    "postings", "payments", "beneficiaries", "direct_debits", "standing_orders",
                    "scheduled_payments", "statements", "offers", "psu_users")


def existing_bank_data(db: Database) -> dict[str, int]:
    """Rows that a seed would collide with: customers, their accounts, journal, logins."""
    checks = {"parties": select(func.count()).select_from(models.Party),
              "customer accounts": select(func.count()).select_from(models.Account)
              .where(models.Account.kind == AccountKind.CUSTOMER),
              "products": select(func.count()).select_from(models.Product),
              "journal entries": select(func.count()).select_from(models.JournalEntry),
              "PSU logins": select(func.count()).select_from(PsuUser)}
    with db.uow() as uow:
        counts = {name: uow.session.scalar(query) for name, query in checks.items()}
    return {name: count for name, count in counts.items() if count}


def reset_bank_data(db: Database) -> dict[str, int]:
    """Delete every row of the bank-data tables, and every row elsewhere that refers to one
    of them (a consent, token or login event of a deleted PSU, say). Nothing else is touched:
    TPP registrations, keys and settings stay. Returns the rows deleted per table."""
    with db.uow() as uow:
        metadata = MetaData()
        metadata.reflect(bind=uow.session.connection())
        doomed = _doomed_rows(metadata)
        deleted = {}
        for table in reversed(metadata.sorted_tables):
            if table.name in doomed:
                result = uow.session.execute(delete(table).where(doomed[table.name]))
                if result.rowcount:
                    deleted[table.name] = result.rowcount
        uow.commit()
    return deleted


def _doomed_rows(metadata: MetaData) -> dict:
    """table name -> the condition that picks its rows to delete. Parents come before their
    children in `sorted_tables`, so one pass sees every path back to a bank-data table."""
    conditions = {name: true() for name in BANK_DATA_TABLES if name in metadata.tables}
    for table in metadata.sorted_tables:
        refs = [fk for fk in table.foreign_keys
                if fk.column.table.name in conditions and fk.column.table is not table]
        if table.name not in conditions and refs:
            conditions[table.name] = or_(*(
                fk.parent.in_(select(fk.column).where(conditions[fk.column.table.name]))
                for fk in refs))
    return conditions


# seeding --------------------------------------------------------------------------------
def customer_keys(options: SeedOptions) -> list[str]:
    """Who gets seeded, in order: the demo users, then the random customers."""
    return ([user.username for user in DEMO_USERS]
            + [f"personal-{n}" for n in range(1, options.customers + 1)]
            + [f"business-{n}" for n in range(1, options.business + 1)])


def history_window(as_of: date, months: int) -> tuple[datetime, datetime]:
    first = as_of.replace(day=1)
    for _ in range(months):
        first = (first - timedelta(days=1)).replace(day=1)
    return (datetime.combine(first, time.min, tzinfo=timezone.utc),
            datetime.combine(as_of, time.min, tzinfo=timezone.utc))


def seed_bank(db: Database, options: SeedOptions, *, today: date,
              progress: Callable[[str], None] | None = None,
              keyring: Keyring | None = None) -> SeedSummary:
    """Seed an empty bank. Refuses (SeedRefused) when bank data is already there. The demo
    users' TOTP secrets are sealed with `keyring` (default: the running platform's, else the
    one the environment configures, as `flask db upgrade` uses)."""
    keyring = keyring or _platform_keyring(db)
    existing = existing_bank_data(db)
    if existing:
        found = ", ".join(f"{count} {name}" for name, count in existing.items())
        raise SeedRefused(f"the database already holds bank data ({found})")
    as_of = options.as_of or today
    start, end = history_window(as_of, options.months)
    frame = _set_up_bank(db, options.seed, start, end)
    summary = SeedSummary(as_of=as_of)
    fake = Faker("en_GB")
    for index, key in enumerate(customer_keys(options)):
        with db.uow() as uow:
            uow.keyring = keyring
            customer = Customer(uow, frame, key, index, fake)
            built = _build(customer, key)
            summary.statements += customer.finish(built.accounts)
            uow.commit()
        summary.customers += 1
        summary.accounts += len(built.accounts)
        if progress is not None:
            progress(key)
    with db.uow() as uow:
        summary.journal_entries = uow.session.scalar(
            select(func.count()).select_from(models.JournalEntry))
        summary.postings = uow.session.scalar(select(func.count()).select_from(models.Posting))
    return summary


def _set_up_bank(db: Database, seed: int, start: datetime, end: datetime) -> Frame:
    rng = random.Random(f"{seed}/bank")
    with db.uow() as uow:
        services.ensure_internal_accounts(uow, "GBP", now=start, rng=rng)
        products = {}
        for spec in cat.PRODUCTS:
            product = models.Product(product_id=new_id(rng), name=spec.name,
                                     product_type=spec.product_type,
                                     marketing_state_id="Regular", details=spec.details)
            uow.session.add(product)
            products[spec.key] = product.product_id
        internal = {code: services.internal_account_id(uow, code, "GBP")
                    for code in services.INTERNAL_CODES}
        uow.commit()
    return Frame(seed=seed, start=start, end=end, internal=internal, products=products,
                 number_offset=rng.randrange(90_000_000))


def _build(customer: Customer, key: str) -> Built:
    if key.startswith("personal-"):
        return personal_customer(customer, plan_personal(customer.rng, customer.fake))
    if key.startswith("business-"):
        return business_customer(customer, plan_business(customer.rng, customer.fake))
    built = _DEMO_BUILDERS[key](customer)
    user = next(u for u in DEMO_USERS if u.username == key)
    psu_id = new_id(customer.ids)
    customer.uow.session.add(PsuUser(
        psu_id=psu_id, username=user.username, password_hash=_password_hash(user.password),
        totp_secret=seal_totp_secret(customer.uow.keyring, psu_id, user.totp_secret),
        party=built.party, failed_attempts=0, created_at=customer.frame.start))
    return built


def _platform_keyring(db: Database) -> Keyring:
    from flask import has_app_context

    from aspsp import platform
    from aspsp.config import load_config
    from aspsp.keyring import from_config
    if has_app_context():
        return platform.current().keyring
    return from_config(load_config({"DATABASE_URL": db.url}))


@functools.lru_cache(maxsize=4)
def _password_hash(password: str) -> str:
    """argon2 is slow on purpose; the demo users share one documented password, so they
    share one hash (its salt is random: the hash differs from run to run, the login doesn't)."""
    return hash_password(password)


# the demo users' plans: fixed people and circumstances, amounts still from the seed ---------
def _town(name: str) -> cat.Town:
    return next(town for town in cat.TOWNS if town.name == name)


def _demo_person(c: Customer, first: str, last: str, town: str):
    return plan_person(c.rng, c.fake, first_name=first, last_name=last, town=_town(town),
                       email=f"{first}.{last}@example.com".lower())


def _alice(c: Customer) -> Built:
    plan = dataclasses.replace(
        plan_personal(c.rng, c.fake), person=_demo_person(c, "Alice", "Morgan", "Leeds"),
        employer="Harrow Lane Consulting Ltd", salary=3_400_00, payday=28, housing="rent",
        housing_to="Kirkgate Lettings Ltd", housing_pence=1_050_00, housing_day=1,
        appetite=0.9, opening_pence=2_400_00, overdraft_pence=500_00, savings=True,
        savings_opening_pence=6_000_00, savings_monthly_pence=300_00, car=False,
        subscriptions=3)
    return personal_customer(c, plan)


def _owen(c: Customer) -> Built:
    plan = dataclasses.replace(
        plan_personal(c.rng, c.fake), person=_demo_person(c, "Owen", "Price", "Cardiff"),
        employer="Taff Street Logistics Ltd", salary=1_700_00, payday=25, housing="rent",
        housing_to="Bute Lettings Ltd", housing_pence=875_00, housing_day=1, appetite=1.25,
        opening_pence=150_00, overdraft_pence=1_500_00, savings=False, car=True,
        subscriptions=4, overdrawn_at_end=True)
    return personal_customer(c, plan)


def _dana(c: Customer) -> Built:
    plan = dataclasses.replace(
        plan_personal(c.rng, c.fake), person=_demo_person(c, "Dana", "Whitfield", "Manchester"),
        employer="Irwell Healthcare Ltd", salary=2_900_00, payday=31, housing="mortgage",
        housing_to="Nationwide Building Society", housing_pence=980_00, housing_day=1,
        appetite=0.8, opening_pence=1_900_00, overdraft_pence=0, savings=True,
        savings_opening_pence=2_500_00, savings_monthly_pence=150_00,
        savings_disabled_days_before=45)
    return personal_customer(c, plan)


def _brightcraft(c: Customer) -> Built:
    base = plan_business(c.rng, c.fake)
    director = _demo_person(c, "Sam", "Okafor", "Bristol")
    plan = dataclasses.replace(
        base, trade_name="Brightcraft Ltd", legal_name="Brightcraft Ltd",
        legal_structure="UK.OBIE.PrivateLimitedCompany", director=director, employees=2,
        monthly_clients=(4, 9), invoice_pence=(300_00, 3_600_00), rent_pence=1_150_00,
        opening_pence=18_000_00, overdraft_pence=5_000_00,
        address={**base.address, "TownName": "Bristol", "CountrySubDivision": "Bristol",
                 "StreetName": "Cumberland Road", "BuildingNumber": "12", "PostCode": "BS1 6XN",
                 "AddressLine": ["Unit 7 Harbourside Works"]},
        email="accounts@brightcraft.example.com")
    return business_customer(c, plan)


_DEMO_BUILDERS = {"alice": _alice, "owen": _owen, "dana": _dana, "brightcraft": _brightcraft}
assert set(_DEMO_BUILDERS) == {u.username for u in DEMO_USERS}

