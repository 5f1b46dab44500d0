"""Strong customer authentication of bank customers (PSUs): a password, then a one-time code.

Every attempt, good or bad, is recorded as a LoginEvent. Five failed attempts, passwords and
codes counted together, lock the login for 15 minutes; a locked login is refused without even
checking the password. Only a complete login (password and code) clears the count: a correct
password alone does not, or someone who knows the password could try codes for ever.

The functions take the caller's unit of work and never commit. A failure raises a typed error
*after* recording the attempt and counting it: the caller commits in both cases, so that a
failed attempt is remembered.

TOTP secrets are sealed at rest with the key-encryption key (aspsp.keyring), bound to the
customer's psu_id; they are opened only to check or show a code. The keyring comes from the
caller, else from the platform's unit of work, else from the running app.

Sandbox: with SANDBOX_ENABLED, the demo customers (the usernames the sandbox registers) also pass the
second factor with the fixed code 123456, and the code page shows their current TOTP.
"""
from __future__ import annotations

import hmac
import logging
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Mapping, NoReturn

import pyotp
from sqlalchemy import select

from ..db import UnitOfWork
from ..ids import new_id
from ..keyring import Keyring, SealedValueError, is_sealed
from ..ledger.models import Party
from ..oauth.replay import ReplayCache
from .errors import InvalidCode, InvalidCredentials, LoginLocked, UsernameTaken
from .models import LoginEvent, PsuUser
from .passwords import hash_password, verify_password

MAX_FAILED_ATTEMPTS = 5
LOCKOUT = timedelta(minutes=15)
SANDBOX_CODE = "123456"
# valid_window=1 accepts the previous, current and next 30 s step: a used code stays
# refused for longer than it could be accepted.
TOTP_REPLAY_TTL_SECONDS = 120
MAX_PASSWORD_LENGTH = 1024
ISSUER_NAME = "Invisible Bank"

log = logging.getLogger(__name__)


def create_psu(uow: UnitOfWork, *, username: str, password: str, party: Party, now: datetime,
               totp_secret: str | None = None, rng=None,
               keyring: Keyring | None = None) -> PsuUser:
    """A new online-banking login for `party`, with a fresh TOTP secret unless one is given
    (sealed before it is stored)."""
    username = username.strip()
    if not username or len(username) > 64:
        raise InvalidCredentials("A username has 1 to 64 characters.")
    if find_by_username(uow, username) is not None:
        raise UsernameTaken(f"The username {username!r} is taken.")
    psu_id = new_id(rng)
    sealed = seal_totp_secret(_keyring(keyring, uow), psu_id, totp_secret or pyotp.random_base32())
    psu = PsuUser(psu_id=psu_id, username=username, password_hash=hash_password(password),
                  totp_secret=sealed, party_pk=party.id, failed_attempts=0, created_at=now)
    uow.session.add(psu)
    uow.session.flush()
    return psu


def find_by_username(uow: UnitOfWork, username: str) -> PsuUser | None:
    return uow.session.scalars(select(PsuUser).where(PsuUser.username == username)).one_or_none()


def find_by_psu_id(uow: UnitOfWork, psu_id: str) -> PsuUser | None:
    return uow.session.scalars(select(PsuUser).where(PsuUser.psu_id == psu_id)).one_or_none()


def authenticate_password(uow: UnitOfWork, username: str, password: str, ip: str | None,
                          now: datetime) -> PsuUser:
    """The PSU whose password this is. Raises InvalidCredentials (unknown username and wrong
    password alike) or LoginLocked."""
    username, password = (username or "").strip(), password or ""
    psu = _locked_row(uow, PsuUser.username == username) if 0 < len(username) <= 64 else None
    if psu is None:
        verify_password(_dummy_hash(), password[:MAX_PASSWORD_LENGTH])  # same time as a real check
        _record(uow, None, username, "password", "failure", ip, now)
        raise InvalidCredentials()
    # One argon2 verification on every path (known, unknown, locked, oversized), so the answer
    # takes the same time whatever it is.
    right = verify_password(psu.password_hash, password[:MAX_PASSWORD_LENGTH]) \
        and len(password) <= MAX_PASSWORD_LENGTH
    _refuse_if_locked(uow, psu, "password", ip, now)
    if not right:
        _count_failure(uow, psu, "password", ip, now, InvalidCredentials())
    _record(uow, psu, psu.username, "password", "success", ip, now)
    return psu


def verify_totp(uow: UnitOfWork, psu: PsuUser, code: str, ip: str | None, now: datetime, *,
                replay: ReplayCache, sandbox_code: bool = False,
                keyring: Keyring | None = None) -> PsuUser:
    """Pass the second factor: the PSU's current TOTP (a step either side accepted, each code
    once), or, when `sandbox_code` is allowed, the fixed sandbox code. Raises InvalidCode or
    LoginLocked. Success clears the failure count."""
    psu = _locked_row(uow, PsuUser.id == psu.id)
    _refuse_if_locked(uow, psu, "totp", ip, now)
    code = "".join((code or "").split())
    if not (_sandbox_code_ok(code, sandbox_code)
            or _totp_ok(psu, code, now, replay, _keyring(keyring, uow))):
        _count_failure(uow, psu, "totp", ip, now, InvalidCode())
    psu.failed_attempts = 0
    _record(uow, psu, psu.username, "totp", "success", ip, now)
    return psu


