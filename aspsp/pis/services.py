"""Payment initiation use cases. Each takes a unit of work and does one thing; the API views
commit (the submission) and the execution task commits (the execution).

Submission (`submit_order`): the consent row locked, still Authorised, the submission equal
to what it allowed, the debtor account the customer's; then the order (Pending) and the
consent Consumed in one transaction, and the execution task sent after the commit. Execution
(`execute_order`): the order row locked, the ledger asked to pay (a savepoint: a refusal by
the ledger rolls back only its own work, and the order is Rejected with the reason); an
outbound payment then settles through the ledger's own settlement task. An order's status is
its ledger payment's once one exists, and its history the two joined.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping

from sqlalchemy import select

from aspsp import audit, events
from aspsp.db import UnitOfWork
from aspsp.ids import new_id
from aspsp.ledger import dispatch, schedules
from aspsp.ledger import services as ledger
from aspsp.ledger.errors import LedgerError
from aspsp.ledger.models import Account
from consent import services as consents
from consent.domain import ConsentStatus
from consent.errors import ConsentNotFound

from . import charges, domain, files, international
from .domain import OrderStatus, Problem, ProblemKind
from .errors import (ConsentNotUsable, ConsentOfAnotherType, DebtorNotPermitted,
                     InvalidPaymentRequest, PaymentOfAnotherClient, PaymentOrderNotFound,
                     WrongConsent)
from .models import FilePaymentItem, PaymentOrder
from .repository import PisRepository

EXECUTE_ORDER = "pis.execute_payment_order"
DOMESTIC_PAYMENT = "domestic-payment"
DOMESTIC_SCHEDULED_PAYMENT = "domestic-scheduled-payment"
DOMESTIC_STANDING_ORDER = "domestic-standing-order"
INTERNATIONAL_PAYMENT = international.INTERNATIONAL_PAYMENT
INTERNATIONAL_SCHEDULED_PAYMENT = international.INTERNATIONAL_SCHEDULED_PAYMENT
INTERNATIONAL_STANDING_ORDER = international.INTERNATIONAL_STANDING_ORDER
FILE_PAYMENT = files.FILE_PAYMENT
ORDER_TYPES = (DOMESTIC_PAYMENT, DOMESTIC_SCHEDULED_PAYMENT, DOMESTIC_STANDING_ORDER,
               INTERNATIONAL_PAYMENT, INTERNATIONAL_SCHEDULED_PAYMENT,
               INTERNATIONAL_STANDING_ORDER, FILE_PAYMENT)
SCHEDULED_PAYMENT_TYPES = (DOMESTIC_SCHEDULED_PAYMENT, INTERNATIONAL_SCHEDULED_PAYMENT)
# The orders executed at once after their submission (by EXECUTE_ORDER).
IMMEDIATE_ORDER_TYPES = (DOMESTIC_PAYMENT, INTERNATIONAL_PAYMENT)
# A scheduled payment or standing order is initiated when its schedule is set up (at the
# submission); the schedule engine then pays it on its dates.
INITIATION_COMPLETED = "InitiationCompleted"
CANCELLED = "Cancelled"


@dataclass(frozen=True)
class StatusStep:
    status: str
    at: datetime
    reason: str | None = None
    transaction_id: str | None = None    # a schedule's payments: the payment's own id


@dataclass(frozen=True)
class ConsentView:
    """A payment consent as the PIS API shows it."""
    record: consents.ConsentRecord
    debtor: dict[str, str] | None


@dataclass(frozen=True)
class OrderRecord:
    payment_order_id: str
    order_type: str
    consent_id: str
    status: str
    status_updated_at: datetime
    created_at: datetime
    initiation: dict
    debtor: dict[str, str] | None
    history: tuple[StatusStep, ...]
    transaction_id: str           # the ledger payment's id once executed, else the order's
    exchange_rate: dict | None = None   # international: the rate applied, else the quote
    charges: list | None = None         # the consent's OB Charges (aspsp.pis.charges)
    refund: dict | None = None          # the debited account, if the consent asked for it


def _refund(consent_data: Mapping[str, Any], debtor: dict[str, str]) -> dict | None:
    """OBIE Refund (OB*RefundAccount): the account a refund of this payment goes to, the one
    it was paid from, when the PISP asked for it with ReadRefundAccount "Yes"."""
    return {"Account": dict(debtor)} if consent_data.get("ReadRefundAccount") == "Yes" else None


class Client:   # the gate's ClientRef or an OAuthClient row: `id`, `client_id`
    id: int
    client_id: str


# --- consents --------------------------------------------------------------------------------
def create_consent(uow: UnitOfWork, client: Client, order_type: str,
                   body: Mapping[str, Any], parsed: Mapping[str, Any], now: datetime,
                   rng: random.Random | None = None) -> ConsentView:
    """A payment consent of `order_type`. `body` as the TPP sent it (kept), `parsed` the
    same through the request schema (its date-times parsed)."""
    initiation, parsed_initiation = body["Data"]["Initiation"], parsed["Data"]["Initiation"]
    if order_type == DOMESTIC_PAYMENT:
        problems = domain.domestic_initiation_problems(initiation)
    elif order_type == DOMESTIC_SCHEDULED_PAYMENT:
        problems = domain.scheduled_initiation_problems(initiation, parsed_initiation, now)
    elif order_type == DOMESTIC_STANDING_ORDER:
        problems = domain.standing_order_problems(initiation, parsed_initiation, now)
    elif order_type == INTERNATIONAL_PAYMENT:
        problems = international.initiation_problems(initiation)
    elif order_type == INTERNATIONAL_SCHEDULED_PAYMENT:
        problems = international.scheduled_initiation_problems(initiation, parsed_initiation,
                                                               now)
    elif order_type == INTERNATIONAL_STANDING_ORDER:
        problems = international.standing_order_problems(initiation, parsed_initiation, now)
    elif order_type == FILE_PAYMENT:     # its metadata: the file follows (upload_file)
        problems = files.initiation_problems(initiation, parsed_initiation, now)
    else:
        raise ValueError(f"unknown payment order type {order_type}")
    problems += domain.authorisation_problems(parsed["Data"], now)
    if problems:
        raise InvalidPaymentRequest(problems)
    data = consent_data(body)
    if order_type in international.ORDER_TYPES:     # the bank's exchange rate quote
        quote = international.consent_quote(initiation, now)
        if quote is not None:
            data["ExchangeRateInformation"] = quote
    found = None if order_type == FILE_PAYMENT else \
        charges.consent_charges(uow, initiation,         # a schedule's: on each payment
                                international=order_type in international.ORDER_TYPES)
    if found:                                       # the bank's tariff, fixed from now on
        data["Charges"] = found
    record = consents.create_payment_consent(uow, client, order_type, data, now, rng=rng)
    return ConsentView(record, None)


def consent_data(body: Mapping[str, Any]) -> dict:
    """What the consent keeps: Data's members (Initiation, Authorisation, SCASupportData,
    ReadRefundAccount...) but the ConsentId, and the Risk (a file payment has none), exactly
    as sent."""
    data = {k: v for k, v in body["Data"].items() if k != "ConsentId"}
    return {**data, "Risk": body["Risk"]} if "Risk" in body else data


def upload_file(uow: UnitOfWork, client: Client, consent_id: str, content: bytes,
                content_type: str, now: datetime) -> None:
    """A file payment consent's file (POST .../file): checked against the consent's metadata
    and the bank's rules (aspsp.pis.files), kept as received, the consent then
    AwaitingAuthorisation. files.FileRefused when it cannot be the consent's file."""
    consent = consents.lock_payment_consent(uow, client, consent_id, FILE_PAYMENT, now)
    if consent.status != ConsentStatus.AWAITING_UPLOAD:
        raise ConsentNotUsable(f"the consent is {consent.status}: a file is uploaded once, "
                               "while its consent is AwaitingUpload", "ConsentId")
    contents = files.read(consent.data["Initiation"], content, content_type, now.date())
    files.store(uow.session, consent.id, content, content_type, contents, now)
    consents.file_uploaded(uow, client, consent, now)


