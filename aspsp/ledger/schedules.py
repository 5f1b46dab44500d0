"""The schedule engine: scheduled payments and standing orders, paid on their dates.

What the PIS API (and anything else that sets up a future payment) calls:

    create_scheduled_payment(uow, *, debtor_account_id, creditor, amount, execute_at, now,
                             reference=None, debtor_reference=None,
                             end_to_end_identification=None, scheduled_type="Execution",
                             exchange=None)
        -> models.ScheduledPayment            (scheduled_payment_id is its opaque id)
    create_standing_order(uow, *, debtor_account_id, creditor, frequency, first_payment_at,
                          first_amount, now, recurring_payment_at=None, recurring_amount=None,
                          final_payment_at=None, number_of_payments=None, final_amount=None,
                          reference=None, exchange=None)
        -> models.StandingOrder               (standing_order_id is its opaque id)
    scheduled_payment_state(uow, scheduled_payment_id) -> ScheduleState | None
    standing_order_state(uow, standing_order_id) -> ScheduleState | None
    cancel_scheduled_payment(uow, scheduled_payment_id, *, now) / cancel_standing_order(...)
    run_due(uow, now) -> list[Execution]      (the beat task `ledger.run_schedules`)

`creditor` is an `aspsp.ledger.services.Creditor`, amounts are `Money`, date-times are
timezone-aware. The create functions validate (a bad frequency, both NumberOfPayments and
FinalPaymentDateTime, a FinalPaymentAmount for an open-ended order, amounts not positive or
not in the account's currency, a date in the past: `InvalidSchedule`, whose `field` names the
OB Initiation field and whose message a TPP can act on), add the row and leave the commit to
the caller, like every ledger use case. The rows are the ones AIS reads, so a schedule shows
in `scheduled-payments` and `standing-orders` as soon as the caller commits.

Another currency (international scheduled payments and standing orders): with `exchange`
(exchange terms, `aspsp.ledger.fx.terms`) the amounts may be in any currency the bank trades,
not only the account's. They are kept as instructed (AIS shows them so), and each payment is
converted when it is made (`fx.convert_at_execution`: an Agreed contract at its rate, else
the bank's rate at that moment): the account is debited in its own currency, the ledger
entry's description says what was sent and at what rate, and the execution keeps the rate
applied and the amount debited (`exchange_rate`).

Dates (aspsp.ledger.frequency): a payment whose date is not a working day in England and
Wales is made on the next working day (EvryDay and IntrvlDay excepted: they name calendar
days); month ends, 29 February and the quarter days are the frequency module's.

Execution. `run_due` pays everything due at `now`, earliest due first across all schedules,
one instalment per transaction: the schedule row is locked (FOR UPDATE SKIP LOCKED on
PostgreSQL, so concurrent runners share the work; SQLite serialises writers), the payment is
made through `aspsp.ledger.services.pay` (an internal transfer to one of our accounts, else
outbound through the scheme; the settlement task goes after the commit), the execution is
recorded (unique per schedule and instalment: a second runner that somehow got past the lock
fails on the constraint and pays nothing) and the schedule advanced, then committed. Running
it twice, or in two processes at once, pays nothing twice. After a clock that moved forward
(the sandbox's), one run pays every instalment that fell due meanwhile, each in date order
and each with its own due date-time as its postings' value date-time (booking is the run's
time: when the money actually moved).

Charges. A context that sets up schedules may charge for each payment: a charger
registered with `on_instalment` (the PIS API's: the tariff of an international schedule's
consent, aspsp.pis.charges) is asked, inside the instalment's savepoint, what goes to the
creditor and then posts its charge with the payment (the postings valued at the due date
like the payment's). An account that cannot pay the amount and the charge refuses both:
the instalment is Rejected like any other refused payment, with nothing moved. Listeners
registered with `on_executed` hear of each instalment once it is recorded, in its
transaction (the PIS API's: a resource-update event to the TPP whose order set it up).

A payment that cannot be made (insufficient funds, a disabled or closed account, a creditor
the ledger refuses) moves no money: the execution is recorded as Rejected with its reason.
This bank's practice, as UK banks do with standing orders, is not to retry a missed
instalment: a standing order goes on with its next date (the missed one still counts
towards NumberOfPayments: the schedule is its dates), and a scheduled payment is Rejected
for good. A payment the scheme later rejects shows Rejected through its ledger payment.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Iterator, Protocol

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..db import UnitOfWork
from ..ids import new_id
from . import fx, models, services
from .domain import AccountKind
from .errors import (AccountNotActive, CurrencyMismatch, InsufficientFunds, InvalidAmount,
                     InvalidCounterparty, LedgerError)
from .frequency import (FINAL, FIRST, FrequencyError, Instalment, Schedule, one_off_due,
                        parse)
from .money import Money
from .services import Creditor, from_minor, to_minor

log = logging.getLogger(__name__)

SCHEDULED, EXECUTED, REJECTED, CANCELLED = "Scheduled", "Executed", "Rejected", "Cancelled"
ACTIVE, INACTIVE = "Active", "Inactive"
MAX_NUMBER_OF_PAYMENTS = 10_000


class InvalidSchedule(LedgerError):
    """A schedule the bank cannot take. `field` is the OB Initiation field at fault."""
    code = "Ledger.InvalidSchedule"

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


class ScheduleNotFound(LedgerError):
    code = "Ledger.ScheduleNotFound"


# --- what callers read -------------------------------------------------------------------
@dataclass(frozen=True)
class Execution:
    """One payment of a schedule that fell due. `status` is its ledger payment's current
    status (Pending, AcceptedSettlementInProcess, AcceptedSettlementCompleted, Rejected) or
    Rejected when no payment could be made."""
    execution_id: str
    schedule_id: str
    instalment: int
    due: datetime
    executed_at: datetime
    amount: Money
    status: str
    rejection_reason: str | None
    payment_id: str | None
    exchange_rate: dict | None = None   # another currency: the rate applied, DebitedAmount


@dataclass(frozen=True)
class ScheduleState:
    schedule_id: str
    status: str                       # Scheduled/Executed/Rejected/Cancelled (a scheduled
                                      # payment); Active/Inactive/Cancelled (a standing order)
    next_payment_at: datetime | None
    next_amount: Money | None
    last_payment_at: datetime | None  # the last payment made (not a missed one)
    last_amount: Money | None
    executions: list[Execution]


# --- charges on each payment ------------------------------------------------------------
class InstalmentCharge(Protocol):
    """What a charger says of one instalment about to be paid (see the module's docstring)."""
    sent: Money                        # what the creditor is sent (the amount, or less)

    def post(self, uow: UnitOfWork, payment: models.Payment,
             now: datetime) -> models.JournalEntry | None:
        """Post the charge with `payment` (LedgerError when the account cannot pay it)."""


Charger = Callable[[UnitOfWork, Any, Money, datetime], "InstalmentCharge | None"]
_chargers: list[Charger] = []


def on_instalment(charger: Charger) -> None:
    """Ask `charger(uow, row, debited, now)` for each instalment of a schedule row (a
    StandingOrder or ScheduledPayment) before it is paid: None, or its InstalmentCharge."""
    if charger not in _chargers:
        _chargers.append(charger)


# Called in the unit of work of each instalment, once it is recorded (paid or refused): the
# PIS API tells the TPP whose order set the schedule up (a resource-update event).
_executed_listeners: list[Callable[[UnitOfWork, Any, "Execution", datetime], None]] = []


def on_executed(listener: Callable[[UnitOfWork, Any, "Execution", datetime], None]) -> None:
    """Call `listener(uow, row, execution, now)` after each instalment of a schedule row (a
    StandingOrder or ScheduledPayment) is recorded, in its transaction."""
    if listener not in _executed_listeners:
        _executed_listeners.append(listener)


def _executed(uow: UnitOfWork, row, execution: "Execution", now: datetime) -> "Execution":
    for listener in list(_executed_listeners):
        listener(uow, row, execution, now)
    return execution


def _charge_of(uow: UnitOfWork, row, debited: Money,
               now: datetime) -> InstalmentCharge | None:
    for charger in list(_chargers):
        charge = charger(uow, row, debited, now)
        if charge is not None:
            return charge
    return None


# --- creating schedules ------------------------------------------------------------------
def _debtor(uow: UnitOfWork, account_id: str) -> models.Account:
    account = services.LedgerRepository(uow.session).account(account_id)
    if account.kind != AccountKind.CUSTOMER:
        raise InvalidSchedule("payments are made from customer accounts", "DebtorAccount")
    return account


def _amount(money: Money | None, account: models.Account, field: str,
            exchange: dict | None = None) -> int | None:
    if money is None:
        return None
    if not money.is_positive:
        raise InvalidSchedule(f"{field} must be more than zero, not {money.amount}", field)
    if exchange is not None and fx.supported(money.currency):
        return to_minor(money)       # converted into the account's currency when paid
    if money.currency != account.currency:
        raise InvalidSchedule(f"{field} is in {money.currency} but the debtor account is in "
                              f"{account.currency}", field)
    return to_minor(money)


def _creditor(creditor: Creditor) -> Creditor:
    try:
        return creditor.validated()
    except InvalidCounterparty as exc:
        raise InvalidSchedule(exc.message, "CreditorAccount") from None


def _not_past(when: datetime, now: datetime, field: str) -> None:
    if when.tzinfo is None:
        raise InvalidSchedule(f"{field} needs its time zone offset", field)
    if when.astimezone(now.tzinfo).date() < now.date():
        raise InvalidSchedule(f"{field} {when.isoformat()} is in the past", field)


def create_scheduled_payment(uow: UnitOfWork, *, debtor_account_id: str, creditor: Creditor,
                             amount: Money, execute_at: datetime, now: datetime,
                             reference: str | None = None, debtor_reference: str | None = None,
                             end_to_end_identification: str | None = None,
                             scheduled_type: str = "Execution",
                             exchange: dict | None = None,
                             rng: random.Random | None = None) -> models.ScheduledPayment:
    """A one-off payment of `amount` to `creditor` on `execute_at` (the OB
    RequestedExecutionDateTime), paid on the next working day if that is not one; in another
    currency than the account's with `exchange` (see the module's docstring)."""
    account = _debtor(uow, debtor_account_id)
    creditor = _creditor(creditor)
    minor = _amount(amount, account, "InstructedAmount", exchange)
    _not_past(execute_at, now, "RequestedExecutionDateTime")
    row = models.ScheduledPayment(
        scheduled_payment_id=new_id(rng), account_pk=account.id,
        scheduled_payment_datetime=execute_at, scheduled_type=scheduled_type,
        reference=reference, debtor_reference=debtor_reference, amount_minor=minor,
        currency=amount.currency, creditor_name=creditor.name,
        creditor_scheme=creditor.scheme, creditor_identification=creditor.identification,
        status=SCHEDULED, due_datetime=one_off_due(execute_at),
        end_to_end_identification=end_to_end_identification, created_at=now,
        exchange=exchange)
    uow.session.add(row)
    uow.session.flush()
    return row


def create_standing_order(uow: UnitOfWork, *, debtor_account_id: str, creditor: Creditor,
                          frequency: str, first_payment_at: datetime, first_amount: Money,
                          now: datetime, recurring_payment_at: datetime | None = None,
                          recurring_amount: Money | None = None,
                          final_payment_at: datetime | None = None,
                          number_of_payments: int | None = None,
                          final_amount: Money | None = None, reference: str | None = None,
                          exchange: dict | None = None,
                          rng: random.Random | None = None) -> models.StandingOrder:
    """A standing order on the OB frequency `frequency`: `first_amount` on
    `first_payment_at`, then `recurring_amount` (default: the first amount) from
    `recurring_payment_at` (default: the frequency's next date), ending with
    `number_of_payments` payments or the payment on `final_payment_at` (not both; neither
    is open-ended), the final one of `final_amount` (default: the recurring amount)."""
    account = _debtor(uow, debtor_account_id)
    creditor = _creditor(creditor)
    try:
        code = parse(frequency)
    except FrequencyError as exc:
        raise InvalidSchedule(exc.message, exc.field) from None
    first_minor = _amount(first_amount, account, "FirstPaymentAmount", exchange)
    recurring_minor = _amount(recurring_amount, account, "RecurringPaymentAmount", exchange)
    final_minor = _amount(final_amount, account, "FinalPaymentAmount", exchange)
    for other in (recurring_amount, final_amount):
        if other is not None and other.currency != first_amount.currency:
            raise InvalidSchedule("every payment of a standing order is in one currency",
                                  "RecurringPaymentAmount" if other is recurring_amount
                                  else "FinalPaymentAmount")
    _not_past(first_payment_at, now, "FirstPaymentDateTime")
    if number_of_payments is not None and number_of_payments > MAX_NUMBER_OF_PAYMENTS:
        raise InvalidSchedule(f"NumberOfPayments must be at most {MAX_NUMBER_OF_PAYMENTS}",
                              "NumberOfPayments")
    if final_amount is not None and number_of_payments is None and final_payment_at is None:
        raise InvalidSchedule("FinalPaymentAmount needs NumberOfPayments or "
                              "FinalPaymentDateTime: an open-ended standing order has no "
                              "final payment", "FinalPaymentAmount")
    try:
        schedule = Schedule(code, first_payment_at, recurring_payment_at, final_payment_at,
                            number_of_payments)
        instalments = schedule.instalments()
        first = next(instalments)
    except FrequencyError as exc:
        raise InvalidSchedule(exc.message, exc.field) from None
    final_at = final_payment_at
    if number_of_payments is not None:
        final_at = first.due
        for instalment in instalments:
            final_at = instalment.due
    order = models.StandingOrder(
        standing_order_id=new_id(rng), account_pk=account.id, frequency=code.code,
        reference=reference, status=ACTIVE, first_payment_datetime=first_payment_at,
        recurring_payment_datetime=recurring_payment_at, next_payment_datetime=first.due,
        final_payment_datetime=final_at, number_of_payments=number_of_payments,
        amount_minor=first_minor, recurring_amount_minor=recurring_minor,
        final_amount_minor=final_minor, next_amount_minor=first_minor,
        currency=first_amount.currency, creditor_name=creditor.name,
        creditor_scheme=creditor.scheme, creditor_identification=creditor.identification,
        instalments_done=0, created_at=now, exchange=exchange)
    uow.session.add(order)
    uow.session.flush()
    return order


def schedule_of(order: models.StandingOrder) -> Schedule:
    """The dates of a standing order row (a counted order's stored final date is derived,
    so the count rules)."""
    return Schedule(parse(order.frequency), order.first_payment_datetime,
                    order.recurring_payment_datetime,
                    None if order.number_of_payments is not None else order.final_payment_datetime,
                    order.number_of_payments)


def amount_of(order: models.StandingOrder, instalment: Instalment) -> int:
    recurring = order.recurring_amount_minor if order.recurring_amount_minor is not None \
        else order.amount_minor
    if instalment.role == FIRST:
        return order.amount_minor
    if instalment.role == FINAL and order.final_amount_minor is not None:
        return order.final_amount_minor
    return recurring


# --- cancelling --------------------------------------------------------------------------
def cancel_scheduled_payment(uow: UnitOfWork, scheduled_payment_id: str, *,
                             now: datetime) -> models.ScheduledPayment:
    """A scheduled payment not yet due is Cancelled; one already paid or rejected stays so."""
    row = _locked(uow, models.ScheduledPayment,
                  models.ScheduledPayment.scheduled_payment_id == scheduled_payment_id)
    if row.status == SCHEDULED:
        row.status = CANCELLED
    return row


def cancel_standing_order(uow: UnitOfWork, standing_order_id: str, *,
                          now: datetime) -> models.StandingOrder:
    """No more payments: Inactive, no next payment."""
    row = _locked(uow, models.StandingOrder,
                  models.StandingOrder.standing_order_id == standing_order_id)
    row.status, row.next_payment_datetime, row.next_amount_minor = INACTIVE, None, None
    return row


def _locked(uow: UnitOfWork, model, where):
    row = uow.session.scalars(select(model).where(where).with_for_update()
                              .execution_options(populate_existing=True)).one_or_none()
    if row is None:
        raise ScheduleNotFound("no such schedule")
    return row


# --- reading -----------------------------------------------------------------------------
def _executions(uow: UnitOfWork, column, pk: int, schedule_id: str) -> list[Execution]:
    e, p = models.ScheduleExecution, models.Payment
    rows = uow.session.execute(
        select(e, p.payment_id, p.status, p.rejection_reason)
        .outerjoin(p, p.id == e.payment_pk).where(column == pk).order_by(e.instalment))
    return [Execution(row.execution_id, schedule_id, row.instalment, row.due_datetime,
                      row.executed_at, from_minor(row.amount_minor, row.currency),
                      status or row.status, row.rejection_reason or reason, payment_id,
                      row.exchange_rate)
            for row, payment_id, status, reason in rows]


def scheduled_payment_state(uow: UnitOfWork,
                            scheduled_payment_id: str) -> ScheduleState | None:
    row = uow.session.scalars(select(models.ScheduledPayment).where(
        models.ScheduledPayment.scheduled_payment_id == scheduled_payment_id)).one_or_none()
    if row is None:
        return None
    executions = _executions(uow, models.ScheduleExecution.scheduled_payment_pk, row.id,
                             scheduled_payment_id)
    amount = from_minor(row.amount_minor, row.currency)
    paid = [x for x in executions if x.payment_id is not None]
    return ScheduleState(
        scheduled_payment_id, row.status,
        _due_of(row) if row.status == SCHEDULED else None,
        amount if row.status == SCHEDULED else None,
        paid[-1].due if paid else None, paid[-1].amount if paid else None, executions)


def standing_order_state(uow: UnitOfWork, standing_order_id: str) -> ScheduleState | None:
    row = uow.session.scalars(select(models.StandingOrder).where(
        models.StandingOrder.standing_order_id == standing_order_id)).one_or_none()
    if row is None:
        return None
    executions = _executions(uow, models.ScheduleExecution.standing_order_pk, row.id,
                             standing_order_id)
    money = lambda minor: None if minor is None else from_minor(minor, row.currency)  # noqa: E731
    status = CANCELLED if row.status == INACTIVE and _stopped_early(row, executions) \
        else row.status
    return ScheduleState(standing_order_id, status, row.next_payment_datetime,
                         money(row.next_amount_minor if row.next_amount_minor is not None
                               else row.amount_minor) if row.next_payment_datetime else None,
                         row.last_payment_datetime, money(row.last_amount_minor),
                         executions)


def _stopped_early(row: models.StandingOrder, executions: list[Execution]) -> bool:
    """An Inactive order whose schedule still had payments to make: it was cancelled (AIS
    shows it Inactive all the same: StandingOrderStatusCode has no other value)."""
    if not executions:
        try:
            return next(schedule_of(row).instalments(), None) is not None
        except FrequencyError:
            return False
    return _following(row, executions[-1].due) is not None


def _due_of(row: models.ScheduledPayment) -> datetime:
    return row.due_datetime or row.scheduled_payment_datetime


# --- execution ---------------------------------------------------------------------------
_REASONS = {
    InsufficientFunds: "Insufficient funds in the debtor account on the payment date",
    AccountNotActive: "The debtor or creditor account is not open for payments",
    CurrencyMismatch: "The payment is not in the debtor account's currency",
}


def _reason(error: LedgerError) -> str:
    for kind, text in _REASONS.items():
        if isinstance(error, kind):
            return text
    if isinstance(error, (InvalidCounterparty, InvalidAmount)):
        return error.message[:500]
    return "The payment could not be made"


def _next_due_standing_order(uow: UnitOfWork, now: datetime,
                             skip: frozenset[int] = frozenset()) -> models.StandingOrder | None:
    so = models.StandingOrder
    return uow.session.scalars(
        select(so).where(so.status == ACTIVE, so.next_payment_datetime <= now,
                         so.id.not_in(skip))
        .order_by(so.next_payment_datetime, so.id).limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)).one_or_none()


