"""Self-signed client certificates for MTLS tests."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def client_certificate(common_name: str, org_id: str = "0015800001041RHAAY") -> tuple[str, str]:
    """(URL-encoded PEM as the proxy forwards it, RFC 4514 subject DN)."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "OpenBanking"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, org_id),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name),
    ])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1)).not_valid_after(now + timedelta(days=30))
            .sign(key, hashes.SHA256()))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    return quote(pem), subject.rfc4514_string()
