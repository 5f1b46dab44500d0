"""OBIE Dynamic Client Registration v3.3: RFC 7591 registration and RFC 7592 management.

`POST /register` takes a registration request JWT (`application/jwt`) signed by a key of the
software statement's JWKS and carrying the software statement assertion (SSA) in
`software_statement`. `GET/PUT/DELETE /register/<client_id>` need the client's own
client-credentials access token (sender-constrained like every token here).

What this ASPSP accepts (the standard leaves these to the ASPSP; the developer portal repeats it):
- The SSA is signed (PS256/ES256) by a configured trust anchor (aspsp/oauth/trust.py). It is
  accepted up to SSA_MAX_AGE (2 hours) after its `iat`, never before `iat` (60 s clock skew),
  never after an `exp` if it has one. Its `org_status` must be Active and its `software_roles`
  within the roles its competent authority granted.
- The request: signed PS256/ES256 by a key of the software's JWKS (`software_jwks_endpoint`, or
  `software_jwks` inline in the SSA; a JWKS without keys, as the directory publishes for
  software it does not know, refuses the SSA); `iss` the SSA's software_id; `aud` our ISSUER;
  `exp` not passed; `iat` at most 60 s ahead and at most REQUEST_MAX_AGE (1 hour) old; `jti`
  single-use.
- `redirect_uris` (default: all of the SSA's) must be https, without fragment or user
  information, exactly among the SSA's `software_redirect_uris`; hosts are parsed as IP
  addresses (a non-canonical spelling such as 127.1 or 0x7f000001 is refused), and local ones
  (localhost, loopback, private, unspecified) are accepted only while SANDBOX_ENABLED. A client
  without the authorization_code grant may register none.
- Transport: POST /register is authenticated by MTLS (OB DCR). The TLS client certificate the
  proxy forwards must be issued to the SSA's organisation (OU = org_id, as on OB transport
  certificates, or an eIDAS organizationIdentifier PSD<cc>-<authority>-<registration id> of
  the SSA's competent authority claims). Production (SANDBOX_ENABLED off) refuses a request
  without one; the sandbox also takes plain-HTTP requests without a certificate.
- `token_endpoint_auth_method`: private_key_jwt (with token_endpoint_auth_signing_alg) or
  tls_client_auth (with tls_client_auth_subject_dn, which no other method may carry, and
  which must name the SSA's organisation the same way).
- Token binding: `tls_client_certificate_bound_access_tokens` and `dpop_bound_access_tokens`
  are exclusive and enforced per client at the token endpoint. A FAPI 1.0 Advanced client that
  reaches us over MTLS (a certificate at registration, or any production client) is registered
  with certificate-bound tokens only.
- Algorithms: PS256 or ES256 only. Grant types: client_credentials, authorization_code,
  refresh_token. Response types: `code` and/or `code id_token` (default `code id_token`).
- `scope` (default: openid and every scope of the SSA's roles): openid always; accounts needs
  AISP, payments PISP, fundsconfirmations CBPII, each role granted by the SSA.
- Profile: a client registering response_types exactly ["code"] is a FAPI 2.0 client (PAR
  required); any other client is FAPI 1.0 Advanced, and its response_types are narrowed to
  ["code id_token"] (FAPI 1.0 Advanced allows plain `code` only with JARM, which this server
  does not offer; OB DCR lets the ASPSP narrow a value and return what it registered).
- The client's keys always come from the directory (the SSA), never from the request.
Errors are RFC 7591 §3.2.2 bodies: SSA problems are invalid_software_statement (or
unapproved_software_statement when no trusted directory signed it, or the organisation is not
active), redirect URI problems invalid_redirect_uri, anything else in the request
invalid_client_metadata. Management with an unknown client_id (or another client's) answers 401
and revokes the token used.
"""
from __future__ import annotations

import ipaddress
import logging
import math
import random
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.x509.oid import NameOID
from flask import Blueprint, Flask, current_app, jsonify, request

from .. import audit, platform, request_log
from ..db import UnitOfWork
from ..ids import new_id
from . import tokens, trust
from .models import OAuthClient
from .mtls import ClientCertificate, client_certificate

log = logging.getLogger(__name__)

