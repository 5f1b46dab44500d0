"""Scheduled payments and standing orders paid on their dates by the beat task, across a
clock moved forward as the sandbox moves it, read back as a TPP reads them: the AIS
`standing-orders`, `scheduled-payments` and `transactions` endpoints over HTTP with a real
consent and DPoP-bound token.

The test clock starts on Monday 2026-06-15. England & Wales bank holidays used here: Good
Friday 2027-03-26, Easter Monday 2027-03-29, early May 2028-05-01, Christmas 2027's
substitutes 2027-12-27 and 28.
"""
from __future__ import annotations

import threading
from datetime import date, datetime, time, timezone

import pytest
from sqlalchemy import func, select

from aspsp.db import Database
from aspsp.ledger import models, schedules, services
from aspsp.ledger.money import Money
from aspsp.ledger.schedule_tasks import run_schedules
from tests import factories
from tests.conftest import create_pg_database, drop_pg_database, service_missing
from tests.integration.ais.conftest import data_of, grant  # noqa: F401  (fixture)
from tests.integration.consent.conftest import (  # noqa: F401  (fixtures)
    aisp, make_customer, make_tpp)

UTC = timezone.utc
READ = ["ReadAccountsDetail", "ReadBalances", "ReadStandingOrdersDetail",
        "ReadScheduledPaymentsDetail", "ReadTransactionsCredits", "ReadTransactionsDebits",
        "ReadTransactionsDetail"]


def at(day: str, hour: int = 9, minute: int = 0) -> datetime:
    return datetime.combine(date.fromisoformat(day), time(hour, minute), tzinfo=UTC)


def gbp(amount: str) -> Money:
    return Money.of(amount, "GBP")


def iso(value: datetime) -> str:
    return value.isoformat()


def move_clock_to(clock, when: datetime) -> None:
    """Forward only, as the sandbox moves it."""
    assert when >= clock.now()
    clock.advance(when - clock.now())


@pytest.fixture
def bank(platform, clock, make_customer):
    """A customer with a funded current account and a second account (the creditor)."""
    customer = make_customer(accounts=2)
    with platform.uow() as uow:
        factories.fund(uow, customer.account_ids[0], "1000.00", now=clock.now())
        uow.commit()
    return customer


@pytest.fixture
def ais(grant, aisp, bank):
    """What the TPP reads, through the AIS API, with a consent granted at the moment of
    reading (the clock may have moved a year)."""
    class Reader:
        def get(self, path: str):
            return data_of(grant(aisp, bank, READ).get(path))

        def standing_orders(self) -> list[dict]:
            return self.get(f"/accounts/{bank.account_ids[0]}/standing-orders")[
                "StandingOrder"]

        def scheduled_payments(self) -> list[dict]:
            return self.get(f"/accounts/{bank.account_ids[0]}/scheduled-payments").get(
                "ScheduledPayment", [])

        def debits(self, account: int = 0) -> list[dict]:
            rows = self.get(f"/accounts/{bank.account_ids[account]}/transactions")[
                "Transaction"]
            return sorted((r for r in rows if r["CreditDebitIndicator"] == "Debit"),
                          key=lambda r: r["ValueDateTime"])

        def balance(self, account: int = 0) -> str:
            rows = self.get(f"/accounts/{bank.account_ids[account]}/balances")["Balance"]
            booked = [b for b in rows if b["Type"] == "InterimBooked"][0]
            sign = "-" if booked["CreditDebitIndicator"] == "Debit" else ""
            return sign + booked["Amount"]["Amount"]
    return Reader()


def creditor_of(platform, account_id: str) -> services.Creditor:
    with platform.uow() as uow:
        account = services.LedgerRepository(uow.session).account(account_id)
        return services.Creditor(account.name, "UK.OBIE.SortCodeAccountNumber",
                                 account.sort_code + account.account_number)


def standing_order(platform, clock, bank, **kw) -> str:
    kw.setdefault("creditor", creditor_of(platform, bank.account_ids[1]))
    kw.setdefault("reference", "RENT")
    with platform.uow() as uow:
        order = schedules.create_standing_order(
            uow, debtor_account_id=bank.account_ids[0], now=clock.now(), **kw)
        uow.commit()
        return order.standing_order_id


