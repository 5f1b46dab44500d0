"""Apps in the developer portal: creation and editing, their rules, and who sees them."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from developer_portal.models import DEVELOPER, PortalApp, PortalMembership
from tests.integration.portal.org_app_helpers import post, signed_in, text
from tests.portal_factories import make_app, make_developer, make_organisation

GOOD = {"name": "Moneywise", "logo_uri": "https://tpp.example/logo.png",
        "redirect_uris": "https://tpp.example/cb\r\n\r\nhttps://tpp.example/cb?x=1\r\n",
        "roles": ["AISP"], "token_endpoint_auth_method": "tls_client_auth",
        "profile": "fapi1"}


@pytest.fixture
def world(app, database, clock):
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now, email="dana@acme.example")
        acme = make_organisation(uow, now, dana, name="Acme Payments Ltd",
                                 roles=("AISP", "PISP"))
        eve = make_developer(uow, now, email="eve@acme.example")
        uow.session.add(PortalMembership(org_pk=acme.id, developer_pk=eve.id, role=DEVELOPER,
                                         created_at=now))
        mallory = make_developer(uow, now, email="mallory@other.example")
        make_organisation(uow, now, mallory, name="Other Corp")
        acme_app = make_app(uow, now, acme, name="Acme Money")
        uow.commit()
    return SimpleNamespace(dana=dana, eve=eve, mallory=mallory, acme=acme, app=acme_app,
                           new_url=f"/developers/apps/new?org={acme.org_id}",
                           app_url=f"/developers/apps/{acme_app.app_id}", now=now)


def _app(database, app_id) -> SimpleNamespace:
    with database.uow() as uow:
        row = uow.session.scalars(select(PortalApp).where(PortalApp.app_id == app_id)).one()
        return SimpleNamespace(**{c: getattr(row, c) for c in (
            "name", "redirect_uris", "roles", "profile", "token_endpoint_auth_method", "jwks",
            "client_id", "updated_at", "logo_uri")})


def test_a_developer_of_the_organisation_creates_an_app(app, database, world):
    client = signed_in(app, world.eve, world.now)
    response = post(client, world.new_url, "/developers/apps/new",
                    {**GOOD, "org": world.acme.org_id})
    assert response.status_code == 303
    app_id = response.headers["Location"].rsplit("/", 1)[1]
    assert len(app_id) == 22 and app_id.isalnum()
    saved = _app(database, app_id)
    assert saved.redirect_uris == ["https://tpp.example/cb", "https://tpp.example/cb?x=1"]
    assert saved.roles == ["AISP"] and saved.profile == "fapi1"
    assert saved.token_endpoint_auth_method == "tls_client_auth"
    assert saved.jwks == {"keys": []} and saved.client_id is None
    html = text(client.get(response.headers["Location"]))
    for shown in ("Moneywise", app_id, "https://tpp.example/logo.png",
                  "https://tpp.example/cb?x=1", "tls_client_auth", "FAPI 1.0 Advanced",
                  "not registered with the bank yet", "No keys yet"):
        assert shown.replace("&", "&amp;") in html, shown
    assert "Moneywise" in text(client.get("/developers/apps/"))


def test_the_new_app_form_offers_only_the_organisations_roles(app, world):
    html = text(signed_in(app, world.dana, world.now).get(world.new_url))
    assert 'value="AISP"' in html and 'value="PISP"' in html and 'value="CBPII"' not in html


@pytest.mark.parametrize("change, message", [
    ({"name": ""}, "Enter the app&#39;s name (1 to 40 characters)."),
    ({"name": "x" * 41}, "Enter the app&#39;s name (1 to 40 characters)."),
    ({"logo_uri": "http://tpp.example/logo.png"}, "The logo URL must be an absolute https URL"),
    ({"redirect_uris": ""}, "Enter at least one redirect URI"),
    ({"redirect_uris": "http://tpp.example/cb"}, "must be an absolute https URL"),
    ({"redirect_uris": "https://tpp.example/cb#frag"}, "must not have a fragment"),
    ({"redirect_uris": "https:///nohost"}, "must be an absolute https URL"),
    ({"redirect_uris": "https://tpp.example/" + "a" * 300}, "at most 256 characters"),
    ({"redirect_uris": "https://tpp.example/a b"}, "must not contain spaces"),
    ({"roles": ["CBPII"]}, "The organisation is not authorised for CBPII"),
    ({"roles": []}, "Choose at least one of the organisation&#39;s roles."),
    ({"token_endpoint_auth_method": "client_secret_basic"}, "Choose how the app authenticates"),
    ({"profile": "oauth2"}, "Choose a FAPI profile"),
])
def test_a_bad_app_is_refused_on_the_page(app, database, world, change, message):
    client = signed_in(app, world.dana, world.now)
    response = post(client, world.new_url, "/developers/apps/new",
                    {**GOOD, "org": world.acme.org_id, **change})
    assert response.status_code == 400
    assert message in text(response)
    with database.uow() as uow:
        assert uow.session.scalars(select(PortalApp).where(
            PortalApp.name == "Moneywise")).all() == []


def test_a_member_edits_the_app(app, database, world):
    client = signed_in(app, world.eve, world.now)
    edit = world.app_url + "/edit"
    form = text(client.get(edit))
    assert "https://tpp.example.com/callback" in form
    response = post(client, edit, edit, {**GOOD, "name": "Acme <Money> 2",
                                         "redirect_uris": "https://tpp.example/new"})
    assert response.status_code == 303
    saved = _app(database, world.app.app_id)
    assert saved.name == "Acme <Money> 2" and saved.redirect_uris == ["https://tpp.example/new"]
    assert saved.updated_at >= world.now
    html = text(client.get(world.app_url))
    assert "Acme &lt;Money&gt; 2" in html and "<Money>" not in html
    response = post(client, edit, edit, {**GOOD, "redirect_uris": "ftp://x"})
    assert response.status_code == 400 and "absolute https URL" in text(response)


def test_a_non_member_gets_404_on_every_app_url(app, database, world):
    client = signed_in(app, world.mallory, world.now)
    assert "Acme Money" not in text(client.get("/developers/apps/"))
    for url in (world.app_url, world.app_url + "/edit", world.new_url):
        assert client.get(url).status_code == 404, url
    page = "/developers/apps/"
    assert post(client, page, world.app_url + "/edit", GOOD).status_code == 404
    assert post(client, page, "/developers/apps/new",
                {**GOOD, "org": world.acme.org_id}).status_code == 404
    assert _app(database, world.app.app_id).name == "Acme Money"


def test_every_app_form_needs_the_csrf_token(app, database, world):
    client = signed_in(app, world.dana, world.now)
    client.get(world.app_url)
    for action, data in [("/developers/apps/new", {**GOOD, "org": world.acme.org_id}),
                         (world.app_url + "/edit", GOOD)]:
        for forged in ({}, {"csrf_token": "forged"}):
            response = client.post(action, data={**data, **forged})
            assert response.status_code == 400
            assert "did not come from this site" in text(response)
    assert _app(database, world.app.app_id).name == "Acme Money"


def test_the_app_page_leaves_room_for_registration_and_sandbox_pages(app, world):
    html = text(signed_in(app, world.dana, world.now).get(world.app_url))
    assert "Transport certificates (MTLS)" in html
    assert f"/developers/apps/{world.app.app_id}/sandbox/certificates" in html


def test_without_the_sandbox_the_app_page_has_no_sandbox_part(database, clock, tmp_path):
    from bank import create_app
    from tests.conftest import TEST_ISSUER
    production_like = create_app({"DATABASE_URL": database.url, "DATABASE": database,
                                  "CLOCK": clock, "INSTANCE_PATH": str(tmp_path),
                                  "SECRET_KEY": "test-secret", "TESTING": True,
                                  "ISSUER": TEST_ISSUER, "SANDBOX_ENABLED": False,
                                  "KEY_ENCRYPTION_KEY": "v1:" + "A" * 43 + "=",
                                  "REDIS_URL": "redis://127.0.0.1:6379/5"})
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now)
        org = make_organisation(uow, now, dana)
        acme_app = make_app(uow, now, org, name="Quiet App")
        uow.commit()
    client = signed_in(production_like, dana, now)
    html = text(client.get(f"/developers/apps/{acme_app.app_id}"))
    assert "Quiet App" in html and "Transport certificates" not in html
