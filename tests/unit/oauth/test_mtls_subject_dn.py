"""tls_client_auth: the certificate's subject is matched to the registered DN by attribute
type OID and value, as RFC 8705 section 2.1.2 asks (RFC 4514 string forms differ)."""
from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from aspsp.oauth.mtls import ClientCertificate, InvalidDN, dn_attributes, dn_matches


def certificate(*attributes: tuple) -> ClientCertificate:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(oid, value) for oid, value in attributes])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(1).not_valid_before(now)
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return ClientCertificate(cert)


EIDAS = certificate((NameOID.COUNTRY_NAME, "GB"), (NameOID.ORGANIZATION_NAME, "Moneywise Ltd"),
                    (NameOID.ORGANIZATION_IDENTIFIER, "PSDGB-FCA-123456"),
                    (NameOID.COMMON_NAME, "moneywise-app"))


@pytest.mark.parametrize("registered", [
    "CN=moneywise-app,organizationIdentifier=PSDGB-FCA-123456,O=Moneywise Ltd,C=GB",
    "CN=moneywise-app,2.5.4.97=PSDGB-FCA-123456,O=Moneywise Ltd,C=GB",
    "cn = moneywise-app, OID.2.5.4.97=PSDGB-FCA-123456, o=MONEYWISE  LTD; c=gb",
    "C=GB,O=Moneywise Ltd,2.5.4.97=PSDGB-FCA-123456,CN=moneywise-app",
])
def test_the_organisation_identifier_matches_by_oid_whatever_its_spelling(registered):
    assert dn_matches(registered, EIDAS.subject_dn)


@pytest.mark.parametrize("registered", [
    "CN=moneywise-app,organizationIdentifier=PSDGB-FCA-654321,O=Moneywise Ltd,C=GB",
    "CN=moneywise-app,O=Moneywise Ltd,C=GB",                      # one attribute short
    "CN=moneywise-app,serialNumber=PSDGB-FCA-123456,O=Moneywise Ltd,C=GB",  # another type
    "CN=moneywise-app,organizationIdentifier=PSDGB-FCA-123456,O=Moneywise Ltd,C=GB,C=GB",
    "CN=moneywise-app\\,organizationIdentifier=PSDGB-FCA-123456,O=Moneywise Ltd,C=GB",
    "",
    "not a dn",
    "XYZ=moneywise-app,organizationIdentifier=PSDGB-FCA-123456,O=Moneywise Ltd,C=GB",
])
def test_any_other_subject_does_not_match(registered):
    assert not dn_matches(registered, EIDAS.subject_dn)


def test_escaped_separators_and_hex_escapes_are_values_not_structure():
    cert = certificate((NameOID.ORGANIZATION_NAME, "Smith, Jones + Co"),
                       (NameOID.COMMON_NAME, "café"))
    assert "\\," in cert.subject_dn            # cryptography escapes the comma
    assert dn_matches("CN=caf\\C3\\A9,O=Smith\\, Jones \\+ Co", cert.subject_dn)
    assert not dn_matches("CN=cafe,O=Smith\\, Jones \\+ Co", cert.subject_dn)
    assert not dn_matches("CN=café,O=Smith,Jones + Co", cert.subject_dn)


def test_the_openbanking_directory_form_matches():
    cert = certificate((NameOID.COUNTRY_NAME, "GB"), (NameOID.ORGANIZATION_NAME, "OpenBanking"),
                       (NameOID.ORGANIZATIONAL_UNIT_NAME, "0015800000jfQ9aAAE"),
                       (NameOID.COMMON_NAME, "2Xa3gyvG1N3aG2ysBRbrMD"))
    assert dn_matches("CN=2Xa3gyvG1N3aG2ysBRbrMD,OU=0015800000jfQ9aAAE,O=OpenBanking,C=GB",
                      cert.subject_dn)
    assert not dn_matches("CN=2Xa3gyvG1N3aG2ysBRbrMD,OU=0015800000jfQ9aAAF,O=OpenBanking,C=GB",
                          cert.subject_dn)


def test_a_repeated_attribute_counts_twice():
    assert dn_attributes("OU=a,OU=a") != dn_attributes("OU=a")
    with pytest.raises(InvalidDN):
        dn_attributes("CN=trailing\\")
