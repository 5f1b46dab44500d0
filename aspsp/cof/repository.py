"""The queries of the confirmation of funds resources (no commits: the services own the unit
of work)."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from aspsp.ledger.models import Account

from .models import FundsConfirmation


class CofRepository:
    def __init__(self, session: Session):
        self.session = session

    def account(self, account_pk: int) -> Account | None:
        return self.session.get(Account, account_pk)

    def reference_used(self, consent_pk: int, reference: str) -> bool:
        return self.session.scalars(select(FundsConfirmation.id).where(
            FundsConfirmation.consent_pk == consent_pk,
            FundsConfirmation.reference == reference)).first() is not None

    def add(self, confirmation: FundsConfirmation) -> None:
        self.session.add(confirmation)