def reject_file_consent(uow: UnitOfWork, client: Client, consent_id: str, now: datetime,
                        reason: str) -> None:
    """The uploaded file contradicted the consent's metadata: the consent is Rejected (its
    own unit of work: the upload's rolled back)."""
    consent = consents.lock_payment_consent(uow, client, consent_id, FILE_PAYMENT, now)
    if consent.status == ConsentStatus.AWAITING_UPLOAD:
        consents.reject(uow, consent, None, now, reason=reason)


def get_file(uow: UnitOfWork, client: Client, consent_id: str, now: datetime):
    """The file uploaded for the client's file payment consent (its PaymentFile row), or
    PaymentOrderNotFound when none was uploaded yet."""
    consents.get_consent(uow, client, consent_id, now, consent_type=FILE_PAYMENT)
    row = files.uploaded_file(uow.session, _consent_pk(uow, consent_id))
    if row is None:
        raise PaymentOrderNotFound("no file has been uploaded for this consent", "ConsentId")
    return row


def get_consent(uow: UnitOfWork, client: Client, consent_id: str, consent_type: str,
                now: datetime) -> ConsentView:
    record = consents.get_consent(uow, client, consent_id, now, consent_type=consent_type)
    repo = PisRepository(uow.session)
    chosen = repo.chosen_accounts(_consent_pk(uow, consent_id)) if record.psu_id else []
    return ConsentView(record, debtor_of(chosen[0]) if chosen else None)


