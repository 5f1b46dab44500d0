"""Dynamic client registration (OBIE DCR v3.3): a TPP registers with its SSA, then reads,
updates and deletes its registration with a DPoP-bound client-credentials token."""
from datetime import timedelta

from sqlalchemy import select

from aspsp.oauth import registration
from aspsp.oauth.models import OAuthClient, OAuthToken
from tests import tpp_factories
from tests.oauth_factories import dpop_token

BASE = "http://localhost"


def _registered(app, client, platform, clock, **overrides):
    """A TPP from the directory, registered through POST /register: (tpp, response)."""
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"], now=clock.now(),
                                           **overrides)
    return tpp, ssa, tpp_factories.post_registration(client, token)


def _token_for(platform, clock, tpp, client_id, holder=None, **kwargs):
    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == client_id)).one()
        holder = holder or tpp_factories.as_test_client(row, tpp)
        issued = dpop_token(uow, holder, now=clock.now(), **kwargs)
        uow.commit()
    return holder, issued.access_token


def _headers(holder, access_token, method, client_id, clock):
    return tpp_factories.dpop_headers(holder, access_token, method,
                                      f"{BASE}/register/{client_id}", now=clock.now())


def test_a_tpp_registers_with_its_software_statement(app, client, platform, clock):
    tpp, ssa, response = _registered(app, client, platform, clock)

    assert response.status_code == 201, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    assert body["client_id"] and body["client_id_issued_at"] == int(clock.now().timestamp())
    assert body["software_id"] == tpp.software_id
    assert body["client_name"] == "Moneywise"
    assert body["software_statement"] == ssa
    assert body["redirect_uris"] == [tpp.redirect_uris[0]]
    assert body["token_endpoint_auth_method"] == "private_key_jwt"
    assert body["token_endpoint_auth_signing_alg"] == "PS256"
    assert body["grant_types"] == ["client_credentials", "authorization_code", "refresh_token"]
    assert body["response_types"] == ["code id_token"]
    assert body["scope"] == "openid accounts payments fundsconfirmations"
    assert body["jwks_uri"] == \
        f"{app.config['ISSUER']}/sandbox/directory/software/{tpp.software_id}/jwks"
    assert body["org_id"] == tpp.org_id           # the SSA's claims, flattened (OB DCR)
    assert body["software_roles"] == ["AISP", "PISP", "CBPII"]
    assert body["registration_client_uri"] == \
        f"{app.config['ISSUER']}/register/{body['client_id']}"

    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == body["client_id"])).one()
        assert row.profile == "fapi1-advanced"
        assert row.roles == ["AISP", "PISP", "CBPII"]
        assert row.org_id == tpp.org_id and row.software_statement == ssa
        assert row.client_metadata["require_pushed_authorization_requests"] is False


def test_response_type_code_alone_makes_a_fapi2_client(app, client, platform, clock):
    _, _, response = _registered(app, client, platform, clock, response_types=["code"],
                                 dpop_bound_access_tokens=True)
    assert response.status_code == 201, response.json
    assert response.json["response_types"] == ["code"]
    assert response.json["require_pushed_authorization_requests"] is True
    assert response.json["dpop_bound_access_tokens"] is True
    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == response.json["client_id"])).one()
        assert row.profile == "fapi2"


def test_both_response_types_register_fapi1_advanced_with_code_id_token(app, client, platform,
                                                                        clock):
    _, _, response = _registered(app, client, platform, clock,
                                 response_types=["code", "code id_token"])
    assert response.status_code == 201, response.json
    assert response.json["response_types"] == ["code id_token"]


def test_defaults_come_from_the_software_statement(app, client, platform, clock):
    tpp, _, response = _registered(app, client, platform, clock,
                                   redirect_uris=tpp_factories.DROP, scope=tpp_factories.DROP,
                                   response_types=tpp_factories.DROP)
    assert response.status_code == 201, response.json
    assert response.json["redirect_uris"] == tpp.redirect_uris
    assert response.json["scope"] == "openid accounts payments fundsconfirmations"
    assert response.json["response_types"] == ["code id_token"]


def test_the_client_roles_follow_the_scope_it_registers(app, client, platform, clock):
    _, _, response = _registered(app, client, platform, clock, scope="openid accounts")
    assert response.status_code == 201, response.json
    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == response.json["client_id"])).one()
        assert row.roles == ["AISP"]


def test_tls_client_auth_registers_the_subject_dn(app, client, platform, clock):
    # the DN names the SSA's organisation: here by its eIDAS organizationIdentifier (the
    # directory's TPPs are authorised by GB:FCA as 123456)
    dn = "CN=2ZpAPtTmFdLaYs6HhEwXrY,2.5.4.97=PSDGB-FCA-123456,O=Moneywise Ltd,C=GB"
    _, _, response = _registered(app, client, platform, clock,
                                 token_endpoint_auth_method="tls_client_auth",
                                 token_endpoint_auth_signing_alg=tpp_factories.DROP,
                                 tls_client_auth_subject_dn=dn,
                                 tls_client_certificate_bound_access_tokens=True)
    assert response.status_code == 201, response.json
    assert response.json["tls_client_auth_subject_dn"] == dn
    assert "token_endpoint_auth_signing_alg" not in response.json


