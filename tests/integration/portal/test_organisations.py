"""Organisations in the developer portal: creation, validation, membership and its rules."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from developer_portal.models import (ADMIN, DEVELOPER, PortalMembership, PortalOrganisation)
from tests.integration.portal.org_app_helpers import post, signed_in, text
from tests.portal_factories import make_app, make_developer, make_organisation

NEW = "/developers/organisations/new"
GOOD = {"name": "Moneywise Ltd", "competent_authority": "gb:fca", "authorisation_id": "123456",
        "roles": ["AISP", "PISP"]}


@pytest.fixture
def world(app, database, clock):
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now, email="dana@acme.example", name="Dana Admin")
        acme = make_organisation(uow, now, dana, name="Acme Payments Ltd")
        eve = make_developer(uow, now, email="eve@acme.example", name="Eve Dev")
        uow.session.add(PortalMembership(org_pk=acme.id, developer_pk=eve.id, role=DEVELOPER,
                                         created_at=now))
        mallory = make_developer(uow, now, email="mallory@other.example")
        make_organisation(uow, now, mallory, name="Other Corp")
        newbie = make_developer(uow, now, email="newbie@acme.example", name="New <b>Bie</b>")
        acme_app = make_app(uow, now, acme)
        uow.commit()
    return SimpleNamespace(dana=dana, eve=eve, mallory=mallory, newbie=newbie, acme=acme,
                           app=acme_app, org_url=f"/developers/organisations/{acme.org_id}",
                           now=now)


def _memberships(database, org_id):
    with database.uow() as uow:
        org = uow.session.scalars(select(PortalOrganisation).where(
            PortalOrganisation.org_id == org_id)).one()
        return {m.developer.email: m.role for m in uow.session.scalars(
            select(PortalMembership).where(PortalMembership.org_pk == org.id))}


def test_a_developer_creates_an_organisation_and_becomes_its_admin(app, database, world):
    client = signed_in(app, world.newbie, world.now)
    response = post(client, NEW, NEW, GOOD)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    html = text(page)
    assert "Moneywise Ltd" in html and "GB:FCA" in html and "123456" in html
    assert "AISP, PISP" in html and "CBPII" not in html.split("Members")[0]
    assert "New &lt;b&gt;Bie&lt;/b&gt;" in html
    org_id = response.headers["Location"].rsplit("/", 1)[1]
    assert len(org_id) == 18 and org_id.isalnum()
    assert _memberships(database, org_id) == {"newbie@acme.example": ADMIN}
    listing = text(client.get("/developers/organisations/"))
    assert "Moneywise Ltd" in listing and "admin" in listing


@pytest.mark.parametrize("change, message", [
    ({"name": ""}, "Enter the organisation&#39;s legal name"),
    ({"name": "x" * 141}, "Enter the organisation&#39;s legal name"),
    ({"competent_authority": "FCA"}, "must look like GB:FCA"),
    ({"authorisation_id": ""}, "registration number"),
    ({"roles": []}, "Choose at least one PSD2 role"),
    ({"roles": ["AISP", "ASPSP"]}, "Choose at least one PSD2 role"),
])
def test_a_bad_organisation_is_refused_on_the_page(app, database, world, change, message):
    client = signed_in(app, world.newbie, world.now)
    response = post(client, NEW, NEW, {**GOOD, **change})
    assert response.status_code == 400
    assert message in text(response)
    assert 'value="123456"' in text(response) or change.get("authorisation_id") == ""
    with database.uow() as uow:
        assert uow.session.scalars(select(PortalOrganisation).where(
            PortalOrganisation.name == "Moneywise Ltd")).all() == []


def test_an_unverified_developer_may_not_create_an_organisation(app, database, world, clock):
    with database.uow() as uow:
        unverified = make_developer(uow, world.now, email="late@acme.example")
        unverified.email_verified_at = None
        uow.commit()
    client = signed_in(app, unverified, world.now)
    page = text(client.get(NEW))
    assert "Verify your e-mail address before you create an organisation" in page
    response = post(client, NEW, NEW, GOOD)
    assert response.status_code == 403
    assert "Verify your e-mail address" in text(response)
    with database.uow() as uow:
        assert uow.session.scalars(select(PortalOrganisation).where(
            PortalOrganisation.name == "Moneywise Ltd")).all() == []


def test_the_organisation_page_lists_members_with_roles_and_apps(app, world):
    html = text(signed_in(app, world.eve, world.now).get(world.org_url))
    assert "Acme Payments Ltd" in html and world.acme.org_id in html
    assert "dana@acme.example" in html and "eve@acme.example" in html
    members = html.split('id="members"')[1]
    assert members.index("dana@acme.example") < members.index("admin") \
        < members.index("eve@acme.example")
    assert "Acme Money" in html
    # a developer sees, and is offered no change
    assert "Add a member" not in html and "Remove" not in html
    assert "Only the organisation's administrators can change" in html


def test_an_admin_adds_a_member_by_email(app, database, world):
    client = signed_in(app, world.dana, world.now)
    response = post(client, world.org_url, world.org_url + "/members",
                    {"email": " NewBie@Acme.example ", "role": "developer"})
    assert response.status_code == 303
    page = text(client.get(response.headers["Location"]))
    assert "newbie@acme.example is now a member (developer)." in page
    assert "New &lt;b&gt;Bie&lt;/b&gt;" in page
    assert _memberships(database, world.acme.org_id)["newbie@acme.example"] == DEVELOPER
    # the new member sees the organisation now
    assert signed_in(app, world.newbie, world.now).get(world.org_url).status_code == 200


@pytest.mark.parametrize("email, role, message", [
    ("nobody@acme.example", "developer", "No developer has signed up with that e-mail"),
    ("eve@acme.example", "developer", "already a member"),
    ("newbie@acme.example", "owner", "Choose a role: admin or developer."),
    ("", "developer", "Enter the e-mail address"),
])
def test_adding_a_member_refuses_on_the_page(app, database, world, email, role, message):
    client = signed_in(app, world.dana, world.now)
    response = post(client, world.org_url, world.org_url + "/members",
                    {"email": email, "role": role})
    assert response.status_code == 400
    assert message in text(response)
    assert "newbie@acme.example" not in _memberships(database, world.acme.org_id)


def test_an_admin_changes_a_role_and_removes_a_member(app, database, world):
    client = signed_in(app, world.dana, world.now)
    eve_url = f"{world.org_url}/members/{world.eve.developer_id}"
    assert post(client, world.org_url, eve_url + "/role", {"role": "admin"}).status_code == 303
    assert _memberships(database, world.acme.org_id)["eve@acme.example"] == ADMIN
    assert post(client, world.org_url, eve_url + "/remove", {}).status_code == 303
    assert "eve@acme.example" not in _memberships(database, world.acme.org_id)
    assert signed_in(app, world.eve, world.now).get(world.org_url).status_code == 404


def test_the_last_admin_is_never_demoted_nor_removed(app, database, world):
    client = signed_in(app, world.dana, world.now)
    dana_url = f"{world.org_url}/members/{world.dana.developer_id}"
    response = post(client, world.org_url, dana_url + "/role", {"role": "developer"})
    assert response.status_code == 400
    assert "needs at least one administrator" in text(response)
    response = post(client, world.org_url, dana_url + "/remove", {})
    assert response.status_code == 400
    assert "cannot remove the last one" in text(response)
    assert _memberships(database, world.acme.org_id)["dana@acme.example"] == ADMIN
    # with a second admin, the first may step down and leave
    eve_url = f"{world.org_url}/members/{world.eve.developer_id}"
    post(client, world.org_url, eve_url + "/role", {"role": "admin"})
    assert post(client, world.org_url, dana_url + "/remove", {}).status_code == 303
    assert _memberships(database, world.acme.org_id) == {"eve@acme.example": ADMIN}


def test_a_developer_cannot_do_what_admins_do(app, database, world):
    client = signed_in(app, world.eve, world.now)
    dana_url = f"{world.org_url}/members/{world.dana.developer_id}"
    for action, data in [
        (world.org_url + "/members", {"email": "newbie@acme.example", "role": "admin"}),
        (dana_url + "/role", {"role": "developer"}),
        (dana_url + "/remove", {}),
        (world.org_url, {**GOOD, "name": "Hijacked Ltd"}),
    ]:
        response = post(client, world.org_url, action, data)
        assert response.status_code == 403, action
        assert "Only an administrator can do this" in text(response)
    assert _memberships(database, world.acme.org_id) == {"dana@acme.example": ADMIN,
                                                          "eve@acme.example": DEVELOPER}
    assert "Hijacked" not in text(client.get(world.org_url))


def test_a_non_member_gets_404_on_every_organisation_url(app, database, world):
    client = signed_in(app, world.mallory, world.now)
    listing = "/developers/organisations/"
    assert "Acme Payments Ltd" not in text(client.get(listing))
    assert client.get(world.org_url).status_code == 404
    assert client.get(f"/developers/apps/new?org={world.acme.org_id}").status_code == 404
    dana_url = f"{world.org_url}/members/{world.dana.developer_id}"
    for action, data in [
        (world.org_url + "/members", {"email": "mallory@other.example", "role": "admin"}),
        (dana_url + "/role", {"role": "developer"}),
        (dana_url + "/remove", {}),
        (world.org_url, {**GOOD, "name": "Hijacked Ltd"}),
    ]:
        response = post(client, listing, action, data)
        assert response.status_code == 404, action
    assert "mallory@other.example" not in _memberships(database, world.acme.org_id)


def test_an_admin_edits_the_organisation_but_not_below_its_apps_roles(app, database, world):
    client = signed_in(app, world.dana, world.now)
    response = post(client, world.org_url, world.org_url,
                    {**GOOD, "name": "Acme <Payments> Ltd", "roles": ["AISP", "PISP",
                                                                      "CBPII"]})
    assert response.status_code == 303
    assert "Acme &lt;Payments&gt; Ltd" in text(client.get(world.org_url))
    response = post(client, world.org_url, world.org_url, {**GOOD, "roles": ["AISP"]})
    assert response.status_code == 400
    assert "An app of this organisation uses CBPII, PISP" in text(response)


def test_every_organisation_form_needs_the_csrf_token(app, database, world):
    client = signed_in(app, world.dana, world.now)
    eve_url = f"{world.org_url}/members/{world.eve.developer_id}"
    client.get(world.org_url)
    for action, data in [
        (NEW, GOOD),
        (world.org_url, {**GOOD, "name": "Forged Ltd"}),
        (world.org_url + "/members", {"email": "newbie@acme.example", "role": "admin"}),
        (eve_url + "/role", {"role": "admin"}),
        (eve_url + "/remove", {}),
    ]:
        for forged in ({}, {"csrf_token": "forged"}):
            response = client.post(action, data={**data, **forged})
            assert response.status_code == 400, action
            assert "did not come from this site" in text(response)
    assert _memberships(database, world.acme.org_id) == {"dana@acme.example": ADMIN,
                                                          "eve@acme.example": DEVELOPER}
    with database.uow() as uow:
        assert uow.session.scalars(select(PortalOrganisation.name).where(
            PortalOrganisation.name.in_(["Forged Ltd", "Moneywise Ltd"]))).all() == []


def test_a_visitor_is_sent_to_sign_in(app, world):
    response = app.test_client().get(world.org_url)
    assert response.status_code == 303 and "/developers/login" in response.headers["Location"]
