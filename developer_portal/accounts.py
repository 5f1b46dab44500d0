"""Developer accounts: sign-up, e-mail verification, login (password, then a TOTP code or a
backup code), TOTP enrolment, backup codes, password reset, sign-out.

- Sign-up: e-mail (lower-cased, unique), name, password (12 to 1024 characters, not the
  e-mail, its local part or the name, not one or two characters repeated), hashed with
  argon2id. A verification mail goes out (developer_portal.mail) and the developer goes
  straight on to TOTP enrolment. Until the address is verified the developer may sign in but
  sees a banner, and `require_verified` refuses what needs a verified address (creating an
  organisation).
- Login: the password, then the second factor: a TOTP code (a step either side accepted, each
  code once: the platform's replay cache) or one of ten single-use backup codes. A developer
  without TOTP is sent to enrolment after the password: the secret and its QR code are shown,
  a code confirms it, and ten backup codes are shown once (stored as argon2id hashes; a used
  one never works again; they can be made anew).
- Lockout, as for customers (aspsp.identity.services' thresholds): five failed passwords or
  codes lock the account for 15 minutes (PortalDeveloper.failed_logins/locked_until); only a
  complete login clears the count. Unknown addresses are answered exactly as known ones: the
  same message, one argon2 verification (a dummy hash), and a lock after five failures too
  (counted in the login limits' storage, as no row exists). Password and code posts are rate
  limited per address (aspsp.identity.login_limits), password posts overall too. A locked
  developer can still reset the password (which lifts the lock, not the second factor).
- One-time links (verification, reset) are signed with SECRET_KEY (itsdangerous, a salt per
  purpose), carry their issue time (checked against the platform clock) and are single-use by
  construction: a verification link names the address it verifies and works only while it is
  unverified; a reset link carries a fingerprint of the password hash it replaces, which the
  reset changes. The reset ends the developer's sessions in every other browser.
- `next`: after login the developer goes back to the page they came from, only if it is a
  portal path on this site (never another host).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import io
import re
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pyotp
from argon2 import PasswordHasher
from flask import (Blueprint, current_app, flash, g, redirect, render_template, request,
                   session, url_for)
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse as parse_limit
from sqlalchemy import String, cast, delete, select
from werkzeug.exceptions import Forbidden

from aspsp import platform, web_pages
from aspsp.identity import login_limits
from aspsp.identity.errors import InvalidCode, InvalidCredentials, LoginLocked
from aspsp.identity.models import WebSession
from aspsp.identity.passwords import hash_password, verify_password
from aspsp.identity.services import (LOCKOUT, MAX_FAILED_ATTEMPTS, MAX_PASSWORD_LENGTH,
                                     TOTP_REPLAY_TTL_SECONDS, dummy_hash)
from aspsp.identity.sessions import id_hash
from aspsp.ids import new_id

from . import add_nav, auth, mail
from .models import PortalBackupCode, PortalDeveloper

bp = Blueprint("portal_accounts", __name__, url_prefix="/developers",
               template_folder="templates")
web_pages.protect_pages(bp)

ISSUER_NAME = "Invisible Bank Developers"
MIN_PASSWORD_LENGTH = 12
BACKUP_CODES = 10
BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"     # no 0/o, 1/l/i
BACKUP_CODE_LENGTH = 10                                 # ~49 bits
VERIFY_LINK_LIFETIME = timedelta(days=2)
RESET_LINK_LIFETIME = timedelta(hours=1)
NEXT_KEY = "portal_next"
MAILS_KEY = "portal_mail_ids"       # the mails this browser caused (the sandbox outbox shows them)
WRONG_CREDENTIALS = "The e-mail address or password is not right."
# HTML's own rule for type=email (a name, @, a dotted host), plus a dot in the host
EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@"
                   r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
                   r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")
CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Backup codes are random (~49 bits), not chosen by people: a light argon2id is enough, and
# checking one against ten hashes stays quick.
_backup_hasher = PasswordHasher(time_cost=2, memory_cost=8192, parallelism=1)


@bp.record_once
def _setup(state) -> None:
    app = state.app
    if login_limits.EXTENSION not in app.extensions:
        login_limits.init_app(app)
    mail.backend(app.config)                    # an unknown PORTAL_MAIL_BACKEND: no start
    add_nav(app, "Account", "portal_accounts.account")


# --- rules -------------------------------------------------------------------------------------

def require_verified(developer: PortalDeveloper) -> None:
    """Refuse (403) what only a developer with a verified e-mail address may do."""
    if developer.email_verified_at is None:
        raise Forbidden("Verify your e-mail address first: open the link we sent you (or send "
                        "a new one from the banner at the top of the page).")


def is_verified(developer: PortalDeveloper) -> bool:
    return developer.email_verified_at is not None


def normalise_email(raw: str) -> str:
    return (raw or "").strip().lower()


def password_problem(password: str, email: str, name: str) -> str | None:
    """Why this password is refused, or None."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters."
    if len(password) > MAX_PASSWORD_LENGTH:
        return f"A password has at most {MAX_PASSWORD_LENGTH} characters."
    lowered = password.strip().lower()
    local = email.partition("@")[0]
    if lowered in {email, local, name.strip().lower()}:
        return "Your password can't be your e-mail address or your name."
    if len(set(password)) <= 2:
        return "Choose a password that isn't one or two characters repeated."
    return None


