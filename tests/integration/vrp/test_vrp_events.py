"""A VRP's status changes after its PISP created it raise resource-update events through the
events context's one publishing point, as domestic payments' do (settled, or rejected by the
ledger); the customer's revocation of the VRP consent raises consent-authorization-revoked."""
from __future__ import annotations

from sqlalchemy import select

from aspsp import events
from aspsp.events.models import EventNotification, EventSubscription
from consent import services as consents


def subscribe(platform, tpp, clock) -> None:
    with platform.uow() as uow:
        uow.session.add(EventSubscription(
            subscription_id="sub-vrp", client_pk=tpp.client.row.id, callback_url=None,
            version="3.1", event_types=None, created_at=clock.now(), updated_at=clock.now()))
        uow.commit()


def raised(platform, tpp) -> list[tuple[str, str, str]]:
    with platform.uow() as uow:
        rows = uow.session.scalars(select(EventNotification).where(
            EventNotification.client_pk == tpp.client.row.id).order_by(EventNotification.id))
        out = []
        for row in rows:
            subject = row.claims["events"][events.RESOURCE_UPDATE]["subject"]
            out.append((row.event_type, subject["http://openbanking.org.uk/rty"],
                        subject["http://openbanking.org.uk/rid"]))
        return out


def test_vrp_status_changes_and_the_customers_revocation_raise_events(
        app, pisp, make_payer, vrp_journey, platform, clock):
    subscribe(platform, pisp, clock)
    customer = make_payer("15.00")
    j = vrp_journey(pisp, customer)
    paid = j.pay("10.00").get_json()["Data"]["DomesticVRPId"]
    refused = j.pay("10.00").get_json()["Data"]["DomesticVRPId"]     # 5.00 left: Rejected
    assert j.read(refused).get_json()["Data"]["Status"] == "Rejected"
    with app.app_context(), platform.uow() as uow:     # an event names the bank's issuer
        consents.revoke_by_psu(uow, customer.psu, j.consent_id, clock.now())
        uow.commit()
    seen = raised(platform, pisp)
    update = events.RESOURCE_UPDATE
    assert seen.count((update, "domestic-vrp", paid)) >= 2        # executed, then settled
    assert (update, "domestic-vrp", refused) in seen
    assert (events.CONSENT_AUTHORIZATION_REVOKED, "domestic-vrp-consent", j.consent_id) in seen
