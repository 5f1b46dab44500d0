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
