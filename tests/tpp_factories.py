"""The TPP's side of dynamic registration, for tests: an organisation and software statement in
the sandbox directory with a freshly generated key pair, an SSA, and registration request JWTs
signed with the software's key."""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from aspsp.oauth.keys import generate_jwk, public_jwk
from sandbox import directory
from tests.oauth_factories import TestClient, dpop_proof

DROP = object()   # a claim to leave out of a registration request


@dataclass
class Tpp:
    org_id: str
    software_id: str
    key: jwk.JWK          # the software's private signing key
    kid: str
    alg: str
    redirect_uris: list[str]

    @property
    def public_jwks(self) -> dict:
        return {"keys": [public_jwk(self.key, self.kid, self.alg)]}


def tpp(uow, *, now, roles=("AISP", "PISP", "CBPII"), org_roles=None,
        redirect_uris=("https://tpp.example/callback", "https://tpp.example/other"),
        alg: str = "PS256", name: str = "Moneywise") -> Tpp:
    generated = generate_jwk(alg)
    kid = generated.thumbprint()
    key = jwk.JWK(**dict(json.loads(generated.export_private()), kid=kid))
    org = directory.create_organisation(uow, name=f"{name} Ltd", competent_authority="GB:FCA",
                                        authorisation_id="123456", roles=org_roles or roles,
                                        now=now)
    software = directory.create_software(uow, org_id=org.org_id, client_name=name,
                                         redirect_uris=list(redirect_uris), roles=roles,
                                         jwks={"keys": [public_jwk(key, kid, alg)]},
                                         client_description="Budgeting app",
                                         client_uri="https://tpp.example", now=now)
    return Tpp(org.org_id, software.software_id, key, kid, alg, list(redirect_uris))


def issue_ssa(uow, app, software_id: str, *, now) -> str:
    return directory.issue_ssa(uow, software_id, now=now, issuer=app.config["ISSUER"],
                               keyring=app.extensions["aspsp"].keyring)


def sign(claims: dict, key: jwk.JWK, *, alg: str, kid: str | None, typ: str = "JWT") -> str:
    header = {"alg": alg, "typ": typ}
    if kid is not None:
        header["kid"] = kid
    token = jws.JWS(json_encode(claims))
    token.add_signature(key, alg=alg, protected=json_encode(header))
    return token.serialize(compact=True)


def registration_claims(tpp: Tpp, ssa: str, *, issuer: str, now, **overrides) -> dict:
    iat = int(now.timestamp())
    claims = {
        "iss": tpp.software_id,
        "aud": issuer,
        "iat": iat,
        "exp": iat + 300,
        "jti": str(uuid.uuid4()),
        "redirect_uris": [tpp.redirect_uris[0]],
        "token_endpoint_auth_method": "private_key_jwt",
        "token_endpoint_auth_signing_alg": tpp.alg,
        "grant_types": ["client_credentials", "authorization_code", "refresh_token"],
        "response_types": ["code id_token"],
        "scope": "openid accounts payments fundsconfirmations",
        "application_type": "web",
        "id_token_signed_response_alg": "PS256",
        "request_object_signing_alg": tpp.alg,
        "software_statement": ssa,
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not DROP}


def registration_jwt(tpp: Tpp, ssa: str, *, issuer: str, now, key: jwk.JWK | None = None,
                     alg: str | None = None, kid: str | None = DROP, **overrides) -> str:
    """A registration request signed with the software key (or `key`, to test refusals)."""
    claims = registration_claims(tpp, ssa, issuer=issuer, now=now, **overrides)
    return sign(claims, key or tpp.key, alg=alg or tpp.alg,
                kid=tpp.kid if kid is DROP else kid)


def post_registration(http, token: str):
    return http.post("/register", data=token, content_type="application/jwt")


def as_test_client(row, tpp: Tpp) -> TestClient:
    """The registered client as tests.oauth_factories knows clients (for dpop_token)."""
    return TestClient(row, tpp.key, jwk.JWK.generate(kty="EC", crv="P-256"))


def dpop_headers(client: TestClient, access_token: str, method: str, url: str, *, now) -> dict:
    """Authorization + DPoP headers with the proof dated by the platform's (frozen) clock."""
    return {"Authorization": f"DPoP {access_token}",
            "DPoP": dpop_proof(client.dpop_key, method, url, access_token=access_token,
                               iat=int(now.timestamp()))}


def jwks_json(jwks: dict) -> bytes:
    return json.dumps(jwks).encode()
