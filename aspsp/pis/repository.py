"""Queries and row locks of the payment initiation resources. Never commits."""
from __future__ import annotations

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from aspsp.identity.models import PsuUser
from aspsp.ledger.models import (Account, AccountParty, Payment, ScheduledPayment,
                                 ScheduleExecution, StandingOrder)
from consent.models import Consent, ConsentAccount

from .models import PaymentOrder


class PisRepository:
    def __init__(self, session: Session):
        self.session = session

    def add(self, obj) -> None:
        self.session.add(obj)

    def flush(self) -> None:
        self.session.flush()

    def order(self, payment_order_id: str, *, lock: bool = False) -> PaymentOrder | None:
        query = select(PaymentOrder).where(PaymentOrder.payment_order_id == payment_order_id)
        if lock:
            query = query.with_for_update().execution_options(populate_existing=True)
        return self.session.scalars(query).one_or_none()

    def order_to_execute(self, payment_order_id: str):
        """(order, its consent's data, its debtor's AccountId and currency) in one SELECT,
        the order row-locked (FOR UPDATE OF payment_orders only); None when there is none."""
        return self.session.execute(
            select(PaymentOrder, Consent.data, Account.account_id, Account.currency)
            .join(Consent, Consent.id == PaymentOrder.consent_pk)
            .join(Account, Account.id == PaymentOrder.debtor_account_pk)
            .where(PaymentOrder.payment_order_id == payment_order_id)
            .with_for_update(of=PaymentOrder.__table__)
            .execution_options(populate_existing=True)).one_or_none()

    def pending_orders(self, order_type: str, created_before,
                       status: str = "Pending") -> list[str]:
        return list(self.session.scalars(select(PaymentOrder.payment_order_id).where(
            PaymentOrder.order_type == order_type, PaymentOrder.status == status,
            PaymentOrder.created_at < created_before).order_by(PaymentOrder.id)))

    def order_of_consent(self, consent_pk: int) -> PaymentOrder | None:
        return self.session.scalars(select(PaymentOrder).where(
            PaymentOrder.consent_pk == consent_pk)).one_or_none()

    def order_of_schedule(self, row: StandingOrder | ScheduledPayment):
        """The order that set up a ledger schedule row and its consent's data, or None (a
        schedule no TPP made)."""
        column = PaymentOrder.standing_order_pk if isinstance(row, StandingOrder) \
            else PaymentOrder.scheduled_payment_pk
        return self.session.execute(
            select(PaymentOrder, Consent.data)
            .join(Consent, Consent.id == PaymentOrder.consent_pk)
            .where(column == row.id)).one_or_none()

    def order_of_instalment(self, payment_pk: int) -> PaymentOrder | None:
        """The schedule order one of whose instalments the ledger payment `payment_pk` is."""
        e = ScheduleExecution
        return self.session.scalars(select(PaymentOrder).join(e, or_(
            and_(e.standing_order_pk.is_not(None),
                 e.standing_order_pk == PaymentOrder.standing_order_pk),
            and_(e.scheduled_payment_pk.is_not(None),
                 e.scheduled_payment_pk == PaymentOrder.scheduled_payment_pk)))
            .where(e.payment_pk == payment_pk)).one_or_none()

    def consent(self, consent_pk: int) -> Consent:
        return self.session.get(Consent, consent_pk)

    def account(self, account_pk: int) -> Account:
        return self.session.get(Account, account_pk)

    def ledger_payment(self, payment_pk: int | None) -> Payment | None:
        return self.session.get(Payment, payment_pk) if payment_pk else None

    def chosen_accounts(self, consent_pk: int) -> list[Account]:
        """The accounts chosen at approval, in the order chosen (by id)."""
        return list(self.session.scalars(
            select(Account).join(ConsentAccount, ConsentAccount.account_pk == Account.id)
            .where(ConsentAccount.consent_pk == consent_pk).order_by(Account.id)))

    def customer_account(self, psu_pk: int, *, sort_code: str | None = None,
                         account_number: str | None = None,
                         iban: str | None = None) -> Account | None:
        """An account the customer holds, by sort code and number or by IBAN."""
        query = (select(Account).join(AccountParty, AccountParty.account_pk == Account.id)
                 .join(PsuUser, PsuUser.party_pk == AccountParty.party_pk)
                 .where(PsuUser.id == psu_pk))
        if iban is not None:
            query = query.where(Account.iban == iban)
        else:
            query = query.where(Account.sort_code == sort_code,
                                Account.account_number == account_number)
        return self.session.scalars(query).first()