def safe_next(target: str | None) -> str | None:
    """`target` when it is a path of the portal on this site, else None (no open redirect)."""
    if not target or len(target) > 2000 or CONTROL.search(target) or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith("//"):
        return None
    if parts.path != "/developers" and not parts.path.startswith("/developers/"):
        return None
    if "/../" in parts.path or parts.path.endswith("/.."):
        return None
    return target


# --- one-time links ----------------------------------------------------------------------------

def _serializer(purpose: str) -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"],
                             salt=f"developer-portal.{purpose}")


def _fingerprint(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:24]


def _link_token(purpose: str, developer: PortalDeveloper, bound_to: str, now: datetime) -> str:
    return _serializer(purpose).dumps({"d": developer.developer_id, "t": int(now.timestamp()),
                                       "f": _fingerprint(bound_to)})


def _link_developer(uow, purpose: str, token: str, lifetime: timedelta, now: datetime,
                    bound_to) -> PortalDeveloper | None:
    """The developer a link names, if it is genuine, in time and still unused."""
    try:
        data = _serializer(purpose).loads(token[:1000])
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), int):
        return None
    if not 0 <= now.timestamp() - data["t"] <= lifetime.total_seconds():
        return None
    developer = uow.session.scalars(select(PortalDeveloper).where(
        PortalDeveloper.developer_id == str(data.get("d", "")))).one_or_none()
    if developer is None or not hmac.compare_digest(str(data.get("f", "")),
                                                    _fingerprint(bound_to(developer))):
        return None
    return developer


def _verify_binding(developer: PortalDeveloper) -> str:
    # Bound to the address while it is unverified: once verified, the link is spent.
    return f"unverified:{developer.email}" if developer.email_verified_at is None else "done"


def _reset_binding(developer: PortalDeveloper) -> str:
    return developer.password_hash          # a reset changes it: the link is spent


def _send_verification(uow, developer: PortalDeveloper, now: datetime) -> None:
    link = url_for(".verify_email", token=_link_token("verify", developer,
                                                      _verify_binding(developer), now),
                   _external=True)
    _remember_mail(mail.send(uow, developer.email, "Verify your e-mail address",
                             f"Hello {developer.name},\n\n"
                             "Please confirm that this is your e-mail address for the Invisible "
                             "Bank developer portal by opening this link (it works once, for "
                             "two days):\n\n"
                             f"{link}\n\n"
                             "If you did not sign up, ignore this mail.\n"))


def _send_reset(uow, developer: PortalDeveloper, now: datetime) -> None:
    link = url_for(".reset_password", token=_link_token("reset", developer,
                                                        _reset_binding(developer), now),
                   _external=True)
    _remember_mail(mail.send(uow, developer.email, "Reset your password",
                             f"Hello {developer.name},\n\n"
                             "Someone (we hope you) asked to reset the password of your "
                             "Invisible Bank developer account. Open this link to choose a new "
                             "one (it works once, for an hour):\n\n"
                             f"{link}\n\n"
                             "You will still need your authenticator app or a backup code to "
                             "sign in. If you did not ask, ignore this mail: your password "
                             "stays as it is.\n"))


def _remember_mail(sent) -> None:
    session[MAILS_KEY] = [*session.get(MAILS_KEY, []), sent.id][-20:]


