"""Strong customer authentication of bank customers (PSUs): a password, then a one-time code.

Every attempt, good or bad, is recorded as a LoginEvent. The lockout policy, with failed
passwords and codes counted together (LoginThrottle rows, one per username and source address
and one per username overall):
- The count is kept per username whether or not the username exists, and an unknown one is
  answered exactly as a known one (same error, same lock message, one argon2 verification on
  every path): five attempts no longer tell whether a name is a customer.
- Five failures of one username from one source address lock that username *from that
  address* for 15 minutes; each further lock from the same address lasts twice as long (30
  minutes, an hour, ... at most a day). An outsider guessing from one address therefore never
  locks the customer out: the customer's own address is not affected.
- Twenty failures of one username from all addresses together, each within 15 minutes of the
  last, lock it for everyone for 15 minutes: a ceiling against guessing spread over many
  addresses. It is not progressive, so keeping a customer out needs a steady supply of fresh
  addresses (each is itself locked after five failures, and rate limited, see consent.web),
  and it never refuses the browser the customer normally signs in with: a post from a browser
  that completed a login for that username (aspsp.identity.devices) passes it.
- A locked login is refused (after the same password check, for equal timing). Only a
  complete login (password and code) clears its address's count: a correct password alone
  does not, or someone who knows the password could try codes for ever.
- `flask psu unlock USERNAME` clears every count and lock of the username.

The functions take the caller's unit of work and never commit. A failure raises a typed error
*after* recording the attempt and counting it: the caller commits in both cases, so that a
failed attempt is remembered.

TOTP secrets are sealed at rest with the key-encryption key (aspsp.keyring), bound to the
customer's psu_id; they are opened only to check or show a code. The keyring comes from the
caller, else from the platform's unit of work, else from the running app.

Sandbox: with SANDBOX_ENABLED, the demo customers (the usernames the sandbox registers) and
the test customers of developers' apps (SandboxCustomers, registered by the sandbox) also pass
the second factor with the fixed code 123456, and the code page shows their current TOTP; a
test customer made to fail SCA has every code refused.
"""
from __future__ import annotations

import hmac
import logging
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Mapping, NoReturn, Protocol

import pyotp
from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..db import UnitOfWork
from ..ids import new_id
from ..keyring import Keyring, SealedValueError, is_sealed
from ..ledger.models import Party
from ..oauth.replay import ReplayCache
from .errors import InvalidCode, InvalidCredentials, LoginLocked, UsernameTaken
from .models import LoginEvent, LoginThrottle, PsuUser
from .passwords import hash_password, verify_password

MAX_FAILED_ATTEMPTS = 5                    # per username and source address
LOCKOUT = timedelta(minutes=15)            # the first lock; each further one from there doubles
MAX_LOCKOUT = timedelta(days=1)
MAX_FAILURES_PER_USERNAME = 20             # from all addresses, each within GLOBAL_WINDOW
GLOBAL_WINDOW = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)           # a source's quiet day wipes its count and its locks
EVERYWHERE = ""                            # LoginThrottle.source of the overall count
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
                          now: datetime, *, known_device: bool = False) -> PsuUser:
    """The PSU whose password this is. Raises InvalidCredentials (unknown username and wrong
    password alike) or LoginLocked. `known_device`: the post comes from a browser that
    completed a login for this username (aspsp.identity.devices), which the overall lock
    does not refuse."""
    username, password = (username or "").strip(), password or ""
    psu = find_by_username(uow, username) if 0 < len(username) <= 64 else None
    # One argon2 verification on every path (known, unknown, locked, oversized), and the same
    # counting and locking for known and unknown usernames, so the answer and its time are the
    # same whatever it is. No lock is held on the customer's row (nor on anything else) while
    # the password is checked: concurrent checks of a known name would queue behind each
    # other and those of an unknown one would not, telling them apart by time. The counts are
    # taken under a lock afterwards (_throttle), the same way for both.
    right = verify_password(psu.password_hash if psu else dummy_hash(),
                            password[:MAX_PASSWORD_LENGTH]) \
        and psu is not None and len(password) <= MAX_PASSWORD_LENGTH
    username = username[:64]
    _refuse_if_locked(uow, username, psu, "password", ip, now, overall=not known_device)
    if not right:
        _count_failure(uow, username, psu, "password", ip, now, InvalidCredentials())
    _record(uow, psu, psu.username, "password", "success", ip, now)
    return psu


def verify_totp(uow: UnitOfWork, psu: PsuUser, code: str, ip: str | None, now: datetime, *,
                replay: ReplayCache, sandbox_code: bool = False,
                keyring: Keyring | None = None, known_device: bool = False) -> PsuUser:
    """Pass the second factor: the PSU's current TOTP (a step either side accepted, each code
    once), or, when `sandbox_code` is allowed, the fixed sandbox code. Raises InvalidCode or
    LoginLocked. Success clears the failure count."""
    psu = _locked_row(uow, PsuUser.id == psu.id)
    _refuse_if_locked(uow, psu.username, psu, "totp", ip, now, overall=not known_device)
    code = "".join((code or "").split())
    if sandbox_sca_refused(psu) or not (_sandbox_code_ok(code, sandbox_code)
                                        or _totp_ok(psu, code, now, replay,
                                                    _keyring(keyring, uow))):
        _count_failure(uow, psu.username, psu, "totp", ip, now, InvalidCode())
    _clear_failures(uow, psu.username, ip)
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
    """Lift every lock and count of this login, from every address."""
    psu.failed_attempts, psu.locked_until = 0, None
    uow.session.execute(delete(LoginThrottle).where(LoginThrottle.username == psu.username))


