"""ID tokens: signed by the ASPSP's current key, with the Open Banking and FAPI claims."""
from __future__ import annotations

import base64
import hashlib
from datetime import datetime

from jwcrypto import jwt

from .. import platform
from ..db import UnitOfWork
from . import keys

ID_TOKEN_TTL = 600


def half_hash(value: str) -> str:
    """c_hash / s_hash / at_hash for PS256/ES256: left half of SHA-256, base64url."""
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def sign_jwt(uow: UnitOfWork, claims: dict, *, now: datetime, typ: str = "JWT",
             alg: str = "PS256") -> str:
    p = platform.current()
    kid, key = keys.signing_key(uow, "aspsp", keyring=p.keyring, now=now, alg=alg)
    token = jwt.JWT(header={"alg": alg, "kid": kid, "typ": typ}, claims=claims)
    token.make_signed_token(key)
    return token.serialize()


def id_token(uow: UnitOfWork, *, client_id: str, sub: str, consent_id: str | None,
             auth_time: datetime, acr: str, now: datetime, nonce: str | None = None,
             code: str | None = None, state: str | None = None,
             access_token: str | None = None, alg: str = "PS256") -> str:
    """`sub` as aspsp.oauth.subjects.sub_of gives it; `openbanking_intent_id` the consent's
    id, absent for a sign-in (no consent)."""
    issuer = platform.current().config["ISSUER"]
    claims = {"iss": issuer, "sub": sub, "aud": client_id,
              "iat": int(now.timestamp()), "exp": int(now.timestamp()) + ID_TOKEN_TTL,
              "auth_time": int(auth_time.timestamp()), "acr": acr}
    if consent_id:
        claims["openbanking_intent_id"] = consent_id
    if nonce:
        claims["nonce"] = nonce
    if code:
        claims["c_hash"] = half_hash(code)
    if state:
        claims["s_hash"] = half_hash(state)
    if access_token:
        claims["at_hash"] = half_hash(access_token)
    return sign_jwt(uow, claims, now=now, alg=alg)
