"""A domestic payment order whose execution message was lost (committed, never sent) stays
Pending until the beat's sweep sends it again; the sweep leaves executed orders alone."""
from __future__ import annotations

from datetime import timedelta

from aspsp.ledger import services as ledger
from aspsp.ledger.money import Money
from aspsp.pis import services, tasks
from tests.integration.pis.conftest import PAYMENTS, payment_body


class _Context:
    """The gate's consent context as the submission reads it."""

    def __init__(self, journey, platform):
        from sqlalchemy import select

        from consent.models import Consent, ConsentAccount
        with platform.uow() as uow:
            consent = uow.session.scalars(select(Consent).where(
                Consent.consent_id == journey.consent_id)).one()
            self.consent_id, self.consent_pk = consent.consent_id, consent.id
            self.client_pk, self.client_id = consent.client_pk, journey.tpp.client_id
            self.account_pks = frozenset(uow.session.scalars(select(
                ConsentAccount.account_pk).where(ConsentAccount.consent_pk == consent.id)))
            self.id = self.client_pk


def test_a_lost_execution_message_is_sent_again_by_the_sweep(app, pisp, payer, journey,
                                                             platform, clock):
    j = journey(pisp, payer)
    context = _Context(j, platform)
    with platform.uow() as uow:
        record = services.submit_order(uow, context, context,
                                       payment_body(j.consent_id, j.body),
                                       services.DOMESTIC_PAYMENT, clock.now())
        uow.session.commit()          # committed, but the task it would send is lost
    read = lambda: pisp.call("GET", f"{PAYMENTS}/{record.payment_order_id}",  # noqa: E731
                             token=pisp.token(scope="payments")).get_json()["Data"]["Status"]
    with app.app_context():
        assert tasks.execute_stuck_orders() == 0      # not a minute old yet
    assert read() == "Pending"
    clock.advance(timedelta(minutes=2))
    with app.app_context():
        assert tasks.execute_stuck_orders() == 1
        assert tasks.execute_stuck_orders() == 0      # executed: left alone
    assert read() == "AcceptedSettlementCompleted"
    with platform.uow() as uow:
        balances = {b.type: b.amount for b in ledger.balances(uow, payer.account_ids[0],
                                                              now=clock.now())}
        assert balances["InterimBooked"] == Money.of("89.50", "GBP")
