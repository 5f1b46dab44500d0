"""The request log: every API call a TPP client makes, kept REQUEST_LOG_RETENTION_DAYS for the
client's developers (the developer portal's request log and usage pages).

Recorded: the Open Banking APIs (every /open-banking/ call) and the OAuth endpoints a client
authenticates at (token, PAR, introspection, revocation, registration and its management,
userinfo), with the client_id, time, method, path, the query string, status, latency,
x-fapi-interaction-id and both bodies with their secrets masked (`mask_text`, `mask_form`:
tokens, assertions, codes, verifiers, request objects, every JWT-looking value; no header is
stored, so neither Authorization nor DPoP), each body cut at BODY_LIMIT.

Who the caller is, is told by the code that finds out, through `note_client`:
- the consent gate (consent.gate): the client of the presented access token, once a token
  the bank issued is found, whether or not it then passes (expired, wrong scope, bad DPoP
  proof: the client's developers see their refused calls too);
- the OAuth client authentication (aspsp.oauth.client_auth): once the assertion's signature
  (or the client certificate) proves the client, whatever is refused after that;
- the token checks of registration management and userinfo (aspsp.oauth.tokens), and a
  successful registration (aspsp.oauth.registration).
An OB call refused before the gate (media type, FAPI headers, unknown path) is attributed by
the hash of its access token, resolved by the writer, off the request path. A call whose
client nobody could identify (no token, an unknown one, an assertion that does not verify)
is not recorded: nobody could be shown it, and anybody could fill a log with it.

Cost (issue 8): the request path only takes references (the body bytes Flask already holds, cut
to BODY_LIMIT) and appends a tuple to an in-process buffer; masking, encoding and the
INSERT happen in a background thread that writes the buffer in batches every FLUSH_SECONDS
(or as soon as BATCH rows wait). The buffer is bounded (BUFFER_ROWS, BUFFER_BYTES): when full,
a call is dropped and counted, never waited for; the writer logs the count. Rows still
buffered when a process is killed are lost: the log is a developer's aid, not the audit trail.
An app given a prebuilt Database (tests: one connection in a rolled-back transaction, which no
other thread may use) starts no thread: its rows wait for `flush()`, which the portal's pages
call before they read (so a developer sees their last call at once in any case).

Retention: the beat task `request_log.sweep` deletes rows older than the retention, hourly.
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import os
import re
import threading
import time
import weakref
from collections import deque
from datetime import datetime, timedelta
from typing import Any, Iterable
from urllib.parse import parse_qsl, urlencode

from celery import shared_task
from flask import Flask, Response, current_app, g, request
from sqlalchemy import Float, Index, Integer, String, Text, delete, insert, select
from sqlalchemy.orm import Mapped, mapped_column

from . import metrics, platform
from .db import Base, Database
from .ids import new_id
from .types import BigPK, UTCDateTime

log = logging.getLogger(__name__)

EXTENSION = "request_log"
SWEEP_TASK = "request_log.sweep"
BODY_LIMIT = 16 * 1024          # bytes of a body taken and kept (the rest: its length)
BATCH = 200
FLUSH_SECONDS = 1.0
BUFFER_ROWS = 5000
BUFFER_BYTES = 32 * 1024 * 1024
PATH_LIMIT = 500
QUERY_LIMIT = 2000
MASK = "[masked]"
OAUTH_PATHS = ("/token", "/par", "/introspect", "/revoke", "/register", "/userinfo")
OB_PREFIX = "/open-banking/"
FORM = "application/x-www-form-urlencoded"


class RequestLogEntry(Base):
    """One API call of a client, as its developers may see it (bodies already masked)."""
    __tablename__ = "request_log_entries"
    __table_args__ = (Index("ix_request_log_entries_client_id_created_at", "client_id",
                            "created_at"),)
    id: Mapped[int] = mapped_column(BigPK, primary_key=True)
    call_id: Mapped[str] = mapped_column(String(36), unique=True)     # opaque, in URLs
    client_id: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(PATH_LIMIT))
    query: Mapped[str | None] = mapped_column(String(QUERY_LIMIT))
    status: Mapped[int] = mapped_column(Integer)
    latency_ms: Mapped[float] = mapped_column(Float)
    interaction_id: Mapped[str | None] = mapped_column(String(64))
    request_type: Mapped[str | None] = mapped_column(String(100))
    request_body: Mapped[str | None] = mapped_column(Text)
    response_type: Mapped[str | None] = mapped_column(String(100))
    response_body: Mapped[str | None] = mapped_column(Text)


# --- masking (pure) ----------------------------------------------------------------------------
SECRET_KEYS = frozenset({
    "access_token", "refresh_token", "id_token", "token", "code", "code_verifier",
    "client_assertion", "assertion", "client_secret", "request", "software_statement",
    "registration_access_token", "password", "dpop", "authorization", "x-jws-signature",
    # private members of a JWK
    "d", "p", "q", "dp", "dq", "qi", "k"})
# A JWT/JWS/JWE (compact), or the start of one that a cut left: base64url of a JSON header.
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)*")
# "secret_key": "value" in JSON text (whole, or cut at the limit): the value, to its closing
# quote or to the end of the text. One pattern of the secret names, so that a page of 16 KB
# is masked by the regular expression engine alone (no Python call per pair: issue 8).
_SECRET_PAIR = re.compile(
    r'("(?:' + "|".join(re.escape(k) for k in sorted(SECRET_KEYS, key=len, reverse=True))
    + r'|[A-Za-z0-9-]*_(?:token|assertion))"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|$)')


def is_secret_key(key: Any) -> bool:
    """OAuth/JOSE names are lower case: an OB field (`Code` of an error body) is not one."""
    return isinstance(key, str) and (key in SECRET_KEYS or key.endswith(("_token",
                                                                         "_assertion")))


def mask_value(value: str) -> str:
    return _JWT.sub(MASK, value)


def mask_text(text: str) -> str:
    """A body as text (JSON, whole or cut, or any other media type): the string values of
    secret keys and every JWT-looking run masked, by pattern."""
    return mask_value(_SECRET_PAIR.sub(r'\1"' + MASK + '"', text))


def mask_form(pairs: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, MASK if is_secret_key(k) and v else mask_value(v)) for k, v in pairs]


def mask_query(query: str) -> str | None:
    if not query:
        return None
    masked = urlencode(mask_form(parse_qsl(query, keep_blank_values=True)), safe="[]")
    return _cut(masked, QUERY_LIMIT)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}\n[... cut: {len(text)} in all]"


def masked_body(data: bytes | list | None, total: int | None = None) -> str | None:
    """What is stored of a body: form pairs masked by name, anything else as text by pattern
    (`mask_text`: JSON is not parsed here, the portal indents it for display). `data` is at
    most BODY_LIMIT bytes; `total` the body's whole length when only its start was taken."""
    if data is None:
        return None
    if isinstance(data, list):          # form pairs
        return _cut(urlencode(mask_form(data), safe="[]"), BODY_LIMIT)
    if not data:
        return None
    text = mask_text(data.decode("utf-8", "replace"))
    return text if total is None else f"{text}\n[... cut: {total} bytes in all]"


