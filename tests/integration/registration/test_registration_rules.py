"""Registration rules of issue 7: redirect URIs parsed as hosts (not compared as strings),
clients without redirect URIs when they never redirect, the MTLS transport certificate and
subject DN tied to the SSA's organisation, and certificate-bound tokens for FAPI 1.0 Advanced
clients that reach us over MTLS."""
from __future__ import annotations

import pytest

from aspsp.oauth import registration
from tests import tpp_factories
from tests.certs import client_certificate

DROP = tpp_factories.DROP


@pytest.fixture
def directory_tpp(app, platform, clock):
    """A TPP of the sandbox directory whose SSA lists hostile redirect URIs as well."""
    def build(redirect_uris=("https://tpp.example/callback",)):
        with platform.uow() as uow:
            tpp = tpp_factories.tpp(uow, now=clock.now(), redirect_uris=redirect_uris)
            ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
            uow.commit()
        return tpp, ssa
    return build


def _post(app, client, clock, tpp, ssa, *, cert: str | None = None, **overrides):
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now(), **overrides)
    headers = {"X-SSL-Client-Cert": cert} if cert else {}
    return client.post("/register", data=token, content_type="application/jwt",
                       headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})


def _refused(response, error: str, words: str = ""):
    assert response.status_code == 400, response.json
    assert response.json["error"] == error, response.json
    assert words in response.json["error_description"]


# --- 8. redirect URIs ------------------------------------------------------------------------------
@pytest.mark.parametrize("uri", [
    "https://127.1/cb", "https://0x7f000001/cb", "https://2130706433/cb",
    "https://0177.0.0.1/cb", "https://[::ffff:127.0.0.1]/cb", "https://0.0.0.0/cb",
    "https://localhost./cb", "https://app.localhost/cb", "https://[::1]/cb",
    "https://10.0.0.8/cb", "https://169.254.169.254/cb",
])
def test_a_redirect_uri_to_a_local_host_in_any_spelling_is_refused_in_production(uri):
    problem = registration.redirect_uri_problem(uri, sandbox=False)
    assert problem is not None and ("local" in problem or "non-canonical" in problem)


@pytest.mark.parametrize("uri", ["https://tpp.example/cb", "https://8.8.8.8/cb",
                                 "https://[2001:4860:4860::8888]/cb"])
def test_a_public_https_redirect_uri_is_accepted_in_production(uri):
    assert registration.redirect_uri_problem(uri, sandbox=False) is None


@pytest.mark.parametrize("uri", ["https://user@tpp.example/cb",
                                 "https://tpp.example:x@evil.example/cb"])
def test_a_redirect_uri_with_user_information_is_refused(app, client, clock, directory_tpp,
                                                         uri):
    tpp, ssa = directory_tpp((uri, "https://tpp.example/callback"))
    _refused(_post(app, client, clock, tpp, ssa, redirect_uris=[uri]),
             "invalid_redirect_uri", "user information")


def test_a_non_canonical_loopback_is_refused_even_in_the_sandbox(app, client, clock,
                                                                 directory_tpp):
    tpp, ssa = directory_tpp(("https://127.1/cb",))
    _refused(_post(app, client, clock, tpp, ssa, redirect_uris=["https://127.1/cb"]),
             "invalid_redirect_uri", "non-canonical")


# --- 6. redirect URIs only for clients that redirect ------------------------------------------
@pytest.mark.parametrize("redirect_uris", [DROP, []])
def test_a_client_credentials_only_client_may_register_without_redirect_uris(
        app, client, clock, directory_tpp, redirect_uris):
    tpp, ssa = directory_tpp()
    response = _post(app, client, clock, tpp, ssa, redirect_uris=redirect_uris,
                     grant_types=["client_credentials"], response_types=DROP)
    assert response.status_code == 201, response.json
    assert response.json["redirect_uris"] == []


def test_a_client_that_redirects_still_needs_a_redirect_uri(app, client, clock, directory_tpp):
    tpp, ssa = directory_tpp()
    _refused(_post(app, client, clock, tpp, ssa, redirect_uris=[]), "invalid_redirect_uri")


# --- 6. the transport certificate and the subject DN belong to the SSA's organisation ----------
@pytest.fixture
def behind_proxy(platform):
    platform.config["TRUSTED_PROXIES"] = "127.0.0.1"


def test_registration_over_mtls_with_a_certificate_of_another_organisation_is_refused(
        app, client, clock, directory_tpp, behind_proxy):
    tpp, ssa = directory_tpp()
    cert, _ = client_certificate(tpp.software_id, org_id="0015800000jfQ9aAAE")
    _refused(_post(app, client, clock, tpp, ssa, cert=cert), "unapproved_software_statement",
             "not issued to the software statement's organisation")


def test_a_fapi1_client_registered_over_mtls_gets_certificate_bound_tokens_only(
        app, client, clock, directory_tpp, behind_proxy):
    tpp, ssa = directory_tpp()
    cert, _ = client_certificate(tpp.software_id, org_id=tpp.org_id)
    response = _post(app, client, clock, tpp, ssa, cert=cert)
    assert response.status_code == 201, response.json
    assert response.json["tls_client_certificate_bound_access_tokens"] is True


def test_a_fapi1_client_over_mtls_cannot_ask_for_dpop_bound_tokens(
        app, client, clock, directory_tpp, behind_proxy):
    tpp, ssa = directory_tpp()
    cert, _ = client_certificate(tpp.software_id, org_id=tpp.org_id)
    _refused(_post(app, client, clock, tpp, ssa, cert=cert, dpop_bound_access_tokens=True),
             "invalid_client_metadata", "certificate-bound")


def test_tls_client_auth_subject_dn_must_name_the_ssa_organisation(app, client, clock,
                                                                    directory_tpp):
    tpp, ssa = directory_tpp()
    auth = dict(token_endpoint_auth_method="tls_client_auth",
                token_endpoint_auth_signing_alg=DROP)
    _refused(_post(app, client, clock, tpp, ssa, **auth,
                   tls_client_auth_subject_dn="CN=x,OU=0015800000jfQ9aAAE,O=OpenBanking,C=GB"),
             "invalid_client_metadata", "organisation")
    eidas = _post(app, client, clock, tpp, ssa, **auth,
                  tls_client_auth_subject_dn="CN=x,2.5.4.97=PSDGB-FCA-123456,O=Moneywise,C=GB")
    assert eidas.status_code == 201, eidas.json


def test_production_refuses_registration_without_a_transport_certificate(
        database, clock, tmp_path, app, platform, redis_url, directory_tpp):
    from bank import create_app
    tpp, ssa = directory_tpp()
    production = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                             "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                             "SECRET_KEY": "test-secret", "TESTING": True,
                             "SANDBOX_ENABLED": False, "REDIS_URL": redis_url})
    _refused(_post(production, production.test_client(), clock, tpp, ssa),
             "unapproved_software_statement", "register over MTLS")
