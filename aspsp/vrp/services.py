"""Variable recurring payment use cases. Each takes a unit of work and does one thing; the API
views commit (consents, submissions), the execution task commits (executions).

The consents live in the consent context (consent.services: a `domestic-vrp` consent is
long-lived: Authorised until the customer or the TPP revokes it or its ValidToDateTime, kept
as its ExpirationDateTime, passes). Submission (`submit_vrp`): the consent row locked (a
second submission against it waits until this one commits), still Authorised, the request's
Initiation and Risk the consent's, its Instruction paying the consent's payee, then every
control parameter checked against what the consent's VRPs already used in each period, read
under that same lock; the VRP is recorded Pending in that transaction and executed after the
commit by payment initiation's own task (`pis.execute_payment_order`, which hands the ids it
does not know to `execute_vrp`) through `ledger.pay`, as a domestic payment is.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, Mapping

from aspsp import audit, events
from aspsp.db import UnitOfWork
from aspsp.ids import new_id
from aspsp.ledger import dispatch
from aspsp.ledger import services as ledger
from aspsp.ledger.errors import LedgerError
from aspsp.pis import domain as pis_domain
from aspsp.pis import services as pis
from aspsp.pis.errors import (ConsentNotUsable, ConsentOfAnotherType, InvalidPaymentRequest,
                              PaymentOfAnotherClient, PaymentOrderNotFound, WrongConsent)
from aspsp.pis.repository import PisRepository
from consent import services as consents
from consent.domain import ConsentStatus, ConsentType
from consent.errors import ConsentNotFound
from consent.services import Client, ConsentRecord

from . import domain
from .errors import LimitExceeded
from .models import DomesticVrp
from .repository import VrpRepository

DOMESTIC_VRP = ConsentType.DOMESTIC_VRP          # the consent type, and the event's rty
PENDING, REJECTED = "Pending", "Rejected"


@dataclass(frozen=True)
class ConsentView:
    record: ConsentRecord
    debtor: dict[str, str] | None          # the account chosen at approval


@dataclass(frozen=True)
class StatusStep:
    status: str
    at: datetime
    reason: str | None = None


@dataclass(frozen=True)
class VrpRecord:
    domestic_vrp_id: str
    consent_id: str
    status: str
    status_updated_at: datetime
    created_at: datetime
    request: dict                          # {"Data": ..., "Risk": ...} as the TPP sent it
    debtor: dict[str, str]
    history: tuple[StatusStep, ...]
    transaction_id: str                    # the ledger payment's id once executed
    rejection_reason: str | None = None


@dataclass(frozen=True)
class FundsAnswer:
    funds_confirmation_id: str
    consent_id: str
    created_at: datetime
    available: bool
    reference: str | None
    amount: dict


# --- consents --------------------------------------------------------------------------------
def create_consent(uow: UnitOfWork, client: Client, body: Mapping[str, Any],
                   parsed: Mapping[str, Any], now: datetime,
                   rng: random.Random | None = None) -> ConsentView:
    """A domestic VRP consent (AwaitingAuthorisation): `body` as the TPP sent it (kept),
    `parsed` the same through the request schema (its date-times parsed). Nothing is written
    when any rule fails."""
    problems = domain.consent_problems(parsed["Data"], now)
    if problems:
        raise InvalidPaymentRequest(problems)
    data = {k: v for k, v in body["Data"].items()}
    data["Risk"] = body["Risk"]
    record = consents.create_payment_consent(
        uow, client, DOMESTIC_VRP, data, now, rng=rng,
        expiration=parsed["Data"]["ControlParameters"].get("ValidToDateTime"))
    return ConsentView(record, None)


def get_consent(uow: UnitOfWork, client: Client, consent_id: str,
                now: datetime) -> ConsentView:
    record = consents.get_consent(uow, client, consent_id, now, consent_type=DOMESTIC_VRP)
    return ConsentView(record, _chosen_debtor(uow, consent_id) if record.psu_id else None)


def delete_consent(uow: UnitOfWork, client: Client, consent_id: str,
                   now: datetime) -> ConsentRecord:
    """The TPP's DELETE: no VRP can be made under it from now on (its tokens are revoked)."""
    return consents.delete_consent(uow, client, consent_id, now, consent_type=DOMESTIC_VRP)


def _chosen_debtor(uow: UnitOfWork, consent_id: str) -> dict[str, str] | None:
    """The account the customer picked at approval (the consent's DebtorAccount)."""
    chosen = VrpRepository(uow.session).chosen_accounts(consent_id)
    return pis.debtor_of(chosen[0]) if chosen else None


