"""The customer-not-present limit (PSD2 RTS 36(5)(b)): without x-fapi-customer-ip-address,
four requests per consent, resource and UTC day; the fifth is 429 with Retry-After up to the
next midnight. Requests with the customer present are not counted. In process and on Redis."""
from __future__ import annotations

from datetime import timedelta

import pytest

from bank import create_app
from tests.integration.ais.conftest import EVERYTHING, codes

LIMITED = "UK.InvisibleBank.Request.CustomerNotPresentLimit"


def test_the_fifth_unattended_request_of_the_day_is_429(aisp, demo, grant):
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING)
    for _ in range(4):
        assert access.get("/accounts", present=False).status_code == 200
    refused = access.get("/accounts", present=False)
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(12 * 3600)    # 12:00 to midnight UTC
    assert codes(refused) == [LIMITED]
    assert refused.headers["x-fapi-interaction-id"]


def test_requests_with_the_customer_present_are_not_counted(aisp, demo, grant):
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING)
    for _ in range(10):
        assert access.get("/balances").status_code == 200
    for _ in range(4):
        assert access.get("/balances", present=False).status_code == 200
    assert access.get("/balances", present=False).status_code == 429
    assert access.get("/balances").status_code == 200       # present: still served


def test_the_count_is_per_consent_and_per_resource(aisp, demo, grant):
    alice = demo("alice")
    one, other = grant(aisp, alice, EVERYTHING), grant(aisp, alice, EVERYTHING)
    current, saver = alice.account_ids[:2]
    for _ in range(4):
        assert one.get(f"/accounts/{current}/transactions", present=False).status_code == 200
    assert one.get(f"/accounts/{current}/transactions", present=False).status_code == 429
    assert one.get(f"/accounts/{saver}/transactions", present=False).status_code == 200
    assert one.get("/accounts", present=False).status_code == 200
    assert other.get(f"/accounts/{current}/transactions", present=False).status_code == 200


def test_the_next_day_starts_a_new_count(aisp, demo, grant, clock):
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING)
    access.token = aisp.token(grant_type="authorization_code", consent_id=access.consent_id,
                              psu=alice.psu, ttl=2 * 86400)      # lives through the day
    for _ in range(4):
        access.get("/accounts", present=False)
    clock.advance(timedelta(hours=11, minutes=59, seconds=30))   # 23:59:30
    refused = access.get("/accounts", present=False)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "30"
    clock.advance(timedelta(seconds=31))                          # 00:00:01 the next day
    for _ in range(4):
        assert access.get("/accounts", present=False).status_code == 200
    assert access.get("/accounts", present=False).status_code == 429


def test_refused_requests_do_not_reach_the_count(aisp, demo, grant):
    """Only requests that pass the consent gate are counted: a TPP cannot spend a consent's
    allowance with requests that fail (a permission the consent does not hold)."""
    alice = demo("alice")
    access = grant(aisp, alice, ["ReadAccountsBasic"])
    for _ in range(6):
        assert access.get("/balances", present=False).status_code == 403
    assert access.get("/accounts", present=False).status_code == 200


@pytest.fixture
def redis_app(database, clock, tmp_path, redis_url):
    return create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                       "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                       "SECRET_KEY": "test-secret", "TESTING": True,
                       "REDIS_URL": redis_url, "AIS_UNATTENDED_DAILY_LIMIT": 2,
                       "ISSUER": "http://localhost"})


def test_on_redis_every_web_process_shares_the_count(redis_app, aisp, demo, grant):
    """Two apps on one Redis stand for two web processes: the limit holds across them."""
    from aspsp.ais.access_limit import RedisAccessCounter
    alice = demo("alice")
    access = grant(aisp, alice, EVERYTHING)
    assert isinstance(redis_app.extensions["ais"].counter, RedisAccessCounter)
    second = create_app({**{k: redis_app.config[k] for k in ("DATABASE_URL", "REDIS_URL")},
                         "DATABASE": redis_app.extensions["aspsp"].db,
                         "CLOCK": redis_app.extensions["aspsp"].clock,
                         "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": redis_app.instance_path,
                         "SECRET_KEY": "test-secret", "AIS_UNATTENDED_DAILY_LIMIT": 2,
                         "ISSUER": "http://localhost"})
    results = []
    for app in (redis_app, second, redis_app):
        access.tpp.http = app.test_client()
        results.append(access.get("/accounts", present=False).status_code)
    assert results == [200, 200, 429]