def sandbox_sca_allowed(psu: PsuUser, config: Mapping[str, Any]) -> bool:
    """The sandbox's documented shortcuts (fixed code, TOTP shown on the page) are for the
    sandbox demo customers and the test customers of developers' apps only (those the app's
    registered SandboxCustomers names), and only while SANDBOX_ENABLED: a real customer of a
    deployment that forgot to turn the sandbox off still needs their authenticator."""
    if not config.get("SANDBOX_ENABLED"):
        return False
    customers = _sandbox_customers()
    return psu.username in sandbox_demo_usernames() or (
        customers is not None and customers.has_shortcuts(psu))


def sandbox_sca_refused(psu: PsuUser) -> bool:
    """A sandbox scenario customer whose second factor always fails (sandbox/scenarios.py):
    their every code is refused and counted like a wrong one. Never in production: only the
    sandbox registers SandboxCustomers, and only while SANDBOX_ENABLED."""
    customers = _sandbox_customers()
    return customers is not None and customers.sca_always_fails(psu)


SANDBOX_CUSTOMERS = "identity.sandbox_customers"    # app.extensions key


class SandboxCustomers(Protocol):
    """What the sandbox says about a customer login (registered per app by sandbox.init_app,
    only while SANDBOX_ENABLED; identity never imports the sandbox)."""

    def has_shortcuts(self, psu: PsuUser) -> bool: ...

    def sca_always_fails(self, psu: PsuUser) -> bool: ...


def _sandbox_customers() -> SandboxCustomers | None:
    from flask import current_app, has_app_context
    return current_app.extensions.get(SANDBOX_CUSTOMERS) if has_app_context() else None


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


def _refuse_if_locked(uow: UnitOfWork, username: str, psu: PsuUser | None, step: str,
                      ip: str | None, now: datetime, *, overall: bool = True) -> None:
    """Refuse while this address's lock, or (`overall`) the username's overall lock, holds."""
    sources = (_source(ip), EVERYWHERE) if overall else (_source(ip),)
    until = max((row.locked_until for row in uow.session.scalars(
        select(LoginThrottle).where(LoginThrottle.username == username,
                                    LoginThrottle.source.in_(sources)))
        if row.locked_until is not None and row.locked_until > now), default=None)
    if until is not None:
        _record(uow, psu, username, step, "locked", ip, now)
        raise LoginLocked(until)


def _count_failure(uow: UnitOfWork, username: str, psu: PsuUser | None, step: str,
                   ip: str | None, now: datetime, error: Exception) -> NoReturn:
    """Count one failure from this address and overall; lock when a limit is reached."""
    _record(uow, psu, username, step, "failure", ip, now)
    locked = []
    here = _throttle(uow, username, _source(ip), now)
    if now - here.updated_at > FORGET_AFTER:
        here.failures, here.locks = 0, 0
    here.failures, here.updated_at = here.failures + 1, now
    if here.failures >= MAX_FAILED_ATTEMPTS:
        here.locked_until = now + min(LOCKOUT * 2 ** min(here.locks, 16), MAX_LOCKOUT)
        here.failures, here.locks = 0, here.locks + 1
        locked.append(here.locked_until)
    everywhere = _throttle(uow, username, EVERYWHERE, now)
    if now - everywhere.updated_at > GLOBAL_WINDOW:
        everywhere.failures = 0
    everywhere.failures, everywhere.updated_at = everywhere.failures + 1, now
    if everywhere.failures >= MAX_FAILURES_PER_USERNAME:
        everywhere.locked_until, everywhere.failures = now + LOCKOUT, 0
        locked.append(everywhere.locked_until)
    uow.session.flush()
    if locked:
        raise LoginLocked(max(locked))
    raise error


def _throttle(uow: UnitOfWork, username: str, source: str, now: datetime) -> LoginThrottle:
    """The count of `username` from `source`, made if new, under a row lock (concurrent
    failures count one by one; a row made by a concurrent attempt is taken, not duplicated)."""
    dialect = uow.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    uow.session.execute(insert(LoginThrottle).values(
        username=username, source=source, failures=0, locks=0, updated_at=now)
        .on_conflict_do_nothing(index_elements=["username", "source"]))
    return uow.session.scalars(select(LoginThrottle).where(
        LoginThrottle.username == username, LoginThrottle.source == source)
        .with_for_update().execution_options(populate_existing=True)).one()


def _clear_failures(uow: UnitOfWork, username: str, ip: str | None) -> None:
    """A complete login: its address's count and locks go (the overall count stays)."""
    uow.session.execute(delete(LoginThrottle).where(LoginThrottle.username == username,
                                                    LoginThrottle.source == _source(ip)))


def _source(ip: str | None) -> str:
    return (ip or "unknown")[:64]


def sweep_login_throttles(uow: UnitOfWork, now: datetime) -> int:
    """Delete the counts nobody has added to for a day and that lock nothing."""
    result = uow.session.execute(delete(LoginThrottle).where(
        LoginThrottle.updated_at < now - FORGET_AFTER,
        (LoginThrottle.locked_until.is_(None)) | (LoginThrottle.locked_until <= now)))
    return result.rowcount or 0


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
def dummy_hash() -> str:
    return hash_password("not a real password: equal timing for unknown usernames")
