"""The developer portal's tables: developers (their logins and second factors), the TPP
organisations they belong to, those organisations' apps (software statements), and the
portal's outgoing mail."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aspsp.db import Base
from aspsp.types import BigPK, UTCDateTime

ADMIN, DEVELOPER = "admin", "developer"
MEMBER_ROLES = (ADMIN, DEVELOPER)


class PortalDeveloper(Base):
    """A TPP developer's login: e-mail and argon2id password, then a TOTP second factor (its
    secret sealed with the key-encryption key) or one of ten single-use backup codes."""
    __tablename__ = "portal_developers"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    developer_id: Mapped[str] = mapped_column(String(40), unique=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)          # lower-case
    name: Mapped[str] = mapped_column(String(140))
    password_hash: Mapped[str] = mapped_column(String(256))
    email_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_secret: Mapped[str | None] = mapped_column(String(256))          # sealed
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PortalBackupCode(Base):
    """One of a developer's single-use backup codes, kept only as an argon2id hash."""
    __tablename__ = "portal_backup_codes"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    developer_pk: Mapped[int] = mapped_column(ForeignKey("portal_developers.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(256))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PortalOrganisation(Base):
    """A TPP: its legal name, the competent authority that authorised it and its reference
    there, and its PSD2 roles. `org_id` is also its organisation id in the sandbox directory."""
    __tablename__ = "portal_organisations"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(140))
    competent_authority: Mapped[str] = mapped_column(String(64))      # e.g. GB:FCA
    authorisation_id: Mapped[str] = mapped_column(String(64))         # e.g. the FRN
    roles: Mapped[list] = mapped_column(JSON, default=list)           # AISP, PISP, CBPII
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PortalMembership(Base):
    __tablename__ = "portal_memberships"
    __table_args__ = (UniqueConstraint("org_pk", "developer_pk"),)
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    org_pk: Mapped[int] = mapped_column(ForeignKey("portal_organisations.id"), index=True)
    developer_pk: Mapped[int] = mapped_column(ForeignKey("portal_developers.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))                     # admin, developer
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    organisation: Mapped[PortalOrganisation] = relationship()
    developer: Mapped[PortalDeveloper] = relationship()


class PortalApp(Base):
    """An organisation's app: what its software statement says (name, logo, redirect URIs,
    roles, public keys) and how it authenticates to the bank. `app_id` is also its
    software_id in the sandbox directory; `client_id` is set once it is registered by DCR."""
    __tablename__ = "portal_apps"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    app_id: Mapped[str] = mapped_column(String(40), unique=True)
    org_pk: Mapped[int] = mapped_column(ForeignKey("portal_organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(140))
    logo_uri: Mapped[str | None] = mapped_column(String(512))
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    roles: Mapped[list] = mapped_column(JSON, default=list)
    token_endpoint_auth_method: Mapped[str] = mapped_column(String(32))
    profile: Mapped[str] = mapped_column(String(16))                  # fapi2, fapi1
    jwks: Mapped[dict] = mapped_column(JSON, default=dict)            # public keys only
    client_id: Mapped[str | None] = mapped_column(String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    organisation: Mapped[PortalOrganisation] = relationship()


class PortalMail(Base):
    """Every e-mail the portal sends (verification, password reset), as sent: the mail
    backend's record, which the sandbox shows as an outbox page."""
    __tablename__ = "portal_outbox"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    to_address: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(8000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
