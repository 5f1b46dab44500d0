from datetime import datetime, timedelta, timezone

import pytest

from consent.domain import (DELETED_BY_TPP, LIFECYCLES, TERMINAL, Actor, ConsentStatus,
                            ConsentType, Transition, authorisation_overdue, effective_status,
                            lifecycle)
from consent.errors import IllegalConsentTransition

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=timezone.utc)
S = ConsentStatus
AIS = lifecycle(ConsentType.ACCOUNT_ACCESS)


def test_every_consent_type_has_a_lifecycle():
    assert set(LIFECYCLES) == set(ConsentType)


@pytest.mark.parametrize("consent_type", list(ConsentType))
def test_a_final_status_never_changes(consent_type):
    life = lifecycle(consent_type)
    for terminal in TERMINAL:
        assert life.targets(terminal) == frozenset()
        for target in ConsentStatus:
            for actor in Actor:
                with pytest.raises(IllegalConsentTransition, match="final status"):
                    life.move(terminal, target, actor=actor, actor_id="x", at=NOW)


def test_authorising_records_who_when_and_from_what():
    transition = AIS.move(S.AWAITING_AUTHORISATION, S.AUTHORISED, actor=Actor.PSU,
                          actor_id="psu-1", at=NOW, reason="approved")
    assert transition == Transition(S.AWAITING_AUTHORISATION, S.AUTHORISED, Actor.PSU,
                                    "psu-1", "approved", NOW)


def test_creation_is_recorded_from_nothing_to_awaiting_authorisation():
    created = AIS.created("client-1", NOW)
    assert (created.from_status, created.to_status, created.actor, created.actor_id) == \
        (None, S.AWAITING_AUTHORISATION, Actor.TPP, "client-1")


@pytest.mark.parametrize("current, target, actor", [
    (S.AWAITING_AUTHORISATION, S.AUTHORISED, Actor.TPP),      # only the customer authorises
    (S.AWAITING_AUTHORISATION, S.AUTHORISED, Actor.SYSTEM),
    (S.AWAITING_AUTHORISATION, S.REVOKED, Actor.PSU),         # nothing to revoke yet
    (S.AUTHORISED, S.REJECTED, Actor.PSU),                    # too late to refuse
    (S.AUTHORISED, S.AWAITING_AUTHORISATION, Actor.SYSTEM),
    (S.AWAITING_AUTHORISATION, S.CONSUMED, Actor.SYSTEM),     # account access is never consumed
    (S.AUTHORISED, S.EXPIRED, Actor.TPP),
])
def test_account_access_refuses_moves_it_does_not_allow(current, target, actor):
    with pytest.raises(IllegalConsentTransition):
        AIS.move(current, target, actor=actor, actor_id=None, at=NOW)


@pytest.mark.parametrize("current, target, actor", [
    (S.AWAITING_AUTHORISATION, S.AUTHORISED, Actor.PSU),
    (S.AWAITING_AUTHORISATION, S.REJECTED, Actor.PSU),
    (S.AWAITING_AUTHORISATION, S.REJECTED, Actor.SYSTEM),
    (S.AWAITING_AUTHORISATION, S.REVOKED, Actor.TPP),
    (S.AUTHORISED, S.AUTHORISED, Actor.PSU),                  # re-authentication
    (S.AUTHORISED, S.REVOKED, Actor.TPP),
    (S.AUTHORISED, S.REVOKED, Actor.PSU),
    (S.AUTHORISED, S.EXPIRED, Actor.SYSTEM),
])
def test_account_access_allows_its_moves(current, target, actor):
    assert AIS.move(current, target, actor=actor, actor_id=None, at=NOW).to_status == target


def test_a_payment_consent_is_consumed_and_cannot_be_revoked_by_the_tpp():
    payment = lifecycle(ConsentType.DOMESTIC_PAYMENT)
    assert payment.move(S.AUTHORISED, S.CONSUMED, actor=Actor.SYSTEM, actor_id=None,
                        at=NOW).to_status == S.CONSUMED
    with pytest.raises(IllegalConsentTransition):
        payment.move(S.AUTHORISED, S.REVOKED, actor=Actor.TPP, actor_id=None, at=NOW)


def test_a_file_payment_consent_waits_for_its_file_first():
    file_payment = lifecycle(ConsentType.FILE_PAYMENT)
    assert file_payment.initial == S.AWAITING_UPLOAD
    with pytest.raises(IllegalConsentTransition):
        file_payment.move(S.AWAITING_UPLOAD, S.AUTHORISED, actor=Actor.PSU, actor_id=None,
                          at=NOW)


def test_deleting_a_consent_in_force_revokes_it():
    transition = AIS.delete_by_tpp(S.AUTHORISED, actor_id="client-1", at=NOW)
    assert (transition.from_status, transition.to_status, transition.reason) == \
        (S.AUTHORISED, S.REVOKED, DELETED_BY_TPP)


def test_deleting_a_final_consent_records_the_deletion_without_changing_it():
    transition = AIS.delete_by_tpp(S.REJECTED, actor_id="client-1", at=NOW)
    assert (transition.from_status, transition.to_status, transition.reason) == \
        (S.REJECTED, S.REJECTED, DELETED_BY_TPP)


def test_a_payment_consent_cannot_be_deleted():
    with pytest.raises(IllegalConsentTransition):
        lifecycle(ConsentType.DOMESTIC_PAYMENT).delete_by_tpp(S.AUTHORISED, actor_id=None,
                                                              at=NOW)


@pytest.mark.parametrize("status", [S.AWAITING_AUTHORISATION, S.AUTHORISED])
def test_a_consent_is_expired_from_its_expiration_date_time_on(status):
    assert effective_status(status, NOW + timedelta(seconds=1), NOW) == status
    assert effective_status(status, NOW, NOW) == S.EXPIRED
    assert effective_status(status, NOW - timedelta(days=1), NOW) == S.EXPIRED


@pytest.mark.parametrize("status", [S.REJECTED, S.REVOKED, S.CONSUMED])
def test_expiry_does_not_override_a_final_status(status):
    assert effective_status(status, NOW - timedelta(days=1), NOW) == status


def test_an_open_ended_consent_never_expires():
    assert effective_status(S.AUTHORISED, None, NOW + timedelta(days=10_000)) == S.AUTHORISED


@pytest.mark.parametrize("status", [ConsentStatus.AWAITING_AUTHORISATION,
                                    ConsentStatus.AWAITING_UPLOAD])
def test_a_consent_still_waiting_is_overdue_once_the_whole_window_has_passed(status):
    assert not authorisation_overdue(status, NOW, NOW + timedelta(seconds=599), 600)
    assert authorisation_overdue(status, NOW, NOW + timedelta(seconds=600), 600)


@pytest.mark.parametrize("status", sorted(set(ConsentStatus) - {
    ConsentStatus.AWAITING_AUTHORISATION, ConsentStatus.AWAITING_UPLOAD}))
def test_a_decided_consent_is_never_overdue(status):
    assert not authorisation_overdue(status, NOW, NOW + timedelta(days=400), 600)
