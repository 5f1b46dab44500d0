"""The TPP's side of the protocol, for tests: client assertions, request objects, PAR,
DPoP-bound token requests, all against the Flask test client."""
from __future__ import annotations

import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from authlib.oauth2.rfc7636 import create_s256_code_challenge
from jwcrypto import jwt

from tests.oauth_factories import TestClient, dpop_proof

ISSUER = "http://localhost"  # tests.conftest.TEST_ISSUER
HOST = "http://localhost"  # request.base_url under the Flask test client
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def sign(key, claims: dict, *, alg: str = "ES256", headers: dict | None = None) -> str:
    header = {"alg": alg, "kid": key.get("kid"), "typ": "JWT", **(headers or {})}
    token = jwt.JWT(header=header, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def unsigned(claims: dict) -> str:
    import base64
    enc = lambda d: base64.urlsafe_b64encode(json.dumps(d).encode()).rstrip(b"=").decode()
    return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc(claims)}."


class Tpp:
    def __init__(self, http, client: TestClient, *, clock=None, issuer: str = ISSUER):
        self.http, self.client, self.issuer, self.clock = http, client, issuer, clock

    def now(self) -> int:
        return int(self.clock.now().timestamp()) if self.clock else int(time.time())

    @property
    def client_id(self) -> str:
        return self.client.client_id

    # client authentication ------------------------------------------------------------
    def assertion(self, **overrides) -> str:
        now = self.now()
        claims = {"iss": self.client_id, "sub": self.client_id, "aud": self.issuer,
                  "jti": uuid.uuid4().hex, "iat": now, "exp": now + 60}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return sign(self.client.signing_key, claims)

    def auth_form(self, **assertion_overrides) -> dict:
        return {"client_assertion_type": JWT_BEARER,
                "client_assertion": self.assertion(**assertion_overrides)}

    def dpop(self, method: str, path: str, **kw) -> str:
        kw.setdefault("iat", self.now())
        return dpop_proof(self.client.dpop_key, method, HOST + path, **kw)

    # token endpoint -------------------------------------------------------------------
    def token(self, form: dict, *, dpop: bool = True, headers: dict | None = None, **assertion):
        headers = dict(headers or {})
        if dpop:
            headers["DPoP"] = self.dpop("POST", "/token")
        return self.http.post("/token", data={**self.auth_form(**assertion), **form},
                              headers=headers)

    def client_credentials(self, scope: str = "accounts", **kw):
        return self.token({"grant_type": "client_credentials", "scope": scope}, **kw)

    # authorization request --------------------------------------------------------------
    def request_params(self, consent_id: str, *, verifier: str, **overrides) -> dict:
        fapi2 = self.client.row.profile == "fapi2"
        params = {
            "client_id": self.client_id, "response_type": "code" if fapi2 else "code id_token",
            "redirect_uri": self.client.row.client_metadata["redirect_uris"][0],
            "scope": "openid accounts", "state": uuid.uuid4().hex, "nonce": uuid.uuid4().hex,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
            "claims": {"id_token": {"openbanking_intent_id": {"value": consent_id,
                                                               "essential": True},
                                    "acr": {"essential": True,
                                            "values": ["urn:openbanking:psd2:sca"]}}},
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v is not None}

    def request_object(self, params: dict, *, alg: str = "ES256", key=None, **overrides) -> str:
        now = self.now()
        claims = {"iss": self.client_id, "aud": self.issuer, "nbf": now, "exp": now + 300,
                  "iat": now, "jti": uuid.uuid4().hex, **params}
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        return sign(key or self.client.signing_key, claims, alg=alg)

    def par(self, form: dict, *, dpop: bool = True):
        headers = {"DPoP": self.dpop("POST", "/par")} if dpop else {}
        body = {**self.auth_form(), **{k: (json.dumps(v) if isinstance(v, dict) else v)
                                       for k, v in form.items()}}
        return self.http.post("/par", data=body, headers=headers)


def pkce_verifier() -> str:
    return uuid.uuid4().hex + uuid.uuid4().hex


def redirect_params(location: str) -> dict:
    parts = urlsplit(location)
    raw = parts.fragment or parts.query
    return {k: v[0] for k, v in parse_qs(raw).items()}
