"""Edge cases found in the security review: each was accepted (or a 500) before."""
import json
from datetime import timedelta

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from tests.oauth_factories import dpop_proof
from tests.oauth_tpp import HOST, pkce_verifier, sign


def test_client_assertion_without_iat_cannot_live_for_years(tpp):
    response = tpp.client_credentials(iat=None, exp=tpp.now() + 10 * 365 * 86400)
    assert response.status_code == 401
    assert "longer than" in response.json["error_description"]


def test_client_assertion_with_infinite_exp_is_refused_not_a_500(tpp, client):
    token = jws.JWS(json.dumps({"iss": tpp.client_id, "sub": tpp.client_id, "aud": tpp.issuer,
                                "jti": "inf", "iat": tpp.now(), "exp": float("inf")}))
    token.add_signature(tpp.client.signing_key, alg="ES256",
                        protected=json_encode({"alg": "ES256", "kid": tpp.client.signing_key.get("kid")}))
    response = client.post("/token", data={
        "grant_type": "client_credentials", "scope": "accounts",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": token.serialize(compact=True)},
        headers={"DPoP": tpp.dpop("POST", "/token")})
    assert response.status_code == 401


def test_dpop_proof_with_nan_iat_is_refused(tpp):
    key = tpp.client.dpop_key
    token = jws.JWS(json.dumps({"jti": "nan", "htm": "POST", "htu": HOST + "/token",
                                "iat": float("nan")}))
    token.add_signature(key, alg="ES256", protected=json_encode(
        {"typ": "dpop+jwt", "alg": "ES256", "jwk": json.loads(key.export_public())}))
    response = tpp.client_credentials(headers={"DPoP": token.serialize(compact=True)}, dpop=False)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_dpop_proof"


def test_weak_rsa_dpop_key_is_refused(tpp):
    weak = jwk.JWK.generate(kty="RSA", size=1024)
    proof = dpop_proof(weak, "POST", HOST + "/token", iat=tpp.now(), alg="PS256")
    response = tpp.client_credentials(headers={"DPoP": proof}, dpop=False)
    assert response.status_code == 400
    assert "too weak" in response.json["error_description"]


def test_assertion_must_use_the_registered_algorithm(tpp, platform, client):
    rsa = jwk.JWK.generate(kty="RSA", size=2048, kid="rsa-key")
    with platform.uow() as uow:
        row = uow.session.merge(tpp.client.row)
        public = {**json.loads(rsa.export_public()), "use": "sig", "alg": "PS256"}
        row.client_metadata = {**row.client_metadata,
                               "jwks": {"keys": row.client_metadata["jwks"]["keys"] + [public]}}
        uow.commit()
    now = tpp.now()
    assertion = sign(rsa, {"iss": tpp.client_id, "sub": tpp.client_id, "aud": tpp.issuer,
                           "jti": "ps", "iat": now, "exp": now + 60}, alg="PS256")
    response = client.post("/token", data={
        "grant_type": "client_credentials", "scope": "accounts",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion}, headers={"DPoP": tpp.dpop("POST", "/token")})
    assert response.status_code == 401  # registered token_endpoint_auth_signing_alg is ES256


def test_state_must_be_printable_ascii(tpp, consent_for):
    params = tpp.request_params(consent_for(tpp), verifier=pkce_verifier(), state="café")
    response = tpp.par(params)
    assert response.status_code == 400
    assert "state" in response.json["error_description"]


def test_repeated_scopes_are_folded_and_huge_scopes_refused(tpp, consent_for):
    ok = tpp.par(tpp.request_params(consent_for(tpp), verifier=pkce_verifier(),
                                    scope="openid accounts openid accounts"))
    assert ok.status_code == 201, ok.json
    huge = tpp.par(tpp.request_params(consent_for(tpp), verifier=pkce_verifier(),
                                      scope="openid " * 40 + "accounts"))
    assert huge.status_code == 400
    assert huge.json["error"] == "invalid_scope"


def test_introspection_says_inactive_once_the_consent_has_expired(tpp, platform, clock):
    from aspsp.oauth import tokens
    from tests.integration.oauth.conftest import make_consent
    with platform.uow() as uow:
        consent = make_consent(uow, tpp.client, now=clock.now(), status="Authorised")
        consent.expiration_datetime = clock.now() + timedelta(seconds=30)
        issued = tokens.issue_tokens(uow, client=tpp.client.row, grant_type="authorization_code",
                                     scope="accounts", now=clock.now(), ttl=600,
                                     consent_pk=consent.id, cnf_jkt="x")
        uow.commit()
    body = {**tpp.auth_form(), "token": issued.access_token}
    assert tpp.http.post("/introspect", data=body).json["active"] is True
    clock.advance(timedelta(seconds=60))
    assert tpp.http.post("/introspect", data={**tpp.auth_form(), "token": issued.access_token}
                         ).json == {"active": False}