def scheduled_payment(platform, clock, bank, **kw) -> str:
    kw.setdefault("creditor", creditor_of(platform, bank.account_ids[1]))
    kw.setdefault("reference", "ONE-OFF")
    with platform.uow() as uow:
        row = schedules.create_scheduled_payment(
            uow, debtor_account_id=bank.account_ids[0], now=clock.now(), **kw)
        uow.commit()
        return row.scheduled_payment_id


def state_of(platform, standing_order_id=None, scheduled_payment_id=None):
    with platform.uow() as uow:
        if standing_order_id:
            return schedules.standing_order_state(uow, standing_order_id)
        return schedules.scheduled_payment_state(uow, scheduled_payment_id)


def beat(app) -> int:
    """One run of the beat task, as Celery beat sends it."""
    return app.extensions["celery"].tasks["ledger.run_schedules"].delay().get()


def reconciled(platform) -> list:
    with platform.uow() as uow:
        return services.reconcile_balances(uow)


# --- appearing at once -------------------------------------------------------------------
def test_a_new_standing_order_and_scheduled_payment_show_in_ais_at_once(platform, clock, bank,
                                                                        ais):
    order_id = standing_order(platform, clock, bank, frequency="IntrvlMnthDay:01:-01",
                              first_payment_at=at("2026-06-30"), first_amount=gbp("10.00"),
                              recurring_amount=gbp("20.00"), number_of_payments=3,
                              final_amount=gbp("5.50"))
    single_id = scheduled_payment(platform, clock, bank, amount=gbp("7.25"),
                                  execute_at=at("2026-07-04", 10))   # a Saturday

    [order] = ais.standing_orders()
    assert order["StandingOrderId"] == order_id
    assert (order["Frequency"], order["StandingOrderStatusCode"], order["NumberOfPayments"]) \
        == ("IntrvlMnthDay:01:-01", "Active", "3")
    assert order["NextPaymentDateTime"] == "2026-06-30T09:00:00+00:00"
    assert order["FinalPaymentDateTime"] == "2026-09-01T09:00:00+00:00"  # 31 Aug a holiday
    assert order["FirstPaymentAmount"] == {"Amount": "10.00", "Currency": "GBP"}
    assert order["NextPaymentAmount"] == {"Amount": "10.00", "Currency": "GBP"}
    assert order["FinalPaymentAmount"] == {"Amount": "5.50", "Currency": "GBP"}
    assert "LastPaymentDateTime" not in order
    [single] = ais.scheduled_payments()
    assert (single["ScheduledPaymentId"], single["ScheduledPaymentDateTime"],
            single["InstructedAmount"]) == (single_id, "2026-07-04T10:00:00+00:00",
                                            {"Amount": "7.25", "Currency": "GBP"})
    assert state_of(platform, scheduled_payment_id=single_id).next_payment_at == \
        at("2026-07-06", 10)                                   # paid on Monday


# --- month ends and 29 February ----------------------------------------------------------
def test_month_end_order_over_a_leap_february_paid_after_the_clock_moves(app, platform,
                                                                         clock, bank, ais):
    order_id = standing_order(platform, clock, bank, frequency="IntrvlMnthDay:01:-01",
                              first_payment_at=at("2027-12-31"), first_amount=gbp("10.00"),
                              recurring_amount=gbp("20.00"), final_amount=gbp("5.00"),
                              number_of_payments=5)
    move_clock_to(clock, at("2028-06-01"))
    assert beat(app) == 5

    debits = ais.debits()
    assert [(d["ValueDateTime"], d["Amount"]["Amount"]) for d in debits] == [
        ("2027-12-31T09:00:00+00:00", "10.00"), ("2028-01-31T09:00:00+00:00", "20.00"),
        ("2028-02-29T09:00:00+00:00", "20.00"), ("2028-03-31T09:00:00+00:00", "20.00"),
        ("2028-05-02T09:00:00+00:00", "5.00")]   # 30 April a Sunday, 1 May a holiday
    assert all(d["TransactionReference"] == "RENT" for d in debits)
    assert ais.balance() == "925.00" and ais.balance(1) == "75.00"
    [order] = ais.standing_orders()
    assert order["StandingOrderId"] == order_id
    assert order["StandingOrderStatusCode"] == "Inactive"
    assert order["LastPaymentDateTime"] == "2028-05-02T09:00:00+00:00"
    assert order["LastPaymentAmount"] == {"Amount": "5.00", "Currency": "GBP"}
    assert "NextPaymentDateTime" not in order
    assert beat(app) == 0
    assert reconciled(platform) == []


