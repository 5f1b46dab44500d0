"""The suite acting as a TPP, over HTTP only: discovery, the directory's SSA, dynamic client
registration, private_key_jwt client assertions, DPoP proofs, consents, PAR, and the customer's
approval by a scripted form login (username, password, TOTP) on the bank's pages.

Configuration (JSON), either a directory to register with:
  {"directory": {"software_id": "...", "software_key": {private JWK}, "alg": "ES256",
                 "ssa_endpoint": "{issuer}/sandbox/directory/software/{software_id}/ssa"},
   "redirect_uri": "https://...", "psu": {"username": "...", "password": "...",
   "totp_secret": "..."}, "permissions": ["ReadAccountsDetail", ...]}
or clients already registered (`"client"`, optionally `"second_client"` for the checks that
need two): {"client_id": "...", "signing_key": {private JWK}, "alg": "ES256"}.
"""
from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import parse_qs, urljoin, urlsplit

import pyotp
from jwcrypto import jwk, jws, jwt

from .engine import Context, expect, redact, skip

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    return b64url(hashlib.sha256(verifier.encode()).digest())


def new_verifier() -> str:
    return secrets.token_urlsafe(48)


def load_key(value) -> jwk.JWK:
    if isinstance(value, dict):
        return jwk.JWK(**value)
    if isinstance(value, str) and value.lstrip().startswith("-----BEGIN"):
        return jwk.JWK.from_pem(value.encode())
    with open(value, "rb") as handle:  # a path to a PEM or JWK file
        data = handle.read()
    return jwk.JWK.from_pem(data) if data.lstrip().startswith(b"-----") else jwk.JWK(**json.loads(data))


