"""A TPP whose keys are behind a jwks_uri rotates them: its next x-jws-signature (or client
assertion) names a kid the bank has not fetched. The bank fetches the jwks_uri again, then
verifies; a kid still unknown is the usual refusal. The refetch is at most once a minute per
client, so a flood of made-up kids costs the TPP's server no more fetches. The JWKS is served
by a real HTTP server on 127.0.0.1 (the sandbox's fetch policy allows loopback)."""
from __future__ import annotations

import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jwcrypto import jwk, jwt
from sqlalchemy import select

from aspsp import ob_signing
from aspsp.oauth.models import OAuthClient
from tests.conftest import TEST_ISSUER
from tests.integration.pis.conftest import CONSENTS, TAN, codes, domestic_consent_body, idem
from tests.oauth_factories import dpop_proof

# Not database-specific: run once, on PostgreSQL (production's engine).
pytestmark = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class _Jwks(BaseHTTPRequestHandler):
    jwks: dict = {"keys": []}
    hits = 0

    def do_GET(self):  # noqa: N802 (http.server's name)
        type(self).hits += 1
        body = json.dumps(self.jwks).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def jwks_server():
    """A TPP's JWKS on 127.0.0.1: yields (its URL, the handler class to rotate and count)."""
    handler = type("Jwks", (_Jwks,), {"jwks": {"keys": []}, "hits": 0})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/{uuid.uuid4().hex}/jwks.json", handler
    server.shutdown()
    server.server_close()


def new_key() -> jwk.JWK:
    return jwk.JWK.generate(kty="EC", crv="P-256", kid=uuid.uuid4().hex)


def public(key: jwk.JWK) -> dict:
    return {**json.loads(key.export_public()), "use": "sig", "alg": "ES256"}


def behind_jwks_uri(platform, tpp, url: str) -> None:
    """The client's keys move from its registration to `url`, as a DCR client whose software
    statement names a software_jwks_endpoint has them."""
    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == tpp.client_id)).one()
        metadata = {k: v for k, v in row.client_metadata.items() if k != "jwks"}
        row.client_metadata = {**metadata, "jwks_uri": url}
        uow.commit()


def signed_consent(tpp, key: jwk.JWK):
    body = json.dumps(domestic_consent_body()).encode()
    signature = ob_signing.sign_detached(
        body, key, kid=key.get("kid"), alg="ES256", tan=TAN, now=tpp.clock.now(),
        iss=f"{tpp.client.row.org_id}/{tpp.client.row.software_id}")
    return tpp.call("POST", CONSENTS, token=tpp.token(scope="payments"), data=body,
                    content_type="application/json",
                    headers={**idem(), "x-jws-signature": signature})


def test_a_rotated_signing_key_is_fetched_once_and_a_flood_of_unknown_kids_is_not(
        pisp, platform, jwks_server):
    url, served = jwks_server
    first, rotated = pisp.client.signing_key, new_key()
    served.jwks = {"keys": [public(first)]}
    behind_jwks_uri(platform, pisp, url)
    assert signed_consent(pisp, first).status_code == 201
    assert served.hits == 1

    served.jwks = {"keys": [public(rotated)]}          # the TPP rotates
    response = signed_consent(pisp, rotated)
    assert response.status_code == 201, response.get_json()
    assert served.hits == 2

    for _ in range(5):                                 # kids nobody published
        refused = signed_consent(pisp, new_key())
        assert refused.status_code == 400
        assert codes(refused) == ["UK.OBIE.Signature.InvalidClaim"]
        assert refused.get_json()["Errors"][0]["Path"] == "kid"
    assert served.hits == 2
    assert signed_consent(pisp, rotated).status_code == 201     # the cached key still signs
    assert served.hits == 2


def assertion(key: jwk.JWK, client_id: str, now: int) -> str:
    token = jwt.JWT(header={"alg": "ES256", "kid": key.get("kid"), "typ": "JWT"},
                    claims={"iss": client_id, "sub": client_id, "aud": TEST_ISSUER,
                            "jti": uuid.uuid4().hex, "iat": now, "exp": now + 60})
    token.make_signed_token(key)
    return token.serialize()


def token_with(tpp, key: jwk.JWK):
    now = int(tpp.clock.now().timestamp())
    return tpp.http.post("/token", data={
        "grant_type": "client_credentials", "scope": "payments",
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion(key, tpp.client_id, now)},
        headers={"DPoP": dpop_proof(tpp.client.dpop_key, "POST", f"{TEST_ISSUER}/token",
                                    iat=now)})


def test_a_client_assertion_by_a_rotated_key_is_fetched_once(pisp, platform, jwks_server):
    url, served = jwks_server
    first, rotated = pisp.client.signing_key, new_key()
    served.jwks = {"keys": [public(first)]}
    behind_jwks_uri(platform, pisp, url)
    assert token_with(pisp, first).status_code == 200
    served.jwks = {"keys": [public(rotated)]}
    issued = token_with(pisp, rotated)
    assert issued.status_code == 200, issued.get_json()
    assert served.hits == 2
    unknown = token_with(pisp, new_key())
    assert (unknown.status_code, unknown.get_json()["error"]) == (401, "invalid_client")
    assert served.hits == 2


def test_a_request_naming_a_client_with_a_made_up_kid_holds_its_refetch_only_seconds(
        pisp, platform, jwks_server):
    """A client assertion is read before its client is authenticated, so anyone can name a
    client with a made-up kid and so use up that client's refetch. It is held per process
    for JWKS_REFETCH_PER_CLIENT_SECONDS only (not a minute, nor for every process): the
    TPP's rotated key is taken once those seconds have passed."""
    from aspsp.oauth import clients
    url, served = jwks_server
    first, rotated = pisp.client.signing_key, new_key()
    served.jwks = {"keys": [public(first)]}
    behind_jwks_uri(platform, pisp, url)
    assert token_with(pisp, first).status_code == 200
    assert served.hits == 1

    forged = token_with(pisp, new_key())                # the attacker's made-up kid
    assert (forged.status_code, forged.get_json()["error"]) == (401, "invalid_client")
    assert served.hits == 2
    served.jwks = {"keys": [public(rotated)]}          # the TPP rotates at once after
    assert token_with(pisp, rotated).status_code == 401    # within the seconds held
    assert served.hits == 2
    with clients._refetched_lock:                      # those seconds pass
        clients._refetched[pisp.client_id] -= clients.JWKS_REFETCH_PER_CLIENT_SECONDS
    issued = token_with(pisp, rotated)
    assert issued.status_code == 200, issued.get_json()
    assert served.hits == 3
