"""Apps with small rate-limit tiers (per-minute windows only, so that a test's calls fall in
one window however slow the machine), and a TPP that calls the Open Banking APIs."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from bank import create_app
from consent import services
from tests.conftest import TEST_ISSUER, UNLIMITED_RATES
from tests.oauth_factories import dpop_proof, dpop_token, make_client

FAMILIES = ("ais", "pis", "cof", "vrp", "events", "oauth")


def tier(per_minute: int, oauth: int | None = None) -> str:
    return "; ".join(f"{f}: {oauth if f == 'oauth' and oauth else per_minute} per minute"
                     for f in FAMILIES)


SMALL_TIERS = {
    "RATELIMIT_TIER_SANDBOX": tier(1000),
    "RATELIMIT_TIER_STANDARD": tier(3, oauth=2),
    "RATELIMIT_TIER_PREMIUM": tier(6, oauth=4),
    "RATELIMIT_DEFAULT_TIER": "standard",
    "RATELIMIT_OAUTH_PER_ADDRESS": "1000 per minute",
}

AISP = "/open-banking/v3.1/aisp"
# A read of each family with a client-credentials token (the calls a TPP makes to follow
# its consents): path template and scope.
FAMILY_CALLS = {
    "ais": (AISP + "/account-access-consents/{ais_consent}", "accounts"),
    "pis": ("/open-banking/v3.1/pisp/domestic-payment-consents/unknown-consent", "payments"),
    "cof": ("/open-banking/v3.1/cbpii/funds-confirmation-consents/unknown-consent",
            "fundsconfirmations"),
    "vrp": ("/open-banking/v3.1/pisp/domestic-vrp-consents/unknown-consent", "payments"),
    "events": ("/open-banking/v3.1/event-subscriptions", "accounts"),
}


def build_app(config: dict, **more):
    return create_app({**config, "CELERY_ALWAYS_EAGER": True, "SECRET_KEY": "test-secret",
                       "TESTING": True, "ISSUER": TEST_ISSUER, **UNLIMITED_RATES,
                       **SMALL_TIERS, **more})


@pytest.fixture
def rl_app(database, clock, tmp_path):
    return build_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                      "INSTANCE_PATH": str(tmp_path)})


class Tpp:
    """A registered client with an account-access consent, calling through `app`."""

    def __init__(self, app, clock, name: str = "Budget Buddy"):
        self.app, self.clock = app, clock
        self.address = f"10.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250}.7"
        now = clock.now()
        with app.extensions["aspsp"].uow() as uow:
            self.client = make_client(uow, now=now, name=name)
            record = services.create_account_access_consent(
                uow, self.client.row, services.AccountAccessRequest(
                    permissions=["ReadAccountsDetail"], expiration=None), now)
            self.tokens = {scope: dpop_token(uow, self.client, now=now, scope=scope,
                                             ttl=4 * 3600).access_token
                           for scope in ("accounts", "payments", "fundsconfirmations")}
            uow.commit()
        self.ais_consent = record.consent_id

    @property
    def client_id(self) -> str:
        return self.client.client_id

    def call(self, family: str, app=None):
        template, scope = FAMILY_CALLS[family]
        path = template.format(ais_consent=self.ais_consent)
        token = self.tokens[scope]
        proof = dpop_proof(self.client.dpop_key, "GET", TEST_ISSUER + path, access_token=token,
                           iat=int(self.clock.now().timestamp()))
        return (app or self.app).test_client().get(
            path, headers={"Authorization": f"DPoP {token}", "DPoP": proof},
            environ_base={"REMOTE_ADDR": self.address})


def refused(response, retry_max: int = 60) -> dict:
    """A 429 of the OB APIs: Retry-After in seconds, the OB error body; returns the body."""
    assert response.status_code == 429, (response.status_code, response.data)
    assert 1 <= int(response.headers["Retry-After"]) <= retry_max
    assert response.headers["x-fapi-interaction-id"]
    body = response.get_json()
    assert body["Code"] == "429 Too Many Requests"
    assert body["Id"]
    assert [e["ErrorCode"] for e in body["Errors"]] == \
        ["UK.InvisibleBank.Request.RateLimitExceeded"]
    return body


def client_row(app, client_id):
    from aspsp.oauth.models import OAuthClient
    with app.extensions["aspsp"].uow() as uow:
        return uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == client_id)).one()
