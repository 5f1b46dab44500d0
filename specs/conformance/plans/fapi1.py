"""The fapi1 plan: a first set of the OpenID conformance suite's FAPI 1.0 Advanced (Final) test
modules (plan `fapi1-advanced-final-test-plan`, UK Open Banking variant: request object by
value, no PAR, no JARM), private_key_jwt client authentication and MTLS certificate-bound
access tokens, over the real flow: an account-access consent, a signed request object at the
authorization endpoint with response_type `code id_token`, the customer's approval, the
authorization response in the fragment with the id token as detached signature, the code
exchange and an account call over MTLS. Each check is named after the module it mirrors
(`fapi1-advanced-final-...`; the happy path is the module `fapi1-advanced-final` itself, and
`fapi1-advanced-final:<Condition>` is one condition of it the suite reports on its own) and
cites the clause of FAPI 1.0 (openid/fapi, Part 1 Baseline and Part 2 Advanced, Final) it tests.

The client certificate: `mtls` in the configuration (see specs/conformance/README.md). With
`header`, the suite stands in for the bank's TLS-terminating proxy and sends the certificate
in that header (the sandbox behind TRUSTED_PROXIES); without it the certificate is presented
in the TLS handshake. Without `certificate` the suite makes a self-signed one naming the
software's organisation (OU = org_id, CN = software_id, as OB transport certificates do); the
sandbox's own run configuration gives one of its transport CA, or `mtls_unavailable`, the
reason none can reach the platform, which the skipped checks then report.

Every negative request-object check first shows the positive case: the same request object,
unchanged, starts the authorisation; then the one change the module makes must stop it."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
import time
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, quote, urljoin, urlsplit

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from jwcrypto import jwk, jwt

from ..engine import Check, Context, expect, skip
from ..tpp import TPP, Client, load_key, new_verifier, s256, sign, unverified_claims

PLAN = "fapi1"
MODULE = "fapi1-advanced-final"
PREFIX = MODULE + "-"
ADV = "FAPI 1.0 Advanced (Final)"
BASE = "FAPI 1.0 Baseline (Final)"
HYBRID = "code id_token"
ACCOUNTS = "/open-banking/v3.1/aisp/accounts"
CONSENTS = "/open-banking/v3.1/aisp/account-access-consents"
CHECKS: list[Check] = []
HAPPY = MODULE


def check(name: str, title: str, clause: str, needs: tuple[str, ...] = ()):
    def register(fn):
        ident = name if name.startswith(MODULE) else PREFIX + name
        CHECKS.append(Check(ident, title, clause, PLAN, fn, needs))
        return fn
    return register


def half_hash(value: str) -> str:
    """c_hash / s_hash for PS256 and ES256 (SHA-256): the left half, base64url (OIDC Core
    3.3.2.11)."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


# --- the client certificate ----------------------------------------------------------------

def _pem(value: str) -> bytes:
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    with open(value, "rb") as handle:
        return handle.read()


def self_signed(subject: dict, key=None) -> tuple[bytes, bytes]:
    """A self-signed certificate (PEM) and its private key (PEM) for the subject attributes
    `subject` ({"CN": ..., "OU": ..., "O": ...})."""
    key = key or ec.generate_private_key(ec.SECP256R1())
    oids = {"CN": NameOID.COMMON_NAME, "OU": NameOID.ORGANIZATIONAL_UNIT_NAME,
            "O": NameOID.ORGANIZATION_NAME, "C": NameOID.COUNTRY_NAME}
    name = x509.Name([x509.NameAttribute(oids[k], v) for k, v in subject.items() if v])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


class Certificate:
    """A client certificate and how it is presented: in a header the bank's trusted proxy
    would set, or in the TLS handshake (requests' `cert`)."""

    def __init__(self, cert_pem: bytes, key_pem: bytes | None, header: str | None):
        self.cert_pem, self.key_pem, self.header = cert_pem, key_pem, header
        self._files: tuple[str, str] | None = None
        loaded = x509.load_pem_x509_certificate(cert_pem)
        self.subject = loaded.subject.rfc4514_string()
        self.x5t_s256 = base64.urlsafe_b64encode(hashlib.sha256(
            loaded.public_bytes(serialization.Encoding.DER)).digest()).rstrip(b"=").decode()

    def request_kwargs(self) -> dict:
        if self.header:
            return {"headers": {self.header: quote(self.cert_pem.decode(), safe="")}}
        expect(self.key_pem, "the configured client certificate has no private key (mtls.key) "
               "to present it in the TLS handshake")
        if self._files is None:
            paths = []
            for data in (self.cert_pem, self.key_pem):
                handle = tempfile.NamedTemporaryFile(delete=False, suffix=".pem")
                handle.write(data)
                handle.close()
                os.chmod(handle.name, 0o600)
                paths.append(handle.name)
            self._files = (paths[0], paths[1])
        return {"cert": self._files}


