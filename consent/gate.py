"""The consent gate: what every protected Open Banking call passes before its view runs.

Token (lookup, expiry, revocation, sender constraint: aspsp.oauth.tokens) -> grant type ->
scope -> the client's PSD2 role -> the token's consent -> owning client -> status and
expiry -> customer -> permission -> account. The view then gets a `ConsentContext` of plain
values, never a raw token. Failures are OB errors: 401 without a body (with a WWW-Authenticate
challenge) when the token is missing, invalid, of a client-credentials grant where the
customer's authorisation is needed, or its consent has expired; 403 otherwise.

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
from sqlalchemy import select

from aspsp import platform
from aspsp.db import UnitOfWork
from aspsp.identity.models import PsuUser
from aspsp.ledger.models import Account, AccountParty
from aspsp.oauth import tokens
from aspsp.oauth.models import OAuthClient
from aspsp.obapi import AUTHENTICATES, ErrorCode, check_json_body, forbidden, unauthorized

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

    @classmethod
    def of(cls, row: OAuthClient) -> "ClientRef":
        return cls(row.id, row.client_id, row.client_name, tuple(row.roles or ()))


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
    token = _token(uow, req, now)
    _check_grant(token, grant)
    _check_scope(token, scope)
    _check_role(token.client, scope)
    return ClientContext(ClientRef.of(token.client), token.grant_type, token.scopes)


def authorise_request(uow: UnitOfWork, req, *, scope: str, now: datetime,
                      permission: str | Iterable[str] | None = None,
                      grant: str = AUTHORIZATION_CODE, account_id: str | None = None,
                      statuses: Iterable[ConsentStatus] = (ConsentStatus.AUTHORISED,)
                      ) -> ConsentContext:
    token = _token(uow, req, now)
    _check_grant(token, grant)
    _check_scope(token, scope)
    _check_role(token.client, scope)
    consent = uow.session.get(Consent, token.consent_pk) if token.consent_pk else None
    if consent is None or consent.consent_type not in CONSENT_TYPES_FOR_SCOPE[scope]:
        raise forbidden(ErrorCode.CONSENT_TYPE_MISMATCH,
                        f"the token is not bound to a consent for the {scope} scope")
    if consent.client_pk != token.client.id:
        raise forbidden(ErrorCode.CONSENT_OF_ANOTHER_CLIENT,
                        "the token's consent belongs to another client")
    status = effective_status(consent.status, consent.expiration_datetime, now)
    if status == ConsentStatus.EXPIRED:   # OBIE: an expired consent's token gets a bare 401
        raise unauthorized(tokens.TokenError("invalid_token", "the consent has expired",
                                             scheme=token.token.token_type).www_authenticate)
    if status not in set(statuses):
        raise forbidden(ErrorCode.INVALID_CONSENT_STATUS, f"the consent is {status}",
                        "Data.Status")
    if grant != CLIENT_CREDENTIALS and consent.psu_pk != token.psu_pk:
        raise forbidden(ErrorCode.CONSENT_OF_ANOTHER_CUSTOMER,
                        "the token's customer is not the customer of its consent")
    if permission is not None and not perms.grants(consent.permissions, permission):
        needed = permission if isinstance(permission, str) else " or ".join(permission)
        raise forbidden(ErrorCode.PERMISSION_MISSING, f"the consent does not grant {needed}")
    # The accounts chosen for the consent that the customer still holds: an account whose
    # holder has changed since (a joint holder removed, say) drops out at once.
    still_held = select(AccountParty.account_pk).join(
        PsuUser, PsuUser.party_pk == AccountParty.party_pk).where(PsuUser.id == consent.psu_pk)
    accounts = uow.session.execute(
        select(Account.id, Account.account_id)
        .join(ConsentAccount, ConsentAccount.account_pk == Account.id)
        .where(ConsentAccount.consent_pk == consent.id, Account.id.in_(still_held))).all()
    account_ids = frozenset(a.account_id for a in accounts)
    if account_id is not None and account_id not in account_ids:
        raise forbidden(ErrorCode.ACCOUNT_NOT_PERMITTED,
                        "the consent does not cover this account", "AccountId")
    return ConsentContext(
        consent_id=consent.consent_id, consent_pk=consent.id,
        consent_type=consent.consent_type, status=status, client_id=token.client.client_id,
        client_pk=token.client.id, psu_pk=token.psu_pk,
        permissions=perms.effective(consent.permissions or ()), account_ids=account_ids,
        account_pks=frozenset(a.id for a in accounts),
        transaction_from=consent.transaction_from_datetime,
        transaction_to=consent.transaction_to_datetime,
        expiration=consent.expiration_datetime, scopes=token.scopes,
        customer_ip_address=g.get("customer_ip_address"))


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


# --- the checks ------------------------------------------------------------------------------
def _token(uow: UnitOfWork, req, now: datetime) -> tokens.TokenContext:
    p = platform.current()
    try:
        return tokens.authenticate_resource_request(uow, req, now=now, replay=p.replay,
                                                    config=p.config)
    except tokens.TokenError as error:
        raise unauthorized(error.www_authenticate) from None


def _check_grant(token: tokens.TokenContext, grant: str) -> None:
    """A customer's resource called with a client-credentials token is 401 (the OBIE
    functional conformance suite asserts it for every account resource: the token is not
    valid here, and the customer's authorisation would make a valid one). A consent resource
    called with a customer's token stays 403: re-authenticating the customer cannot help."""
    if grant == CLIENT_CREDENTIALS:
        if token.grant_type != CLIENT_CREDENTIALS:
            raise forbidden(ErrorCode.WRONG_GRANT,
                            "this resource needs a client-credentials token")
        return
    if token.grant_type not in PSU_GRANTS or token.consent_pk is None or token.psu_pk is None:
        raise unauthorized(tokens.TokenError(
            "invalid_token", "this resource needs a token of the customer's authorisation "
            "(authorization_code grant)", scheme=token.token.token_type).www_authenticate)


def _check_scope(token: tokens.TokenContext, scope: str) -> None:
    if scope not in token.scopes:
        raise forbidden(ErrorCode.INSUFFICIENT_SCOPE, f"the token lacks the {scope} scope",
                        headers={"WWW-Authenticate": f'{token.token.token_type} '
                                 f'error="insufficient_scope", scope="{scope}"'})


def _check_role(client: OAuthClient, scope: str) -> None:
    role = ROLE_FOR_SCOPE[scope]
    if role not in (client.roles or ()):
        raise forbidden(ErrorCode.ROLE_MISSING, f"the client is not registered as an {role}")


__all__ = ["ClientContext", "ConsentContext", "authenticate_client", "authorise_request",
           "current_client", "current_consent", "requires_client", "requires_consent"]
