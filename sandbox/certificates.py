"""Sandbox transport certificates: MTLS client certificates for portal apps, from the
sandbox's own CA (only while SANDBOX_ENABLED).

The CA: an EC P-256 key and a self-signed CA certificate, made once on first use and kept in
sandbox_certificate_authority (the private key sealed with the key-encryption key). Its
certificate is public (/developers/sandbox/transport-ca.pem): a TLS proxy in front of the
sandbox trusts it to verify client certificates.

A client certificate: subject in the Open Banking directory's style, C=GB, O=<organisation
name>, OU=<org_id>, CN=<software_id = app_id> (aspsp.oauth.registration accepts it as the
SSA organisation's: OU is the org_id), an EC P-256 or RSA 2048 key made here, valid one year,
extended key usage clientAuth. The private key is the answer to the request that issued it
(a download: key, certificate, CA certificate, as PEM), never stored and never logged; the
sandbox keeps the certificate only, listed on the app's page
/developers/apps/<app_id>/sandbox/certificates (members of the app's organisation only:
developer_portal.auth.member_app, 404 for anyone else).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from flask import Blueprint, Response, g, render_template, request
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from aspsp import platform, web_pages
from developer_portal import auth

from .models import SandboxCertificate, SandboxCertificateAuthority

log = logging.getLogger(__name__)

CA_ROW = 1
CA_NAME = "Invisible Bank Sandbox Transport CA"
CA_VALIDITY = timedelta(days=3650)
VALIDITY = timedelta(days=365)
BACKDATE = timedelta(minutes=5)          # a little slack for clocks that run behind
KEY_TYPES = {"EC": "EC P-256", "RSA": "RSA 2048"}
_PURPOSE = "sandbox_certificate_authority.private_key:1"


class CertificateRefused(ValueError):
    pass


# --- the CA -----------------------------------------------------------------------------------

def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _private_pem(key) -> str:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _make_ca(now: datetime) -> tuple[object, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Invisible Bank"),
                      x509.NameAttribute(NameOID.COMMON_NAME, CA_NAME)])
    ski = x509.SubjectKeyIdentifier.from_public_key(key.public_key())
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - BACKDATE).not_valid_after(now + CA_VALIDITY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False,
                                         key_agreement=False, key_cert_sign=True,
                                         crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(ski, critical=False)
            .sign(key, hashes.SHA256()))
    return key, cert


def _ca_row(uow, keyring, now: datetime) -> SandboxCertificateAuthority:
    row = uow.session.get(SandboxCertificateAuthority, CA_ROW)
    if row is not None:
        return row
    key, cert = _make_ca(now)
    row = SandboxCertificateAuthority(id=CA_ROW, private_key=keyring.seal(_private_pem(key),
                                                                         _PURPOSE),
                                      certificate=_pem(cert), created_at=now)
    try:
        with uow.session.begin_nested():     # another process may be making it too
            uow.session.add(row)
    except IntegrityError:
        row = uow.session.get(SandboxCertificateAuthority, CA_ROW, populate_existing=True)
    log.info("sandbox transport CA made")
    return row


def ca_certificate_pem(uow, keyring, now: datetime) -> str:
    """The CA's certificate (made first if the sandbox has none yet)."""
    return _ca_row(uow, keyring, now).certificate


def _ca(uow, keyring, now: datetime):
    row = _ca_row(uow, keyring, now)
    key = serialization.load_pem_private_key(keyring.open(row.private_key, _PURPOSE).encode(),
                                             password=None)
    return key, x509.load_pem_x509_certificate(row.certificate.encode())


def rewrap(uow, keyring) -> int:
    """Re-seal the CA's private key under the keyring's newest version (1 when it changed).
    For a key-encryption key rotation; `flask keys rewrap` does not call it yet (the platform
    has no registry for the sandbox's sealed values)."""
    row = uow.session.get(SandboxCertificateAuthority, CA_ROW)
    if row is None or keyring.is_current(row.private_key):
        return 0
    row.private_key = keyring.seal(keyring.open(row.private_key, _PURPOSE), _PURPOSE)
    uow.session.flush()
    return 1


# --- client certificates ----------------------------------------------------------------------

def subject_of(app) -> x509.Name:
    """C=GB, O=<organisation name>, OU=<org_id>, CN=<software_id>: the OB transport style."""
    org = app.organisation
    return x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, org.name[:64]),
                      x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org.org_id),
                      x509.NameAttribute(NameOID.COMMON_NAME, app.app_id)])


def subject_dn(app) -> str:
    """The subject as RFC 4514 text: what to register as tls_client_auth_subject_dn."""
    return subject_of(app).rfc4514_string()


