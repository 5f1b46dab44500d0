"""One click to the sandbox bank (sandbox/portal_register.py): the app page's button gets the
SSA from the sandbox directory and registers the app with the bank by DCR, through the real
registration service; a second click updates the same client."""
from __future__ import annotations

import json
import re

from jwcrypto import jwk
from sqlalchemy import func, select

from aspsp.keyring import is_sealed
from aspsp.oauth.models import OAuthClient, SigningKey
from bank import create_app
from developer_portal.models import PortalApp
from sandbox import directory
from tests.portal_factories import make_app, make_developer, make_organisation, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
REDIRECT = "https://acme.example.com/callback"


def app_key(kid: str = "acme-key-1") -> tuple[jwk.JWK, dict]:
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid=kid)
    return key, {**json.loads(key.export_public()), "kid": kid, "use": "sig", "alg": "ES256"}


def setup(database, clock, *, profile="fapi2", method="private_key_jwt", redirect=REDIRECT,
          roles=("AISP", "PISP")):
    now = clock.now()
    _, public = app_key()
    with database.uow() as uow:
        dana = make_developer(uow, now)
        org = make_organisation(uow, now, dana, roles=roles)
        app = make_app(uow, now, org, jwks={"keys": [public]},
                       redirect_uris=[redirect] if redirect else [])
        app.profile, app.token_endpoint_auth_method = profile, method
        uow.commit()
        return dana, app.app_id


def quickstart(client, app_id):
    return client.get(f"/developers/apps/{app_id}/quickstart")


def click(client, app_id, *, csrf=True):
    page = quickstart(client, app_id).get_data(as_text=True)
    data = {"csrf_token": CSRF.search(page).group(1)} if csrf else {}
    return client.post(f"/developers/apps/{app_id}/sandbox/register", data=data)


def signed_in(app, developer, clock):
    client = app.test_client()
    sign_in(client, developer, clock.now())
    return client


def test_one_click_registers_the_app_by_dcr_and_shows_the_client(app, database, clock):
    dana, app_id = setup(database, clock)
    client = signed_in(app, dana, clock)
    before = quickstart(client, app_id).get_data(as_text=True)
    assert "not registered with the bank yet" in before
    assert "Register with the sandbox bank</button>" in before

    answer = click(client, app_id)
    assert answer.status_code == 303
    assert answer.headers["Location"].endswith(f"/developers/apps/{app_id}/quickstart")

    with database.uow() as uow:
        portal_app = uow.session.scalars(select(PortalApp).where(PortalApp.app_id == app_id)).one()
        registered = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == portal_app.client_id)).one()
        assert registered.software_id == app_id and registered.profile == "fapi2"
        meta = registered.client_metadata
        assert meta["token_endpoint_auth_method"] == "private_key_jwt"
        assert meta["token_endpoint_auth_signing_alg"] == "ES256"
        assert meta["dpop_bound_access_tokens"] is True and meta["response_types"] == ["code"]
        assert meta["redirect_uris"] == [REDIRECT]
        assert meta["scope"] == "openid accounts payments"
        # The directory's software statement: the app's key and the sandbox's registration key.
        kids = [k["kid"] for k in directory.software_jwks(uow, app_id)["keys"]]
        assert kids == ["acme-key-1", f"sandbox-registration-{app_id}"]
        held = uow.session.scalars(select(SigningKey).where(
            SigningKey.kid == f"sandbox-registration-{app_id}")).one()
        assert held.owner == "sandbox-reg" and is_sealed(held.private_jwk)
        client_id = portal_app.client_id

    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert f"Registered with the sandbox bank: client {client_id}" in page
    assert f'<code id="client-id">{client_id}</code>' in page
    assert "FAPI 2.0 Security Profile" in page and "private_key_jwt" in page
    assert "http://localhost/token" in page and "http://localhost/par" in page
    assert "holds one key of the app" in page and "In production" in page
    assert f"--client-id {client_id}" in page and "--kid=acme-key-1" in page
    # Never at the bank's own JWKS.
    assert f"sandbox-registration-{app_id}" not in app.test_client().get("/jwks").get_data(
        as_text=True)


