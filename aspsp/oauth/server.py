"""authlib's authorization server with our grants, client authentication and endpoints.

Every token is sender-constrained: the token endpoint binds it to the DPoP key of the proof
sent with the request, or else to the client's TLS certificate; a request with neither is
refused. PKCE is S256 and always required; codes are single-use, live 60 s, and a replayed
code revokes what was issued from it."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from authlib.integrations.flask_oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (InvalidGrantError, InvalidRequestError, InvalidScopeError,
                                    OAuth2Error, UnauthorizedClientError)
from authlib.oauth2.rfc6749.grants import (AuthorizationCodeGrant, ClientCredentialsGrant,
                                           RefreshTokenGrant)
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oauth2.rfc7662 import IntrospectionEndpoint
from flask import g, request as flask_request
from sqlalchemy import select

from consent.domain import ConsentStatus, effective_status
from consent.models import Consent

from .. import audit, platform
from . import idtoken, subjects, tokens
from .client_auth import METHODS, authenticate_private_key_jwt, authenticate_tls_client
from .clients import Client, find_client
from .dpop import InvalidDPoPProof, verify_proof
from .models import AuthorizationCode, OAuthToken
from .mtls import client_certificate

CC_SCOPES = ("accounts", "payments", "fundsconfirmations")


def _still_authorised(consent: Consent | None, now: datetime) -> bool:
    """Authorised and not past its ExpirationDateTime (expiry needs no job to take effect)."""
    return consent is not None and effective_status(
        consent.status, consent.expiration_datetime, now) == ConsentStatus.AUTHORISED


class InvalidDPoPProofError(OAuth2Error):
    error = "invalid_dpop_proof"

    def __init__(self, description: str):
        super().__init__(description=tokens.header_safe(description))


@dataclass
class Binding:
    jkt: str | None = None
    x5t: str | None = None


def request_binding(url: str) -> Binding:
    """The keys this request proves possession of: a DPoP proof's and a trusted client
    certificate's (either may be absent)."""
    p = platform.current()
    proof_header = flask_request.headers.get("DPoP")
    jkt = None
    if proof_header is not None:
        try:
            proof = verify_proof(proof_header, method=flask_request.method, url=url,
                                 now=p.clock.now(), replay=p.replay)
        except InvalidDPoPProof as exc:
            raise InvalidDPoPProofError(exc.description) from None
        jkt = proof.jkt
    cert = client_certificate(flask_request, p.config)
    return Binding(jkt=jkt, x5t=cert.x5t_s256 if cert else None)


def _binding_for(client: Client) -> Binding:
    """The one key a new token is bound to. A client registered with
    tls_client_certificate_bound_access_tokens gets certificate-bound tokens only (RFC 8705
    §3.4; FAPI 1.0 Advanced); one registered with dpop_bound_access_tokens, DPoP-bound only
    (RFC 9449 §5.2); any other client, its DPoP key if it sent a proof, else its certificate."""
    binding: Binding = g.oauth_binding
    if client.metadata.get("tls_client_certificate_bound_access_tokens"):
        if binding.x5t is None:
            raise InvalidRequestError("this client's tokens are bound to its TLS client "
                                      "certificate: connect with it")
        return Binding(x5t=binding.x5t)
    if client.metadata.get("dpop_bound_access_tokens"):
        if binding.jkt is None:
            raise InvalidDPoPProofError("this client must send a DPoP proof")
        return Binding(jkt=binding.jkt)
    if binding.jkt is not None:
        return Binding(jkt=binding.jkt)
    if binding.x5t is not None:
        return Binding(x5t=binding.x5t)
    raise InvalidRequestError("sender-constrained tokens only: send a DPoP proof or "
                              "connect with the client's TLS certificate")


def _audit_token(uow, event_type: str, client_id: str, row: OAuthToken, now: datetime, *,
                 consent: Consent | None = None, **facts) -> None:
    """A token event in the audit trail: which token (its row, never its value), for which
    client, grant, scope and consent, and how it is bound."""
    audit.record(uow, event_type, audit.Actor.client(client_id), now=now,
                 subject=consent.consent_id if consent is not None else None,
                 facts={"ref": row.id, "grant_type": row.grant_type, "scope": row.scope,
                        "bound_to": "dpop" if row.cnf_jkt else "mtls" if row.cnf_x5t else None,
                        **facts})


