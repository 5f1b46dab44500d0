"""The portal's front page and the access rules every portal page relies on."""
from __future__ import annotations

import pytest
from werkzeug.exceptions import Forbidden, NotFound

from developer_portal import auth
from developer_portal.models import DEVELOPER
from tests.portal_factories import make_app, make_developer, make_organisation, sign_in


def test_a_visitor_sees_the_welcome_page_with_the_way_in(app):
    page = app.test_client().get("/developers/")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "Build on Invisible Bank" in text and "Sign in" in text
    assert 'href="/developers/signup"' in text
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]


def test_a_signed_in_developer_sees_their_organisations_and_apps_only(app, database, clock):
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now, name="Dana <b>Dev</b>")
        acme = make_organisation(uow, now, dana, name="Acme Payments Ltd")
        make_app(uow, now, acme, name="Acme <script>Money</script>")
        eve = make_developer(uow, now)
        other = make_organisation(uow, now, eve, name="Other Corp")
        make_app(uow, now, other, name="Secret Other App")
        uow.commit()
    client = app.test_client()
    sign_in(client, dana, now)
    text = client.get("/developers/").get_data(as_text=True)
    assert "Acme Payments Ltd" in text and "Acme &lt;script&gt;Money&lt;/script&gt;" in text
    assert "Dana &lt;b&gt;Dev&lt;/b&gt;" in text
    assert "Sign out" in text and dana.email in text            # the header knows who it is
    assert "Other Corp" not in text and "Secret Other App" not in text
    assert f'href="/developers/organisations/{acme.org_id}"' in text


def test_the_app_page_leads_to_every_page_about_the_app(app, database, clock):
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now)
        acme_app = make_app(uow, now, make_organisation(uow, now, dana), client_id="client-1")
        uow.commit()
    client = app.test_client()
    sign_in(client, dana, now)
    home = client.get("/developers/").get_data(as_text=True)
    assert f'href="/developers/apps/{acme_app.app_id}"' in home
    page = client.get(f"/developers/apps/{acme_app.app_id}").get_data(as_text=True)
    for target in ("quickstart", "requests", "usage", "webhooks"):
        url = f"/developers/apps/{acme_app.app_id}/{target}"
        assert f'href="{url}"' in page, target
        assert client.get(url).status_code == 200, target


def test_member_app_hides_other_organisations_apps_and_guards_admin_actions(app, database, clock):
    now = clock.now()
    with database.uow() as uow:
        dana = make_developer(uow, now)
        acme = make_organisation(uow, now, dana)
        acme_app = make_app(uow, now, acme)
        eve = make_developer(uow, now)
        other = make_organisation(uow, now, eve)
        make_organisation(uow, now, eve, role=DEVELOPER, name="Eve helps here")
        with app.app_context():
            assert auth.member_app(uow, dana, acme_app.app_id)[0].id == acme_app.id
            with pytest.raises(NotFound):
                auth.member_app(uow, eve, acme_app.app_id)
            with pytest.raises(NotFound):
                auth.member_app(uow, dana, "no-such-app")
            with pytest.raises(NotFound):
                auth.member_organisation(uow, dana, other.org_id)
            helper_org = auth.memberships(uow, eve)[1].organisation
            with pytest.raises(Forbidden):
                auth.member_organisation(uow, eve, helper_org.org_id, role="admin")
            assert auth.member_organisation(uow, eve, helper_org.org_id)[0].id == helper_org.id
