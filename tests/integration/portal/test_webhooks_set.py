"""The webhooks page's reading of a SET (developer_portal.webhooks.decode_set), without a
database: decoded whatever its signature, valid only when a published key verifies it."""
from __future__ import annotations

import base64
import json

from jwcrypto import jwk, jws
from jwcrypto.common import json_encode

from developer_portal.webhooks import decode_set

CLAIMS = {"iss": "https://bank.example", "jti": "j-1", "aud": "client-1",
          "events": {"urn:uk:org:openbanking:events:resource-update": {}}}


def _key(kid: str) -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=2048, kid=kid)


def _sign(key: jwk.JWK, claims: dict, alg: str = "PS256") -> str:
    kid = json.loads(key.export_public())["kid"]
    token = jws.JWS(json_encode(claims))
    token.add_signature(key, alg, protected=json_encode(
        {"alg": alg, "kid": kid, "typ": "secevent+jwt"}))
    return token.serialize(compact=True)


def _jwks(*keys: jwk.JWK) -> dict:
    return {"keys": [dict(json.loads(k.export_public()), use="sig") for k in keys]}


def _b64(value: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()


KEY = _key("bank-1")


def test_a_set_signed_by_a_published_key_is_valid_and_names_its_kid():
    view = decode_set(_sign(KEY, CLAIMS), _jwks(_key("other"), KEY))
    assert view.valid and view.kid == "bank-1"
    assert view.verdict == "valid: signed PS256 by the bank's published key bank-1"
    assert view.claims == CLAIMS and view.header["typ"] == "secevent+jwt"
    assert '"jti": "j-1"' in view.claims_json


def test_a_tampered_set_is_shown_decoded_but_invalid():
    header, _, signature = _sign(KEY, CLAIMS).split(".")
    forged = dict(CLAIMS, aud="someone-else")
    view = decode_set(f"{header}.{_b64(forged)}.{signature}", _jwks(KEY))
    assert not view.valid and view.kid == "bank-1"
    assert view.verdict == "invalid: the signature does not verify"
    assert view.claims["aud"] == "someone-else"          # what it claims, shown


def test_a_set_signed_by_an_unpublished_key_is_invalid():
    view = decode_set(_sign(_key("rogue"), CLAIMS), _jwks(KEY))
    assert not view.valid and view.kid == "rogue"
    assert view.verdict == "invalid: no key of the JWKS matches the JWS kid"


def test_a_set_of_another_algorithm_or_no_jws_at_all_is_invalid():
    ec = jwk.JWK.generate(kty="EC", crv="P-256", kid="ec-1")
    assert decode_set(_sign(ec, CLAIMS, "ES256"), _jwks(ec)).verdict.startswith(
        "invalid: alg must be one of PS256")
    view = decode_set("not a token", _jwks(KEY))
    assert not view.valid and view.header is None and view.claims_json == "(not JSON)"
