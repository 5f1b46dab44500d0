"""Client certificates (RFC 8705). TLS ends at the proxy, which forwards the client
certificate in a header; the header is believed only from the configured proxy addresses."""
from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from ..proxy import TRUSTED_PEER


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


def client_certificate(request, config) -> ClientCertificate | None:
    """The certificate the trusted proxy verified for this request, if any
    (aspsp.proxy removes the header on requests that did not come through the proxy)."""
    if not request.environ.get(TRUSTED_PEER):
        return None
    raw = request.headers.get(config.get("CLIENT_CERT_HEADER") or "X-SSL-Client-Cert")
    if not raw:
        return None
    verify = request.headers.get("X-SSL-Client-Verify")
    if verify is not None and verify != "SUCCESS":
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
