"""The consent gate keeps nothing between requests that could outlive a change: a token
revoked, a consent revoked by the customer, deleted by the TPP or expired, a holder removed
from an account, a client deleted, or a DPoP proof used, through one process, takes effect on
the very next request through another.

Two apps (two `create_app`, each with its own engine, connection pool and module state: two
processes' worth of the platform) over one database that both really commit to, and one
Redis (the replay caches). Every scenario first reads through B, so that B has served the
token, its client, its consent and its accounts once, then makes the change through A, then
asks B again."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from jwcrypto import jwt
from sqlalchemy import delete, select

from aspsp.clock import Clock
from aspsp.identity.models import PsuUser
from aspsp.ids import new_id
from aspsp.ledger.models import AccountParty
from aspsp.oauth import registration
from aspsp.oauth.models import OAuthClient
from bank import create_app
from consent import services
from consent.models import Consent
from tests import factories
from tests.conftest import NOW, TEST_ISSUER, UNLIMITED_RATES, committed_database
from tests.oauth_factories import dpop_proof, dpop_token, make_client

AISP = "/open-banking/v3.1/aisp"
ACCOUNTS = f"{AISP}/accounts"
CONSENTS = f"{AISP}/account-access-consents"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
PERMISSIONS = ["ReadAccountsDetail", "ReadBalances", "ReadTransactionsCredits",
               "ReadTransactionsDebits", "ReadTransactionsDetail"]


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request, tmp_path):
    with committed_database(request.param, tmp_path, "aspsp_cross_gate") as url:
        yield url


@pytest.fixture
def clock() -> Clock:
    return Clock(frozen_at=NOW)


@pytest.fixture
def apps(shared_url, redis_url, tmp_path, clock):
    """Two processes' worth of the platform on one database and one Redis (one clock: the
    two processes of one host read the same time)."""
    built = []
    for name in ("a", "b"):
        instance = tmp_path / name
        instance.mkdir()
        built.append(create_app({
            "DATABASE_URL": shared_url, "REDIS_URL": redis_url, "CLOCK": clock,
            "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(instance),
            "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
            **UNLIMITED_RATES}))
    yield built
    for app in built:
        app.extensions["aspsp"].db.engine.dispose()


class Bank:
    """A TPP with an Authorised account-access consent over the customer's first account,
    and the customer's DPoP-bound token for it, all committed through app A."""

    def __init__(self, a, clock, *, expiration=None):
        self.clock = clock
        now = clock.now()
        with a.extensions["aspsp"].uow() as uow:
            self.tpp = make_client(uow, now=now, roles=("AISP",), name="Budget Buddy")
            party = factories.party(uow, "Alice Example", now=now)
            accounts = [factories.account(uow, now=now, owner=party) for _ in range(2)]
            psu = PsuUser(psu_id=new_id(), username=f"cross-{uuid.uuid4().hex[:12]}",
                          password_hash="not-a-real-hash", totp_secret="JBSWY3DPEHPK3PXP",
                          party_pk=party.id, failed_attempts=0, created_at=now)
            uow.session.add(psu)
            uow.session.flush()
            record = services.create_account_access_consent(
                uow, self.tpp.row, services.AccountAccessRequest(
                    permissions=PERMISSIONS, expiration=expiration), now)
            consent = uow.session.scalars(select(Consent).where(
                Consent.consent_id == record.consent_id)).one()
            services.authorise(uow, consent, psu, [accounts[0].id], now)
            self.token = dpop_token(uow, self.tpp, now=now, grant_type="authorization_code",
                                    consent_pk=consent.id, psu_pk=psu.id,
                                    ttl=4 * 3600).access_token
            uow.commit()
            self.consent_id, self.psu_pk = record.consent_id, psu.id
            self.account_id, self.account_pk = accounts[0].account_id, accounts[0].id
            self.party_pk = party.id

    def proof(self, method: str, path: str, token: str) -> str:
        return dpop_proof(self.tpp.dpop_key, method, TEST_ISSUER + path, access_token=token,
                          iat=int(self.clock.now().timestamp()))

    def read(self, app, path: str = ACCOUNTS, *, proof: str | None = None):
        """The customer's token on an AIS resource through `app`."""
        return app.test_client().get(path, headers={
            "Authorization": f"DPoP {self.token}",
            "DPoP": proof or self.proof("GET", path, self.token)})

    def client_token(self, app) -> str:
        with app.extensions["aspsp"].uow() as uow:
            row = uow.session.scalars(select(OAuthClient).where(
                OAuthClient.client_id == self.tpp.client_id)).one()
            self.tpp.row = row
            token = dpop_token(uow, self.tpp, now=self.clock.now()).access_token
            uow.commit()
        return token

    def assertion(self) -> str:
        now = int(self.clock.now().timestamp())
        token = jwt.JWT(header={"alg": "ES256", "kid": self.tpp.signing_key.get("kid")},
                        claims={"iss": self.tpp.client_id, "sub": self.tpp.client_id,
                                "aud": TEST_ISSUER, "jti": uuid.uuid4().hex, "iat": now,
                                "exp": now + 60})
        token.make_signed_token(self.tpp.signing_key)
        return token.serialize()


