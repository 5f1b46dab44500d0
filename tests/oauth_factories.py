"""Test builders for OAuth clients, sender-constrained tokens and DPoP proofs."""
from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from aspsp.ids import new_id
from aspsp.oauth import tokens
from aspsp.oauth.dpop import b64url_sha256
from aspsp.oauth.models import OAuthClient


@dataclass
class TestClient:
    row: OAuthClient
    signing_key: jwk.JWK      # the client's private key (registered public part in its jwks)
    dpop_key: jwk.JWK

    @property
    def client_id(self) -> str:
        return self.row.client_id


def make_client(uow, *, now, roles=("AISP", "PISP", "CBPII"), profile="fapi2",
                name="Test TPP", redirect_uris=("https://tpp.example/callback",),
                auth_method="private_key_jwt") -> TestClient:
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid=uuid.uuid4().hex)
    public = json.loads(key.export_public())
    public.update(use="sig", alg="ES256")
    metadata = {
        "redirect_uris": list(redirect_uris),
        "token_endpoint_auth_method": auth_method,
        "token_endpoint_auth_signing_alg": "ES256",
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types": ["code"] if profile == "fapi2" else ["code id_token"],
        "id_token_signed_response_alg": "PS256",
        "request_object_signing_alg": "ES256",
        "scope": "openid accounts payments fundsconfirmations",
        "jwks": {"keys": [public]},
        "application_type": "web",
    }
    row = OAuthClient(client_id=new_id(), software_id=uuid.uuid4().hex[:22],
                      org_id=uuid.uuid4().hex[:18], client_name=name, profile=profile,
                      roles=list(roles), client_metadata=metadata, software_statement="",
                      created_at=now, updated_at=now)
    uow.session.add(row)
    uow.session.flush()
    return TestClient(row, key, jwk.JWK.generate(kty="EC", crv="P-256"))


def dpop_proof(key: jwk.JWK, method: str, url: str, *, access_token: str | None = None,
               iat: int | None = None, jti: str | None = None, typ: str = "dpop+jwt",
               alg: str = "ES256") -> str:
    claims = {"jti": jti or uuid.uuid4().hex, "htm": method, "htu": url,
              "iat": int(time.time()) if iat is None else iat}
    if access_token is not None:
        claims["ath"] = b64url_sha256(access_token)
    token = jws.JWS(json_encode(claims))
    token.add_signature(key, alg=alg, protected=json_encode(
        {"typ": typ, "alg": alg, "jwk": json.loads(key.export_public())}))
    return token.serialize(compact=True)


def dpop_token(uow, client: TestClient, *, now, scope="accounts",
               grant_type="client_credentials", consent_pk=None, psu_pk=None, ttl=600):
    """An access token bound to the client's DPoP key, as the token endpoint would issue."""
    return tokens.issue_tokens(uow, client=client.row, grant_type=grant_type, scope=scope,
                               now=now, ttl=ttl, consent_pk=consent_pk, psu_pk=psu_pk,
                               cnf_jkt=client.dpop_key.thumbprint())


def dpop_headers(client: TestClient, access_token: str, method: str, url: str) -> dict:
    """Authorization + DPoP headers for a resource request to `url` (absolute)."""
    return {"Authorization": f"DPoP {access_token}",
            "DPoP": dpop_proof(client.dpop_key, method, url, access_token=access_token)}
