"""DPoP proofs (RFC 9449): a JWT signed by the client's key over the HTTP method and URL."""
from __future__ import annotations

import base64
import copy
import functools
import hashlib
import json
import math
from urllib.parse import quote, unquote, urlsplit, urlunsplit
from dataclasses import dataclass
from datetime import datetime

from jwcrypto import jwk, jws
from jwcrypto.common import JWException

from .. import jsonsafe
from .replay import ReplayCache

ALGORITHMS = ("PS256", "ES256")
MAX_AGE_SECONDS = 60       # a proof older than this is refused
MAX_FUTURE_SECONDS = 10    # clock skew allowed for iat in the future


class InvalidDPoPProof(Exception):
    error = "invalid_dpop_proof"

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


@dataclass(frozen=True)
class DPoPProof:
    jkt: str          # base64url SHA-256 JWK thumbprint of the proof's key (RFC 7638)
    claims: dict


def b64url_sha256(value: str) -> str:
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


_PATH_SAFE = "/:@!$&'()*+,;=-._~"


@functools.lru_cache(maxsize=1024)
def normalise_htu(url: str) -> str:
    """htu is compared without query and fragment, after syntax- and scheme-based
    normalisation (RFC 9449 §4.3, RFC 3986 §6.2.2 and §6.2.3): scheme and host in lower case,
    the scheme's default port dropped (`https://bank:443/token` is `https://bank/token`), the
    path percent-encoded one canonical way, so `%7E`, `~` and a raw non-ASCII character
    compare as they mean."""
    parts = urlsplit(url.split("#", 1)[0])
    scheme, netloc = parts.scheme.lower(), parts.netloc.lower()
    try:
        port = parts.port
    except ValueError:          # not a port: left as it is, so it matches nothing
        port = None
    if port is not None and port == _DEFAULT_PORTS.get(scheme):
        netloc = netloc.rsplit(":", 1)[0]
    path = quote(unquote(parts.path), safe=_PATH_SAFE)
    return urlunsplit((scheme, netloc, path, "", ""))


_DEFAULT_PORTS = {"https": 443, "http": 80}


PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
RSA_BITS = (2048, 8192)


def public_key(raw_jwk) -> jwk.JWK:
    """The proof's public key (RFC 9449 §4.3: asymmetric, no private part), of a kind and
    size this server verifies: EC P-256 on the curve, or RSA of 2048 to 8192 bits. Any
    other value is an InvalidDPoPProof, never an unexpected error."""
    if not isinstance(raw_jwk, dict):
        raise InvalidDPoPProof("DPoP proof header must carry the public jwk")
    if any(name in raw_jwk for name in PRIVATE_MEMBERS):
        raise InvalidDPoPProof("DPoP proof jwk must not contain a private key")
    kty = raw_jwk.get("kty")
    if kty not in ("EC", "RSA"):
        raise InvalidDPoPProof("DPoP proof jwk kty must be EC or RSA")
    if kty == "EC" and raw_jwk.get("crv") != "P-256":
        raise InvalidDPoPProof("DPoP proof EC key must be on P-256 (RSA 2048+ or EC P-256)")
    try:
        key = jwk.JWK(**raw_jwk)
        verifier = key.get_op_key("verify")      # builds the key: checks the EC point
    except (JWException, ValueError, TypeError, KeyError, OverflowError) as exc:
        raise InvalidDPoPProof(f"DPoP proof jwk is invalid: {str(exc)[:120]}") from None
    if kty == "RSA" and verifier.key_size < RSA_BITS[0]:
        raise InvalidDPoPProof("DPoP proof key is too weak (RSA 2048+ or EC P-256)")
    if kty == "RSA" and verifier.key_size > RSA_BITS[1]:
        raise InvalidDPoPProof(f"DPoP proof RSA key is larger than {RSA_BITS[1]} bits")
    return key


# Proof keys already parsed and checked by this process, with their thumbprints: a client signs
# its proofs with one key for many requests, and parsing and checking it (a JWK built from the
# members, the EC point checked on the curve, the RSA size, the thumbprint) is a pure function
# of the public members. Only keys that passed `public_key` are kept; a key is public, so
# keeping it weakens nothing, and the cache is bounded (least recently used go first).
KEY_CACHE_SIZE = 512


