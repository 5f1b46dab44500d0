"""Client certificates (RFC 8705). TLS ends at the proxy, which forwards the client
certificate in a header; the header is believed only from the configured proxy addresses."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding


@dataclass(frozen=True)
class ClientCertificate:
    certificate: x509.Certificate

    @property
    def x5t_s256(self) -> str:
        der = self.certificate.public_bytes(Encoding.DER)
        return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()

    @property
    def subject_dn(self) -> str:
        return self.certificate.subject.rfc4514_string()


def client_certificate(headers, remote_addr: str | None, config) -> ClientCertificate | None:
    trusted = {a.strip() for a in str(config.get("TRUSTED_PROXIES") or "").split(",") if a.strip()}
    if remote_addr not in trusted:
        return None
    raw = headers.get(config.get("CLIENT_CERT_HEADER") or "X-SSL-Client-Cert")
    if not raw:
        return None
    try:
        pem = unquote(raw).encode()
        return ClientCertificate(x509.load_pem_x509_certificate(pem))
    except ValueError:
        return None


def dn_matches(registered: str, presented: str) -> bool:
    """Compare distinguished names attribute by attribute, ignoring order and spacing."""
    def parts(dn: str) -> set[str]:
        return {p.strip().lower() for p in dn.replace(";", ",").split(",") if p.strip()}
    return parts(registered) == parts(presented)