def _next_due_scheduled_payment(uow: UnitOfWork, now: datetime,
                                skip: frozenset[int] = frozenset()
                                ) -> models.ScheduledPayment | None:
    sp = models.ScheduledPayment
    due = func.coalesce(sp.due_datetime, sp.scheduled_payment_datetime)
    return uow.session.scalars(
        select(sp).where(sp.status == SCHEDULED, sp.id.not_in(skip),
                         or_(sp.due_datetime <= now,
                             and_(sp.due_datetime.is_(None),
                                  sp.scheduled_payment_datetime <= now)))
        .order_by(due, sp.id).limit(1)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)).one_or_none()


def _pay(uow: UnitOfWork, row, *, amount_minor: int, due: datetime, now: datetime,
         end_to_end: str | None, rng: random.Random | None):
    """Pay one instalment of `row` inside a savepoint, with its charge if a charger has one:
    the ledger payment and the exchange applied (None when the row is in the account's
    currency), or the LedgerError that refused it (and nothing written)."""
    debtor_id, debtor_currency = uow.session.execute(
        select(models.Account.account_id, models.Account.currency)
        .where(models.Account.id == row.account_pk)).one()
    creditor = Creditor(row.creditor_name, row.creditor_scheme, row.creditor_identification)
    instructed = debited = from_minor(amount_minor, row.currency)
    applied = None
    if row.exchange is not None:     # converted now, at the rate of the moment it is paid
        debited, applied = fx.convert_at_execution(instructed, debtor_currency, row.exchange,
                                                   now)
    try:
        with uow.savepoint():     # the payment and its charge (and its settlement), or neither
            charge = _charge_of(uow, row, debited, now)
            payment = services.pay(uow, debtor_account_id=debtor_id, creditor=creditor,
                                   amount=debited if charge is None else charge.sent,
                                   now=now, reference=row.reference,
                                   end_to_end_identification=end_to_end, rng=rng)
            charged = None if charge is None else charge.post(uow, payment, now)
            if applied is not None:   # the entry says what was sent, at what rate
                entry = uow.session.get(models.JournalEntry, payment.entry_pk)
                entry.description = fx.describe(instructed, debited, applied)
            # `pay` books and values at `now`; an instalment's value date is its due date.
            entries = [payment.entry_pk] + ([charged.id] if charged is not None else [])
            uow.session.execute(update(models.Posting)
                                .where(models.Posting.entry_pk.in_(entries))
                                .values(value_datetime=due)
                                .execution_options(synchronize_session=False))
    except LedgerError as error:
        log.info("scheduled payment refused", extra={"fields": {
            "schedule": getattr(row, "standing_order_id", None)
            or getattr(row, "scheduled_payment_id", None), "error": error.code}})
        return error, None
    if applied is not None:
        applied = {**applied, "DebitedAmount": {"Amount": str(debited.amount),
                                                "Currency": debited.currency}}
    return payment, applied


