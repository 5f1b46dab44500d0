"""The authorization request: resolved from a pushed request (PAR, RFC 9126) or a signed
request object (JAR, RFC 9101), then checked against the client's registration and the FAPI
profile. Only the request object's (or the pushed request's) parameters are ever used.

A pushed request_uri's life (FAPI 2.0 SP 5.3.2.2 note 3; what the OpenID conformance suite's
par-ensure-reused-request-uri-prior-to-auth-completion-succeeds and
par-attempt-reuse-request_uri modules assert):
- its first use at /authorize starts a pending authorization and binds the request_uri to
  that journey and to the browser that brought it (the session's browser key);
- until the customer decides, the same browser presenting it again (a reload, a link
  pre-fetcher followed by the real visit) resumes the same pending authorization;
- until someone has signed in on that journey, another browser may present it too (a mail or
  chat link scanner with its own cookie jar opened the link first, then the customer's own
  browser): it resumes the same journey and the binding moves to it. Once a customer has
  signed in, the journey belongs to the browser that did (the bank's pages refuse any other,
  consent.web), and every other browser is refused (invalid_request_uri);
- everyone is refused once the decision is made or the journey ended (completed, expired,
  consent no longer awaiting authorisation);
- it is honoured only within its own lifetime (PAR_TTL): after that /authorize refuses it even
  from its own browser. A journey already started is not cut short: the bank's pages go on
  until the pending authorization's own expiry (PENDING_TTL, 10 minutes); only presenting the
  request_uri again at /authorize ends in "expired".

A request names the consent it asks the customer to authorise (`openbanking_intent_id`) and
that consent's one scope (accounts, payments or fundsconfirmations). A request with neither,
whose scope is `openid` alone, is a sign-in: an OpenID Connect authentication that shares
nothing. The customer signs in with SCA and confirms; the client gets an id_token whose
`sub` is pairwise (aspsp.oauth.subjects) and an access token good for /userinfo only, no
refresh token. It is what a relying party signing customers in needs, and what the OpenID
FAPI conformance suite's plain_fapi plans send.
"""
from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from sqlalchemy import select

from consent.domain import authorisation_closed, authorisation_overdue, may_reauthenticate
from consent.models import Consent

from .. import jsonsafe, platform
from ..db import UnitOfWork
from .clients import (JWS_ALGORITHMS, Client, audience_ok,
                      check_time_claims, client_jwks)
from .models import PendingAuthorization, PushedAuthorizationRequest
from .trust import InvalidSignature, parse_jws, verify_jws

PAR_URN_PREFIX = "urn:ietf:params:oauth:request_uri:"
MAX_REQUEST_OBJECT_LIFETIME = 3600   # FAPI 1.0 Advanced 5.2.2-13: exp - nbf <= 60 minutes
MAX_REQUEST_OBJECT_AGE = 3600        # FAPI 1.0 Advanced 5.2.2-17: nbf <= 60 minutes old
PENDING_TTL = timedelta(minutes=10)
AWAITING_AUTHORISATION = "AwaitingAuthorisation"
ACCOUNT_SCOPES = ("accounts", "payments", "fundsconfirmations")


class AuthorizationRequestError(Exception):
    """`redirect_uri` is set only once it is known to be the client's registered one: then the
    error goes back to the client; otherwise the user sees an error page."""

    def __init__(self, error: str, description: str, *, redirect_uri: str | None = None,
                 state: str | None = None, response_type: str | None = None, status: int = 400):
        super().__init__(description)
        self.error, self.description = error, description
        self.redirect_uri, self.state = redirect_uri, state
        self.response_type, self.status = response_type, status


