"""The end of the PSU's journey: the decision becomes an authorization response.

Approved: the consent is Authorised with the accounts picked, a 60-second single-use code is
issued (bound to the PKCE challenge and any DPoP key), and for FAPI 1.0 Advanced hybrid
clients a detached-signature id_token (c_hash, s_hash) rides along in the fragment.
Denied: the consent is Rejected and the client gets error=access_denied. Every response carries
`iss` (RFC 9207). A sign-in (no consent: aspsp.oauth.authz_request) approved gets its code
the same way, its id_token's `sub` the customer's pairwise subject; denied, access_denied;
either way the audit trail records the decision."""
from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from sqlalchemy import select

from consent.models import Consent

from .. import audit, platform
from ..db import UnitOfWork
from ..identity.models import PsuUser
from ..ledger.models import Account
from . import idtoken, subjects
from .models import AuthorizationCode, OAuthClient, PendingAuthorization
from .tokens import new_secret, token_hash

ACR_SCA = "urn:openbanking:psd2:sca"


class AuthorizationAlreadyCompleted(Exception):
    pass


def redirect_with(redirect_uri: str, params: dict, *, fragment: bool) -> str:
    params = {k: v for k, v in params.items() if v is not None}
    separator = "#" if fragment else ("&" if "?" in redirect_uri else "?")
    return f"{redirect_uri}{separator}{urlencode(params)}"


def error_redirect(redirect_uri: str, error: str, description: str, *, state: str | None,
                   response_type: str) -> str:
    issuer = platform.current().config["ISSUER"]
    return redirect_with(redirect_uri, {"error": error, "error_description": description,
                                        "state": state, "iss": issuer},
                         fragment="id_token" in response_type)


def complete_authorization(uow: UnitOfWork, pending: PendingAuthorization, *, approved: bool,
                           psu: PsuUser, account_ids: list[str], now: datetime) -> str:
    from consent import services as consent_services

    if pending.completed_at is not None or pending.expires_at <= now:
        raise AuthorizationAlreadyCompleted("this authorization request is finished")
    params = pending.params
    # Locked and re-read: two pending authorizations of one consent, or the TPP deleting it
    # meanwhile, are decided one after the other against the current status.
    consent = None if pending.consent_pk is None else uow.session.scalars(
        select(Consent).where(Consent.id == pending.consent_pk).with_for_update()
        .execution_options(populate_existing=True)).one()
    client = uow.session.get(OAuthClient, pending.client_pk)
    response_type = params["response_type"]
    state = params.get("state")
    pending.completed_at = now
    pending.psu_pk = psu.id
    if consent is None:
        audit.record(uow, "signin.approved" if approved else "signin.denied",
                     audit.Actor.customer(psu.psu_id), now=now, subject=client.client_id,
                     facts={"client_id": client.client_id, "scope": params["scope"]})
    if not approved:
        if consent is not None:
            consent_services.reject(uow, consent, psu=psu, now=now,
                                    reason="The customer declined the request")
        return error_redirect(params["redirect_uri"], "access_denied",
                              "The customer declined the request", state=state,
                              response_type=response_type)
    p = platform.current()
    if consent is not None:
        consent_services.check_authorisation_window(
            consent, now, int(p.config["CONSENT_AUTHORISATION_WINDOW"]))
        account_pks = list(uow.session.scalars(
            select(Account.id).where(Account.account_id.in_(account_ids)))) \
            if account_ids else []
        consent_services.authorise(uow, consent, psu=psu, account_pks=account_pks, now=now)
    code = new_secret()
    auth_time = pending.sca_at or now
    uow.session.add(AuthorizationCode(
        code_hash=token_hash(code), client_pk=client.id, consent_pk=consent and consent.id,
        psu_pk=psu.id,
        redirect_uri=params["redirect_uri"], scope=params["scope"], nonce=params.get("nonce"),
        code_challenge=params.get("code_challenge"),
        code_challenge_method=params.get("code_challenge_method"),
        dpop_jkt=params.get("dpop_jkt"), auth_time=auth_time, acr=ACR_SCA, created_at=now,
        expires_at=now + timedelta(seconds=p.config["AUTHORIZATION_CODE_TTL"])))
    response = {"code": code, "state": state, "iss": p.config["ISSUER"]}
    if "id_token" in response_type:
        response["id_token"] = idtoken.id_token(
            uow, client_id=client.client_id,
            sub=subjects.sub_of(uow, client, psu.id, consent, now),
            consent_id=consent and consent.consent_id, auth_time=auth_time,
            acr=ACR_SCA, now=now, nonce=params.get("nonce"), code=code, state=state,
            alg=client.client_metadata.get("id_token_signed_response_alg", "PS256"))
    uow.session.flush()
    return redirect_with(params["redirect_uri"], response, fragment="id_token" in response_type)
