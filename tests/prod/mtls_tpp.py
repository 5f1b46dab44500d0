"""A TPP as a real one meets the production topology: over the network, through nginx, every
call over TLS with its transport certificate (MTLS), no header of its own claiming one.

Its organisation and software are made in the sandbox directory (as tests/e2e's journeys do),
its transport certificate issued by the directory's CA (sandbox/certificates.py, the CA nginx
trusts); it gets its software statement from the directory, registers by DCR with
token_endpoint_auth_method=tls_client_auth and certificate-bound tokens (FAPI 2.0: PAR, PKCE,
response type code), and authenticates at the token and PAR endpoints with the certificate
alone (RFC 8705, 2). The customer's side is a plain requests session (a browser with no
certificate) through the bank's real login, SCA and consent pages.
"""
from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, quote, urlsplit

import requests
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from jwcrypto import jwk

from aspsp import ob_signing
from sandbox import certificates, directory
from tests.e2e.test_tpp_journey import form_value, signed


@dataclass
class TransportCertificate:
    cert_path: Path
    key_path: Path
    subject_dn: str

    @property
    def pem(self) -> str:
        return self.cert_path.read_text()

    @property
    def forwarded(self) -> str:
        """The certificate as nginx forwards it (URL-encoded PEM): what a forger would send."""
        return quote(self.pem, safe="")

    @property
    def pair(self) -> tuple[str, str]:
        return str(self.cert_path), str(self.key_path)


