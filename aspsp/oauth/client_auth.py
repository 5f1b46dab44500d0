"""Client authentication at the token, PAR, introspection and revocation endpoints:
private_key_jwt (PS256/ES256, single-use jti) and tls_client_auth (subject DN of the
certificate forwarded by a trusted proxy).

The assertion's audience: for a FAPI 2.0 client exactly the issuer identifier, as a single
string (FAPI 2.0 Security Profile §5.3.2.1-8: an array, or an endpoint URL, is refused, so
that an assertion minted for another server cannot be replayed here); for a FAPI 1.0 Advanced
client the RFC 7523 audiences (the issuer, the token endpoint or this endpoint, alone or in an
array).
No shared-secret methods: FAPI clients never have one."""
from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidClientError
from flask import g, request as flask_request

from .. import platform, ratelimit, request_log
from .clients import (JWS_ALGORITHMS, audience_ok, check_time_claims, parse_compact_jws,
                      verify_client_jws)
from .mtls import client_certificate, dn_matches
from .tokens import header_safe
from .trust import InvalidSignature

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
METHODS = ["private_key_jwt", "tls_client_auth"]
MAX_ASSERTION_LIFETIME = 3600  # common client libraries (authlib) sign for one hour


def _fail(description: str):
    raise InvalidClientError(status_code=401, description=header_safe(description))


def issuer_identifier() -> str:
    """The issuer as discovery publishes it."""
    return platform.current().config["ISSUER"].rstrip("/")


def accepted_audiences(endpoint_url: str) -> set[str]:
    """RFC 7523 audiences (FAPI 1.0 Advanced clients)."""
    issuer = issuer_identifier()
    return {issuer, issuer + "/", f"{issuer}/token", endpoint_url}


def authenticate_private_key_jwt(query_client, request):
    form = request.form
    if form.get("client_assertion_type") != JWT_BEARER:
        return None
    assertion = form.get("client_assertion")
    if not assertion:
        _fail("client_assertion is missing")
    try:                                       # parsed once: to find the client, then verified
        compact = parse_compact_jws(assertion)
        unverified, malformed = compact.unverified_claims(), None
    except InvalidSignature as exc:
        compact, unverified, malformed = None, {}, exc
    client_id = form.get("client_id") or unverified.get("sub")
    client = query_client(client_id) if isinstance(client_id, str) else None
    if client is None:
        _fail("unknown client")
    if client.metadata.get("token_endpoint_auth_method") != "private_key_jwt":
        _fail("this client does not authenticate with private_key_jwt")
    if malformed is not None:
        _fail(f"client assertion rejected: {malformed}")
    p = platform.current()
    try:
        registered = client.metadata.get("token_endpoint_auth_signing_alg")
        verified = verify_client_jws(g.oauth_uow, client, compact,
                                     algorithms=(registered,) if registered else JWS_ALGORITHMS)
    except InvalidSignature as exc:
        _fail(f"client assertion rejected: {exc}")
    request_log.note_client(client.get_client_id())    # the signature proves the client
    ratelimit.check_oauth_client(client.row)
    claims = verified.claims
    if claims.get("iss") != client.get_client_id() or claims.get("sub") != client.get_client_id():
        _fail("client assertion iss and sub must both be the client_id")
    if client.is_fapi2:
        if claims.get("aud") != issuer_identifier():
            _fail(f"client assertion aud must be the issuer identifier {issuer_identifier()} "
                  "as a single string")
    elif not audience_ok(claims.get("aud"), accepted_audiences(platform.public_url())):
        _fail("client assertion aud must be the issuer or this endpoint")
    now = p.clock.now()
    problem = check_time_claims(claims, now, max_lifetime=MAX_ASSERTION_LIFETIME)
    if problem:
        _fail(f"client assertion rejected: {problem}")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        _fail("client assertion jti is missing")
    ttl = int(claims["exp"] - now.timestamp()) + 60
    if not p.replay.first_use("client_assertion", f"{client.get_client_id()}:{jti}", ttl):
        _fail("client assertion jti has been used before")
    return client


def authenticate_tls_client(query_client, request):
    form = request.form
    if form.get("client_assertion") or form.get("client_assertion_type"):
        return None
    client_id = form.get("client_id")
    if not client_id:
        return None
    client = query_client(client_id)
    if client is None:
        _fail("unknown client")
    if client.metadata.get("token_endpoint_auth_method") != "tls_client_auth":
        _fail("this client does not authenticate with tls_client_auth")
    p = platform.current()
    cert = client_certificate(flask_request, p.config)
    if cert is None:
        _fail("a client certificate is required")
    if not dn_matches(client.metadata.get("tls_client_auth_subject_dn", ""), cert.subject_dn):
        _fail("the client certificate's subject does not match the registration")
    request_log.note_client(client.get_client_id())
    ratelimit.check_oauth_client(client.row)
    return client
