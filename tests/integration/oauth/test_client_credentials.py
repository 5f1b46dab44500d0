"""Token endpoint, client_credentials grant, private_key_jwt client authentication."""

from tests.oauth_tpp import sign


def test_issues_a_dpop_bound_token(tpp):
    response = tpp.client_credentials("accounts")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["token_type"] == "DPoP"
    assert body["scope"] == "accounts"
    assert body["expires_in"] == 600
    assert "refresh_token" not in body
    assert response.headers["Cache-Control"] == "no-store"


def test_without_a_dpop_proof_or_certificate_is_refused(tpp):
    response = tpp.client_credentials("accounts", dpop=False)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_request"


def test_scope_outside_the_roles_is_refused(platform, client, clock):
    from tests.oauth_factories import make_client
    from tests.oauth_tpp import Tpp
    with platform.uow() as uow:
        aisp = Tpp(client, make_client(uow, now=clock.now(), roles=("AISP",)), clock=clock)
        uow.commit()
    assert aisp.client_credentials("payments").json["error"] == "invalid_scope"


def _assert_invalid_client(response):
    assert response.status_code == 401, response.json
    assert response.json["error"] == "invalid_client"


def test_assertion_with_wrong_audience(tpp):
    _assert_invalid_client(tpp.client_credentials(aud="https://elsewhere.example"))


def test_assertion_with_wrong_issuer(tpp):
    _assert_invalid_client(tpp.client_credentials(iss="someone-else"))


def test_assertion_with_wrong_subject(tpp):
    _assert_invalid_client(tpp.client_credentials(sub="someone-else"))


def test_expired_assertion(tpp):
    _assert_invalid_client(tpp.client_credentials(exp=tpp.now() - 5))


def test_assertion_without_exp(tpp):
    _assert_invalid_client(tpp.client_credentials(exp=None))


def test_replayed_assertion_jti(tpp):
    assert tpp.client_credentials(jti="same-jti").status_code == 200
    _assert_invalid_client(tpp.client_credentials(jti="same-jti"))


def test_assertion_signed_with_rs256_is_refused(tpp, client):
    from jwcrypto import jwk
    rsa = jwk.JWK.generate(kty="RSA", size=2048, kid=tpp.client.signing_key.get("kid"))
    now = tpp.now()
    assertion = sign(rsa, {"iss": tpp.client_id, "sub": tpp.client_id, "aud": tpp.issuer,
                           "jti": "x1", "iat": now, "exp": now + 60}, alg="RS256")
    response = client.post("/token", data={
        "grant_type": "client_credentials", "scope": "accounts",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion}, headers={"DPoP": tpp.dpop("POST", "/token")})
    _assert_invalid_client(response)


def test_assertion_signed_by_an_unregistered_key(tpp, client):
    from jwcrypto import jwk
    other = jwk.JWK.generate(kty="EC", crv="P-256", kid=tpp.client.signing_key.get("kid"))
    now = tpp.now()
    assertion = sign(other, {"iss": tpp.client_id, "sub": tpp.client_id, "aud": tpp.issuer,
                             "jti": "x2", "iat": now, "exp": now + 60})
    response = client.post("/token", data={
        "grant_type": "client_credentials", "scope": "accounts",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion}, headers={"DPoP": tpp.dpop("POST", "/token")})
    _assert_invalid_client(response)


def test_client_secret_methods_are_not_offered(tpp, client):
    response = client.post("/token", data={"grant_type": "client_credentials",
                                           "client_id": tpp.client_id, "client_secret": "x"},
                           headers={"DPoP": tpp.dpop("POST", "/token")})
    _assert_invalid_client(response)


def test_unsupported_grant_type(tpp):
    response = tpp.token({"grant_type": "password", "username": "a", "password": "b"})
    assert response.status_code == 400
    assert response.json["error"] == "unsupported_grant_type"
