"""A client registered for client_credentials only (no response types) is a FAPI 2.0 client:
its client assertions name the issuer alone, and it may have DPoP-bound tokens also when it
registered over MTLS (FAPI 1.0 Advanced, which allows certificate binding only, is chosen only
by the hybrid response type)."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from aspsp.oauth.models import OAuthClient
from tests import tpp_factories
from tests.certs import client_certificate
from tests.oauth_tpp import Tpp as ProtocolTpp

DROP = tpp_factories.DROP
CLIENT_CREDENTIALS_ONLY = dict(grant_types=["client_credentials"], response_types=DROP,
                               redirect_uris=DROP)


@pytest.fixture
def behind_proxy(platform):
    platform.config["TRUSTED_PROXIES"] = "127.0.0.1"


def _register(app, client, platform, clock, *, over_mtls: bool = False, **overrides):
    """Registers a client-credentials-only TPP (over MTLS with a certificate of its own
    organisation when `over_mtls`): (registration response, ProtocolTpp, certificate)."""
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now(), alg="ES256")
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    cert = client_certificate(tpp.software_id, org_id=tpp.org_id)[0] if over_mtls else None
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now(), **CLIENT_CREDENTIALS_ONLY,
                                           **overrides)
    headers = {"X-SSL-Client-Cert": cert} if cert else {}
    response = client.post("/register", data=token, content_type="application/jwt",
                           headers=headers, environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 201, response.json
    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == response.json["client_id"])).one()
        holder = tpp_factories.as_test_client(row, tpp)
        uow.commit()               # nothing to write: keeps the row loaded after the block
    return response, ProtocolTpp(client, holder, clock=clock, issuer=app.config["ISSUER"]), cert


def test_a_client_credentials_only_client_over_mtls_may_register_dpop_bound_tokens(
        app, client, platform, clock, behind_proxy):
    response, tpp, cert = _register(app, client, platform, clock, over_mtls=True,
                                    dpop_bound_access_tokens=True)
    assert response.json["dpop_bound_access_tokens"] is True
    assert not response.json.get("tls_client_certificate_bound_access_tokens")
    assert response.json["response_types"] == []
    issued = tpp.client_credentials("accounts", headers={"X-SSL-Client-Cert": cert})
    assert issued.status_code == 200, issued.json
    assert issued.json["token_type"] == "DPoP"


def test_a_client_credentials_only_client_is_not_given_par(app, client, platform, clock):
    response, _, _ = _register(app, client, platform, clock)
    assert response.json["require_pushed_authorization_requests"] is False


@pytest.mark.parametrize("aud", ["{issuer}/token", ["{issuer}"], ["{issuer}", "{issuer}/token"]])
def test_a_client_credentials_only_client_assertion_aud_must_be_the_issuer_alone(
        app, client, platform, clock, aud):
    response, tpp, _ = _register(app, client, platform, clock)
    issuer = app.config["ISSUER"]
    wrong = aud.format(issuer=issuer) if isinstance(aud, str) else \
        [a.format(issuer=issuer) for a in aud]
    refused = tpp.client_credentials("accounts", aud=wrong)
    assert refused.status_code == 401
    assert refused.json["error"] == "invalid_client"
    assert "issuer identifier" in refused.json["error_description"]
    accepted = tpp.client_credentials("accounts", aud=issuer)
    assert accepted.status_code == 200, accepted.json
