"""Access and refresh tokens: opaque random strings, stored as SHA-256 hashes, bound to the
client's DPoP key (cnf.jkt) or TLS certificate (cnf.x5t#S256), and to the consent they serve."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Request
from sqlalchemy import select, update

from ..db import UnitOfWork
from .dpop import InvalidDPoPProof, verify_proof
from .models import OAuthClient, OAuthToken
from .mtls import client_certificate
from .replay import ReplayCache


def token_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    token_type: str
    expires_in: int
    scope: str
    refresh_token: str | None
    row: OAuthToken


def issue_tokens(uow: UnitOfWork, *, client: OAuthClient, grant_type: str, scope: str,
                 now: datetime, ttl: int, consent_pk: int | None = None,
                 psu_pk: int | None = None, code_pk: int | None = None,
                 cnf_jkt: str | None = None, cnf_x5t: str | None = None,
                 refresh_expires_at: datetime | None = None) -> IssuedToken:
    """A new access token (and a refresh token when `refresh_expires_at` is given)."""
    access, refresh = new_secret(), (new_secret() if refresh_expires_at else None)
    row = OAuthToken(access_token_hash=token_hash(access),
                     refresh_token_hash=token_hash(refresh) if refresh else None,
                     client_pk=client.id, consent_pk=consent_pk, psu_pk=psu_pk, code_pk=code_pk,
                     grant_type=grant_type, scope=scope,
                     token_type="DPoP" if cnf_jkt else "Bearer", cnf_jkt=cnf_jkt,
                     cnf_x5t=cnf_x5t, issued_at=now, expires_at=now + timedelta(seconds=ttl),
                     refresh_expires_at=refresh_expires_at)
    uow.session.add(row)
    uow.session.flush()
    return IssuedToken(access, row.token_type, ttl, scope, refresh, row)


def find_by_access_token(uow: UnitOfWork, value: str) -> OAuthToken | None:
    return uow.session.scalars(select(OAuthToken).where(
        OAuthToken.access_token_hash == token_hash(value))).one_or_none()


def find_by_refresh_token(uow: UnitOfWork, value: str) -> OAuthToken | None:
    return uow.session.scalars(select(OAuthToken).where(
        OAuthToken.refresh_token_hash == token_hash(value))).one_or_none()


def revoke_for_consent(uow: UnitOfWork, consent_pk: int, *, now: datetime) -> None:
    """Every token of the consent stops working at once."""
    uow.session.execute(update(OAuthToken).where(OAuthToken.consent_pk == consent_pk,
                                                 OAuthToken.revoked_at.is_(None))
                        .values(revoked_at=now))


def revoke_for_code(uow: UnitOfWork, code_pk: int, *, now: datetime) -> None:
    uow.session.execute(update(OAuthToken).where(OAuthToken.code_pk == code_pk,
                                                 OAuthToken.revoked_at.is_(None))
                        .values(revoked_at=now))


def revoke_for_client(uow: UnitOfWork, client_pk: int, *, now: datetime) -> None:
    uow.session.execute(update(OAuthToken).where(OAuthToken.client_pk == client_pk,
                                                 OAuthToken.revoked_at.is_(None))
                        .values(revoked_at=now))


DPOP_ALGS = "PS256 ES256"
# What an RFC 6750 §3 / RFC 9449 §7.1 quoted parameter may hold (no quote, no backslash).
_HEADER_SAFE = {chr(c) for c in range(0x20, 0x7F)} - {'"', "\\"}


def header_safe(value: str) -> str:
    """`value` as an RFC 6749/6750 error_description may carry it (ASCII, no quote or
    backslash): authlib refuses any other, and a header could be split by it."""
    return "".join(c for c in str(value) if c in _HEADER_SAFE)[:300]


class TokenError(Exception):
    """A resource request without a usable token: 401 with a WWW-Authenticate challenge for
    the scheme the token needs (DPoP with the accepted algs, RFC 9449 §7.1; Bearer for a
    certificate-bound token, RFC 6750 §3). `credentials=False` (no token at all): both
    challenges, without an error code (RFC 6750 §3.1)."""

    def __init__(self, error: str, description: str, status: int = 401, scheme: str = "Bearer",
                 *, credentials: bool = True):
        super().__init__(description)
        self.error, self.description, self.status, self.scheme = error, description, status, scheme
        self.credentials = credentials

    def response(self):
        """The RFC 6750 answer: a JSON error body and the WWW-Authenticate challenge."""
        from flask import jsonify
        response = jsonify(error=self.error, error_description=self.description)
        response.status_code = self.status
        response.headers["WWW-Authenticate"] = self.www_authenticate
        return response

    @property
    def www_authenticate(self) -> str:
        if not self.credentials:
            return f'DPoP algs="{DPOP_ALGS}", Bearer'
        params = [f'error="{self.error}"', f'error_description="{header_safe(self.description)}"']
        if self.scheme == "DPoP":
            params.append(f'algs="{DPOP_ALGS}"')
        return f"{self.scheme} " + ", ".join(params)


@dataclass(frozen=True)
class TokenContext:
    token: OAuthToken
    client: OAuthClient
    scopes: frozenset[str] = field(default_factory=frozenset)

    @property
    def consent_pk(self) -> int | None:
        return self.token.consent_pk

    @property
    def psu_pk(self) -> int | None:
        return self.token.psu_pk

    @property
    def grant_type(self) -> str:
        return self.token.grant_type


def authenticate_resource_request(uow: UnitOfWork, request: Request, *, now: datetime,
                                  replay: ReplayCache, config) -> TokenContext:
    """The token in the Authorization header, checked for existence, expiry, revocation and its
    sender constraint (DPoP proof with the bound key, or the bound client certificate)."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme not in ("Bearer", "DPoP") or not value:
        raise TokenError("invalid_request",
                         "an access token is required in the Authorization header",
                         credentials=False)
    token = find_by_access_token(uow, value)
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise TokenError("invalid_token", "the access token is unknown, expired or revoked",
                         scheme=scheme)
    client = uow.session.get(OAuthClient, token.client_pk)
    if client is None or client.deleted_at is not None:
        raise TokenError("invalid_token", "the client of this token is no longer registered",
                         scheme=token.token_type)
    if token.cnf_jkt:
        if scheme != "DPoP":
            raise TokenError("invalid_token", "this token is DPoP-bound: use the DPoP scheme",
                             scheme="DPoP")
        try:
            proof = verify_proof(request.headers.get("DPoP"), method=request.method,
                                 url=config["ISSUER"].rstrip("/") + request.path, now=now, replay=replay,
                                 access_token=value)
        except InvalidDPoPProof as exc:
            raise TokenError("invalid_dpop_proof", exc.description, scheme="DPoP") from None
        if proof.jkt != token.cnf_jkt:
            raise TokenError("invalid_token", "the DPoP proof is signed by another key",
                             scheme="DPoP")
    elif token.cnf_x5t:
        if scheme != "Bearer":              # RFC 8705 §3: a certificate-bound token is a
            raise TokenError("invalid_token",   # bearer token presented over MTLS
                             "this token is certificate-bound: use the Bearer scheme")
        cert = client_certificate(request, config)
        if cert is None or cert.x5t_s256 != token.cnf_x5t:
            raise TokenError("invalid_token",
                             "this token is bound to another client certificate")
    else:
        raise TokenError("invalid_token", "the access token is not sender-constrained")
    return TokenContext(token=token, client=client, scopes=frozenset(token.scope.split()))
