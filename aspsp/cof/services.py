"""Confirmation of funds use cases. Each takes a unit of work, does one thing and leaves the
commit to the caller (the view).

The consents themselves live in the consent context (consent.services: lifecycle, history,
the customer's approval and revocation); this module validates what only a funds
confirmation consent carries (its DebtorAccount) and answers the CBPII's questions: whether
the consent's one account can pay an amount now, from its available balance and its arranged
overdraft, as a yes or a no. The answer is kept as the funds-confirmation resource; the
balance is never returned, stored or logged.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy.exc import IntegrityError

from aspsp.db import UnitOfWork
from aspsp.ids import new_id
from aspsp.ledger.domain import AccountStatus
from aspsp.ledger.services import from_minor, snapshot_of
from consent import services as consents
from consent.domain import ConsentType
from consent.services import Client, ConsentRecord

from . import domain
from .errors import (AccountNotEnabled, AccountNotPermitted, DuplicateReference,
                     InvalidRequest, WrongConsent)
from .models import FundsConfirmation
from .repository import CofRepository

FUNDS_CONFIRMATION = ConsentType.FUNDS_CONFIRMATION


@dataclass(frozen=True)
class ConfirmationRecord:
    """A funds-confirmation resource as the API shows it."""
    funds_confirmation_id: str
    consent_id: str
    created_at: datetime
    funds_available: bool
    reference: str
    amount: str
    currency: str


# --- consents ----------------------------------------------------------------------------------
def create_consent(uow: UnitOfWork, client: Client, data: Mapping[str, Any],
                   expiration: datetime | None, now: datetime, *,
                   rng: random.Random | None = None) -> ConsentRecord:
    """`data` is the request's Data exactly as sent; its DebtorAccount must be an account the
    bank can identify (sort code and account number, or IBAN)."""
    problems = domain.debtor_problems(data.get("DebtorAccount") or {})
    if problems:
        raise InvalidRequest(problems)
    return consents.create_funds_confirmation_consent(uow, client, dict(data), now,
                                                      expiration=expiration, rng=rng)


def get_consent(uow: UnitOfWork, client: Client, consent_id: str,
                now: datetime) -> ConsentRecord:
    return consents.get_consent(uow, client, consent_id, now, consent_type=FUNDS_CONFIRMATION)


def delete_consent(uow: UnitOfWork, client: Client, consent_id: str,
                   now: datetime) -> ConsentRecord:
    return consents.delete_consent(uow, client, consent_id, now,
                                   consent_type=FUNDS_CONFIRMATION)


# --- funds confirmations -----------------------------------------------------------------------
def confirm_funds(uow: UnitOfWork, context, body: Mapping[str, Any], now: datetime, *,
                  rng: random.Random | None = None) -> ConfirmationRecord:
    """The answer for the amount asked, against the account the customer approved. `context`
    is the gate's ConsentContext of the customer's token (an Authorised funds-confirmation
    consent of this client, not expired)."""
    data = body["Data"]
    if data["ConsentId"] != context.consent_id:
        raise WrongConsent("the ConsentId is not the consent of the access token",
                           "Data.ConsentId")
    if len(context.account_pks) != 1:
        raise AccountNotPermitted("the consent's account is no longer held by the customer "
                                  "who approved it")
    repo = CofRepository(uow.session)
    account = repo.account(next(iter(context.account_pks)))
    if account.status != AccountStatus.ENABLED:
        raise AccountNotEnabled("the consent's account is not enabled: funds cannot be "
                                "confirmed on it")
    problems = domain.amount_problems(data["InstructedAmount"], account.currency)
    if problems:
        raise InvalidRequest(problems)
    if repo.reference_used(context.consent_pk, data["Reference"]):
        raise DuplicateReference("this Reference was used before under this consent",
                                 "Data.Reference")
    asked = domain.money_of(data["InstructedAmount"])
    available = domain.funds_available(snapshot_of(account).interim_available,
                                       from_minor(account.credit_limit_minor, account.currency),
                                       asked)
    row = FundsConfirmation(
        funds_confirmation_id=new_id(rng), consent_pk=context.consent_pk,
        client_pk=context.client_pk, account_pk=account.id, reference=data["Reference"],
        amount=str(data["InstructedAmount"]["Amount"]), currency=asked.currency,
        funds_available=available, created_at=now)
    try:
        with uow.session.begin_nested():
            repo.add(row)
    except IntegrityError:          # the same Reference, sent twice at once
        raise DuplicateReference("this Reference was used before under this consent",
                                 "Data.Reference") from None
    return ConfirmationRecord(row.funds_confirmation_id, context.consent_id, now, available,
                              row.reference, row.amount, row.currency)
