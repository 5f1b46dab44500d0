"""OBIE message signing (Read/Write API profile v3.1.11, "Message Signing"): the detached JWS
in `x-jws-signature` over the exact bytes of an HTTP body, verified on TPP requests and made on
the bank's responses. jwcrypto does the JOSE; this module decides what a valid header is.

The JWS (RFC 7515 appendix F, detached): `BASE64URL(header)..BASE64URL(signature)`, signed over
`BASE64URL(header).BASE64URL(body)`. From v3.1.4 the payload is base64url-encoded as usual: no
`b64` header (a `b64` header is refused, as the OBIE FAQ allows). The protected header carries
only these parameters:

  alg   PS256 or ES256 (the key's own `alg`, when its JWK names one, must agree); never
        `none`, HS*, RS256
  kid   a key of the signer's registered JWKS
  crit  exactly http://openbanking.org.uk/iat, /iss and /tan
  http://openbanking.org.uk/iat  a JSON number, not in the future (CLOCK_SKEW_SECONDS allowed);
        the profile sets no lower bound (a TPP retrying with the same x-idempotency-key may
        resend the signature it made first), so neither does the bank
  http://openbanking.org.uk/iss  the signer: a TPP is `{org_id}/{software_id}` of the software
        statement it registered with (OBIE Directory form); the bank is ASPSP_ORG_ID (unset: the
        ISSUER's host name)
  http://openbanking.org.uk/tan  the domain of the trust anchor that holds the signer's public
        key: for a TPP, the directory that signed its software statement (a directory served
        by this platform, such as the sandbox's, is the ISSUER's host name; a directory
        trusted by its JWKS URL is that URL's host or a parent domain, so
        `openbanking.org.uk` for keystore.openbanking.org.uk); for the bank, its own ISSUER
        host name, since it publishes its keys at /jwks
  typ   optional, `JOSE`;  cty  optional, `json` or `application/json`

Requests: `@signed_request` on a view, below the consent gate's `requires_client` /
`requires_consent` (the caller must be known), checks the signature before the view runs:

    @blp.route("/domestic-payment-consents", methods=["POST"])
    @gate.requires_client("payments")
    @ob_signing.signed_request
    @idempotency.idempotent("domestic-payment-consent")
    @blp.arguments(...)
    def create(body): ...

Failures are 400 OB errors, Path naming the header or the claim:
  no x-jws-signature                                   UK.OBIE.Signature.Missing
  not a compact detached JWS, header not a JSON object UK.OBIE.Signature.Malformed
  a required header parameter absent                   UK.OBIE.Signature.MissingClaim
  a parameter with a wrong value, an unknown kid,
  a parameter the profile does not allow (b64, jwk...) UK.OBIE.Signature.InvalidClaim
  the signature does not verify (wrong key, body
  changed by one byte)                                 UK.OBIE.Signature.Invalid
  an x-jws-signature on a request that has no payload
  to sign (GET, DELETE, HEAD: the profile signs
  request payloads, and its resources name those
  calls "Signed Response" only)                        UK.OBIE.Signature.Unexpected

"Unexpected" is the profile's error for "a request that included an x-jws-signature" that
"the API request was not expecting". The profile lets implementers "optionally add
signatures to all ... request payloads", so a signature on a POST or PUT whose resource
does not ask for one (an AIS consent) is not unexpected: it is left unread. A request
without a payload has nothing a signature could cover: `refuse_unexpected_signatures(blp)`
(which `sign_responses` installs on the signing APIs) refuses it before the view runs, as
the other header checks (406, 415) are made, whatever the token.

Responses: `sign_responses(blp)` registers an after_request hook on a blueprint that signs
every response with a body (errors too, as the profile asks) with the bank's PS256 key from
aspsp/oauth/keys.py, published at /jwks; `response_signature(body)` signs one body. It also
refuses unexpected request signatures (above).
"""
from __future__ import annotations

import base64
import binascii
import functools
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable
from urllib.parse import urlsplit

from flask import Response, g, request
from jwcrypto import jwk, jws
from jwcrypto.common import JWException, JWSEHeaderParameter, json_encode

from . import jsonsafe, platform
from .obapi import ErrorCode, bad_request

log = logging.getLogger("aspsp.ob_signing")

