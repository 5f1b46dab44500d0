"""Every API call of an identifiable client leaves a row with its fields; secrets never do."""
from __future__ import annotations

import json
import uuid

import pytest

from tests.integration.consent.conftest import CONSENTS
from tests.integration.request_log.conftest import stored_text
from tests.oauth_tpp import Tpp as OAuthTpp

PERMISSIONS = ["ReadAccountsDetail", "ReadBalances"]


@pytest.fixture
def oauth_tpp(client, aisp, clock):
    """The same registered AISP, as the OAuth tests drive the token endpoint."""
    return OAuthTpp(client, aisp.client, clock=clock)


def test_a_token_request_is_logged_with_its_secrets_masked(oauth_tpp, logged):
    assertion_form = oauth_tpp.auth_form()
    proof = oauth_tpp.dpop("POST", "/token")
    response = oauth_tpp.http.post("/token", data={**assertion_form, "grant_type":
                                                   "client_credentials", "scope": "accounts"},
                                   headers={"DPoP": proof})
    assert response.status_code == 200, response.json

    [row] = logged(oauth_tpp.client_id)
    assert (row.method, row.path, row.status) == ("POST", "/token", 200)
    assert row.latency_ms > 0
    assert row.request_type == "application/x-www-form-urlencoded"
    assert "grant_type=client_credentials" in row.request_body
    assert "client_assertion=[masked]" in row.request_body
    stored = json.loads(row.response_body)
    assert stored["access_token"] == "[masked]" and stored["token_type"] == "DPoP"
    text = stored_text([row])
    for secret in (assertion_form["client_assertion"], response.json["access_token"], proof):
        assert secret not in text


def test_a_consent_call_is_logged_with_its_interaction_id_and_bodies(aisp, logged):
    token = aisp.token()
    interaction = str(uuid.uuid4())
    response = aisp.call("POST", CONSENTS, token=token, headers={
        "x-fapi-interaction-id": interaction},
        json={"Data": {"Permissions": PERMISSIONS}, "Risk": {}})
    assert response.status_code == 201

    [row] = logged(aisp.client_id)
    assert (row.method, row.path, row.status) == ("POST", CONSENTS, 201)
    assert row.interaction_id == interaction == response.headers["x-fapi-interaction-id"]
    assert '"ReadBalances"' in row.request_body
    assert response.json["Data"]["ConsentId"] in row.response_body
    assert token not in stored_text([row])


def test_each_client_gets_its_own_rows(aisp, other_aisp, logged):
    aisp.create_consent(PERMISSIONS)
    other_aisp.create_consent(PERMISSIONS)
    other_aisp.create_consent(PERMISSIONS)
    assert len(logged(aisp.client_id)) == 1
    assert len(logged(other_aisp.client_id)) == 2


def test_a_query_string_is_kept_with_its_secrets_masked(aisp, logged):
    token = aisp.token()
    consent_id = aisp.create_consent(PERMISSIONS, token=token)
    response = aisp.call("GET", f"{CONSENTS}/{consent_id}?code=secret-code&page=2",
                         token=token)
    assert response.status_code == 200
    row = logged(aisp.client_id)[-1]
    assert row.path == f"{CONSENTS}/{consent_id}"
    assert row.query == "code=[masked]&page=2"
    assert "secret-code" not in stored_text([row])


# --- refused calls ---------------------------------------------------------------------------
def test_a_refused_call_of_a_known_token_is_logged(aisp, logged):
    """The token is the client's, the DPoP proof is missing: 401, in the client's log."""
    token = aisp.token()
    response = aisp.call("POST", CONSENTS, token=token, proof=False,
                         json={"Data": {"Permissions": PERMISSIONS}, "Risk": {}})
    assert response.status_code == 401
    [row] = logged(aisp.client_id)
    assert (row.path, row.status) == (CONSENTS, 401)
    assert row.response_body is None      # OBIE: a 401 has no body
    assert token not in stored_text([row])


def test_a_bad_body_is_logged_with_the_error(aisp, logged):
    response = aisp.call("POST", CONSENTS, token=aisp.token(), data="{not json",
                         content_type="application/json")
    assert response.status_code == 400
    [row] = logged(aisp.client_id)
    assert row.status == 400
    assert row.request_body == "{not json"
    assert "UK.OBIE.Resource.InvalidFormat" in row.response_body


def test_a_call_refused_before_the_gate_is_logged_by_its_token(aisp, logged):
    """415 comes before the consent gate: the writer finds the client by the token's hash."""
    response = aisp.call("POST", CONSENTS, token=aisp.token(), data="Permissions=x",
                         content_type="text/plain")
    assert response.status_code == 415
    [row] = logged(aisp.client_id)
    assert row.status == 415


def test_a_token_request_refused_after_client_authentication_is_logged(oauth_tpp, logged):
    response = oauth_tpp.token({"grant_type": "authorization_code", "code": "made-up-code",
                                "redirect_uri": "https://tpp.example/callback",
                                "code_verifier": "v" * 50})
    assert response.status_code == 400
    [row] = logged(oauth_tpp.client_id)
    assert row.status == 400
    assert "code=[masked]" in row.request_body and "code_verifier=[masked]" in row.request_body
    assert "made-up-code" not in stored_text([row])
    assert "invalid_grant" in row.response_body


def test_calls_of_no_identifiable_client_are_not_logged(aisp, oauth_tpp, client, logged):
    assert client.post(CONSENTS, json={"Data": {"Permissions": PERMISSIONS},
                                       "Risk": {}}).status_code == 401          # no token
    assert aisp.call("GET", f"{CONSENTS}/x", token="not-a-token-we-issued").status_code == 401
    assert client.get("/open-banking/v3.1/aisp/nowhere").status_code == 404
    # an assertion this client's key did not sign: the client is only claimed
    from jwcrypto import jwk
    from tests.oauth_tpp import sign
    forged = dict(oauth_tpp.auth_form())
    forged["client_assertion"] = sign(jwk.JWK.generate(kty="EC", crv="P-256", kid="x"), {
        "iss": oauth_tpp.client_id, "sub": oauth_tpp.client_id, "aud": "http://localhost",
        "jti": uuid.uuid4().hex, "iat": oauth_tpp.now(), "exp": oauth_tpp.now() + 60})
    assert client.post("/token", data={**forged, "grant_type": "client_credentials"},
                       headers={"DPoP": oauth_tpp.dpop("POST", "/token")}).status_code == 401
    assert logged() == []


def test_web_pages_are_not_logged(client, logged):
    client.get("/")
    client.get("/.well-known/openid-configuration")
    assert logged() == []
