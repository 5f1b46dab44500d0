"""The customer's side of the consent services: authorise, reject, revoke, list."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from aspsp.oauth.tokens import find_by_access_token
from consent import services
from consent.domain import ConsentStatus
from consent.errors import (AccountNotSelectable, ConsentNotFound, IllegalConsentTransition,
                            NoAccountSelected, WrongCustomer)
from consent.models import Consent
from tests.integration.consent.conftest import account_pk


def _consent(uow, consent_id):
    return uow.session.scalars(select(Consent).where(Consent.consent_id == consent_id)).one()


def history(record):
    return [(e.from_status, e.to_status, e.actor, e.reason) for e in record.events]


def test_authorise_records_the_customer_and_the_accounts(aisp, customer, decide,
                                                         consent_in_db, clock):
    consent_id = aisp.create_consent()
    decide(consent_id, customer, accounts=customer.account_pks[:1])
    record = consent_in_db(consent_id)
    assert record.recorded_status == ConsentStatus.AUTHORISED
    assert record.psu_id == customer.psu.psu_id
    assert record.account_ids == (customer.account_ids[0],)
    assert record.authorised_at == clock.now()
    assert history(record)[-1] == ("AwaitingAuthorisation", "Authorised", "psu", None)
    assert record.events[-1].actor_id == customer.psu.psu_id


def test_reject_by_the_customer(aisp, customer, decide, consent_in_db):
    consent_id = aisp.create_consent()
    decide(consent_id, customer, approve=False)
    record = consent_in_db(consent_id)
    assert record.recorded_status == ConsentStatus.REJECTED
    assert history(record)[-1] == ("AwaitingAuthorisation", "Rejected", "psu", "declined")


def test_reject_without_a_customer_is_the_systems(aisp, platform, clock, consent_in_db):
    consent_id = aisp.create_consent()
    with platform.uow() as uow:
        services.reject(uow, _consent(uow, consent_id), None, clock.now(), "timed out")
        uow.commit()
    assert history(consent_in_db(consent_id))[-1] == \
        ("AwaitingAuthorisation", "Rejected", "system", "timed out")


def test_a_rejected_consent_can_never_be_authorised(aisp, customer, decide, platform, clock):
    consent_id = aisp.create_consent()
    decide(consent_id, customer, approve=False)
    with platform.uow() as uow, pytest.raises(IllegalConsentTransition):
        services.authorise(uow, _consent(uow, consent_id), customer.psu,
                           customer.account_pks, clock.now())


def test_accounts_of_another_customer_cannot_be_shared(aisp, customer, make_customer,
                                                       platform, clock):
    stranger = make_customer(accounts=1)
    consent_id = aisp.create_consent()
    with platform.uow() as uow, pytest.raises(AccountNotSelectable):
        services.authorise(uow, _consent(uow, consent_id), customer.psu,
                           [customer.account_pks[0], stranger.account_pks[0]], clock.now())


def test_a_closed_account_cannot_be_shared(aisp, customer, platform, clock):
    with platform.uow() as uow:
        from aspsp.ledger import services as ledger
        ledger.set_account_status(uow, customer.account_ids[1], "Disabled", now=clock.now())
        uow.commit()
    consent_id = aisp.create_consent()
    with platform.uow() as uow, pytest.raises(AccountNotSelectable):
        services.authorise(uow, _consent(uow, consent_id), customer.psu,
                           customer.account_pks, clock.now())


def test_account_access_needs_at_least_one_account(aisp, customer, platform, clock):
    consent_id = aisp.create_consent()
    with platform.uow() as uow, pytest.raises(NoAccountSelected):
        services.authorise(uow, _consent(uow, consent_id), customer.psu, [], clock.now())


def test_an_expired_consent_cannot_be_authorised(aisp, customer, platform, clock):
    consent_id = aisp.create_consent(
        ExpirationDateTime=(clock.now() + timedelta(minutes=5)).isoformat())
    clock.advance(timedelta(minutes=6))
    with platform.uow() as uow:
        with pytest.raises(IllegalConsentTransition, match="Expired"):
            services.authorise(uow, _consent(uow, consent_id), customer.psu,
                               customer.account_pks, clock.now())
        uow.commit()     # the expiry found on the way is recorded
        record = services.record_of(uow, _consent(uow, consent_id))
    assert history(record)[-1] == ("AwaitingAuthorisation", "Expired", "system",
                                   "its ExpirationDateTime passed")
    assert record.events[-1].at == clock.now() - timedelta(minutes=1)


def test_re_authentication_replaces_the_accounts_and_stops_old_tokens(aisp, customer, decide,
                                                                      consent_in_db, platform):
    consent_id = aisp.create_consent()
    decide(consent_id, customer, accounts=customer.account_pks[:1])
    old = aisp.token(grant_type="authorization_code", consent_id=consent_id, psu=customer.psu)
    decide(consent_id, customer, accounts=customer.account_pks[1:])
    record = consent_in_db(consent_id)
    assert record.account_ids == (customer.account_ids[1],)
    assert history(record)[-1] == ("Authorised", "Authorised", "psu",
                                   "re-authenticated by the customer")
    with platform.uow() as uow:
        assert find_by_access_token(uow, old).revoked_at is not None


def test_only_the_customer_who_authorised_can_re_authenticate(aisp, customer, make_customer,
                                                              decide, platform, clock):
    consent_id = aisp.create_consent()
    decide(consent_id, customer)
    other = make_customer(accounts=1)
    with platform.uow() as uow, pytest.raises(WrongCustomer):
        services.authorise(uow, _consent(uow, consent_id), other.psu, other.account_pks,
                           clock.now())


def test_revoke_by_the_customer_stops_the_tokens_at_once(aisp, customer, decide, platform,
                                                         clock, consent_in_db):
    consent_id = aisp.create_consent()
    decide(consent_id, customer)
    token = aisp.token(grant_type="authorization_code", consent_id=consent_id,
                       psu=customer.psu)
    with platform.uow() as uow:
        services.revoke_by_psu(uow, customer.psu, consent_id, clock.now())
        uow.commit()
        assert find_by_access_token(uow, token).revoked_at == clock.now()
    record = consent_in_db(consent_id)
    assert record.recorded_status == ConsentStatus.REVOKED
    assert history(record)[-1] == ("Authorised", "Revoked", "psu", "revoked by the customer")


def test_a_revoked_consent_cannot_be_revoked_again(aisp, customer, decide, platform, clock):
    consent_id = aisp.create_consent()
    decide(consent_id, customer)
    with platform.uow() as uow:
        services.revoke_by_psu(uow, customer.psu, consent_id, clock.now())
        uow.commit()
    with platform.uow() as uow, pytest.raises(IllegalConsentTransition):
        services.revoke_by_psu(uow, customer.psu, consent_id, clock.now())


def test_a_customer_cannot_revoke_someone_elses_consent(aisp, customer, make_customer, decide,
                                                        platform, clock):
    consent_id = aisp.create_consent()
    decide(consent_id, customer)
    other = make_customer(accounts=1)
    with platform.uow() as uow, pytest.raises(ConsentNotFound):
        services.revoke_by_psu(uow, other.psu, consent_id, clock.now())


def test_the_customer_lists_every_consent_they_decided(aisp, other_aisp, customer, decide,
                                                       platform, clock):
    first = aisp.create_consent()
    decide(first, customer)
    clock.advance(timedelta(minutes=1))
    second = other_aisp.create_consent(["ReadAccountsBasic"])
    decide(second, customer, approve=False)
    other_aisp.create_consent()                          # never decided: not the customer's
    with platform.uow() as uow:
        listed = services.list_for_psu(uow, customer.psu, clock.now())
        shareable = [a.account_id for a in services.selectable_accounts(uow, customer.psu)]
    assert [(c.consent_id, c.client_name, c.status) for c in listed] == [
        (second, "Other App", ConsentStatus.REJECTED),
        (first, "Budget Buddy", ConsentStatus.AUTHORISED)]
    assert [c.revocable_by_psu for c in listed] == [False, True]
    assert shareable == customer.account_ids


def test_a_bank_internal_account_cannot_be_shared(aisp, customer, platform, clock):
    consent_id = aisp.create_consent()
    with platform.uow() as uow:
        from aspsp.ledger import services as ledger
        capital = ledger.internal_account_id(uow, ledger.BANK_CAPITAL, "GBP")
        with pytest.raises(AccountNotSelectable):
            services.authorise(uow, _consent(uow, consent_id), customer.psu,
                               [account_pk(uow, capital)], clock.now())