HEADER = "x-jws-signature"
OB_IAT = "http://openbanking.org.uk/iat"
OB_ISS = "http://openbanking.org.uk/iss"
OB_TAN = "http://openbanking.org.uk/tan"
CRIT = (OB_IAT, OB_ISS, OB_TAN)
ALGORITHMS = ("PS256", "ES256")
RESPONSE_ALG = "PS256"              # v3.1.11: "The signer must sign the message with PS256"
ALLOWED_PARAMETERS = frozenset({"alg", "kid", "crit", "typ", "cty", *CRIT})
REQUIRED_PARAMETERS = ("alg", "kid", *CRIT, "crit")
CLOCK_SKEW_SECONDS = 10             # an iat this far ahead of the bank's clock still counts as past
MAX_SIGNATURE_LENGTH = 8192         # a header + a PS256 signature is well under 1 KiB
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
# For code that builds such JWSs with jwcrypto's JWS API (tests, TPP tools): the OB claims as
# understood critical header parameters. This module itself uses JWSCore.
HEADER_REGISTRY = {name: JWSEHeaderParameter(name, True, True, None) for name in CRIT}
_REGISTRY = HEADER_REGISTRY     # the name tests/integration/pis uses


# --- the pure part: headers and signatures ---------------------------------------------------
class SignatureError(Exception):
    """A request signature the bank refuses: the OB error code and the Path it names."""

    def __init__(self, code: str, message: str, path: str = HEADER):
        super().__init__(message)
        self.code, self.message, self.path = code, message, path

    def to_ob_error(self):
        return bad_request(self.code, self.message, self.path)


def _missing(name: str) -> SignatureError:
    return SignatureError(ErrorCode.SIGNATURE_MISSING_CLAIM,
                          f"the x-jws-signature header has no {name}", name)


def _invalid(name: str, message: str) -> SignatureError:
    return SignatureError(ErrorCode.SIGNATURE_INVALID_CLAIM, message, name)


def _malformed(message: str) -> SignatureError:
    return SignatureError(ErrorCode.SIGNATURE_MALFORMED, message)


@dataclass(frozen=True)
class Expected:
    """Who must have signed: the `iss` and the acceptable `tan` values."""
    iss: str
    tans: frozenset[str]


def parse_detached(value: str | None) -> dict:
    """The protected header of a compact detached JWS (`header..signature`), or
    SignatureError (Missing, Malformed)."""
    if value is None:
        raise SignatureError(ErrorCode.SIGNATURE_MISSING, "the request must be signed: "
                             "x-jws-signature is required")
    if len(value) > MAX_SIGNATURE_LENGTH:
        raise _malformed("x-jws-signature is too long")
    parts = value.split(".")
    if len(parts) != 3 or not all(_B64URL.fullmatch(p) for p in parts):
        raise _malformed("x-jws-signature must be a compact JWS: header..signature")
    protected, payload, signature = parts
    if payload:
        raise _malformed("x-jws-signature must be detached: no payload between the dots")
    if not protected or not signature:
        raise _malformed("x-jws-signature has no header or no signature")
    try:
        header = jsonsafe.loads(_b64decode(protected))
    except (ValueError, binascii.Error):
        raise _malformed("the x-jws-signature header is not base64url-encoded JSON") from None
    if not isinstance(header, dict):
        raise _malformed("the x-jws-signature header is not a JSON object")
    return header


