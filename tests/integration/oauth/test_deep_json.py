"""No JSON a client controls becomes a 500 by nesting (aspsp/jsonsafe.py): a DPoP proof
payload the attacker signs with its own key, a client assertion or registration request that
is never verified, the `claims` parameter, a fetched JWKS. Each is refused in the endpoint's
own error format; depth 5000 overflows json's recursion, depth 100 parses but is too deep."""
from __future__ import annotations

import base64
import json
import socketserver
import threading
import uuid

import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from aspsp import jsonsafe, outbound
from aspsp.oauth import trust
from tests.oauth_tpp import HOST, JWT_BEARER, pkce_verifier

DEPTHS = [100, 5000]


def _deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _deep_assertion(depth: int) -> str:
    header = _b64(json.dumps({"alg": "ES256", "typ": "JWT"}).encode())
    return f"{header}.{_b64(_deep(depth))}.AAAA"


def _deep_dpop_proof(depth: int) -> str:
    key = jwk.JWK.generate(kty="EC", crv="P-256")           # the attacker's own key
    token = jws.JWS(b'{"jti": "x", "htm": "POST", "htu": "%s/token", "iat": 1, "x": %s}'
                    % (HOST.encode(), _deep(depth)))
    token.add_signature(key, alg="ES256", protected=json_encode(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": json.loads(key.export_public())}))
    return token.serialize(compact=True)


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("path", ["/token", "/par"])
def test_a_deeply_nested_dpop_proof_is_invalid_dpop_proof_not_a_500(client, path, depth):
    response = client.post(path, data={"grant_type": "client_credentials", "client_id": "x"},
                           headers={"DPoP": _deep_dpop_proof(depth)})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_dpop_proof"
    assert "payload" in response.json["error_description"]


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("path", ["/token", "/par", "/revoke", "/introspect"])
def test_a_deeply_nested_client_assertion_is_invalid_client_not_a_500(client, path, depth):
    response = client.post(path, data={"grant_type": "client_credentials", "token": "x",
                                       "client_assertion_type": JWT_BEARER,
                                       "client_assertion": _deep_assertion(depth)})
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deeply_nested_registration_request_is_a_400_not_a_500(client, depth):
    response = client.post("/register", data=_deep_assertion(depth),
                           content_type="application/jwt")
    assert response.status_code == 400
    assert response.json["error"] in ("invalid_client_metadata", "invalid_software_statement")


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deeply_nested_claims_parameter_is_invalid_request_not_a_500(tpp, consent_for,
                                                                         depth):
    consent_id = consent_for(tpp)
    params = tpp.request_params(consent_id, verifier=pkce_verifier())
    params["claims"] = '{"id_token": {"openbanking_intent_id": {"value": %s}}}' % (
        _deep(depth).decode())
    response = tpp.par(params)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert "openbanking_intent_id" in response.json["error_description"]


@pytest.mark.parametrize("depth", DEPTHS)
def test_a_deeply_nested_jwks_document_is_jwks_unavailable(depth):
    body = b'{"keys": %s}' % _deep(depth)

    class Handler(socketserver.BaseRequestHandler):
        def handle(self):
            self.request.recv(65536)
            self.request.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n"
                                 b"Connection: close\r\n\r\n%s" % (len(body), body))

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        policy = outbound.Policy(schemes=("http",), allowed_networks=outbound.LOOPBACK)
        url = f"http://127.0.0.1:{server.server_address[1]}/jwks-{uuid.uuid4().hex}"
        with pytest.raises(trust.JwksUnavailable):
            trust.JwksFetcher().get(url, policy=policy)
    finally:
        server.shutdown()
        server.server_close()


def test_json_nested_up_to_the_limit_parses_and_deeper_is_a_value_error():
    assert jsonsafe.loads(b"[" * jsonsafe.MAX_DEPTH + b"]" * jsonsafe.MAX_DEPTH)
    with pytest.raises(ValueError):
        jsonsafe.loads("[" * (jsonsafe.MAX_DEPTH + 1) + "]" * (jsonsafe.MAX_DEPTH + 1))
    with pytest.raises(ValueError):
        jsonsafe.loads("[" * 100_000 + "]" * 100_000)