def verify_request_object(uow: UnitOfWork, client: Client, request_object: str, *,
                          issuer: str, now: datetime) -> dict:
    """A FAPI request object: PS256/ES256 by a registered key, exp and nbf within 60 minutes,
    aud the issuer, iss and client_id the client."""
    def fail(description: str):
        raise AuthorizationRequestError("invalid_request_object", description)

    try:
        registered = client.metadata.get("request_object_signing_alg")
        kid = parse_jws(request_object)[1].get("kid")    # unknown: refetched (jwks_uri)
        claims = verify_jws(request_object, client_jwks(uow, client, kid=kid),
                            algorithms=(registered,) if registered else JWS_ALGORITHMS).claims
    except InvalidSignature as exc:
        fail(f"request object rejected: {exc}")
    problem = check_time_claims(claims, now, require_nbf=True,
                                max_lifetime=MAX_REQUEST_OBJECT_LIFETIME)
    if problem:
        fail(f"request object rejected: {problem}")
    if now.timestamp() - claims["nbf"] > MAX_REQUEST_OBJECT_AGE:
        fail("request object rejected: nbf is more than 60 minutes old")
    if not audience_ok(claims.get("aud"), {issuer, issuer.rstrip("/") + "/"}):
        fail("request object aud must be the issuer")
    if claims.get("client_id") != client.get_client_id():
        fail("request object client_id must be the client")
    if "iss" in claims and claims["iss"] != client.get_client_id():
        fail("request object iss must be the client")
    if "request" in claims or "request_uri" in claims:
        fail("request object may not contain request or request_uri")
    return {k: v for k, v in claims.items()
            if k not in ("iss", "aud", "exp", "nbf", "iat", "jti")}


def _printable(value) -> bool:
    return isinstance(value, str) and all(" " <= c <= "~" for c in value)


def _intent_id(claims_param) -> str | None:
    if isinstance(claims_param, str):
        try:
            claims_param = jsonsafe.loads(claims_param)
        except ValueError:
            return None
    if not isinstance(claims_param, dict):
        return None
    for member in ("id_token", "userinfo"):
        requested = claims_param.get(member)
        if isinstance(requested, dict) and isinstance(requested.get("openbanking_intent_id"), dict):
            value = requested["openbanking_intent_id"].get("value")
            if isinstance(value, str):
                return value
    return None


def check_parameters(uow: UnitOfWork, client: Client, params: dict, *, now: datetime,
                     pushed: bool) -> tuple[dict, Consent | None]:
    """Every rule the profile puts on the resolved parameters. Returns them with the consent
    (None for a sign-in: scope `openid` alone and no intent).
    `pushed`: the parameters came through PAR, where PKCE (S256) is required (FAPI 1.0
    Advanced §5.2.2-18, FAPI 2.0 §5.3.2.2); a FAPI 1.0 request object sent by value may omit
    it (Advanced waives PKCE there, and the OpenID conformance suite's FAPI 1.0 UK plan sends
    none), but PKCE it does send must be S256 and well formed, and is then enforced."""
    redirect_uri = params.get("redirect_uri")
    state = params.get("state") if _printable(params.get("state")) else None
    if not isinstance(redirect_uri, str) or not client.check_redirect_uri(redirect_uri):
        raise AuthorizationRequestError(
            "invalid_request", "redirect_uri is missing or is not registered for this client",
            state=state)
    response_type = params.get("response_type")
    expected = "code" if client.is_fapi2 else "code id_token"

    def fail(error: str, description: str):
        raise AuthorizationRequestError(error, description, redirect_uri=redirect_uri,
                                        state=state, response_type=response_type
                                        if response_type in ("code", "code id_token") else expected)

    if response_type != expected or not client.check_response_type(response_type):
        fail("unsupported_response_type", f"this client must use response_type={expected}")
    if params.get("state") is not None and state is None:
        fail("invalid_request", "state must be printable ASCII text (RFC 6749 appendix A.5)")
    raw_scope = params.get("scope")
    if not isinstance(raw_scope, str):   # a parameter missing: invalid_request (RFC 6749 4.1.2.1)
        fail("invalid_request", "scope is required in the request")
    if len(raw_scope) > 256:
        fail("invalid_scope", "scope must be a space-separated string")
    scopes = list(dict.fromkeys(raw_scope.split()))
    params["scope"] = " ".join(scopes)
    allowed = client.allowed_scopes()
    if not scopes or any(s not in allowed for s in scopes):
        fail("invalid_scope", f"scope must be within: {' '.join(sorted(allowed))}")
    if sum(s in ACCOUNT_SCOPES for s in scopes) > 1:
        fail("invalid_scope", "ask for one of accounts, payments, fundsconfirmations, not more")
    if "id_token" in response_type and "openid" not in scopes:
        fail("invalid_scope", "response_type code id_token needs the openid scope")
    pkce_required = pushed or client.is_fapi2
    if pkce_required or "code_challenge" in params or "code_challenge_method" in params:
        if params.get("code_challenge_method") != "S256":
            fail("invalid_request", "PKCE is required with code_challenge_method=S256"
                 if pkce_required else "code_challenge_method must be S256")
        challenge = params.get("code_challenge")
        if not isinstance(challenge, str) or not 43 <= len(challenge) <= 128:
            fail("invalid_request", "code_challenge is missing or malformed")
    nonce = params.get("nonce")
    if "id_token" in response_type and not nonce:
        fail("invalid_request", "nonce is required with response_type code id_token")
    if nonce is not None and (not _printable(nonce) or len(nonce) > 64):
        fail("invalid_request", "nonce must be printable ASCII of at most 64 characters")
    if state is not None and len(state) > 512:
        fail("invalid_request", "state is too long")
    intent_id = _intent_id(params.get("claims"))
    if not intent_id and not any(s in ACCOUNT_SCOPES for s in scopes):
        return params, None    # scope `openid` alone (what else a client may ask): a sign-in
    if not intent_id:
        fail("invalid_request", "claims.id_token.openbanking_intent_id is required")
    consent = uow.session.scalars(select(Consent).where(Consent.consent_id == intent_id)
                                  ).one_or_none()
    if consent is None or consent.client_pk != client.id:
        fail("invalid_request", "openbanking_intent_id does not name a consent of this client")
    if not _decidable(consent, now):       # or a VRP consent to re-authenticate (VRP profile)
        fail("invalid_request", "the consent is not awaiting authorisation")
    if consent.status == AWAITING_AUTHORISATION and authorisation_closed(consent.data, now):
        fail("invalid_request", "the consent's Authorisation.CompletionDateTime has passed")
    if authorisation_overdue(consent.status, consent.created_at, now,
                             int(platform.current().config["CONSENT_AUTHORISATION_WINDOW"])):
        fail("invalid_request", "the consent was not authorised within the bank's "
                                "authorisation window: it is Rejected")
    scope_for_type = "accounts" if consent.consent_type == "account-access" else \
        "fundsconfirmations" if consent.consent_type == "funds-confirmation" else "payments"
    if scope_for_type not in scopes:
        fail("invalid_scope", f"a {consent.consent_type} consent needs the {scope_for_type} scope")
    return params, consent