def check_header(header: dict, expected: Expected, *, now: datetime) -> None:
    """The profile's rules for the JOSE header (the key and the signature come after)."""
    for name in REQUIRED_PARAMETERS:
        if name not in header:
            raise _missing(name)
    alg = header["alg"]
    if alg not in ALGORITHMS:
        raise _invalid("alg", f"alg must be one of {', '.join(ALGORITHMS)}")
    if not isinstance(header["kid"], str) or not header["kid"]:
        raise _invalid("kid", "kid must be a non-empty string")
    crit = header["crit"]
    if not isinstance(crit, list) or len(crit) != len(CRIT) or set(crit) != set(CRIT):
        raise _invalid("crit", "crit must name exactly " + ", ".join(CRIT))
    unexpected = sorted(set(header) - ALLOWED_PARAMETERS)
    if unexpected:
        raise _invalid(unexpected[0], f"{unexpected[0]} is not a header parameter of the OBIE "
                       "signing profile (v3.1.4 onwards: no b64)")
    if "typ" in header and header["typ"] != "JOSE":
        raise _invalid("typ", "typ, when given, must be JOSE")
    if "cty" in header and header["cty"] not in ("json", "application/json"):
        raise _invalid("cty", "cty, when given, must be json or application/json")
    iat = header[OB_IAT]
    if not isinstance(iat, (int, float)) or isinstance(iat, bool) or iat != iat \
            or iat in (float("inf"), float("-inf")):
        raise _invalid(OB_IAT, f"{OB_IAT} must be a number of seconds since the epoch")
    if iat > now.timestamp() + CLOCK_SKEW_SECONDS:
        raise _invalid(OB_IAT, f"{OB_IAT} is in the future")
    if header[OB_ISS] != expected.iss:
        raise _invalid(OB_ISS, f"{OB_ISS} must identify the caller: "
                       "{org_id}/{software_id} of its software statement")
    if not isinstance(header[OB_TAN], str) or header[OB_TAN] not in expected.tans:
        raise _invalid(OB_TAN, f"{OB_TAN} must name the trust anchor that holds the "
                       "caller's keys")


def verify_detached(value: str | None, body: bytes, jwks: dict, expected: Expected, *,
                    now: datetime) -> dict:
    """The verified protected header of `value` over `body`, or SignatureError."""
    header = parse_detached(value)
    check_header(header, expected, now=now)
    alg = header["alg"]
    key = _key_for(jwks, header["kid"], alg)
    protected, _, signature = value.split(".")
    # jwcrypto's JWSCore over BASE64URL(header).BASE64URL(body): the header checks above are
    # the profile's (jws.JWS would redo the crit ones, and copy its header registry per call).
    try:
        core = jws.JWSCore(alg, key, _b64decode(protected).decode("utf-8"), body, algs=[alg])
        core.protected = protected           # the signing input is the header as sent
        core.verify(_b64decode(signature))
    except (JWException, ValueError, TypeError, binascii.Error):
        raise SignatureError(ErrorCode.SIGNATURE_INVALID,
                             "the signature does not verify over the request body") from None
    return header


def _key_for(jwks: dict, kid: str, alg: str) -> jwk.JWK:
    from .oauth.trust import signing_keys, strong_enough
    keys = signing_keys(jwks, kid)
    if not keys:
        raise _invalid("kid", "kid names no signing key the caller registered")
    kty = "RSA" if alg.startswith("PS") else "EC"
    fitting = [k for k in keys if k.get("kty") == kty] or keys
    key = fitting[0]
    if key.get("alg") not in (None, alg):
        raise _invalid("alg", f"the key {kid} is registered for {key.get('alg')}, not {alg}")
    if key.get("kty") != kty or not strong_enough(key):
        raise _invalid("kid", f"the key {kid} is not a {alg} key of the required strength")
    return key


def sign_detached(body: bytes, key: jwk.JWK, *, kid: str, iss: str, tan: str, now: datetime,
                  alg: str = RESPONSE_ALG, extra: dict | None = None) -> str:
    """`header..signature` over `body` with the profile's header (`extra` adds parameters:
    tests use it to break the rules on purpose)."""
    header = {"alg": alg, "kid": kid, OB_IAT: int(now.timestamp()), OB_ISS: iss, OB_TAN: tan,
              "crit": list(CRIT), **(extra or {})}
    signed = jws.JWSCore(alg, key, json_encode(header), body, algs=[alg]).sign()
    return f"{signed['protected']}..{signed['signature']}"


