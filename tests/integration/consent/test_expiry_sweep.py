"""The beat's expiry sweep: a consent whose ExpirationDateTime has passed is recorded Expired
when the minute sweep runs (not only when it is next read), once, at its expiry time."""
from __future__ import annotations

from datetime import timedelta

from consent import services
from consent.domain import ConsentStatus


def history(record):
    return [(e.from_status, e.to_status, e.actor, e.reason) for e in record.events]


def sweep(platform, clock) -> int:
    with platform.uow() as uow:
        expired = services.expire_due(uow, clock.now())
        uow.commit()
    return expired


def test_the_sweep_records_each_passed_expiry_once_and_leaves_the_rest(
        aisp, customer, decide, consent_in_db, platform, clock):
    soon = (clock.now() + timedelta(hours=1)).isoformat()
    later = (clock.now() + timedelta(days=3)).isoformat()
    authorised = aisp.create_consent(ExpirationDateTime=soon)
    decide(authorised, customer)
    awaiting = aisp.create_consent(ExpirationDateTime=soon)
    lasting = aisp.create_consent(ExpirationDateTime=later)
    open_ended = aisp.create_consent()
    decide(open_ended, customer)
    assert sweep(platform, clock) == 0                       # nothing due yet

    clock.advance(timedelta(hours=2))
    assert sweep(platform, clock) == 2
    assert sweep(platform, clock) == 0                       # never twice
    for consent_id, before in ((authorised, "Authorised"), (awaiting, "AwaitingAuthorisation")):
        record = consent_in_db(consent_id)
        assert record.recorded_status == ConsentStatus.EXPIRED
        assert history(record)[-1] == (before, "Expired", "system",
                                       "its ExpirationDateTime passed")
        assert record.events[-1].at == record.expiration    # dated at expiry, not the sweep
    assert consent_in_db(lasting).recorded_status == ConsentStatus.AWAITING_AUTHORISATION
    assert consent_in_db(open_ended).recorded_status == ConsentStatus.AUTHORISED