def funds_confirmation(uow: UnitOfWork, context, consent_id: str, now: datetime, *,
                       order_type: str) -> bool:
    """Whether the debtor account can pay the consent's amount now (balance and unused
    arranged overdraft). `context` is the gate's ConsentContext of the customer's token;
    `order_type` the kind of consent the path names (the payments scope admits every payment
    consent type: another kind's token is refused, as a VRP consent has no amount)."""
    _check_token_consent(context, consent_id)
    if context.consent_type != order_type:
        raise ConsentOfAnotherType(f"the token's consent is not a {order_type} consent",
                                   "ConsentId")
    repo = PisRepository(uow.session)
    consent = repo.consent(context.consent_pk)
    debtor = _debtor(repo, consent, context)
    amount = domain.money_of(consent.data["Initiation"]["InstructedAmount"])
    if consent.consent_type in international.ORDER_TYPES:   # in the account's currency
        amount, _ = international.debit(consent.data, debtor.currency, now)
    amount = charges.with_charges(amount, charges.split(consent.data.get("Charges"),
                                                        debtor.currency, now))
    snapshot = ledger.snapshot_of(debtor)
    usable = snapshot.interim_available + ledger.from_minor(debtor.credit_limit_minor,
                                                            debtor.currency)
    return domain.funds_available(usable, amount)


# --- orders ----------------------------------------------------------------------------------
def submit_order(uow: UnitOfWork, context, client: Client, body: Mapping[str, Any],
                 order_type: str, now: datetime,
                 rng: random.Random | None = None) -> OrderRecord:
    consent_id = body["Data"]["ConsentId"]
    _check_token_consent(context, consent_id)
    try:
        consent = consents.lock_payment_consent(uow, client, consent_id, order_type, now)
    except ConsentNotFound:
        raise ConsentOfAnotherType("the token's consent is not a consent of this type",
                           "Data.ConsentId") from None
    if consent.status != ConsentStatus.AUTHORISED:
        raise ConsentNotUsable(f"the consent is {consent.status}", "Data.ConsentId")
    problems = domain.submission_problems(consent.data, body)
    if order_type in international.ORDER_TYPES:
        problems += international.submission_problems(consent.data, now)
    if order_type == FILE_PAYMENT:
        problems += files.submission_problems(
            consent.data["Initiation"], files.uploaded_file(uow.session, consent.id), now)
    if problems:
        raise InvalidPaymentRequest(problems)
    repo = PisRepository(uow.session)
    debtor = _debtor(repo, consent, context)
    initial = files.INITIATION_PENDING if order_type == FILE_PAYMENT else OrderStatus.PENDING
    order = PaymentOrder(payment_order_id=new_id(rng), order_type=order_type,
                         consent_pk=consent.id, client_pk=client.id,
                         debtor_account_pk=debtor.id, status=initial,
                         status_history=[_step(initial, now)],
                         created_at=now, status_updated_at=now)
    repo.add(order)
    consents.consume(uow, consent, now)
    repo.flush()
    instructed = initiation_amount(consent.data["Initiation"])
    audit.record(uow, "payment.submitted", audit.Actor.client(client.client_id), now=now,
                 subject=order.payment_order_id,
                 facts={"order_type": order_type, "consent_id": consent_id, **instructed})
    if order_type in IMMEDIATE_ORDER_TYPES or order_type == FILE_PAYMENT:
        dispatch.after_commit(uow, EXECUTE_ORDER, order.payment_order_id)
    else:
        exchange = international.schedule_terms(consent.data) \
            if order_type in international.ORDER_TYPES else None
        _set_up_schedule(uow, order, consent.data["Initiation"], debtor, now, exchange)
    return order_record(repo, order, consent_id=consent_id, initiation=consent.data["Initiation"],
                        debtor=debtor)


