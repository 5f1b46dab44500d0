"""Server-side sessions on the customer's pages: the cookie is a random id, the record lives in
the database, the id changes at every login step, sign-out deletes it, and it ends after an
idle timeout and an absolute lifetime."""
from __future__ import annotations

import hashlib
from datetime import timedelta

from flask import request
from sqlalchemy import func, select

from aspsp.identity.models import WebSession
from aspsp.identity.sessions import COOKIE_NAME, SECURE_COOKIE_NAME, end_customer_sessions
from bank import create_app
from tests.integration.psu_web.conftest import Browser, build_world
from tests.psu_factories import consent, pending_authorization

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


def test_later_login_steps_do_not_extend_the_session_lifetime(browser, world, clock,
                                                              platform):
    dashboard_login(browser, world, clock)
    for _ in range(5):
        clock.advance(timedelta(minutes=10))
        assert browser.get("/psu/consents").status_code == 200
    with platform.uow() as uow:                            # 50 minutes in: a new request...
        ask = consent(uow, now=clock.now(), client=world.tpp)
        later = pending_authorization(uow, now=clock.now(), client=world.tpp, consent_row=ask)
        url = f"/psu/authorize/{later.reference}"
        uow.commit()
    browser.get(url)                                       # ...approved in the same browser
    browser.submit(f"{url}/login", {"username": world.username, "password": world.password})
    browser.submit(f"{url}/code", {"code": world.totp.at(clock.now())})
    assert "would like to see your account information" in browser.html
    clock.advance(timedelta(minutes=10, seconds=1))
    response = browser.get("/psu/consents")               # an hour after the session began
    assert response.status_code == 303 and response.headers["Location"] == "/psu/login"


def test_another_customers_password_step_drops_the_first_customers_approval(app, browser,
                                                                            world, clock,
                                                                            platform):
    browser.get(world.url)
    browser.submit(f"{world.url}/login", {"username": world.username,
                                          "password": world.password})
    browser.submit(f"{world.url}/code", {"code": world.totp.at(clock.now())})
    assert "would like to see your account information" in browser.html
    bob = build_world(platform, clock, username="bob")
    browser.get("/psu/login")                              # Bob, at the same computer
    browser.submit("/psu/login", {"username": bob.username, "password": bob.password})
    browser.get(world.url)
    assert "would like to see your account information" not in browser.html
    assert 'name="password"' in browser.html               # the first customer must log in


def test_every_session_of_a_customer_can_be_ended(app, browser, other_browser, world, clock,
                                                  platform):
    dashboard_login(browser, world, clock)
    dashboard_login(other_browser, world, clock)
    with platform.uow() as uow:
        assert end_customer_sessions(uow, world.psu.id) == 2
        uow.commit()
    for each in (browser, other_browser):
        assert each.get("/psu/consents").headers["Location"] == "/psu/login"


def test_the_csrf_secret_is_not_carried_over_a_login_step(browser, world):
    browser.get("/psu/login")
    before = browser.html
    dashboard_password(browser, world)
    stale = Browser(browser.http, before)                  # a form served before the login
    assert stale.submit("/psu/login/code", {"code": "000000"}).status_code == 400
    assert "Please try again" in stale.html


def _open_twice(app, sid):
    """The same session opened by two requests at once (each then answers on its own)."""
    interface = app.session_interface
    with app.test_request_context("/psu/consents", headers={"Cookie": f"{COOKIE_NAME}={sid}"}):
        return interface, interface.open_session(app, request), interface.open_session(app, request)


def test_two_rotations_of_one_session_at_once_leave_one_live_session(app, browser, world,
                                                                     platform):
    dashboard_password(browser, world)
    before = session_rows(platform)
    interface, first, second = _open_twice(app, session_id(browser))
    answers = []
    for each in (first, second):
        each.rotate()
        with app.test_request_context("/psu/login/code"):
            answers.append(app.response_class())
            interface.save_session(app, each, answers[-1])
    assert session_rows(platform) == before
    assert "Max-Age=0" in answers[1].headers["Set-Cookie"]   # the second one has ended


def test_a_login_step_at_the_time_of_sign_out_does_not_bring_the_session_back(app, browser,
                                                                              world, platform):
    dashboard_password(browser, world)
    before = session_rows(platform)
    interface, signing_out, logging_in = _open_twice(app, session_id(browser))
    with app.test_request_context("/psu/logout"):
        signing_out.end()
        interface.save_session(app, signing_out, app.response_class())
        logging_in.rotate()
        answer = app.response_class()
        interface.save_session(app, logging_in, answer)
    assert session_rows(platform) == before - 1
    assert "Max-Age=0" in answer.headers["Set-Cookie"]


def test_ended_sessions_are_swept_on_the_beat_schedule_without_any_login(app, clock, platform):
    celery = app.extensions["celery"]
    scheduled = {entry["task"] for entry in celery.conf.beat_schedule.values()}
    assert "identity.sweep_sessions" in scheduled
    for _ in range(3):
        Browser(app.test_client()).get("/psu/login")       # anonymous visits make sessions
    assert session_rows(platform) == 3
    clock.advance(timedelta(minutes=16))
    celery.tasks["identity.sweep_sessions"].delay()
    assert session_rows(platform) == 0