def _record(uow: UnitOfWork, *, execution_id: str, row, instalment: int, due: datetime,
            amount_minor: int, now: datetime, outcome) -> Execution:
    outcome, exchange_rate = outcome
    paid = isinstance(outcome, models.Payment)
    record = models.ScheduleExecution(
        execution_id=execution_id, instalment=instalment, due_datetime=due, executed_at=now,
        amount_minor=amount_minor, currency=row.currency,
        status=outcome.status if paid else REJECTED,
        rejection_reason=None if paid else _reason(outcome),
        payment_pk=outcome.id if paid else None, exchange_rate=exchange_rate)
    if isinstance(row, models.StandingOrder):
        record.standing_order_pk, schedule_id = row.id, row.standing_order_id
    else:
        record.scheduled_payment_pk, schedule_id = row.id, row.scheduled_payment_id
    uow.session.add(record)
    uow.session.flush()   # the unique (schedule, instalment) constraint speaks here
    return Execution(execution_id, schedule_id, instalment, due, now,
                     from_minor(amount_minor, row.currency), record.status,
                     record.rejection_reason,
                     outcome.payment_id if paid else None, exchange_rate)


def _execute_scheduled_payment(uow: UnitOfWork, row: models.ScheduledPayment, now: datetime,
                               rng: random.Random | None) -> Execution:
    due = _due_of(row)
    outcome = _pay(uow, row, amount_minor=row.amount_minor, due=due, now=now,
                   end_to_end=row.end_to_end_identification, rng=rng)
    execution = _record(uow, execution_id=new_id(rng), row=row, instalment=1, due=due,
                        amount_minor=row.amount_minor, now=now, outcome=outcome)
    row.status = EXECUTED if isinstance(outcome[0], models.Payment) else REJECTED
    row.rejection_reason = execution.rejection_reason
    return _executed(uow, row, execution, now)