def current_code(psu: PsuUser, now: datetime, keyring: Keyring | None = None) -> str:
    """The TOTP a customer's authenticator shows at `now` (the sandbox shows it on the page)."""
    return pyotp.TOTP(totp_secret(psu, keyring)).at(now)


def provisioning_uri(psu: PsuUser, keyring: Keyring | None = None) -> str:
    """otpauth:// URI for an authenticator app."""
    return pyotp.TOTP(totp_secret(psu, keyring)).provisioning_uri(name=psu.username,
                                                                  issuer_name=ISSUER_NAME)


def totp_secret(psu: PsuUser, keyring: Keyring | None = None) -> str:
    """The customer's TOTP secret in clear (raises keyring.SealedValueError if it was not
    sealed for this customer with a configured KEK version)."""
    return _keyring(keyring).open(psu.totp_secret, _totp_purpose(psu.psu_id))


def seal_totp_secret(keyring: Keyring, psu_id: str, secret: str) -> str:
    return keyring.seal(secret, _totp_purpose(psu_id))


def rewrap_totp_secrets(uow: UnitOfWork, keyring: Keyring) -> int:
    """Re-seal every TOTP secret under the newest KEK version; plain-text ones (stored before
    secrets were sealed) are sealed. Returns how many changed."""
    changed = 0
    for psu in uow.session.scalars(select(PsuUser).order_by(PsuUser.id)):
        if keyring.is_current(psu.totp_secret):
            continue
        secret = totp_secret(psu, keyring) if is_sealed(psu.totp_secret) else psu.totp_secret
        psu.totp_secret = seal_totp_secret(keyring, psu.psu_id, secret)
        changed += 1
    uow.session.flush()
    return changed


def _totp_purpose(psu_id: str) -> str:
    return f"psu_users.totp_secret:{psu_id}"


def _keyring(keyring: Keyring | None, uow: UnitOfWork | None = None) -> Keyring:
    if keyring is not None:
        return keyring
    if getattr(uow, "keyring", None) is not None:
        return uow.keyring
    from .. import platform
    return platform.current().keyring




def unlock(uow: UnitOfWork, psu: PsuUser) -> None:
    psu.failed_attempts, psu.locked_until = 0, None


def sandbox_sca_allowed(psu: PsuUser, config: Mapping[str, Any]) -> bool:
    """The sandbox's documented shortcuts (fixed code, TOTP shown on the page) are for the
    sandbox demo customers only, and only while SANDBOX_ENABLED: a real customer of a
    deployment that forgot to turn the sandbox off still needs their authenticator."""
    return bool(config.get("SANDBOX_ENABLED")) and psu.username in sandbox_demo_usernames()


_demo_usernames: set[str] = set()


def register_demo_usernames(usernames) -> None:
    """The sandbox names its demo customers here when it is wired in (sandbox.init_app, only
    while SANDBOX_ENABLED); identity never imports the sandbox."""
    _demo_usernames.update(name for name in usernames if name)


def sandbox_demo_usernames() -> frozenset[str]:
    return frozenset(_demo_usernames)


def _locked_row(uow: UnitOfWork, condition) -> PsuUser | None:
    """The PSU row under a row lock (PostgreSQL), so concurrent attempts count one by one.
    SQLite transactions already take the write lock when they begin."""
    return uow.session.scalars(select(PsuUser).where(condition).with_for_update()
                               .execution_options(populate_existing=True)).one_or_none()


def _refuse_if_locked(uow: UnitOfWork, psu: PsuUser, step: str, ip: str | None,
                      now: datetime) -> None:
    if psu.locked_until is None:
        return
    if psu.locked_until > now:
        _record(uow, psu, psu.username, step, "locked", ip, now)
        raise LoginLocked(psu.locked_until)
    psu.locked_until, psu.failed_attempts = None, 0          # the lock has run out


def _count_failure(uow: UnitOfWork, psu: PsuUser, step: str, ip: str | None, now: datetime,
                   error: Exception) -> NoReturn:
    psu.failed_attempts = (psu.failed_attempts or 0) + 1
    _record(uow, psu, psu.username, step, "failure", ip, now)
    if psu.failed_attempts >= MAX_FAILED_ATTEMPTS:
        psu.locked_until = now + LOCKOUT
        raise LoginLocked(psu.locked_until)
    raise error


def _sandbox_code_ok(code: str, allowed: bool) -> bool:
    return allowed and hmac.compare_digest(code, SANDBOX_CODE)


def _totp_ok(psu: PsuUser, code: str, now: datetime, replay: ReplayCache,
             keyring: Keyring) -> bool:
    if len(code) != 6 or not code.isdigit():
        return False
    try:
        secret = totp_secret(psu, keyring)
    except SealedValueError as error:   # not sealed for this login: a tampered or foreign row
        log.error("TOTP secret of psu %s does not open: %s", psu.psu_id, error)
        return False
    if not pyotp.TOTP(secret).verify(code, for_time=now, valid_window=1):

        return False
    return replay.first_use("psu-totp", f"{psu.psu_id}:{code}", TOTP_REPLAY_TTL_SECONDS)


def _record(uow: UnitOfWork, psu: PsuUser | None, username: str, step: str, outcome: str,
            ip: str | None, now: datetime) -> None:
    uow.session.add(LoginEvent(psu_pk=psu.id if psu else None, username=username[:64],
                               step=step, outcome=outcome, ip_address=(ip or None) and ip[:64],
                               at=now))
    uow.session.flush()


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("not a real password: equal timing for unknown usernames")
