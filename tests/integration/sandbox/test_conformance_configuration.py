"""The sandbox's run configuration for the conformance suite (sandbox/conformance.py) carries
the SSAs the dcr plan's refusals need: the bank refuses each one for what is wrong with it,
while a fresh SSA of the same test app, in the same request, is registered."""
import json
import os
from urllib.parse import quote

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import NameOID
from jwcrypto import jwk

from sandbox import certificates, conformance, directory
from tests import tpp_factories


def _configuration(app) -> dict:
    with app.app_context():
        path = conformance.sandbox_configuration(app)
    assert os.stat(path).st_mode & 0o777 == 0o600
    return json.loads(path.read_text())


def _tpp(config: dict) -> tpp_factories.Tpp:
    key = jwk.JWK(**config["directory"]["software_key"])
    return tpp_factories.Tpp(org_id="", software_id=config["directory"]["software_id"], key=key,
                             kid=key.get("kid"), alg="ES256",
                             redirect_uris=[config["redirect_uri"]])


def _claims(token: str) -> dict:
    return json.loads(jwk.base64url_decode(token.split(".")[1]))


def _register(app, client, clock, tpp, ssa, **overrides):
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now(), **overrides)
    return tpp_factories.post_registration(client, token)


def test_the_configuration_carries_ssas_the_bank_refuses(app, client, platform, clock):
    config = _configuration(app)
    tpp = _tpp(config)

    expired = _register(app, client, clock, tpp, config["dcr"]["expired_ssa"])
    assert expired.status_code == 400
    assert expired.json["error"] == "invalid_software_statement"
    assert "older than" in expired.json["error_description"]

    unknown_ssa = config["dcr"]["unknown_software_ssa"]
    unknown_id = _claims(unknown_ssa)["software_id"]
    assert unknown_id != tpp.software_id
    unknown = _register(app, client, clock, tpp, unknown_ssa, iss=unknown_id,
                        software_id=unknown_id)
    assert unknown.status_code == 400
    assert unknown.json["error"] == "invalid_software_statement"
    assert "publishes no keys" in unknown.json["error_description"]

    # The control: the same test app with an SSA the directory issues now is registered.
    with platform.uow() as uow:
        fresh = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    assert _register(app, client, clock, tpp, fresh).status_code == 201


def test_a_later_run_keeps_the_test_app_and_gets_fresh_ssas(app, platform, clock):
    first = _configuration(app)
    second = _configuration(app)
    assert second["directory"] == first["directory"]
    assert second["dcr"]["unknown_software_ssa"] != first["dcr"]["unknown_software_ssa"]
    with platform.uow() as uow:                  # the unknown software stays unknown
        claims = _claims(second["dcr"]["unknown_software_ssa"])
        assert directory.jwks_for_uri(uow, claims["software_jwks_endpoint"],
                                      issuer=app.config["ISSUER"], now=clock.now()) == {"keys": []}


# --- the fapi1 plan's client certificate (mtls) -------------------------------------------------

def _ca(app, platform, clock) -> x509.Certificate:
    with platform.uow() as uow:
        pem = certificates.ca_certificate_pem(uow, platform.keyring, clock.now())
        uow.commit()
    return x509.load_pem_x509_certificate(pem.encode())


def _issued_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


@pytest.fixture
def local_sandbox(app, platform):
    """`TRUSTED_PROXIES=127.0.0.1 make run`: ISSUER on the loopback, the loopback trusted."""
    app.config["ISSUER"] = platform.config["ISSUER"] = "http://127.0.0.1:5000"
    platform.config["TRUSTED_PROXIES"] = "127.0.0.1"
    return app


def test_a_local_sandbox_trusting_the_loopback_gets_a_certificate_sent_as_its_proxy_would(
        local_sandbox, client, platform, clock):
    app = local_sandbox
    config = _configuration(app)
    assert "mtls_unavailable" not in config
    mtls = config["mtls"]
    assert mtls["header"] == "X-SSL-Client-Cert"
    cert = x509.load_pem_x509_certificate(mtls["certificate"].encode())
    assert _issued_by(cert, _ca(app, platform, clock))
    with platform.uow() as uow:
        org_id = directory.software(uow, config["directory"]["software_id"]).organisation.org_id
    subject = {a.oid: a.value for a in cert.subject}
    assert subject[NameOID.ORGANIZATIONAL_UNIT_NAME] == org_id
    assert subject[NameOID.COMMON_NAME] == config["directory"]["software_id"]
    assert "PRIVATE KEY" in mtls["key"]

    # The platform takes it as the proxy's, as the organisation's transport certificate: a
    # FAPI 1.0 client registered over it gets certificate-bound tokens.
    tpp = _tpp(config)
    with platform.uow() as uow:
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now(),
                                           tls_client_certificate_bound_access_tokens=True)
    response = client.post("/register", data=token, content_type="application/jwt",
                           headers={"X-SSL-Client-Cert": quote(mtls["certificate"], safe="")})
    assert response.status_code == 201, response.json
    assert response.json["tls_client_certificate_bound_access_tokens"] is True


@pytest.mark.parametrize("issuer, trusted", [
    ("http://127.0.0.1:5000", ""),                 # make run without TRUSTED_PROXIES
    ("http://127.0.0.1:5000", "10.0.0.5"),         # a proxy elsewhere is trusted, not the suite
    ("http://10.0.0.5:5000", "10.0.0.5"),          # not loopback: the suite is not that proxy
])
def test_without_a_trusted_path_there_is_no_certificate_and_the_report_says_why(
        app, platform, issuer, trusted):
    app.config["ISSUER"] = platform.config["ISSUER"] = issuer
    platform.config["TRUSTED_PROXIES"] = trusted
    config = _configuration(app)
    assert "mtls" not in config
    assert "TRUSTED_PROXIES" in config["mtls_unavailable"]


def test_a_deployment_on_https_presents_it_in_the_tls_handshake(app, platform, clock):
    app.config["ISSUER"] = platform.config["ISSUER"] = "https://sandbox.bank.example"
    config = _configuration(app)
    assert "header" not in config["mtls"]           # no header: its TLS proxy sets that
    cert = x509.load_pem_x509_certificate(config["mtls"]["certificate"].encode())
    assert _issued_by(cert, _ca(app, platform, clock))