class FAPI1:
    """The TPP side of FAPI 1.0 Advanced: the TPP helpers (discovery, the directory's SSA, the
    customer's approval) with a certificate-bound MTLS client and signed request objects."""

    def __init__(self, ctx: Context):
        self.ctx, self.tpp, self.config = ctx, TPP(ctx), ctx.config

    # the certificate
    def mtls(self) -> dict:
        mtls = self.config.get("mtls")
        if not mtls:
            skip(self.config.get("mtls_unavailable")
                 or "the configuration has no mtls (how to present a client certificate)")
        return mtls

    def certificate(self, name: str = "fapi1_cert") -> Certificate:
        """The run's client certificate (`name` "fapi1_cert"), or another one for the checks
        that present the wrong certificate ("other_cert": always generated)."""
        if name not in self.ctx.state:
            mtls = self.mtls()
            header = mtls.get("header")
            if name == "fapi1_cert" and mtls.get("certificate"):
                self.ctx.state[name] = Certificate(
                    _pem(mtls["certificate"]), _pem(mtls["key"]) if mtls.get("key") else None,
                    header)
            else:
                subject = {"CN": self.ctx.state.get("fapi1_software_id") or "conformance",
                           "OU": self.ctx.state.get("fapi1_org_id"), "O": "Conformance TPP"}
                if name != "fapi1_cert":
                    subject["CN"] = "another-certificate"
                cert, key = self_signed(subject)
                self.ctx.state[name] = Certificate(cert, key, header)
        return self.ctx.state[name]

    def send(self, method: str, url: str, *, cert: Certificate | None, headers=None, **kw):
        extra = cert.request_kwargs() if cert else {}
        headers = {**(headers or {}), **extra.pop("headers", {})}
        return self.ctx.http.request(method, url, headers=headers, **extra, **kw)

    # registration
    def register(self) -> Client:
        """A FAPI 1.0 Advanced client of the directory's software: response_types
        code id_token, private_key_jwt, certificate-bound access tokens, registered over MTLS
        with the run's certificate."""
        d = self.tpp.directory()
        ssa = self.tpp.get_ssa()
        statement = unverified_claims(ssa)
        self.ctx.state.setdefault("fapi1_org_id", statement.get("org_id"))
        self.ctx.state.setdefault("fapi1_software_id", statement.get("software_id"))
        alg = d.get("alg", "ES256")
        claims = self.tpp.registration_claims(
            ssa, response_types=[HYBRID], dpop_bound_access_tokens=None,
            tls_client_certificate_bound_access_tokens=True, request_object_signing_alg=alg,
            id_token_signed_response_alg="PS256")
        body = sign(self.tpp.software_key(), claims, alg=alg)
        self.ctx.note(f"registration request claims: "
                      f"{ {k: v for k, v in claims.items() if k != 'software_statement'} }")
        response = self.send("POST", self.tpp.discovery()["registration_endpoint"],
                             cert=self.certificate(), data=body,
                             headers={"Content-Type": "application/jwt"})
        expect(response.status_code == 201, f"registration answered {response.status_code}: "
               f"{response.text[:300]}")
        registered = response.json()
        expect(registered.get("response_types") == [HYBRID],
               f"the client was registered with response_types "
               f"{registered.get('response_types')!r}, not [{HYBRID!r}]")
        expect(registered.get("tls_client_certificate_bound_access_tokens") is True,
               "the client was not registered with certificate-bound access tokens")
        return Client(registered["client_id"], self.tpp.software_key(), alg)

    def client(self, name: str = "fapi1_client") -> Client:
        """The configured FAPI 1.0 client (`fapi1_client`, `fapi1_second_client`), or one
        registered with the directory, kept for the run."""
        if name not in self.ctx.state:
            given = self.config.get(name)
            if given:
                self.ctx.state[name] = Client(given["client_id"], load_key(given["signing_key"]),
                                              given.get("alg", "PS256"))
            elif self.config.get("directory"):
                self.ctx.state[name] = self.register()
            else:
                skip(f"the configuration has no {name} and no directory to register one")
        return self.ctx.state[name]

    # the token endpoint and the resources
    def token_request(self, client: Client, form: dict, *, cert="default", key=None, alg=None,
                      client_id: str | None = None, assertion_change: dict | None = None):
        """private_key_jwt (aud the token endpoint, RFC 7523 3) over MTLS; `assertion_change`
        changes the client assertion's claims (None removes one)."""
        url = self.tpp.discovery()["token_endpoint"]
        now = int(time.time())
        claims = {"iss": client.client_id, "sub": client.client_id, "aud": url,
                  "jti": uuid.uuid4().hex, "iat": now, "exp": now + 60, **(assertion_change or {})}
        claims = {k: v for k, v in claims.items() if v is not None}
        if assertion_change:
            self.ctx.note(f"client assertion claims sent: {claims}")
        assertion = sign(key or client.key, claims, alg=alg or client.alg)
        data = {**form, "client_id": client_id or client.client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion}
        return self.send("POST", url, cert=self.certificate() if cert == "default" else cert,
                         data=data)

    def client_credentials(self, client: Client) -> str:
        response = self.token_request(client, {"grant_type": "client_credentials",
                                               "scope": "accounts"})
        expect(response.status_code == 200, f"the client-credentials grant answered "
               f"{response.status_code}: {response.text[:200]}")
        return response.json()["access_token"]

    def resource(self, method: str, path: str, token: str, *, cert="default", **kw):
        url = path if path.startswith("http") else self.ctx.issuer.rstrip("/") + path
        headers = {"Authorization": f"Bearer {token}", "x-fapi-interaction-id": str(uuid.uuid4()),
                   "x-fapi-customer-ip-address": self.config.get("customer_ip", "198.51.100.7"),
                   **kw.pop("headers", {})}
        return self.send(method, url, cert=self.certificate() if cert == "default" else cert,
                         headers=headers, **kw)

    def consent(self, client: Client, *, fresh: bool = False) -> str:
        """An account-access consent awaiting authorisation (one shared by the checks that
        never reach the customer, unless `fresh`)."""
        if not fresh and "fapi1_consent" in self.ctx.state:
            return self.ctx.state["fapi1_consent"]
        token = self.client_credentials(client)
        permissions = self.config.get("permissions", ["ReadAccountsDetail", "ReadBalances"])
        response = self.resource("POST", CONSENTS, token,
                                 json={"Data": {"Permissions": permissions}, "Risk": {}})
        expect(response.status_code == 201, f"the consent was refused: {response.status_code}")
        consent_id = response.json()["Data"]["ConsentId"]
        if not fresh:
            self.ctx.state["fapi1_consent"] = consent_id
        return consent_id

    # the authorization request
    def request_params(self, client: Client, consent_id: str, *, pkce: bool = False) -> dict:
        """The request's parameters. No PKCE unless `pkce`: FAPI 1.0 Advanced requires it only
        with PAR (5.2.2-18), and the OpenID suite's FAPI 1.0 UK plan, which sends its request
        objects by value, sends none; an ASPSP that insists on it fails that whole plan."""
        verifier = new_verifier() if pkce else None
        return {
            "client_id": client.client_id, "response_type": HYBRID,
            "redirect_uri": self.config["redirect_uri"], "scope": "openid accounts",
            "state": uuid.uuid4().hex, "nonce": uuid.uuid4().hex,
            **({"code_challenge": s256(verifier), "code_challenge_method": "S256"}
               if pkce else {}),
            "claims": {"id_token": {
                "openbanking_intent_id": {"value": consent_id, "essential": True},
                "acr": {"essential": True, "values": ["urn:openbanking:psd2:sca"]}}},
            "_verifier": verifier}

    def request_object(self, client: Client, params: dict, *, claims_change: dict | None = None,
                       key=None, alg: str | None = None, corrupt: bool = False) -> str:
        """The signed request object (FAPI 1.0 Advanced 5.2.2-1, -13, -15, -17): the request's
        parameters, iss the client, aud the issuer, nbf now, exp in five minutes; with
        `claims_change` (None values removed) for the negative checks."""
        now = int(time.time())
        claims = {**{k: v for k, v in params.items() if not k.startswith("_")},
                  "iss": client.client_id, "aud": self.tpp.discovery()["issuer"],
                  "iat": now, "nbf": now, "exp": now + 300, "jti": uuid.uuid4().hex}
        claims.update(claims_change or {})
        claims = {k: v for k, v in claims.items() if v is not None}
        shown = {k: v for k, v in claims.items() if k != "claims"}
        self.ctx.note(f"request object claims: {shown} (alg {alg or client.alg})")
        if alg == "none":
            header = base64.urlsafe_b64encode(b'{"alg":"none"}').rstrip(b"=").decode()
            body = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
            return f"{header}.{body}."
        signed = sign(key or client.key, claims, alg=alg or client.alg, typ="oauth-authz-req+jwt")
        if corrupt:  # the signature's first bytes changed: the JWS no longer verifies
            head, body, signature = signed.split(".")
            flipped = "A" if signature[0] != "A" else "B"
            signed = f"{head}.{body}.{flipped}{signature[1:]}"
        return signed

    def query(self, params: dict, request_object: str, **outer) -> dict:
        """The authorization request as the UK OB variant sends it: the request object by
        value, with client_id, response_type, scope and redirect_uri repeated outside it
        (OpenID Connect Core 6.1 requires them), `outer` changing or removing (None) them."""
        query = {"client_id": params["client_id"], "response_type": params.get("response_type"),
                 "scope": params.get("scope"), "redirect_uri": params.get("redirect_uri"),
                 "request": request_object, **outer}
        return {k: v for k, v in query.items() if v is not None}

    def begin(self, client: Client, query: dict):
        """Opens the authorization endpoint in a new browser: the response (not followed)."""
        browser = self.tpp.new_browser()
        return browser.get(self.tpp.discovery()["authorization_endpoint"], params=query,
                           allow_redirects=False)

    def authorise(self, client: Client) -> dict:
        """Consent, signed request object, the customer's approval: the authorization
        response's parameters (fragment, or query for an error), with what later steps need."""
        consent_id = self.consent(client, fresh=True)
        params = self.request_params(client, consent_id)
        location = self.tpp.approve(client, None, query=self.query(
            params, self.request_object(client, params)))
        parts = urlsplit(location)
        returned = {k: v[0] for k, v in parse_qs(parts.fragment or parts.query).items()}
        return {**returned, "location": location, "in_fragment": bool(parts.fragment),
                "sent": params, "consent_id": consent_id}

    def exchange(self, client: Client, auth: dict, **kw):
        return self.token_request(client, {
            "grant_type": "authorization_code", "code": auth["code"],
            "redirect_uri": self.config["redirect_uri"],
            **({"code_verifier": auth["sent"]["_verifier"]} if auth["sent"]["_verifier"]
               else {})}, **kw)


