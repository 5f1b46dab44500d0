"""Sandbox transport certificates: issued by the sandbox CA for a portal app, the private key
downloaded once, and accepted by the platform's own certificate checks for tls_client_auth."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from sqlalchemy import select

from aspsp.oauth import mtls
from aspsp.oauth.registration import certificate_of_organisation, dn_of_organisation
from aspsp.proxy import TRUSTED_PEER
from developer_portal.models import DEVELOPER, PortalMembership
from sandbox import directory
from sandbox.models import SandboxCertificate, SandboxCertificateAuthority
from tests.integration.portal.org_app_helpers import post, signed_in, text
from tests.portal_factories import make_app, make_developer, make_organisation

PEM_CERT = "-----BEGIN CERTIFICATE-----"


@pytest.fixture
def world(app, database, clock):
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now, email="dana@acme.example")
        acme = make_organisation(uow, now, dana, name="Acme <b>, Ltd", roles=("AISP", "PISP"))
        eve = make_developer(uow, now, email="eve@acme.example")
        uow.session.add(PortalMembership(org_pk=acme.id, developer_pk=eve.id, role=DEVELOPER,
                                         created_at=now))
        mallory = make_developer(uow, now, email="mallory@other.example")
        make_organisation(uow, now, mallory, name="Other Corp")
        acme_app = make_app(uow, now, acme)
        uow.commit()
    url = f"/developers/apps/{acme_app.app_id}/sandbox/certificates"
    return SimpleNamespace(dana=dana, eve=eve, mallory=mallory, acme=acme, app=acme_app,
                           url=url, now=now)


def _split(bundle: str):
    key = serialization.load_pem_private_key(bundle.encode(), password=None)
    certs = x509.load_pem_x509_certificates(bundle.encode())
    return key, certs


def _issue(app, world, key_type="EC", developer=None):
    client = signed_in(app, developer or world.eve, world.now)
    response = post(client, world.url, world.url, {"key_type": key_type})
    assert response.status_code == 200
    return client, response


@pytest.mark.parametrize("key_type", ["EC", "RSA"])
def test_a_member_issues_a_client_certificate_and_gets_the_key_once(app, database, world,
                                                                     key_type):
    client, response = _issue(app, world, key_type)
    assert response.headers["Content-Disposition"].startswith("attachment; filename=")
    assert response.headers["Cache-Control"] == "no-store"
    bundle = response.get_data(as_text=True)
    assert bundle.startswith("-----BEGIN PRIVATE KEY-----") and bundle.count(PEM_CERT) == 2
    key, (cert, ca) = _split(bundle)
    if key_type == "EC":
        assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    else:
        assert isinstance(key, rsa.RSAPrivateKey) and key.key_size == 2048
    assert cert.public_key().public_numbers() == key.public_key().public_numbers()
    subject = {a.oid: a.value for a in cert.subject}
    assert subject == {NameOID.COUNTRY_NAME: "GB", NameOID.ORGANIZATION_NAME: "Acme <b>, Ltd",
                       NameOID.ORGANIZATIONAL_UNIT_NAME: world.acme.org_id,
                       NameOID.COMMON_NAME: world.app.app_id}
    cert.verify_directly_issued_by(ca)
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert ExtendedKeyUsageOID.CLIENT_AUTH in cert.extensions.get_extension_for_class(
        x509.ExtendedKeyUsage).value
    assert cert.not_valid_after_utc - world.now == timedelta(days=365)
    assert cert.not_valid_before_utc <= world.now
    # only the certificate is kept; the page lists it and never shows a private key
    with database.uow() as uow:
        rows = uow.session.scalars(select(SandboxCertificate)).all()
        assert len(rows) == 1 and "PRIVATE" not in rows[0].certificate
        assert rows[0].serial == format(cert.serial_number, "x")
    page = text(client.get(world.url))
    assert format(cert.serial_number, "x") in page and "PRIVATE KEY" not in page
    assert (cert.not_valid_after_utc.strftime("%Y-%m-%d")) in page
    assert "Acme \\&lt;b\\&gt;\\, Ltd" in page and "<b>" not in page


def test_the_platform_reads_the_certificate_and_dcr_accepts_it_for_the_organisation(
        app, platform, world, clock):
    _, response = _issue(app, world)
    _, (cert, _) = _split(response.get_data(as_text=True))
    pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    with app.test_request_context("/token", headers={"X-SSL-Client-Cert": quote(pem)},
                                  environ_base={TRUSTED_PEER: True}):
        from flask import request
        presented = mtls.client_certificate(request, app.config)
    assert presented is not None and presented.x5t_s256
    with platform.uow() as uow:
        org = directory.save_organisation(uow, org_id=world.acme.org_id, name=world.acme.name,
                                          competent_authority="GB:FCA",
                                          authorisation_id=world.acme.authorisation_id,
                                          roles=["AISP"], now=clock.now())
        sw = directory.create_software(uow, org_id=org.org_id, client_name="Acme",
                                       redirect_uris=["https://tpp.example/cb"],
                                       roles=["AISP"], jwks={"keys": [{
                                           "kty": "EC", "crv": "P-256", "kid": "k",
                                           "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
                                           "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}]},
                                       now=clock.now())
        claims = directory.ssa_claims(org, sw, now=clock.now(), issuer=app.config["ISSUER"],
                                      jti="j")
    registered_dn = f"CN={world.app.app_id},OU={world.acme.org_id},O=Acme \\<b\\>\\, Ltd,C=GB"
    assert presented.subject_dn == registered_dn
    assert mtls.dn_matches(registered_dn, presented.subject_dn)
    assert dn_of_organisation(registered_dn, claims)          # tls_client_auth_subject_dn
    assert certificate_of_organisation(presented, claims)     # MTLS at POST /register
    other = {**claims, "org_id": "someone-else", "organisation_competent_authority_claims": {}}
    assert not certificate_of_organisation(presented, other)
    assert not dn_of_organisation(registered_dn, other)


def test_the_ca_is_made_once_sealed_and_its_certificate_is_public(app, database, world):
    _, first = _issue(app, world)
    _, second = _issue(app, world, "RSA", developer=world.dana)
    ca_one, ca_two = _split(first.get_data(as_text=True))[1][1], \
        _split(second.get_data(as_text=True))[1][1]
    assert ca_one == ca_two
    with database.uow() as uow:
        (row,) = uow.session.scalars(select(SandboxCertificateAuthority)).all()
        assert row.private_key.startswith("sealed:") and "PRIVATE" not in row.private_key
    public = app.test_client().get("/developers/sandbox/transport-ca.pem")
    assert public.status_code == 200
    assert x509.load_pem_x509_certificate(public.get_data()) == ca_one
    assert b"PRIVATE" not in public.get_data()


def test_the_page_shows_the_dn_to_register_and_refuses_an_unknown_key_type(app, world):
    client = signed_in(app, world.dana, world.now)
    page = text(client.get(world.url))
    assert f"OU={world.acme.org_id}" in page and f"CN={world.app.app_id}" in page
    assert "never stored" in page
    response = post(client, world.url, world.url, {"key_type": "DSA"})
    assert response.status_code == 400 and "Choose the key" in text(response)


def test_the_app_page_links_to_the_certificates_page(app, world):
    html = text(signed_in(app, world.eve, world.now).get(f"/developers/apps/{world.app.app_id}"))
    assert world.url in html


def test_a_non_member_gets_404_and_nothing_is_issued(app, database, world):
    client = signed_in(app, world.mallory, world.now)
    assert client.get(world.url).status_code == 404
    response = post(client, "/developers/apps/", world.url, {"key_type": "EC"})
    assert response.status_code == 404 and "PRIVATE KEY" not in text(response)
    with database.uow() as uow:
        assert uow.session.scalars(select(SandboxCertificate)).all() == []


def test_issuing_needs_the_csrf_token(app, database, world):
    client = signed_in(app, world.dana, world.now)
    client.get(world.url)
    for forged in ({}, {"csrf_token": "forged"}):
        response = client.post(world.url, data={"key_type": "EC", **forged})
        assert response.status_code == 400
        assert "did not come from this site" in text(response)
        assert "PRIVATE KEY" not in text(response)
    with database.uow() as uow:
        assert uow.session.scalars(select(SandboxCertificate)).all() == []


def test_the_ca_key_is_resealed_under_a_new_key_encryption_key(app, platform, world, clock):
    from aspsp.keyring import new_key_setting, parse
    from developer_portal.models import PortalApp
    from sandbox import certificates

    _, first = _issue(app, world)
    current = app.config["KEY_ENCRYPTION_KEY"]         # tests.conftest: one for the run
    assert current.startswith(platform.keyring.current_version + ":")
    rotated = parse(f"{new_key_setting('v9')},{current}")
    with platform.uow() as uow:
        assert certificates.rewrap(uow, rotated) == 1
        assert certificates.rewrap(uow, rotated) == 0
        row = uow.session.get(SandboxCertificateAuthority, 1)
        assert row.private_key.startswith("sealed:v9:")
        acme_app = uow.session.scalars(select(PortalApp).where(
            PortalApp.app_id == world.app.app_id)).one()
        issued = certificates.issue(uow, acme_app, key_type="EC", keyring=rotated,
                                    now=clock.now())
    ca = _split(first.get_data(as_text=True))[1][1]
    x509.load_pem_x509_certificate(issued.certificate_pem.encode()).verify_directly_issued_by(ca)