def sign(key: jwk.JWK, claims: dict, *, alg: str, typ: str = "JWT", extra: dict | None = None) -> str:
    header = {"alg": alg, "typ": typ, **({"kid": key.get("kid")} if key.get("kid") else {}),
              **(extra or {})}
    token = jwt.JWT(header=header, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def dpop_proof(key: jwk.JWK, method: str, url: str, *, access_token: str | None = None,
               jti: str | None = None, alg: str = "ES256") -> str:
    claims = {"jti": jti or uuid.uuid4().hex, "htm": method, "htu": url, "iat": int(time.time())}
    if access_token is not None:
        claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
    token = jws.JWS(json.dumps(claims))
    token.add_signature(key, alg=alg, protected=json.dumps(
        {"typ": "dpop+jwt", "alg": alg, "jwk": json.loads(key.export_public())}))
    return token.serialize(compact=True)


def _segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def unverified_claims(token: str) -> dict:
    return _segment(token, 1)


def unverified_header(token: str) -> dict:
    """A compact JWS's protected header, unverified (what the OpenID suite reads of it)."""
    return _segment(token, 0)


def form_value(page: str, name: str) -> str | None:
    match = re.search(rf'name="{name}"[^>]*value="([^"]*)"', page) or \
        re.search(rf'value="([^"]*)"[^>]*name="{name}"', page)
    return match.group(1) if match else None


def form_action(page: str) -> str | None:
    match = re.search(r'<form[^>]*method="post"[^>]*action="([^"]+)"', page)
    return match.group(1).replace("&amp;", "&") if match else None


def page_text(response) -> str:
    """A page's visible words, shortened (what a failed step shows in its message)."""
    text = re.sub(r"<(script|style)[^>]*>.*?</\\1>", " ", response.text or "", flags=re.S)
    text = re.sub(r"<[^>]+>", " ", text)
    return " ".join(text.split())[:300]


@dataclass
class Client:
    client_id: str
    key: jwk.JWK
    alg: str = "ES256"
    dpop_key: jwk.JWK | None = None

    def __post_init__(self):
        if self.dpop_key is None:
            self.dpop_key = jwk.JWK.generate(kty="EC", crv="P-256")


class TPP:
    """The TPP side of every flow, recording through the context's HTTP session."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.http = ctx.http
        self.config = ctx.config

    # --- discovery ----------------------------------------------------------------------
    def discovery(self) -> dict:
        if "discovery" not in self.ctx.state:
            url = self.ctx.issuer.rstrip("/") + "/.well-known/openid-configuration"
            response = self.http.get(url)
            expect(response.status_code == 200, f"discovery answered {response.status_code}")
            self.ctx.state["discovery"] = response.json()
        return self.ctx.state["discovery"]

    # --- the directory and registration ------------------------------------------------
    def directory(self) -> dict:
        directory = self.config.get("directory")
        if not directory:
            skip("the configuration names no directory to register with")
        return directory

    def software_key(self) -> jwk.JWK:
        return load_key(self.directory()["software_key"])

    def get_ssa(self) -> str:
        d = self.directory()
        url = d.get("ssa_endpoint", "{issuer}/sandbox/directory/software/{software_id}/ssa").format(
            issuer=self.ctx.issuer.rstrip("/"), software_id=d["software_id"])
        now = int(time.time())
        assertion = sign(self.software_key(), {
            "iss": d["software_id"], "sub": d["software_id"], "aud": url,
            "jti": uuid.uuid4().hex, "iat": now, "exp": now + 120}, alg=d.get("alg", "ES256"))
        response = self.http.post(url, data=assertion, headers={"Content-Type": "application/jwt"})
        expect(response.status_code in (200, 201), f"the directory refused an SSA: "
               f"{response.status_code}")
        ssa = response.text.strip().strip('"')
        return response.json()["software_statement"] if ssa.startswith("{") else ssa

    def registration_claims(self, ssa: str, **overrides) -> dict:
        d = self.directory()
        now = int(time.time())
        claims = {
            "iss": d["software_id"], "aud": self.discovery()["issuer"], "iat": now,
            "exp": now + 300, "jti": str(uuid.uuid4()),
            "redirect_uris": [self.config["redirect_uri"]],
            "token_endpoint_auth_method": "private_key_jwt",
            "token_endpoint_auth_signing_alg": d.get("alg", "ES256"),
            "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
            "response_types": ["code"], "scope": self.config.get("scope", "openid accounts"),
            "application_type": "web", "id_token_signed_response_alg": "PS256",
            "request_object_signing_alg": d.get("alg", "ES256"), "dpop_bound_access_tokens": True,
            "software_id": d["software_id"], "software_statement": ssa}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def post_registration(self, body: str, *, url: str | None = None, method: str = "POST",
                          token: Client | None = None, access_token: str | None = None):
        url = url or self.discovery()["registration_endpoint"]
        try:  # what was asked for, readable in the evidence (the SSA itself stays redacted)
            self.ctx.note(f"registration request claims: {redact(unverified_claims(body))}")
        except (ValueError, IndexError):
            pass
        headers = {"Content-Type": "application/jwt"}
        if access_token:
            headers.update(self.auth_headers(token, method, url, access_token))
        return self.http.request(method, url, data=body, headers=headers)

    def register(self, **overrides) -> Client:
        """A new FAPI 2.0 client of the directory's software."""
        d = self.directory()
        body = sign(self.software_key(), self.registration_claims(self.get_ssa(), **overrides),
                    alg=d.get("alg", "ES256"))
        response = self.post_registration(body)
        expect(response.status_code == 201, f"registration answered {response.status_code}: "
               f"{response.text[:300]}")
        return Client(response.json()["client_id"], self.software_key(), d.get("alg", "ES256"))

    def client(self, name: str = "client") -> Client:
        """The configured client (or one registered with the directory, kept for the run)."""
        if name not in self.ctx.state:
            given = self.config.get(name)
            if given:
                self.ctx.state[name] = Client(given["client_id"], load_key(given["signing_key"]),
                                              given.get("alg", "ES256"))
            elif self.config.get("directory"):
                self.ctx.state[name] = self.register()
            else:
                skip(f"the configuration has no {name} and no directory to register one")
        return self.ctx.state[name]

    # --- client authentication, DPoP, tokens -----------------------------------------
    def assertion(self, client: Client, *, aud=None, exp_in: int = 60) -> dict:
        now = int(time.time())
        claims = {"iss": client.client_id, "sub": client.client_id,
                  "aud": self.discovery()["issuer"] if aud is None else aud,
                  "jti": uuid.uuid4().hex, "iat": now, "exp": now + exp_in}
        return {"client_id": client.client_id, "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": sign(client.key, claims, alg=client.alg)}

    def token_request(self, client: Client, form: dict, *, dpop_key: jwk.JWK | None = None,
                      aud=None):
        url = self.discovery()["token_endpoint"]
        key = dpop_key or client.dpop_key
        return self.http.post(url, data={**form, **self.assertion(client, aud=aud)},
                              headers={"DPoP": dpop_proof(key, "POST", url)})

    def client_credentials(self, client: Client, scope: str = "accounts") -> str:
        response = self.token_request(client, {"grant_type": "client_credentials", "scope": scope})
        expect(response.status_code == 200, f"client credentials answered "
               f"{response.status_code}: {response.text[:300]}")
        return response.json()["access_token"]

    def auth_headers(self, client: Client, method: str, url: str, token: str, *,
                     dpop_key: jwk.JWK | None = None, jti: str | None = None) -> dict:
        return {"Authorization": f"DPoP {token}",
                "DPoP": dpop_proof(dpop_key or client.dpop_key, method, url, access_token=token,
                                   jti=jti)}

    def resource(self, client: Client, method: str, path: str, token: str, **kw):
        url = path if path.startswith("http") else self.ctx.issuer.rstrip("/") + path
        # The customer is present for the suite's calls (no unattended-access limit applies).
        headers = {"x-fapi-interaction-id": str(uuid.uuid4()),
                   "x-fapi-customer-ip-address": self.config.get("customer_ip", "198.51.100.7"),
                   **self.auth_headers(client, method, url, token,
                                       dpop_key=kw.pop("dpop_key", None), jti=kw.pop("jti", None)),
                   **kw.pop("headers", {})}
        return self.http.request(method, url, headers=headers, **kw)

    # --- consent, PAR, the customer's approval -----------------------------------------
    def create_consent(self, client: Client) -> str:
        token = self.client_credentials(client)
        permissions = self.config.get("permissions", ["ReadAccountsDetail", "ReadBalances"])
        response = self.resource(client, "POST", "/open-banking/v3.1/aisp/account-access-consents",
                                 token, json={"Data": {"Permissions": permissions}, "Risk": {}})
        expect(response.status_code == 201, f"the consent was refused: {response.status_code}")
        return response.json()["Data"]["ConsentId"]

    def par_params(self, client: Client, consent_id: str, verifier: str | None, **overrides) -> dict:
        params = {
            "client_id": client.client_id, "response_type": "code",
            "redirect_uri": self.config["redirect_uri"], "scope": "openid accounts",
            "state": uuid.uuid4().hex, "nonce": uuid.uuid4().hex,
            "claims": json.dumps({"id_token": {
                "openbanking_intent_id": {"value": consent_id, "essential": True},
                "acr": {"essential": True, "values": ["urn:openbanking:psd2:sca"]}}})}
        if verifier is not None:
            params.update(code_challenge=s256(verifier), code_challenge_method="S256")
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def push(self, client: Client, params: dict, *, aud=None):
        url = self.discovery()["pushed_authorization_request_endpoint"]
        return self.http.post(url, data={**params, **self.assertion(client, aud=aud)},
                              headers={"DPoP": dpop_proof(client.dpop_key, "POST", url)})

    def approve(self, client: Client, request_uri: str | None, browser=None, *,
                query: dict | None = None, signin: bool = False) -> str:
        """The customer's side: open /authorize, log in, then answer each page the bank shows
        until it sends the browser back to the TPP: a one-time code (SCA), a payment's signed
        code (dynamic linking), the consent (the first account shared, or the first account
        to pay from). Returns the redirect the bank sends the browser to (the authorization
        response). `query`: the authorization request's own parameters (a request object by
        value, FAPI 1.0 Advanced) instead of a pushed request_uri. `signin`: a request with no
        consent (scope openid alone), whose decision page has no account to pick."""
        psu = self.config.get("psu")
        if not psu:
            skip("the configuration has no customer (psu) to approve with")
        browser = browser or self.new_browser()
        start = browser.get(self.discovery()["authorization_endpoint"], params=query or {
            "client_id": client.client_id, "request_uri": request_uri}, allow_redirects=False)
        expect(start.status_code in (302, 303), f"/authorize answered {start.status_code}")
        pages = urljoin(start.url, start.headers["Location"])
        login = browser.get(pages)
        csrf = form_value(login.text, "csrf_token")
        expect(csrf, "no login form (csrf_token) on the customer's login page")
        page = browser.post(f"{pages}/login", data={
            "csrf_token": csrf, "username": psu["username"], "password": psu["password"]})
        expect(page.status_code == 200, f"the login answered {page.status_code}")
        for _ in range(6):
            text = page.text
            action = urljoin(page.url, form_action(text) or f"{pages}/decision")
            token = form_value(text, "csrf_token") or csrf
            if 'name="decision"' in text:
                data = {"csrf_token": token, "decision": "approve"}
                for field in ("account", "debtor_account"):
                    values = re.findall(rf'name="{field}"[^>]*value="([^"]+)"', text) or \
                        re.findall(rf'value="([^"]+)"[^>]*name="{field}"', text)
                    if values:
                        data[field] = values[:1]
                if signin:
                    expect(len(data) == 2, "the sign-in's decision page offers accounts or "
                           "a debtor account to pick: it shares nothing")
                else:
                    expect(len(data) > 2, "the consent page lists no account to pick")
                decision = browser.post(action, data=data, allow_redirects=False)
                expect(decision.status_code in (302, 303),
                       f"the decision answered {decision.status_code}: {page_text(decision)}")
                location = urljoin(decision.url, decision.headers["Location"])
                if not location.startswith(pages):
                    return decision.headers["Location"]
                page = browser.get(location)
                continue
            if 'id="sign-amount"' in text:
                code = self.signed_code(psu, text)
            elif 'name="code"' in text:
                code = self.one_time_code(psu)
            else:
                expect(False, f"the bank showed a page the suite cannot answer "
                       f"({page.status_code}): {page_text(page)}")
            page = browser.post(action, data={"csrf_token": token, "code": code})
            expect(page.status_code == 200, f"the code step answered {page.status_code}: "
                   f"{page_text(page)}")
        expect(False, "the approval did not end after six pages")

    def signed_code(self, psu: dict, page: str) -> str:
        """A payment's signed code (dynamic linking) for the amount, currency and payee the
        bank's page shows: `psu.sign_codes` ("sandbox-authenticator", the default: the
        sandbox's authenticator page works it out for its demo customers). A code is
        single-use: one the run used already is waited out (a new time step)."""
        fields = {name: re.search(rf'id="sign-{name}"[^>]*>([^<]*)<', page)
                  for name in ("amount", "currency", "payee")}
        expect(all(fields.values()), "the signing page does not show the amount, currency "
               "and payee to sign")
        values = {k: v.group(1).strip() for k, v in fields.items()}
        expect(psu.get("sign_codes", "sandbox-authenticator") == "sandbox-authenticator",
               "no way to get a payment's signed code is configured (psu.sign_codes)")
        url = self.ctx.issuer.rstrip("/") + "/sandbox/authenticator"
        used = self.ctx.state.setdefault("signed_codes_used", set())
        tool = self.new_browser()
        for _ in range(16):
            form = tool.get(url)
            answer = tool.post(url, data={"csrf_token": form_value(form.text, "csrf_token") or "",
                                          "username": psu["username"], **values})
            found = re.search(r'id="signed-code">([^<]+)<', answer.text)
            expect(answer.status_code == 200 and found, f"the sandbox authenticator answered "
                   f"{answer.status_code}: {page_text(answer)}")
            code = found.group(1).strip()
            if code not in used:
                used.add(code)
                return code
            time.sleep(5)
        expect(False, "the sandbox authenticator gave no fresh code in 80 seconds")

    def one_time_code(self, psu: dict) -> str:
        """The customer's second factor: a fixed code when the configuration gives one (a
        sandbox's test code), else the TOTP of the secret. A TOTP code is single-use (RFC 6238,
        5.2): the first approval of a run waits for a fresh time step (an earlier run may have
        used the current code), a later one for the step after the last it used."""
        if psu.get("one_time_code"):
            return str(psu["one_time_code"])
        totp = pyotp.TOTP(psu["totp_secret"])
        used = self.ctx.state.setdefault("totp_used", {})
        step = int(time.time()) // totp.interval
        if used.get(psu["username"], step) >= step:
            time.sleep((step + 1) * totp.interval - time.time() + 0.2)
            step = int(time.time()) // totp.interval
        used[psu["username"]] = step
        return totp.at(step * totp.interval)

    def new_browser(self):
        from .engine import RecordingSession
        browser = RecordingSession()
        browser.exchanges = self.http.exchanges  # the browser's exchanges are evidence too
        return browser

    def authorise(self, client: Client, *, verifier: str | None = None, **overrides) -> dict:
        """Consent, PAR, approval: the authorization response's parameters, with what the
        later steps need (verifier, state, nonce, consent_id, request_uri)."""
        consent_id = self.create_consent(client)
        verifier = verifier or new_verifier()
        params = self.par_params(client, consent_id, verifier, **overrides)
        pushed = self.push(client, params)
        expect(pushed.status_code == 201, f"PAR answered {pushed.status_code}: {pushed.text[:300]}")
        location = self.approve(client, pushed.json()["request_uri"])
        returned = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        return {**returned, "location": location, "verifier": verifier, "sent": params,
                "consent_id": consent_id, "request_uri": pushed.json()["request_uri"]}

    def exchange(self, client: Client, code: str, verifier: str | None, **kw):
        form = {"grant_type": "authorization_code", "code": code,
                "redirect_uri": self.config["redirect_uri"]}
        if verifier is not None:
            form["code_verifier"] = verifier
        return self.token_request(client, form, **kw)
