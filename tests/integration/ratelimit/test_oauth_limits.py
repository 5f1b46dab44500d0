"""Rate limits of the OAuth endpoints: per client once it is authenticated (family `oauth`:
token, PAR, introspection, revocation), per source address before that. Answers are RFC 6749
error bodies (`temporarily_unavailable`), 429 with Retry-After."""
from __future__ import annotations

import uuid

import pytest

from tests.oauth_factories import make_client
from tests.oauth_tpp import Tpp

from .conftest import build_app


def http(app, address: str | None = None):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address or f"10.9.{uuid.uuid4().int % 250}.1"
    return client


def oauth_refused(response) -> dict:
    assert response.status_code == 429, (response.status_code, response.data)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert body["error"] == "temporarily_unavailable"
    return body


def new_tpp(app, clock, address=None) -> Tpp:
    with app.extensions["aspsp"].uow() as uow:
        test_client = make_client(uow, now=clock.now())
        uow.commit()
    return Tpp(http(app, address), test_client, clock=clock)


def test_the_token_endpoint_refuses_a_client_over_its_oauth_limit(rl_app, clock):
    tpp = new_tpp(rl_app, clock)
    assert [tpp.client_credentials("accounts").status_code for _ in range(2)] == [200, 200]

    body = oauth_refused(tpp.client_credentials("accounts"))
    assert "more than 2 per minute calls of the OAuth endpoints by this client" in \
        body["error_description"]
    # PAR is the same family: refused too, before anything is stored.
    oauth_refused(tpp.par({"response_type": "code", "client_id": tpp.client_id}))


def test_one_clients_token_requests_do_not_limit_another_from_the_same_address(rl_app, clock):
    greedy = new_tpp(rl_app, clock, address="10.8.8.8")
    other = new_tpp(rl_app, clock, address="10.8.8.8")
    for _ in range(2):
        greedy.client_credentials()
    oauth_refused(greedy.client_credentials())
    assert other.client_credentials().status_code == 200


def test_a_higher_tier_lets_more_token_requests_through(rl_app, clock):
    tpp = new_tpp(rl_app, clock)
    result = rl_app.test_cli_runner().invoke(
        args=["ratelimit", "set", tpp.client_id, "--tier", "premium"])
    assert result.exit_code == 0, result.output
    assert [tpp.client_credentials().status_code for _ in range(4)] == [200] * 4
    oauth_refused(tpp.client_credentials())


@pytest.fixture
def address_limited_app(database, clock, tmp_path):
    return build_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                      "INSTANCE_PATH": str(tmp_path)},
                     RATELIMIT_OAUTH_PER_ADDRESS="3 per minute")


def test_unauthenticated_calls_are_limited_per_address_before_any_check(
        address_limited_app, clock):
    app = address_limited_app
    flooder = http(app, "10.66.0.1")
    garbage = {"grant_type": "client_credentials", "client_id": "nobody",
               "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
               "client_assertion": "not.a.jwt"}
    assert [flooder.post("/token", data=garbage).status_code for _ in range(3)] == [401] * 3
    body = oauth_refused(flooder.post("/token", data=garbage))
    assert "by this address" in body["error_description"]
    oauth_refused(flooder.post("/par", data=garbage))
    oauth_refused(flooder.post("/register", data=b"x", content_type="application/jwt"))
    # Not an endpoint a client authenticates at: not counted, not refused.
    assert flooder.get("/.well-known/openid-configuration").status_code == 200

    # Another address is not held back by this one.
    assert http(app, "10.66.0.2").post("/token", data=garbage).status_code == 401
    # Nor is a TPP's token request from its own address.
    assert new_tpp(app, clock, address="10.66.0.3").client_credentials().status_code == 200
