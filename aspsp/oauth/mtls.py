"""Client certificates (RFC 8705). TLS ends at the proxy, which forwards the client
certificate in a header; the header is believed only from the configured proxy addresses."""
from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from urllib.parse import unquote

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

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


# Attribute type names a registered subject DN may use, by OID (RFC 4514's table, then the
# names eIDAS QWACs and the OBIE directory's certificates carry). Dotted OIDs work as well.
_DN_TYPES = {
    "cn": NameOID.COMMON_NAME, "commonname": NameOID.COMMON_NAME,
    "l": NameOID.LOCALITY_NAME, "localityname": NameOID.LOCALITY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME, "stateorprovincename": NameOID.STATE_OR_PROVINCE_NAME,
    "o": NameOID.ORGANIZATION_NAME, "organizationname": NameOID.ORGANIZATION_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "organizationalunitname": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "c": NameOID.COUNTRY_NAME, "countryname": NameOID.COUNTRY_NAME,
    "street": NameOID.STREET_ADDRESS, "streetaddress": NameOID.STREET_ADDRESS,
    "dc": NameOID.DOMAIN_COMPONENT, "domaincomponent": NameOID.DOMAIN_COMPONENT,
    "uid": NameOID.USER_ID, "userid": NameOID.USER_ID,
    "organizationidentifier": NameOID.ORGANIZATION_IDENTIFIER,
    "serialnumber": NameOID.SERIAL_NUMBER,
    "emailaddress": NameOID.EMAIL_ADDRESS, "email": NameOID.EMAIL_ADDRESS,
    "sn": NameOID.SURNAME, "surname": NameOID.SURNAME,
    "gn": NameOID.GIVEN_NAME, "givenname": NameOID.GIVEN_NAME,
    "title": NameOID.TITLE, "businesscategory": NameOID.BUSINESS_CATEGORY,
    "postalcode": NameOID.POSTAL_CODE,
    "jurisdictionc": NameOID.JURISDICTION_COUNTRY_NAME,
    "jurisdictioncountryname": NameOID.JURISDICTION_COUNTRY_NAME,
}
_DOTTED_OID = re.compile(r"(?:oid\.)?([0-2](?:\.\d+)+)", re.IGNORECASE)


class InvalidDN(ValueError):
    """A distinguished name that cannot be read as RFC 4514 says."""


def dn_attributes(dn: str) -> Counter:
    """A DN as the multiset of its (attribute type OID, normalised value) pairs: types by
    OID whatever name or dotted form spells them, values with RFC 4514 escapes undone,
    surrounding and repeated spaces dropped and case folded (the matching rules of the
    directory string attributes), RDN order and multi-valued RDNs ignored."""
    attributes: Counter = Counter()
    for part in _split(dn, ",;+"):
        if not part.strip():
            continue
        pieces = _split(part, "=", maxsplit=1)
        if len(pieces) != 2:
            raise InvalidDN(f"{part.strip()!r} is not TYPE=VALUE")
        attributes[(_oid(pieces[0].strip()), _value(pieces[1]))] += 1
    return attributes


def dn_matches(registered: str, presented: str) -> bool:
    """Whether the certificate's subject (`presented`, RFC 4514 as cryptography writes it)
    is the DN the client registered: the same attributes compared by type OID and value,
    whatever order, spacing, case or attribute names each side uses."""
    try:
        wanted = dn_attributes(registered)
        return bool(wanted) and wanted == dn_attributes(presented)
    except InvalidDN:
        return False


def _split(text: str, separators: str, maxsplit: int = -1) -> list[str]:
    """Split at unescaped separators, keeping escapes in the pieces (undone by _value)."""
    pieces, current, escaped = [], [], False
    for char in text:
        if escaped:
            current.append(char)
            escaped = False
        elif char == "\\":
            current.append(char)
            escaped = True
        elif char in separators and maxsplit != 0:
            pieces.append("".join(current))
            current = []
            maxsplit -= 1
        else:
            current.append(char)
    if escaped:
        raise InvalidDN("a DN cannot end with a backslash")
    pieces.append("".join(current))
    return pieces


def _oid(name: str) -> str:
    known = _DN_TYPES.get(name.lower())
    if known is not None:
        return known.dotted_string
    dotted = _DOTTED_OID.fullmatch(name)
    if dotted is None:
        raise InvalidDN(f"unknown attribute type {name!r}")
    return dotted.group(1)


def _value(raw: str) -> str:
    raw = raw.strip()
    if raw.startswith("#"):                  # a hex-encoded BER value: compare as written
        return raw.lower()
    out, i = bytearray(), 0
    while i < len(raw):
        char = raw[i]
        if char == "\\":
            pair = raw[i + 1:i + 3]
            if len(pair) == 2 and all(c in "0123456789abcdefABCDEF" for c in pair):
                out.append(int(pair, 16))
                i += 3
                continue
            out.extend(raw[i + 1].encode())
            i += 2
            continue
        out.extend(char.encode())
        i += 1
    try:
        text = out.decode()
    except UnicodeDecodeError:
        raise InvalidDN("a DN value's escaped bytes are not UTF-8") from None
    return " ".join(text.split()).casefold()