def test_an_es256_software_key_signs_the_request(app, client, platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now(), alg="ES256")
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    response = tpp_factories.post_registration(client, tpp_factories.registration_jwt(
        tpp, ssa, issuer=app.config["ISSUER"], now=clock.now()))
    assert response.status_code == 201, response.json


def test_the_ssa_can_register_more_than_one_client(app, client, platform, clock):
    tpp, ssa, first = _registered(app, client, platform, clock)
    second = tpp_factories.post_registration(client, tpp_factories.registration_jwt(
        tpp, ssa, issuer=app.config["ISSUER"], now=clock.now()))
    assert second.status_code == 201
    assert second.json["client_id"] != first.json["client_id"]


def test_registration_metadata_for_discovery(app):
    with app.app_context():
        assert registration.registration_metadata() == {
            "registration_endpoint": f"{app.config['ISSUER']}/register"}


# --- RFC 7592 management with the client's client-credentials token ----------------------------

def test_the_client_reads_its_registration(app, client, platform, clock):
    tpp, _, registered = _registered(app, client, platform, clock)
    client_id = registered.json["client_id"]
    holder, access = _token_for(platform, clock, tpp, client_id)

    response = client.get(f"/register/{client_id}",
                          headers=_headers(holder, access, "GET", client_id, clock))
    assert response.status_code == 200, response.json
    assert response.json == registered.json


def test_the_client_updates_its_registration(app, client, platform, clock):
    tpp, ssa, registered = _registered(app, client, platform, clock)
    client_id = registered.json["client_id"]
    holder, access = _token_for(platform, clock, tpp, client_id)
    clock.advance(timedelta(minutes=5))
    update = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                            now=clock.now(), redirect_uris=tpp.redirect_uris,
                                            response_types=["code"], scope="openid accounts")

    response = client.put(f"/register/{client_id}", data=update, content_type="application/jwt",
                          headers=_headers(holder, access, "PUT", client_id, clock))
    assert response.status_code == 200, response.json
    assert response.json["client_id"] == client_id
    assert response.json["redirect_uris"] == tpp.redirect_uris
    assert response.json["scope"] == "openid accounts"
    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == client_id)).one()
        assert row.profile == "fapi2" and row.roles == ["AISP"]
        assert row.updated_at == clock.now()
        token = uow.session.scalars(select(OAuthToken).where(
            OAuthToken.client_pk == row.id)).one()
        assert token.revoked_at is None          # OB DCR: an update keeps issued tokens


def test_an_update_is_validated_like_a_registration(app, client, platform, clock):
    tpp, ssa, registered = _registered(app, client, platform, clock)
    client_id = registered.json["client_id"]
    holder, access = _token_for(platform, clock, tpp, client_id)
    update = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                            now=clock.now(),
                                            redirect_uris=["https://evil.example/cb"])
    response = client.put(f"/register/{client_id}", data=update, content_type="application/jwt",
                          headers=_headers(holder, access, "PUT", client_id, clock))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_redirect_uri"


def test_an_update_with_another_softwares_statement_is_refused(app, client, platform, clock):
    tpp, _, registered = _registered(app, client, platform, clock)
    client_id = registered.json["client_id"]
    holder, access = _token_for(platform, clock, tpp, client_id)
    with platform.uow() as uow:
        other = tpp_factories.tpp(uow, now=clock.now(), name="Other")
        other_ssa = tpp_factories.issue_ssa(uow, app, other.software_id, now=clock.now())
        uow.commit()
    update = tpp_factories.registration_jwt(other, other_ssa, issuer=app.config["ISSUER"],
                                            now=clock.now())
    response = client.put(f"/register/{client_id}", data=update, content_type="application/jwt",
                          headers=_headers(holder, access, "PUT", client_id, clock))
    assert response.status_code == 400
    assert response.json["error"] == "invalid_software_statement"