@dataclass
class MtlsTpp:
    production: object
    name: str
    roles: tuple[str, ...]
    redirect_uri: str
    software_key: jwk.JWK = field(default_factory=lambda: jwk.JWK.generate(
        kty="EC", crv="P-256", kid=uuid.uuid4().hex))
    org_id: str = ""
    software_id: str = ""
    client_id: str = ""
    certificate: TransportCertificate | None = None
    registration: dict = field(default_factory=dict)

    # the network ------------------------------------------------------------------------------
    @property
    def issuer(self) -> str:
        return self.production.issuer

    def send(self, method: str, url: str, *, cert: TransportCertificate | None | str = "own",
             **kw) -> requests.Response:
        """A request over TLS to nginx, with the TPP's transport certificate (cert="own"),
        another one, or none."""
        chosen = self.certificate if cert == "own" else cert
        return requests.request(method, url, verify=self.production.server_ca,
                                cert=chosen.pair if chosen else None, timeout=30, **kw)

    def discovery(self) -> dict:
        response = requests.get(self.issuer + "/.well-known/openid-configuration",
                                verify=self.production.server_ca, timeout=30)
        assert response.status_code == 200, response.text
        return response.json()

    # the directory -----------------------------------------------------------------------------
    def enrol(self) -> "MtlsTpp":
        """Organisation and software in the sandbox directory, and a transport certificate of
        its CA (what a TPP gets from the Open Banking directory)."""
        app = self.production.app
        p = app.extensions["aspsp"]
        public = {**json.loads(self.software_key.export_public()), "use": "sig", "alg": "ES256"}
        with app.app_context(), p.uow() as uow:
            org = directory.create_organisation(
                uow, name=f"{self.name} Ltd", competent_authority="GB:FCA",
                authorisation_id=uuid.uuid4().hex[:6], roles=list(self.roles), now=p.clock.now())
            software = directory.create_software(
                uow, org_id=org.org_id, client_name=self.name, redirect_uris=[self.redirect_uri],
                roles=list(self.roles), jwks={"keys": [public]}, now=p.clock.now())
            self.org_id, self.software_id = org.org_id, software.software_id
            uow.commit()
        self.certificate = self.issue_certificate("transport")
        return self

    def issue_certificate(self, label: str) -> TransportCertificate:
        """Another certificate of the directory's CA for this software (same subject, its own
        key)."""
        app = self.production.app
        p = app.extensions["aspsp"]
        with app.app_context(), p.uow() as uow:
            key_pem, cert_pem = certificates.issue_for_software(
                uow, org_name=f"{self.name} Ltd", org_id=self.org_id,
                software_id=self.software_id, keyring=p.keyring, now=p.clock.now())
            uow.commit()
        folder = self.production.work_dir / self.software_id
        folder.mkdir(exist_ok=True)
        cert_path, key_path = folder / f"{label}.crt", folder / f"{label}.key"
        cert_path.write_text(cert_pem)
        key_path.touch(mode=0o600)
        key_path.write_text(key_pem)
        from cryptography import x509
        subject = x509.load_pem_x509_certificate(cert_pem.encode()).subject.rfc4514_string()
        return TransportCertificate(cert_path, key_path, subject)

    def software_statement(self) -> str:
        now = int(time.time())
        url = f"{self.issuer}/sandbox/directory/software/{self.software_id}/ssa"
        response = self.send("POST", url, data=signed(self.software_key, {
            "iss": self.software_id, "sub": self.software_id, "aud": url,
            "jti": uuid.uuid4().hex, "iat": now, "exp": now + 120}),
            headers={"Content-Type": "application/jwt"})
        assert response.status_code in (200, 201), response.text
        ssa = response.text.strip().strip('"')
        return response.json()["software_statement"] if ssa.startswith("{") else ssa

    # registration ------------------------------------------------------------------------------
    def register(self, scope: str) -> "MtlsTpp":
        """DCR over MTLS: tls_client_auth with the certificate's subject DN, certificate-bound
        tokens, FAPI 2.0 (response type code, PAR)."""
        now = int(time.time())
        discovery = self.discovery()
        response = self.send("POST", discovery["registration_endpoint"], data=signed(
            self.software_key, {
                "iss": self.software_id, "aud": discovery["issuer"], "iat": now,
                "exp": now + 300, "jti": str(uuid.uuid4()), "redirect_uris": [self.redirect_uri],
                "token_endpoint_auth_method": "tls_client_auth",
                "tls_client_auth_subject_dn": self.certificate.subject_dn,
                "tls_client_certificate_bound_access_tokens": True,
                "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
                "response_types": ["code"], "scope": f"openid {scope}",
                "application_type": "web", "id_token_signed_response_alg": "PS256",
                "request_object_signing_alg": "ES256", "software_id": self.software_id,
                "software_statement": self.software_statement()}),
            headers={"Content-Type": "application/jwt"})
        assert response.status_code == 201, response.text
        self.registration = response.json()
        self.client_id = self.registration["client_id"]
        return self

    # tokens --------------------------------------------------------------------------------------
    def token(self, form: dict, *, cert: TransportCertificate | None | str = "own"):
        """The token endpoint, the client authenticated by its certificate alone."""
        return self.send("POST", self.discovery()["token_endpoint"],
                         data={**form, "client_id": self.client_id}, cert=cert)

    def client_credentials(self, scope: str) -> dict:
        response = self.token({"grant_type": "client_credentials", "scope": scope})
        assert response.status_code == 200, response.text
        return response.json()

    def introspect(self, token: str) -> dict:
        response = self.send("POST", self.discovery()["introspection_endpoint"],
                             data={"token": token, "client_id": self.client_id})
        assert response.status_code == 200, response.text
        return response.json()

    # the Open Banking APIs -------------------------------------------------------------------------
    def call(self, method: str, path: str, token: str, *, body: dict | None = None,
             cert: TransportCertificate | None | str = "own", sign: bool = False,
             headers: dict | None = None) -> requests.Response:
        url = path if path.startswith("http") else self.issuer + path
        sent = {"Authorization": f"Bearer {token}", "x-fapi-interaction-id": str(uuid.uuid4()),
                **(headers or {})}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            sent.update({"Content-Type": "application/json", "x-idempotency-key": uuid.uuid4().hex})
            if sign:
                sent["x-jws-signature"] = ob_signing.sign_detached(
                    data, self.software_key, kid=self.software_key.get("kid"), alg="ES256",
                    iss=f"{self.org_id}/{self.software_id}", tan=urlsplit(self.issuer).hostname,
                    now=datetime.now(timezone.utc))
        return self.send(method, url, cert=cert, headers=sent, data=data)

    # the customer's authorisation ------------------------------------------------------------------
    def authorise(self, consent_id: str, scope: str, customer,
                  sca_code: Callable[[], str], decide: Callable[[str], dict],
                  shows: tuple[str, ...] = ()) -> dict:
        """PAR (certificate-authenticated), then the customer in a browser without a
        certificate: login, SCA (`sca_code`), the consent page (must show `shows`), the
        approval (`decide(page)` gives the form's choices), then the code exchanged for
        certificate-bound tokens."""
        discovery = self.discovery()
        verifier = uuid.uuid4().hex + uuid.uuid4().hex
        state = uuid.uuid4().hex
        pushed = self.send("POST", discovery["pushed_authorization_request_endpoint"], data={
            "client_id": self.client_id, "response_type": "code",
            "redirect_uri": self.redirect_uri, "scope": f"openid {scope}", "state": state,
            "nonce": uuid.uuid4().hex, "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
            "claims": json.dumps({"id_token": {"openbanking_intent_id": {
                "value": consent_id, "essential": True}}})})
        assert pushed.status_code == 201, pushed.text

        browser = requests.Session()
        browser.trust_env = False        # REQUESTS_CA_BUNDLE would win over browser.verify
        browser.verify = self.production.server_ca
        start = browser.get(discovery["authorization_endpoint"], params={
            "client_id": self.client_id, "request_uri": pushed.json()["request_uri"]},
            allow_redirects=False)
        assert start.status_code == 303, start.text
        location = start.headers["Location"]
        pages = self.issuer + location if location.startswith("/") else location
        assert pages.startswith(self.issuer + "/"), pages
        login = browser.get(pages)
        assert login.status_code == 200 and self.name in login.text
        sca = browser.post(f"{pages}/login", data={
            "csrf_token": form_value(login.text, "csrf_token"), "username": customer.username,
            "password": customer.password})
        assert sca.status_code == 200, sca.text
        consent_page = browser.post(f"{pages}/code", data={
            "csrf_token": form_value(sca.text, "csrf_token"), "code": sca_code()})
        assert consent_page.status_code == 200, consent_page.text
        for text in (self.name, *shows):
            assert text in consent_page.text, text
        decision = browser.post(f"{pages}/decision", data={
            "csrf_token": form_value(consent_page.text, "csrf_token"), "decision": "approve",
            **decide(consent_page.text)}, allow_redirects=False)
        assert decision.status_code == 303, decision.text
        assert decision.headers["Location"].startswith(self.redirect_uri)
        returned = {k: v[0] for k, v in
                    parse_qs(urlsplit(decision.headers["Location"]).query).items()}
        assert returned["state"] == state and returned["iss"] == discovery["issuer"]

        exchanged = self.token({"grant_type": "authorization_code", "code": returned["code"],
                                "redirect_uri": self.redirect_uri, "code_verifier": verifier})
        assert exchanged.status_code == 200, exchanged.text
        return exchanged.json()


def field_values(html: str, name: str) -> list[str]:
    """The values of the inputs named `name` (the accounts a consent page offers)."""
    return re.findall(rf'name="{name}"[^>]*value="([^"]+)"', html) or \
        re.findall(rf'value="([^"]+)"[^>]*name="{name}"', html)


def bank_signature_verified(tpp: MtlsTpp, response: requests.Response) -> dict:
    """The bank's x-jws-signature on a response, verified with its published JWKS."""
    discovery = tpp.discovery()
    keys = requests.get(discovery["jwks_uri"], verify=tpp.production.server_ca, timeout=30).json()
    iss, tan = ob_signing.bank_identity(tpp.production.app.extensions["aspsp"].config)
    return ob_signing.verify_detached(response.headers["x-jws-signature"], response.content,
                                      keys, ob_signing.Expected(iss, frozenset({tan})),
                                      now=datetime.now(timezone.utc))
