"""Authorization-server rules that the certification suites assert (issue 7): the client
assertion's audience per FAPI profile, revocation that reveals nothing, certificate-bound
tokens per client registration, and malformed DPoP keys that are refused, never a 500."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from tests.certs import client_certificate
from tests.oauth_factories import make_client
from tests.oauth_tpp import HOST, ISSUER, Tpp

TOKEN_ENDPOINT = f"{ISSUER}/token"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def other_tpp(platform, client, clock):
    with platform.uow() as uow:
        test_client = make_client(uow, now=clock.now(), name="Other TPP")
        uow.commit()
    return Tpp(client, test_client, clock=clock)


def _cc(tpp, **assertion):
    return tpp.client_credentials(**assertion)


def _endpoint(tpp, path: str, form: dict, **assertion):
    return tpp.http.post(path, data={**tpp.auth_form(**assertion), **form})


# --- 4. the client assertion's audience ---------------------------------------------------------
@pytest.mark.parametrize("aud", [
    TOKEN_ENDPOINT,                                   # an endpoint URL, not the issuer
    ISSUER + "/",                                     # not the issuer identifier exactly
    [ISSUER],                                         # an array, even of the issuer alone
    [ISSUER, "https://another-bank.example"],         # an array naming another server too
])
def test_a_fapi2_client_assertion_aud_must_be_the_issuer_as_a_single_string(tpp, aud):
    response = _cc(tpp, aud=aud)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert "issuer identifier" in response.json["error_description"]


def test_a_fapi2_client_assertion_aud_of_the_issuer_is_accepted(tpp):
    response = _cc(tpp, aud=ISSUER)
    assert response.status_code == 200, response.json


@pytest.mark.parametrize("path, form", [
    ("/introspect", {"token": "unknown"}),
    ("/revoke", {"token": "unknown"}),
    ("/par", {"response_type": "code", "client_id": None}),
])
def test_a_fapi2_client_assertion_aud_is_the_issuer_at_every_authenticating_endpoint(
        tpp, path, form):
    form = {k: (tpp.client_id if v is None else v) for k, v in form.items()}
    headers = {"DPoP": tpp.dpop("POST", path)} if path == "/par" else {}
    refused = tpp.http.post(path, data={**tpp.auth_form(aud=[ISSUER, "https://x.example"]),
                                        **form}, headers=headers)
    assert refused.status_code == 401
    assert refused.json["error"] == "invalid_client"
    by_url = tpp.http.post(path, data={**tpp.auth_form(aud=HOST + path), **form},
                           headers={"DPoP": tpp.dpop("POST", path)} if headers else {})
    assert by_url.status_code == 401


@pytest.mark.parametrize("aud", [ISSUER, TOKEN_ENDPOINT, [TOKEN_ENDPOINT, "https://x.example"]])
def test_a_fapi1_client_assertion_may_keep_the_rfc7523_audiences(fapi1_tpp, aud):
    response = _cc(fapi1_tpp, aud=aud)
    assert response.status_code == 200, response.json


# --- 5. revocation of another client's token -----------------------------------------------------
def test_revoking_another_clients_token_answers_as_for_an_unknown_token(tpp, other_tpp):
    victim = _cc(tpp).json["access_token"]
    unknown = _endpoint(other_tpp, "/revoke", {"token": "no-such-token"})
    foreign = _endpoint(other_tpp, "/revoke", {"token": victim})
    assert (foreign.status_code, foreign.json) == (unknown.status_code, unknown.json) \
        == (200, {})
    still = _endpoint(tpp, "/introspect", {"token": victim})
    assert still.json["active"] is True          # and nothing was revoked


# --- 6. certificate-bound tokens per client ------------------------------------------------------
@pytest.fixture
def cert_bound_tpp(platform, client, clock):
    platform.config["TRUSTED_PROXIES"] = "127.0.0.1"
    cert, _ = client_certificate("fapi1-tpp")
    with platform.uow() as uow:
        test_client = make_client(uow, now=clock.now(), profile="fapi1-advanced")
        test_client.row.client_metadata = {
            **test_client.row.client_metadata,
            "tls_client_certificate_bound_access_tokens": True}
        uow.commit()
    return Tpp(client, test_client, clock=clock), cert


def test_a_client_registered_for_certificate_bound_tokens_gets_no_dpop_token(cert_bound_tpp):
    tpp, _ = cert_bound_tpp
    response = tpp.client_credentials()                      # a DPoP proof, no certificate
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"
    assert "certificate" in response.json["error_description"]


def test_a_client_registered_for_certificate_bound_tokens_gets_them_even_with_a_proof(
        cert_bound_tpp, platform):
    tpp, cert = cert_bound_tpp
    response = tpp.http.post(
        "/token", data={**tpp.auth_form(), "grant_type": "client_credentials",
                        "scope": "accounts"},
        headers={"DPoP": tpp.dpop("POST", "/token"), "X-SSL-Client-Cert": cert},
        environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 200, response.json
    assert response.json["token_type"] == "Bearer"
    introspected = tpp.http.post("/introspect", data={**tpp.auth_form(),
                                                      "token": response.json["access_token"]})
    assert "x5t#S256" in introspected.json["cnf"]


# --- 9. malformed DPoP keys ----------------------------------------------------------------------
def _proof_with_jwk(raw_jwk, url: str, now: int) -> str:
    """A DPoP proof whose header carries `raw_jwk`, signed by an unrelated key."""
    signer = jwk.JWK.generate(kty="EC", crv="P-256")
    claims = {"jti": uuid.uuid4().hex, "htm": "POST", "htu": url, "iat": now}
    token = jws.JWS(json_encode(claims))
    token.add_signature(signer, alg="ES256", protected=json_encode(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": raw_jwk}))
    return token.serialize(compact=True)


_EC = json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_public())
_EC_PRIVATE = json.loads(jwk.JWK.generate(kty="EC", crv="P-256").export_private())
MALFORMED_JWKS = {
    "not an object": "a-string",
    "an array": [_EC],
    "empty object": {},
    "no kty": {k: v for k, v in _EC.items() if k != "kty"},
    "unknown kty": {**_EC, "kty": "XYZ"},
    "kty not a string": {**_EC, "kty": 7},
    "symmetric key": {"kty": "oct", "k": _b64(b"secret-secret")},
    "rsa n of one byte": {"kty": "RSA", "n": _b64(b"\x01"), "e": "AQAB"},
    "rsa e larger than n": {"kty": "RSA", "n": _b64(b"\xff" * 256), "e": _b64(b"\xff" * 300)},
    "rsa huge n": {"kty": "RSA", "n": _b64(b"\xff" * 4096), "e": "AQAB"},
    "rsa n not base64url": {"kty": "RSA", "n": "!!!", "e": "AQAB"},
    "ec off the curve": {**_EC, "y": _EC["x"]},
    "ec unknown crv": {**_EC, "crv": "P-999"},
    "ec crv not a string": {**_EC, "crv": ["P-256"]},
    "ec x missing": {k: v for k, v in _EC.items() if k != "x"},
    "ec x huge": {**_EC, "x": _b64(b"\x01" * 100_000)},
    "ec x an object": {**_EC, "x": {"a": 1}},
    "private key included": _EC_PRIVATE,
    "key_ops not a list": {**_EC, "key_ops": 5},
}


@pytest.mark.parametrize("path", ["/token", "/par"])
@pytest.mark.parametrize("name", sorted(MALFORMED_JWKS))
def test_a_dpop_proof_with_a_malformed_jwk_is_invalid_dpop_proof_not_a_500(tpp, path, name):
    proof = _proof_with_jwk(MALFORMED_JWKS[name], HOST + path, tpp.now())
    form = {"grant_type": "client_credentials", "scope": "accounts"} if path == "/token" \
        else {"response_type": "code", "client_id": tpp.client_id}
    response = tpp.http.post(path, data={**tpp.auth_form(), **form}, headers={"DPoP": proof})
    assert response.status_code == 400, response.json     # RFC 9449 §5.1 at the AS
    assert response.json["error"] == "invalid_dpop_proof"


@pytest.mark.parametrize("claims", [
    {"htu": "http://[::1/token"},          # not a URL: urlsplit raised, a 500
    {"htu": ["http://localhost/token"]},
    {"jti": {"an": "object"}},
    {"jti": ""},
], ids=["htu not a url", "htu an array", "jti an object", "jti empty"])
def test_a_dpop_proof_with_malformed_claims_is_invalid_dpop_proof_not_a_500(tpp, claims):
    key = tpp.client.dpop_key
    body = {"jti": uuid.uuid4().hex, "htm": "POST", "htu": HOST + "/token", "iat": tpp.now(),
            **claims}
    token = jws.JWS(json_encode(body))
    token.add_signature(key, alg="ES256", protected=json_encode(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": json.loads(key.export_public())}))
    response = tpp.client_credentials(dpop=False,
                                      headers={"DPoP": token.serialize(compact=True)})
    assert response.status_code == 400
    assert response.json["error"] == "invalid_dpop_proof"
