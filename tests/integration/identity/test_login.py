"""PSU login: password, TOTP second factor, lockout after five failures, login history."""
from __future__ import annotations

import os
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from aspsp.identity import services as identity
from aspsp.identity.errors import InvalidCode, InvalidCredentials, LoginLocked
from aspsp.identity.models import LoginEvent, PsuUser
from aspsp.keyring import parse
from aspsp.oauth.replay import InProcessReplayCache
from tests import factories
from tests.psu_factories import PASSWORD, psu as make_psu

IP = "203.0.113.7"


@pytest.fixture
def carol(platform, clock):
    with platform.uow() as uow:
        user = make_psu(uow, now=clock.now(), username="carol")
        uow.commit()
        return user


def login(platform, clock, username, password):
    """One attempt in its own transaction, committed whatever happens (as the pages do)."""
    with platform.uow() as uow:
        try:
            return identity.authenticate_password(uow, username, password, IP, clock.now())
        finally:
            uow.commit()


def second_factor(platform, clock, user, code, *, sandbox_code=False, replay=None):
    with platform.uow() as uow:
        try:
            return identity.verify_totp(uow, user, code, IP, clock.now(),
                                        replay=replay or platform.replay,
                                        sandbox_code=sandbox_code)
        finally:
            uow.commit()


def events(platform, username):
    with platform.uow() as uow:
        return [(e.step, e.outcome, e.ip_address) for e in uow.session.scalars(
            select(LoginEvent).where(LoginEvent.username == username).order_by(LoginEvent.id))]


def totp(user, at):
    """The code the customer's authenticator shows. The secret is sealed at rest with the test
    run's key-encryption key (tests/conftest.py puts it in the environment)."""
    return pyotp.TOTP(identity.totp_secret(user, parse(os.environ["KEY_ENCRYPTION_KEY"]))).at(at)


def test_right_password_logs_in_and_is_recorded(platform, clock, carol):
    user = login(platform, clock, "carol", PASSWORD)
    assert user.psu_id == carol.psu_id
    assert events(platform, "carol") == [("password", "success", IP)]


def test_password_is_stored_as_an_argon2_hash(platform, carol):
    with platform.uow() as uow:
        stored = uow.session.get(PsuUser, carol.id).password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_wrong_password_and_unknown_username_get_the_same_answer(platform, clock, carol):
    with pytest.raises(InvalidCredentials) as wrong:
        login(platform, clock, "carol", "not it")
    with pytest.raises(InvalidCredentials) as unknown:
        login(platform, clock, "nobody", PASSWORD)
    assert wrong.value.message == unknown.value.message
    assert "carol" not in wrong.value.message
    assert events(platform, "carol") == [("password", "failure", IP)]
    assert events(platform, "nobody") == [("password", "failure", IP)]
    with platform.uow() as uow:
        unknown_event = uow.session.scalars(
            select(LoginEvent).where(LoginEvent.username == "nobody")).one()
        assert unknown_event.psu_pk is None


def test_five_failures_lock_the_login_for_fifteen_minutes(platform, clock, carol):
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            login(platform, clock, "carol", "guess")
    with pytest.raises(LoginLocked) as fifth:
        login(platform, clock, "carol", "guess")
    assert "locked" in fifth.value.message

    clock.advance(timedelta(minutes=14, seconds=59))
    with pytest.raises(LoginLocked) as refused:
        login(platform, clock, "carol", PASSWORD)      # the right password is refused too
    assert "locked" in refused.value.message

    clock.advance(timedelta(seconds=1))                  # 15 minutes after the fifth failure
    assert login(platform, clock, "carol", PASSWORD).psu_id == carol.psu_id
    assert events(platform, "carol") == ([("password", "failure", IP)] * 5
                                         + [("password", "locked", IP),
                                            ("password", "success", IP)])


def test_after_the_lock_runs_out_the_count_starts_again(platform, clock, carol):
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            login(platform, clock, "carol", "guess")
    with pytest.raises(LoginLocked):
        login(platform, clock, "carol", "guess")
    clock.advance(timedelta(minutes=15))
    for _ in range(4):                                   # four more: not yet locked again
        with pytest.raises(InvalidCredentials):
            login(platform, clock, "carol", "guess")
    assert login(platform, clock, "carol", PASSWORD).psu_id == carol.psu_id


def test_right_code_passes_the_second_factor(platform, clock, carol):
    second_factor(platform, clock, carol, totp(carol, clock.now()))
    assert events(platform, "carol") == [("totp", "success", IP)]


