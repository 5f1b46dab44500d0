import pytest

from aspsp.ids import new_id
from consent.models import Consent
from tests.oauth_factories import make_client
from tests.oauth_tpp import Tpp


def make_consent(uow, client, *, now, status="AwaitingAuthorisation",
                 consent_type="account-access", permissions=("ReadAccountsBasic",), data=None):
    consent = Consent(consent_id=f"aac-{new_id()}", consent_type=consent_type,
                      client_pk=client.row.id, status=status, status_updated_at=now,
                      created_at=now, permissions=list(permissions), data=data or {},
                      api_version="3.1")
    uow.session.add(consent)
    uow.session.flush()
    return consent


@pytest.fixture
def tpp(platform, client, clock):
    with platform.uow() as uow:
        test_client = make_client(uow, now=clock.now())
        uow.commit()
    return Tpp(client, test_client, clock=clock)


@pytest.fixture
def fapi1_tpp(platform, client, clock):
    with platform.uow() as uow:
        test_client = make_client(uow, now=clock.now(), profile="fapi1-advanced")
        uow.commit()
    return Tpp(client, test_client, clock=clock)


@pytest.fixture
def consent_for(platform, clock):
    def build(tpp, **kw):
        with platform.uow() as uow:
            consent = make_consent(uow, tpp.client, now=clock.now(), **kw)
            uow.commit()
            return consent.consent_id
    return build
