"""Customers' TOTP secrets are sealed at rest with the key-encryption key (never SECRET_KEY),
bound to their own login: the database alone gives no one a customer's second factor."""
from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import text

from aspsp.identity import services as identity
from aspsp.identity.errors import InvalidCode
from aspsp.keyring import SealedValueError, new_key_setting, parse
from tests.psu_factories import psu as make_psu

IP = "203.0.113.7"
SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def _stored(platform, psu_id):
    with platform.uow() as uow:
        return uow.session.execute(text("SELECT totp_secret FROM psu_users WHERE psu_id = :p"),
                                   {"p": psu_id}).scalar_one()


def _create(platform, clock, username, secret=SECRET):
    with platform.uow() as uow:
        party = make_psu(uow, now=clock.now()).party
        user = identity.create_psu(uow, username=username, password="pass-word-1", party=party,
                                   now=clock.now(), totp_secret=secret)
        uow.commit()
        return user


def test_a_totp_secret_is_stored_sealed_with_the_key_encryption_key(platform, clock):
    user = _create(platform, clock, "sealed-secret")
    stored = _stored(platform, user.psu_id)
    assert stored.startswith(f"sealed:{platform.keyring.current_version}:")
    assert SECRET not in stored and SECRET.lower() not in stored.lower()
    assert identity.totp_secret(user, platform.keyring) == SECRET
    with pytest.raises(SealedValueError):           # another KEK of the same version
        identity.totp_secret(user, parse(new_key_setting(platform.keyring.current_version)))


def test_the_code_from_the_sealed_secret_passes_the_second_factor(platform, clock):
    user = _create(platform, clock, "code-passes")
    code = pyotp.TOTP(SECRET).at(clock.now())
    assert identity.current_code(user, clock.now(), platform.keyring) == code
    with platform.uow() as uow:
        identity.verify_totp(uow, user, code, IP, clock.now(), replay=platform.replay)
        uow.commit()
    uri = identity.provisioning_uri(user, platform.keyring)
    assert f"secret={SECRET}" in uri and "code-passes" in uri


def test_a_sealed_secret_copied_onto_another_login_does_not_open(platform, clock):
    victim = _create(platform, clock, "victim")
    attacker = _create(platform, clock, "attacker", secret=pyotp.random_base32())
    with platform.uow() as uow:
        uow.session.execute(text("UPDATE psu_users SET totp_secret = :s WHERE psu_id = :p"),
                            {"s": _stored(platform, attacker.psu_id), "p": victim.psu_id})
        uow.commit()
        uow.session.expire_all()
    with platform.uow() as uow:
        victim = identity.find_by_psu_id(uow, victim.psu_id)
        with pytest.raises(SealedValueError):
            identity.totp_secret(victim, platform.keyring)


def test_a_plain_text_secret_planted_in_the_table_is_never_accepted(platform, clock):
    user = _create(platform, clock, "planted")
    planted = pyotp.random_base32()
    with platform.uow() as uow:
        uow.session.execute(text("UPDATE psu_users SET totp_secret = :s WHERE psu_id = :p"),
                            {"s": planted, "p": user.psu_id})
        uow.commit()
    with platform.uow() as uow:
        user = identity.find_by_psu_id(uow, user.psu_id)
        with pytest.raises(InvalidCode):
            identity.verify_totp(uow, user, pyotp.TOTP(planted).at(clock.now()), IP, clock.now(),
                                 replay=platform.replay)


def test_the_cli_prints_the_authenticator_uri_of_the_sealed_secret(app, platform, clock):
    from tests import factories
    with platform.uow() as uow:
        party = factories.party(uow, "Erin Example", now=clock.now())
        uow.commit()
    result = app.test_cli_runner().invoke(
        args=["psu", "create", "erin", "--party", party.party_id, "--password", "pass-word-1"])
    assert result.exit_code == 0, result.output
    secret = result.output.split("secret=")[1].split("&")[0]
    assert secret not in _stored(platform, result.output.split("psu_id ")[1].split(")")[0])
    with platform.uow() as uow:
        user = identity.find_by_username(uow, "erin")
        assert identity.totp_secret(user, platform.keyring) == secret