def public_key_and_thumbprint(raw_jwk) -> tuple[jwk.JWK, str]:
    """`public_key(raw_jwk)` and its RFC 7638 thumbprint, from the cache when this process has
    met the same members before (a member that is not a string is never cached: a JWK of the
    two kinds accepted has string members only)."""
    if isinstance(raw_jwk, dict) and all(isinstance(k, str) and isinstance(v, str)
                                         for k, v in raw_jwk.items()):
        return _cached_key(json.dumps(raw_jwk, sort_keys=True, separators=(",", ":")))
    key = public_key(raw_jwk)
    return key, key.thumbprint()


@functools.lru_cache(maxsize=KEY_CACHE_SIZE)
def _cached_key(members: str) -> tuple[jwk.JWK, str]:
    key = public_key(json.loads(members))
    return key, key.thumbprint()


# jwcrypto deep-copies its whole JWS header registry into every JWS object it builds (a third
# of a proof's verification). A proof only reads that registry (nothing here registers a
# header), so every proof's JWS shares the one copy made here; the per-object state is fresh.
_JWS_TEMPLATE = jws.JWS()
JWS_STATE = frozenset({"objects", "verifylog", "_allowed_algs", "header_registry"})


def _new_jws() -> jws.JWS:
    token = copy.copy(_JWS_TEMPLATE)          # shallow: shares the read-only header registry
    token.objects = {"payload": None}
    token.verifylog = None
    return token


def verify_proof(proof: str | None, *, method: str, url: str, now: datetime,
                 replay: ReplayCache, access_token: str | None = None) -> DPoPProof:
    if not proof:
        raise InvalidDPoPProof("DPoP proof missing")
    if "," in proof:
        raise InvalidDPoPProof("exactly one DPoP proof is allowed")
    try:
        token = _new_jws()
        token.deserialize(proof)
        header = token.jose_header
    except (JWException, ValueError) as exc:
        raise InvalidDPoPProof(f"DPoP proof is not a JWS: {exc}") from None
    if header.get("typ") != "dpop+jwt":
        raise InvalidDPoPProof("DPoP proof typ must be dpop+jwt")
    if header.get("alg") not in ALGORITHMS:
        raise InvalidDPoPProof(f"DPoP proof alg must be one of {', '.join(ALGORITHMS)}")
    key, jkt = public_key_and_thumbprint(header.get("jwk"))
    try:
        token.verify(key, alg=header["alg"])
    except (JWException, ValueError):
        raise InvalidDPoPProof("DPoP proof signature is invalid") from None
    try:
        claims = jsonsafe.loads(token.payload)
    except ValueError:
        raise InvalidDPoPProof("DPoP proof payload must be a JSON object") from None
    if not isinstance(claims, dict):
        raise InvalidDPoPProof("DPoP proof payload must be a JSON object")
    for claim in ("jti", "htm", "htu", "iat"):
        if claim not in claims:
            raise InvalidDPoPProof(f"DPoP proof lacks {claim}")
    if claims["htm"] != method:
        raise InvalidDPoPProof("DPoP proof htm does not match the request method")
    if not isinstance(claims["jti"], str) or not claims["jti"] or len(claims["jti"]) > 256:
        raise InvalidDPoPProof("DPoP proof jti must be a string of 1 to 256 characters")
    try:
        same_url = isinstance(claims["htu"], str) \
            and normalise_htu(claims["htu"]) == normalise_htu(url)
    except ValueError:          # not a URL at all (an unclosed IPv6 bracket, say)
        same_url = False
    if not same_url:
        raise InvalidDPoPProof("DPoP proof htu does not match the request URL")
    if not isinstance(claims["iat"], (int, float)) or isinstance(claims["iat"], bool) \
            or not math.isfinite(claims["iat"]):
        raise InvalidDPoPProof("DPoP proof iat must be a number")
    age = now.timestamp() - claims["iat"]
    if age > MAX_AGE_SECONDS or age < -MAX_FUTURE_SECONDS:
        raise InvalidDPoPProof("DPoP proof iat is outside the accepted window")
    if access_token is not None and claims.get("ath") != b64url_sha256(access_token):
        raise InvalidDPoPProof("DPoP proof ath does not match the access token")
    if not replay.first_use("dpop", f"{jkt}:{claims['jti']}", MAX_AGE_SECONDS + MAX_FUTURE_SECONDS):
        raise InvalidDPoPProof("DPoP proof jti has been used before")
    return DPoPProof(jkt=jkt, claims=claims)
