"""Secrets at rest and what a production process needs before it starts.

- A production process (SANDBOX_ENABLED off) refuses to start without KEY_ENCRYPTION_KEY, and
  without REDIS_URL (its replay caches must be shared by every web process); the message says
  what to set. The embedded platform starts without either.
- `flask db upgrade` seals what was stored before the KEK existed (plain-text TOTP secrets,
  signing keys sealed with a key derived from SECRET_KEY) and makes every signing key ahead.
- `flask keys rewrap` moves every sealed value to the newest KEK version.
"""
from __future__ import annotations

import base64
import os
import stat
from datetime import datetime, timezone

import pyotp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select

from aspsp.cli import upgrade
from aspsp.clock import Clock
from aspsp.identity import services as identity
from aspsp.identity.models import PsuUser
from aspsp.keyring import KeyringError, new_key_setting
from aspsp.oauth import keys
from aspsp.oauth.models import SigningKey
from aspsp.oauth.replay import InProcessReplayCache, RedisReplayCache, SharedReplayCacheRequired
from bank import create_app
from developer_portal import accounts as portal_accounts
from developer_portal.models import PortalDeveloper
from sandbox import certificates
from tests.conftest import NOW, create_pg_database, drop_pg_database, service_missing
from tests.portal_factories import make_developer

OLD_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# The run's KEK (tests/conftest.py): a PostgreSQL database is migrated, keys made, under it.
RUN_KEK = os.environ["KEY_ENCRYPTION_KEY"]
RUN_VERSION = RUN_KEK.split(":")[0]
PRODUCTION = {"SANDBOX_ENABLED": False, "SECRET_KEY": "test-secret", "TESTING": True,
              "CELERY_ALWAYS_EAGER": True}


def _app(tmp_path, url=None, **settings):
    return create_app({"DATABASE_URL": url or f"sqlite:///{tmp_path / 'unused.sqlite'}",
                       "INSTANCE_PATH": str(tmp_path / "instance"), "CLOCK": Clock(frozen_at=NOW),
                       "SECRET_KEY": "test-secret", "TESTING": True, "CELERY_ALWAYS_EAGER": True,
                       **settings})


# --- what a production process needs -----------------------------------------------------------

def test_production_refuses_to_start_without_a_key_encryption_key(tmp_path, redis_url):
    with pytest.raises(KeyringError) as refused:
        _app(tmp_path, **PRODUCTION, REDIS_URL=redis_url, KEY_ENCRYPTION_KEY=None)
    assert "KEY_ENCRYPTION_KEY is required when SANDBOX_ENABLED is off" in str(refused.value)
    assert not (tmp_path / "instance" / "key_encryption_key").exists()


def test_production_refuses_to_start_with_replay_caches_in_process_memory(tmp_path):
    with pytest.raises(SharedReplayCacheRequired) as refused:
        _app(tmp_path, **PRODUCTION, REDIS_URL=None, KEY_ENCRYPTION_KEY=new_key_setting())
    assert "Set REDIS_URL=redis://" in str(refused.value)


def test_production_with_both_starts_on_a_shared_replay_cache(tmp_path, redis_url):
    app = _app(tmp_path, **PRODUCTION, REDIS_URL=redis_url, KEY_ENCRYPTION_KEY=new_key_setting())
    assert isinstance(app.extensions["aspsp"].replay, RedisReplayCache)


def test_the_embedded_platform_starts_without_redis_and_keeps_its_kek_in_instance(tmp_path):
    first = _app(tmp_path, REDIS_URL=None, KEY_ENCRYPTION_KEY=None)
    assert isinstance(first.extensions["aspsp"].replay, InProcessReplayCache)
    path = tmp_path / "instance" / "key_encryption_key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sealed = first.extensions["aspsp"].keyring.seal("a secret", "purpose")
    again = _app(tmp_path, REDIS_URL=None, KEY_ENCRYPTION_KEY=None)
    assert again.extensions["aspsp"].keyring.open(sealed, "purpose") == "a secret"
    assert "test-secret" not in path.read_text()


@pytest.mark.parametrize("value", ["v1:" + base64.b64encode(b"short").decode(), "no-version",
                                   "v1:not base64!", "v 1:" + base64.b64encode(bytes(32)).decode()])
def test_a_malformed_key_encryption_key_is_refused_without_repeating_it(tmp_path, value):
    with pytest.raises(KeyringError) as refused:
        _app(tmp_path, KEY_ENCRYPTION_KEY=value)
    assert value.partition(":")[2] not in str(refused.value) or not value.partition(":")[2]


# --- databases that really commit ----------------------------------------------------------------

@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite'}"
        return
    try:
        url = create_pg_database("aspsp_secrets")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    try:
        yield url
    finally:
        drop_pg_database(url)


def _legacy_seal(secret: str, plaintext: str) -> str:
    """How signing keys were sealed before the KEK: AES-GCM under HKDF(SECRET_KEY)."""
    key = HKDF(algorithm=SHA256(), length=32, salt=b"aspsp-signing-keys",
               info=b"key-encryption").derive(secret.encode())
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, plaintext.encode(), None)).decode()


