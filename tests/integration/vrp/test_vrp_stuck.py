"""A VRP whose execution message was lost (committed, never sent) stays Pending until the
payment initiation sweep of stuck orders (pis.execute_stuck_orders, every minute) sends it
again; executed VRPs are left alone."""
from __future__ import annotations

from datetime import timedelta

from aspsp.pis import tasks
from aspsp.vrp import services
from tests.integration.pis.test_stuck_orders import _Context
from tests.integration.vrp.conftest import vrp_body


def test_a_lost_vrp_execution_is_sent_again_by_the_sweep(app, pisp, payer, vrp_journey,
                                                         platform, clock):
    j = vrp_journey(pisp, payer)
    done = j.pay("5.00").get_json()["Data"]["DomesticVRPId"]
    context = _Context(j, platform)
    with platform.uow() as uow:
        record = services.submit_vrp(uow, context, context,
                                     vrp_body(j.consent_id, j.body, "7.00"), clock.now())
        uow.session.commit()          # committed, but the task it would send is lost
    assert j.read(record.domestic_vrp_id).get_json()["Data"]["Status"] == "Pending"
    with app.app_context():
        assert tasks.execute_stuck_orders() == 0      # not a minute old yet
        clock.advance(timedelta(minutes=2))
        assert tasks.execute_stuck_orders() == 1      # only the lost one
    assert j.read(record.domestic_vrp_id).get_json()["Data"]["Status"] == \
        "AcceptedSettlementCompleted"
    assert j.read(done).get_json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    with app.app_context():
        assert tasks.execute_stuck_orders() == 0
