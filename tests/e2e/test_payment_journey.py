"""A PISP's whole journey against a running server over HTTP, beside the AIS one
(tests/e2e/test_tpp_journey.py): directory SSA -> dynamic registration as a PISP ->
client-credentials token (private_key_jwt + DPoP) -> a signed, idempotent domestic payment
consent -> PAR -> the customer logs in, signs the sandbox authenticator's code bound to the
amount and payee, picks the account to pay from and approves -> code exchange -> the signed
payment submission -> the payment settled, its history, and the bank's signature on each
response verified with its published JWKS."""
from __future__ import annotations

import json
import re
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT, private_key_jwt_sign
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import ECKey
from jwcrypto import jwk

from aspsp import ob_signing
from aspsp.identity import dynamic_linking
from sandbox import directory
from sandbox.seed import DEMO_USERS
from tests.e2e import live
from tests.e2e.test_tpp_journey import form_value, signed
from tests.oauth_factories import dpop_proof

REDIRECT_URI = "https://pay-quick.example/callback"
PAYEE = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "20000012345678",
         "Name": "ACME Ltd"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with live.seeded_bank(tmp_path_factory, "aspsp_e2e_pay") as served:
        yield served


def test_register_consent_approve_and_pay(server):
    app, base = server
    now = int(time.time())
    p = app.extensions["aspsp"]

    # The PISP is known to the directory: an organisation and its software, with a key pair.
    software_key = jwk.JWK.generate(kty="EC", crv="P-256", kid=uuid.uuid4().hex)
    public = {**json.loads(software_key.export_public()), "use": "sig", "alg": "ES256"}
    with app.app_context(), p.uow() as uow:
        org = directory.create_organisation(
            uow, name="Pay Quick Ltd", competent_authority="GB:FCA",
            authorisation_id="654321", roles=["PISP"], now=p.clock.now())
        software = directory.create_software(
            uow, org_id=org.org_id, client_name="Pay Quick", redirect_uris=[REDIRECT_URI],
            roles=["PISP"], jwks={"keys": [public]}, now=p.clock.now())
        org_id, software_id = org.org_id, software.software_id
        uow.commit()

    # 1-2. Software statement and dynamic registration.
    ssa_url = f"{base}/sandbox/directory/software/{software_id}/ssa"
    ssa_response = requests.post(ssa_url, data=signed(software_key, {
        "iss": software_id, "sub": software_id, "aud": ssa_url, "jti": uuid.uuid4().hex,
        "iat": now, "exp": now + 120}), headers={"Content-Type": "application/jwt"})
    assert ssa_response.status_code in (200, 201), ssa_response.text
    ssa = ssa_response.text.strip().strip('"')
    if ssa.startswith("{"):
        ssa = ssa_response.json()["software_statement"]
    discovery = requests.get(f"{base}/.well-known/openid-configuration").json()
    registration = requests.post(discovery["registration_endpoint"], data=signed(software_key, {
        "iss": software_id, "aud": discovery["issuer"], "iat": now, "exp": now + 300,
        "jti": str(uuid.uuid4()), "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": "ES256",
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types": ["code"], "scope": "openid payments", "application_type": "web",
        "id_token_signed_response_alg": "PS256", "request_object_signing_alg": "ES256",
        "software_id": software_id, "software_statement": ssa}),
        headers={"Content-Type": "application/jwt"})
    assert registration.status_code == 201, registration.text
    client_id = registration.json()["client_id"]

    # 3. A client-credentials token, DPoP-bound.
    pem = ECKey.import_key(software_key.export_to_pem(private_key=True, password=None))
    dpop_key = jwk.JWK.generate(kty="EC", crv="P-256")
    token_url = discovery["token_endpoint"]
    oauth = OAuth2Session(client_id, pem, token_endpoint_auth_method=PrivateKeyJWT(
        discovery["issuer"], alg="ES256"), scope="payments")
    cc = oauth.fetch_token(token_url, grant_type="client_credentials", scope="payments",
                           headers={"DPoP": dpop_proof(dpop_key, "POST", token_url)})

    bank_keys = requests.get(discovery["jwks_uri"]).json()
    bank_iss, bank_tan = ob_signing.bank_identity(p.config)

    def bank_signed(response) -> None:
        ob_signing.verify_detached(response.headers["x-jws-signature"], response.content,
                                   bank_keys, ob_signing.Expected(bank_iss, frozenset({bank_tan})),
                                   now=datetime.now(timezone.utc))

    def call(method, url, token, body=None):
        headers = {"Authorization": f"DPoP {token}", "x-fapi-interaction-id": str(uuid.uuid4()),
                   "DPoP": dpop_proof(dpop_key, method, url, access_token=token)}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.update({
                "Content-Type": "application/json", "x-idempotency-key": uuid.uuid4().hex,
                "x-jws-signature": ob_signing.sign_detached(
                    data, software_key, kid=software_key.get("kid"), alg="ES256",
                    iss=f"{org_id}/{software_id}", tan=urlsplit(base).hostname,
                    now=datetime.now(timezone.utc))})
        response = requests.request(method, url, headers=headers, data=data)
        bank_signed(response)
        return response

    # 4. The domestic payment consent, signed and idempotent.
    pisp = f"{base}/open-banking/v3.1/pisp"
    initiation = {"InstructionIdentification": "PQ-1", "EndToEndIdentification": "PQ-E2E-1",
                  "InstructedAmount": {"Amount": "12.50", "Currency": "GBP"},
                  "CreditorAccount": PAYEE, "RemittanceInformation": {"Reference": "ORDER 1"}}
    risk = {"PaymentContextCode": "EcommerceGoods"}
    created = call("POST", f"{pisp}/domestic-payment-consents", cc["access_token"],
                   {"Data": {"Initiation": initiation}, "Risk": risk})
    assert created.status_code == 201, created.text
    consent_id = created.json()["Data"]["ConsentId"]
    assert created.json()["Data"]["Status"] == "AwaitingAuthorisation"

    # 5. PAR.
    verifier = uuid.uuid4().hex + uuid.uuid4().hex
    state = uuid.uuid4().hex
    par_url = discovery["pushed_authorization_request_endpoint"]
    pushed = requests.post(par_url, data={
        "client_id": client_id, "response_type": "code", "redirect_uri": REDIRECT_URI,
        "scope": "openid payments", "state": state, "nonce": uuid.uuid4().hex,
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
        "claims": json.dumps({"id_token": {"openbanking_intent_id": {
            "value": consent_id, "essential": True}}}),
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": private_key_jwt_sign(pem, client_id, discovery["issuer"],
                                                   alg="ES256")},
        headers={"DPoP": dpop_proof(dpop_key, "POST", par_url)})
    assert pushed.status_code == 201, pushed.text

    # 6. The customer logs in, signs the code bound to amount and payee, picks an account.
    alice = next(u for u in DEMO_USERS if u.username == "alice")
    browser = requests.Session()
    start = browser.get(discovery["authorization_endpoint"], params={
        "client_id": client_id, "request_uri": pushed.json()["request_uri"]},
        allow_redirects=False)
    assert start.status_code == 303
    pages = base + start.headers["Location"] if start.headers["Location"].startswith("/") \
        else start.headers["Location"]
    login = browser.get(pages)
    assert "Pay Quick" in login.text
    signing_page = browser.post(f"{pages}/login", data={
        "csrf_token": form_value(login.text, "csrf_token"), "username": alice.username,
        "password": alice.password})
    assert signing_page.status_code == 200, signing_page.text
    code = dynamic_linking.code_at(alice.totp_secret, dynamic_linking.payment_to_sign(
        "12.50", "GBP", PAYEE["Identification"]), datetime.now(timezone.utc))
    payment_page = browser.post(f"{pages}/code", data={
        "csrf_token": form_value(signing_page.text, "csrf_token"), "code": code})
    assert payment_page.status_code == 200, payment_page.text
    assert "ACME Ltd" in payment_page.text and "12.50" in payment_page.text
    accounts = re.findall(r'name="debtor_account"[^>]*value="([^"]+)"', payment_page.text) or \
        re.findall(r'value="([^"]+)"[^>]*name="debtor_account"', payment_page.text)
    assert accounts
    decision = browser.post(f"{pages}/decision", data={
        "csrf_token": form_value(payment_page.text, "csrf_token"), "decision": "approve",
        "debtor_account": accounts[0]}, allow_redirects=False)
    assert decision.status_code == 303, decision.text
    returned = {k: v[0] for k, v in parse_qs(urlsplit(decision.headers["Location"]).query)
                .items()}
    assert returned["state"] == state

    # 7. Code exchange.
    tokens = oauth.fetch_token(token_url, grant_type="authorization_code", code=returned["code"],
                               redirect_uri=REDIRECT_URI, code_verifier=verifier,
                               headers={"DPoP": dpop_proof(dpop_key, "POST", token_url)})

    # 8. Funds, then the payment, signed; it settles (the worker runs inline here).
    funds = call("GET", f"{pisp}/domestic-payment-consents/{consent_id}/funds-confirmation",
                 tokens["access_token"])
    assert funds.json()["Data"]["FundsAvailableResult"]["FundsAvailable"] is True
    submitted = call("POST", f"{pisp}/domestic-payments", tokens["access_token"],
                     {"Data": {"ConsentId": consent_id, "Initiation": initiation},
                      "Risk": risk})
    assert submitted.status_code == 201, submitted.text
    payment_id = submitted.json()["Data"]["DomesticPaymentId"]
    read = call("GET", f"{pisp}/domestic-payments/{payment_id}", cc["access_token"])
    assert read.json()["Data"]["Status"] == "AcceptedSettlementCompleted"
    assert read.json()["Data"]["Debtor"]["SchemeName"] == "UK.OBIE.SortCodeAccountNumber"
    details = call("GET", f"{pisp}/domestic-payments/{payment_id}/payment-details",
                   cc["access_token"])
    assert [s["Status"] for s in details.json()["Data"]["PaymentStatus"]] == [
        "Pending", "AcceptedSettlementInProcess", "AcceptedSettlementCompleted"]
    consent = call("GET", f"{pisp}/domestic-payment-consents/{consent_id}", cc["access_token"])
    assert consent.json()["Data"]["Status"] == "Consumed"

    # The customer's token cannot pay twice.
    again = call("POST", f"{pisp}/domestic-payments", tokens["access_token"],
                 {"Data": {"ConsentId": consent_id, "Initiation": initiation}, "Risk": risk})
    assert again.status_code == 400     # OBIE: InvalidConsentStatus is a 400 code
    assert [e["ErrorCode"] for e in again.json()["Errors"]] == [
        "UK.OBIE.Resource.InvalidConsentStatus"]