def _execute_standing_order(uow: UnitOfWork, row: models.StandingOrder, now: datetime,
                            rng: random.Random | None) -> Execution:
    due = row.next_payment_datetime
    amount = row.next_amount_minor if row.next_amount_minor is not None else row.amount_minor
    number = row.instalments_done + 1
    execution_id = new_id(rng)
    # Each instalment is its own payment to the scheme: its own end-to-end identification.
    outcome = _pay(uow, row, amount_minor=amount, due=due, now=now,
                   end_to_end=execution_id.replace("-", ""), rng=rng)
    execution = _record(uow, execution_id=execution_id, row=row, instalment=number, due=due,
                        amount_minor=amount, now=now, outcome=outcome)
    if isinstance(outcome[0], models.Payment):
        row.last_payment_datetime, row.last_amount_minor = due, amount
    row.instalments_done = number
    following = _following(row, due)
    if following is None:
        row.status, row.next_payment_datetime, row.next_amount_minor = INACTIVE, None, None
    else:
        row.next_payment_datetime = following.due
        row.next_amount_minor = amount_of(row, following)
    return _executed(uow, row, execution, now)


def _following(row: models.StandingOrder, paid_due: datetime) -> Instalment | None:
    """The schedule's instalment after the one due at `paid_due`, or None: it ended.

    Found by the dates the frequency gives (before any roll to a working day): the first
    instalment whose date is after the day paid. The one paid was rolled forward, never
    past its successor's date (the shortest rolled interval is a week, the longest closure
    four days), so this is exact for the engine's own orders, and it also places an order
    whose stored next date was set elsewhere (the sandbox's history rolls weekends but not
    bank holidays) without paying one month twice."""
    try:
        instalments: Iterator[Instalment] = schedule_of(row).instalments()
    except FrequencyError:
        log.error("standing order with an unusable schedule stopped",
                  extra={"fields": {"standing_order": row.standing_order_id}})
        return None
    paid_day = paid_due.date()
    for instalment in instalments:
        if instalment.nominal > paid_day:
            return instalment
    return None


