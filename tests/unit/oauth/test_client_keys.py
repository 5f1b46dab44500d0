"""The per-process cache of parsed client keys (aspsp.oauth.clients): an entry is used only
while the client's registration_version and JWKS are the ones it was parsed from, and the
verification through it makes the same checks as trust.verify_jws. No I/O: the clients are
rows that never meet a database, with their keys inline."""
from __future__ import annotations

import json
import time
import uuid

import pytest
from flask import Flask
from jwcrypto import jwk, jws, jwt

from aspsp.oauth import clients
from aspsp.oauth.clients import (Client, ClientKeyCache, _JWS, parse_compact_jws,
                                 verify_client_jws)
from aspsp.oauth.models import OAuthClient
from aspsp.oauth.trust import InvalidSignature, verify_jws

EC_KEY = jwk.JWK.generate(kty="EC", crv="P-256", kid="k1")


def public(key: jwk.JWK, **extra) -> dict:
    return {**json.loads(key.export_public()), "use": "sig", **extra}


def jwks_of(*keys: jwk.JWK) -> dict:
    return {"keys": [public(k) for k in keys]}


def client(jwks: dict, *, pk: int = 1, version: int = 1) -> Client:
    return Client(OAuthClient(id=pk, client_id=f"c{pk}", client_metadata={"jwks": jwks},
                              registration_version=version))


def signed(key: jwk.JWK, *, alg: str = "ES256", kid: str | None = "k1", claims=None) -> str:
    header = {"alg": alg, **({"kid": kid} if kid else {})}
    token = jwt.JWT(header=header, claims=claims or {"sub": "c1", "jti": uuid.uuid4().hex,
                                                     "exp": int(time.time()) + 60})
    token.make_signed_token(key)
    return token.serialize()


@pytest.fixture(autouse=True)
def fresh_cache():
    """An app of its own: the cache lives on the app (one per process)."""
    with Flask(__name__).app_context():
        yield clients.key_cache()


def test_keys_are_parsed_once_per_version(fresh_cache):
    c = client(jwks_of(EC_KEY))
    for _ in range(3):
        assert verify_client_jws(None, c, signed(EC_KEY)).claims["sub"] == "c1"
    assert fresh_cache.parses == 1


def test_a_new_version_with_new_keys_is_parsed_and_the_old_key_refused(fresh_cache):
    assert verify_client_jws(None, client(jwks_of(EC_KEY)), signed(EC_KEY))
    rotated = jwk.JWK.generate(kty="EC", crv="P-256", kid="k2")
    after = client(jwks_of(rotated), version=2)
    with pytest.raises(InvalidSignature, match="no key of the JWKS matches"):
        verify_client_jws(None, after, signed(EC_KEY))
    assert verify_client_jws(None, after, signed(rotated, kid="k2"))
    assert fresh_cache.parses == 2
    assert len(fresh_cache) == 1          # one entry per client: the old keys are gone


def test_same_version_but_other_keys_is_never_served_from_the_cache(fresh_cache):
    """A version number can come back (an update rolled back, then another made): the entry
    is used only when the JWKS is equal too."""
    assert verify_client_jws(None, client(jwks_of(EC_KEY)), signed(EC_KEY))
    other = jwk.JWK.generate(kty="EC", crv="P-256", kid="k1")
    with pytest.raises(InvalidSignature, match="the signature does not verify"):
        verify_client_jws(None, client(jwks_of(other)), signed(EC_KEY))
    assert fresh_cache.parses == 2


def test_changing_the_registered_dict_afterwards_does_not_change_the_entry(fresh_cache):
    registered = jwks_of(EC_KEY)
    c = client(registered)
    verify_client_jws(None, c, signed(EC_KEY))
    registered["keys"].clear()              # the entry keeps its own copy of what it parsed
    with pytest.raises(InvalidSignature, match="no key of the JWKS matches"):
        verify_client_jws(None, c, signed(EC_KEY))


def test_clients_do_not_share_entries(fresh_cache):
    other = jwk.JWK.generate(kty="EC", crv="P-256", kid="k1")
    verify_client_jws(None, client(jwks_of(EC_KEY), pk=1), signed(EC_KEY))
    with pytest.raises(InvalidSignature):
        verify_client_jws(None, client(jwks_of(other), pk=2), signed(EC_KEY))


def test_the_cache_is_bounded_least_recently_used_first():
    cache = ClientKeyCache(max_entries=2)
    for pk in (1, 2, 1, 3):
        cache.get(("client", pk), jwks_of(EC_KEY), 1)
    assert cache.parses == 3 and len(cache) == 2
    cache.get(("client", 1), jwks_of(EC_KEY), 1)     # kept: used more recently than 2
    assert cache.parses == 3
    cache.get(("client", 2), jwks_of(EC_KEY), 1)     # dropped: parsed again
    assert cache.parses == 4