# --- the hook lines' one function ----------------------------------------------------------
def note_client(client_id: str | None) -> None:
    """The code that has just identified the calling client says so (see the docstring)."""
    if client_id:
        g.request_log_client = client_id


# --- capture (request path) ---------------------------------------------------------------
def is_logged_path(path: str) -> bool:
    return path.startswith(OB_PREFIX) or path in OAUTH_PATHS \
        or path.startswith("/register/")


def _start() -> None:
    g.request_log_started = time.perf_counter()


def _capture(response: Response) -> Response:
    client_id = g.get("request_log_client")
    token_hash = None
    if client_id is None:
        if not request.path.startswith(OB_PREFIX):
            return response
        scheme, _, value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "dpop") or not value.strip():
            return response
        token_hash = hashlib.sha256(value.strip().encode()).hexdigest()
    elif not is_logged_path(request.path):
        return response
    started = g.get("request_log_started")
    latency = (time.perf_counter() - started) * 1000 if started is not None else 0.0
    current_app.extensions[EXTENSION].record(Captured(
        client_id, token_hash, platform.current().clock.now(), request.method, request.path,
        request.query_string, response.status_code, latency,
        response.headers.get("x-fapi-interaction-id")
        or request.headers.get("x-fapi-interaction-id"),
        request.mimetype or None, *_request_body(), response.mimetype or None,
        *_response_body(response)))
    return response


def _request_body() -> tuple[bytes | list | None, int | None]:
    if request.method in ("GET", "HEAD", "DELETE", "OPTIONS") and not request.content_length:
        return None, None
    if request.mimetype == FORM:
        return list(request.form.items(multi=True)), None
    data = request.get_data(cache=True)
    if len(data) > BODY_LIMIT:
        return data[:BODY_LIMIT], len(data)
    return data or None, None


def _response_body(response: Response) -> tuple[bytes | None, int | None]:
    if response.direct_passthrough or response.is_streamed:
        return None, None
    data = response.get_data()
    if len(data) > BODY_LIMIT:
        return data[:BODY_LIMIT], len(data)
    return data or None, None


class Captured(tuple):
    """One call as taken on the request path (raw: masked by the writer)."""
    __slots__ = ()
    FIELDS = ("client_id", "token_hash", "at", "method", "path", "query", "status", "latency",
              "interaction_id", "request_type", "request_data", "request_total",
              "response_type", "response_data", "response_total")

    def __new__(cls, *values):
        return tuple.__new__(cls, values)

    def size(self) -> int:
        return len(self[10] or ()) + len(self[13] or ()) + 512