class ScheduleFailed(Exception):
    """An instalment failed for a reason that is not a refusal of the payment (a bug, data
    the ledger cannot read): `key` names its schedule row, so a run can pass over it."""

    def __init__(self, key: tuple[str, int]):
        super().__init__(f"{key[0]} {key[1]} failed")
        self.key = key


def execute_next_due(uow: UnitOfWork, now: datetime, rng: random.Random | None = None, *,
                     skip: frozenset[tuple[str, int]] = frozenset()) -> Execution | None:
    """Pay the earliest instalment due at `now` that no other runner holds (and not of a
    schedule in `skip`: ("standing_order" | "scheduled_payment", row id) pairs), and advance
    its schedule; None when nothing is due. The caller commits."""
    order = _next_due_standing_order(
        uow, now, frozenset(pk for kind, pk in skip if kind == "standing_order"))
    single = _next_due_scheduled_payment(
        uow, now, frozenset(pk for kind, pk in skip if kind == "scheduled_payment"))
    if order is not None and (single is None
                              or order.next_payment_datetime <= _due_of(single)):
        row, execute, key = order, _execute_standing_order, ("standing_order", order.id)
    elif single is not None:
        row, execute, key = single, _execute_scheduled_payment, ("scheduled_payment",
                                                                single.id)
    else:
        return None
    try:
        return execute(uow, row, now, rng)
    except SQLAlchemyError:
        raise          # the database's trouble: the whole run stops, the next one retries
    except Exception as error:
        log.exception("schedule instalment failed", extra={"fields": {
            "schedule": getattr(row, "standing_order_id", None)
            or getattr(row, "scheduled_payment_id", None), "error": type(error).__name__}})
        raise ScheduleFailed(key) from error


