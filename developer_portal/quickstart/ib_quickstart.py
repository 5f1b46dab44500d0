#!/usr/bin/env python3
"""Invisible Bank quickstart: a first account-information (AIS) and payment (PIS) call.

Needs Python 3.10+, `pip install requests jwcrypto`, and an app registered with the bank
(the developer portal's "Register with the sandbox bank" button gives its client_id). The
app is a FAPI 2.0 client authenticating with private_key_jwt, its tokens bound to a DPoP
key. Each step is a small function you can copy into your own code:

  discovery -> client-credentials token (private_key_jwt + DPoP proof)
  -> POST account-access-consents -> PAR (PKCE S256)
  -> the customer's approval (in the sandbox: the control API approves headlessly)
  -> authorization code exchange -> GET /accounts
For a payment: POST domestic-payment-consents (signed: x-jws-signature, x-idempotency-key)
  -> PAR -> approval -> code exchange -> POST domestic-payments (signed) -> GET its status.

  python ib_quickstart.py --issuer https://bank.example --client-id CLIENT_ID \
      --key my-app-private-key.pem --kid KEY_ID --redirect-uri https://my.app/callback ais
  python ib_quickstart.py ... --org-id ORG_ID --software-id APP_ID pis --amount 10.00

Exits 0 when every step succeeded, else prints the step that failed and the bank's answer
and exits 1. Never print or log your private key or the tokens in real code.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import secrets
import sys
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import requests
from jwcrypto import jwk, jws, jwt

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
OB = "/open-banking/v3.1"
APPROVE = "/sandbox/control/authorizations/approve"      # sandbox only
PAYEE = {"SchemeName": "UK.OBIE.SortCodeAccountNumber", "Identification": "20000012345678",
         "Name": "ACME Ltd"}


class StepFailed(Exception):
    """One step of the journey did not get the answer it needs."""


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def load_key(path: str, kid: str | None = None) -> jwk.JWK:
    """Your app's private key: a PEM file, or a JWK (JSON) file."""
    with open(path, "rb") as handle:
        data = handle.read()
    if data.lstrip().startswith(b"-----"):
        key = jwk.JWK.from_pem(data)
    else:
        key = jwk.JWK(**json.loads(data))
    if kid:
        key = jwk.JWK(**{**json.loads(key.export_private()), "kid": kid})
    if not key.get("kid"):
        raise StepFailed("the key needs its kid (the key id in your app's JWKS): pass --kid")
    if not key.has_private:
        raise StepFailed(f"{path} holds a public key: give the private key you downloaded")
    return key


def algorithm(key: jwk.JWK) -> str:
    return "ES256" if key.get("kty") == "EC" else "PS256"