def test_db_upgrade_seals_what_was_stored_before_the_kek_and_makes_the_keys_ahead(
        fresh_url, tmp_path):
    kek = RUN_KEK
    upgrade(fresh_url, config={"SANDBOX_ENABLED": True, "KEY_ENCRYPTION_KEY": kek,
                                             "SECRET_KEY": "test-secret",
                                             "INSTANCE_PATH": str(tmp_path)})
    app = _app(tmp_path, fresh_url, KEY_ENCRYPTION_KEY=kek)
    platform = app.extensions["aspsp"]
    old_key = keys.generate_jwk("PS256")
    with platform.uow() as uow:   # an install from before: plain TOTP, keys under SECRET_KEY
        uow.session.query(SigningKey).delete()
        party = _party(uow)
        uow.session.flush()
        uow.session.add(PsuUser(psu_id="legacy-psu", username="oldtimer", password_hash="x",
                                totp_secret=OLD_SECRET, party_pk=party.id,
                                failed_attempts=0, created_at=NOW))
        uow.session.add(SigningKey(kid=old_key.thumbprint(), owner="aspsp", alg="PS256",
                                   private_jwk=_legacy_seal("test-secret", old_key.export_private()),
                                   public_jwk=keys.public_jwk(old_key, old_key.thumbprint(), "PS256"),
                                   created_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
                                   active_from=datetime(2026, 1, 1, tzinfo=timezone.utc)))
        uow.commit()
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert "1 TOTP secrets, 1 signing keys" in result.output
    with platform.uow() as uow:
        user = uow.session.scalars(select(PsuUser)).one()
        assert user.totp_secret.startswith(f"sealed:{RUN_VERSION}:")
        assert identity.current_code(user, NOW, platform.keyring) == \
            pyotp.TOTP(OLD_SECRET).at(NOW)
        kid, _key = keys.signing_key(uow, "aspsp", keyring=platform.keyring, now=NOW)
        assert kid == old_key.thumbprint()       # the old key still signs, now under the KEK
        rows = uow.session.scalars(select(SigningKey)).all()
        assert all(r.private_jwk.startswith(f"sealed:{RUN_VERSION}:") for r in rows)
        # the ES256 key it lacked is made now and signs only after the JWKS cache lifetime
        assert [(r.alg, r.active_from - r.created_at) for r in rows if r.owner == "aspsp"
                and r.kid != kid] == [("ES256", keys.JWKS_MAX_AGE)]
    app.extensions["aspsp"].db.engine.dispose()


def _party(uow):
    from tests import factories
    return factories.party(uow, "Old Customer", now=NOW)


def test_keys_rewrap_moves_every_secret_to_the_newest_kek_version(fresh_url, tmp_path):
    old, new = RUN_KEK, new_key_setting("v2")
    upgrade(fresh_url, config={"SANDBOX_ENABLED": True, "KEY_ENCRYPTION_KEY": old,
                               "SECRET_KEY": "test-secret", "INSTANCE_PATH": str(tmp_path)})
    before = _app(tmp_path, fresh_url, KEY_ENCRYPTION_KEY=old)
    with before.extensions["aspsp"].uow() as uow:
        user = identity.create_psu(uow, username="rotating", password="pass-word-1",
                                   party=_party(uow), now=NOW, totp_secret=OLD_SECRET)
        developer = make_developer(uow, NOW, email="rotating@tpp.example")
        developer.totp_secret = before.extensions["aspsp"].keyring.seal(
            OLD_SECRET, portal_accounts._totp_purpose(developer))
        ca_pem = certificates.ca_certificate_pem(uow, before.extensions["aspsp"].keyring, NOW)
        uow.commit()
    before.extensions["aspsp"].db.engine.dispose()

    during = _app(tmp_path, fresh_url, KEY_ENCRYPTION_KEY=f"{new},{old}")
    result = during.test_cli_runner().invoke(args=["keys", "rewrap"])
    assert result.exit_code == 0, result.output
    assert ("re-sealed under KEK version v2: 1 TOTP secrets, 4 signing keys, "
            "1 developer TOTP secrets, 1 sandbox CA keys") in result.output
    during.extensions["aspsp"].db.engine.dispose()

    after = _app(tmp_path, fresh_url, KEY_ENCRYPTION_KEY=new)   # the old key is gone
    platform = after.extensions["aspsp"]
    with platform.uow() as uow:
        user = identity.find_by_username(uow, "rotating")
        assert user.totp_secret.startswith("sealed:v2:")
        assert identity.totp_secret(user, platform.keyring) == OLD_SECRET
        for owner in keys.OWNERS:
            for alg in keys.ALGORITHMS:
                keys.signing_key(uow, owner, keyring=platform.keyring, now=NOW, alg=alg)
        developer = uow.session.scalars(select(PortalDeveloper)).one()
        assert portal_accounts.totp_secret(developer, platform.keyring) == OLD_SECRET
        # the same CA, its key opened under the new KEK only
        assert certificates.ca_certificate_pem(uow, platform.keyring, NOW) == ca_pem
        _key, ca_cert = certificates._ca(uow, platform.keyring, NOW)
        assert ca_cert.subject == x509.load_pem_x509_certificate(ca_pem.encode()).subject
    platform.db.engine.dispose()
