"""DPoP proofs reuse what this process has already parsed (aspsp.oauth.dpop): a proof key's
parsed JWK and thumbprint, and jwcrypto's JWS header registry. Reuse must never let one proof
pass on another's key, never keep a key that failed its checks, and never share per-proof
state between proofs."""
from __future__ import annotations

import json
import time
import uuid
from datetime import datetime, timezone

import pytest
from jwcrypto import jwk, jws
from jwcrypto.common import base64url_encode, json_encode

from aspsp.oauth import dpop
from aspsp.oauth.dpop import InvalidDPoPProof, verify_proof
from aspsp.oauth.replay import InProcessReplayCache

URL = "https://bank.example/open-banking/v3.1/aisp/accounts"


def proof(signing_key: jwk.JWK, *, header_key: jwk.JWK | None = None, jti=None) -> str:
    """A proof signed by `signing_key`, naming `header_key` (default: the same) in its jwk."""
    claims = {"jti": jti or uuid.uuid4().hex, "htm": "GET", "htu": URL, "iat": int(time.time())}
    token = jws.JWS(json_encode(claims))
    token.add_signature(signing_key, alg="ES256", protected=json_encode(
        {"typ": "dpop+jwt", "alg": "ES256",
         "jwk": json.loads((header_key or signing_key).export_public())}))
    return token.serialize(compact=True)


def verify(value: str):
    return verify_proof(value, method="GET", url=URL, now=datetime.now(timezone.utc),
                        replay=InProcessReplayCache())


def test_the_same_key_verifies_again_with_its_own_thumbprint():
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    assert verify(proof(key)).jkt == key.thumbprint()
    assert verify(proof(key)).jkt == key.thumbprint()       # the second from the cache


def test_a_proof_naming_a_cached_key_but_signed_by_another_is_refused():
    named, signer = jwk.JWK.generate(kty="EC", crv="P-256"), jwk.JWK.generate(kty="EC",
                                                                               crv="P-256")
    verify(proof(named))                                    # `named` is now cached
    with pytest.raises(InvalidDPoPProof, match="signature is invalid"):
        verify(proof(signer, header_key=named))


def test_a_key_that_fails_its_checks_is_refused_every_time():
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    members = json.loads(key.export_public())
    members["x"] = base64url_encode(b"\x01" * 32)              # not a point on the curve
    for _ in range(2):
        with pytest.raises(InvalidDPoPProof, match="jwk is invalid"):
            dpop.public_key_and_thumbprint(dict(members))


def test_members_that_differ_in_any_way_are_different_keys():
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    members = json.loads(key.export_public())
    cached, jkt = dpop.public_key_and_thumbprint(members)
    with_kid, jkt_with_kid = dpop.public_key_and_thumbprint({**members, "kid": "k1"})
    assert with_kid is not cached and with_kid.get("kid") == "k1"
    assert jkt == jkt_with_kid == key.thumbprint()         # RFC 7638: required members only


def test_a_key_with_members_that_are_not_strings_is_checked_without_the_cache():
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    members = {**json.loads(key.export_public()), "key_ops": ["verify"]}
    parsed, jkt = dpop.public_key_and_thumbprint(members)
    assert jkt == key.thumbprint() and parsed.get("key_ops") == ["verify"]


def test_proofs_share_only_the_read_only_header_registry():
    """jwcrypto's JWS holds exactly these attributes (a new version that adds one must be
    looked at before proofs share anything), and each proof's JWS has its own objects."""
    assert set(vars(jws.JWS())) == dpop.JWS_STATE
    first, second = dpop._new_jws(), dpop._new_jws()
    assert first.objects is not second.objects and first.objects == {"payload": None}
    assert first.header_registry is second.header_registry
    before = dict(first.header_registry)
    key = jwk.JWK.generate(kty="EC", crv="P-256")
    verify(proof(key))
    assert dict(dpop._new_jws().header_registry) == before