def push_request(uow: UnitOfWork, client: Client, form: dict, *, issuer: str, now: datetime,
                 ttl: int, dpop_jkt: str | None) -> PushedAuthorizationRequest:
    """PAR: validate now, store, hand back a single-use request_uri bound to the client."""
    if "request_uri" in form:
        raise AuthorizationRequestError("invalid_request", "request_uri is not allowed at PAR")
    if "request" in form:
        params = verify_request_object(uow, client, form["request"], issuer=issuer, now=now)
    else:
        if client.metadata.get("require_signed_request_object") or not client.is_fapi2:
            raise AuthorizationRequestError("invalid_request",
                                            "this client must send a signed request object")
        params = dict(form)
    if params.get("client_id", client.get_client_id()) != client.get_client_id():
        raise AuthorizationRequestError("invalid_request", "client_id does not match")
    params = {k: v for k, v in params.items() if k not in (
        "client_assertion", "client_assertion_type")}
    params["client_id"] = client.get_client_id()
    if dpop_jkt:
        if params.get("dpop_jkt") not in (None, dpop_jkt):
            raise AuthorizationRequestError("invalid_request",
                                            "dpop_jkt does not match the DPoP proof")
        params["dpop_jkt"] = dpop_jkt
    try:
        check_parameters(uow, client, params, now=now, pushed=True)
    except AuthorizationRequestError as exc:
        exc.redirect_uri = None  # PAR answers the client directly, never by redirect
        raise
    row = PushedAuthorizationRequest(
        request_uri=PAR_URN_PREFIX + secrets.token_urlsafe(32), client_pk=client.id,
        params=params, created_at=now, expires_at=now + timedelta(seconds=ttl))
    uow.session.add(row)
    uow.session.flush()
    return row