def test_the_29th_in_a_common_year_and_easter_day_by_day(app, platform, clock, bank, ais):
    order_id = standing_order(platform, clock, bank, frequency="IntrvlMnthDay:01:29",
                              first_payment_at=at("2027-01-29", 6, 30),
                              first_amount=gbp("12.34"))
    move_clock_to(clock, at("2027-01-29", 6, 29))
    assert beat(app) == 0                                      # not yet its time
    move_clock_to(clock, at("2027-01-29", 6, 30))
    assert beat(app) == 1
    [order] = ais.standing_orders()
    assert order["NextPaymentDateTime"] == "2027-03-01T06:30:00+00:00"  # 28 Feb a Sunday
    assert order["LastPaymentDateTime"] == "2027-01-29T06:30:00+00:00"

    move_clock_to(clock, at("2027-02-28", 23, 59))
    assert beat(app) == 0                                      # Sunday: nothing
    move_clock_to(clock, at("2027-03-01", 7))
    assert beat(app) == 1
    move_clock_to(clock, at("2027-03-29", 12))                 # Easter Monday
    assert beat(app) == 0
    [order] = ais.standing_orders()
    assert order["NextPaymentDateTime"] == "2027-03-30T06:30:00+00:00"
    assert order["StandingOrderStatusCode"] == "Active"        # open-ended
    move_clock_to(clock, at("2027-03-30", 6, 31))
    assert beat(app) == 1
    assert [d["ValueDateTime"] for d in ais.debits()] == [
        "2027-01-29T06:30:00+00:00", "2027-03-01T06:30:00+00:00", "2027-03-30T06:30:00+00:00"]
    state = state_of(platform, standing_order_id=order_id)
    assert [x.instalment for x in state.executions] == [1, 2, 3]
    assert {x.status for x in state.executions} == {"AcceptedSettlementCompleted"}


# --- weekends and bank holidays ----------------------------------------------------------
def test_quarter_days_over_christmas_and_a_weekend(app, platform, clock, bank, ais):
    standing_order(platform, clock, bank, frequency="QtrDay:ENGLISH",
                   first_payment_at=at("2027-09-29", 8), first_amount=gbp("100.00"),
                   number_of_payments=3)
    move_clock_to(clock, at("2028-04-01"))
    assert beat(app) == 3
    assert [d["ValueDateTime"] for d in ais.debits()] == [
        "2027-09-29T08:00:00+00:00",
        "2027-12-29T08:00:00+00:00",   # 25 Dec a Saturday, 27 and 28 its substitutes
        "2028-03-27T08:00:00+00:00"]   # 25 March a Saturday


def test_a_scheduled_payment_on_good_friday_is_paid_the_tuesday_after(app, platform, clock,
                                                                      bank, ais):
    single_id = scheduled_payment(platform, clock, bank, amount=gbp("50.00"),
                                  execute_at=at("2027-03-26", 11),
                                  end_to_end_identification="E2E-GOOD-FRIDAY")
    move_clock_to(clock, at("2027-03-29", 23, 59))
    assert beat(app) == 0
    assert len(ais.scheduled_payments()) == 1
    move_clock_to(clock, at("2027-03-30", 11))
    assert beat(app) == 1
    assert ais.scheduled_payments() == []                      # paid: no longer scheduled
    [debit] = ais.debits()
    assert debit["ValueDateTime"] == "2027-03-30T11:00:00+00:00"
    state = state_of(platform, scheduled_payment_id=single_id)
    assert state.status == "Executed" and state.next_payment_at is None
    [execution] = state.executions
    assert execution.status == "AcceptedSettlementCompleted"
    with platform.uow() as uow:
        payment = services.LedgerRepository(uow.session).payment(execution.payment_id)
        assert payment.end_to_end_identification == "E2E-GOOD-FRIDAY"


