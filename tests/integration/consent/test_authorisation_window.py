"""The authorisation window (CONSENT_AUTHORISATION_WINDOW, a day by default): a consent its
customer has not authorised a whole window after it was made is Rejected by the minute sweep,
dated when the window closed (OBIE KSB32: "The ASPSP must mark the consent as 'Rejected' when
the PSU does not complete the consent-authorisation flow"). The OAuth side, where no
authorisation starts or completes after the window, is tests/integration/oauth/
test_authorization_code.py; a file payment consent still waiting for its file, tests/
integration/pis/test_file_payments.py."""
from __future__ import annotations

import json
from datetime import timedelta

from bank import create_app
from consent import services
from consent.domain import ConsentStatus
from tests.conftest import TEST_ISSUER, UNLIMITED_RATES
from tests.integration.consent.conftest import Tpp
from tests.oauth_factories import make_client

WINDOW = timedelta(days=1)


def history(record):
    return [(e.from_status, e.to_status, e.actor, e.reason) for e in record.events]


def sweep(app, platform, clock) -> int:
    with platform.uow() as uow:
        rejected = services.reject_overdue(
            uow, clock.now(), app.config["CONSENT_AUTHORISATION_WINDOW"])
        uow.commit()
    return rejected


def test_the_default_window_is_a_day(app):
    assert app.config["CONSENT_AUTHORISATION_WINDOW"] == WINDOW.total_seconds()


def test_a_consent_left_awaiting_for_the_whole_window_is_rejected_once(
        app, aisp, customer, decide, consent_in_db, platform, clock):
    made_at = clock.now()
    awaiting = aisp.create_consent()
    authorised = aisp.create_consent()
    decide(authorised, customer)
    clock.advance(WINDOW / 2)
    younger = aisp.create_consent()
    clock.advance(WINDOW / 2 - timedelta(seconds=1))
    assert sweep(app, platform, clock) == 0                  # a second to go

    clock.advance(timedelta(seconds=1))
    assert sweep(app, platform, clock) == 1
    assert sweep(app, platform, clock) == 0                  # never twice
    record = consent_in_db(awaiting)
    assert record.status == record.recorded_status == ConsentStatus.REJECTED
    assert history(record)[-1] == ("AwaitingAuthorisation", "Rejected", "system",
                                   "not authorised within the bank's authorisation window")
    assert record.events[-1].at == made_at + WINDOW          # when the window closed
    assert consent_in_db(authorised).recorded_status == ConsentStatus.AUTHORISED
    assert consent_in_db(younger).recorded_status == ConsentStatus.AWAITING_AUTHORISATION


def test_the_tpp_reads_rejected_and_the_audit_trail_says_why(
        app, aisp, platform, clock):
    from sqlalchemy import select

    from aspsp.audit.models import AuditRecord

    consent_id = aisp.create_consent()
    clock.advance(WINDOW)
    assert sweep(app, platform, clock) == 1
    read = aisp.call("GET", f"/open-banking/v3.1/aisp/account-access-consents/{consent_id}",
                     token=aisp.token())
    assert read.status_code == 200
    assert read.get_json()["Data"]["Status"] == "Rejected"
    with platform.uow() as uow:
        record = uow.session.scalars(select(AuditRecord).where(
            AuditRecord.subject == consent_id,
            AuditRecord.event_type == "consent.rejected")).one()
        assert record.actor_type == "system"
        assert json.loads(record.facts)["reason"] == \
            "not authorised within the bank's authorisation window"


def test_an_expiry_that_came_first_is_recorded_instead(
        app, aisp, consent_in_db, platform, clock):
    expiring = aisp.create_consent(
        ExpirationDateTime=(clock.now() + timedelta(hours=2)).isoformat())
    clock.advance(WINDOW)
    assert sweep(app, platform, clock) == 1
    record = consent_in_db(expiring)
    assert record.recorded_status == ConsentStatus.EXPIRED
    assert history(record)[-1][:2] == ("AwaitingAuthorisation", "Expired")


def test_a_shorter_window_is_the_banks_to_set(database, clock, tmp_path):
    """The task reads the bank's setting: ten minutes here."""
    from consent import tasks

    app = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                      "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                      "CONSENT_AUTHORISATION_WINDOW": 600, **UNLIMITED_RATES})
    platform = app.extensions["aspsp"]
    with platform.uow() as uow:
        aisp = Tpp(app.test_client(), platform, clock, make_client(uow, now=clock.now()))
        uow.commit()
    consent_id = aisp.create_consent()
    clock.advance(timedelta(minutes=10) - timedelta(seconds=1))
    with app.app_context():
        assert tasks.reject_overdue() == 0
        clock.advance(timedelta(seconds=1))
        assert tasks.reject_overdue() == 1
    read = aisp.call("GET", f"/open-banking/v3.1/aisp/account-access-consents/{consent_id}",
                     token=aisp.token())
    assert read.get_json()["Data"]["Status"] == "Rejected"


def test_an_expiry_after_the_window_closed_does_not_count(
        app, aisp, consent_in_db, platform, clock):
    """The sweep came late (its beat was down): the window closed first, so Rejected."""
    made_at = clock.now()
    consent_id = aisp.create_consent(
        ExpirationDateTime=(made_at + WINDOW + timedelta(hours=2)).isoformat())
    clock.advance(WINDOW + timedelta(hours=3))
    assert sweep(app, platform, clock) == 1
    record = consent_in_db(consent_id)
    assert record.recorded_status == ConsentStatus.REJECTED
    assert record.events[-1].at == made_at + WINDOW


def test_the_beat_runs_the_sweep_every_minute(app):
    entry = app.extensions["celery"].conf.beat_schedule["reject-overdue-consents"]
    assert entry["task"] == "consent.reject_overdue"
    assert entry["schedule"] == timedelta(minutes=1)


def test_the_task_sweeps_in_batches_until_none_is_left(app, aisp, consent_in_db, clock):
    from consent import tasks

    consents = [aisp.create_consent() for _ in range(3)]
    clock.advance(WINDOW)
    with app.app_context():
        assert tasks.reject_overdue() == 3
        assert tasks.reject_overdue() == 0
    assert {consent_in_db(c).recorded_status for c in consents} == {ConsentStatus.REJECTED}
