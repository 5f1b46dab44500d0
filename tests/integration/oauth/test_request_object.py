"""Signed request objects (RFC 9101) under FAPI 1.0 Advanced rules, at the authorization
endpoint of a FAPI 1.0 Advanced client."""

from tests.oauth_tpp import pkce_verifier, redirect_params, unsigned


def _authorize(tpp, request_object):
    return tpp.http.get("/authorize", query_string={"client_id": tpp.client_id,
                                                    "request": request_object})


def _params(tpp, consent_for):
    return tpp.request_params(consent_for(tpp), verifier=pkce_verifier())


def _refused(response, fragment):
    assert response.status_code == 400
    body = response.get_data(as_text=True)
    assert "invalid_request_object" in body
    assert fragment in body


def test_valid_request_object_starts_the_journey(fapi1_tpp, consent_for):
    response = _authorize(fapi1_tpp, fapi1_tpp.request_object(_params(fapi1_tpp, consent_for)))
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/psu/authorize/")


def test_without_exp(fapi1_tpp, consent_for):
    _refused(_authorize(fapi1_tpp, fapi1_tpp.request_object(_params(fapi1_tpp, consent_for),
                                                            exp=None)), "exp")


def test_without_nbf(fapi1_tpp, consent_for):
    _refused(_authorize(fapi1_tpp, fapi1_tpp.request_object(_params(fapi1_tpp, consent_for),
                                                            nbf=None)), "nbf")


def test_lifetime_over_60_minutes(fapi1_tpp, consent_for):
    now = fapi1_tpp.now()
    _refused(_authorize(fapi1_tpp, fapi1_tpp.request_object(
        _params(fapi1_tpp, consent_for), nbf=now, exp=now + 3601)), "60 minutes")


def test_nbf_older_than_60_minutes(fapi1_tpp, consent_for):
    """With exp - nbf <= 60 minutes, an nbf over an hour old always comes with a past exp or
    an over-long lifetime; either way the object is refused."""
    now = fapi1_tpp.now()
    _refused(_authorize(fapi1_tpp, fapi1_tpp.request_object(
        _params(fapi1_tpp, consent_for), nbf=now - 3700, exp=now + 60)), "rejected")


def test_wrong_audience(fapi1_tpp, consent_for):
    _refused(_authorize(fapi1_tpp, fapi1_tpp.request_object(
        _params(fapi1_tpp, consent_for), aud="https://another-bank.example")), "aud")


def test_bad_signature(fapi1_tpp, consent_for):
    token = fapi1_tpp.request_object(_params(fapi1_tpp, consent_for))
    header, payload, signature = token.split(".")
    tampered = f"{header}.{payload}.{signature[:-4]}AAAA"
    _refused(_authorize(fapi1_tpp, tampered), "signature")


def test_alg_none(fapi1_tpp, consent_for):
    now = fapi1_tpp.now()
    claims = {**_params(fapi1_tpp, consent_for), "aud": fapi1_tpp.issuer, "nbf": now,
              "exp": now + 60, "iss": fapi1_tpp.client_id}
    _refused(_authorize(fapi1_tpp, unsigned(claims)), "alg")


def test_rs256(fapi1_tpp, consent_for):
    from jwcrypto import jwk
    rsa = jwk.JWK.generate(kty="RSA", size=2048, kid=fapi1_tpp.client.signing_key.get("kid"))
    _refused(_authorize(fapi1_tpp, fapi1_tpp.request_object(
        _params(fapi1_tpp, consent_for), alg="RS256", key=rsa)), "alg")


def test_unsigned_plain_parameters_are_refused(fapi1_tpp, consent_for):
    params = _params(fapi1_tpp, consent_for)
    params["claims"] = str(params["claims"])
    response = fapi1_tpp.http.get("/authorize", query_string=params)
    assert response.status_code == 400
    assert "signed request object" in response.get_data(as_text=True)


def test_only_request_object_parameters_are_used(fapi1_tpp, consent_for):
    """A redirect_uri in the query (outside the signed object) is ignored."""
    params = _params(fapi1_tpp, consent_for)
    response = fapi1_tpp.http.get("/authorize", query_string={
        "client_id": fapi1_tpp.client_id, "request": fapi1_tpp.request_object(params),
        "redirect_uri": "https://evil.example/cb", "scope": "openid payments"})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/psu/authorize/")


def test_error_after_redirect_uri_is_known_goes_back_to_the_client(fapi1_tpp, consent_for):
    params = _params(fapi1_tpp, consent_for)
    params["scope"] = "openid fundsconfirmations payments"
    response = _authorize(fapi1_tpp, fapi1_tpp.request_object(params))
    assert response.status_code == 303
    location = response.headers["Location"]
    assert location.startswith("https://tpp.example/callback#")
    returned = redirect_params(location)
    assert returned["error"] == "invalid_scope"
    assert returned["state"] == params["state"]
    assert returned["iss"] == fapi1_tpp.issuer


def test_plain_pkce_by_value_is_refused(fapi1_tpp, consent_for):
    params = _params(fapi1_tpp, consent_for)
    params.update(code_challenge="x" * 43, code_challenge_method="plain")
    returned = redirect_params(_authorize(fapi1_tpp, fapi1_tpp.request_object(params))
                               .headers["Location"])
    assert returned["error"] == "invalid_request"
    assert "S256" in returned["error_description"]


def test_a_request_object_without_scope_is_invalid_request(fapi1_tpp, consent_for):
    """fapi1-advanced-final-ensure-request-object-without-scope-fails: the error must be one
    of invalid_request, invalid_request_object, invalid_request_uri or access_denied."""
    params = _params(fapi1_tpp, consent_for)
    del params["scope"]
    response = fapi1_tpp.http.get("/authorize", query_string={
        "client_id": fapi1_tpp.client_id, "request": fapi1_tpp.request_object(params),
        "scope": "openid accounts"})         # outside the request object only
    returned = redirect_params(response.headers["Location"])
    assert returned["error"] == "invalid_request"
    assert returned["state"] == params["state"]
