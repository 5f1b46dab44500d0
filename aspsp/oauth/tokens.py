"""Access and refresh tokens: opaque random strings, stored as SHA-256 hashes, bound to the
client's DPoP key (cnf.jkt) or TLS certificate (cnf.x5t#S256), and to the consent they serve."""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import Request
from sqlalchemy import Select, bindparam, select, update

from .. import request_log
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


@dataclass(frozen=True)
class PresentedToken:
    """The access token as the request presents it: `Authorization: <scheme> <value>`."""
    scheme: str
    value: str

    @property
    def hash(self) -> str:
        return token_hash(self.value)


def presented_token(request: Request) -> PresentedToken:
    """The token in the Authorization header (Bearer or DPoP), or TokenError."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    value = value.strip()
    # Auth-scheme names are case-insensitive (RFC 9110 §11.1): `dPoP` is DPoP, `bEARER` Bearer
    # (the OpenID suite's access-token-type-header-case-sensitivity module sends both).
    scheme = _SCHEMES.get(scheme.lower(), "")
    if not scheme or not value:
        raise TokenError("invalid_request",
                         "an access token is required in the Authorization header",
                         credentials=False)
    return PresentedToken(scheme, value)


_SCHEMES = {"bearer": "Bearer", "dpop": "DPoP"}


_TOKENS, _CLIENTS = OAuthToken.__table__, OAuthClient.__table__


def resource_token_select(*more_columns) -> Select:
    """One statement for what a resource request's token checks read: the token found by the
    hash of its value (bound parameter `access_token_hash`) and its client, as plain columns
    (no ORM objects), labelled with the names `check_resource_token` reads. A caller may join
    more onto it and add `more_columns` (consent.gate adds the consent and its accounts, so
    that the whole gate is one round trip)."""
    t, c = _TOKENS.c, _CLIENTS.c
    return (select(t.id.label("token_pk"), t.client_pk, t.consent_pk, t.psu_pk, t.grant_type,
                   t.scope, t.token_type, t.cnf_jkt, t.cnf_x5t, t.expires_at, t.revoked_at,
                   c.id.label("client_found"), c.client_id, c.client_name, c.roles,
                   c.deleted_at.label("client_deleted_at"), c.rate_limit_tier,
                   c.rate_limit_burst, *more_columns)
            .select_from(_TOKENS.outerjoin(_CLIENTS, c.id == t.client_pk))
            .where(t.access_token_hash == bindparam("access_token_hash")))


def check_resource_token(request: Request, presented: PresentedToken, token, *,
                         client_live: bool, now: datetime, replay: ReplayCache,
                         config) -> None:
    """The presented token's existence, expiry, revocation, client and sender constraint
    (DPoP proof with the bound key, or the bound client certificate); TokenError otherwise.
    `token` is the stored token (an OAuthToken, or a row of `resource_token_select`: both
    have revoked_at, expires_at, token_type, cnf_jkt and cnf_x5t) or None; `client_live`
    whether its client is still registered."""
    scheme, value = presented.scheme, presented.value
    if token is None or token.revoked_at is not None or token.expires_at <= now:
        raise TokenError("invalid_token", "the access token is unknown, expired or revoked",
                         scheme=scheme)
    if not client_live:
        raise TokenError("invalid_token", "the client of this token is no longer registered",
                         scheme=token.token_type)
    if token.cnf_jkt:
        if scheme != "DPoP":
            raise TokenError("invalid_token", "this token is DPoP-bound: use the DPoP scheme",
                             scheme="DPoP")
        try:
            proof = verify_proof(request.headers.get("DPoP"), method=request.method,
                                 url=config["ISSUER"].rstrip("/") + request.path, now=now,
                                 replay=replay, access_token=value)
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


def authenticate_resource_request(uow: UnitOfWork, request: Request, *, now: datetime,
                                  replay: ReplayCache, config) -> TokenContext:
    """The token in the Authorization header, checked for existence, expiry, revocation and its
    sender constraint (DPoP proof with the bound key, or the bound client certificate), with
    its ORM rows (for callers that change them: registration management revokes the token).
    The consent gate reads the same through one statement of plain columns
    (`resource_token_select`)."""
    presented = presented_token(request)
    found = uow.session.execute(
        select(OAuthToken, OAuthClient).outerjoin(OAuthClient,
                                                  OAuthClient.id == OAuthToken.client_pk)
        .where(OAuthToken.access_token_hash == presented.hash)).one_or_none()
    token, client = found if found is not None else (None, None)
    request_log.note_client(client.client_id if client is not None else None)
    check_resource_token(request, presented, token,
                         client_live=client is not None and client.deleted_at is None,
                         now=now, replay=replay, config=config)
    return TokenContext(token=token, client=client, scopes=frozenset(token.scope.split()))
