"""The consent gate: what every protected Open Banking call passes before its view runs.

Token (lookup, expiry, revocation, sender constraint: aspsp.oauth.tokens) -> the client's rate
limit of the API family (aspsp.ratelimit: 429 with Retry-After) -> grant type ->
scope -> the client's PSD2 role -> the token's consent -> owning client -> status and
expiry -> customer -> permission -> account. The view then gets a `ConsentContext` of plain
values, never a raw token. Failures are OB errors: 401 without a body (with a WWW-Authenticate
challenge) when the token is missing, invalid, of a client-credentials grant where the
customer's authorisation is needed, or its consent has expired; 400
UK.OBIE.Resource.InvalidConsentStatus when the consent's status does not allow the call (OBIE
v3.1.11 namespaced enumerations: a 400 code); 403 otherwise.

The consent resources themselves (POST/GET/DELETE .../consents) take client-credentials
tokens (`requires_client`); the resources behind a consent take the customer's
authorization-code tokens (`requires_consent`). Both authenticate before the request body
is read.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable

from flask import g, request
from sqlalchemy import and_, select

from aspsp import platform, ratelimit, request_log
from aspsp.db import UnitOfWork
from aspsp.identity.models import PsuUser
from aspsp.ledger.domain import AccountKind
from aspsp.ledger.models import Account, AccountParty
from aspsp.oauth import tokens
from aspsp.oauth.models import OAuthToken
from aspsp.obapi import (AUTHENTICATES, ErrorCode, bad_request, check_json_body, forbidden,
                         unauthorized)

from . import permissions as perms
from .domain import ConsentStatus, ConsentType, effective_status
from .models import Consent, ConsentAccount

CLIENT_CREDENTIALS = "client_credentials"
AUTHORIZATION_CODE = "authorization_code"
# Grants whose tokens carry a customer's authorisation of a consent (a refreshed token keeps
# the grant type it was issued under).
PSU_GRANTS = frozenset({AUTHORIZATION_CODE, "urn:openid:params:grant-type:ciba"})

ROLE_FOR_SCOPE = {"accounts": "AISP", "payments": "PISP", "fundsconfirmations": "CBPII"}
CONSENT_TYPES_FOR_SCOPE = {
    "accounts": frozenset({ConsentType.ACCOUNT_ACCESS}),
    "fundsconfirmations": frozenset({ConsentType.FUNDS_CONFIRMATION}),
    "payments": frozenset(ConsentType) - {ConsentType.ACCOUNT_ACCESS,
                                          ConsentType.FUNDS_CONFIRMATION},
}


@dataclass(frozen=True)
class ClientRef:
    """The calling client as plain values (usable after the gate's unit of work has ended:
    the consent services read `id` and `client_id`, as on an OAuthClient row)."""
    id: int
    client_id: str
    client_name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ClientContext:
    """A client-credentials caller (for the consent resources)."""
    client: ClientRef
    grant_type: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class ConsentContext:
    """What a gated view may rely on: an Authorised consent of this client and customer."""
    consent_id: str
    consent_pk: int
    consent_type: str
    status: ConsentStatus
    client_id: str
    client_pk: int
    psu_pk: int | None
    permissions: frozenset[str]          # as granted, Detail codes implying their Basic codes
    account_ids: frozenset[str]
    account_pks: frozenset[int]
    transaction_from: datetime | None
    transaction_to: datetime | None
    expiration: datetime | None
    scopes: frozenset[str]
    customer_ip_address: str | None      # set: the PSU is present (x-fapi-customer-ip-address)
    # (row id, AccountId) of those of `account_pks` that are customer accounts, by row id:
    # what a resource needs to name the accounts it reads without loading them again.
    customer_accounts: tuple[tuple[int, str], ...] = ()

    def allows(self, permission: str | Iterable[str]) -> bool:
        return perms.grants(self.permissions, permission)

    def covers(self, account_id: str) -> bool:
        return account_id in self.account_ids

    @property
    def customer_present(self) -> bool:
        return self.customer_ip_address is not None


def authenticate_client(uow: UnitOfWork, req, *, scope: str, now: datetime,
                        grant: str = CLIENT_CREDENTIALS) -> ClientContext:
    """A sender-constrained token of `grant` with `scope`, of a client holding the role."""
    token = _token(uow, req, now, _CLIENT_QUERY)[0]
    _check_grant(token, grant)
    _check_scope(token, scope)
    _check_role(token, scope)
    return ClientContext(ClientRef(token.client_found, token.client_id, token.client_name,
                                   tuple(token.roles or ())),
                         token.grant_type, _scopes(token))


def authorise_request(uow: UnitOfWork, req, *, scope: str, now: datetime,
                      permission: str | Iterable[str] | None = None,
                      grant: str = AUTHORIZATION_CODE, account_id: str | None = None,
                      statuses: Iterable[ConsentStatus] = (ConsentStatus.AUTHORISED,)
                      ) -> ConsentContext:
    # One statement reads the token, its client, its consent and the consent's accounts
    # that the customer still holds (one row per such account, at least one row); the checks
    # below run on those values in the order the module docstring gives.
    rows = _token(uow, req, now, _CONSENT_QUERY)
    token = consent = rows[0]
    _check_grant(token, grant)
    _check_scope(token, scope)
    _check_role(token, scope)
    if consent.consent_found is None \
            or consent.consent_type not in CONSENT_TYPES_FOR_SCOPE[scope]:
        raise forbidden(ErrorCode.CONSENT_TYPE_MISMATCH,
                        f"the token is not bound to a consent for the {scope} scope")
    if consent.consent_client_pk != token.client_found:
        raise forbidden(ErrorCode.CONSENT_OF_ANOTHER_CLIENT,
                        "the token's consent belongs to another client")
    status = effective_status(consent.status, consent.expiration_datetime, now)
    if status == ConsentStatus.EXPIRED:   # OBIE: an expired consent's token gets a bare 401
        raise unauthorized(tokens.TokenError("invalid_token", "the consent has expired",
                                             scheme=token.token_type).www_authenticate)
    if status not in set(statuses):
        raise bad_request(ErrorCode.INVALID_CONSENT_STATUS, f"the consent is {status}",
                        "Data.Status")
    if grant != CLIENT_CREDENTIALS and consent.consent_psu_pk != token.psu_pk:
        raise forbidden(ErrorCode.CONSENT_OF_ANOTHER_CUSTOMER,
                        "the token's customer is not the customer of its consent")
    if permission is not None and not perms.grants(consent.permissions, permission):
        needed = permission if isinstance(permission, str) else " or ".join(permission)
        raise forbidden(ErrorCode.PERMISSION_MISSING, f"the consent does not grant {needed}")
    accounts = sorted((row.account_pk, row.account_id, row.account_kind) for row in rows
                      if row.account_pk is not None)
    account_ids = frozenset(a for _, a, _ in accounts)
    if account_id is not None and account_id not in account_ids:
        raise forbidden(ErrorCode.ACCOUNT_NOT_PERMITTED,
                        "the consent does not cover this account", "AccountId")
    return ConsentContext(
        consent_id=consent.consent_id, consent_pk=consent.consent_found,
        consent_type=consent.consent_type, status=status, client_id=token.client_id,
        client_pk=token.client_found, psu_pk=token.psu_pk,
        permissions=perms.effective(consent.permissions or ()), account_ids=account_ids,
        account_pks=frozenset(pk for pk, _, _ in accounts),
        transaction_from=consent.transaction_from_datetime,
        transaction_to=consent.transaction_to_datetime,
        expiration=consent.expiration_datetime, scopes=_scopes(token),
        customer_ip_address=g.get("customer_ip_address"),
        customer_accounts=tuple((pk, a) for pk, a, kind in accounts
                                if kind == AccountKind.CUSTOMER))


def requires_consent(scope: str, permission: str | Iterable[str] | None = None, *,
                     grant: str = AUTHORIZATION_CODE, account_arg: str = "AccountId",
                     statuses: Iterable[ConsentStatus] = (ConsentStatus.AUTHORISED,)
                     ) -> Callable:
    """Decorate a view of an OB blueprint: the view runs only for a request that passes the
    gate, with the context in `current_consent()`. The URL variable `account_arg` (when the
    route has it) must name an account of the consent."""
    statuses = tuple(statuses)

    def decorate(view):
        @functools.wraps(view)
        def gated(*args, **kwargs):
            p = platform.current()
            with p.uow() as uow:
                g.consent_context = authorise_request(
                    uow, request, scope=scope, now=p.clock.now(), permission=permission,
                    grant=grant, account_id=kwargs.get(account_arg), statuses=statuses)
            check_json_body()       # the body is read only once the caller is known
            return view(*args, **kwargs)
        setattr(gated, AUTHENTICATES, True)
        return gated
    return decorate


def current_consent() -> ConsentContext:
    return g.consent_context


def requires_client(scope: str, *, grant: str = CLIENT_CREDENTIALS) -> Callable:
    """Decorate a view of a consent resource: the view runs only for a client-credentials
    caller with `scope` and the matching role, found in `current_client()`."""
    def decorate(view):
        @functools.wraps(view)
        def gated(*args, **kwargs):
            p = platform.current()
            with p.uow() as uow:
                g.client_context = authenticate_client(uow, request, scope=scope,
                                                       now=p.clock.now(), grant=grant)
            check_json_body()
            return view(*args, **kwargs)
        setattr(gated, AUTHENTICATES, True)
        return gated
    return decorate


def current_client() -> ClientContext:
    return g.client_context


# --- the statements ---------------------------------------------------------------------------
def _consent_query():
    """The token and its client (aspsp.oauth.tokens.resource_token_select), the token's
    consent, and the accounts chosen for the consent that its customer still holds: an
    account whose holder has changed since (a joint holder removed, say) drops out at once.
    Outer joins all the way: a token without a consent, or a consent without such accounts,
    is still one row, with those columns null."""
    k, ca, a = Consent.__table__.c, ConsentAccount.__table__, Account.__table__
    still_held = (select(AccountParty.__table__.c.account_pk)
                  .join(PsuUser.__table__,
                        PsuUser.__table__.c.party_pk == AccountParty.__table__.c.party_pk)
                  .where(PsuUser.__table__.c.id == k.psu_pk)
                  .correlate(Consent.__table__))
    return (tokens.resource_token_select(
                k.id.label("consent_found"), k.consent_id, k.consent_type,
                k.client_pk.label("consent_client_pk"), k.psu_pk.label("consent_psu_pk"),
                k.status, k.expiration_datetime, k.transaction_from_datetime,
                k.transaction_to_datetime, k.permissions,
                a.c.id.label("account_pk"), a.c.account_id, a.c.kind.label("account_kind"))
            .outerjoin(Consent.__table__, k.id == OAuthToken.__table__.c.consent_pk)
            .outerjoin(ca, and_(ca.c.consent_pk == k.id, ca.c.account_pk.in_(still_held)))
            .outerjoin(a, a.c.id == ca.c.account_pk))


# Built once: the same statement object every request, so SQLAlchemy's compiled cache finds
# it without building and hashing a new expression each time.
_CONSENT_QUERY = _consent_query()
_CLIENT_QUERY = tokens.resource_token_select()


# --- the checks ------------------------------------------------------------------------------
def _token(uow: UnitOfWork, req, now: datetime, statement) -> list:
    """The rows of `statement` for the presented token, once it has passed the token checks
    (aspsp.oauth.tokens.check_resource_token): never empty."""
    p = platform.current()
    try:
        presented = tokens.presented_token(req)
        rows = uow.session.execute(statement, {"access_token_hash": presented.hash}).all()
        first = rows[0] if rows else None
        request_log.note_client(first.client_id if first is not None else None)
        tokens.check_resource_token(
            req, presented, first,
            client_live=first is not None and first.client_found is not None
            and first.client_deleted_at is None,
            now=now, replay=p.replay, config=p.config)
    except tokens.TokenError as error:
        raise unauthorized(error.www_authenticate) from None
    # The client's rate limit of this API family (its tier is on the row just read).
    ratelimit.check_api_client(first.client_id, first.rate_limit_tier, first.rate_limit_burst)
    return rows


def _scopes(token) -> frozenset[str]:
    return frozenset(token.scope.split())


def _check_grant(token, grant: str) -> None:
    """A customer's resource called with a client-credentials token is 401 (the OBIE
    functional conformance suite asserts it for every account resource: the token is not
    valid here, and the customer's authorisation would make a valid one). A consent resource
    called with a customer's token stays 403: re-authenticating the customer cannot help."""
    if grant == CLIENT_CREDENTIALS:
        if token.grant_type != CLIENT_CREDENTIALS:
            raise forbidden(ErrorCode.WRONG_GRANT,
                            "this resource needs a client-credentials token")
        return
    # A PSU token with no consent is a sign-in's (scope openid alone): its scope check is
    # what refuses it, 403, as it would any token short of the scope.
    if token.grant_type not in PSU_GRANTS or token.psu_pk is None:
        raise unauthorized(tokens.TokenError(
            "invalid_token", "this resource needs a token of the customer's authorisation "
            "(authorization_code grant)", scheme=token.token_type).www_authenticate)


def _check_scope(token, scope: str) -> None:
    if scope not in _scopes(token):
        raise forbidden(ErrorCode.INSUFFICIENT_SCOPE, f"the token lacks the {scope} scope",
                        headers={"WWW-Authenticate": f'{token.token_type} '
                                 f'error="insufficient_scope", scope="{scope}"'})


def _check_role(token, scope: str) -> None:
    """The token's client (a row of the gate's statement) holds the scope's PSD2 role."""
    role = ROLE_FOR_SCOPE[scope]
    if role not in (token.roles or ()):
        raise forbidden(ErrorCode.ROLE_MISSING, f"the client is not registered as an {role}")


__all__ = ["ClientContext", "ConsentContext", "authenticate_client", "authorise_request",
           "current_client", "current_consent", "requires_client", "requires_consent"]
