"""Server-side sessions on the customer's pages: the cookie is a random id, the record lives in
the database, the id changes at every login step, sign-out deletes it, and it ends after an
idle timeout and an absolute lifetime."""
from __future__ import annotations

import hashlib
from datetime import timedelta

from sqlalchemy import func, select

from aspsp import create_app
from aspsp.identity.models import WebSession
from aspsp.identity.sessions import COOKIE_NAME, SECURE_COOKIE_NAME
from tests.integration.psu_web.conftest import Browser

def session_id(browser) -> str | None:
    cookie = browser.http.get_cookie(COOKIE_NAME)
    return cookie.value if cookie else None


def with_cookie(app, sid: str) -> Browser:
    """Another browser holding a copy of a session cookie."""
    thief = Browser(app.test_client())
    thief.http.set_cookie(COOKIE_NAME, sid)
    return thief


def dashboard_password(browser, world):
    browser.get("/psu/login")
    return browser.submit("/psu/login", {"username": world.username,
                                         "password": world.password})


def dashboard_login(browser, world, clock):
    dashboard_password(browser, world)
    return browser.submit("/psu/login/code", {"code": world.totp.at(clock.now())})


def session_rows(platform) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(WebSession))


def test_a_cookie_copied_before_sign_out_gives_nothing_afterwards(app, browser, world, clock):
    dashboard_login(browser, world, clock)
    copied = session_id(browser)
    assert with_cookie(app, copied).get("/psu/consents").status_code == 200  # the copy works...

    browser.submit("/psu/logout", {})
    assert "You are signed out." in browser.html

    response = with_cookie(app, copied).get("/psu/consents")              # ...until sign-out
    assert response.status_code == 303 and response.headers["Location"] == "/psu/login"


def test_the_cookie_holds_only_a_random_id_and_the_database_its_hash(browser, world, clock,
                                                                      platform):
    dashboard_login(browser, world, clock)
    sid = session_id(browser)
    assert len(sid) >= 43 and world.username not in sid and "." not in sid  # not signed data
    with platform.uow() as uow:
        row = uow.session.scalars(select(WebSession).where(
            WebSession.id_hash == hashlib.sha256(sid.encode()).hexdigest())).one()
        assert row.data["psu_login"]["stage"] == "sca"
        assert sid not in str(row.data)


def test_the_session_ends_after_fifteen_idle_minutes(browser, world, clock):
    dashboard_login(browser, world, clock)
    clock.advance(timedelta(minutes=15))
    assert browser.get("/psu/consents").status_code == 200        # activity keeps it open
    clock.advance(timedelta(minutes=15, seconds=1))
    response = browser.get("/psu/consents")
    assert response.status_code == 303 and response.headers["Location"] == "/psu/login"


def test_the_session_ends_an_hour_after_login_however_active(browser, world, clock):
    dashboard_login(browser, world, clock)
    for _ in range(5):
        clock.advance(timedelta(minutes=12))
        assert browser.get("/psu/consents").status_code == 200
    clock.advance(timedelta(seconds=1))                    # 60 minutes and a second
    assert browser.get("/psu/consents").status_code == 303


def test_the_password_step_rotates_the_session_id(app, browser, world):
    browser.get("/psu/login")
    before = session_id(browser)                           # planted before the login (fixation)
    assert before
    dashboard_password(browser, world)
    after = session_id(browser)
    assert after and after != before
    planted = with_cookie(app, before)
    assert planted.get("/psu/login/code").headers["Location"] == "/psu/login"


def test_the_code_step_rotates_the_session_id(app, browser, world, clock):
    dashboard_password(browser, world)
    before = session_id(browser)
    browser.submit("/psu/login/code", {"code": world.totp.at(clock.now())})
    assert "psu/consents" in browser.http.get("/psu/login").headers["Location"]
    after = session_id(browser)
    assert after != before
    assert with_cookie(app, before).get("/psu/consents").status_code == 303
    assert with_cookie(app, after).get("/psu/consents").status_code == 200


def test_the_approval_journey_rotates_the_session_at_both_steps(app, browser, world, clock):
    browser.get(world.url)
    first = session_id(browser)
    browser.submit(f"{world.url}/login", {"username": world.username,
                                          "password": world.password})
    second = session_id(browser)
    browser.submit(f"{world.url}/code", {"code": world.totp.at(clock.now())})
    third = session_id(browser)
    assert len({first, second, third}) == 3
    assert "would like to see your account information" in browser.html
    stale = with_cookie(app, second)
    stale.get(world.url)
    assert "would like to see your account information" not in stale.html


def test_expired_sessions_are_swept_at_login(app, browser, world, clock, platform):
    dashboard_login(browser, world, clock)
    abandoned = Browser(app.test_client())
    abandoned.get("/psu/login")                           # a session nobody comes back to
    before = session_rows(platform)
    clock.advance(timedelta(hours=2))
    dashboard_login(Browser(app.test_client()), world, clock)
    assert session_rows(platform) == 1 < before


def test_the_cookie_is_httponly_lax_and_host_prefixed_and_secure_on_https(database, clock,
                                                                         tmp_path):
    app = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                      "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "test-secret", "TESTING": True,
                      "ISSUER": "https://bank.example"})
    response = app.test_client().get("/psu/login", base_url="https://bank.example")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith(f"{SECURE_COOKIE_NAME}=")
    for attribute in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert attribute in cookie
    assert "Domain" not in cookie