SSA_MAX_AGE = timedelta(hours=2)
REQUEST_MAX_AGE = timedelta(hours=1)
CLOCK_SKEW = timedelta(seconds=60)
MAX_REQUEST_BYTES = 64 * 1024

ALGORITHMS = ("PS256", "ES256")
AUTH_METHODS = ("private_key_jwt", "tls_client_auth")
GRANT_TYPES = ("client_credentials", "authorization_code", "refresh_token")
RESPONSE_TYPES = ("code", "code id_token")
APPLICATION_TYPES = ("web", "mobile")
SCOPE_ROLES = {"accounts": "AISP", "payments": "PISP", "fundsconfirmations": "CBPII"}
ROLES = ("AISP", "PISP", "CBPII")
FAPI2, FAPI1_ADVANCED = "fapi2", "fapi1-advanced"
SOFTWARE_ID = re.compile(r"^[0-9A-Za-z]{1,22}$")
JWT_TYPES = ("application/jwt", "application/jose")
SSA_ENVELOPE = ("iss", "iat", "jti", "exp", "nbf")   # SSA claims not echoed in the response


class RegistrationError(Exception):
    """A refusal with its RFC 7591 error code."""

    def __init__(self, error: str, description: str, status: int = 400):
        super().__init__(description)
        self.error, self.description, self.status = error, description, status


class UnknownClient(Exception):
    """Management of a client_id the token does not belong to: 401, the token is revoked."""

    def __init__(self, scheme: str):
        super().__init__("the client is unknown to this token")
        self.scheme = scheme


def _number(value) -> bool:
    """A JSON number usable as a NumericDate (not a boolean, NaN or infinity)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value)


def _metadata_error(description: str) -> RegistrationError:
    return RegistrationError("invalid_client_metadata", description)


def _statement_error(description: str) -> RegistrationError:
    return RegistrationError("invalid_software_statement", description)


def _redirect_error(description: str) -> RegistrationError:
    return RegistrationError("invalid_redirect_uri", description)


@dataclass(frozen=True)
class ValidatedRegistration:
    software_id: str
    org_id: str
    client_name: str
    roles: list[str]
    profile: str
    metadata: dict             # the registered RFC 7591 metadata
    software_statement: str
    request_claims: dict


# --- the registration request -----------------------------------------------------------------

def validate_request(uow: UnitOfWork, request_jwt: str, *, config, now: datetime,
                     replay, certificate: ClientCertificate | None = None,
                     transport: bool = False) -> ValidatedRegistration:
    """Every check of a registration request (POST or PUT). The jti is spent once the
    signatures and claims check out, before the metadata rules. With `transport` (POST
    /register, which OB DCR authenticates by MTLS) the TLS client certificate must be the
    SSA organisation's; outside the sandbox it must be presented."""
    sandbox = bool(config.get("SANDBOX_ENABLED"))
    if transport and certificate is None and not sandbox:
        raise RegistrationError("unapproved_software_statement", "register over MTLS with "
                                "the organisation's transport certificate")
    try:
        _, header = trust.parse_jws(request_jwt)
    except trust.InvalidSignature:
        raise _metadata_error("the registration request must be a signed JWT") from None
    if header.get("alg") not in ALGORITHMS:
        raise _metadata_error(f"the registration request must be signed with "
                              f"{' or '.join(ALGORITHMS)}")
    ssa = trust.unverified_claims(request_jwt).get("software_statement")
    if not isinstance(ssa, str) or not ssa:
        raise _statement_error("the registration request carries no software_statement")
    statement = _trusted_statement(uow, ssa, config=config, now=now)
    if transport and certificate is not None \
            and not certificate_of_organisation(certificate, statement):
        raise RegistrationError("unapproved_software_statement", "the TLS client certificate "
                                "is not issued to the software statement's organisation")
    software_id = statement["software_id"]
    claims = _verify_request_signature(uow, request_jwt, statement, config=config, now=now)
    _check_request_claims(claims, software_id, issuer=config["ISSUER"], now=now)
    _spend_jti(replay, software_id, claims, now=now)
    metadata, roles, profile = registered_metadata(
        claims, statement, sandbox=sandbox, mtls=certificate is not None or not sandbox)
    return ValidatedRegistration(
        software_id=software_id, org_id=statement.get("org_id", ""),
        client_name=str(statement.get("software_client_name") or software_id)[:256],
        roles=roles, profile=profile, metadata=metadata, software_statement=ssa,
        request_claims=claims)