def _b64decode(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


# --- who the caller is, which anchors it belongs to --------------------------------------------
def domains_of_host(host: str) -> frozenset[str]:
    """A host and the parent domains that can name its owner: at least three labels under a
    two-letter country code (openbanking.org.uk, never org.uk), else at least two."""
    labels = [label for label in (host or "").lower().rstrip(".").split(".") if label]
    if not labels:
        return frozenset()
    least = 3 if len(labels[-1]) == 2 and len(labels) > 2 else 2
    found = {".".join(labels)}
    for start in range(1, len(labels)):
        if len(labels) - start >= least:
            found.add(".".join(labels[start:]))
    return frozenset(found)


def own_domain(config) -> str:
    """The bank's host name: the trust anchor of keys published at its own /jwks, and of the
    directories it serves in-process (the sandbox's)."""
    return (urlsplit(str(config.get("ISSUER") or "")).hostname or "").lower()


def anchor_domains(anchor, config) -> frozenset[str]:
    """The `tan` values that name a trust anchor: one it declares (`tan`), else the host of
    the JWKS URL it is trusted by, else (a directory served in-process) the bank's host."""
    declared = getattr(anchor, "tan", None)
    if isinstance(declared, str) and declared:
        return frozenset({declared.lower()})
    url = getattr(anchor, "url", None)
    if isinstance(url, str) and url:
        return domains_of_host(urlsplit(url).hostname or "")
    return frozenset({own_domain(config)})


class _AnchorCache:
    """Which anchor vouches for a software statement, kept `ttl` seconds per process (a
    statement does not change; its directory's keys rarely do)."""
    ttl = 300
    size = 4096

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[str, tuple[float, frozenset[str]]] = {}

    def get(self, ssa: str, compute: Callable[[], frozenset[str]]) -> frozenset[str]:
        with self._lock:
            hit = self._entries.get(ssa)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1]
        value = compute()
        with self._lock:
            if len(self._entries) >= self.size:
                self._entries.clear()
            self._entries[ssa] = (time.monotonic(), value)
        return value


_anchor_cache = _AnchorCache()


def client_tans(uow, software_statement: str, config, now: datetime) -> frozenset[str]:
    """The `tan` values acceptable from a client: the domain of the trust anchor that signed
    its software statement. A client without one (registration always takes one; only test
    fixtures make such rows) may name any configured anchor."""
    from .oauth import trust
    anchors = trust.trust_anchors(config)
    if not software_statement:
        return frozenset().union(*(anchor_domains(a, config) for a in anchors))

    def compute() -> frozenset[str]:
        try:
            vouched = trust.verify_software_statement(uow, software_statement, config=config,
                                                      now=now).anchor
        except (trust.UntrustedSignature, trust.InvalidSignature):
            return frozenset()
        return frozenset().union(*(anchor_domains(a, config) for a in anchors
                                   if a.name == vouched))
    return _anchor_cache.get(software_statement, compute)


def caller_client_pk() -> int:
    """The client the consent gate let through (`requires_consent` or `requires_client`)."""
    consent = g.get("consent_context")
    if consent is not None:
        return consent.client_pk
    client = g.get("client_context")
    if client is not None:
        return client.client.id
    raise RuntimeError("signed_request/idempotent need the consent gate's requires_client or "
                       "requires_consent above them")


# --- requests --------------------------------------------------------------------------------
def verify_request() -> dict:
    """Verify the current request's x-jws-signature against its caller's registered keys;
    the verified header, or an OB 400 (OBError)."""
    from .oauth.clients import Client, client_jwks
    from .oauth.models import OAuthClient
    p = platform.current()
    now = p.clock.now()
    value = request.headers.get(HEADER)
    try:
        header = parse_detached(value)       # Missing / Malformed before any database work
        with p.uow() as uow:
            row = uow.session.get(OAuthClient, caller_client_pk())
            expected = Expected(iss=f"{row.org_id}/{row.software_id}",
                                tans=client_tans(uow, row.software_statement, p.config, now))
            # an unknown kid behind a jwks_uri: the TPP's keys fetched again (rate-limited)
            jwks = client_jwks(uow, Client(row), kid=header.get("kid"))
        return verify_detached(value, request.get_data(cache=True), jwks, expected, now=now)
    except SignatureError as error:
        log.info("request signature refused", extra={"fields": {
            "code": str(error.code), "path": error.path, "reason": error.message}})
        raise error.to_ob_error() from None


SIGNED = "ob_signed_request"      # set on a view that verifies x-jws-signature
UNSIGNED_METHODS = ("GET", "DELETE", "HEAD", "OPTIONS")   # no payload to sign