def _token_response(issued: tokens.IssuedToken, id_token: str | None = None) -> dict:
    body = {"access_token": issued.access_token, "token_type": issued.token_type,
            "expires_in": issued.expires_in, "scope": issued.scope}
    if issued.refresh_token:
        body["refresh_token"] = issued.refresh_token
    if id_token:
        body["id_token"] = id_token
    return body


class FapiClientCredentialsGrant(ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = METHODS

    def validate_token_request(self):
        client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("the client may not use client_credentials")
        self.request.client = client
        allowed = [s for s in CC_SCOPES if s in client.allowed_scopes()]
        requested = str(self.request.payload.scope or "").split() or allowed
        if not requested or any(s not in allowed for s in requested):
            raise InvalidScopeError(f"scope must be within: {' '.join(allowed)}")
        self.request.granted_scope = " ".join(requested)

    def create_token_response(self):
        p = platform.current()
        client: Client = self.request.client
        binding = _binding_for(client)
        issued = tokens.issue_tokens(g.oauth_uow, client=client.row, grant_type=self.GRANT_TYPE,
                                     scope=self.request.granted_scope, now=p.clock.now(),
                                     ttl=p.config["ACCESS_TOKEN_TTL"], cnf_jkt=binding.jkt,
                                     cnf_x5t=binding.x5t)
        _audit_token(g.oauth_uow, "token.issued", client.get_client_id(), issued.row,
                     p.clock.now())
        return 200, _token_response(issued), self.TOKEN_RESPONSE_HEADER


class FapiAuthorizationCodeGrant(AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = METHODS
    RESPONSE_TYPES = set()  # the authorization endpoint is ours (PAR/JAR + PSU journey)

    def validate_token_request(self):
        p = platform.current()
        uow, now = g.oauth_uow, p.clock.now()
        client: Client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("the client may not use authorization_code")
        code = self.request.form.get("code")
        if not code:
            raise InvalidRequestError("code is missing")
        row = uow.session.scalars(select(AuthorizationCode).where(
            AuthorizationCode.code_hash == tokens.token_hash(code)).with_for_update()
        ).one_or_none()
        if row is None:
            raise InvalidGrantError("the code is unknown")
        if row.client_pk != client.id:
            raise InvalidGrantError("the code was issued to another client")
        if row.used_at is not None:
            tokens.revoke_for_code(uow, row.id, now=now)  # kept: the endpoint always commits
            audit.record(uow, "token.revoked", audit.Actor.client(client.get_client_id()),
                         now=now, facts={"reason": "authorization code used twice",
                                         "ref": row.id})
            raise InvalidGrantError("the code was already used; tokens issued from it are revoked")
        if row.expires_at <= now:
            raise InvalidGrantError("the code has expired")
        if self.request.form.get("redirect_uri") != row.redirect_uri:
            raise InvalidGrantError("redirect_uri does not match the authorization request")
        verifier = self.request.form.get("code_verifier")
        if row.code_challenge is not None:   # RFC 7636 §4.6: not redeemed without it
            if not verifier:
                raise InvalidGrantError("code_verifier is missing (PKCE is required)")
            if row.code_challenge_method != "S256" or \
                    create_s256_code_challenge(verifier) != row.code_challenge:
                raise InvalidGrantError("code_verifier does not match the code_challenge")
        elif verifier is not None:   # a FAPI 1.0 request by value that sent no challenge
            raise InvalidGrantError("code_verifier sent for a code requested without PKCE")
        binding = _binding_for(client)
        if row.dpop_jkt and binding.jkt != row.dpop_jkt:
            raise InvalidDPoPProofError("the DPoP key is not the one the code is bound to")
        consent = None
        if row.consent_pk is not None:         # None: a sign-in's code (no consent)
            consent = uow.session.get(Consent, row.consent_pk)
            if not _still_authorised(consent, now):
                raise InvalidGrantError("the consent is no longer authorised")
        self.request.client = client
        self.request.authorization_code = row
        self.request.binding = binding
        self.request.consent = consent

    def create_token_response(self):
        p = platform.current()
        uow, now = g.oauth_uow, p.clock.now()
        client: Client = self.request.client
        row: AuthorizationCode = self.request.authorization_code
        consent: Consent | None = self.request.consent
        row.used_at = now
        refresh_until = None
        # A sign-in (no consent) gets no refresh token: it asked for no lasting access.
        if consent is not None and client.check_grant_type("refresh_token"):
            refresh_until = now + timedelta(seconds=p.config["REFRESH_TOKEN_TTL"])
            if consent.expiration_datetime:
                refresh_until = min(refresh_until, consent.expiration_datetime)
        issued = tokens.issue_tokens(
            uow, client=client.row, grant_type=self.GRANT_TYPE, scope=row.scope, now=now,
            ttl=p.config["ACCESS_TOKEN_TTL"], consent_pk=row.consent_pk, psu_pk=row.psu_pk,
            code_pk=row.id, cnf_jkt=self.request.binding.jkt, cnf_x5t=self.request.binding.x5t,
            refresh_expires_at=refresh_until)
        _audit_token(uow, "token.issued", client.get_client_id(), issued.row, now,
                     consent=consent, refresh=bool(issued.refresh_token))
        id_token = None
        if "openid" in row.scope.split():
            id_token = idtoken.id_token(
                uow, client_id=client.get_client_id(),
                sub=subjects.sub_of(uow, client.row, row.psu_pk, consent, now),
                consent_id=consent and consent.consent_id, auth_time=row.auth_time,
                acr=row.acr, now=now, nonce=row.nonce,
                access_token=issued.access_token,
                alg=client.metadata.get("id_token_signed_response_alg", "PS256"))
        return 200, _token_response(issued, id_token), self.TOKEN_RESPONSE_HEADER


class FapiRefreshTokenGrant(RefreshTokenGrant):
    """No rotation (FAPI 2.0): the refresh token stays; each use replaces the access token."""
    TOKEN_ENDPOINT_AUTH_METHODS = METHODS

    def validate_token_request(self):
        p = platform.current()
        uow, now = g.oauth_uow, p.clock.now()
        client: Client = self.authenticate_token_endpoint_client()
        if not client.check_grant_type(self.GRANT_TYPE):
            raise UnauthorizedClientError("the client may not use refresh_token")
        value = self.request.form.get("refresh_token")
        if not value:
            raise InvalidRequestError("refresh_token is missing")
        row = tokens.find_by_refresh_token(uow, value)
        if row is None or row.client_pk != client.id or row.revoked_at is not None \
                or (row.refresh_expires_at and row.refresh_expires_at <= now):
            raise InvalidGrantError("the refresh token is unknown, expired or revoked")
        consent = uow.session.get(Consent, row.consent_pk) if row.consent_pk else None
        if not _still_authorised(consent, now):
            raise InvalidGrantError("the consent is no longer authorised")
        self.request.client = client
        self.request.refresh_row = row
        self.request.binding = _binding_for(client)

    def create_token_response(self):
        p = platform.current()
        now = p.clock.now()
        row: OAuthToken = self.request.refresh_row
        access = tokens.new_secret()
        row.access_token_hash = tokens.token_hash(access)
        row.expires_at = now + timedelta(seconds=p.config["ACCESS_TOKEN_TTL"])
        row.cnf_jkt, row.cnf_x5t = self.request.binding.jkt, self.request.binding.x5t
        row.token_type = "DPoP" if row.cnf_jkt else "Bearer"
        body = {"access_token": access, "token_type": row.token_type,
                "expires_in": p.config["ACCESS_TOKEN_TTL"], "scope": row.scope,
                "refresh_token": self.request.form["refresh_token"]}
        client: Client = self.request.client
        consent = g.oauth_uow.session.get(Consent, row.consent_pk) if row.consent_pk else None
        _audit_token(g.oauth_uow, "token.refreshed", client.get_client_id(), row, now,
                     consent=consent)
        return 200, body, self.TOKEN_RESPONSE_HEADER


@dataclass
class TokenView:
    """An OAuthToken as authlib's introspection and revocation endpoints see it: the access
    token or the refresh token of the row, whichever the presented value was."""
    row: OAuthToken
    client: Client
    kind: str  # access_token, refresh_token

    @property
    def expires_at(self) -> datetime | None:
        return self.row.refresh_expires_at if self.kind == "refresh_token" else self.row.expires_at

    def check_client(self, client) -> bool:
        return client.get_client_id() == self.client.get_client_id()

    def is_expired(self) -> bool:
        return self.expires_at is None or self.expires_at <= platform.current().clock.now()

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None


def _query_token(value: str, hint: str | None) -> TokenView | None:
    uow = g.oauth_uow
    row = None
    if hint != "refresh_token":
        row = tokens.find_by_access_token(uow, value)
    kind = "access_token"
    if row is None:
        row = tokens.find_by_refresh_token(uow, value)
        kind = "refresh_token"
    if row is None:
        return None
    return TokenView(row, Client(row.client), kind)


class FapiIntrospectionEndpoint(IntrospectionEndpoint):
    CLIENT_AUTH_METHODS = METHODS

    def query_token(self, token_string, token_type_hint):
        return _query_token(token_string, token_type_hint)

    def check_permission(self, token, client, request):
        return token.check_client(client)  # the owning client only

    def introspect_token(self, token: TokenView):
        row = token.row
        body = {"active": True, "client_id": token.client.get_client_id(), "scope": row.scope,
                "token_type": row.token_type if token.kind == "access_token" else "refresh_token",
                "exp": int(token.expires_at.timestamp()),
                "iat": int(row.issued_at.timestamp()),
                "iss": platform.current().config["ISSUER"]}
        consent = None
        if row.consent_pk:
            consent = g.oauth_uow.session.get(Consent, row.consent_pk)
            if not _still_authorised(consent, platform.current().clock.now()):
                return {"active": False}  # the consent ended: its tokens are no longer active
            body["openbanking_intent_id"] = consent.consent_id
        if consent is not None or row.psu_pk is not None:   # the consent's id, or a sign-in's
            body["sub"] = subjects.sub_of(g.oauth_uow, row.client, row.psu_pk, consent,
                                          platform.current().clock.now())
        if row.cnf_jkt:
            body["cnf"] = {"jkt": row.cnf_jkt}
        elif row.cnf_x5t:
            body["cnf"] = {"x5t#S256": row.cnf_x5t}
        return {k: v for k, v in body.items() if v is not None}


class FapiRevocationEndpoint(RevocationEndpoint):
    CLIENT_AUTH_METHODS = METHODS

    def query_token(self, token_string, token_type_hint):
        return _query_token(token_string, token_type_hint)

    def authenticate_token(self, request, client):
        """Another client's token is answered exactly as an unknown one (RFC 7009 §2.2:
        200, nothing revoked), so the endpoint reveals nothing about it."""
        self.check_params(request, client)
        token = self.query_token(request.form["token"], request.form.get("token_type_hint"))
        return token if token is not None and token.check_client(client) else None

    def revoke_token(self, token: TokenView, request):
        now = platform.current().clock.now()
        token.row.revoked_at = now
        consent = g.oauth_uow.session.get(Consent, token.row.consent_pk) \
            if token.row.consent_pk else None
        _audit_token(g.oauth_uow, "token.revoked", token.client.get_client_id(), token.row,
                     now, consent=consent, reason="revoked by the client (RFC 7009)")


class FapiAuthorizationServer(AuthorizationServer):
    def query_client(self, client_id):
        return find_client(g.oauth_uow, client_id)

    def save_token(self, token, request):  # tokens are persisted by our grants
        return None


def build_server(app) -> FapiAuthorizationServer:
    server = FapiAuthorizationServer()
    server.init_app(app)
    server.register_client_auth_method("private_key_jwt", authenticate_private_key_jwt)
    server.register_client_auth_method("tls_client_auth", authenticate_tls_client)
    server.register_grant(FapiClientCredentialsGrant)
    server.register_grant(FapiAuthorizationCodeGrant)
    server.register_grant(FapiRefreshTokenGrant)
    server.register_endpoint(FapiIntrospectionEndpoint)
    server.register_endpoint(FapiRevocationEndpoint)
    return server