# --- TOTP and backup codes ---------------------------------------------------------------------

def _totp_purpose(developer: PortalDeveloper) -> str:
    return f"portal_developers.totp_secret:{developer.developer_id}"


def totp_secret(developer: PortalDeveloper, keyring=None) -> str:
    """The developer's TOTP secret in clear (sealed at rest with the key-encryption key)."""
    return (keyring or platform.current().keyring).open(developer.totp_secret,
                                                        _totp_purpose(developer))


def rewrap_totp_secrets(uow, keyring) -> int:
    """Re-seal every developer's TOTP secret under the newest KEK version."""
    changed = 0
    for developer in uow.session.scalars(select(PortalDeveloper).where(
            PortalDeveloper.totp_secret.is_not(None)).order_by(PortalDeveloper.id)):
        if not keyring.is_current(developer.totp_secret):
            developer.totp_secret = keyring.seal(totp_secret(developer, keyring),
                                                 _totp_purpose(developer))
            changed += 1
    uow.session.flush()
    return changed


def _totp_ok(developer: PortalDeveloper, code: str, now: datetime) -> bool:
    if len(code) != 6 or not code.isdigit() or developer.totp_secret is None:
        return False
    if not pyotp.TOTP(totp_secret(developer)).verify(code, for_time=now, valid_window=1):
        return False
    return platform.current().replay.first_use("portal-totp", f"{developer.developer_id}:{code}",
                                               TOTP_REPLAY_TTL_SECONDS)


def _normalise_backup(code: str) -> str:
    return "".join(c for c in (code or "").lower() if c.isalnum())[:64]


def _backup_ok(uow, developer: PortalDeveloper, code: str, now: datetime) -> bool:
    """Spend the backup code if it is one of the developer's unused ones. Every unused hash
    is checked, whichever matches."""
    code = _normalise_backup(code)
    if len(code) != BACKUP_CODE_LENGTH:
        return False
    match = None
    for row in uow.session.scalars(select(PortalBackupCode).where(
            PortalBackupCode.developer_pk == developer.id, PortalBackupCode.used_at.is_(None))
            .order_by(PortalBackupCode.id)):
        if verify_password(row.code_hash, code) and match is None:
            match = row
    if match is None:
        return False
    match.used_at = now
    uow.session.flush()
    return True


def new_backup_codes(uow, developer: PortalDeveloper) -> list[str]:
    """Ten new backup codes (shown once); the old ones stop working."""
    uow.session.execute(delete(PortalBackupCode).where(
        PortalBackupCode.developer_pk == developer.id))
    codes = ["".join(secrets.choice(BACKUP_ALPHABET) for _ in range(BACKUP_CODE_LENGTH))
             for _ in range(BACKUP_CODES)]
    for code in codes:
        uow.session.add(PortalBackupCode(developer_pk=developer.id,
                                         code_hash=_backup_hasher.hash(code)))
    uow.session.flush()
    return [f"{code[:5]}-{code[5:]}" for code in codes]


def unused_backup_codes(uow, developer: PortalDeveloper) -> int:
    return len(list(uow.session.scalars(select(PortalBackupCode.id).where(
        PortalBackupCode.developer_pk == developer.id, PortalBackupCode.used_at.is_(None)))))