def test_every_working_day_skips_weekends_and_holidays(app, platform, clock, bank, ais):
    standing_order(platform, clock, bank, frequency="EvryWorkgDay",
                   first_payment_at=at("2027-12-23"), first_amount=gbp("1.00"),
                   final_payment_at=at("2028-01-05"), final_amount=gbp("2.00"))
    move_clock_to(clock, at("2028-01-10"))
    assert beat(app) == 7
    assert [(d["ValueDateTime"][:10], d["Amount"]["Amount"]) for d in ais.debits()] == [
        ("2027-12-23", "1.00"), ("2027-12-24", "1.00"), ("2027-12-29", "1.00"),
        ("2027-12-30", "1.00"), ("2027-12-31", "1.00"), ("2028-01-04", "1.00"),
        ("2028-01-05", "2.00")]


# --- amounts and counts ------------------------------------------------------------------
def test_first_recurring_and_final_amounts_with_a_first_recurring_date(app, platform, clock,
                                                                       bank, ais):
    order_id = standing_order(platform, clock, bank, frequency="IntrvlWkDay:02:03",
                              first_payment_at=at("2027-01-04"), first_amount=gbp("99.99"),
                              recurring_payment_at=at("2027-01-13"),
                              recurring_amount=gbp("25.00"), final_amount=gbp("0.01"),
                              number_of_payments=4)
    move_clock_to(clock, at("2027-01-20"))
    assert beat(app) == 2
    [order] = ais.standing_orders()
    assert order["NextPaymentDateTime"] == "2027-01-27T09:00:00+00:00"
    assert order["NextPaymentAmount"] == {"Amount": "25.00", "Currency": "GBP"}
    assert order["LastPaymentAmount"] == {"Amount": "25.00", "Currency": "GBP"}
    move_clock_to(clock, at("2027-03-01"))
    assert beat(app) == 2
    assert [(d["ValueDateTime"][:10], d["Amount"]["Amount"]) for d in ais.debits()] == [
        ("2027-01-04", "99.99"), ("2027-01-13", "25.00"), ("2027-01-27", "25.00"),
        ("2027-02-10", "0.01")]
    state = state_of(platform, standing_order_id=order_id)
    assert (state.status, state.next_payment_at, state.last_amount) == (
        "Inactive", None, gbp("0.01"))


# --- a payment that cannot be made -------------------------------------------------------
def test_an_instalment_without_funds_is_rejected_and_the_order_goes_on(app, platform, clock,
                                                                       make_customer, grant,
                                                                       aisp):
    customer = make_customer(accounts=2)
    with platform.uow() as uow:
        factories.fund(uow, customer.account_ids[0], "15.00", now=clock.now())
        uow.commit()
    order_id = standing_order(platform, clock, customer, frequency="IntrvlMnthDay:01:01",
                              first_payment_at=at("2026-07-01"), first_amount=gbp("10.00"),
                              number_of_payments=3)
    move_clock_to(clock, at("2026-08-03", 12))                 # 1 August a Sunday
    assert beat(app) == 2                                      # one paid, one refused
    state = state_of(platform, standing_order_id=order_id)
    assert [(x.instalment, x.status, x.payment_id is not None) for x in state.executions] == [
        (1, "AcceptedSettlementCompleted", True), (2, "Rejected", False)]
    assert state.executions[1].rejection_reason == \
        "Insufficient funds in the debtor account on the payment date"
    access = grant(aisp, customer, READ)
    [order] = data_of(access.get(f"/accounts/{customer.account_ids[0]}/standing-orders"))[
        "StandingOrder"]
    assert order["StandingOrderStatusCode"] == "Active"
    assert order["LastPaymentDateTime"] == "2026-07-01T09:00:00+00:00"   # the one made
    assert order["NextPaymentDateTime"] == "2026-09-01T09:00:00+00:00"   # not retried

    with platform.uow() as uow:
        factories.fund(uow, customer.account_ids[0], "20.00", now=clock.now())
        uow.commit()
    move_clock_to(clock, at("2026-09-01", 9))
    assert beat(app) == 1
    state = state_of(platform, standing_order_id=order_id)
    assert state.status == "Inactive" and state.executions[2].status == \
        "AcceptedSettlementCompleted"
    with platform.uow() as uow:
        bal = {b.type: b.amount for b in services.balances(uow, customer.account_ids[0],
                                                          now=clock.now())}
    assert bal["InterimBooked"] == gbp("15.00")               # 15 + 20 - 10 - 10
    assert reconciled(platform) == []


