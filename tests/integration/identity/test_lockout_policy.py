"""The lockout policy (aspsp.identity.services): the same answer for known and unknown
usernames, locks per source address that grow, and a ceiling over all addresses that keeps a
distributed guesser out without letting one outsider keep the customer out for ever."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from aspsp.identity import services as identity
from aspsp.identity.errors import InvalidCredentials, LoginLocked
from aspsp.identity.models import LoginThrottle
from tests.psu_factories import PASSWORD, psu as make_psu

ATTACKER = "198.51.100.66"
CUSTOMER = "203.0.113.7"


@pytest.fixture
def carol(platform, clock):
    with platform.uow() as uow:
        user = make_psu(uow, now=clock.now(), username="carol")
        uow.commit()
        return user


def attempt(platform, clock, username, password, ip):
    """One password attempt as the pages make it; the outcome as a (kind, message) pair."""
    with platform.uow() as uow:
        try:
            identity.authenticate_password(uow, username, password, ip, clock.now())
            return ("ok", "")
        except (InvalidCredentials, LoginLocked) as error:
            return (type(error).__name__, error.message)
        finally:
            uow.commit()


def test_an_unknown_username_gets_the_same_answers_as_a_known_one(platform, clock, carol):
    known = [attempt(platform, clock, "carol", "guess", ATTACKER) for _ in range(7)]
    unknown = [attempt(platform, clock, "nobody-here", "guess", ATTACKER) for _ in range(7)]
    assert known == unknown
    assert [kind for kind, _ in unknown] == ["InvalidCredentials"] * 4 + ["LoginLocked"] * 3


def test_a_lock_from_one_address_does_not_keep_the_customer_out_from_another(platform, clock,
                                                                          carol):
    for _ in range(5):
        attempt(platform, clock, "carol", "guess", ATTACKER)
    assert attempt(platform, clock, "carol", PASSWORD, ATTACKER)[0] == "LoginLocked"
    assert attempt(platform, clock, "carol", PASSWORD, CUSTOMER) == ("ok", "")


def test_each_further_lock_from_the_same_address_lasts_twice_as_long(platform, clock, carol):
    for minutes in (15, 30, 60):
        for _ in range(5):
            attempt(platform, clock, "carol", "guess", ATTACKER)
        clock.advance(timedelta(minutes=minutes) - timedelta(seconds=1))
        assert attempt(platform, clock, "carol", PASSWORD, ATTACKER)[0] == "LoginLocked"
        clock.advance(timedelta(seconds=1))
    assert attempt(platform, clock, "carol", PASSWORD, ATTACKER) == ("ok", "")


def test_failures_from_many_addresses_lock_the_username_everywhere_for_fifteen_minutes(
        platform, clock, carol):
    for n in range(identity.MAX_FAILURES_PER_USERNAME):
        attempt(platform, clock, "carol", "guess", f"192.0.2.{n // 2}")   # 2 per address
    assert attempt(platform, clock, "carol", PASSWORD, CUSTOMER)[0] == "LoginLocked"
    clock.advance(timedelta(minutes=15))
    assert attempt(platform, clock, "carol", PASSWORD, CUSTOMER) == ("ok", "")


def test_the_overall_count_forgets_failures_spread_wider_than_its_window(platform, clock,
                                                                         carol):
    for n in range(identity.MAX_FAILURES_PER_USERNAME - 1):
        attempt(platform, clock, "carol", "guess", f"192.0.2.{n}")
    clock.advance(timedelta(minutes=15, seconds=1))
    attempt(platform, clock, "carol", "guess", "192.0.2.200")
    assert attempt(platform, clock, "carol", PASSWORD, CUSTOMER) == ("ok", "")


def test_unlock_lifts_the_locks_of_every_address(app, platform, clock, carol):
    for _ in range(5):
        attempt(platform, clock, "carol", "guess", ATTACKER)
    result = app.test_cli_runner().invoke(args=["psu", "unlock", "carol"])
    assert result.exit_code == 0, result.output
    assert attempt(platform, clock, "carol", PASSWORD, ATTACKER) == ("ok", "")


def test_quiet_counts_are_swept_after_a_day(platform, clock, carol):
    attempt(platform, clock, "nobody-here", "guess", ATTACKER)
    clock.advance(timedelta(days=1, seconds=1))
    with platform.uow() as uow:
        assert identity.sweep_login_throttles(uow, clock.now()) == 2   # its address, overall
        uow.commit()
        assert uow.session.scalars(select(LoginThrottle)).all() == []


def test_the_lock_message_gives_the_day_and_the_uk_time_with_its_zone(platform, clock, carol):
    answers = [attempt(platform, clock, "carol", "wrong", ATTACKER) for _ in range(5)]
    kind, message = answers[-1]                 # 15 June 2026 12:00 UTC, locked 15 minutes
    assert kind == "LoginLocked"
    assert "Try again after 15 June 2026, 13:15 BST." in message
    winter = LoginLocked(clock.now().replace(month=12, day=31, hour=23, minute=50))
    assert "Try again after 31 December 2026, 23:50 GMT." in winter.message
