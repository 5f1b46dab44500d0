"""TPPs that call the consent resources with real DPoP-bound tokens and proofs, customers with
accounts, and consents in each status, built through the consent services."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import pytest

from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from aspsp.ledger.models import Account
from consent import services
from consent.models import Consent
from tests import factories
from tests.oauth_factories import TestClient, dpop_proof, dpop_token, make_client

HOST = "http://localhost"            # request.base_url under the Flask test client
CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"
ALL_READ = ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsCredits",
            "ReadTransactionsDebits", "ReadTransactionsDetail"]
_usernames = itertools.count(1)


@dataclass
class Tpp:
    """A registered client and the HTTP calls it makes, with DPoP proofs made at the
    platform clock's time."""
    http: object
    platform: object
    clock: object
    client: TestClient

    @property
    def client_id(self) -> str:
        return self.client.client_id

    def token(self, *, scope: str = "accounts", grant_type: str = "client_credentials",
              consent_id: str | None = None, psu: PsuUser | None = None, ttl: int = 600) -> str:
        with self.platform.uow() as uow:
            consent_pk = _consent_pk(uow, consent_id) if consent_id else None
            issued = dpop_token(uow, self.client, now=self.clock.now(), scope=scope,
                                grant_type=grant_type, consent_pk=consent_pk,
                                psu_pk=psu.id if psu else None, ttl=ttl)
            uow.commit()
        return issued.access_token

    def proof(self, method: str, path: str, token: str | None, *, key=None, **kw) -> str:
        kw.setdefault("iat", int(self.clock.now().timestamp()))
        return dpop_proof(key or self.client.dpop_key, method, HOST + path.split("?")[0],
                          access_token=token, **kw)

    def call(self, method: str, path: str, *, token: str | None = None, json=None,
             headers: dict | None = None, proof: bool = True, **kw):
        headers = dict(headers or {})
        if token is not None:
            headers.setdefault("Authorization", f"DPoP {token}")
            if proof:
                headers.setdefault("DPoP", self.proof(method, path, token))
        return self.http.open(path, method=method, json=json, headers=headers, **kw)

    def create_consent(self, permissions=None, *, token: str | None = None, **data) -> str:
        body = {"Data": {"Permissions": list(permissions or ALL_READ), **data}, "Risk": {}}
        response = self.call("POST", CONSENTS, token=token or self.token(), json=body)
        assert response.status_code == 201, response.get_json()
        return response.get_json()["Data"]["ConsentId"]


@pytest.fixture
def make_tpp(platform, client, clock):
    def build(**kw) -> Tpp:
        with platform.uow() as uow:
            test_client = make_client(uow, now=clock.now(), **kw)
            uow.commit()
        return Tpp(client, platform, clock, test_client)
    return build


@pytest.fixture
def aisp(make_tpp) -> Tpp:
    return make_tpp(roles=("AISP",), name="Budget Buddy")


@pytest.fixture
def other_aisp(make_tpp) -> Tpp:
    return make_tpp(roles=("AISP",), name="Other App")


@dataclass
class Customer:
    psu: PsuUser
    account_ids: list[str]
    account_pks: list[int]


@pytest.fixture
def make_customer(platform, clock):
    def build(accounts: int = 2) -> Customer:
        now = clock.now()
        with platform.uow() as uow:
            party = factories.party(uow, "Alice Example", now=now)
            rows = [factories.account(uow, now=now, owner=party) for _ in range(accounts)]
            psu = PsuUser(psu_id=new_id(), username=f"consent-customer-{next(_usernames)}",
                          password_hash="not-a-real-hash", totp_secret="JBSWY3DPEHPK3PXP",
                          party_pk=party.id, failed_attempts=0, created_at=now)
            uow.session.add(psu)
            uow.session.flush()
            uow.commit()
            return Customer(psu, [a.account_id for a in rows], [a.id for a in rows])
    return build


@pytest.fixture
def customer(make_customer) -> Customer:
    return make_customer()


@pytest.fixture
def decide(platform, clock):
    """Drive a consent through the customer's decision as complete_authorization does."""
    def run(consent_id: str, customer: Customer, *, approve: bool = True, accounts=None):
        with platform.uow() as uow:
            consent = uow.session.get(Consent, _consent_pk(uow, consent_id))
            if approve:
                services.authorise(uow, consent, customer.psu,
                                   customer.account_pks if accounts is None else accounts,
                                   clock.now())
            else:
                services.reject(uow, consent, customer.psu, clock.now(), "declined")
            uow.commit()
    return run


@pytest.fixture
def consent_in_db(platform):
    def load(consent_id: str) -> services.ConsentRecord:
        with platform.uow() as uow:
            return services.record_of(uow, uow.session.get(Consent, _consent_pk(uow, consent_id)))
    return load


def _consent_pk(uow, consent_id: str) -> int:
    from sqlalchemy import select
    return uow.session.scalars(select(Consent.id).where(Consent.consent_id == consent_id)).one()


def account_pk(uow, account_id: str) -> int:
    from sqlalchemy import select
    return uow.session.scalars(select(Account.id).where(Account.account_id == account_id)).one()