def test_an_update_over_mtls_with_a_certificate_of_another_organisation_is_refused(
        app, client, platform, clock):
    """PUT takes the transport rules of POST: a certificate presented must be the SSA
    organisation's, and the registration is left as it was."""
    from tests.certs import client_certificate
    tpp, ssa, registered = _registered(app, client, platform, clock)
    client_id = registered.json["client_id"]
    holder, access = _token_for(platform, clock, tpp, client_id)
    platform.config["TRUSTED_PROXIES"] = "127.0.0.1"
    cert, _ = client_certificate(tpp.software_id, org_id="0015800000jfQ9aAAE")
    update = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                            now=clock.now(), scope="openid accounts")
    response = client.put(f"/register/{client_id}", data=update, content_type="application/jwt",
                          headers={**_headers(holder, access, "PUT", client_id, clock),
                                   "X-SSL-Client-Cert": cert},
                          environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert response.status_code == 400, response.json
    assert response.json["error"] == "unapproved_software_statement"
    assert "not issued to the software statement's organisation" in \
        response.json["error_description"]
    read = client.get(f"/register/{client_id}",
                      headers=_headers(holder, access, "GET", client_id, clock))
    assert read.json["scope"] == registered.json["scope"]


def test_the_client_deletes_its_registration_and_its_tokens_stop(app, client, platform, clock):
    tpp, _, registered = _registered(app, client, platform, clock)
    client_id = registered.json["client_id"]
    holder, access = _token_for(platform, clock, tpp, client_id)
    _, other_access = _token_for(platform, clock, tpp, client_id, holder=holder)

    response = client.delete(f"/register/{client_id}",
                             headers=_headers(holder, access, "DELETE", client_id, clock))
    assert response.status_code == 204 and response.get_data() == b""

    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == client_id)).one()
        assert row.deleted_at == clock.now()
        tokens = uow.session.scalars(select(OAuthToken).where(OAuthToken.client_pk == row.id))
        assert all(t.revoked_at == clock.now() for t in tokens)
    again = client.get(f"/register/{client_id}",
                       headers=_headers(holder, other_access, "GET", client_id, clock))
    assert again.status_code == 401


def test_an_unknown_client_id_is_401_and_revokes_the_token(app, client, platform, clock):
    tpp, _, registered = _registered(app, client, platform, clock)
    client_id = registered.json["client_id"]
    holder, access = _token_for(platform, clock, tpp, client_id)

    response = client.get("/register/no-such-client",
                          headers=_headers(holder, access, "GET", "no-such-client", clock))
    assert response.status_code == 401
    assert response.json["error"] == "invalid_token"
    assert response.headers["WWW-Authenticate"].startswith("DPoP ")

    still = client.get(f"/register/{client_id}",
                       headers=_headers(holder, access, "GET", client_id, clock))
    assert still.status_code == 401
    assert "revoked" in still.json["error_description"]
    with platform.uow() as uow:
        token = uow.session.scalars(select(OAuthToken)).one()
        assert token.revoked_at == clock.now()


def test_another_clients_token_is_refused(app, client, platform, clock):
    _, _, victim = _registered(app, client, platform, clock)
    attacker_tpp, _, attacker = _registered(app, client, platform, clock)
    holder, access = _token_for(platform, clock, attacker_tpp, attacker.json["client_id"])
    victim_id = victim.json["client_id"]

    for method in ("GET", "DELETE"):
        response = client.open(f"/register/{victim_id}", method=method,
                               headers=_headers(holder, access, method, victim_id, clock))
        assert response.status_code == 401
    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == victim_id)).one()
        assert row.deleted_at is None


def test_management_needs_a_sender_constrained_client_credentials_token(app, client, platform,
                                                                         clock):
    tpp, _, registered = _registered(app, client, platform, clock)
    client_id = registered.json["client_id"]
    holder, psu_token = _token_for(platform, clock, tpp, client_id,
                                   grant_type="authorization_code")
    _, access = _token_for(platform, clock, tpp, client_id, holder=holder)
    url = f"/register/{client_id}"

    assert client.get(url).status_code == 401
    wrong_grant = client.get(url, headers=_headers(holder, psu_token, "GET", client_id, clock))
    assert wrong_grant.status_code == 401
    without_proof = client.get(url, headers={"Authorization": f"DPoP {access}"})
    assert without_proof.status_code == 401
    assert without_proof.json["error"] == "invalid_dpop_proof"


def test_a_registered_client_gets_tokens_at_the_token_endpoint(app, client, platform, clock):
    """The whole TPP flow: directory SSA, registration, a private_key_jwt client-credentials
    token (its keys resolved through the SSA's software_jwks_endpoint), then management."""
    from tests.oauth_tpp import Tpp as ProtocolTpp
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now(), alg="ES256")
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    registered = tpp_factories.post_registration(client, tpp_factories.registration_jwt(
        tpp, ssa, issuer=app.config["ISSUER"], now=clock.now(), response_types=["code"]))
    assert registered.status_code == 201, registered.json
    client_id = registered.json["client_id"]
    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == client_id)).one()
        holder = tpp_factories.as_test_client(row, tpp)
        uow.commit()                 # nothing to write: keeps the row loaded after the block

    issued = ProtocolTpp(client, holder, clock=clock,
                         issuer=app.config["ISSUER"]).client_credentials("accounts")
    assert issued.status_code == 200, issued.json
    assert issued.json["token_type"] == "DPoP"

    access = issued.json["access_token"]
    response = client.get(f"/register/{client_id}",
                          headers=_headers(holder, access, "GET", client_id, clock))
    assert response.status_code == 200, response.json
    assert response.json["client_id"] == client_id
