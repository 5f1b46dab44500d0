"""Server-side sessions for the customer's pages (the approval journey and the dashboard).

The cookie holds only a random id (32 bytes, URL-safe); the database holds the SHA-256 of it
and the session's data (how far the login got, the CSRF token, flashed messages). So:
- a session ends when its row goes: at sign-out (`end`), after PSU_SESSION_IDLE_TIMEOUT seconds
  without a request, or PSU_SESSION_LIFETIME seconds after it began, whatever happens meanwhile
  (its start is carried through every rotation: login steps never extend it); a cookie copied
  before then gives nothing afterwards;
- the id changes at every login step (`rotate`): the old row is deleted and must be the one
  deleted (a session that a concurrent sign-out or rotation already ended stays ended, and two
  rotations of one id never make two live sessions), so an id planted in a browser before the
  customer logged in (session fixation) never becomes a login; the CSRF secret is not carried
  over (a new one is made), the rest of the data is;
- the row names the customer of its last login step (`psu_pk`), so every session of a customer
  can be ended at once (`end_customer_sessions`);
- `browser_key`, a random value that stays through rotations, names the browser (a pushed
  request_uri is bound to it); it never leaves the server.
Expired rows (and login counts quiet for a day) are swept at every rotation (every login
step) and every 15 minutes by the beat schedule (aspsp.identity.tasks). The cookie is
HttpOnly, SameSite=Lax, and when the issuer is https it is Secure and named with the __Host-
prefix (no Domain, Path=/): no other host can set or read it.

The interface is Flask's SessionInterface, so `flask.session`, `flash()` and Flask-WTF's CSRF
token work unchanged; each open and save is its own short unit of work on the platform's
database (SQLite in the embedded mode, PostgreSQL in production), and a request without the
cookie costs no query.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from flask import Flask, Request, Response
from flask.sessions import SessionInterface, SessionMixin
from sqlalchemy import delete, or_, select
from werkzeug.datastructures import CallbackDict

from .. import platform
from . import services
from .models import WebSession

COOKIE_NAME = "ib_session"
SECURE_COOKIE_NAME = "__Host-ib_session"


class CustomerSession(CallbackDict, SessionMixin):
    """The session's data, plus what the interface must do with it when the answer goes."""

    def __init__(self, data=None, *, sid: str | None = None, browser_key: str | None = None,
                 customer_pk: int | None = None):
        def on_update(self):
            self.modified = True
        super().__init__(data or {}, on_update)
        self.sid = sid
        self.modified = False
        self.rotate_requested = False
        self.ended = False
        self._browser_key = browser_key
        self._keep = False
        self.customer_pk = customer_pk

    @property
    def new(self) -> bool:
        return self.sid is None

    @property
    def browser_key(self) -> str:
        """This browser's stable key; asking for it keeps the session (and its cookie)."""
        if self._browser_key is None:
            self._browser_key = secrets.token_urlsafe(24)
        self._keep = True
        return self._browser_key

    @property
    def browser_hash(self) -> str:
        return id_hash(self.browser_key)

    def rotate(self, customer_pk: int | None = None) -> None:
        """A new id at the end of this request, the data kept (not the CSRF secret); the old id
        dies. `customer_pk`: the customer whose login step this is."""
        self.rotate_requested, self._keep = True, True
        if customer_pk is not None:
            self.customer_pk = customer_pk

    def end(self) -> None:
        """Sign-out: the row is deleted and the cookie cleared."""
        self.clear()
        self.ended = True


def id_hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def cookie_name(app: Flask) -> str:
    return SECURE_COOKIE_NAME if _https(app) else COOKIE_NAME


def _https(app: Flask) -> bool:
    return str(app.config.get("ISSUER", "")).startswith("https://")


