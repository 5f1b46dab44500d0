"""The sandbox clock (sandbox/clock.py): `flask sandbox clock advance` moves the time that every
process of the deployment reads, forward only, and what fell due is then paid.

Each test has a database of its own that really commits (the offset is read on a connection
of its own, as another process would read it)."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone

import pytest

from aspsp.ledger import schedules, services
from aspsp.ledger.money import Money
from bank import create_app
from sandbox.clock import SandboxClock
from tests import factories
from tests.conftest import NOW
from tests.integration.sandbox.seeding import fresh_database

UTC = timezone.utc


class Ticks:
    """A monotonic clock the test moves: how long since a process last read the offset."""
    def __init__(self):
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def make_app(url, tmp_path):
    """Apps on one database as the processes of one deployment: no CLOCK given, so the
    sandbox installs its own."""
    apps = []

    def build():
        app = create_app({"DATABASE_URL": url, "CELERY_ALWAYS_EAGER": True,
                          "INSTANCE_PATH": str(tmp_path / "instance"),
                          "SECRET_KEY": "test-secret", "TESTING": True})
        apps.append(app)
        return app
    yield build
    for app in apps:
        app.extensions["aspsp"].db.engine.dispose()


def advance(app, *args: str):
    return app.test_cli_runner().invoke(args=["sandbox", "clock", "advance", *args])


def test_advancing_in_one_process_moves_every_processs_clock(make_app):
    web, worker = make_app(), make_app()
    assert isinstance(web.extensions["aspsp"].clock, SandboxClock)
    ticks = Ticks()
    seen = SandboxClock(worker.extensions["aspsp"].db, frozen_at=NOW, monotonic=ticks)
    assert seen.now() == NOW

    result = advance(web, "--days", "30", "--hours", "6")
    assert result.exit_code == 0, result.output
    assert "The sandbox clock now reads" in result.output
    assert seen.now() == NOW                       # read less than REFRESH_SECONDS ago
    ticks.value += 2
    assert seen.now() == NOW + timedelta(days=30, hours=6)

    assert advance(worker, "--days", "1").exit_code == 0
    ticks.value += 2
    assert seen.now() == NOW + timedelta(days=31, hours=6)   # offsets add up
    fresh = SandboxClock(make_app().extensions["aspsp"].db, frozen_at=NOW)
    assert fresh.now() == NOW + timedelta(days=31, hours=6)  # a process started later


def test_the_clock_never_goes_back(make_app):
    app = make_app()
    clock = app.extensions["aspsp"].clock
    with pytest.raises(ValueError):
        clock.advance(timedelta(days=-1))
    result = advance(app)
    assert result.exit_code == 2 and "--days N" in result.output
    result = advance(app, "--days", "-3")
    assert result.exit_code == 2
    assert clock.offset == timedelta(0)


def test_advance_with_run_pays_what_fell_due_in_date_order(make_app):
    app = make_app()
    platform = app.extensions["aspsp"]
    platform.clock = SandboxClock(platform.db, frozen_at=NOW, monotonic=Ticks())
    with app.app_context(), platform.uow() as uow:
        debtor = factories.account(uow, now=NOW, funded="100.00")
        payee = factories.account(uow, now=NOW)
        creditor = services.Creditor("Payee", "UK.OBIE.SortCodeAccountNumber",
                                     payee.sort_code + payee.account_number)
        first = datetime.combine(date(2026, 6, 30), time(9), tzinfo=UTC)
        order = schedules.create_standing_order(
            uow, debtor_account_id=debtor.account_id, creditor=creditor,
            frequency="IntrvlMnthDay:01:-01", first_payment_at=first,
            first_amount=Money.of("10.00", "GBP"), now=NOW)
        uow.commit()
        order_id = order.standing_order_id

    result = advance(app, "--days", "65", "--run")
    assert result.exit_code == 0, result.output
    assert "Paid 2 scheduled payment(s)" in result.output
    with app.app_context(), platform.uow() as uow:
        state = schedules.standing_order_state(uow, order_id)
    assert [x.due.date().isoformat() for x in state.executions] == ["2026-06-30",
                                                                    "2026-07-31"]
    assert state.next_payment_at.date().isoformat() == "2026-09-01"   # 31 Aug a holiday


def test_before_the_migrations_the_clock_reads_the_wall_clock(tmp_path):
    from aspsp.db import Database
    db = Database(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    try:
        assert SandboxClock(db, frozen_at=NOW).now() == NOW
    finally:
        db.engine.dispose()