def _set_up_schedule(uow: UnitOfWork, order: PaymentOrder, initiation: Mapping[str, Any],
                     debtor: Account, now: datetime, exchange: dict | None = None) -> None:
    """The ledger schedule of a scheduled payment or standing order, in the submission's
    transaction: the schedule engine (aspsp.ledger.schedules) pays it on its dates (an
    international one in the instructed currency, converted on `exchange` when paid). A
    schedule the engine refuses (a date passed since the consent) refuses the submission."""
    payee = domain.payee_of(initiation)
    creditor = ledger.Creditor(payee.name, payee.scheme, payee.identification)
    try:
        if order.order_type in SCHEDULED_PAYMENT_TYPES:
            row = schedules.create_scheduled_payment(
                uow, debtor_account_id=debtor.account_id, creditor=creditor,
                amount=domain.money_of(initiation["InstructedAmount"]),
                execute_at=_datetime(initiation["RequestedExecutionDateTime"]), now=now,
                reference=(initiation.get("RemittanceInformation") or {}).get("Reference"),
                end_to_end_identification=initiation.get("EndToEndIdentification"),
                exchange=exchange)
            order.scheduled_payment_pk = row.id
        else:
            optional = {name: _datetime(initiation[key]) for name, key in (
                ("recurring_payment_at", "RecurringPaymentDateTime"),
                ("final_payment_at", "FinalPaymentDateTime")) if key in initiation}
            optional.update({name: domain.money_of(initiation[key]) for name, key in (
                ("recurring_amount", "RecurringPaymentAmount"),
                ("final_amount", "FinalPaymentAmount")) if key in initiation})
            row = schedules.create_standing_order(
                uow, debtor_account_id=debtor.account_id, creditor=creditor,
                frequency=initiation["Frequency"],
                first_payment_at=_datetime(initiation["FirstPaymentDateTime"]),
                first_amount=domain.money_of(initiation.get("FirstPaymentAmount")
                                             or initiation["InstructedAmount"]), now=now,
                number_of_payments=domain.number_of_payments(initiation),
                reference=initiation.get("Reference"), exchange=exchange, **optional)
            order.standing_order_pk = row.id
    except schedules.InvalidSchedule as refusal:
        kind = ProblemKind.INVALID_DATE if refusal.field.endswith("DateTime") \
            else ProblemKind.INVALID
        raise InvalidPaymentRequest([Problem(kind, f"Data.Initiation.{refusal.field}",
                                             refusal.message)]) from None
    _move(order, INITIATION_COMPLETED, now)
    uow.session.flush()