class DatabaseSessionInterface(SessionInterface):
    def open_session(self, app: Flask, request: Request) -> CustomerSession:
        sid = request.cookies.get(cookie_name(app), "")
        if not sid or len(sid) > 64:
            return CustomerSession()
        p = platform.current()
        now = p.clock.now()
        with p.uow() as uow:
            row = uow.session.scalars(select(WebSession).where(
                WebSession.id_hash == id_hash(sid))).one_or_none()
            if row is None or not _alive(row, now, p.config):
                return CustomerSession()
            return CustomerSession(dict(row.data or {}), sid=sid, browser_key=row.browser_key,
                                   customer_pk=row.psu_pk)

    def save_session(self, app: Flask, session: CustomerSession, response: Response) -> None:
        name = cookie_name(app)
        p = platform.current()
        now = p.clock.now()
        if session.ended:
            if session.sid:
                with p.uow() as uow:
                    _delete(uow, session.sid)
                    uow.commit()
            # Whatever was put in after the end (a "signed out" message) starts a new session.
            session.sid, session._browser_key, session.rotate_requested = None, None, False
            if not session:
                response.delete_cookie(name, path="/", secure=_https(app), httponly=True,
                                       samesite="Lax")
                return
        if session.new and not session and not session._keep:
            return                               # nothing worth a cookie
        with p.uow() as uow:
            if session.new or session.rotate_requested:
                created_at, data = now, dict(session)
                if session.sid:
                    created_at = _take(uow, session.sid)
                    if created_at is None:       # ended by another request meanwhile
                        uow.rollback()
                        session.sid = None
                        response.delete_cookie(name, path="/", secure=_https(app),
                                               httponly=True, samesite="Lax")
                        return
                if session.rotate_requested:
                    data.pop(app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token"), None)
                    sweep(uow, now, p.config)
                sid = secrets.token_urlsafe(32)
                uow.session.add(WebSession(id_hash=id_hash(sid), browser_key=session.browser_key,
                                           psu_pk=session.customer_pk, data=data,
                                           created_at=created_at, last_seen_at=now))
                session.sid = sid
                response.set_cookie(name, sid, path="/", secure=_https(app), httponly=True,
                                    samesite="Lax")
            else:
                row = uow.session.scalars(select(WebSession).where(
                    WebSession.id_hash == id_hash(session.sid))).one_or_none()
                if row is None:                  # ended by another request meanwhile
                    return
                if session.modified:
                    row.data = dict(session)
                row.last_seen_at = now
            uow.commit()


def _alive(row: WebSession, now: datetime, config) -> bool:
    idle = timedelta(seconds=config["PSU_SESSION_IDLE_TIMEOUT"])
    lifetime = timedelta(seconds=config["PSU_SESSION_LIFETIME"])
    return now - row.last_seen_at <= idle and now - row.created_at <= lifetime


def _delete(uow, sid: str) -> None:
    uow.session.execute(delete(WebSession).where(WebSession.id_hash == id_hash(sid)))


def _take(uow, sid: str) -> datetime | None:
    """Delete the session `sid` for its rotation; when it began, or None when this request did
    not delete it (a concurrent sign-out or rotation did: the session has ended)."""
    created_at = uow.session.scalar(select(WebSession.created_at).where(
        WebSession.id_hash == id_hash(sid)))
    if created_at is None:
        return None
    deleted = uow.session.execute(delete(WebSession).where(WebSession.id_hash == id_hash(sid)))
    return created_at if deleted.rowcount == 1 else None


def end_customer_sessions(uow, psu_pk: int) -> int:
    """End every session of this customer, in every browser (the caller commits). Returns
    how many ended."""
    result = uow.session.execute(delete(WebSession).where(WebSession.psu_pk == psu_pk))
    return result.rowcount or 0


def sweep(uow, now: datetime, config) -> int:
    """Delete the sessions that can no longer be used. Returns how many went."""
    idle = timedelta(seconds=config["PSU_SESSION_IDLE_TIMEOUT"])
    lifetime = timedelta(seconds=config["PSU_SESSION_LIFETIME"])
    result = uow.session.execute(delete(WebSession).where(or_(
        WebSession.last_seen_at < now - idle, WebSession.created_at < now - lifetime)))
    services.sweep_login_throttles(uow, now)        # and the login counts gone quiet
    return result.rowcount or 0


def init_app(app: Flask) -> None:
    app.session_interface = DatabaseSessionInterface()