def oauth_refused(response, status: tuple[int, ...], errors: tuple[str, ...]) -> None:
    expect(response.status_code in status, f"expected {'/'.join(map(str, status))} "
           f"{' or '.join(errors)}, the ASPSP answered {response.status_code}")
    try:
        error = response.json().get("error")
    except ValueError:
        error = None
    expect(error in errors, f"error is {error!r}, expected {' or '.join(errors)}")
    expect("access_token" not in response.text, "an access token was issued")


def started(ctx: Context, response) -> tuple[bool, str]:
    """Whether /authorize began the customer's journey (a redirect to the bank's own pages),
    and what it did instead: an error page, or an error sent back to the client."""
    location = response.headers.get("Location", "")
    if response.status_code not in (302, 303):
        return False, f"{response.status_code} page"
    target = urljoin(response.url, location)
    parts = urlsplit(target)
    params = parse_qs(parts.fragment or parts.query)
    if "error" in params:
        return False, (f"error {params['error'][0]} sent to "
                       f"{parts.scheme}://{parts.netloc}{parts.path}")
    redirect = ctx.config["redirect_uri"]
    if target.startswith(redirect) or "code" in params:
        return True, "an authorization response without an error"
    return True, f"{response.status_code} to the bank's pages"


def _request_refused(ctx: Context, what: str, *, claims_change: dict | None = None, key=None,
                     alg: str | None = None, outer: dict | None = None,
                     not_to: str | None = None, corrupt: bool = False,
                     errors: tuple[str, ...] | None = None) -> None:
    """The positive case (the request object as the client would send it starts the
    authorisation), then the negative one (the change `what` must not). With `errors`, an
    error sent back to the client must be one of them (an error page is accepted too)."""
    f = FAPI1(ctx)
    client = f.client()
    params = f.request_params(client, f.consent(client))
    good = f.begin(client, f.query(params, f.request_object(client, params)))
    began, how = started(ctx, good)
    expect(began, f"the well-formed request object (the positive case) did not start the "
           f"authorisation: {how}")
    bad = f.begin(client, f.query(params, f.request_object(
        client, params, claims_change=claims_change, key=key, alg=alg, corrupt=corrupt),
        **(outer or {})))
    began, how = started(ctx, bad)
    ctx.note(f"{what}: {how}")
    expect(not began, f"a request {what} was accepted: the authorisation began ({how})")
    if not_to:
        location = bad.headers.get("Location", "")
        expect(not location.startswith(not_to),
               f"the error for a request {what} was sent to that redirect URI")
    if errors:
        parts = urlsplit(bad.headers.get("Location", ""))
        error = parse_qs(parts.fragment or parts.query).get("error", [None])[0]
        expect(error is None or error in errors,
               f"the error for a request {what} was {error}, not one of {', '.join(errors)}")