def start_or_resume(uow: UnitOfWork, client: Client, query: dict, *, issuer: str,
                    now: datetime, browser_hash: str) -> PendingAuthorization:
    """The pending authorization a request at the authorization endpoint leads to: a new one,
    or, for a request_uri this browser already started, the same one (see the module's
    docstring). Raises AuthorizationRequestError; the caller commits either way, so that a
    request_uri refused after its first use stays used."""
    if not query.get("request_uri"):
        params = resolve_front_channel(uow, client, query, issuer=issuer, now=now)
        params, consent = check_parameters(uow, client, params, now=now, pushed=False)
        return start_pending(uow, client, params, consent, now=now)
    par = _pushed_request(uow, client, query["request_uri"], now)
    if par.used_at is not None:
        return _resume(uow, par, browser_hash, now)
    par.used_at, par.browser_hash = now, browser_hash
    params, consent = check_parameters(uow, client, dict(par.params), now=now, pushed=True)
    pending = start_pending(uow, client, params, consent, now=now)
    par.pending_pk = pending.id
    return pending


def _pushed_request(uow: UnitOfWork, client: Client, request_uri: str,
                    now: datetime) -> PushedAuthorizationRequest:
    """The client's pushed request, locked (a reload racing the first visit waits for it)."""
    par = uow.session.scalars(select(PushedAuthorizationRequest).where(
        PushedAuthorizationRequest.request_uri == request_uri)
        .with_for_update().execution_options(populate_existing=True)).one_or_none()
    if par is None or par.client_pk != client.id:
        raise AuthorizationRequestError("invalid_request_uri",
                                        "request_uri is unknown or belongs to another client")
    if par.expires_at <= now:
        raise AuthorizationRequestError("invalid_request_uri", "request_uri has expired")
    return par


def _resume(uow: UnitOfWork, par: PushedAuthorizationRequest, browser_hash: str,
            now: datetime) -> PendingAuthorization:
    pending = uow.session.get(PendingAuthorization, par.pending_pk) if par.pending_pk else None
    if pending is None or pending.completed_at is not None or pending.expires_at <= now \
            or not _awaiting(uow, pending, now):
        raise AuthorizationRequestError("invalid_request_uri", "request_uri was already used")
    same_browser = par.browser_hash is not None and secrets.compare_digest(
        par.browser_hash, browser_hash or "")
    if not same_browser:
        if pending.psu_pk is not None:       # someone signed in: the journey is theirs
            raise AuthorizationRequestError("invalid_request_uri",
                                            "request_uri was already used")
        par.browser_hash = browser_hash      # nobody signed in yet: it follows the link
    return pending


def _awaiting(uow: UnitOfWork, pending: PendingAuthorization, now: datetime) -> bool:
    if pending.consent_pk is None:                # a sign-in: nothing else to wait for
        return True
    consent = uow.session.get(Consent, pending.consent_pk)
    return consent is not None and _decidable(consent, now)


def _decidable(consent: Consent, now: datetime) -> bool:
    """Awaiting authorisation, or a VRP consent its customer may re-authenticate (Authorised,
    not expired: OBIE VRP profile, "Consent Re-authentication")."""
    return consent.status == AWAITING_AUTHORISATION or may_reauthenticate(
        consent.consent_type, consent.status, consent.expiration_datetime, now)


def resolve_front_channel(uow: UnitOfWork, client: Client, query: dict, *, issuer: str,
                          now: datetime) -> dict:
    """The parameters of a signed request object at the authorization endpoint (a pushed
    request goes through `start_or_resume`)."""
    if client.is_fapi2 or client.metadata.get("require_pushed_authorization_requests"):
        raise AuthorizationRequestError("invalid_request",
                                        "this client must push its request (PAR) first")
    if not query.get("request"):
        raise AuthorizationRequestError("invalid_request",
                                        "a signed request object is required")
    params = verify_request_object(uow, client, query["request"], issuer=issuer, now=now)
    return params


def start_pending(uow: UnitOfWork, client: Client, params: dict, consent: Consent | None, *,
                  now: datetime) -> PendingAuthorization:
    pending = PendingAuthorization(reference=secrets.token_urlsafe(24), client_pk=client.id,
                                   consent_pk=consent and consent.id, params=params,
                                   created_at=now,
                                   expires_at=now + PENDING_TTL)
    uow.session.add(pending)
    uow.session.flush()
    return pending