def run_due(uow: UnitOfWork, now: datetime, *, limit: int | None = None,
            rng: random.Random | None = None) -> list[Execution]:
    """Pay every instalment due at `now`, earliest first, committing after each (the one
    use case that commits for itself: each instalment is its own transaction, so one
    schedule's trouble never undoes another's payment). A schedule whose instalment fails
    for a reason other than a refused payment is logged and passed over for the rest of the
    run (the next run tries it again), so it never holds up the others. Returns what was
    executed."""
    done: list[Execution] = []
    seen: set[tuple[str, int]] = set()
    skip: set[tuple[str, int]] = set()
    clashes = 0
    while limit is None or len(done) < limit:
        try:
            execution = execute_next_due(uow, now, rng, skip=frozenset(skip))
        except IntegrityError:
            # Another runner recorded this instalment first: nothing of ours stays, and the
            # schedule it advanced is read afresh on the next turn.
            uow.rollback()
            clashes += 1
            log.warning("schedule instalment already executed by another runner")
            if clashes > 3:
                break
            continue
        except ScheduleFailed as failed:
            uow.rollback()
            skip.add(failed.key)
            continue
        if execution is None:
            uow.rollback()
            break
        key = (execution.schedule_id, execution.instalment)
        if key in seen:   # a schedule that did not advance: stop rather than loop
            uow.rollback()
            log.error("schedule did not advance", extra={"fields": {"schedule": key[0]}})
            break
        seen.add(key)
        uow.commit()
        done.append(execution)
    return done
