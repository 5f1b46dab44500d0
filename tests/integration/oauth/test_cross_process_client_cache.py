"""Parsed client keys are cached per process (aspsp.oauth.clients.ClientKeyCache): a change to
a client made through one process takes effect on the very next token request in another.

Two apps (two `create_app`, each with its own engine, connection pool and key cache: two
processes' worth of state) over one database that both really commit to, and one Redis (the
replay caches). Every scenario first gets a token through B, so that B holds the client's
parsed keys, then changes the client through A, then asks B again."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from jwcrypto import jwk, jwt
from sqlalchemy import select

from aspsp.clock import Clock
from aspsp.oauth import clients
from aspsp.oauth.models import OAuthClient
from bank import create_app
from sandbox.models import SoftwareStatement
from tests import tpp_factories
from tests.conftest import NOW, TEST_ISSUER, UNLIMITED_RATES, committed_database
from tests.oauth_factories import dpop_proof, make_client

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture(params=["sqlite", "postgresql"])
def shared_url(request, tmp_path):
    with committed_database(request.param, tmp_path, "aspsp_client_cache") as url:
        yield url


@pytest.fixture
def apps(shared_url, redis_url, tmp_path):
    """Two processes' worth of the platform on one database and one Redis."""
    clock = Clock(frozen_at=NOW)
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


def _assertion(key: jwk.JWK, client_id: str, *, alg: str) -> str:
    now = int(NOW.timestamp())
    token = jwt.JWT(header={"alg": alg, "kid": key.get("kid"), "typ": "JWT"},
                    claims={"iss": client_id, "sub": client_id, "aud": TEST_ISSUER,
                            "jti": uuid.uuid4().hex, "iat": now, "exp": now + 60})
    token.make_signed_token(key)
    return token.serialize()


def token_request(app, client_id: str, key: jwk.JWK, *, alg: str = "ES256",
                  dpop_key: jwk.JWK | None = None):
    """POST /token (client_credentials, private_key_jwt, DPoP-bound) through `app`."""
    dpop_key = dpop_key or jwk.JWK.generate(kty="EC", crv="P-256")
    return app.test_client().post("/token", data={
        "grant_type": "client_credentials", "scope": "accounts",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": _assertion(key, client_id, alg=alg)}, headers={
        "DPoP": dpop_proof(dpop_key, "POST", f"{TEST_ISSUER}/token",
                           iat=int(NOW.timestamp()))})


def refused(response, description: str) -> bool:
    return response.status_code == 401 and response.json["error"] == "invalid_client" \
        and description in response.json["error_description"]


def public(key: jwk.JWK, alg: str) -> dict:
    return {**json.loads(key.export_public()), "use": "sig", "alg": alg}


@pytest.fixture
def inline_client(apps):
    """A client registered with its keys inline (ES256), made through A."""
    a, _ = apps
    with a.extensions["aspsp"].uow() as uow:
        made = make_client(uow, now=NOW)
        uow.commit()
        return made.row.client_id, made.signing_key


def update_client(app, client_id: str, change) -> None:
    """A change to the client's registration, committed through `app`."""
    with app.extensions["aspsp"].uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == client_id)).one()
        change(row)
        uow.commit()


def test_a_key_rotation_through_one_process_is_seen_by_the_other(apps, inline_client):
    a, b = apps
    client_id, old_key = inline_client
    assert token_request(b, client_id, old_key).status_code == 200   # B has parsed the key
    new_key = jwk.JWK.generate(kty="EC", crv="P-256", kid=old_key.get("kid"))  # same kid

    update_client(a, client_id, lambda row: setattr(row, "client_metadata", {
        **row.client_metadata, "jwks": {"keys": [public(new_key, "ES256")]}}))

    assert refused(token_request(b, client_id, old_key), "the signature does not verify")
    assert token_request(b, client_id, new_key).status_code == 200


def test_a_changed_signing_alg_through_one_process_is_seen_by_the_other(apps, inline_client):
    a, b = apps
    client_id, ec_key = inline_client
    assert token_request(b, client_id, ec_key).status_code == 200
    rsa_key = jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-1")

    def to_ps256(row):      # both keys still registered; only PS256 may sign assertions now
        row.client_metadata = {**row.client_metadata, "token_endpoint_auth_signing_alg": "PS256",
                               "jwks": {"keys": [public(ec_key, "ES256"),
                                                 public(rsa_key, "PS256")]}}
    update_client(a, client_id, to_ps256)

    assert refused(token_request(b, client_id, ec_key), "alg must be one of PS256")
    assert token_request(b, client_id, rsa_key, alg="PS256").status_code == 200