def confirm_funds(uow: UnitOfWork, context, consent_id: str, body: Mapping[str, Any],
                  now: datetime, rng: random.Random | None = None) -> FundsAnswer:
    """Whether the consent's debtor account can pay the amount now (available balance and
    unused arranged overdraft); the answer only, never the balance."""
    data = body["Data"]
    if context.consent_id != consent_id or data["ConsentId"] != consent_id:
        raise WrongConsent("the ConsentId is not the consent of the access token",
                           "Data.ConsentId")
    if context.consent_type != DOMESTIC_VRP:     # the gate lets any payment consent through
        raise ConsentOfAnotherType("the token's consent is not a domestic VRP consent",
                           "Data.ConsentId")
    problems = pis_domain.amount_problems(data["InstructedAmount"], "Data.InstructedAmount",
                                          pis_domain.DOMESTIC_CURRENCIES)
    if problems:
        raise InvalidPaymentRequest(problems)
    repo = PisRepository(uow.session)
    debtor = pis.debtor_account(repo, repo.consent(context.consent_pk), context)
    snapshot = ledger.snapshot_of(debtor)
    usable = snapshot.interim_available + ledger.from_minor(debtor.credit_limit_minor,
                                                            debtor.currency)
    available = pis_domain.funds_available(usable,
                                           pis_domain.money_of(data["InstructedAmount"]))
    return FundsAnswer(new_id(rng), consent_id, now, available, data.get("Reference"),
                       dict(data["InstructedAmount"]))


# --- VRPs ------------------------------------------------------------------------------------
def submit_vrp(uow: UnitOfWork, context, client: Client, body: Mapping[str, Any],
               now: datetime, rng: random.Random | None = None) -> VrpRecord:
    consent_id = body["Data"]["ConsentId"]
    if context.consent_id != consent_id:
        raise WrongConsent("the ConsentId is not the consent of the access token",
                           "Data.ConsentId")
    try:      # the row lock: concurrent VRPs of this consent are checked one after another
        consent = consents.lock_payment_consent(uow, client, consent_id, DOMESTIC_VRP, now)
    except ConsentNotFound:
        raise ConsentOfAnotherType("the token's consent is not a domestic VRP consent",
                           "Data.ConsentId") from None
    if consent.status != ConsentStatus.AUTHORISED:
        raise ConsentNotUsable(f"the consent is {consent.status}", "Data.ConsentId")
    problems = domain.submission_problems(consent.data, body)
    if problems:
        raise InvalidPaymentRequest(problems)
    pis_repo, repo = PisRepository(uow.session), VrpRepository(uow.session)
    debtor = pis.debtor_account(pis_repo, consent, context)
    amount = pis_domain.money_of(body["Data"]["Instruction"]["InstructedAmount"])
    try:
        domain.check_controls(consent.data["ControlParameters"], body["Data"], amount, now,
                              consent.created_at,
                              lambda start, end: repo.used(consent.id, amount.currency, start,
                                                           end))
    except domain.FailsControlParameters as refusal:
        raise LimitExceeded(refusal.message, refusal.field) from None
    vrp = DomesticVrp(domestic_vrp_id=new_id(rng), consent_pk=consent.id, client_pk=client.id,
                      debtor_account_pk=debtor.id, amount_minor=ledger.to_minor(amount),
                      currency=amount.currency,
                      request={"Data": dict(body["Data"]), "Risk": body["Risk"]},
                      status=PENDING, status_history=[_step(PENDING, now)], created_at=now,
                      status_updated_at=now)
    repo.add(vrp)
    repo.flush()
    audit.record(uow, "payment.submitted", audit.Actor.client(client.client_id), now=now,
                 subject=vrp.domestic_vrp_id,
                 facts={"order_type": "domestic-vrp", "consent_id": consent_id,
                        **pis.initiation_amount(body["Data"]["Instruction"])})
    dispatch.after_commit(uow, pis.EXECUTE_ORDER, vrp.domestic_vrp_id)
    return _record(repo, vrp, consent_id, debtor)


def get_vrp(uow: UnitOfWork, client: Client, domestic_vrp_id: str) -> VrpRecord:
    repo = VrpRepository(uow.session)
    vrp = repo.vrp(domestic_vrp_id) if _plausible_id(domestic_vrp_id) else None
    if vrp is not None and vrp.client_pk != client.id:
        raise PaymentOfAnotherClient("this domestic VRP was created by another client")
    if vrp is None:
        raise PaymentOrderNotFound("there is no domestic VRP with this id")
    return _record(repo, vrp)


