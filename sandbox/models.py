"""The sandbox's own tables: the directory (TPP organisations and their software statements),
the offset of the sandbox clock, and the webhook inspectors with what they received."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aspsp.db import Base
from aspsp.types import BigPK, UTCDateTime


class DirectoryOrganisation(Base):
    __tablename__ = "directory_organisations"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    org_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(256))
    competent_authority: Mapped[str] = mapped_column(String(64))      # e.g. GB:FCA
    authorisation_id: Mapped[str] = mapped_column(String(64))         # e.g. FRN 123456
    roles: Mapped[list] = mapped_column(JSON, default=list)           # AISP, PISP, CBPII
    jwks: Mapped[dict] = mapped_column(JSON, default=dict)            # org public keys
    status: Mapped[str] = mapped_column(String(16))                   # Active, Revoked
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SoftwareStatement(Base):
    __tablename__ = "directory_software_statements"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    software_id: Mapped[str] = mapped_column(String(64), unique=True)
    org_pk: Mapped[int] = mapped_column(ForeignKey("directory_organisations.id"), index=True)
    client_name: Mapped[str] = mapped_column(String(256))
    client_description: Mapped[str | None] = mapped_column(String(1024))
    client_uri: Mapped[str | None] = mapped_column(String(512))
    redirect_uris: Mapped[list] = mapped_column(JSON, default=list)
    roles: Mapped[list] = mapped_column(JSON, default=list)
    jwks: Mapped[dict] = mapped_column(JSON, default=dict)            # software public keys
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

    organisation: Mapped[DirectoryOrganisation] = relationship()


class SandboxClockOffset(Base):
    """How far the sandbox has moved the platform clock ahead of the wall clock: one row,
    shared by every process of the deployment (sandbox/clock.py)."""
    __tablename__ = "sandbox_clock"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    offset_seconds: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookInspector(Base):
    """A receiving URL inside the sandbox for one client's webhooks (sandbox/inspector.py):
    `/sandbox/inspector/<inspector_id>/...`, the id opaque and unguessable."""
    __tablename__ = "sandbox_inspectors"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    inspector_id: Mapped[str] = mapped_column(String(64), unique=True)
    client_pk: Mapped[int] = mapped_column(ForeignKey("oauth_clients.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InspectedRequest(Base):
    """One request an inspector received, as it arrived (the newest MAX_KEPT per inspector)."""
    __tablename__ = "sandbox_inspector_requests"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    inspector_pk: Mapped[int] = mapped_column(ForeignKey("sandbox_inspectors.id"),
                                              index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(512))
    headers: Mapped[list] = mapped_column(JSON, default=list)      # [[name, value], ...]
    body: Mapped[str] = mapped_column(Text)                         # UTF-8, bad bytes replaced
    body_bytes: Mapped[int] = mapped_column(Integer)                # the size that arrived


class SandboxCertificateAuthority(Base):
    """The sandbox's transport CA (sandbox/certificates.py): one row, made on first use. Its
    private key is sealed with the key-encryption key; its certificate is public."""
    __tablename__ = "sandbox_certificate_authority"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)        # always 1
    private_key: Mapped[str] = mapped_column(Text)                    # PEM, sealed
    certificate: Mapped[str] = mapped_column(Text)                    # PEM
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SandboxCertificate(Base):
    """An MTLS client certificate the sandbox CA issued for a portal app: the certificate
    only; its private key went to the developer once and was never stored."""
    __tablename__ = "sandbox_certificates"
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    serial: Mapped[str] = mapped_column(String(64), unique=True)      # hex
    app_pk: Mapped[int] = mapped_column(ForeignKey("portal_apps.id"), index=True)
    subject_dn: Mapped[str] = mapped_column(String(512))              # RFC 4514
    key_type: Mapped[str] = mapped_column(String(16))                 # EC P-256, RSA 2048
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    certificate: Mapped[str] = mapped_column(Text)                    # PEM
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