def _qr_png(uri: str) -> str:
    import qrcode

    image = qrcode.make(uri, box_size=6, border=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# --- lockout -----------------------------------------------------------------------------------

def _locked_developer(uow, pk: int) -> PortalDeveloper:
    """The developer's row under a row lock (PostgreSQL), so concurrent attempts count one by
    one and a backup code is spent once."""
    return uow.session.scalars(select(PortalDeveloper).where(PortalDeveloper.id == pk)
                               .with_for_update()
                               .execution_options(populate_existing=True)).one()


def _refuse_if_locked(developer: PortalDeveloper, now: datetime) -> None:
    if developer.locked_until is not None and developer.locked_until > now:
        raise LoginLocked(developer.locked_until)


def _count_failure(developer: PortalDeveloper, now: datetime, error: Exception):
    developer.failed_logins = (developer.failed_logins or 0) + 1
    if developer.failed_logins >= MAX_FAILED_ATTEMPTS:
        developer.failed_logins, developer.locked_until = 0, now + LOCKOUT
        raise LoginLocked(developer.locked_until)
    raise error


def _unknown_address_failure(email: str, now: datetime):
    """An unknown address is locked after as many failures as a known one would be."""
    limits = current_app.extensions[login_limits.EXTENSION]
    item = parse_limit(f"{MAX_FAILED_ATTEMPTS - 1} per {int(LOCKOUT.total_seconds())} seconds")
    key = ("portal-unknown-login", _fingerprint(email))
    if not limits.strategy.hit(item, login_limits.KEY_PREFIX, *key):
        raise LoginLocked(now + timedelta(seconds=limits.retry_after(item, key)))
    raise InvalidCredentials(WRONG_CREDENTIALS)


def authenticate_password(uow, email: str, password: str, now: datetime) -> PortalDeveloper:
    """The developer whose password this is. Raises InvalidCredentials (unknown address and
    wrong password alike) or LoginLocked; one argon2 verification on every path."""
    email, password = normalise_email(email), password or ""
    developer = uow.session.scalars(select(PortalDeveloper).where(
        PortalDeveloper.email == email)).one_or_none() if 0 < len(email) <= 254 else None
    right = verify_password(developer.password_hash if developer else dummy_hash(),
                            password[:MAX_PASSWORD_LENGTH]) \
        and developer is not None and len(password) <= MAX_PASSWORD_LENGTH
    if developer is None:
        _unknown_address_failure(email[:254], now)
    developer = _locked_developer(uow, developer.id)
    _refuse_if_locked(developer, now)
    if not right:
        _count_failure(developer, now, InvalidCredentials(WRONG_CREDENTIALS))
    return developer


def verify_second_factor(uow, developer: PortalDeveloper, code: str,
                         now: datetime) -> PortalDeveloper:
    """A TOTP code or an unused backup code. Raises InvalidCode or LoginLocked; success
    clears the failure count."""
    developer = _locked_developer(uow, developer.id)
    _refuse_if_locked(developer, now)
    compact = "".join((code or "").split())
    if not (_totp_ok(developer, compact, now) or _backup_ok(uow, developer, compact, now)):
        _count_failure(developer, now, InvalidCode(
            "That code is not right, or was already used."))
    developer.failed_logins, developer.locked_until = 0, None
    uow.session.flush()
    return developer


# --- pages -------------------------------------------------------------------------------------

def _page(template: str, status: int = 200, **context):
    return render_template(f"portal/{template}", **context), status


def _message(title: str, text: str, status: int = 200, *, link=None):
    return _page("account_message.html", status, title=title, text=text, link=link)


def _after_login():
    target = safe_next(session.pop(NEXT_KEY, None))
    return redirect(target or url_for("portal.index"), 303)


@bp.route("/signup", methods=["GET", "POST"])
@login_limits.password_post_limits
def signup():
    if request.method == "GET":
        return _page("signup.html", form={})
    form = {"email": normalise_email(request.form.get("email", ""))[:300],
            "name": (request.form.get("name") or "").strip()[:300]}
    password = request.form.get("password") or ""
    error = None
    if len(form["email"]) > 254 or not EMAIL.match(form["email"]):
        error = "Enter your e-mail address, like name@example.com."
    elif not form["name"] or len(form["name"]) > 140 or CONTROL.search(form["name"]):
        error = "Enter your name (up to 140 characters)."
    else:
        error = password_problem(password, form["email"], form["name"])
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        if error is None and uow.session.scalars(select(PortalDeveloper.id).where(
                PortalDeveloper.email == form["email"])).first() is not None:
            error = ("There is already an account with this e-mail address: sign in, or "
                     "reset its password.")
        if error is not None:
            return _page("signup.html", 400, form=form, error=error)
        developer = PortalDeveloper(developer_id=new_id(), email=form["email"], name=form["name"],
                                    password_hash=hash_password(password), failed_logins=0,
                                    created_at=now)
        uow.session.add(developer)
        uow.session.flush()
        _send_verification(uow, developer, now)
        uow.commit()
    auth.begin_login(developer, now)
    return redirect(url_for(".enrol_totp"), 303)


@bp.route("/login", methods=["GET", "POST"])
@login_limits.password_post_limits
def login():
    p = platform.current()
    now = p.clock.now()
    if request.method == "GET":
        with p.uow() as uow:
            if auth.current_developer(uow, now) is not None:
                return redirect(safe_next(request.args.get("next")) or url_for("portal.index"),
                                303)
        return _page("login.html", next=safe_next(request.args.get("next")), email="")
    email = normalise_email(request.form.get("email", ""))
    target = safe_next(request.form.get("next"))
    with p.uow() as uow:
        try:
            developer = authenticate_password(uow, email, request.form.get("password", ""), now)
        except LoginLocked as error:
            uow.commit()
            return _page("login.html", 403, error=error.message, locked=True, next=target,
                         email=email[:254])
        except InvalidCredentials as error:
            uow.commit()
            return _page("login.html", 401, error=error.message, next=target,
                         email=email[:254])
        enrolled = developer.totp_enabled_at is not None
        uow.commit()
    auth.begin_login(developer, now)
    session[NEXT_KEY] = target
    return redirect(url_for(".code" if enrolled else ".enrol_totp"), 303)


@bp.route("/login/code", methods=["GET", "POST"])
@login_limits.code_post_limits
def code():
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        developer = auth.password_stage_developer(uow, now)
        if developer is None:
            return redirect(url_for(".login"), 303)
        if developer.totp_enabled_at is None:
            return redirect(url_for(".enrol_totp"), 303)
        if request.method == "GET":
            return _page("code.html")
        try:
            developer = verify_second_factor(uow, developer, request.form.get("code", ""), now)
        except LoginLocked as error:
            uow.commit()
            auth.end_login()
            return _page("login.html", 403, error=error.message, locked=True, next=None,
                         email=developer.email)
        except InvalidCode as error:
            uow.commit()
            return _page("code.html", 401, error=error.message)
        uow.commit()
    auth.complete_login(developer, now)
    return _after_login()


@bp.route("/enrol", methods=["GET", "POST"])
@login_limits.code_post_limits
def enrol_totp():
    """The second factor's set-up, right after sign-up or at the first login without it."""
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        developer = auth.password_stage_developer(uow, now)
        if developer is None:
            return redirect(url_for(".login"), 303)
        if developer.totp_enabled_at is not None:
            return redirect(url_for(".code"), 303)
        if developer.totp_secret is None:
            developer.totp_secret = p.keyring.seal(pyotp.random_base32(),
                                                   _totp_purpose(developer))
            uow.commit()
        secret = totp_secret(developer, p.keyring)
        error, status = None, 200
        if request.method == "POST":
            developer = _locked_developer(uow, developer.id)
            entered = "".join((request.form.get("code") or "").split())
            if developer.totp_enabled_at is None and _totp_ok(developer, entered, now):
                developer.totp_enabled_at, developer.failed_logins = now, 0
                codes = new_backup_codes(uow, developer)
                uow.commit()
                auth.complete_login(developer, now)
                target = safe_next(session.pop(NEXT_KEY, None)) or url_for("portal.index")
                # No form on this page: the login's new session id comes with a new CSRF
                # secret, so a token made now would not be accepted.
                return _page("backup_codes.html", codes=codes, next=target, fresh=True)
            error, status = "That code is not right. Type the code your app shows now.", 400
        uri = pyotp.TOTP(secret).provisioning_uri(name=developer.email,
                                                  issuer_name=ISSUER_NAME)
        return _page("enrol_totp.html", status, secret=secret, uri=uri, qr=_qr_png(uri),
                     error=error)


@bp.get("/account")
@auth.login_required
def account():
    developer = g.developer
    return _page("backup_codes.html", codes=None, developer=developer,
                 remaining=unused_backup_codes(g.uow, developer))


@bp.post("/account/backup-codes")
@auth.login_required
def backup_codes():
    codes = new_backup_codes(g.uow, g.developer)
    g.uow.commit()
    return _page("backup_codes.html", codes=codes, next=url_for(".account"), fresh=False)


@bp.post("/verify/resend")
@login_limits.code_post_limits
@auth.login_required
def resend_verification():
    developer = g.developer
    if developer.email_verified_at is None:
        _send_verification(g.uow, developer, platform.current().clock.now())
        g.uow.commit()
        flash(f"We sent a new verification link to {developer.email}.", "success")
    return redirect(url_for("portal.index"), 303)


@bp.route("/verify/<token>", methods=["GET", "POST"])
def verify_email(token: str):
    """A GET shows a button (mail scanners that follow links verify nothing); the POST
    verifies."""
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        developer = _link_developer(uow, "verify", token, VERIFY_LINK_LIFETIME, now,
                                    _verify_binding)
        if developer is None or developer.email_verified_at is not None:
            return _message("This link doesn't work any more",
                            "It was already used, or it has expired. Sign in and send a new "
                            "verification link from the banner if your address still needs "
                            "verifying.", 410, link=("Sign in", url_for(".login")))
        if request.method == "GET":
            return _page("verify_email.html", email=developer.email)
        developer.email_verified_at = now
        uow.commit()
    return _message("E-mail address verified",
                    f"Thank you: {developer.email} is verified. You can now create "
                    "organisations.", link=("Continue", url_for("portal.index")))


@bp.route("/reset", methods=["GET", "POST"])
@login_limits.code_post_limits
def reset_request():
    if request.method == "GET":
        return _page("reset_request.html")
    email = normalise_email(request.form.get("email", ""))
    if len(email) > 254 or not EMAIL.match(email):
        return _page("reset_request.html", 400, error="Enter your e-mail address, like "
                     "name@example.com.", email=email[:254])
    p = platform.current()
    with p.uow() as uow:
        developer = uow.session.scalars(select(PortalDeveloper).where(
            PortalDeveloper.email == email)).one_or_none()
        if developer is not None:
            _send_reset(uow, developer, p.clock.now())
            uow.commit()
    return _message("Check your e-mail",
                    f"If {email} has a developer account, we sent it a link to choose a new "
                    "password. The link works once, for an hour.",
                    link=("Back to sign in", url_for(".login")))


@bp.route("/reset/<token>", methods=["GET", "POST"])
@login_limits.password_post_limits
def reset_password(token: str):
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        developer = _link_developer(uow, "reset", token, RESET_LINK_LIFETIME, now,
                                    _reset_binding)
        if developer is None:
            return _message("This link doesn't work any more",
                            "It was already used, or it has expired. Ask for a new one.", 410,
                            link=("Reset your password", url_for(".reset_request")))
        if request.method == "GET":
            return _page("reset_password.html", email=developer.email)
        password = request.form.get("password") or ""
        problem = password_problem(password, developer.email, developer.name)
        if problem is not None:
            return _page("reset_password.html", 400, email=developer.email, error=problem)
        developer = _locked_developer(uow, developer.id)
        if _link_developer(uow, "reset", token, RESET_LINK_LIFETIME, now,
                           _reset_binding) is None:            # spent by a concurrent reset
            return _message("This link doesn't work any more",
                            "It was already used. Ask for a new one.", 410,
                            link=("Reset your password", url_for(".reset_request")))
        developer.password_hash = hash_password(password)
        developer.failed_logins, developer.locked_until = 0, None
        if developer.email_verified_at is None:      # the link reached the address
            developer.email_verified_at = now
        ended = end_other_sessions(uow, developer)
        uow.commit()
    auth.end_login()
    session.pop(NEXT_KEY, None)
    flash("Your password is changed" + (", and you are signed out everywhere else" if ended
                                        else "") + ". Sign in with it.", "success")
    return redirect(url_for(".login"), 303)


def end_other_sessions(uow, developer: PortalDeveloper) -> int:
    """End the developer's portal logins in every browser but this one (the caller commits)."""
    query = select(WebSession).where(
        cast(WebSession.data, String).contains(developer.developer_id))
    sid = getattr(session, "sid", None)
    if sid:
        query = query.where(WebSession.id_hash != id_hash(sid))
    ended = 0
    for row in uow.session.scalars(query):
        state = (row.data or {}).get(auth.SESSION_KEY) or {}
        if isinstance(state, dict) and state.get("developer") == developer.developer_id:
            uow.session.delete(row)
            ended += 1
    uow.session.flush()
    return ended


@bp.post("/logout")
def logout():
    auth.end_login()
    session.end()
    flash("You are signed out.", "success")
    return redirect(url_for("portal.index"), 303)


@bp.errorhandler(429)
def _too_many_attempts(error):
    html, status = _message("Too many attempts",
                            "There have been too many attempts from your address. Nothing was "
                            "checked. Please wait a moment, then try again.", 429)
    return html, status, {"Retry-After": str(login_limits.retry_after_seconds())}


@bp.errorhandler(CSRFError)
def _csrf_failed(error):
    return _message("Please try again",
                    "This form had expired or did not come from this site, so nothing was "
                    "done. Go back, reload the page and try again.", 400)
