"""The events the bank raises where state changes, end to end: the customer revokes a consent
(consent-authorization-revoked with the consent's resource-update), a consent expires, and a
payment's status changes when it is executed (resource-update of the payment). A TPP's own
DELETE raises nothing (it knows)."""
from __future__ import annotations

from datetime import timedelta

from consent import services as consents
from consent.tasks import expire_due
from tests.integration.events.test_delivery import verified_claims
from tests.integration.pis.conftest import (  # noqa: F401  (fixtures used here)
    approve, create_consent, journey, make_payer, payer)

CAR = "urn:uk:org:openbanking:events:consent-authorization-revoked"
RU = "urn:uk:org:openbanking:events:resource-update"
CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"


def test_the_customer_revoking_in_the_dashboard_raises_consent_authorization_revoked(
        app, platform, clock, tpp, customer, decide, receiver):
    tpp.subscribe(receiver.url)
    consent_id = tpp.create_consent(token=tpp.token())
    decide(consent_id, customer)
    assert receiver.received == []           # authorising raises nothing
    with app.test_request_context(), platform.uow() as uow:    # as the dashboard does
        consents.revoke_by_psu(uow, customer.psu, consent_id, clock.now())
        uow.commit()
    [token] = receiver.tokens()
    claims = verified_claims(tpp.http, token)
    link = f"{app.config['ISSUER'].rstrip('/')}{CONSENTS}/{consent_id}"
    assert claims["sub"] == link and claims["aud"] == tpp.client_id
    assert claims["events"] == {
        CAR: {},
        RU: {"subject": {
            "subject_type": "http://openbanking.org.uk/rid_http://openbanking.org.uk/rty",
            "http://openbanking.org.uk/rid": consent_id,
            "http://openbanking.org.uk/rty": "account-access-consent",
            "http://openbanking.org.uk/rlk": [{"version": "v3.1", "link": link}]}}}


def test_a_revocation_that_rolls_back_raises_nothing(
        app, platform, clock, tpp, customer, decide, receiver, outbox):
    tpp.subscribe(receiver.url)
    consent_id = tpp.create_consent(token=tpp.token())
    decide(consent_id, customer)
    with app.test_request_context(), platform.uow() as uow:
        consents.revoke_by_psu(uow, customer.psu, consent_id, clock.now())
    assert outbox() == [] and receiver.received == []


def test_an_expired_consent_raises_consent_authorization_revoked(
        app, platform, clock, tpp, customer, decide, receiver):
    tpp.subscribe(receiver.url)
    expires = (clock.now() + timedelta(days=1)).isoformat()
    consent_id = tpp.create_consent(token=tpp.token(), ExpirationDateTime=expires)
    decide(consent_id, customer)
    clock.advance(timedelta(days=2))
    with app.app_context():                          # the beat's minute sweep records it
        assert expire_due.delay().get() == 1
        assert expire_due.delay().get() == 0          # once
    [token] = receiver.tokens()
    claims = verified_claims(tpp.http, token)
    assert set(claims["events"]) == {CAR, RU}
    assert claims["toe"] == int((clock.now() - timedelta(days=1)).timestamp())


def test_the_tpps_own_delete_raises_nothing(tpp, customer, decide, receiver):
    tpp.subscribe(receiver.url)
    consent_id = tpp.create_consent(token=tpp.token())
    decide(consent_id, customer)
    assert tpp.call("DELETE", f"{CONSENTS}/{consent_id}", token=tpp.token()).status_code == 204
    assert receiver.received == []


def test_a_payment_executed_then_settled_raises_a_resource_update_each_time(
        app, make_events_tpp, payer, journey, receiver):
    pisp = make_events_tpp(roles=("PISP",), name="Pay Quick")
    pisp.subscribe(receiver.url, scope="payments")
    submitted = journey(pisp, payer).submit()      # executed, then settled by the scheme
    assert submitted.status_code == 201, submitted.get_json()
    payment_id = submitted.get_json()["Data"]["DomesticPaymentId"]
    link = (f"{app.config['ISSUER'].rstrip('/')}/open-banking/v3.1/pisp/domestic-payments/"
            f"{payment_id}")
    claims = [verified_claims(pisp.http, t) for t in receiver.tokens()]
    assert len(claims) == 2 and len({c["jti"] for c in claims}) == 2
    for one in claims:
        assert one["sub"] == link and one["aud"] == pisp.client_id
        subject = one["events"][RU]["subject"]
        assert subject["http://openbanking.org.uk/rid"] == payment_id
        assert subject["http://openbanking.org.uk/rty"] == "domestic-payment"
    read = pisp.call("GET", f"/open-banking/v3.1/pisp/domestic-payments/{payment_id}",
                     token=pisp.token(scope="payments"))
    assert read.get_json()["Data"]["Status"] == "AcceptedSettlementCompleted"


def test_each_instalment_of_a_standing_order_raises_a_resource_update_of_the_order(
        app, platform, clock, make_events_tpp, payer, approve, receiver):
    """The TPP learns that its standing order ran: each instalment's payment and its
    settlement change the order's payment-details, so each raises a resource-update of the
    standing order (not of the ledger's own payments, which the TPP cannot read)."""
    from aspsp.ledger import schedules
    from tests.integration.pis.test_schedules import (STANDING, STANDING_ORDERS, approved,
                                                      payment_body, standing_body, submit)
    pisp = make_events_tpp(roles=("PISP",), name="Rent Robot")
    pisp.subscribe(receiver.url, scope="payments")
    body = standing_body(NumberOfPayments="2")
    consent_id, token = approved(pisp, payer, STANDING, body, approve)
    created = submit(pisp, STANDING_ORDERS, token, payment_body(consent_id, body))
    assert created.status_code == 201, created.get_json()
    order_id = created.get_json()["Data"]["DomesticStandingOrderId"]
    assert receiver.tokens() == []                     # the TPP made it: it knows

    clock.advance(timedelta(days=50))                  # 30 June and 31 July fall due
    with app.app_context(), platform.uow() as uow:     # as the beat task runs it
        assert len(schedules.run_due(uow, clock.now())) == 2
    claims = [verified_claims(pisp.http, t) for t in receiver.tokens()]
    link = (f"{app.config['ISSUER'].rstrip('/')}/open-banking/v3.1/pisp/"
            f"domestic-standing-orders/{order_id}")
    assert len(claims) == 4 and len({c["jti"] for c in claims}) == 4   # paid, settled: twice
    for one in claims:
        assert one["sub"] == link and one["aud"] == pisp.client_id
        subject = one["events"][RU]["subject"]
        assert subject["http://openbanking.org.uk/rid"] == order_id
        assert subject["http://openbanking.org.uk/rty"] == "domestic-standing-order"
