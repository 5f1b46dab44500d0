"""Queries and row locks of the domestic VRPs. Never commits."""
from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from aspsp.ledger.models import Account, Payment
from aspsp.ledger.money import minor_units
from consent.models import Consent, ConsentAccount

from .models import DomesticVrp

REJECTED = "Rejected"


class VrpRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, vrp: DomesticVrp) -> None:
        self.session.add(vrp)

    def flush(self) -> None:
        self.session.flush()

    def vrp(self, domestic_vrp_id: str, *, lock: bool = False) -> DomesticVrp | None:
        query = select(DomesticVrp).where(DomesticVrp.domestic_vrp_id == domestic_vrp_id)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(query).one_or_none()

    def pending(self, created_before: datetime) -> list[str]:
        return list(self.session.scalars(select(DomesticVrp.domestic_vrp_id).where(
            DomesticVrp.status == "Pending", DomesticVrp.ledger_payment_pk.is_(None),
            DomesticVrp.created_at < created_before).order_by(DomesticVrp.id)))

    def of_ledger_payment(self, payment_pk: int) -> DomesticVrp | None:
        return self.session.scalars(select(DomesticVrp).where(
            DomesticVrp.ledger_payment_pk == payment_pk)).one_or_none()

    def used(self, consent_pk: int, currency: str, start: datetime, end: datetime) -> Decimal:
        """What the consent's VRPs not rejected took in [start, end): read under the
        consent's row lock by the submission, so it sees every VRP committed before it. A
        VRP is rejected when the ledger refused it (its own status) or when the scheme
        did (its ledger payment's status: the VRP's own stays as it was executed)."""
        total = self.session.scalar(select(func.coalesce(func.sum(DomesticVrp.amount_minor), 0))
                                    .outerjoin(Payment,
                                               Payment.id == DomesticVrp.ledger_payment_pk)
                                    .where(DomesticVrp.consent_pk == consent_pk,
                                           DomesticVrp.currency == currency,
                                           DomesticVrp.status != REJECTED,
                                           or_(Payment.id.is_(None),
                                               Payment.status != REJECTED),
                                           DomesticVrp.created_at >= start,
                                           DomesticVrp.created_at < end))
        return Decimal(int(total)).scaleb(-minor_units(currency))

    def chosen_accounts(self, consent_id: str) -> list[Account]:
        """The accounts chosen at approval, in the order chosen (by id)."""
        return list(self.session.scalars(
            select(Account).join(ConsentAccount, ConsentAccount.account_pk == Account.id)
            .join(Consent, Consent.id == ConsentAccount.consent_pk)
            .where(Consent.consent_id == consent_id).order_by(Account.id)))

    def account(self, account_pk: int) -> Account:
        return self.session.get(Account, account_pk)

    def ledger_payment(self, payment_pk: int | None) -> Payment | None:
        return self.session.get(Payment, payment_pk) if payment_pk else None
