"""Helpers for the seed tests: fresh, migrated databases that really commit, the seed command
run as a user runs it, and a fingerprint of everything the seed wrote."""
from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import select

from aspsp.cli import upgrade
from aspsp.clock import Clock
from aspsp.identity.models import PsuUser
from aspsp.identity.services import totp_secret
from aspsp.ledger import models
from bank import create_app
from tests.conftest import NOW, create_pg_database, drop_pg_database, service_missing

SMALL = ["--customers", "2", "--business", "1", "--months", "2", "--as-of", "2026-06-15"]


@contextmanager
def fresh_database(engine: str, tmp_path):
    """A new database built from the migrations: an SQLite file, or a PostgreSQL database
    that is dropped afterwards."""
    if engine == "sqlite":
        url = f"sqlite:///{tmp_path / 'seed.sqlite'}"
        upgrade(url)
        yield url
        return
    try:
        url = create_pg_database("aspsp_seed")
    except Exception as error:  # the server is down
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    try:
        yield url
    finally:
        drop_pg_database(url)


@contextmanager
def seeded_app(url: str, tmp_path):
    app = create_app({"DATABASE_URL": url, "CLOCK": Clock(frozen_at=NOW),
                      "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path / "instance"),
                      "SECRET_KEY": "test-secret", "TESTING": True})
    try:
        yield app
    finally:
        app.extensions["aspsp"].db.engine.dispose()


def seed(app, *args: str):
    return app.test_cli_runner().invoke(args=["sandbox", "seed", *args])


def fingerprint(app) -> dict[str, list[tuple]]:
    """Everything the seed wrote, by opaque id (never by row number), in a stable order."""
    a, p, e = models.Account, models.Posting, models.JournalEntry
    with app.extensions["aspsp"].uow() as uow:
        def run(query) -> list[tuple]:
            return [tuple(row) for row in uow.session.execute(query)]

        return {
            "accounts": run(select(a.account_id, a.kind, a.internal_code, a.status, a.name,
                                   a.account_type, a.account_sub_type, a.sort_code,
                                   a.account_number, a.iban, a.credit_limit_minor,
                                   a.booked_minor, a.pending_debits_minor)
                            .order_by(a.account_id)),
            "postings": run(select(p.transaction_id, e.entry_id, e.kind, a.account_id,
                                   p.amount_minor, p.status, p.booking_datetime,
                                   p.balance_after_minor, p.transaction_reference,
                                   p.transaction_information, p.iso_code, p.iso_subcode,
                                   p.proprietary_code, p.merchant_name,
                                   p.merchant_category_code, p.card_instrument, p.counterparty)
                            .join(e, e.id == p.entry_pk).join(a, a.id == p.account_pk)
                            .order_by(p.transaction_id)),
            "parties": run(select(models.Party.party_id, models.Party.name, models.Party.email,
                                  models.Party.addresses).order_by(models.Party.party_id)),
            "statements": run(select(models.Statement.statement_id, models.Statement.start_datetime,
                                     models.Statement.opening_booked_minor,
                                     models.Statement.closing_booked_minor)
                              .order_by(models.Statement.statement_id)),
            "standing_orders": run(select(models.StandingOrder.standing_order_id,
                                          models.StandingOrder.amount_minor)
                                   .order_by(models.StandingOrder.standing_order_id)),
            "direct_debits": run(select(models.DirectDebit.direct_debit_id,
                                        models.DirectDebit.name)
                                 .order_by(models.DirectDebit.direct_debit_id)),
            # TOTP secrets are sealed with a fresh nonce each time: compare them opened
            "psu_users": [(u.psu_id, u.username, totp_secret(u, uow.keyring)) for u in
                          uow.session.scalars(select(PsuUser).order_by(PsuUser.psu_id))],
        }