def _id_token_claims(ctx: Context) -> dict:
    return ctx.state["fapi1_happy"]["id_token_claims"]


# --- the happy path and its conditions ---------------------------------------------------

@check(MODULE, "Consent, signed request object (code id_token), approval, the fragment "
       "response, code exchange over MTLS, a certificate-bound token, account call",
       f"{ADV} 5.2.2-1 (signed request object), 5.2.2-2 (code id_token), 5.2.2-5/6 (MTLS "
       "sender-constrained tokens), 5.2.2-14 (private_key_jwt), 5.2.2.1 (id token as detached "
       "signature); OpenID Connect Core 3.3.2.5 (hybrid response in the fragment); RFC 8705, 3")
def happy_flow(ctx: Context) -> None:
    f = FAPI1(ctx)
    client = f.client()
    auth = f.authorise(client)
    expect("error" not in auth, f"the authorization response is an error: {auth.get('error')}: "
           f"{auth.get('error_description')}")
    expect(auth["in_fragment"], "the hybrid authorization response is not in the fragment "
           "(OpenID Connect Core 3.3.2.5)")
    expect(auth.get("code"), "the authorization response has no code")
    expect(auth.get("id_token"), "the authorization response has no id_token (the detached "
           "signature, FAPI 1.0 Advanced 5.2.2.1-3)")
    expect(auth.get("state") == auth["sent"]["state"], "state does not come back unchanged")
    ctx.state["fapi1_auth"] = auth
    response = f.exchange(client, auth)
    expect(response.status_code == 200, f"the code exchange over MTLS answered "
           f"{response.status_code}: {response.text[:200]}")
    tokens = response.json()
    expect(str(tokens.get("token_type", "")).lower() == "bearer",
           f"token_type is {tokens.get('token_type')!r}: a certificate-bound token is a Bearer "
           "token presented over MTLS (RFC 8705, 3)")
    expect(tokens.get("id_token"), "no id_token from the token endpoint for an openid request")
    accounts = f.resource("GET", ACCOUNTS, tokens["access_token"])
    expect(accounts.status_code == 200, f"the account call over MTLS answered "
           f"{accounts.status_code}")
    ctx.state["fapi1_happy"] = {"client": client, "auth": auth, "tokens": tokens,
                                "id_token_claims": unverified_claims(auth["id_token"])}


@check(MODULE + ":ValidateIdTokenSignature",
       "The id token of the authorization response verifies with the ASPSP's JWKS, PS256 or "
       "ES256", f"{ADV} 5.2.2.1-1 (signed id token), 8.6 (PS256/ES256 only); OpenID Connect "
       "Core 3.3.2.12", needs=(HAPPY,))
