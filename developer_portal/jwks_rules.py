"""The rules an app's public keys follow, and the key pairs the portal generates.

An app's JWKS (PortalApp.jwks) holds public signing keys only: each a JWK with its own kid,
use "sig" (or no use), RSA of at least 2048 bits or EC P-256 (aspsp.oauth.trust.strong_enough,
the FAPI sizes the bank accepts). The same rules as the sandbox directory's, kept here because
the portal never imports the sandbox.

A generated key pair's private half leaves the server once, in the answer that generated it,
and is never stored or logged: `generate` returns it to the caller, the app keeps only
`public_jwk`.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from jwcrypto import jwk
from jwcrypto.common import JWException

from aspsp.oauth.trust import strong_enough

ALGORITHMS = {"ES256": ("EC", "P-256"), "PS256": ("RSA", 2048)}
KID = re.compile(r"^[\x21-\x7e]{1,64}$")        # printable ASCII, no spaces
MAX_KEYS = 10
MAX_JWKS_CHARS = 40_000
# What a public JWK may carry: private members (d, p, q, dp, dq, qi, oth, k) never.
PUBLIC_MEMBERS = {"kty", "kid", "use", "alg", "key_ops", "n", "e", "crv", "x", "y",
                  "x5c", "x5t", "x5t#S256", "x5u"}
PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


class KeyRefused(ValueError):
    """A key or JWKS the portal refuses; the message says what to change."""


def parse_jwks(text: str) -> list[dict]:
    """The keys of an uploaded JWKS (JSON text), each checked; or a single JWK."""
    text = (text or "").strip()
    if not text:
        raise KeyRefused("paste a JWKS: {\"keys\": [...]} with your public keys")
    if len(text) > MAX_JWKS_CHARS:
        raise KeyRefused(f"the JWKS is too long (at most {MAX_JWKS_CHARS} characters)")
    try:
        data = json.loads(text)
    except ValueError:
        raise KeyRefused("the JWKS is not valid JSON") from None
    if isinstance(data, dict) and "kty" in data and "keys" not in data:
        data = {"keys": [data]}
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise KeyRefused('the JWKS must be {"keys": [...]} with at least one key')
    if len(data["keys"]) > MAX_KEYS:
        raise KeyRefused(f"a JWKS may hold at most {MAX_KEYS} keys")
    return [public_key(item) for item in data["keys"]]


def public_key(data) -> dict:
    """One public signing key as the app will publish it; KeyRefused when it is private,
    unnamed, weak, not for signing or not a JWK."""
    if not isinstance(data, dict):
        raise KeyRefused("every key of the JWKS must be a JSON object (a JWK)")
    if PRIVATE_MEMBERS & set(data):
        raise KeyRefused("the JWKS must hold public keys only: a private key was given. "
                         "Never share your private key, with us or anyone")
    kid = data.get("kid")
    if not isinstance(kid, str) or not kid:
        raise KeyRefused("every key needs a kid")
    if not KID.match(kid):
        raise KeyRefused("a kid is 1 to 64 printable characters without spaces")
    if data.get("use", "sig") != "sig":
        raise KeyRefused(f"key {kid}: only signing keys (use sig) are accepted")
    ops = data.get("key_ops")
    if ops is not None and (not isinstance(ops, list) or not set(ops) <= {"verify"}):
        raise KeyRefused(f"key {kid}: key_ops may only be [\"verify\"] for a public signing key")
    try:
        key = jwk.JWK(**data)
        key.get_op_key("verify")             # builds the key: a point off the curve fails
    except (JWException, ValueError, TypeError):
        raise KeyRefused(f"key {kid} is not a valid JWK") from None
    if key.has_private:
        raise KeyRefused("the JWKS must hold public keys only: a private key was given")
    if not strong_enough(key):
        raise KeyRefused(f"key {kid}: keys must be RSA of at least 2048 bits or EC P-256")
    alg = data.get("alg")
    if alg is not None and alg not in ALGORITHMS:
        raise KeyRefused(f"key {kid}: alg must be {' or '.join(ALGORITHMS)}")
    if alg is not None and ALGORITHMS[alg][0] != data.get("kty"):
        raise KeyRefused(f"key {kid}: alg {alg} does not fit a {data.get('kty')} key")
    return {k: v for k, v in data.items() if k in PUBLIC_MEMBERS}


def merged(existing: list[dict], added: list[dict]) -> list[dict]:
    """The app's keys with `added` after them; refused on a repeated kid."""
    kids = [k.get("kid") for k in existing]
    for key in added:
        if key["kid"] in kids:
            raise KeyRefused(f"the app already has a key with kid {key['kid']}: every key "
                             "needs its own kid")
        kids.append(key["kid"])
    if len(kids) > MAX_KEYS:
        raise KeyRefused(f"an app may hold at most {MAX_KEYS} keys: revoke an old one first")
    return [*existing, *added]


@dataclass(frozen=True)
class GeneratedKey:
    """A fresh key pair: `public_jwk` is kept, `private_pem`/`private_jwk` leave once."""
    kid: str
    alg: str
    public_jwk: dict
    private_pem: str
    private_jwk: str

    def __repr__(self) -> str:          # never print the private half by accident
        return f"GeneratedKey(kid={self.kid!r}, alg={self.alg!r})"


def generate(alg: str) -> GeneratedKey:
    """An EC P-256 (ES256) or RSA 2048 (PS256) key pair, its kid the RFC 7638 thumbprint."""
    if alg not in ALGORITHMS:
        raise KeyRefused(f"choose {' or '.join(ALGORITHMS)}")
    kty, size = ALGORITHMS[alg]
    key = jwk.JWK.generate(kty="EC", crv=size) if kty == "EC" \
        else jwk.JWK.generate(kty="RSA", size=size)
    kid = key.thumbprint()
    public = {**json.loads(key.export_public()), "kid": kid, "use": "sig", "alg": alg}
    private = {**key.export_private(as_dict=True), "kid": kid, "use": "sig", "alg": alg}
    pem = key.get_op_key("sign").private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()).decode()
    return GeneratedKey(kid=kid, alg=alg, public_jwk=public_key(public), private_pem=pem,
                        private_jwk=json.dumps(private, indent=2))


def describe(key: dict) -> str:
    """A key in a few words: 'EC P-256', 'RSA 2048'."""
    if key.get("kty") == "EC":
        return f"EC {key.get('crv', '')}".strip()
    if key.get("kty") == "RSA":
        try:
            return f"RSA {jwk.JWK(**key).get_op_key('verify').key_size}"
        except (JWException, ValueError, TypeError):
            return "RSA"
    return str(key.get("kty", "?"))
