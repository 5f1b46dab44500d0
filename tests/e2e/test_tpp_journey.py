"""A TPP's whole journey against a running server, as a real TPP would make it over HTTP,
with authlib's OAuth client doing the client side of the token endpoint:

directory SSA -> dynamic registration -> client-credentials token (private_key_jwt + DPoP)
-> account-access consent -> PAR -> the customer logs in, passes SCA and approves in the
bank's pages -> code exchange with DPoP -> a gated account-information call.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import ECKey
from jwcrypto import jwk, jwt

from sandbox import directory
from sandbox.seed import DEMO_USERS
from tests.e2e import live
from tests.oauth_factories import dpop_proof

REDIRECT_URI = "https://budget-buddy.example/callback"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live.seeded_bank(tmp_path_factory, "aspsp_e2e") as served:
        yield served


def signed(key: jwk.JWK, claims: dict, *, typ: str = "JWT") -> str:
    token = jwt.JWT(header={"alg": "ES256", "kid": key.get("kid"), "typ": typ}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def form_value(html: str, name: str) -> str:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', html) or \
        re.search(rf'value="([^"]*)"[^>]*name="{name}"', html)
    assert match, f"no {name} field in the page"
    return match.group(1)


def test_register_consent_authorise_and_read(server):
    app, base = server
    now = int(time.time())

    # The TPP is known to the directory: an organisation and its software, with a key pair.
    software_key = jwk.JWK.generate(kty="EC", crv="P-256", kid=uuid.uuid4().hex)
    public = {**json.loads(software_key.export_public()), "use": "sig", "alg": "ES256"}
    p = app.extensions["aspsp"]
    with app.app_context(), p.uow() as uow:
        org = directory.create_organisation(
            uow, name="Budget Buddy Ltd", competent_authority="GB:FCA",
            authorisation_id="123456", roles=["AISP"], now=p.clock.now())
        software = directory.create_software(
            uow, org_id=org.org_id, client_name="Budget Buddy", redirect_uris=[REDIRECT_URI],
            roles=["AISP"], jwks={"keys": [public]}, now=p.clock.now())
        software_id = software.software_id
        uow.commit()

    # 1. The directory issues the software statement to the holder of the software key.
    ssa_url = f"{base}/sandbox/directory/software/{software_id}/ssa"
    ssa_response = requests.post(ssa_url, data=signed(software_key, {
        "iss": software_id, "sub": software_id, "aud": ssa_url, "jti": uuid.uuid4().hex,
        "iat": now, "exp": now + 120}), headers={"Content-Type": "application/jwt"})
    assert ssa_response.status_code in (200, 201), ssa_response.text
    ssa = ssa_response.text.strip().strip('"')
    if ssa.startswith("{"):
        ssa = ssa_response.json()["software_statement"]

    # 2. Dynamic client registration with a request signed by the software key.
    discovery = requests.get(f"{base}/.well-known/openid-configuration").json()
    registration = requests.post(discovery["registration_endpoint"], data=signed(software_key, {
        "iss": software_id, "aud": discovery["issuer"], "iat": now, "exp": now + 300,
        "jti": str(uuid.uuid4()), "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types": ["code"], "scope": "openid accounts", "application_type": "web",
        "id_token_signed_response_alg": "PS256", "request_object_signing_alg": "ES256",
        "software_id": software_id, "software_statement": ssa}),
        headers={"Content-Type": "application/jwt"})
    assert registration.status_code == 201, registration.text
    client_id = registration.json()["client_id"]

    # 3. A client-credentials token through authlib's OAuth client, bound to a DPoP key.
    pem = ECKey.import_key(software_key.export_to_pem(private_key=True, password=None))
    dpop_key = jwk.JWK.generate(kty="EC", crv="P-256")
    token_url = discovery["token_endpoint"]
    # A FAPI 2.0 client: the client assertion's aud is the issuer identifier (FAPI 2.0 SP
    # 5.3.2.1-8); authlib's first argument is the audience it signs for.
    oauth = OAuth2Session(client_id, pem, token_endpoint_auth_method=PrivateKeyJWT(
        discovery["issuer"], alg="ES256"), scope="accounts")
    cc = oauth.fetch_token(token_url, grant_type="client_credentials", scope="accounts",
                           headers={"DPoP": dpop_proof(dpop_key, "POST", token_url)})
    assert cc["token_type"] == "DPoP"

    def dpop_call(method, url, token, **kw):
        headers = {"Authorization": f"DPoP {token}", "x-fapi-interaction-id": str(uuid.uuid4()),
                   "DPoP": dpop_proof(dpop_key, method, url, access_token=token),
                   **kw.pop("headers", {})}
        return requests.request(method, url, headers=headers, **kw)

    # 4. The account-access consent.
    consents_url = f"{base}/open-banking/v3.1/aisp/account-access-consents"
    created = dpop_call("POST", consents_url, cc["access_token"], json={
        "Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances"]}, "Risk": {}})
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]
    assert created.json()["Data"]["Status"] == "AwaitingAuthorisation"

    # 5. PAR, authenticated with private_key_jwt, DPoP-bound.
    verifier = uuid.uuid4().hex + uuid.uuid4().hex
    state = uuid.uuid4().hex
    par_url = discovery["pushed_authorization_request_endpoint"]
    pushed = requests.post(par_url, data={
        "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT_URI,
        "scope": "openid accounts", "state": state, "nonce": uuid.uuid4().hex,
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
        "claims": json.dumps({"id_token": {"openbanking_intent_id": {
            "value": consent_id, "essential": True}}}),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": private_key_jwt_sign(pem, client_id, discovery["issuer"],
                                                   alg="ES256")},
        headers={"DPoP": dpop_proof(dpop_key, "POST", par_url)})
    assert pushed.status_code == 201, pushed.text

    # 6. The customer: the browser goes to the bank, logs in, passes SCA and approves.
    alice = next(u for u in DEMO_USERS if u.username == "alice")
    browser = requests.Session()
    start = browser.get(discovery["authorization_endpoint"], params={
        "client_id": client_id, "request_uri": pushed.json()["request_uri"]},
        allow_redirects=False)
    assert start.status_code == 303
    pages = base + start.headers["Location"] if start.headers["Location"].startswith("/") \
        else start.headers["Location"]
    login = browser.get(pages)
    assert "Budget Buddy" in login.text
    code_page = browser.post(f"{pages}/login", data={
        "csrf_token": form_value(login.text, "csrf_token"), "username": alice.username,
        "password": alice.password})
    assert code_page.status_code == 200, code_page.text
    consent_page = browser.post(f"{pages}/code", data={
        "csrf_token": form_value(code_page.text, "csrf_token"),
        "code": pyotp.TOTP(alice.totp_secret).now()})
    assert consent_page.status_code == 200, consent_page.text
    assert "Budget Buddy" in consent_page.text
    account_ids = re.findall(r'name="account"[^>]*value="([^"]+)"', consent_page.text) or \
        re.findall(r'value="([^"]+)"[^>]*name="account"', consent_page.text)
    assert account_ids
    decision = browser.post(f"{pages}/decision", data={
        "csrf_token": form_value(consent_page.text, "csrf_token"), "decision": "approve",
        "account": account_ids[:1]}, allow_redirects=False)
    assert decision.status_code == 303
    location = decision.headers["Location"]
    assert location.startswith(REDIRECT_URI)
    returned = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert returned["state"] == state and returned["iss"] == discovery["issuer"]

    # 7. Code exchange with DPoP through authlib's client.
    tokens = oauth.fetch_token(token_url, grant_type="authorization_code", code=returned["code"],
                               redirect_uri=REDIRECT_URI, code_verifier=verifier,
                               headers={"DPoP": dpop_proof(dpop_key, "POST", token_url)})
    assert tokens["token_type"] == "DPoP" and tokens["id_token"]

    # 8. A gated call: the customer's account, and only the one they picked.
    accounts_url = f"{base}/open-banking/v3.1/aisp/accounts"
    accounts = dpop_call("GET", accounts_url, tokens["access_token"])
    assert accounts.status_code == 200, accounts.text
    assert [a["AccountId"] for a in accounts.json()["Data"]["Account"]] == account_ids[:1]

    # The client-credentials token is not enough for account data: 401, as the OBIE
    # functional conformance suite asserts (OB-301-*-client-grant scripts).
    assert dpop_call("GET", accounts_url, cc["access_token"]).status_code == 401