@dataclass(frozen=True)
class Issued:
    record: SandboxCertificate
    private_key_pem: str
    certificate_pem: str
    ca_pem: str

    def __repr__(self) -> str:      # never print the private key by accident
        return f"Issued(serial={self.record.serial!r})"

    @property
    def bundle(self) -> str:
        return self.private_key_pem + self.certificate_pem + self.ca_pem


def issue(uow, app, *, key_type: str, keyring, now: datetime) -> Issued:
    """A client certificate for `app`, its private key returned once and kept nowhere."""
    if key_type not in KEY_TYPES:
        raise CertificateRefused("Choose the key: EC P-256 or RSA 2048.")
    ca_key, ca_cert = _ca(uow, keyring, now)
    subject = subject_of(app)
    key, cert, serial, not_before, not_after = _signed(ca_key, ca_cert, subject, key_type, now)
    record = SandboxCertificate(serial=format(serial, "x"), app_pk=app.id,
                                subject_dn=subject.rfc4514_string(),
                                key_type=KEY_TYPES[key_type], not_before=not_before,
                                not_after=not_after, certificate=_pem(cert), created_at=now)
    uow.session.add(record)
    uow.session.flush()
    log.info("sandbox transport certificate %s issued for app %s", record.serial, app.app_id)
    return Issued(record=record, private_key_pem=_private_pem(key),
                  certificate_pem=_pem(cert), ca_pem=_pem(ca_cert))


def issue_for_software(uow, *, org_name: str, org_id: str, software_id: str, keyring,
                       now: datetime) -> tuple[str, str]:
    """An EC P-256 client certificate in the same style (C=GB, O, OU=<org_id>,
    CN=<software_id>) for a software statement of the sandbox directory that is no portal app
    (the conformance suite's test app, sandbox/conformance.py): (private key PEM, certificate
    PEM), recorded nowhere, the private key only in the caller's hands."""
    ca_key, ca_cert = _ca(uow, keyring, now)
    subject = x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
                         x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name[:64]),
                         x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org_id),
                         x509.NameAttribute(NameOID.COMMON_NAME, software_id)])
    key, cert, serial, _, _ = _signed(ca_key, ca_cert, subject, "EC", now)
    log.info("sandbox transport certificate %x issued for software %s", serial, software_id)
    return _private_pem(key), _pem(cert)


def _signed(ca_key, ca_cert, subject: x509.Name, key_type: str, now: datetime):
    key = ec.generate_private_key(ec.SECP256R1()) if key_type == "EC" \
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    serial = x509.random_serial_number()
    not_before, not_after = now - BACKDATE, now + VALIDITY
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(ca_cert.subject)
            .public_key(key.public_key()).serial_number(serial)
            .not_valid_before(not_before).not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=False,
                                         key_encipherment=key_type == "RSA",
                                         data_encipherment=False, key_agreement=False,
                                         key_cert_sign=False, crl_sign=False,
                                         encipher_only=False, decipher_only=False),
                           critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                           critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    return key, cert, serial, not_before, not_after


def issued_for(uow, app) -> list[SandboxCertificate]:
    return list(uow.session.scalars(select(SandboxCertificate).where(
        SandboxCertificate.app_pk == app.id).order_by(SandboxCertificate.id.desc())))


# --- pages ------------------------------------------------------------------------------------

bp = Blueprint("sandbox_certificates", __name__, url_prefix="/developers",
               template_folder="templates")
web_pages.protect_pages(bp)


def _page(app, *, errors=(), status=200):
    return render_template("sandbox/certificates.html", app=app,
                           certificates=issued_for(g.uow, app), subject_dn=subject_dn(app),
                           key_types=KEY_TYPES, errors=list(errors)), status


@bp.get("/apps/<app_id>/sandbox/certificates")
@auth.login_required
def index(app_id: str):
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    return _page(app)


@bp.post("/apps/<app_id>/sandbox/certificates")
@auth.login_required
def issue_certificate(app_id: str):
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    p = platform.current()
    try:
        issued = issue(g.uow, app, key_type=request.form.get("key_type", ""),
                       keyring=p.keyring, now=p.clock.now())
    except CertificateRefused as refused:
        return _page(app, errors=[str(refused)], status=400)
    g.uow.commit()
    response = Response(issued.bundle, mimetype="application/x-pem-file")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{app.app_id}-transport-{issued.record.serial[:12]}.pem"')
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/sandbox/transport-ca.pem")
def ca_certificate():
    """The CA certificate: public, for a TLS proxy to trust."""
    p = platform.current()
    with p.uow() as uow:
        pem = ca_certificate_pem(uow, p.keyring, p.clock.now())
        uow.commit()
    response = Response(pem, mimetype="application/x-pem-file")
    response.headers["Content-Disposition"] = 'attachment; filename="sandbox-transport-ca.pem"'
    return response