def execute_vrp(uow: UnitOfWork, domestic_vrp_id: str, now: datetime) -> str | None:
    """Pay the VRP through the ledger, once (its row locked; a VRP no longer Pending is left
    as it is). None when the id is no VRP's (the execution task asks every kind)."""
    repo = VrpRepository(uow.session)
    vrp = repo.vrp(domestic_vrp_id, lock=True) if _plausible_id(domestic_vrp_id) else None
    if vrp is None:
        return None
    if vrp.status != PENDING or vrp.ledger_payment_pk:
        return vrp.status
    instruction = vrp.request["Data"]["Instruction"]
    payee = pis_domain.payee_of(instruction)
    savepoint = uow.savepoint()
    try:
        payment = ledger.pay(
            uow, debtor_account_id=repo.account(vrp.debtor_account_pk).account_id,
            creditor=ledger.Creditor(payee.name, payee.scheme, payee.identification),
            amount=pis_domain.money_of(instruction["InstructedAmount"]), now=now,
            reference=(instruction.get("RemittanceInformation") or {}).get("Reference"),
            end_to_end_identification=instruction["EndToEndIdentification"])
    except LedgerError as refusal:
        savepoint.rollback()
        vrp.rejection_reason = pis.refusal_reason(refusal)
        _move(vrp, REJECTED, now, vrp.rejection_reason)
        repo.flush()
        pis.audit_execution(uow, "domestic-vrp", vrp.domestic_vrp_id, vrp.status, now,
                            vrp.rejection_reason)
        _announce(uow, vrp, now)
        return vrp.status
    savepoint.commit()
    vrp.ledger_payment_pk = payment.id
    _move(vrp, payment.status, now)
    repo.flush()
    pis.audit_execution(uow, "domestic-vrp", vrp.domestic_vrp_id, vrp.status, now)
    _announce(uow, vrp, now)
    return vrp.status


def pending_vrps(uow: UnitOfWork, created_before: datetime) -> list[str]:
    """VRPs still Pending, submitted before `created_before`: their execution message was
    lost (the broker down at the commit, a restart); pis.execute_stuck_orders sends it again
    (executing twice is harmless: a VRP no longer Pending is left alone)."""
    return VrpRepository(uow.session).pending(created_before)


def payment_settled(uow: UnitOfWork, payment, now: datetime) -> None:
    """Settlement changed a ledger payment's status: its VRP's too, if it is one."""
    vrp = VrpRepository(uow.session).of_ledger_payment(payment.id)
    if vrp is not None:
        _announce(uow, vrp, now)


def _announce(uow: UnitOfWork, vrp: DomesticVrp, now: datetime) -> None:
    """The VRP's status changed after its TPP created it: a resource-update event."""
    events.payment_status_changed(uow, client_pk=vrp.client_pk, order_type=DOMESTIC_VRP,
                                  payment_id=vrp.domestic_vrp_id, now=now)


# --- what the customer sees ----------------------------------------------------------------------
@dataclass(frozen=True)
class LimitUse:
    period_type: str
    alignment: str
    limit: Decimal
    used: Decimal
    currency: str
    start: datetime
    end: datetime


def usage(uow: UnitOfWork, consent_pk: int, data: Mapping[str, Any], created: datetime,
          now: datetime) -> list[LimitUse]:
    """Each of the consent's PeriodicLimits in its current period and what its VRPs used."""
    repo = VrpRepository(uow.session)
    out = []
    for limit in (data.get("ControlParameters") or {}).get("PeriodicLimits") or []:
        period = domain.period_of(limit, domain.uk_day(created), domain.uk_day(now))
        start, end = period.bounds_utc()
        currency = str(limit["Currency"])
        out.append(LimitUse(limit["PeriodType"], limit["PeriodAlignment"], period.limit,
                            repo.used(consent_pk, currency, start, end), currency, start, end))
    return out


# --- reading ---------------------------------------------------------------------------------
def _record(repo: VrpRepository, vrp: DomesticVrp, consent_id: str | None = None,
            debtor=None) -> VrpRecord:
    if consent_id is None:
        consent_id = PisRepository(repo.session).consent(vrp.consent_pk).consent_id
    history = [StatusStep(s["status"], datetime.fromisoformat(s["at"]), s.get("reason"))
               for s in vrp.status_history]
    payment = repo.ledger_payment(vrp.ledger_payment_pk)
    if payment is not None:      # the ledger's later steps (settled, rejected by the scheme)
        seen = {s.status for s in history}
        for step in payment.status_history:
            if step["status"] not in seen:
                history.append(StatusStep(step["status"], datetime.fromisoformat(step["at"]),
                                          step.get("reason")))
                seen.add(step["status"])
    return VrpRecord(
        domestic_vrp_id=vrp.domestic_vrp_id, consent_id=consent_id,
        status=payment.status if payment is not None else vrp.status,
        status_updated_at=history[-1].at, created_at=vrp.created_at, request=vrp.request,
        debtor=pis.debtor_of(debtor or repo.account(vrp.debtor_account_pk)),
        history=tuple(history),
        transaction_id=payment.payment_id if payment is not None else vrp.domestic_vrp_id,
        rejection_reason=vrp.rejection_reason)


def _step(status: str, at: datetime, reason: str | None = None) -> dict:
    return {"status": str(status), "at": at.isoformat(), "reason": reason}


def _move(vrp: DomesticVrp, status: str, at: datetime, reason: str | None = None) -> None:
    vrp.status, vrp.status_updated_at = str(status), at
    vrp.status_history = [*vrp.status_history, _step(status, at, reason)]


def _plausible_id(value: str) -> bool:
    return bool(value) and len(value) <= 40 and value.isprintable()