def test_every_change_bumps_the_registration_version(apps, inline_client):
    a, b = apps
    client_id, _ = inline_client
    versions = []

    def read(row):
        versions.append(row.registration_version)
    update_client(b, client_id, read)
    update_client(a, client_id, lambda row: setattr(row, "client_name", "Renamed"))
    update_client(b, client_id, read)
    update_client(a, client_id, lambda row: setattr(row, "roles", ["PISP"]))
    update_client(b, client_id, read)
    update_client(a, client_id, lambda row: None)           # nothing changed: no new version
    update_client(b, client_id, read)
    assert versions == [1, 2, 3, 3]


def test_a_deletion_through_one_process_is_seen_by_the_other(apps, inline_client):
    """Deleted through the registration management endpoint of A (DELETE /register/<id>
    with the client's own client-credentials token), refused at B's token endpoint."""
    a, b = apps
    client_id, key = inline_client
    assert token_request(b, client_id, key).status_code == 200
    dpop_key = jwk.JWK.generate(kty="EC", crv="P-256")
    issued = token_request(a, client_id, key, dpop_key=dpop_key)
    assert issued.status_code == 200, issued.json
    access = issued.json["access_token"]
    url = f"{TEST_ISSUER}/register/{client_id}"
    deleted = a.test_client().delete(f"/register/{client_id}", headers={
        "Authorization": f"DPoP {access}",
        "DPoP": dpop_proof(dpop_key, "DELETE", url, access_token=access,
                           iat=int(NOW.timestamp()))})
    assert deleted.status_code == 204, deleted.data

    assert refused(token_request(b, client_id, key), "unknown client")


def test_a_directory_key_rotation_is_seen_by_the_other_process(apps):
    """A client registered through DCR, its keys behind the sandbox directory's jwks_uri:
    the software's key rotated in the directory through A, B refuses the old key at once."""
    a, b = apps
    with a.extensions["aspsp"].uow() as uow:
        tpp = tpp_factories.tpp(uow, now=NOW)
        ssa = tpp_factories.issue_ssa(uow, a, tpp.software_id, now=NOW)
        uow.commit()
    registered = tpp_factories.post_registration(a.test_client(), tpp_factories.registration_jwt(
        tpp, ssa, issuer=TEST_ISSUER, now=NOW))
    assert registered.status_code == 201, registered.json
    client_id = registered.json["client_id"]
    assert "jwks_uri" in registered.json
    assert token_request(b, client_id, tpp.key, alg="PS256").status_code == 200
    new_key = jwk.JWK.generate(kty="RSA", size=2048, kid=tpp.kid)

    with a.extensions["aspsp"].uow() as uow:
        software = uow.session.scalars(select(SoftwareStatement).where(
            SoftwareStatement.software_id == tpp.software_id)).one()
        software.jwks = {"keys": [public(new_key, "PS256")]}
        uow.commit()

    assert refused(token_request(b, client_id, tpp.key, alg="PS256"),
                   "the signature does not verify")
    assert token_request(b, client_id, new_key, alg="PS256").status_code == 200


def test_each_process_parses_a_clients_keys_once(apps, inline_client):
    """What the cache is for: B parses the keys on its first token, then reuses them until
    the registration changes."""
    a, b = apps
    client_id, key = inline_client
    for _ in range(3):
        assert token_request(b, client_id, key).status_code == 200
    with b.app_context():
        assert clients.key_cache().parses == 1
    update_client(a, client_id, lambda row: setattr(row, "client_name", "Renamed"))
    assert token_request(b, client_id, key).status_code == 200
    with b.app_context():
        assert clients.key_cache().parses == 2
    with a.app_context():
        assert clients.key_cache().parses == 0


def test_an_assertion_used_in_one_process_is_refused_in_the_other(apps, inline_client):
    """The assertion's jti is single-use across processes (one Redis SET NX EX)."""
    a, b = apps
    client_id, key = inline_client
    assertion = _assertion(key, client_id, alg="ES256")

    def send(app):
        return app.test_client().post("/token", data={
            "grant_type": "client_credentials", "scope": "accounts",
            "client_assertion_type": JWT_BEARER, "client_assertion": assertion}, headers={
            "DPoP": dpop_proof(jwk.JWK.generate(kty="EC", crv="P-256"), "POST",
                               f"{TEST_ISSUER}/token", iat=int(NOW.timestamp()))})
    assert send(a).status_code == 200
    assert refused(send(b), "client assertion jti has been used before")