# --- the buffer and its writer ----------------------------------------------------------------
class RequestLog:
    """The process's buffer of captured calls and the writer that empties it."""

    def __init__(self, db: Database, *, background: bool):
        self.db, self.background = db, background
        self.dropped = 0
        self._reset()
        _LOGS.add(self)

    def _reset(self) -> None:
        """Fresh state (also in a forked child: the parent's thread does not exist there)."""
        self._lock, self._flush_lock = threading.Lock(), threading.Lock()
        self._buffer: deque[Captured] = deque()
        self._bytes = 0
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, captured: Captured) -> None:
        size = captured.size()
        with self._lock:
            if len(self._buffer) >= BUFFER_ROWS or self._bytes + size > BUFFER_BYTES:
                self.dropped += 1
                metrics.observe_request_log_dropped(1)     # the KPIs will miss it: say so
                return
            self._buffer.append(captured)
            self._bytes += size
            waiting = len(self._buffer)
        if self.background:
            if self._thread is None:
                self._start_thread()
            if waiting >= BATCH:
                self._wake.set()

    def pending(self) -> int:
        return len(self._buffer)

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="request-log-writer",
                                            daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write what waits (in batches); how many rows were written. Never raises: a batch
        that cannot be written is logged and counted as dropped."""
        written = 0
        with self._flush_lock:
            while True:
                with self._lock:
                    batch = [self._buffer.popleft()
                             for _ in range(min(BATCH, len(self._buffer)))]
                    self._bytes -= sum(c.size() for c in batch)
                    dropped, self.dropped = self.dropped, 0
                if dropped:
                    log.warning("request log buffer full: calls not recorded",
                                extra={"fields": {"dropped": dropped}})
                if not batch:
                    return written
                try:
                    written += self._write(batch)
                except Exception:  # noqa: BLE001 (the writer must live on)
                    metrics.observe_request_log_dropped(len(batch))
                    log.exception("request log: a batch could not be written",
                                  extra={"fields": {"rows": len(batch)}})

    def _write(self, batch: list[Captured]) -> int:
        with self.db.uow() as uow:
            owners = _token_owners(uow, {c[1] for c in batch if c[0] is None})
            rows = [row for row in (_row(c, owners) for c in batch) if row is not None]
            if rows:
                uow.session.execute(insert(RequestLogEntry), rows)
                uow.commit()
        return len(rows)


def _token_owners(uow, hashes: set[str]) -> dict[str, str]:
    """The client_id of each access token hash that is a token the bank issued."""
    if not hashes:
        return {}
    from .oauth.models import OAuthClient, OAuthToken
    return dict(uow.session.execute(
        select(OAuthToken.access_token_hash, OAuthClient.client_id)
        .join(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
        .where(OAuthToken.access_token_hash.in_(sorted(hashes)))).all())


def _row(c: Captured, owners: dict[str, str]) -> dict | None:
    (client_id, token_hash, at, method, path, query, status, latency, interaction_id,
     request_type, request_data, request_total, response_type, response_data,
     response_total) = c
    client_id = client_id or owners.get(token_hash)
    if client_id is None:
        return None
    return {"call_id": new_id(), "client_id": client_id[:64], "created_at": at,
            "method": method[:10],
            "path": path[:PATH_LIMIT],
            "query": mask_query(query.decode("latin-1")) if query else None,
            "status": status, "latency_ms": round(latency, 3),
            "interaction_id": (interaction_id or None) and interaction_id[:64],
            "request_type": request_type and request_type[:100],
            "request_body": masked_body(request_data, request_total),
            "response_type": response_type and response_type[:100],
            "response_body": masked_body(response_data, response_total)}


_LOGS: weakref.WeakSet[RequestLog] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for request_log in list(_LOGS):
        request_log._reset()


def flush_all() -> None:
    """Write what every background writer of this process still holds (at exit, and before
    a database those writers use goes away)."""
    for request_log in list(_LOGS):
        if request_log.background:
            request_log.flush()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(flush_all)


# --- retention ----------------------------------------------------------------------------
def sweep(uow, now: datetime, retention_days: int) -> int:
    """Delete the rows older than the retention; how many."""
    result = uow.session.execute(delete(RequestLogEntry).where(
        RequestLogEntry.created_at < now - timedelta(days=retention_days)))
    return result.rowcount or 0


@shared_task(name=SWEEP_TASK, acks_late=True)
def sweep_request_log() -> int:
    p = platform.current()
    with p.uow() as uow:
        swept = sweep(uow, p.clock.now(), int(p.config["REQUEST_LOG_RETENTION_DAYS"]))
        uow.commit()
    return swept


# --- wiring -------------------------------------------------------------------------------
def current() -> RequestLog | None:
    """The app's request log (None when REQUEST_LOG_ENABLED is off)."""
    return current_app.extensions.get(EXTENSION)


def flush() -> int:
    request_log = current()
    return request_log.flush() if request_log is not None else 0


def init_app(app: Flask) -> None:
    if int(app.config["REQUEST_LOG_RETENTION_DAYS"]) < 1:
        raise ValueError("REQUEST_LOG_RETENTION_DAYS must be at least 1")
    if not app.config["REQUEST_LOG_ENABLED"]:
        return
    p = app.extensions["aspsp"]
    app.extensions[EXTENSION] = RequestLog(p.db, background=app.config.get("DATABASE") is None)
    app.before_request(_start)
    app.after_request(_capture)


__all__ = ["RequestLog", "RequestLogEntry", "flush", "flush_all", "init_app", "mask_text",
           "masked_body", "note_client", "sweep"]