def _trusted_statement(uow: UnitOfWork, ssa: str, *, config, now: datetime) -> dict:
    try:
        claims = trust.verify_software_statement(uow, ssa, config=config, now=now).claims
    except trust.UntrustedSignature as exc:
        raise RegistrationError("unapproved_software_statement", str(exc)) from None
    except trust.InvalidSignature as exc:
        raise _statement_error(f"the software statement is invalid: {exc}") from None
    ts, skew = now.timestamp(), CLOCK_SKEW.total_seconds()
    iat = claims.get("iat")
    if not _number(iat):
        raise _statement_error("the software statement has no iat")
    if iat > ts + skew:
        raise _statement_error("the software statement is issued in the future")
    if ts - iat > SSA_MAX_AGE.total_seconds():
        raise _statement_error(f"the software statement is older than "
                               f"{int(SSA_MAX_AGE.total_seconds() // 3600)} hours: get a new one")
    exp, nbf = claims.get("exp"), claims.get("nbf")
    if exp is not None and (not _number(exp) or exp <= ts):
        raise _statement_error("the software statement has expired")
    if nbf is not None and (not _number(nbf) or nbf > ts + skew):
        raise _statement_error("the software statement is not valid yet")
    software_id = claims.get("software_id")
    if not isinstance(software_id, str) or not SOFTWARE_ID.match(software_id):
        raise _statement_error("the software statement software_id must be 1 to 22 Base62 "
                               "characters")
    org_id = claims.get("org_id", "")
    if not isinstance(org_id, str) or len(org_id) > 64:
        raise _statement_error("the software statement org_id must be at most 64 characters")
    if str(claims.get("org_status", "Active")).lower() != "active":
        raise RegistrationError("unapproved_software_statement",
                                f"the organisation is {claims.get('org_status')}")
    roles = claims.get("software_roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise _statement_error("the software statement software_roles must be a list")
    granted = _authorised_roles(claims.get("organisation_competent_authority_claims"))
    if granted is not None and not set(roles) <= granted:
        raise RegistrationError("unapproved_software_statement",
                                "the software roles exceed what the competent authority granted")
    uris = claims.get("software_redirect_uris", [])
    if not isinstance(uris, list) or not all(isinstance(u, str) for u in uris):
        raise _statement_error("the software statement software_redirect_uris must be a list")
    return claims


def _authorised_roles(nca) -> set[str] | None:
    """Roles the competent authority granted, when the SSA says (None when it does not)."""
    if not isinstance(nca, dict) or not isinstance(nca.get("authorisations"), list):
        return None
    granted = set()
    for authorisation in nca["authorisations"]:
        if isinstance(authorisation, dict) and isinstance(authorisation.get("roles"), list):
            granted.update(r for r in authorisation["roles"] if isinstance(r, str))
    return granted


def _statement_keys(uow: UnitOfWork, statement: dict, *, config, now: datetime,
                    refresh: bool = False) -> dict:
    if isinstance(statement.get("software_jwks"), dict):
        return statement["software_jwks"]
    uri = statement.get("software_jwks_endpoint")
    if not isinstance(uri, str) or not uri:
        raise _statement_error("the software statement names no software_jwks_endpoint")
    try:
        return trust.software_jwks(uow, uri, config=config, now=now, refresh=refresh)
    except trust.JwksUnavailable as exc:
        # What the fetch met (an address refused, a name unresolved, a port closed, a timeout)
        # stays in the log: told to the TPP, it would map the bank's network for it.
        log.warning("software JWKS unavailable", extra={"fields": {"reason": str(exc)}})
        raise _statement_error("the software statement's software_jwks_endpoint could not "
                               "be fetched") from None


def _verify_request_signature(uow: UnitOfWork, request_jwt: str, statement: dict, *, config,
                              now: datetime) -> dict:
    """Holder of key: the request is signed by a key of the software statement's JWKS."""
    jwks = _statement_keys(uow, statement, config=config, now=now)
    _, header = trust.parse_jws(request_jwt)
    if not trust.signing_keys(jwks, header.get("kid")) and "software_jwks" not in statement:
        jwks = _statement_keys(uow, statement, config=config, now=now, refresh=True)
    if not isinstance(jwks, dict) or not jwks.get("keys"):
        # The directory publishes no key for this software: it does not know it (or no
        # longer does). The statement is what is wrong, not the request's signature.
        raise _statement_error("the directory publishes no keys for the software statement's "
                               "software (unknown or revoked software)")
    try:
        return trust.verify_jws(request_jwt, jwks).claims
    except trust.InvalidSignature as exc:
        raise _metadata_error("the registration request is not signed by a key of the "
                              f"software statement ({exc})") from None


def _check_request_claims(claims: dict, software_id: str, *, issuer: str, now: datetime) -> None:
    if claims.get("iss") != software_id:
        raise _metadata_error("iss must be the software_id of the software statement")
    if claims.get("software_id", software_id) != software_id:
        raise _metadata_error("software_id must be the software statement's")
    aud = claims.get("aud")
    accepted = {issuer.rstrip("/"), issuer.rstrip("/") + "/"}
    if not any(isinstance(a, str) and a in accepted for a in (aud if isinstance(aud, list)
                                                             else [aud])):
        raise _metadata_error(f"aud must be {issuer.rstrip('/')}")
    ts, skew = now.timestamp(), CLOCK_SKEW.total_seconds()
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _number(exp):
        raise _metadata_error("exp is required")
    if exp <= ts:
        raise _metadata_error("the registration request has expired")
    if not _number(iat):
        raise _metadata_error("iat is required")
    if iat > ts + skew or ts - iat > REQUEST_MAX_AGE.total_seconds():
        raise _metadata_error("iat is in the future or more than an hour old")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not 1 <= len(jti) <= 256:
        raise _metadata_error("jti is required")


def _spend_jti(replay, software_id: str, claims: dict, *, now: datetime) -> None:
    """A jti counts once while its request could still be accepted (until exp, or until its
    iat is REQUEST_MAX_AGE old, whichever comes first)."""
    last_valid = min(claims["exp"], claims["iat"] + REQUEST_MAX_AGE.total_seconds())
    ttl = max(1, int(last_valid - now.timestamp() + CLOCK_SKEW.total_seconds()))
    if not replay.first_use("dcr_request", f"{software_id}:{claims['jti']}", ttl):
        raise _metadata_error("this registration request (jti) has been used before")


# --- metadata rules (pure) ----------------------------------------------------------------------

def registered_metadata(claims: dict, statement: dict, *, sandbox: bool,
                        mtls: bool = False) -> tuple[dict, list[str], str]:
    """The metadata to register, the client's roles and its FAPI profile, from the verified
    request claims and SSA claims. `mtls`: the client reaches this server over MTLS (it
    registered with its certificate, or this is not the sandbox). Raises RegistrationError."""
    grant_types = _grant_types(claims.get("grant_types"))
    redirect_uris = _redirect_uris(claims.get("redirect_uris"),
                                   statement.get("software_redirect_uris", []), sandbox=sandbox,
                                   needed="authorization_code" in grant_types)
    response_types = _response_types(claims.get("response_types"), grant_types)
    # FAPI 1.0 Advanced only on its explicit signal, the hybrid response type (code id_token,
    # also when asked for with code). A client with no response types (no authorization_code
    # grant) only meets the back-channel rules and gets FAPI 2.0's: client assertion aud the
    # issuer alone, tokens bound by DPoP or MTLS as it registers.
    profile = FAPI2 if response_types in ([], ["code"]) else FAPI1_ADVANCED
    if profile == FAPI1_ADVANCED and response_types:
        response_types = ["code id_token"]
    scope, roles = _scope(claims.get("scope"), statement.get("software_roles", []))
    metadata = {
        "redirect_uris": redirect_uris,
        **_client_authentication(claims, statement),
        "grant_types": grant_types,
        "response_types": response_types,
        "scope": scope,
        "application_type": _one_of(claims, "application_type", APPLICATION_TYPES, "web"),
        "id_token_signed_response_alg": _one_of(claims, "id_token_signed_response_alg",
                                                ALGORITHMS, "PS256"),
        "request_object_signing_alg": _one_of(claims, "request_object_signing_alg",
                                              ALGORITHMS, "PS256"),
        "software_id": statement["software_id"],
        "require_pushed_authorization_requests":
            (profile == FAPI2 and bool(response_types))
            or _flag(claims, "require_pushed_authorization_requests"),
    }
    for name in ("tls_client_certificate_bound_access_tokens", "dpop_bound_access_tokens"):
        if name in claims:
            metadata[name] = _flag(claims, name)
    if metadata.get("tls_client_certificate_bound_access_tokens") \
            and metadata.get("dpop_bound_access_tokens"):
        raise _metadata_error("tokens are bound either to the TLS certificate or to a DPoP "
                              "key: register one of tls_client_certificate_bound_access_tokens "
                              "and dpop_bound_access_tokens")
    if profile == FAPI1_ADVANCED and mtls:
        # FAPI 1.0 Advanced §5.2.2-5 and 6.2.1-1: MTLS certificate-bound tokens only.
        if claims.get("tls_client_certificate_bound_access_tokens") is False \
                or metadata.get("dpop_bound_access_tokens"):
            raise _metadata_error("a FAPI 1.0 Advanced client gets certificate-bound access "
                                  "tokens (tls_client_certificate_bound_access_tokens true)")
        metadata["tls_client_certificate_bound_access_tokens"] = True
    if isinstance(statement.get("software_jwks"), dict):
        metadata["jwks"] = statement["software_jwks"]
    else:
        metadata["jwks_uri"] = statement["software_jwks_endpoint"]
    return metadata, roles, profile


def _redirect_uris(requested, allowed: list, *, sandbox: bool, needed: bool = True) -> list[str]:
    """The redirect URIs to register: those requested (default: the SSA's), each among the
    SSA's. A client without the authorization_code grant may register none (absent or
    empty: it never redirects a customer)."""
    if not needed and not requested:
        return []
    uris = allowed if requested is None else requested
    if not isinstance(uris, list) or not uris or not all(isinstance(u, str) for u in uris):
        raise _redirect_error("redirect_uris must be a non-empty list of URLs")
    for uri in uris:
        problem = redirect_uri_problem(uri, sandbox=sandbox)
        if problem:
            raise _redirect_error(f"{uri[:256]} {problem}")
        if uri not in allowed:
            raise _redirect_error(f"{uri} is not among the software statement's redirect URIs")
    return list(dict.fromkeys(uris))


_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")


def redirect_uri_problem(uri: str, *, sandbox: bool) -> str | None:
    """Why `uri` cannot be a redirect URI (None when it can): an absolute https URL without
    user information or fragment, at most 256 characters, whose host is a name or an IP
    address in canonical form. Outside the sandbox the host may not be local: a loopback,
    unspecified, private or link-local address in any spelling, or localhost (RFC 6761)."""
    try:
        parts = urlsplit(uri)
        hostname = parts.hostname
        parts.port  # noqa: B018  (raises on a malformed port)
    except ValueError:
        return "is not a URL"
    if parts.scheme != "https" or not hostname:
        return "is not an absolute https URL"
    if parts.fragment or "#" in uri or len(uri) > 256:
        return "must have no fragment and at most 256 characters"
    if "@" in parts.netloc:
        return "must not carry user information (user@host)"
    host = hostname.rstrip(".")
    address = _ip_address(host)
    if address is None and all(_NUMERIC_LABEL.match(label) for label in host.split(".")):
        return "names an IP address in a non-canonical form: write it in dotted decimal"
    local = host == "localhost" or host.endswith(".localhost") or (
        address is not None and not address.is_global)
    if local and not sandbox:
        return "points at a local address (localhost, loopback, private or unspecified)"
    return None


def _ip_address(host: str):
    """The IP address `host` names in canonical form (an IPv4-mapped IPv6 address as its
    IPv4 address), or None."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return None
    mapped = getattr(address, "ipv4_mapped", None)
    return mapped or address


def _client_authentication(claims: dict, statement: dict) -> dict:
    method = claims.get("token_endpoint_auth_method")
    if method not in AUTH_METHODS:
        raise _metadata_error(f"token_endpoint_auth_method must be {' or '.join(AUTH_METHODS)}")
    registered = {"token_endpoint_auth_method": method}
    alg = claims.get("token_endpoint_auth_signing_alg")
    if method == "private_key_jwt" and alg is None:
        raise _metadata_error("private_key_jwt needs token_endpoint_auth_signing_alg")
    if alg is not None:
        if alg not in ALGORITHMS:
            raise _metadata_error(f"token_endpoint_auth_signing_alg must be "
                                  f"{' or '.join(ALGORITHMS)}")
        registered["token_endpoint_auth_signing_alg"] = alg
    dn = claims.get("tls_client_auth_subject_dn")
    if method == "tls_client_auth":
        if not isinstance(dn, str) or "=" not in dn or len(dn) > 256:
            raise _metadata_error("tls_client_auth needs tls_client_auth_subject_dn, the subject "
                                  "DN of the client certificate")
        if not dn_of_organisation(dn, statement):
            raise _metadata_error("tls_client_auth_subject_dn must name the software "
                                  "statement's organisation (OU=org_id, or its eIDAS "
                                  "organizationIdentifier)")
        registered["tls_client_auth_subject_dn"] = dn
    elif dn is not None:
        raise _metadata_error("tls_client_auth_subject_dn is only for tls_client_auth")
    return registered


ORGANIZATION_IDENTIFIER = x509.ObjectIdentifier("2.5.4.97")   # eIDAS QWAC (ETSI TS 119 495)


def _organisation_ids(statement: dict) -> tuple[str, str | None]:
    """The SSA organisation as certificates name it: its org_id (OU of an OB transport
    certificate) and the suffix of its eIDAS organizationIdentifier
    (PSD<country>-<authority>-<registration id>), when the SSA says."""
    nca = statement.get("organisation_competent_authority_claims")
    suffix = None
    if isinstance(nca, dict) and nca.get("authority_id") and nca.get("registration_id"):
        suffix = f"-{nca['authority_id']}-{nca['registration_id']}"
    return str(statement.get("org_id") or ""), suffix


def _names_organisation(ous: list[str], org_identifiers: list[str], statement: dict) -> bool:
    org_id, suffix = _organisation_ids(statement)
    if org_id and org_id in ous:
        return True
    return suffix is not None and any(v.startswith("PSD") and v.endswith(suffix)
                                      for v in org_identifiers)


def certificate_of_organisation(certificate: ClientCertificate, statement: dict) -> bool:
    subject = certificate.certificate.subject
    ous = [str(a.value) for a in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)]
    ids = [str(a.value) for a in subject.get_attributes_for_oid(ORGANIZATION_IDENTIFIER)]
    return _names_organisation(ous, ids, statement)


def dn_of_organisation(dn: str, statement: dict) -> bool:
    """A registered subject DN (RFC 4514 text) names the SSA's organisation."""
    ous, ids = [], []
    for part in dn.replace(";", ",").split(","):
        name, _, value = part.partition("=")
        name = name.strip().lower()
        if name == "ou":
            ous.append(value.strip())
        elif name in ("organizationidentifier", "2.5.4.97"):
            ids.append(value.strip())
    return _names_organisation(ous, ids, statement)


def _grant_types(requested) -> list[str]:
    if not isinstance(requested, list) or not requested \
            or not all(isinstance(g, str) for g in requested):
        raise _metadata_error("grant_types must be a non-empty list")
    unsupported = sorted(set(requested) - set(GRANT_TYPES))
    if unsupported:
        raise _metadata_error(f"grant type {', '.join(unsupported)} is not supported: "
                              f"use {', '.join(GRANT_TYPES)}")
    return [g for g in GRANT_TYPES if g in requested]


def _response_types(requested, grant_types: list[str]) -> list[str]:
    if requested is None:
        return ["code id_token"] if "authorization_code" in grant_types else []
    if not isinstance(requested, list) or not all(isinstance(r, str) for r in requested):
        raise _metadata_error("response_types must be a list")
    unsupported = sorted(set(requested) - set(RESPONSE_TYPES))
    if unsupported:
        raise _metadata_error(f"response type {', '.join(unsupported)} is not supported: "
                              f"use code (FAPI 2.0) or code id_token (FAPI 1.0 Advanced)")
    if requested and "authorization_code" not in grant_types:
        raise _metadata_error("response_types need the authorization_code grant type")
    if not requested and "authorization_code" in grant_types:
        raise _metadata_error("the authorization_code grant type needs a response type")
    return [r for r in RESPONSE_TYPES if r in requested]


def _scope(requested, ssa_roles: list) -> tuple[str, list[str]]:
    granted = [r for r in ROLES if r in ssa_roles]
    if requested is None:
        scopes = ["openid"] + [s for s, role in SCOPE_ROLES.items() if role in granted]
        return " ".join(scopes), granted
    if not isinstance(requested, str) or not requested.split():
        raise _metadata_error("scope must be a space-separated string")
    scopes = list(dict.fromkeys(requested.split()))
    unknown = [s for s in scopes if s != "openid" and s not in SCOPE_ROLES]
    if unknown:
        raise _metadata_error(f"unknown scope {', '.join(unknown)}: use openid, "
                              f"{', '.join(SCOPE_ROLES)}")
    roles = {SCOPE_ROLES[s] for s in scopes if s in SCOPE_ROLES}
    missing = sorted(roles - set(granted))
    if missing:
        raise _metadata_error(f"the software statement does not grant the role "
                              f"{', '.join(missing)} that scope {requested!r} needs")
    return " ".join(scopes), [r for r in ROLES if r in roles]


def _one_of(claims: dict, name: str, allowed: tuple, default: str) -> str:
    value = claims.get(name, default)
    if value not in allowed:
        raise _metadata_error(f"{name} must be {' or '.join(allowed)}")
    return value


def _flag(claims: dict, name: str) -> bool:
    value = claims.get(name, False)
    if not isinstance(value, bool):
        raise _metadata_error(f"{name} must be true or false")
    return value


# --- use cases --------------------------------------------------------------------------------

def register_client(uow: UnitOfWork, request_jwt: str, *, config, now: datetime, replay,
                    rng: random.Random | None = None,
                    certificate: ClientCertificate | None = None) -> OAuthClient:
    """POST /register: a new client for a validated request (commit afterwards)."""
    valid = validate_request(uow, request_jwt, config=config, now=now, replay=replay,
                             certificate=certificate, transport=True)
    client = OAuthClient(client_id=new_id(rng), software_id=valid.software_id,
                         org_id=valid.org_id, client_name=valid.client_name,
                         profile=valid.profile, roles=valid.roles, client_metadata=valid.metadata,
                         software_statement=valid.software_statement, created_at=now,
                         updated_at=now)
    uow.session.add(client)
    uow.session.flush()
    _audit(uow, "registration.created", client, now)
    return client


def _audit(uow: UnitOfWork, event_type: str, client: OAuthClient, now: datetime) -> None:
    """A registration event in the audit trail (the registration's facts, never its keys)."""
    audit.record(uow, event_type, audit.Actor.client(client.client_id), now=now,
                 subject=client.client_id,
                 facts={"software_id": client.software_id, "org_id": client.org_id,
                        "client_name": client.client_name, "profile": client.profile,
                        "roles": list(client.roles or [])})


def update_client(uow: UnitOfWork, client: OAuthClient, request_jwt: str, *, config,
                  now: datetime, replay,
                  certificate: ClientCertificate | None = None) -> OAuthClient:
    """PUT /register/<client_id>: the whole registration again, for the same software, with
    the same transport rules as POST (a certificate presented must be the SSA
    organisation's, and makes the client an MTLS one). Tokens already issued stay valid (OB
    DCR)."""
    valid = validate_request(uow, request_jwt, config=config, now=now, replay=replay,
                             certificate=certificate, transport=True)
    if valid.software_id != client.software_id:
        raise _statement_error("the software statement is for other software than this client")
    if valid.request_claims.get("client_id", client.client_id) != client.client_id:
        raise _metadata_error("client_id does not match the client being updated")
    client.org_id, client.client_name = valid.org_id, valid.client_name
    client.profile, client.roles = valid.profile, valid.roles
    client.client_metadata, client.software_statement = valid.metadata, valid.software_statement
    client.updated_at = now
    uow.session.flush()
    _audit(uow, "registration.updated", client, now)
    return client


def delete_client(uow: UnitOfWork, client: OAuthClient, *, now: datetime) -> None:
    """DELETE /register/<client_id>: the client is gone and every token it holds stops working."""
    client.deleted_at = client.updated_at = now
    tokens.revoke_for_client(uow, client.id, now=now)
    uow.session.flush()
    _audit(uow, "registration.deleted", client, now)


def managed_client(uow: UnitOfWork, http_request, client_id: str, *, now: datetime, replay,
                   config) -> OAuthClient:
    """The client a management call may act on: the one its client-credentials token belongs
    to. Raises TokenError for a bad token; for any other client_id (unknown, deleted or
    another client's) the token is revoked and committed, and UnknownClient raised."""
    context = tokens.authenticate_resource_request(uow, http_request, now=now, replay=replay,
                                                   config=config)
    if context.grant_type != "client_credentials":
        raise tokens.TokenError("invalid_token", "registration management needs a "
                                "client-credentials token", scheme=context.token.token_type)
    if context.client.client_id != client_id:
        context.token.revoked_at = now
        uow.commit()
        raise UnknownClient(context.token.token_type)
    return context.client


def client_information(client: OAuthClient, *, issuer: str) -> dict:
    """The RFC 7591 client information response: the SSA's claims flattened (OB DCR), the
    registered metadata, client_id and client_id_issued_at."""
    try:
        statement = trust.unverified_claims(client.software_statement)
    except trust.InvalidSignature:
        statement = {}
    info = {k: v for k, v in statement.items() if k not in SSA_ENVELOPE}
    info.update(client.client_metadata)
    info.update(client_id=client.client_id,
                client_id_issued_at=int(client.created_at.timestamp()),
                client_name=client.client_name,
                software_statement=client.software_statement,
                registration_client_uri=f"{issuer.rstrip('/')}/register/{client.client_id}")
    return info


def registration_metadata(issuer: str | None = None) -> dict:
    """The discovery fields this module owns (merged into /.well-known/openid-configuration)."""
    issuer = (issuer or current_app.config["ISSUER"]).rstrip("/")
    return {"registration_endpoint": f"{issuer}/register"}


# --- HTTP -------------------------------------------------------------------------------------

bp = Blueprint("registration", __name__)


def _json(body: dict, status: int):
    response = jsonify(body)
    response.status_code = status
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


@bp.errorhandler(RegistrationError)
def _registration_error(exc: RegistrationError):
    return _json({"error": exc.error, "error_description": exc.description}, exc.status)


@bp.errorhandler(tokens.TokenError)
def _token_error(exc: tokens.TokenError):
    return exc.response()


@bp.errorhandler(UnknownClient)
def _unknown_client(exc: UnknownClient):
    return tokens.TokenError("invalid_token",
                             "no such client for this token; the token has been revoked",
                             scheme=exc.scheme).response()


def _request_jwt() -> str:
    if request.mimetype not in JWT_TYPES:
        raise _metadata_error("send the registration request as a signed JWT with "
                              "Content-Type application/jwt")
    if (request.content_length or 0) > MAX_REQUEST_BYTES:
        raise _metadata_error("the registration request is too large")
    body = request.get_data(as_text=True).strip()
    if len(body) > MAX_REQUEST_BYTES:
        raise _metadata_error("the registration request is too large")
    return body


@bp.post("/register")
def register():
    p = platform.current()
    body = _request_jwt()
    with p.uow() as uow:
        client = register_client(uow, body, config=p.config, now=p.clock.now(), replay=p.replay,
                                 certificate=client_certificate(request, p.config))
        uow.commit()
        request_log.note_client(client.client_id)
        return _json(client_information(client, issuer=p.config["ISSUER"]), 201)


@bp.get("/register/<client_id>")
def read(client_id: str):
    p = platform.current()
    with p.uow() as uow:
        client = managed_client(uow, request, client_id, now=p.clock.now(), replay=p.replay,
                                config=p.config)
        return _json(client_information(client, issuer=p.config["ISSUER"]), 200)


@bp.put("/register/<client_id>")
def update(client_id: str):
    p = platform.current()
    with p.uow() as uow:
        client = managed_client(uow, request, client_id, now=p.clock.now(), replay=p.replay,
                                config=p.config)
        client = update_client(uow, client, _request_jwt(), config=p.config, now=p.clock.now(),
                               replay=p.replay, certificate=client_certificate(request, p.config))
        uow.commit()
        return _json(client_information(client, issuer=p.config["ISSUER"]), 200)


@bp.delete("/register/<client_id>")
def delete(client_id: str):
    p = platform.current()
    with p.uow() as uow:
        client = managed_client(uow, request, client_id, now=p.clock.now(), replay=p.replay,
                                config=p.config)
        delete_client(uow, client, now=p.clock.now())
        uow.commit()
    return "", 204


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