def signed_request(view: Callable) -> Callable:
    """Decorate a POST view (below the consent gate's decorator): the view runs only when
    x-jws-signature verifies over the raw body; the header is in `g.jws_header`."""
    @functools.wraps(view)
    def verified(*args, **kwargs):
        g.jws_header = verify_request()
        return view(*args, **kwargs)
    setattr(verified, SIGNED, True)
    return verified


def _refuse_unexpected_signature() -> None:
    if HEADER not in request.headers or request.method not in UNSIGNED_METHODS:
        return
    from flask import current_app
    view = current_app.view_functions.get(request.endpoint or "")
    if view is None or getattr(view, SIGNED, False):
        return                       # 404/405 answer as they do; a signed view verifies
    log.info("request signature refused", extra={"fields": {
        "code": str(ErrorCode.SIGNATURE_UNEXPECTED), "path": HEADER,
        "method": request.method}})
    raise bad_request(ErrorCode.SIGNATURE_UNEXPECTED,
                      f"a {request.method} request has no payload to sign: this resource "
                      "does not expect an x-jws-signature", HEADER)


def refuse_unexpected_signatures(blp) -> None:
    """400 UK.OBIE.Signature.Unexpected for an x-jws-signature on a request of `blp` that has
    no payload to sign: a before_request hook added when the blueprint is registered, so
    that it runs after the OB conventions' own (aspsp.obapi.install: the interaction id to
    echo, 406, 415), and before the view and its gate."""
    def add(state) -> None:
        state.app.before_request_funcs.setdefault(state.name, []).append(
            _refuse_unexpected_signature)
    blp.record_once(add)


# --- responses -------------------------------------------------------------------------------
class _SigningKeyCache:
    """The bank's signing key, kept `ttl` seconds per process: a rotated key starts signing
    at most that much later (the old one stays published meanwhile)."""
    ttl = 60

    def __init__(self):
        self._lock = threading.Lock()
        self._entries: dict[tuple, tuple[float, str, jwk.JWK]] = {}

    def get(self, p, alg: str) -> tuple[str, jwk.JWK]:
        from .oauth import keys
        cache_key = (id(p), p.db.url, alg)
        with self._lock:
            hit = self._entries.get(cache_key)
        if hit and time.monotonic() - hit[0] < self.ttl:
            return hit[1], hit[2]
        with p.uow() as uow:
            kid, key = keys.signing_key(uow, "aspsp", keyring=p.keyring, now=p.clock.now(),
                                        alg=alg)
        with self._lock:
            if len(self._entries) >= 64:     # one per app and database: a test run makes many
                self._entries.clear()
            self._entries[cache_key] = (time.monotonic(), kid, key)
        return kid, key

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


_signing_keys = _SigningKeyCache()


def bank_identity(config) -> tuple[str, str]:
    """The bank's `iss` (ASPSP_ORG_ID, else its host name) and `tan` (its host name)."""
    domain = own_domain(config)
    return (str(config.get("ASPSP_ORG_ID") or "") or domain), domain


def response_signature(body: bytes) -> str:
    """x-jws-signature for a response body, by the bank's current PS256 key."""
    p = platform.current()
    kid, key = _signing_keys.get(p, RESPONSE_ALG)
    iss, tan = bank_identity(p.config)
    return sign_detached(body, key, kid=kid, iss=iss, tan=tan, now=p.clock.now())


def _sign_response(response: Response) -> Response:
    if response.direct_passthrough or response.is_streamed:
        return response
    body = response.get_data()
    if not body:
        return response
    from .oauth.keys import NoSigningKey
    try:
        response.headers[HEADER] = response_signature(body)
    except NoSigningKey:
        log.error("response left unsigned: the bank has no PS256 key that may sign yet")
    return response


def sign_responses(blp) -> None:
    """Sign every response of `blp` that has a body (an after_request hook), and refuse
    unexpected request signatures (`refuse_unexpected_signatures`)."""
    refuse_unexpected_signatures(blp)
    blp.after_request(_sign_response)


__all__ = ["ALGORITHMS", "CRIT", "Expected", "HEADER", "HEADER_REGISTRY", "OB_IAT", "OB_ISS",
           "OB_TAN", "SignatureError", "bank_identity", "check_header", "parse_detached",
           "refuse_unexpected_signatures", "response_signature", "sign_detached",
           "sign_responses", "signed_request", "verify_detached", "verify_request"]