def test_a_second_click_updates_the_same_client(app, database, clock):
    dana, app_id = setup(database, clock)
    client = signed_in(app, dana, clock)
    click(client, app_id)
    with database.uow() as uow:
        portal_app = uow.session.scalars(select(PortalApp).where(PortalApp.app_id == app_id)).one()
        first = portal_app.client_id
        portal_app.redirect_uris = [REDIRECT, "https://acme.example.com/second"]
        uow.commit()

    answer = click(client, app_id)
    assert answer.status_code == 303
    assert f"Registration of client {first} updated" in client.get(
        answer.headers["Location"]).get_data(as_text=True)
    with database.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(OAuthClient).where(
            OAuthClient.software_id == app_id)) == 1
        registered = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == first)).one()
        assert registered.client_metadata["redirect_uris"] == [
            REDIRECT, "https://acme.example.com/second"]
        assert uow.session.scalars(select(PortalApp).where(
            PortalApp.app_id == app_id)).one().client_id == first


def test_a_fapi1_app_with_tls_client_auth_gets_certificate_bound_tokens(app, database, clock):
    dana, app_id = setup(database, clock, profile="fapi1", method="tls_client_auth")
    client = signed_in(app, dana, clock)
    assert click(client, app_id).status_code == 303
    with database.uow() as uow:
        portal_app = uow.session.scalars(select(PortalApp).where(PortalApp.app_id == app_id)).one()
        registered = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == portal_app.client_id)).one()
        meta = registered.client_metadata
        assert registered.profile == "fapi1-advanced"
        assert meta["token_endpoint_auth_method"] == "tls_client_auth"
        assert f"OU={portal_app.organisation.org_id}" in meta["tls_client_auth_subject_dn"]
        assert meta["tls_client_certificate_bound_access_tokens"] is True


def test_what_the_directory_or_bank_refuses_is_shown_and_nothing_is_registered(app, database,
                                                                               clock):
    dana, app_id = setup(database, clock, redirect=None)
    client = signed_in(app, dana, clock)
    answer = click(client, app_id)
    assert answer.status_code == 303
    page = client.get(answer.headers["Location"]).get_data(as_text=True)
    assert "the sandbox directory refused the app: at least one redirect URI is required" in page
    with database.uow() as uow:
        assert uow.session.scalars(select(PortalApp).where(
            PortalApp.app_id == app_id)).one().client_id is None
        assert uow.session.scalar(select(func.count()).select_from(OAuthClient).where(
            OAuthClient.software_id == app_id)) == 0


def test_only_members_may_click_and_only_with_the_csrf_token(app, database, clock):
    dana, app_id = setup(database, clock)
    with database.uow() as uow:
        eve = make_developer(uow, clock.now())
        eve_app = make_app(uow, clock.now(), make_organisation(uow, clock.now(), eve,
                                                                name="Eve Ltd"))
        uow.commit()
    stranger = signed_in(app, eve, clock)
    page = quickstart(stranger, eve_app.app_id).get_data(as_text=True)
    assert stranger.post(f"/developers/apps/{app_id}/sandbox/register", data={
        "csrf_token": CSRF.search(page).group(1)}).status_code == 404
    assert click(signed_in(app, dana, clock), app_id, csrf=False).status_code == 400
    visitor = app.test_client().post(f"/developers/apps/{app_id}/sandbox/register")
    assert visitor.status_code in (302, 303, 400)
    with database.uow() as uow:
        assert uow.session.scalars(select(PortalApp).where(
            PortalApp.app_id == app_id)).one().client_id is None


def test_production_has_no_button_and_explains_dcr_by_hand(database, clock, tmp_path, redis_url):
    production = create_app({"DATABASE_URL": database.url, "DATABASE": database,
                             "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                             "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                             "TESTING": True, "SANDBOX_ENABLED": False, "REDIS_URL": redis_url,
                             "ISSUER": "https://bank.example"})
    dana, app_id = setup(database, clock)
    client = signed_in(production, dana, clock)
    page = quickstart(client, app_id).get_data(as_text=True)
    assert "Register with the sandbox bank</button>" not in page
    assert "/sandbox/register" not in page
    assert "Register the app yourself by dynamic client registration" in page
    assert "https://bank.example/register" in page
    token = CSRF.search(page).group(1)
    assert client.post(f"/developers/apps/{app_id}/sandbox/register",
                       data={"csrf_token": token}).status_code == 404