def test_each_app_has_its_own_cache(fresh_cache):
    with Flask("another").app_context():
        assert clients.key_cache() is not fresh_cache
    assert clients.key_cache() is fresh_cache


@pytest.mark.parametrize("case, expected", [
    ("alg", "alg must be one of ES256"),
    ("kid", "no key of the JWKS matches the JWS kid"),
    ("weak", "the signature does not verify"),
    ("private", "no key of the JWKS matches the JWS kid"),
    ("not sig", "no key of the JWKS matches the JWS kid"),
    ("payload", "the JWS payload is not a JSON object"),
])
def test_the_same_refusals_as_verify_jws(case, expected):
    key, jwks, token = EC_KEY, jwks_of(EC_KEY), None
    if case == "alg":
        token = signed(jwk.JWK.generate(kty="RSA", size=2048, kid="k1"), alg="PS256")
    elif case == "kid":
        token = signed(EC_KEY, kid="k9")
    elif case == "weak":
        key = jwk.JWK.generate(kty="RSA", size=1024, kid="k1")
        jwks, token = jwks_of(key), signed(key, alg="PS256")
    elif case == "private":
        jwks = {"keys": [{**json.loads(EC_KEY.export_private()), "use": "sig"}]}
    elif case == "not sig":
        jwks = {"keys": [public(EC_KEY, use="enc")]}
    elif case == "payload":
        raw = jws.JWS(b"[1, 2]")
        raw.add_signature(EC_KEY, alg="ES256", protected=json.dumps({"alg": "ES256",
                                                                     "kid": "k1"}))
        token = raw.serialize(compact=True)
    token = token or signed(EC_KEY)
    algorithms = ("ES256",) if case == "alg" else ("PS256", "ES256")
    with pytest.raises(InvalidSignature) as ours:
        verify_client_jws(None, client(jwks), token, algorithms=algorithms)
    with pytest.raises(InvalidSignature) as reference:
        verify_jws(token, jwks, algorithms=algorithms)
    assert str(ours.value) == str(reference.value) == expected


@pytest.mark.parametrize("token", ["", "a.b", "not.a.jws", "W10.e30.AAAA",
                                   "x" * 40 + ".." + "y", "[" * 5000 + ".e30.e30"])
def test_malformed_tokens_are_refused_as_trust_refuses_them(token):
    from aspsp.oauth.trust import parse_jws
    with pytest.raises(InvalidSignature) as ours:
        parse_compact_jws(token)
    with pytest.raises(InvalidSignature) as reference:
        parse_jws(token)
    assert str(ours.value) == str(reference.value)


def test_a_payload_signed_for_someone_else_does_not_verify():
    header, _, signature = signed(EC_KEY).split(".")
    _, forged_payload, _ = signed(EC_KEY, claims={"sub": "someone-else"}).split(".")
    with pytest.raises(InvalidSignature, match="the signature does not verify"):
        verify_client_jws(None, client(jwks_of(EC_KEY)), f"{header}.{forged_payload}.{signature}")


def test_the_shared_registry_jws_is_set_up_as_jwcrypto_sets_up_its_own():
    """_JWS skips only the deep copy of the header registry: if a jwcrypto upgrade sets up
    anything more in JWS.__init__, this fails before a verification can misbehave."""
    ours, theirs = _JWS(), jws.JWS()
    assert set(vars(ours)) == set(vars(theirs))
    assert {k: v for k, v in vars(ours).items() if k != "header_registry"} == \
        {k: v for k, v in vars(theirs).items() if k != "header_registry"}
    assert dict(ours.header_registry._registry) == dict(theirs.header_registry._registry)


def test_a_crit_header_jwcrypto_does_not_support_is_still_refused():
    """Signed correctly, but naming a critical extension nobody here understands (RFC 7515
    §4.1.11): jwcrypto refuses it through the (shared) header registry."""
    header = json.dumps({"alg": "ES256", "kid": "k1", "crit": ["x-unknown"], "x-unknown": 1})
    core = jws.JWSCore("ES256", EC_KEY, header, json.dumps({"sub": "c1"}).encode())
    parts = core.sign()
    token = f"{parts['protected']}.{parts['payload'].decode()}.{parts['signature']}"
    with pytest.raises(InvalidSignature):
        verify_client_jws(None, client(jwks_of(EC_KEY)), token)
    with pytest.raises(InvalidSignature):
        verify_jws(token, jwks_of(EC_KEY))