def test_a_scheduled_payment_without_funds_is_rejected_for_good(app, platform, clock, bank,
                                                                ais):
    single_id = scheduled_payment(platform, clock, bank, amount=gbp("1000.01"),
                                  execute_at=at("2026-06-16", 10))
    move_clock_to(clock, at("2026-06-17"))
    assert beat(app) == 1
    state = state_of(platform, scheduled_payment_id=single_id)
    assert state.status == "Rejected" and state.executions[0].status == "Rejected"
    assert state.executions[0].payment_id is None
    assert ais.scheduled_payments() == [] and ais.debits() == []
    assert ais.balance() == "1000.00"
    assert beat(app) == 0


def test_a_cancelled_scheduled_payment_is_never_paid(app, platform, clock, bank, ais):
    single_id = scheduled_payment(platform, clock, bank, amount=gbp("5.00"),
                                  execute_at=at("2026-06-16", 10))
    with platform.uow() as uow:
        schedules.cancel_scheduled_payment(uow, single_id, now=clock.now())
        uow.commit()
    move_clock_to(clock, at("2026-06-20"))
    assert beat(app) == 0
    assert ais.scheduled_payments() == [] and ais.debits() == []


def test_a_cancelled_standing_order_pays_no_more(app, platform, clock, bank, ais):
    order_id = standing_order(platform, clock, bank, frequency="IntrvlWkDay:01:02",
                              first_payment_at=at("2026-06-16"), first_amount=gbp("3.00"),
                              number_of_payments=10)
    move_clock_to(clock, at("2026-06-24"))
    assert beat(app) == 2
    with platform.uow() as uow:
        schedules.cancel_standing_order(uow, order_id, now=clock.now())
        uow.commit()
    move_clock_to(clock, at("2026-08-01"))
    assert beat(app) == 0
    [order] = ais.standing_orders()
    assert order["StandingOrderStatusCode"] == "Inactive" and "NextPaymentDateTime" not in order
    assert order["LastPaymentDateTime"] == "2026-06-23T09:00:00+00:00"
    assert state_of(platform, standing_order_id=order_id).status == "Cancelled"


def test_a_finished_standing_order_is_inactive_not_cancelled(app, platform, clock, bank):
    order_id = standing_order(platform, clock, bank, frequency="EvryDay",
                              first_payment_at=at("2026-06-16"), first_amount=gbp("1.00"),
                              number_of_payments=2)
    move_clock_to(clock, at("2026-06-20"))
    assert beat(app) == 2
    assert state_of(platform, standing_order_id=order_id).status == "Inactive"


# --- outbound through the scheme ---------------------------------------------------------
def test_an_instalment_to_another_bank_settles_through_the_scheme(app, platform, clock, bank,
                                                                  ais):
    order_id = standing_order(platform, clock, bank, frequency="IntrvlMnthDay:01:15",
                              first_payment_at=at("2026-07-15"), first_amount=gbp("30.00"),
                              number_of_payments=2,
                              creditor=services.Creditor("Acme Lettings",
                                                         "UK.OBIE.SortCodeAccountNumber",
                                                         "20000012345678"))
    move_clock_to(clock, at("2026-08-20"))
    assert beat(app) == 2
    state = state_of(platform, standing_order_id=order_id)
    assert [x.status for x in state.executions] == ["AcceptedSettlementCompleted"] * 2
    debits = ais.debits()
    assert [(d["ValueDateTime"], d["Status"]) for d in debits] == [
        ("2026-07-15T09:00:00+00:00", "Booked"), ("2026-08-17T09:00:00+00:00", "Booked")]
    assert debits[0]["CreditorAccount"]["Identification"] == "20000012345678"
    assert ais.balance() == "940.00"
    assert reconciled(platform) == []