def _datetime(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def get_order(uow: UnitOfWork, client: Client, payment_order_id: str,
              order_type: str) -> OrderRecord:
    repo = PisRepository(uow.session)
    return order_record(repo, _client_order(repo, client, payment_order_id, order_type))


def _client_order(repo: PisRepository, client: Client, payment_order_id: str,
                  order_type: str) -> PaymentOrder:
    """The client's order of this type; another client's is PaymentOfAnotherClient (403),
    none PaymentOrderNotFound (400)."""
    order = repo.order(payment_order_id) if _plausible_id(payment_order_id) else None
    if order is not None and order.client_pk != client.id:
        raise PaymentOfAnotherClient("this payment was created by another client")
    if order is None or order.order_type != order_type:
        raise PaymentOrderNotFound("there is no payment with this id")
    return order


def initiation_amount(initiation: Mapping[str, Any]) -> dict[str, str]:
    """The amount an initiation names, for the audit trail (no account numbers)."""
    amount = initiation.get("InstructedAmount") or {}
    return {"amount": str(amount.get("Amount")), "currency": str(amount.get("Currency"))} \
        if amount else {}


def audit_execution(uow: UnitOfWork, kind: str, resource_id: str, status: str,
                     now: datetime, reason: str | None = None) -> None:
    audit.record(uow, "payment.executed", audit.Actor.system("payment-execution"), now=now,
                 subject=resource_id, facts={"kind": kind, "status": str(status),
                                             "reason": reason})


def execute_order(uow: UnitOfWork, payment_order_id: str, now: datetime) -> str | None:
    """Pay what the order's consent allowed, once: an order no longer Pending is left as it
    is (a redelivered task does nothing)."""
    repo = PisRepository(uow.session)
    found = repo.order_to_execute(payment_order_id)     # one statement, the order locked
    if found is None:       # not a payment order: another resource this task executes
        return _execute_other(uow, payment_order_id, now)
    order, consent_data, debtor_account_id, debtor_currency = found
    if order.order_type == FILE_PAYMENT:
        return _execute_file(uow, order, debtor_account_id, now)
    if order.status != OrderStatus.PENDING or order.ledger_payment_pk:
        return order.status
    initiation = consent_data["Initiation"]
    payee = domain.payee_of(initiation)
    amount, applied = domain.money_of(initiation["InstructedAmount"]), None
    if order.order_type in international.ORDER_TYPES:    # the debtor pays in its currency
        amount, applied = international.debit(consent_data, debtor_currency, now)
    fees = charges.of_order(uow, consent_data, order.debtor_account_pk, now)
    savepoint = uow.savepoint()
    try:      # the payment and its charges together, or neither
        payment = ledger.pay(
            uow, debtor_account_id=debtor_account_id,
            creditor=ledger.Creditor(payee.name, payee.scheme, payee.identification),
            amount=charges.amount_sent(amount, fees), now=now,
            reference=(initiation.get("RemittanceInformation") or {}).get("Reference"),
            end_to_end_identification=initiation["EndToEndIdentification"])
        charge = charges.post_charge(uow, payment, order.debtor_account_pk, fees, now,
                                     payee=payee.name)
    except LedgerError as refusal:
        savepoint.rollback()
        _move(order, OrderStatus.REJECTED, now, _refusal_reason(refusal))
        order.rejection_reason = _refusal_reason(refusal)
        repo.flush()
        audit_execution(uow, order.order_type, order.payment_order_id, order.status, now,
                         order.rejection_reason)
        _announce(uow, order, now)
        return order.status
    if order.order_type in international.ORDER_TYPES:
        _record_exchange(uow, payment, initiation, amount, applied)
    savepoint.commit()
    order.ledger_payment_pk = payment.id
    _move(order, OrderStatus(payment.status), now)
    if applied is not None:      # the rate applied, on the step of the execution
        order.status_history = [*order.status_history[:-1],
                                {**order.status_history[-1], "exchange_rate": applied}]
    if charge is not None:       # booked (or refunded) with the payment at settlement
        order.status_history = [*order.status_history[:-1], {
            **order.status_history[-1], charges.CHARGE_ENTRY: charge.entry_id}]
    repo.flush()
    audit_execution(uow, order.order_type, order.payment_order_id, order.status, now)
    _announce(uow, order, now)
    return order.status


def _execute_file(uow: UnitOfWork, order: PaymentOrder, debtor_account_id: str,
                  now: datetime) -> str:
    """Pay every payment of a file order's file through the ledger, in file order, all or
    none (one savepoint): a payment the ledger refuses (no funds for it after the ones
    before, the account disabled) fails the whole file's initiation, and nothing of it is
    paid. An order no longer InitiationPending is left as it is (a redelivered task)."""
    if order.status != files.INITIATION_PENDING:
        return order.status
    upload = files.uploaded_file(uow.session, order.consent_pk)
    savepoint = uow.savepoint()         # its rollback drops the settlements of those paid
    items = []
    try:
        for position, instruction in enumerate(upload.payments):
            payee = domain.payee_of(instruction)
            payment = ledger.pay(
                uow, debtor_account_id=debtor_account_id,
                creditor=ledger.Creditor(payee.name, payee.scheme, payee.identification),
                amount=domain.money_of(instruction["InstructedAmount"]), now=now,
                reference=(instruction.get("RemittanceInformation") or {}).get("Reference"),
                end_to_end_identification=instruction["EndToEndIdentification"])
            items.append(FilePaymentItem(order_pk=order.id, position=position,
                                         ledger_payment_pk=payment.id))
    except LedgerError as refusal:
        savepoint.rollback()
        reason = (f"payment {position + 1} of {len(upload.payments)} in the file "
                  f"({instruction['InstructionIdentification']}): {_refusal_reason(refusal)}")
        _move(order, files.INITIATION_FAILED, now, reason[:500])
        order.rejection_reason = reason[:500]
        uow.session.flush()
        audit_execution(uow, order.order_type, order.payment_order_id, order.status, now,
                        order.rejection_reason)
        _announce(uow, order, now)
        return order.status
    uow.session.add_all(items)
    savepoint.commit()
    _move(order, files.INITIATION_COMPLETED, now)
    uow.session.flush()
    audit_execution(uow, order.order_type, order.payment_order_id, order.status, now)
    _announce(uow, order, now)
    return order.status


# Other payment resources executed by this same task (EXECUTE_ORDER) through the ledger:
# domestic VRPs (aspsp.vrp). Each `executor(uow, id, now)` pays its own resource with that id
# and answers its status, or None when the id is not one of its resources; its `pending(uow,
# created_before)` lists those still Pending, for the stuck orders' sweep.
_OTHER_EXECUTORS: list[Callable[[UnitOfWork, str, datetime], str | None]] = []
_OTHER_PENDING: list[Callable[[UnitOfWork, datetime], list[str]]] = []


def executes_too(executor: Callable[[UnitOfWork, str, datetime], str | None],
                 pending: Callable[[UnitOfWork, datetime], list[str]] | None = None) -> None:
    if executor not in _OTHER_EXECUTORS:
        _OTHER_EXECUTORS.append(executor)
    if pending is not None and pending not in _OTHER_PENDING:
        _OTHER_PENDING.append(pending)


def _execute_other(uow: UnitOfWork, resource_id: str, now: datetime) -> str | None:
    for executor in _OTHER_EXECUTORS:
        status = executor(uow, resource_id, now)
        if status is not None:
            return status
    return None


def _record_exchange(uow: UnitOfWork, payment, initiation: Mapping[str, Any], debited,
                     applied: dict | None) -> None:
    """The ledger entry of an international payment says what was sent and at what rate
    the debtor paid for it (its description; ledger.pay names every payment a Faster
    Payment)."""
    from aspsp.ledger.models import JournalEntry
    entry = uow.session.get(JournalEntry, payment.entry_pk)
    entry.description = international.describe(
        domain.money_of(initiation["InstructedAmount"]), debited, applied)
    uow.session.flush()


def payment_settled(uow: UnitOfWork, payment, now: datetime) -> None:
    """Settlement changed the ledger payment's status, so its order's (if a TPP made it);
    an instalment of a TPP's schedule has its charge booked or refunded with it."""
    order = uow.session.scalars(select(PaymentOrder).where(
        PaymentOrder.ledger_payment_pk == payment.id)).one_or_none()
    if order is not None:
        charges.settle_charge(uow, charges.charge_entry_of(order.status_history), payment,
                              now)
        _announce(uow, order, now)
        return
    order = uow.session.scalars(select(PaymentOrder).join(
        FilePaymentItem, FilePaymentItem.order_pk == PaymentOrder.id).where(
        FilePaymentItem.ledger_payment_pk == payment.id)).one_or_none()
    if order is not None:               # a payment of a file: its payment-details changed
        _announce(uow, order, now)
        return
    order = PisRepository(uow.session).order_of_instalment(payment.id)
    if order is not None:
        charges.settle_charge(uow, charges.instalment_charge_entry(
            order.status_history, payment.payment_id), payment, now)
        _announce(uow, order, now)      # its payment-details changed


def instalment_executed(uow: UnitOfWork, row, execution, now: datetime) -> None:
    """The schedule engine paid (or refused) an instalment of a schedule row (a
    StandingOrder or ScheduledPayment; aspsp.ledger.schedules.on_executed): when a TPP's
    order set it up, the order's payment-details changed, so a resource-update event."""
    found = PisRepository(uow.session).order_of_schedule(row)
    if found is not None:
        _announce(uow, found[0], now)


def instalment_charge(uow: UnitOfWork, row, debited, now: datetime):
    """The schedule engine's charger (aspsp.ledger.schedules.on_instalment, registered by
    init_app): the charges of one instalment of `debited` of the schedule `row` per its
    consent (aspsp.pis.charges), when a TPP's order set it up; else None. The order is
    the schedule's own, under the schedule row's lock: its history keeps the entry."""
    found = PisRepository(uow.session).order_of_schedule(row)
    if found is None or not found[1].get("Charges"):
        return None
    order, data = found

    def kept(payment_id: str, entry_id: str) -> None:
        order.status_history = charges.keep_instalment_charge(order.status_history,
                                                              payment_id, entry_id)

    return charges.of_instalment(uow, data, row.account_pk, debited, now,
                                 payee=row.creditor_name, kept=kept)


def _announce(uow: UnitOfWork, order: PaymentOrder, now: datetime) -> None:
    """The order's status changed after its TPP created it: a resource-update event."""
    events.payment_status_changed(uow, client_pk=order.client_pk, order_type=order.order_type,
                                  payment_id=order.payment_order_id, now=now)


def pending_orders(uow: UnitOfWork, created_before: datetime) -> list[str]:
    """Domestic and international payment orders (and the other resources EXECUTE_ORDER
    executes: domestic VRPs) not executed yet, submitted before `created_before`."""
    repo = PisRepository(uow.session)
    return [order_id for order_type in IMMEDIATE_ORDER_TYPES
            for order_id in repo.pending_orders(order_type, created_before)] + \
        repo.pending_orders(FILE_PAYMENT, created_before, status=files.INITIATION_PENDING) + \
        [other for pending in _OTHER_PENDING for other in pending(uow, created_before)]


def refusal_reason(refusal: LedgerError) -> str:
    """The ledger's refusal of a payment as its OB StatusReasonDescription."""
    return _refusal_reason(refusal)


def _refusal_reason(refusal: LedgerError) -> str:
    names = {"Ledger.InsufficientFunds": "Insufficient funds in the debtor account",
             "Ledger.AccountNotActive": "The debtor account is not enabled",
             "Ledger.CurrencyMismatch": "The debtor account is in another currency"}
    return names.get(refusal.code, refusal.message)[:500]


# --- reading ---------------------------------------------------------------------------------
def order_record(repo: PisRepository, order: PaymentOrder, *, consent_id: str | None = None,
                 initiation: dict | None = None, debtor: Account | None = None) -> OrderRecord:
    consent = repo.consent(order.consent_pk)   # its data: initiation, quote, charges, refund
    payment = repo.ledger_payment(order.ledger_payment_pk)
    history = [StatusStep(s["status"], datetime.fromisoformat(s["at"]), s.get("reason"))
               for s in order.status_history]
    if order.order_type == FILE_PAYMENT:
        return _file_record(repo, order, history, consent_id or consent.consent_id,
                            initiation if initiation is not None
                            else consent.data["Initiation"], debtor)
    if order.scheduled_payment_pk or order.standing_order_pk:
        return _schedule_record(repo, order, history, consent_id or consent.consent_id,
                                consent.data, initiation if initiation is not None
                                else consent.data["Initiation"], debtor)
    if payment is not None:
        # The ledger's own Pending is the order's; its later steps follow the order's.
        seen = {(s.status) for s in history}
        for step in payment.status_history:
            if step["status"] in seen:
                continue
            history.append(StatusStep(step["status"], datetime.fromisoformat(step["at"]),
                                      step.get("reason")))
            seen.add(step["status"])
    last = history[-1]
    exchange_rate = None
    if order.order_type in international.ORDER_TYPES:
        applied = [s["exchange_rate"] for s in order.status_history if "exchange_rate" in s]
        exchange_rate = applied[-1] if applied else \
            consent.data.get("ExchangeRateInformation")
    debited = debtor_of(debtor or repo.account(order.debtor_account_pk))
    return OrderRecord(
        payment_order_id=order.payment_order_id, order_type=order.order_type,
        consent_id=consent_id or consent.consent_id,
        status=payment.status if payment is not None else order.status,
        status_updated_at=last.at, created_at=order.created_at,
        initiation=initiation if initiation is not None else consent.data["Initiation"],
        debtor=debited, history=tuple(history),
        transaction_id=payment.payment_id if payment is not None else order.payment_order_id,
        exchange_rate=exchange_rate, charges=consent.data.get("Charges"),
        refund=_refund(consent.data, debited))


def _schedule_record(repo: PisRepository, order: PaymentOrder, history: list[StatusStep],
                     consent_id: str, consent_data: Mapping[str, Any], initiation: dict,
                     debtor: Account | None) -> OrderRecord:
    """A scheduled payment or standing order: InitiationCompleted (Cancelled once its
    schedule is), and each payment the schedule made since, with its own status."""
    reader = _Reader(repo.session)     # the schedule engine's readers take a unit of work
    state = schedules.scheduled_payment_state(
        reader, _schedule_id(repo, order)) if order.scheduled_payment_pk else \
        schedules.standing_order_state(reader, _schedule_id(repo, order))
    status = CANCELLED if state is not None and state.status == CANCELLED else order.status
    steps = list(history) + [
        StatusStep(e.status, e.executed_at, e.rejection_reason,
                   e.payment_id or e.execution_id) for e in (state.executions if state else [])]
    exchange_rate = None
    if order.order_type in international.QUOTED_TYPES:    # the rate applied, else the quote
        exchange_rate = international.applied_rate(state.executions if state else []) or \
            consent_data.get("ExchangeRateInformation")
    debited = debtor_of(debtor or repo.account(order.debtor_account_pk))
    return OrderRecord(
        payment_order_id=order.payment_order_id, order_type=order.order_type,
        consent_id=consent_id, status=status, status_updated_at=history[-1].at,
        created_at=order.created_at, initiation=initiation, debtor=debited,
        history=tuple(steps), transaction_id=order.payment_order_id,
        exchange_rate=exchange_rate,
        charges=consent_data.get("Charges"),  # on each payment
        refund=_refund(consent_data, debited))


def _file_record(repo: PisRepository, order: PaymentOrder, history: list[StatusStep],
                 consent_id: str, initiation: dict, debtor: Account | None) -> OrderRecord:
    """A file payment: InitiationPending, then InitiationCompleted (or InitiationFailed with
    the reason); once completed, every status of each payment of the file, each under its
    own ledger payment's id."""
    steps = list(history)
    for _, payment in file_payments(repo, order):
        steps += [StatusStep(step["status"], datetime.fromisoformat(step["at"]),
                             step.get("reason"), payment.payment_id)
                  for step in payment.status_history]
    return OrderRecord(
        payment_order_id=order.payment_order_id, order_type=order.order_type,
        consent_id=consent_id, status=order.status, status_updated_at=history[-1].at,
        created_at=order.created_at, initiation=initiation,
        debtor=debtor_of(debtor or repo.account(order.debtor_account_pk)),
        history=tuple(steps), transaction_id=order.payment_order_id)


def file_payments(repo: PisRepository, order: PaymentOrder) -> list[tuple[int, Any]]:
    """(position in the file, ledger payment) of each payment a file order made, in file
    order; none before its initiation completed."""
    from aspsp.ledger.models import Payment
    return [(position, payment) for position, payment in repo.session.execute(
        select(FilePaymentItem.position, Payment)
        .join(Payment, Payment.id == FilePaymentItem.ledger_payment_pk)
        .where(FilePaymentItem.order_pk == order.id).order_by(FilePaymentItem.position))]


@dataclass(frozen=True)
class FileReportLine:
    instruction: dict             # the payment as the file has it
    status: str                   # its ledger payment's status, else the file's
    status_updated_at: datetime
    transaction_id: str | None    # its ledger payment's id, once paid
    reason: str | None


def file_report(uow: UnitOfWork, client: Client, payment_order_id: str
                ) -> tuple[OrderRecord, list[FileReportLine]]:
    """A file payment and each payment of its file with its own status (the report-file)."""
    repo = PisRepository(uow.session)
    order = _client_order(repo, client, payment_order_id, FILE_PAYMENT)
    record = order_record(repo, order)
    upload = files.uploaded_file(uow.session, order.consent_pk)
    paid = dict(file_payments(repo, order))
    lines = []
    for position, instruction in enumerate(upload.payments):
        payment = paid.get(position)
        if payment is None:        # not initiated (yet, or the file failed)
            lines.append(FileReportLine(instruction, order.status, order.status_updated_at,
                                        None, order.rejection_reason))
            continue
        last = payment.status_history[-1]
        lines.append(FileReportLine(instruction, payment.status,
                                    datetime.fromisoformat(last["at"]), payment.payment_id,
                                    last.get("reason")))
    return record, lines


@dataclass(frozen=True)
class _Reader:
    session: Any


def _schedule_id(repo: PisRepository, order: PaymentOrder) -> str:
    from aspsp.ledger.models import ScheduledPayment, StandingOrder
    if order.scheduled_payment_pk:
        return repo.session.get(ScheduledPayment, order.scheduled_payment_pk).scheduled_payment_id
    return repo.session.get(StandingOrder, order.standing_order_pk).standing_order_id


def debtor_of(account: Account) -> dict[str, str]:
    return {"SchemeName": domain.SORT_CODE_ACCOUNT_NUMBER,
            "Identification": f"{account.sort_code}{account.account_number}",
            "Name": account.name}


# --- helpers ---------------------------------------------------------------------------------
def _check_token_consent(context, consent_id: str) -> None:
    if context.consent_id != consent_id:
        raise WrongConsent("the ConsentId is not the consent of the access token",
                           "ConsentId")


def _debtor(repo: PisRepository, consent, context) -> Account:
    """The account the customer chose at approval, or the TPP's DebtorAccount, which must
    be an account the customer holds (and the one chosen, when one was)."""
    chosen = [a for a in repo.chosen_accounts(consent.id) if a.id in context.account_pks]
    named = consent.data["Initiation"].get("DebtorAccount")
    if named is not None:
        account = _named_account(repo, consent.psu_pk, named)
        if account is None or (chosen and account.id not in {a.id for a in chosen}):
            raise DebtorNotPermitted("the DebtorAccount is not an account of the customer "
                                     "who authorised the consent",
                                     "Data.Initiation.DebtorAccount")
        return account
    if not chosen:
        raise DebtorNotPermitted("the customer chose no account to pay from that they "
                                 "still hold")
    return chosen[0]


def debtor_account(repo: PisRepository, consent, context) -> Account:
    """The account a payment under `consent` is made from (see _debtor): VRPs' too."""
    return _debtor(repo, consent, context)


def _named_account(repo: PisRepository, psu_pk: int, named: Mapping[str, str]):
    try:
        ident = domain.normalised_identification(named["SchemeName"], named["Identification"])
    except ValueError:
        return None
    if named["SchemeName"] == domain.IBAN_SCHEME:
        return repo.customer_account(psu_pk, iban=ident)
    return repo.customer_account(psu_pk, sort_code=ident[:6], account_number=ident[6:])


def _step(status: str, at: datetime, reason: str | None = None) -> dict:
    return {"status": str(status), "at": at.isoformat(), "reason": reason}


def _move(order: PaymentOrder, status: OrderStatus, at: datetime,
          reason: str | None = None) -> None:
    order.status = status
    order.status_updated_at = at
    order.status_history = [*order.status_history, _step(status, at, reason)]


def _consent_pk(uow: UnitOfWork, consent_id: str) -> int:
    from sqlalchemy import select

    from consent.models import Consent
    return uow.session.scalars(select(Consent.id).where(Consent.consent_id == consent_id)).one()


def _plausible_id(value: str) -> bool:
    return bool(value) and len(value) <= 40 and value.isprintable()


__all__ = ["ConsentView", "OrderRecord", "Problem", "ProblemKind", "create_consent",
           "execute_order", "funds_confirmation", "get_consent", "get_order", "submit_order"]
