"""Each audited use case writes its record in its own transaction: a committed change has
exactly its record (actor, address, interaction id), a refused or rolled-back one none."""
from __future__ import annotations

import json
import uuid

import pytest
from sqlalchemy import select

from aspsp.audit import services
from aspsp.audit.models import AuditRecord
from aspsp.oauth import registration
from consent import services as consents
from consent.models import Consent
from tests import factories, tpp_factories
from tests.integration.pis.conftest import (  # noqa: F401  (fixtures used here)
    approve, create_consent, domestic_consent_body, journey, make_payer, make_tpp, payer,
    payment_body, pisp)


def trail(platform, event_type: str | None = None) -> list[dict]:
    with platform.uow() as uow:
        query = select(AuditRecord).order_by(AuditRecord.seq)
        if event_type:
            query = query.where(AuditRecord.event_type == event_type)
        return [services.as_fields(row) for row in uow.session.scalars(query)]


def test_a_consent_authorised_then_rolled_back_leaves_no_record(pisp, payer, create_consent,
                                                                 platform, clock):
    created = create_consent(pisp, domestic_consent_body())
    consent_id = created.get_json()["Data"]["ConsentId"]
    assert [r["subject"] for r in trail(platform, "consent.created")] == [consent_id]
    with platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(
            Consent.consent_id == consent_id)).one()
        consents.authorise(uow, consent, payer.psu, [payer.account_pks[0]], clock.now())
        uow.rollback()
    assert trail(platform, "consent.authorised") == []
    with platform.uow() as uow:
        consent = uow.session.scalars(select(Consent).where(
            Consent.consent_id == consent_id)).one()
        consents.authorise(uow, consent, payer.psu, [payer.account_pks[0]], clock.now())
        uow.commit()
    [authorised] = trail(platform, "consent.authorised")
    assert (authorised["actor_type"], authorised["actor_id"]) == ("customer", payer.psu.psu_id)
    assert authorised["client_ip"] is None        # no request: a service call of the test


def test_a_payment_submitted_executed_and_settled(pisp, payer, journey, platform):
    j = journey(pisp, payer, domestic_consent_body("40.00"))
    refused_body = payment_body(j.consent_id, j.body)
    refused_body["Data"]["Initiation"]["InstructedAmount"]["Amount"] = "41.00"
    refused = j.submit(refused_body)
    assert refused.status_code == 400
    assert trail(platform, "payment.submitted") == []

    interaction = str(uuid.uuid4())
    response = j.submit(headers={"x-fapi-interaction-id": interaction})
    assert response.status_code == 201, response.get_json()
    payment_id = response.get_json()["Data"]["DomesticPaymentId"]
    [submitted] = trail(platform, "payment.submitted")
    assert submitted["subject"] == payment_id
    assert (submitted["actor_type"], submitted["actor_id"]) == ("client", pisp.client.client_id)
    assert submitted["interaction_id"] == interaction
    assert submitted["client_ip"] == "127.0.0.1"
    assert submitted["facts"] == {"order_type": "domestic-payment", "consent_id": j.consent_id,
                                  "amount": "40.00", "currency": "GBP"}
    [consumed] = trail(platform, "consent.consumed")
    assert consumed["seq"] == submitted["seq"] - 1       # the same transaction, in order
    [executed] = trail(platform, "payment.executed")
    assert executed["subject"] == payment_id and executed["actor_type"] == "system"
    [settled] = trail(platform, "payment.settled")
    assert settled["facts"]["status"] == "AcceptedSettlementCompleted"
    everything = json.dumps(trail(platform))
    assert "20000012345678" not in everything and payer.sort_codes[0] not in everything


def test_a_registration_is_recorded_only_when_committed(app, client, platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    # refused (the request is for another audience): nothing is registered, nothing recorded
    refused = tpp_factories.post_registration(client, tpp_factories.registration_jwt(
        tpp, ssa, issuer=app.config["ISSUER"], now=clock.now(), aud="https://elsewhere.example"))
    assert refused.status_code == 400, refused.json
    assert trail(platform, "registration.created") == []
    # the same registration inside a unit of work that is not committed: no record
    with app.test_request_context("/register", method="POST"):
        with platform.uow() as uow:
            registration.register_client(uow, tpp_factories.registration_jwt(
                tpp, ssa, issuer=app.config["ISSUER"], now=clock.now()),
                config=platform.config, now=clock.now(), replay=platform.replay)
    assert trail(platform, "registration.created") == []
    registered = tpp_factories.post_registration(client, tpp_factories.registration_jwt(
        tpp, ssa, issuer=app.config["ISSUER"], now=clock.now()))
    assert registered.status_code == 201, registered.json
    client_id = registered.json["client_id"]
    [created] = trail(platform, "registration.created")
    assert (created["actor_type"], created["actor_id"], created["subject"]) == \
        ("client", client_id, client_id)
    assert created["client_ip"] == "127.0.0.1"
    assert created["facts"]["software_id"] == tpp.software_id
    assert ssa not in json.dumps(created)


def test_an_operator_command_is_recorded_with_the_operator(app, platform, clock):
    with platform.uow() as uow:
        account = factories.account(uow, now=clock.now())
        uow.commit()
    runner = app.test_cli_runner()
    missing = runner.invoke(args=["ledger", "close-account", "no-such-account"])
    assert missing.exit_code != 0
    assert trail(platform, "admin.account_status_set") == []
    done = runner.invoke(args=["ledger", "close-account", account.account_id])
    assert done.exit_code == 0, done.output
    [closed] = trail(platform, "admin.account_status_set")
    assert closed["actor_type"] == "operator" and closed["actor_id"]
    assert closed["subject"] == account.account_id
    assert closed["facts"] == {"status": "Disabled", "reason": "closure"}