def test_an_order_from_the_sandbox_history_is_paid_once_a_month(app, platform, clock, bank,
                                                               ais):
    """A standing order row as `flask sandbox seed` writes it: none of the engine's columns,
    its next date rolled off weekends only (so 1 January 2027, a bank holiday)."""
    with platform.uow() as uow:
        account = services.LedgerRepository(uow.session).account(bank.account_ids[0])
        payee = creditor_of(platform, bank.account_ids[1])
        uow.session.add(models.StandingOrder(
            standing_order_id="seeded-order", account_pk=account.id,
            frequency="IntrvlMnthDay:01:01", reference="SEEDED", status="Active",
            first_payment_datetime=at("2026-05-01", 5, 30),
            next_payment_datetime=at("2027-01-01", 5, 30), amount_minor=12_50, currency="GBP",
            creditor_name=payee.name, creditor_scheme=payee.scheme,
            creditor_identification=payee.identification))
        uow.commit()
    move_clock_to(clock, at("2027-02-10"))
    assert beat(app) == 2
    assert [(d["ValueDateTime"], d["Amount"]["Amount"]) for d in ais.debits()] == [
        ("2027-01-01T05:30:00+00:00", "12.50"), ("2027-02-01T05:30:00+00:00", "12.50")]
    [order] = ais.standing_orders()
    assert order["NextPaymentDateTime"] == "2027-03-01T05:30:00+00:00"


# --- exactly once ------------------------------------------------------------------------
def test_running_twice_pays_nothing_twice(app, platform, clock, bank):
    standing_order(platform, clock, bank, frequency="EvryDay", first_payment_at=at("2026-06-16"),
                   first_amount=gbp("1.00"))
    scheduled_payment(platform, clock, bank, amount=gbp("2.00"), execute_at=at("2026-06-18"))
    move_clock_to(clock, at("2026-06-20", 12))
    with platform.uow() as uow:
        first = schedules.run_due(uow, clock.now())
    with platform.uow() as uow:
        second = schedules.run_due(uow, clock.now())
    assert [x.due.date().isoformat() for x in first] == [
        "2026-06-16", "2026-06-17", "2026-06-18", "2026-06-18", "2026-06-19", "2026-06-20"]
    assert second == []
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(models.Payment)) == 6
        assert uow.session.scalar(select(func.count())
                                  .select_from(models.ScheduleExecution)) == 6


def test_an_instalment_that_fails_unexpectedly_holds_up_no_other(app, platform, clock, bank,
                                                                 ais, monkeypatch):
    """Fault injection: the ledger fails (not refuses) for one creditor. That schedule is
    passed over and stays due; the later ones are paid; the next run pays it."""
    broken = services.Creditor("Broken Ltd", "UK.OBIE.SortCodeAccountNumber",
                               "20000011111111")
    first = scheduled_payment(platform, clock, bank, amount=gbp("1.00"),
                              execute_at=at("2026-06-16"), creditor=broken)
    second = scheduled_payment(platform, clock, bank, amount=gbp("2.00"),
                               execute_at=at("2026-06-17"))
    real_pay = services.pay

    def pay(uow, **kw):
        if kw["creditor"].name == "Broken Ltd":
            raise RuntimeError("the ledger is broken for this creditor")
        return real_pay(uow, **kw)

    monkeypatch.setattr(services, "pay", pay)
    move_clock_to(clock, at("2026-06-18"))
    assert beat(app) == 1
    assert state_of(platform, scheduled_payment_id=first).status == "Scheduled"
    assert state_of(platform, scheduled_payment_id=second).status == "Executed"
    monkeypatch.setattr(services, "pay", real_pay)
    assert beat(app) == 1
    assert state_of(platform, scheduled_payment_id=first).status == "Executed"
    assert reconciled(platform) == []


@pytest.fixture
def own_postgres():
    """A PostgreSQL database of this test's own: two runners commit for real."""
    try:
        url = create_pg_database("aspsp_schedules")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    db = Database(url)
    yield db
    db.engine.dispose()
    drop_pg_database(url)