def signed_jwt(key: jwk.JWK, claims: dict) -> str:
    token = jwt.JWT(header={"alg": algorithm(key), "kid": key.get("kid"), "typ": "JWT"},
                    claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def expect(response: requests.Response, status: int, step: str) -> dict:
    if response.status_code != status:
        raise StepFailed(f"{step}: the bank answered {response.status_code} "
                         f"{response.text[:500]}")
    return response.json() if response.content else {}


class Bank:
    """The bank as one FAPI 2.0 client sees it."""

    def __init__(self, issuer: str, client_id: str, key: jwk.JWK, redirect_uri: str, *,
                 org_id: str | None = None, software_id: str | None = None,
                 customer: str = "alice", http: requests.Session | None = None,
                 dpop_key: jwk.JWK | None = None):
        self.issuer, self.client_id, self.key = issuer.rstrip("/"), client_id, key
        self.redirect_uri, self.customer = redirect_uri, customer
        self.org_id, self.software_id = org_id, software_id
        self.http = http or requests.Session()
        # The DPoP key: a fresh key pair of this run; every token is bound to it.
        self.dpop_key = dpop_key or jwk.JWK.generate(kty="EC", crv="P-256")
        self.config = expect(self.http.get(f"{self.issuer}/.well-known/openid-configuration"),
                             200, "discovery")

    # --- proofs ---------------------------------------------------------------------------
    def client_assertion(self) -> dict:
        """private_key_jwt (RFC 7523): aud is the issuer identifier (FAPI 2.0)."""
        now = int(time.time())
        return {"client_id": self.client_id, "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": signed_jwt(self.key, {
                    "iss": self.client_id, "sub": self.client_id, "aud": self.config["issuer"],
                    "jti": uuid.uuid4().hex, "iat": now, "exp": now + 60})}

    def dpop(self, method: str, url: str, access_token: str | None = None) -> str:
        """A DPoP proof (RFC 9449) for one request: htm, htu, a fresh jti, ath with a token."""
        claims = {"jti": uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
        if access_token:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
        proof = jws.JWS(json.dumps(claims))
        proof.add_signature(self.dpop_key, alg="ES256", protected=json.dumps({
            "typ": "dpop+jwt", "alg": "ES256",
            "jwk": json.loads(self.dpop_key.export_public())}))
        return proof.serialize(compact=True)

    def jws_signature(self, body: bytes) -> str:
        """x-jws-signature: a detached JWS over the exact body bytes (OB message signing)."""
        if not (self.org_id and self.software_id):
            raise StepFailed("payments are signed as org_id/software_id: pass --org-id and "
                             "--software-id")
        alg = algorithm(self.key)
        header = {"alg": alg, "kid": self.key.get("kid"),
                  "http://openbanking.org.uk/iat": int(time.time()),
                  "http://openbanking.org.uk/iss": f"{self.org_id}/{self.software_id}",
                  "http://openbanking.org.uk/tan": urlsplit(self.issuer).hostname,
                  "crit": ["http://openbanking.org.uk/iat", "http://openbanking.org.uk/iss",
                           "http://openbanking.org.uk/tan"]}
        signed = jws.JWSCore(alg, self.key, json.dumps(header), body, algs=[alg]).sign()
        return f"{signed['protected']}..{signed['signature']}"

    # --- tokens ---------------------------------------------------------------------------
    def token(self, form: dict, step: str) -> dict:
        url = self.config["token_endpoint"]
        return expect(self.http.post(url, data={**form, **self.client_assertion()},
                                     headers={"DPoP": self.dpop("POST", url)}), 200, step)

    def client_credentials(self, scope: str) -> str:
        return self.token({"grant_type": "client_credentials", "scope": scope},
                          "client-credentials token")["access_token"]

    def exchange(self, redirect: str, state: str, verifier: str) -> dict:
        """The authorization response's code for tokens (PKCE: the code_verifier)."""
        returned = {k: v[0] for k, v in parse_qs(urlsplit(redirect).query).items()}
        if "error" in returned:
            raise StepFailed(f"authorization refused: {returned['error']} "
                             f"{returned.get('error_description', '')}")
        if returned.get("state") != state or returned.get("iss") != self.config["issuer"]:
            raise StepFailed("the authorization response's state or iss is not ours")
        return self.token({"grant_type": "authorization_code", "code": returned["code"],
                           "redirect_uri": self.redirect_uri, "code_verifier": verifier},
                          "authorization code exchange")

    # --- API calls ------------------------------------------------------------------------
    def call(self, method: str, path: str, token: str, body: dict | None = None, *,
             signed: bool = False) -> requests.Response:
        url = self.issuer + path
        headers = {"Authorization": f"DPoP {token}", "DPoP": self.dpop(method, url, token),
                   "x-fapi-interaction-id": str(uuid.uuid4()),
                   "x-fapi-customer-ip-address": "198.51.100.7", "Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers.update({"Content-Type": "application/json",
                            "x-idempotency-key": uuid.uuid4().hex})
            if signed:
                headers["x-jws-signature"] = self.jws_signature(data)
        return self.http.request(method, url, headers=headers, data=data)

    # --- the customer's authorisation -----------------------------------------------------
    def push(self, consent_id: str, scope: str) -> tuple[str, str, str]:
        """PAR: the authorization request, pushed; returns (request_uri, state, verifier)."""
        verifier, state = secrets.token_urlsafe(48), secrets.token_urlsafe(16)
        url = self.config["pushed_authorization_request_endpoint"]
        params = {
            "client_id": self.client_id, "response_type": "code", "scope": scope,
            "redirect_uri": self.redirect_uri, "state": state, "nonce": uuid.uuid4().hex,
            "code_challenge": b64url(hashlib.sha256(verifier.encode()).digest()),
            "code_challenge_method": "S256",
            "claims": json.dumps({"id_token": {
                "openbanking_intent_id": {"value": consent_id, "essential": True},
                "acr": {"essential": True, "values": ["urn:openbanking:psd2:sca"]}}})}
        pushed = expect(self.http.post(url, data={**params, **self.client_assertion()},
                                       headers={"DPoP": self.dpop("POST", url)}), 201, "PAR")
        return pushed["request_uri"], state, verifier

    def approve(self, request_uri: str, cc_token: str) -> str:
        """The customer approves. In production: send the customer's browser to
        {authorization_endpoint}?client_id=...&request_uri=... and receive the redirect.
        In the sandbox the control API approves as a demo customer and returns it."""
        response = self.call("POST", APPROVE, cc_token,
                             {"request_uri": request_uri, "customer": self.customer})
        return expect(response, 200, "sandbox approval")["redirect_uri"]

    def authorise(self, consent_id: str, scope: str, cc_token: str) -> dict:
        request_uri, state, verifier = self.push(consent_id, f"openid {scope}")
        return self.exchange(self.approve(request_uri, cc_token), state, verifier)


def account_information(bank: Bank) -> list[dict]:
    """The AIS journey: a consent, the customer's approval, then their accounts."""
    cc = bank.client_credentials("accounts")
    created = expect(bank.call("POST", f"{OB}/aisp/account-access-consents", cc, {
        "Data": {"Permissions": ["ReadAccountsDetail", "ReadBalances"]}, "Risk": {}}),
        201, "account-access consent")
    consent_id = created["Data"]["ConsentId"]
    print(f"consent {consent_id}: {created['Data']['Status']}")
    tokens = bank.authorise(consent_id, "accounts", cc)
    accounts = expect(bank.call("GET", f"{OB}/aisp/accounts", tokens["access_token"]),
                      200, "GET /accounts")["Data"].get("Account", [])
    print(f"Accounts of {bank.customer} ({len(accounts)}):")
    for account in accounts:
        ident = (account.get("Account") or [{}])[0]
        print(f"  {account['AccountId']}  {account.get('Currency', '')}  "
              f"{account.get('Nickname') or ident.get('Name', '')}  "
              f"{ident.get('Identification', '')}")
    return accounts


def payment(bank: Bank, amount: str = "10.00", reference: str = "QUICKSTART") -> dict:
    """The PIS journey: a signed consent, the customer's approval, the signed payment."""
    cc = bank.client_credentials("payments")
    initiation = {"InstructionIdentification": uuid.uuid4().hex[:16],
                  "EndToEndIdentification": uuid.uuid4().hex[:16],
                  "InstructedAmount": {"Amount": amount, "Currency": "GBP"},
                  "CreditorAccount": PAYEE, "RemittanceInformation": {"Reference": reference}}
    risk = {"PaymentContextCode": "EcommerceGoods"}
    created = expect(bank.call("POST", f"{OB}/pisp/domestic-payment-consents", cc,
                               {"Data": {"Initiation": initiation}, "Risk": risk}, signed=True),
                     201, "domestic payment consent")
    consent_id = created["Data"]["ConsentId"]
    print(f"payment consent {consent_id}: {created['Data']['Status']}")
    tokens = bank.authorise(consent_id, "payments", cc)
    submitted = expect(bank.call("POST", f"{OB}/pisp/domestic-payments", tokens["access_token"],
                                 {"Data": {"ConsentId": consent_id, "Initiation": initiation},
                                  "Risk": risk}, signed=True), 201, "domestic payment")
    payment_id = submitted["Data"]["DomesticPaymentId"]
    status = expect(bank.call("GET", f"{OB}/pisp/domestic-payments/{payment_id}", cc), 200,
                    "GET the payment")["Data"]["Status"]
    print(f"Payment {payment_id} of GBP {amount} to {PAYEE['Name']}: {status}")
    return submitted


def dpop_key_file(path: str) -> jwk.JWK:
    """The DPoP key kept in `path` (made there on first use), so that separate curl calls
    present the key their tokens are bound to."""
    try:
        with open(path, encoding="utf-8") as handle:
            return jwk.JWK(**json.load(handle))
    except FileNotFoundError:
        key = jwk.JWK.generate(kty="EC", crv="P-256")
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(key.export_private())
        return key


def helper(bank: Bank, args) -> None:
    """The pieces curl cannot make: print one client assertion, DPoP proof or signature."""
    if args.journey == "assertion":
        print(bank.client_assertion()["client_assertion"])
    elif args.journey == "dpop":
        if not (args.method and args.url):
            raise StepFailed("dpop needs --method and --url (and --token for an API call)")
        print(bank.dpop(args.method.upper(), args.url, args.token))
    else:
        if not args.body_file:
            raise StepFailed("jws-signature needs --body-file, the exact body you send")
        with open(args.body_file, "rb") as handle:
            print(bank.jws_signature(handle.read()))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--issuer", required=True, help="the bank's issuer URL")
    parser.add_argument("--client-id", required=True)
    parser.add_argument("--key", required=True, help="your app's private key (PEM or JWK)")
    parser.add_argument("--kid", help="the key's id in your app's JWKS (if the file lacks it)")
    parser.add_argument("--redirect-uri", required=True, help="one of your app's redirect URIs")
    parser.add_argument("--customer", default="alice", help="sandbox customer who approves")
    parser.add_argument("--org-id", help="your organisation id (payments are signed with it)")
    parser.add_argument("--software-id", help="your app id (software_id)")
    parser.add_argument("--amount", default="10.00")
    parser.add_argument("--dpop-key", help="keep the DPoP key in this file (for curl)")
    parser.add_argument("--method", help="dpop: the request's method")
    parser.add_argument("--url", help="dpop: the request's URL")
    parser.add_argument("--token", help="dpop: the access token the request carries")
    parser.add_argument("--body-file", help="jws-signature: the body to sign")
    parser.add_argument("journey", nargs="?", default="ais",
                        choices=["ais", "pis", "both", "assertion", "dpop", "jws-signature"])
    args = parser.parse_args(argv)
    try:
        bank = Bank(args.issuer, args.client_id, load_key(args.key, args.kid),
                    args.redirect_uri, org_id=args.org_id, software_id=args.software_id,
                    customer=args.customer,
                    dpop_key=dpop_key_file(args.dpop_key) if args.dpop_key else None)
        if args.journey in ("assertion", "dpop", "jws-signature"):
            helper(bank, args)
        if args.journey in ("ais", "both"):
            account_information(bank)
        if args.journey in ("pis", "both"):
            payment(bank, args.amount)
    except (StepFailed, OSError, ValueError, KeyError) as error:
        print(f"FAILED: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
