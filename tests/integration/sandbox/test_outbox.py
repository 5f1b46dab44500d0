"""The sandbox's outbox page: the portal's mails, clickable, only to the browser that caused
them or the developer they are addressed to; absent in production."""
from __future__ import annotations

from bank import create_app
from developer_portal import mail
from tests.conftest import TEST_ISSUER
from sqlalchemy import func, select

from developer_portal.models import PortalMail
from tests.integration.portal.test_accounts import LINK, outbox_links, sign_up
from tests.integration.psu_web.conftest import Browser


def test_the_outbox_shows_a_browser_its_own_mails_with_clickable_links(app, platform, clock):
    browser = Browser(app.test_client())
    empty = browser.get("/sandbox/outbox")
    assert empty.status_code == 200 and "No mail yet" in browser.html
    sign_up(browser, email="dana@example.com")
    links = outbox_links(browser)
    assert len(links) == 1 and "Verify your e-mail address" in browser.html
    assert "default-src 'none'" in browser.http.get("/sandbox/outbox").headers[
        "Content-Security-Policy"]

    stranger = Browser(app.test_client())
    assert outbox_links(stranger) == [] and "dana@example.com" not in stranger.html

    with platform.uow() as uow, app.test_request_context():
        mail.send(uow, "dana@example.com", "Hello <b>", "See https://example.com/a<b>c there")
        uow.commit()
    browser.get("/sandbox/outbox")           # addressed to the developer signed in here
    assert "Hello &lt;b&gt;" in browser.html
    assert '<a href="https://example.com/a">https://example.com/a</a>&lt;b&gt;c' in browser.html
    assert LINK.findall(browser.html) == links


def test_the_outbox_does_not_exist_in_production(database, clock, tmp_path, redis_url):
    production = create_app({"DATABASE_URL": database.url, "DATABASE": database,
                             "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                             "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                             "TESTING": True, "ISSUER": TEST_ISSUER,
                             "SANDBOX_ENABLED": False, "REDIS_URL": redis_url})
    browser = Browser(production.test_client())
    assert browser.get("/sandbox/outbox").status_code == 404
    assert "We can" in browser.html                      # the platform's own 404 page
    # The portal still records what it sends (a real backend would send it from there).
    assert sign_up(browser).status_code == 200 and "Set up your authenticator" in browser.html
    with production.extensions["aspsp"].uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(PortalMail)) == 1


def test_an_unknown_mail_backend_stops_the_app(database, clock, tmp_path):
    import pytest
    with pytest.raises(mail.UnknownMailBackend, match="smtp"):
        create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                    "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                    "TESTING": True, "ISSUER": TEST_ISSUER, "PORTAL_MAIL_BACKEND": "smtp"})
