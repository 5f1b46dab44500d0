"""A POST repeated with its x-idempotency-key and body makes nothing new and answers 201 with
the resource as it is now (the profile: "the current status of the resource"), not the
first response frozen: a consent authorised since shows Authorised, a payment settled since
shows AcceptedSettlementCompleted."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

from aspsp.pis.models import PaymentOrder
from tests.integration.pis.conftest import CONSENTS, domestic_consent_body, idem

# Not database-specific: run once, on PostgreSQL (production's engine).
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def test_a_consent_authorised_since_replays_as_authorised(pisp, payer, approve, platform):
    body, headers = domestic_consent_body("7.00"), idem()
    first = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"), json=body,
                      headers=headers)
    assert first.status_code == 201
    assert first.get_json()["Data"]["Status"] == "AwaitingAuthorisation"
    consent_id = first.get_json()["Data"]["ConsentId"]
    approve(consent_id, payer)
    again = pisp.call("POST", CONSENTS, token=pisp.token(scope="payments"), json=body,
                      headers=headers)
    assert again.status_code == 201
    data = again.get_json()["Data"]
    assert (data["ConsentId"], data["Status"]) == (consent_id, "Authorised")
    assert data["Debtor"]["Identification"] == payer.sort_codes[0]
    assert data["StatusUpdateDateTime"] >= first.get_json()["Data"]["StatusUpdateDateTime"]


def test_a_payment_settled_since_replays_with_its_settled_status(pisp, payer, journey,
                                                                 platform):
    j = journey(pisp, payer, domestic_consent_body("9.00"))
    headers = idem()
    first = j.submit(headers=headers)
    assert first.status_code == 201
    assert first.get_json()["Data"]["Status"] == "Pending"   # settled after the response
    again = j.submit(headers=headers)
    assert again.status_code == 201
    data = again.get_json()["Data"]
    assert data["DomesticPaymentId"] == first.get_json()["Data"]["DomesticPaymentId"]
    assert data["Status"] == "AcceptedSettlementCompleted"
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PaymentOrder)) == 1