def test_code_of_the_neighbouring_step_is_accepted_but_not_older(platform, clock, carol):
    second_factor(platform, clock, carol, totp(carol, clock.now() - timedelta(seconds=30)))
    with pytest.raises(InvalidCode):
        second_factor(platform, clock, carol, totp(carol, clock.now() - timedelta(seconds=60)))


def test_wrong_code_is_refused_and_recorded(platform, clock, carol):
    right = totp(carol, clock.now())
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"
    with pytest.raises(InvalidCode):
        second_factor(platform, clock, carol, wrong)
    with pytest.raises(InvalidCode):
        second_factor(platform, clock, carol, "abcdef")
    assert events(platform, "carol") == [("totp", "failure", IP)] * 2


def test_a_code_works_once(platform, clock, carol):
    code = totp(carol, clock.now())
    second_factor(platform, clock, carol, code)
    with pytest.raises(InvalidCode):
        second_factor(platform, clock, carol, code)


def test_code_replay_is_refused_across_processes_through_redis(platform, clock, carol,
                                                               redis_url):
    from aspsp.oauth.replay import RedisReplayCache

    code = totp(carol, clock.now())
    second_factor(platform, clock, carol, code, replay=RedisReplayCache(redis_url))
    with pytest.raises(InvalidCode):    # another web process, same Redis
        second_factor(platform, clock, carol, code, replay=RedisReplayCache(redis_url))


def test_password_and_code_failures_count_together(platform, clock, carol):
    for _ in range(3):
        with pytest.raises(InvalidCredentials):
            login(platform, clock, "carol", "guess")
    login(platform, clock, "carol", PASSWORD)            # a right password alone does not reset
    with pytest.raises(InvalidCode):
        second_factor(platform, clock, carol, "000000" if totp(carol, clock.now()) != "000000"
                      else "111111")
    with pytest.raises(LoginLocked):
        second_factor(platform, clock, carol, "99999x")
    with pytest.raises(LoginLocked):                     # even the right code now
        second_factor(platform, clock, carol, totp(carol, clock.now()))


def test_a_complete_login_clears_the_failures(platform, clock, carol):
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            login(platform, clock, "carol", "guess")
    login(platform, clock, "carol", PASSWORD)
    second_factor(platform, clock, carol, totp(carol, clock.now()))
    for _ in range(4):
        with pytest.raises(InvalidCredentials):
            login(platform, clock, "carol", "guess")
    assert login(platform, clock, "carol", PASSWORD).psu_id == carol.psu_id


def test_the_fixed_sandbox_code_only_where_allowed(platform, clock, carol):
    replay = InProcessReplayCache()
    with pytest.raises(InvalidCode):
        second_factor(platform, clock, carol, identity.SANDBOX_CODE, replay=replay)
    second_factor(platform, clock, carol, identity.SANDBOX_CODE, sandbox_code=True,
                  replay=replay)


def test_sandbox_shortcuts_need_the_sandbox_and_a_demo_customer(carol):
    assert not identity.sandbox_sca_allowed(carol, {"SANDBOX_ENABLED": True})
    assert "alice" in identity.sandbox_demo_usernames()        # sandbox.seed.DEMO_USERS
    carol.username = "alice"
    assert identity.sandbox_sca_allowed(carol, {"SANDBOX_ENABLED": True})
    assert not identity.sandbox_sca_allowed(carol, {"SANDBOX_ENABLED": False})


def test_cli_creates_a_login_and_prints_the_authenticator_uri(app, platform, clock):
    with platform.uow() as uow:
        party = factories.party(uow, "Bob Example", now=clock.now())
        uow.commit()
        party_id = party.party_id
    result = app.test_cli_runner().invoke(
        args=["psu", "create", "bob", "--party", party_id, "--password", "s3cret-enough"])
    assert result.exit_code == 0, result.output
    assert "otpauth://totp/Invisible%20Bank:bob" in result.output
    assert login(platform, clock, "bob", "s3cret-enough").username == "bob"


def test_the_stand_in_hash_for_unknown_usernames_is_made_when_the_app_starts(
        database, clock, tmp_path):
    """Otherwise the first unknown username a process meets would cost two argon2 runs (make
    the stand-in, then check it), and that one login would tell the name apart by its time."""
    from bank import create_app
    from tests.conftest import TEST_ISSUER
    identity.dummy_hash.cache_clear()
    create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                "SECRET_KEY": "test-secret", "TESTING": True, "ISSUER": TEST_ISSUER})
    assert identity.dummy_hash.cache_info().currsize == 1
    assert identity.dummy_hash().startswith("$argon2id$")