def test_two_runners_at_once_on_postgresql_pay_each_instalment_once(own_postgres):
    db, now = own_postgres, at("2026-06-15", 12)
    with db.uow() as uow:
        owner = factories.party(uow, now=now)
        debtors = [factories.account(uow, now=now, owner=owner, funded="500.00")
                   for _ in range(4)]
        payee = factories.account(uow, now=now)
        creditor = services.Creditor("Payee", "UK.OBIE.SortCodeAccountNumber",
                                     payee.sort_code + payee.account_number)
        for i in range(12):
            schedules.create_standing_order(
                uow, debtor_account_id=debtors[i % 4].account_id, creditor=creditor,
                frequency="EvryDay", first_payment_at=at("2026-06-16"),
                first_amount=gbp("1.00"), number_of_payments=5, now=now)
        uow.commit()
    later, barrier, results = at("2026-06-30"), threading.Barrier(2), []

    def runner():
        barrier.wait()
        with db.uow() as uow:
            results.append(schedules.run_due(uow, later))

    threads = [threading.Thread(target=runner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    executed = [(x.schedule_id, x.instalment) for run in results for x in run]
    assert len(executed) == 60 and len(set(executed)) == 60   # 12 orders x 5, each once
    with db.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(models.Payment)) == 60
        balance = services.balances(uow, payee.account_id, now=later)[1].amount
        assert balance == gbp("60.00")
        assert services.reconcile_balances(uow) == []
        assert set(uow.session.scalars(select(models.StandingOrder.status))) == {"Inactive"}


# --- what the bank refuses to set up -----------------------------------------------------
@pytest.mark.parametrize("change, field, says", [
    ({"frequency": "IntrvlMnthDay:13:01"}, "Frequency", "interval in months"),
    ({"frequency": "Monthly"}, "Frequency", "not an OBIE frequency code"),
    ({"number_of_payments": 3, "final_payment_at": at("2026-12-01")}, "NumberOfPayments",
     "not both"),
    ({"final_amount": gbp("1.00")}, "FinalPaymentAmount", "open-ended"),
    ({"first_amount": gbp("0.00")}, "FirstPaymentAmount", "more than zero"),
    ({"first_amount": Money.of("10.00", "EUR")}, "FirstPaymentAmount", "in EUR"),
    ({"recurring_amount": gbp("-1.00")}, "RecurringPaymentAmount", "more than zero"),
    ({"first_payment_at": at("2026-06-14")}, "FirstPaymentDateTime", "in the past"),
    ({"recurring_payment_at": at("2026-06-30")}, "RecurringPaymentDateTime", "a day after"),
    ({"number_of_payments": 0}, "NumberOfPayments", "at least 1"),
    ({"creditor": services.Creditor("X", "UK.OBIE.SortCodeAccountNumber", "1234")},
     "CreditorAccount", "14 digits"),
])
def test_a_standing_order_that_cannot_be_paid_is_refused_and_nothing_written(
        platform, clock, bank, change, field, says):
    kw = {"frequency": "IntrvlMnthDay:01:01", "first_payment_at": at("2026-07-01"),
          "first_amount": gbp("10.00"), **change}
    with pytest.raises(schedules.InvalidSchedule) as raised:
        standing_order(platform, clock, bank, **kw)
    assert raised.value.field == field and says in raised.value.message
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count())
                                  .select_from(models.StandingOrder)) == 0


def test_a_scheduled_payment_in_the_past_or_in_another_currency_is_refused(platform, clock,
                                                                          bank):
    with pytest.raises(schedules.InvalidSchedule) as raised:
        scheduled_payment(platform, clock, bank, amount=gbp("1.00"),
                          execute_at=at("2026-06-14"))
    assert raised.value.field == "RequestedExecutionDateTime"
    with pytest.raises(schedules.InvalidSchedule) as raised:
        scheduled_payment(platform, clock, bank, amount=Money.of("1.00", "USD"),
                          execute_at=at("2026-06-16"))
    assert raised.value.field == "InstructedAmount"


def test_the_beat_schedule_runs_the_schedules_every_minute(app):
    from datetime import timedelta
    entry = app.extensions["celery"].conf.beat_schedule["run-schedules"]
    assert entry["task"] == "ledger.run_schedules" == run_schedules.name
    assert entry["schedule"] == timedelta(minutes=1)
