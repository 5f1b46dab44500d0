"""Rate limits on the login and one-time-code posts (aspsp.identity.login_limits): per source
address and for everyone, checked before any password is, answered 429 with Retry-After on a
page in the bank's look; shared between processes through Redis."""
from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from aspsp.identity.models import LoginEvent
from bank import create_app
from tests.conftest import TEST_ISSUER
from tests.integration.psu_web.conftest import Browser, build_world


def make_app(database, clock, tmp_path, **settings):
    return create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                       "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                       "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER,
                       **settings})


def browser_at(app, address: str) -> Browser:
    http = app.test_client()
    http.environ_base["REMOTE_ADDR"] = address
    return Browser(http)


def wrong_password(browser, path="/psu/login"):
    browser.get(path if path == "/psu/login" else path.rsplit("/", 1)[0])
    return browser.submit(path, {"username": "carol", "password": "guess"})


def login_events(platform) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(LoginEvent))


@pytest.fixture
def limited(database, clock, tmp_path):
    app = make_app(database, clock, tmp_path, LOGIN_RATE_LIMIT_PER_ADDRESS="3 per minute",
                   LOGIN_RATE_LIMIT_GLOBAL="5 per minute")
    platform = app.extensions["aspsp"]
    platform.app = app
    return app, platform


def test_posts_over_the_per_address_limit_get_429_with_retry_after_and_no_password_check(
        limited):
    app, platform = limited
    browser = browser_at(app, "198.51.100.1")
    for _ in range(3):
        assert wrong_password(browser).status_code == 401
    refused = wrong_password(browser)
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["Retry-After"]) <= 61   # within the minute, rounded up
    assert "Too many attempts" in browser.html and 'href="/psu/static/psu.css' in browser.html
    assert login_events(platform) == 3                    # the fourth was never checked


def test_one_address_over_its_limit_does_not_limit_another(limited):
    app, _ = limited
    flooder = browser_at(app, "198.51.100.1")
    for _ in range(4):
        wrong_password(flooder)
    assert wrong_password(browser_at(app, "198.51.100.2")).status_code == 401


def test_the_global_limit_counts_posts_from_every_address(limited):
    app, _ = limited
    answers = [wrong_password(browser_at(app, f"198.51.100.{n}")).status_code
               for n in range(6)]
    assert answers == [401] * 5 + [429]


def test_code_posts_and_the_approval_journey_count_against_the_address(limited, clock):
    app, platform = limited
    world = build_world(platform, clock)
    browser = browser_at(app, "198.51.100.9")
    browser.get(world.url)
    browser.submit(f"{world.url}/login", {"username": world.username,
                                          "password": world.password})
    answers = [browser.submit(f"{world.url}/code", {"code": "000000"}).status_code
               for _ in range(3)]
    assert answers[:2] == [401, 401] and answers[2] == 429   # the password post was the first


def test_code_posts_do_not_use_up_the_overall_password_limit(limited, clock):
    app, platform = limited
    world = build_world(platform, clock)
    for n in range(3):                                     # 3 password + 3 code posts
        browser = browser_at(app, f"198.51.100.{20 + n}")
        browser.get("/psu/login")
        browser.submit("/psu/login", {"username": world.username, "password": world.password})
        assert browser.submit("/psu/login/code", {"code": "000000"}).status_code == 401
    assert wrong_password(browser_at(app, "198.51.100.30")).status_code == 401   # 4th of 5


def test_viewing_the_login_page_is_not_limited(limited):
    app, _ = limited
    browser = browser_at(app, "198.51.100.1")
    for _ in range(4):
        wrong_password(browser)
    assert browser.get("/psu/login").status_code == 200


def test_the_limits_are_shared_by_every_process_through_redis(database, clock, tmp_path,
                                                              redis_url):
    address = f"2001:db8::{uuid.uuid4().hex[:4]}"          # this test's own count in Redis
    settings = {"REDIS_URL": redis_url, "LOGIN_RATE_LIMIT_PER_ADDRESS": "3 per minute",
                "LOGIN_RATE_LIMIT_GLOBAL": "1000 per second"}
    first = make_app(database, clock, tmp_path / "one", **settings)
    for _ in range(3):
        assert wrong_password(browser_at(first, address)).status_code == 401
    # Another process starts with nothing in memory (an app without Redis drops the counts
    # held in this one), and finds the counts in Redis.
    make_app(database, clock, tmp_path / "memory", LOGIN_RATE_LIMIT_PER_ADDRESS="3 per minute")
    second = make_app(database, clock, tmp_path / "two", **settings)
    assert wrong_password(browser_at(second, address)).status_code == 429


def test_posts_refused_per_address_do_not_use_up_the_overall_limit(limited):
    app, _ = limited                                       # 3 per address, 5 overall
    flooder = browser_at(app, "198.51.100.1")
    assert [wrong_password(flooder).status_code for _ in range(10)] == [401] * 3 + [429] * 7
    answers = [wrong_password(browser_at(app, f"198.51.100.{n}")).status_code
               for n in (2, 3, 4)]
    assert answers == [401, 401, 429]                      # the flooder's 3 + these 2 = 5


def test_each_app_keeps_its_own_limits_and_counts(database, clock, tmp_path):
    first = make_app(database, clock, tmp_path / "one", LOGIN_RATE_LIMIT_PER_ADDRESS="3 per minute",
                     LOGIN_RATE_LIMIT_GLOBAL="1000 per second")
    for _ in range(3):
        assert wrong_password(browser_at(first, "198.51.100.1")).status_code == 401
    make_app(database, clock, tmp_path / "two")            # another app in the same process
    assert wrong_password(browser_at(first, "198.51.100.1")).status_code == 429
