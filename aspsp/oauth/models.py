"""Authorization server state: registered clients, signing keys, codes, pushed requests,
pending PSU authorisations and tokens. Secrets (codes, tokens) are stored as SHA-256 hashes."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship

from ..db import Base
from ..types import BigPK, UTCDateTime


class OAuthClient(Base):
    __tablename__ = "oauth_clients"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    software_id: Mapped[str] = mapped_column(String(64), index=True)
    org_id: Mapped[str] = mapped_column(String(64))
    client_name: Mapped[str] = mapped_column(String(256))
    profile: Mapped[str] = mapped_column(String(16))          # fapi1-advanced, fapi2
    roles: Mapped[list] = mapped_column(JSON, default=list)   # AISP, PISP, CBPII
    # RFC 7591 metadata as registered (redirect_uris, grant_types, response_types,
    # token_endpoint_auth_method, jwks / jwks_uri, algs, tls_client_auth_subject_dn, scope...).
    client_metadata: Mapped[dict] = mapped_column(JSON)
    software_statement: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Goes up by one with every change to the row (registration, keys, status, deletion):
    # what the per-process caches of parsed client keys are keyed by (aspsp.oauth.clients).
    registration_version: Mapped[int] = mapped_column(Integer, default=1,
                                                      server_default=text("1"))
    # Rate limits (aspsp.ratelimit), set by the operator (`flask ratelimit set`): the tier
    # (sandbox, standard, premium; null: RATELIMIT_DEFAULT_TIER) and the burst allowance
    # added to the tier's per-second rate of every API family (null: none).
    rate_limit_tier: Mapped[str | None] = mapped_column(String(16))
    rate_limit_burst: Mapped[int | None] = mapped_column(Integer)


@event.listens_for(OAuthClient, "before_update")
def _bump_registration_version(_mapper, _connection, client: OAuthClient) -> None:
    """Every ORM update of a client bumps its version, in the same UPDATE statement (an SQL
    increment: two concurrent updates make two versions, never one)."""
    session = object_session(client)
    if session is not None and session.is_modified(client, include_collections=False):
        client.registration_version = OAuthClient.registration_version + 1


class SigningKey(Base):
    """Keys of the ASPSP (owner 'aspsp') and of the sandbox directory (owner 'directory').
    A key is published from `created_at`, signs from `active_from`, and stays published until
    `publish_until` (after what it signed has expired)."""
    __tablename__ = "signing_keys"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    kid: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[str] = mapped_column(String(16), index=True)
    alg: Mapped[str] = mapped_column(String(8))
    private_jwk: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    active_from: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    publish_until: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PushedAuthorizationRequest(Base):
    __tablename__ = "oauth_par_requests"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    request_uri: Mapped[str] = mapped_column(String(128), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"))
    params: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)   # first used at /authorize
    # The journey it started and the browser it belongs to (FAPI 2.0 SP 5.3.2.2 note 3).
    pending_pk: Mapped[int | None] = mapped_column(ForeignKey("oauth_pending_authorizations.id"))
    browser_hash: Mapped[str | None] = mapped_column(String(64))


class PendingAuthorization(Base):
    """A validated authorization request waiting for the PSU to log in, pass SCA and decide."""
    __tablename__ = "oauth_pending_authorizations"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    reference: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"))
    # None for a sign-in: an OpenID Connect authentication with no intent (no consent).
    consent_pk: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))
    params: Mapped[dict] = mapped_column(JSON)                 # the resolved request parameters
    psu_pk: Mapped[int | None] = mapped_column(ForeignKey("psu_users.id"))
    authenticated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # password passed
    sca_at: Mapped[datetime | None] = mapped_column(UTCDateTime)            # second factor passed
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[OAuthClient] = relationship()


class AuthorizationCode(Base):
    __tablename__ = "oauth_codes"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"))
    consent_pk: Mapped[int | None] = mapped_column(ForeignKey("consents.id"))  # None: sign-in
    psu_pk: Mapped[int] = mapped_column(ForeignKey("psu_users.id"))
    redirect_uri: Mapped[str] = mapped_column(String(512))
    scope: Mapped[str] = mapped_column(String(256))
    nonce: Mapped[str | None] = mapped_column(String(256))
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(8))
    dpop_jkt: Mapped[str | None] = mapped_column(String(64))
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    acr: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class OAuthToken(Base):
    __tablename__ = "oauth_tokens"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    access_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    refresh_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), index=True)
    consent_pk: Mapped[int | None] = mapped_column(ForeignKey("consents.id"), index=True)
    psu_pk: Mapped[int | None] = mapped_column(ForeignKey("psu_users.id"))
    code_pk: Mapped[int | None] = mapped_column(ForeignKey("oauth_codes.id"), index=True)
    grant_type: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(String(256))
    token_type: Mapped[str] = mapped_column(String(16))       # Bearer, DPoP
    cnf_jkt: Mapped[str | None] = mapped_column(String(64))   # DPoP key thumbprint
    cnf_x5t: Mapped[str | None] = mapped_column(String(64))   # MTLS cert thumbprint (x5t#S256)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    refresh_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    client: Mapped[OAuthClient] = relationship()


class SignInSubject(Base):
    """The `sub` a sign-in (an OpenID Connect authentication with no intent) gives a client
    for a customer: pairwise (OpenID Connect Core §8.1), one per sector and customer, random,
    so that two TPPs cannot match their customers by it and none learns a bank identifier.
    The sector is the client's software (`org_id/software_id`): a re-registration of the
    same software keeps its customers' subjects."""
    __tablename__ = "oidc_subjects"
    __table_args__ = (UniqueConstraint("sector", "psu_pk", name="uq_oidc_subjects_sector_psu"),)
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    sector: Mapped[str] = mapped_column(String(160))
    psu_pk: Mapped[int] = mapped_column(ForeignKey("psu_users.id"))
    sub: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