def id_token_signature(ctx: Context) -> None:
    tpp, happy = TPP(ctx), ctx.state["fapi1_happy"]
    keys = ctx.http.get(tpp.discovery()["jwks_uri"])
    expect(keys.status_code == 200, f"jwks_uri answered {keys.status_code}")
    token = happy["auth"]["id_token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "==="))
    ctx.note(f"id token header: {header}")
    expect(header.get("alg") in ("PS256", "ES256"), f"the id token is signed {header.get('alg')}")
    try:
        jwt.JWT(jwt=token, key=jwk.JWKSet.from_json(keys.text), algs=["PS256", "ES256"],
                check_claims=False)
    except Exception as exc:  # jwcrypto's signature, algorithm and format errors
        expect(False, f"the id token does not verify with the ASPSP's JWKS: {exc}")


@check(MODULE + ":ValidateIdToken", "The id token's iss, aud, exp, iat and "
       "openbanking_intent_id", "OpenID Connect Core 3.3.2.12 and 2 (iss, aud, exp, iat); OBIE "
       "Security Profile (openbanking_intent_id)", needs=(HAPPY,))
def id_token_claims(ctx: Context) -> None:
    tpp, happy = TPP(ctx), ctx.state["fapi1_happy"]
    claims = _id_token_claims(ctx)
    names = ("iss", "aud", "exp", "iat", "openbanking_intent_id")
    ctx.note(f"id token claims: { {k: claims.get(k) for k in names} }")
    aud = claims.get("aud")
    now = time.time()
    expect(claims.get("iss") == tpp.discovery()["issuer"], f"iss is {claims.get('iss')!r}")
    expect(happy["client"].client_id in (aud if isinstance(aud, list) else [aud]),
           f"aud is {aud!r}, not the client")
    expect(isinstance(claims.get("exp"), int) and claims["exp"] > now, "exp is missing or past")
    expect(isinstance(claims.get("iat"), int) and claims["iat"] <= now + 60,
           "iat is missing or in the future")
    expect(claims.get("openbanking_intent_id") == happy["auth"]["consent_id"],
           "openbanking_intent_id is not the consent's id")


@check(MODULE + ":ValidateCHash", "The id token's c_hash is the hash of the code returned "
       "with it", f"{ADV} 5.2.2.1-3 (detached signature); OpenID Connect Core 3.3.2.11 (c_hash)",
       needs=(HAPPY,))
def c_hash(ctx: Context) -> None:
    claims, auth = _id_token_claims(ctx), ctx.state["fapi1_happy"]["auth"]
    expect(claims.get("c_hash"), "the id token has no c_hash")
    expect(claims["c_hash"] == half_hash(auth["code"]), "c_hash is not the hash of the code")


@check(MODULE + ":ValidateSHash", "The id token's s_hash is the hash of the state returned "
       "with it", f"{ADV} 5.2.2.1-4 (s_hash)", needs=(HAPPY,))
def s_hash(ctx: Context) -> None:
    claims, auth = _id_token_claims(ctx), ctx.state["fapi1_happy"]["auth"]
    expect(claims.get("s_hash"), "the id token has no s_hash")
    expect(claims["s_hash"] == half_hash(auth["state"]), "s_hash is not the hash of the state")


@check(MODULE + ":ValidateIdTokenNonce", "The id token carries the request object's nonce",
       "OpenID Connect Core 3.3.2.11 (nonce)", needs=(HAPPY,))
def nonce(ctx: Context) -> None:
    claims, auth = _id_token_claims(ctx), ctx.state["fapi1_happy"]["auth"]
    expect(claims.get("nonce") == auth["sent"]["nonce"], "the nonce is not the one sent")


@check(MODULE + ":ValidateIdTokenACRClaimAgainstRequest",
       "The id token's acr is the essential value requested (urn:openbanking:psd2:sca)",
       "OpenID Connect Core 5.5.1.1 (essential acr); OBIE Security Profile (acr values)",
       needs=(HAPPY,))
def acr(ctx: Context) -> None:
    claims = _id_token_claims(ctx)
    expect(claims.get("acr") == "urn:openbanking:psd2:sca", f"acr is {claims.get('acr')!r}")


@check(MODULE + ":ValidateIssInAuthorizationResponse",
       "The authorization response carries iss, the issuer identifier",
       "RFC 9207, 2 (iss in the authorization response; the ASPSP advertises "
       "authorization_response_iss_parameter_supported)", needs=(HAPPY,))
def iss_in_response(ctx: Context) -> None:
    auth = ctx.state["fapi1_happy"]["auth"]
    expect(auth.get("iss") == TPP(ctx).discovery()["issuer"],
           f"the authorization response's iss is {auth.get('iss')!r}, not the issuer")


# --- request objects -----------------------------------------------------------------------

@check("ensure-request-object-without-exp-fails", "A request object without exp is refused",
       f"{ADV} 5.2.2-13 (exp required, at most 60 minutes after nbf)")
def without_exp(ctx: Context) -> None:
    _request_refused(ctx, "whose request object has no exp", claims_change={"exp": None})


@check("ensure-request-object-without-nbf-fails", "A request object without nbf is refused",
       f"{ADV} 5.2.2-17 (nbf required, at most 60 minutes in the past)")
def without_nbf(ctx: Context) -> None:
    _request_refused(ctx, "whose request object has no nbf", claims_change={"nbf": None})


@check("ensure-expired-request-object-fails", "A request object that expired is refused",
       f"{ADV} 5.2.2-13; RFC 7519, 4.1.4 (exp)")
def expired(ctx: Context) -> None:
    now = int(time.time())
    _request_refused(ctx, "whose request object expired a minute ago",
                     claims_change={"iat": now - 600, "nbf": now - 600, "exp": now - 60})


@check("ensure-request-object-with-exp-over-60-fails",
       "A request object living more than 60 minutes after its nbf is refused",
       f"{ADV} 5.2.2-13 (exp no longer than 60 minutes after nbf)")
def exp_over_60(ctx: Context) -> None:
    now = int(time.time())
    _request_refused(ctx, "whose request object lives 70 minutes",
                     claims_change={"nbf": now, "exp": now + 70 * 60})


@check("ensure-request-object-with-nbf-over-60-fails",
       "A request object whose nbf is more than 60 minutes in the past is refused",
       f"{ADV} 5.2.2-17 (nbf no longer than 60 minutes in the past)")
def nbf_over_60(ctx: Context) -> None:
    now = int(time.time())
    _request_refused(ctx, "whose request object's nbf is 70 minutes old",
                     claims_change={"iat": now - 70 * 60, "nbf": now - 70 * 60, "exp": now + 60})


@check("ensure-request-object-with-bad-aud-fails",
       "A request object whose aud is another server is refused",
       f"{ADV} 5.2.2-15 (aud the OP's issuer identifier)")
def bad_aud(ctx: Context) -> None:
    _request_refused(ctx, "whose request object's aud is another server",
                     claims_change={"aud": "https://other-server.example/"})


@check("ensure-signed-request-object-with-RS256-fails",
       "A request object signed RS256 is refused",
       f"{ADV} 8.6 (PS256 or ES256 only), 5.2.2-1")
def request_rs256(ctx: Context) -> None:
    f = FAPI1(ctx)
    kid = f.client().key.get("kid") or uuid.uuid4().hex
    _request_refused(ctx, "whose request object is signed RS256", alg="RS256",
                     key=jwk.JWK.generate(kty="RSA", size=2048, kid=kid))


@check("ensure-request-object-signature-algorithm-is-not-none",
       "An unsigned request object (alg none) is refused",
       f"{ADV} 5.2.2-1 (a JWS signed request object), 8.6 (none is not allowed)")
def request_none(ctx: Context) -> None:
    _request_refused(ctx, "whose request object is unsigned (alg none)", alg="none")


@check("ensure-request-object-with-invalid-signature-fails",
       "A request object whose signature does not verify is refused",
       f"{ADV} 5.2.2-1 (a JWS signed request object); RFC 9101, 6.2 (verify the signature)")
def request_invalid_signature(ctx: Context) -> None:
    _request_refused(ctx, "whose request object's signature was altered", corrupt=True)


@check("ensure-request-object-without-scope-fails",
       "A request object without scope is refused, even with one outside it",
       f"{ADV} 5.2.2-10 (only the request object's parameters are used); OpenID Connect Core "
       "3.1.2.1 (scope openid required)")
def without_scope(ctx: Context) -> None:
    _request_refused(ctx, "whose request object has no scope", claims_change={"scope": None},
                     errors=("invalid_request", "invalid_request_object", "invalid_request_uri",
                             "access_denied"))


@check("ensure-matching-key-in-authorization-request",
       "A request object signed by a key the client did not register is refused",
       f"{ADV} 5.2.2-1; RFC 9101, 6.2 (the signature by the client's registered key)")
def matching_key(ctx: Context) -> None:
    f = FAPI1(ctx)
    client = f.client()
    kty = {"kty": "EC", "crv": "P-256"} if client.alg == "ES256" else {"kty": "RSA", "size": 2048}
    other = jwk.JWK.generate(**kty, kid=client.key.get("kid") or uuid.uuid4().hex)
    _request_refused(ctx, "whose request object is signed by an unregistered key (same kid)",
                     key=other)


@check("ensure-request-object-without-nonce-fails",
       "A code id_token request object without nonce is refused",
       f"OpenID Connect Core 3.3.2.11 (nonce required for the hybrid flow); {BASE} 5.2.2.2")
def without_nonce(ctx: Context) -> None:
    _request_refused(ctx, "without nonce", claims_change={"nonce": None})


@check("ensure-request-object-without-redirect-uri-fails",
       "A request object without redirect_uri is refused, even with one outside it",
       f"{BASE} 5.2.2-9 (redirect_uri required); {ADV} 5.2.2-10 (only the request object's "
       "parameters are used)")
def without_redirect_uri_inside(ctx: Context) -> None:
    _request_refused(ctx, "whose request object has no redirect_uri",
                     claims_change={"redirect_uri": None})


@check("ensure-redirect-uri-in-authorization-request",
       "An authorization request without redirect_uri anywhere is refused",
       f"{BASE} 5.2.2-9 (shall require the redirect_uri in the authorization request)")
def without_redirect_uri(ctx: Context) -> None:
    _request_refused(ctx, "without redirect_uri", claims_change={"redirect_uri": None},
                     outer={"redirect_uri": None})


@check("ensure-registered-redirect-uri",
       "A redirect_uri that is not registered is refused, and nothing is sent to it",
       f"{BASE} 5.2.2-8 and -10 (pre-registered, exactly matched redirect URIs)")
def registered_redirect_uri(ctx: Context) -> None:
    unregistered = "https://unregistered.example/callback"
    _request_refused(ctx, "with an unregistered redirect_uri",
                     claims_change={"redirect_uri": unregistered},
                     outer={"redirect_uri": unregistered}, not_to=unregistered)


@check("ensure-response-type-code-fails",
       "A request for response_type code (without JARM) is refused for a hybrid client",
       f"{ADV} 5.2.2-2 (code id_token, or code with response_mode jwt)")
def response_type_code(ctx: Context) -> None:
    _request_refused(ctx, "for response_type code", claims_change={"response_type": "code"},
                     outer={"response_type": "code"})


@check("ensure-authorization-request-without-request-object-fails",
       "An authorization request with plain parameters and no request object is refused",
       f"{ADV} 5.2.2-1 (a signed request object is required)")
def without_request_object(ctx: Context) -> None:
    f = FAPI1(ctx)
    client = f.client()
    params = f.request_params(client, f.consent(client))
    plain = {k: (json.dumps(v) if isinstance(v, dict) else v) for k, v in params.items()
             if not k.startswith("_")}
    began, how = started(ctx, f.begin(client, plain))
    ctx.note(f"without a request object: {how}")
    expect(not began, f"a request without a request object began the authorisation ({how})")


# --- the token endpoint --------------------------------------------------------------------

@check("ensure-client-id-in-token-endpoint",
       "A code exchange naming another client_id than the authenticated client's is refused",
       f"{BASE} 5.2.2 (invalid_client when the client identifiers sent do not match); "
       "RFC 7521, 4.2")
def client_id_in_token_endpoint(ctx: Context) -> None:
    f = FAPI1(ctx)
    client, other = f.client(), f.client("fapi1_second_client")
    auth = f.authorise(client)
    expect(auth.get("code"), f"the authorisation gave no code: {auth.get('error')}")
    response = f.exchange(client, auth, client_id=other.client_id)
    oauth_refused(response, (400, 401), ("invalid_client", "invalid_request"))


@check("ensure-authorization-code-is-bound-to-client",
       "A code issued to one client cannot be exchanged by another",
       f"RFC 6749, 4.1.3 (the code was issued to the authenticated client); {BASE} 5.2.2")
def code_bound_to_client(ctx: Context) -> None:
    f = FAPI1(ctx)
    client, other = f.client(), f.client("fapi1_second_client")
    auth = f.authorise(client)
    expect(auth.get("code"), f"the authorisation gave no code: {auth.get('error')}")
    oauth_refused(f.exchange(other, auth), (400,), ("invalid_grant",))


@check("ensure-mtls-holder-of-key-required",
       "Without the client's certificate: no token at the token endpoint, and the "
       "certificate-bound token is refused at the resource (also with another certificate)",
       f"{ADV} 5.2.2-5 and -6 (MTLS sender-constrained tokens), 6.2.1-1; RFC 8705, 3",
       needs=(HAPPY,))
def holder_of_key(ctx: Context) -> None:
    f, happy = FAPI1(ctx), ctx.state["fapi1_happy"]
    response = f.token_request(happy["client"], {"grant_type": "client_credentials",
                                                 "scope": "accounts"}, cert=None)
    expect(response.status_code in (400, 401), f"the token request without a client "
           f"certificate answered {response.status_code}")
    expect("access_token" not in response.text, "a token was issued without a certificate")
    token = happy["tokens"]["access_token"]
    bare = f.resource("GET", ACCOUNTS, token, cert=None)
    expect(bare.status_code == 401, f"the certificate-bound token without a certificate "
           f"answered {bare.status_code}")
    other = f.resource("GET", ACCOUNTS, token, cert=f.certificate("other_cert"))
    expect(other.status_code == 401, f"the certificate-bound token with another certificate "
           f"answered {other.status_code}")


@check("refresh-token", "A refresh over MTLS gives a certificate-bound access token that works",
       f"{ADV} 5.2.2-5 (sender-constrained tokens); RFC 6749, 6; RFC 8705, 3",
       needs=(HAPPY,))
def refresh(ctx: Context) -> None:
    f, happy = FAPI1(ctx), ctx.state["fapi1_happy"]
    expect(happy["tokens"].get("refresh_token"), "the code exchange gave no refresh token")
    response = f.token_request(happy["client"], {"grant_type": "refresh_token",
                                                 "refresh_token": happy["tokens"]["refresh_token"]})
    expect(response.status_code == 200, f"the refresh answered {response.status_code}")
    fresh = response.json()["access_token"]
    expect(f.resource("GET", ACCOUNTS, fresh).status_code == 200,
           "the refreshed access token does not work with the certificate")
    expect(f.resource("GET", ACCOUNTS, fresh, cert=None).status_code == 401,
           "the refreshed access token works without the certificate")


@check("attempt-reuse-authorisation-code-after-one-second",
       "A code exchanged once is refused the second time; the tokens issued from it are revoked",
       "RFC 6749, 4.1.2 (MUST deny, SHOULD revoke); " f"{BASE} 5.2.2", needs=(HAPPY,))
def reuse_code(ctx: Context) -> None:
    f, happy = FAPI1(ctx), ctx.state["fapi1_happy"]
    time.sleep(1)
    oauth_refused(f.exchange(happy["client"], happy["auth"]), (400,), ("invalid_grant",))
    call = f.resource("GET", ACCOUNTS, happy["tokens"]["access_token"])
    if call.status_code == 200:
        ctx.note("the access token issued from the reused code still works (RFC 6749 4.1.2: "
                 "SHOULD revoke; the OpenID suite warns, does not fail)")


@check("ensure-signed-client-assertion-with-RS256-fails",
       "A client assertion signed RS256 is refused", f"{ADV} 8.6 (PS256 or ES256 only), "
       "5.2.2-14; RFC 7523, 3")
def assertion_rs256(ctx: Context) -> None:
    f = FAPI1(ctx)
    client = f.client()
    key = jwk.JWK.generate(kty="RSA", size=2048, kid=client.key.get("kid") or uuid.uuid4().hex)
    response = f.token_request(client, {"grant_type": "client_credentials", "scope": "accounts"},
                               key=key, alg="RS256")
    oauth_refused(response, (400, 401), ("invalid_client",))


def _assertion_refused(ctx: Context, change: dict) -> None:
    """The positive case (the unchanged client assertion gets a token over MTLS), then the
    changed one: 400/401 invalid_client (RFC 6749 5.2)."""
    f = FAPI1(ctx)
    client = f.client()
    form = {"grant_type": "client_credentials", "scope": "accounts"}
    good = f.token_request(client, form)
    expect(good.status_code == 200, f"the unchanged client assertion (the positive case) "
           f"answered {good.status_code}")
    oauth_refused(f.token_request(client, form, assertion_change=change), (400, 401),
                  ("invalid_client",))


@check("ensure-client-assertion-with-wrong-aud-fails",
       "A client assertion whose aud is another server is refused",
       f"{ADV} 5.2.2-14 (private_key_jwt); RFC 7523, 3 (aud identifies the authorization "
       "server)")
def assertion_wrong_aud(ctx: Context) -> None:
    _assertion_refused(ctx, {"aud": "https://other-server.example/token"})


@check("ensure-client-assertion-with-exp-is-5-minutes-in-past-fails",
       "A client assertion that expired five minutes ago is refused",
       f"{ADV} 5.2.2-14; RFC 7523, 3 (exp)")
def assertion_expired(ctx: Context) -> None:
    now = int(time.time())
    _assertion_refused(ctx, {"iat": now - 360, "exp": now - 300})


@check("ensure-client-assertion-with-no-sub-fails", "A client assertion without sub is refused",
       f"{ADV} 5.2.2-14; RFC 7523, 3 (sub is the client_id)")
def assertion_no_sub(ctx: Context) -> None:
    _assertion_refused(ctx, {"sub": None})


# --- tls_client_auth (RFC 8705, 2.1: the client authenticates with its certificate) -----------

def _tls_registration(f: FAPI1, **overrides):
    """POST /register over MTLS for a tls_client_auth client of the directory's software:
    tls_client_auth_subject_dn the run certificate's subject (RFC 8705, 2.1.2), no
    private_key_jwt signing alg, certificate-bound tokens; `overrides` change claims (None
    removes one)."""
    ssa = f.tpp.get_ssa()
    statement = unverified_claims(ssa)
    f.ctx.state.setdefault("fapi1_org_id", statement.get("org_id"))
    f.ctx.state.setdefault("fapi1_software_id", statement.get("software_id"))
    cert = f.certificate()
    alg = f.tpp.directory().get("alg", "ES256")
    claims = f.tpp.registration_claims(
        ssa, response_types=[HYBRID], dpop_bound_access_tokens=None,
        token_endpoint_auth_method="tls_client_auth", token_endpoint_auth_signing_alg=None,
        tls_client_auth_subject_dn=cert.subject,
        tls_client_certificate_bound_access_tokens=True, request_object_signing_alg=alg,
        id_token_signed_response_alg="PS256")
    claims.update(overrides)
    claims = {k: v for k, v in claims.items() if v is not None}
    f.ctx.note(f"registration request claims: "
               f"{ {k: v for k, v in claims.items() if k != 'software_statement'} }")
    return f.send("POST", f.tpp.discovery()["registration_endpoint"], cert=cert,
                  data=sign(f.tpp.software_key(), claims, alg=alg),
                  headers={"Content-Type": "application/jwt"})


def _tls_client(f: FAPI1) -> str:
    """The run's tls_client_auth client (registered once): its client_id."""
    if "fapi1_tls_client" not in f.ctx.state:
        response = _tls_registration(f)
        expect(response.status_code == 201, f"registration answered {response.status_code}: "
               f"{response.text[:300]}")
        body = response.json()
        expect(body.get("token_endpoint_auth_method") == "tls_client_auth",
               f"token_endpoint_auth_method is {body.get('token_endpoint_auth_method')!r}")
        expect(body.get("tls_client_auth_subject_dn") == f.certificate().subject,
               f"tls_client_auth_subject_dn is {body.get('tls_client_auth_subject_dn')!r}, "
               f"not the certificate's {f.certificate().subject!r}")
        f.ctx.state["fapi1_tls_client"] = body["client_id"]
    return f.ctx.state["fapi1_tls_client"]


def _tls_token(f: FAPI1, client_id: str, cert):
    """client_credentials with nothing but client_id and the certificate (RFC 8705, 2)."""
    return f.send("POST", f.tpp.discovery()["token_endpoint"], cert=cert,
                  data={"grant_type": "client_credentials", "scope": "accounts",
                        "client_id": client_id})


@check("tls-client-auth", "A tls_client_auth client registers over MTLS, gets a token with its "
       "certificate alone, and the token works with that certificate only",
       f"{ADV} 5.2.2-14 (tls_client_auth), 5.2.2-5 (certificate-bound tokens); RFC 8705, 2.1 "
       "and 3; OBIE DCR v3.3 (tls_client_auth_subject_dn)")
def tls_client_auth(ctx: Context) -> None:
    f = FAPI1(ctx)
    client_id = _tls_client(f)
    response = _tls_token(f, client_id, f.certificate())
    expect(response.status_code == 200, f"the token endpoint answered {response.status_code}: "
           f"{response.text[:200]}")
    token = response.json()["access_token"]
    permissions = ctx.config.get("permissions", ["ReadAccountsDetail", "ReadBalances"])
    body = {"Data": {"Permissions": permissions}, "Risk": {}}
    created = f.resource("POST", CONSENTS, token, json=body)
    expect(created.status_code == 201, f"a consent with the token and its certificate answered "
           f"{created.status_code}")
    other = f.resource("POST", CONSENTS, token, cert=f.certificate("other_cert"), json=body)
    expect(other.status_code == 401, f"the token with another certificate answered "
           f"{other.status_code}, not 401")


@check("tls-client-auth-ensure-certificate-required",
       "A tls_client_auth client gets no token without its certificate, or with another one",
       f"{ADV} 5.2.2-14; RFC 8705, 2 (the certificate authenticates the client); RFC 6749, "
       "5.2 (invalid_client)")
def tls_client_auth_certificate_required(ctx: Context) -> None:
    f = FAPI1(ctx)
    client_id = _tls_client(f)
    oauth_refused(_tls_token(f, client_id, None), (400, 401), ("invalid_client",))
    oauth_refused(_tls_token(f, client_id, f.certificate("other_cert")), (400, 401),
                  ("invalid_client",))


@check("tls-client-auth-registration-without-subject-dn-fails",
       "Registering tls_client_auth without tls_client_auth_subject_dn is refused",
       "RFC 8705, 2.1.2 (one subject metadata value); RFC 7591, 3.2.2 (invalid_client_metadata)")
def tls_registration_without_dn(ctx: Context) -> None:
    f = FAPI1(ctx)
    oauth_refused(_tls_registration(f, tls_client_auth_subject_dn=None), (400,),
                  ("invalid_client_metadata",))


@check("tls-client-auth-registration-with-another-organisation-fails",
       "Registering a tls_client_auth_subject_dn of another organisation is refused",
       "OBIE DCR v3.3 (the subject DN names the SSA's organisation: OU = org_id); RFC 7591, "
       "3.2.2 (invalid_client_metadata)")
def tls_registration_other_organisation(ctx: Context) -> None:
    f = FAPI1(ctx)
    oauth_refused(_tls_registration(
        f, tls_client_auth_subject_dn="CN=someone-else,OU=0015800001ZZZZZZZZ,O=Other TPP,C=GB"),
        (400,), ("invalid_client_metadata", "unapproved_software_statement"))


@check("tls-client-auth-registration-subject-dn-with-private-key-jwt-fails",
       "tls_client_auth_subject_dn with private_key_jwt is refused",
       "RFC 8705, 2.1.2 (subject metadata for tls_client_auth); RFC 7591, 3.2.2 "
       "(invalid_client_metadata)")
def tls_registration_dn_with_private_key_jwt(ctx: Context) -> None:
    f = FAPI1(ctx)
    alg = f.tpp.directory().get("alg", "ES256")
    oauth_refused(_tls_registration(f, token_endpoint_auth_method="private_key_jwt",
                                    token_endpoint_auth_signing_alg=alg), (400,),
                  ("invalid_client_metadata",))