def served(response) -> bool:
    return response.status_code == 200 and bool(response.get_json()["Data"]["Account"])


def challenge(response) -> str:
    """A 401 of the gate: no body, the reason in the challenge."""
    assert response.status_code == 401 and response.data == b"", response.data
    return response.headers["WWW-Authenticate"]


def test_a_token_revoked_through_one_process_is_refused_by_the_other(apps, clock):
    a, b = apps
    bank = Bank(a, clock)
    assert served(bank.read(b))

    revoked = a.test_client().post("/revoke", data={
        "token": bank.token, "client_id": bank.tpp.client_id,
        "client_assertion_type": JWT_BEARER, "client_assertion": bank.assertion()})
    assert revoked.status_code == 200, revoked.data

    assert 'error="invalid_token"' in challenge(bank.read(b))
    assert "unknown, expired or revoked" in challenge(bank.read(b))


def test_a_consent_revoked_by_the_customer_through_one_process_is_refused_by_the_other(
        apps, clock):
    a, b = apps
    bank = Bank(a, clock)
    assert served(bank.read(b))

    with a.extensions["aspsp"].uow() as uow:
        services.revoke_by_psu(uow, uow.session.get(PsuUser, bank.psu_pk), bank.consent_id,
                               clock.now())
        uow.commit()

    assert "unknown, expired or revoked" in challenge(bank.read(b))


def test_a_consent_deleted_by_the_tpp_through_one_process_is_refused_by_the_other(
        apps, clock):
    a, b = apps
    bank = Bank(a, clock)
    assert served(bank.read(b))

    path = f"{CONSENTS}/{bank.consent_id}"
    client_token = bank.client_token(a)
    deleted = a.test_client().delete(path, headers={
        "Authorization": f"DPoP {client_token}",
        "DPoP": bank.proof("DELETE", path, client_token)})
    assert deleted.status_code == 204, deleted.data

    assert "unknown, expired or revoked" in challenge(bank.read(b))


def test_a_consent_that_expires_is_refused_on_the_next_request(apps, clock):
    a, b = apps
    bank = Bank(a, clock, expiration=NOW + timedelta(hours=1))
    assert served(bank.read(b))
    assert served(bank.read(a))

    clock.advance(timedelta(hours=1, seconds=1))

    assert 'error_description="the consent has expired"' in challenge(bank.read(b))
    assert 'error_description="the consent has expired"' in challenge(bank.read(a))


def test_an_account_the_customer_no_longer_holds_drops_out_on_the_next_request(apps, clock):
    a, b = apps
    bank = Bank(a, clock)
    one = f"{ACCOUNTS}/{bank.account_id}"
    assert bank.read(b, one).status_code == 200

    with a.extensions["aspsp"].uow() as uow:       # the customer is removed as its holder
        uow.session.execute(delete(AccountParty).where(
            AccountParty.account_pk == bank.account_pk,
            AccountParty.party_pk == bank.party_pk))
        uow.commit()

    refused = bank.read(b, one)
    assert refused.status_code == 403
    assert [e["ErrorCode"] for e in refused.get_json()["Errors"]] == [
        "UK.InvisibleBank.Consent.AccountNotPermitted"]
    listed = bank.read(b)
    assert listed.status_code == 200 and not listed.get_json()["Data"].get("Account")


def test_a_client_deleted_through_one_process_is_refused_by_the_other(apps, clock):
    a, b = apps
    bank = Bank(a, clock)
    assert served(bank.read(b))

    with a.extensions["aspsp"].uow() as uow:
        registration.delete_client(uow, uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == bank.tpp.client_id)).one(), now=clock.now())
        uow.commit()

    assert 'error="invalid_token"' in challenge(bank.read(b))


@pytest.mark.parametrize("first, second", [("a", "b"), ("b", "a")])
def test_a_dpop_proof_used_through_one_process_is_refused_by_the_other(
        apps, clock, first, second):
    a, b = apps
    by_name = {"a": a, "b": b}
    bank = Bank(a, clock)
    proof = bank.proof("GET", ACCOUNTS, bank.token)

    assert served(bank.read(by_name[first], proof=proof))

    refused = challenge(bank.read(by_name[second], proof=proof))
    assert 'error="invalid_dpop_proof"' in refused
    assert "jti has been used before" in refused
