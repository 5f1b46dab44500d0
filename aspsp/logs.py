"""Structured JSON logs, one object a line, for every process: web (the app's loggers,
werkzeug's and gunicorn's own: `GunicornLogger`), Celery worker and beat (`celery_logging`).

Every line written while a request is served carries its `x-fapi-interaction-id`: the header
the caller sent when it is a UUID, else one made for the request (`init_app`: every request,
not only the Open Banking APIs, whose responses echo it), and a Celery task sent while serving
a request carries that id in its message headers (aspsp.tasks), so the worker's lines about
the task carry it too, with the task's name and id.

Nothing secret reaches a line: `MaskSecrets`, on every handler this module installs, masks in
the message, its structured fields and any traceback: JWTs (access tokens bound by DPoP are
opaque, but client assertions, request objects, id_tokens, SSAs, DPoP proofs are JWTs),
`Authorization` credentials, the values of secret names (access_token=, "password": ..., a
portal e-mail link's token), PEM private keys, full account numbers, IBANs and card numbers
(the last four digits kept), and the values registered with `register_secret` (SECRET_KEY,
KEY_ENCRYPTION_KEY). tests/integration/test_log_secrets.py runs real journeys at DEBUG with
every logger captured and finds no secret used in them in any line.
"""
from __future__ import annotations

import json
import logging
import re
import sys
import uuid
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any, Iterable

INTERACTION_HEADER = "x-fapi-interaction-id"
MASK = "[masked]"

_interaction_id: ContextVar[str | None] = ContextVar("interaction_id", default=None)
_task: ContextVar[dict | None] = ContextVar("task", default=None)


# --- interaction id ------------------------------------------------------------------------
def current_interaction_id() -> str | None:
    """The id of the request being served, or of the request that sent the running task."""
    from flask import g, has_app_context
    if has_app_context() and g.get("interaction_id"):
        return g.interaction_id
    return _interaction_id.get()


def bind(interaction_id: str | None, task: dict | None = None):
    """Set the interaction id (and task) of this context; returns what `unbind` needs."""
    return _interaction_id.set(interaction_id), _task.set(task)


def unbind(tokens) -> None:
    interaction, task = tokens
    _task.reset(task)
    _interaction_id.reset(interaction)


# the rule of aspsp.obapi.is_interaction_id: an RFC 4122 UUID in its text form, either case
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}")


def _is_uuid(value: str | None) -> bool:
    return bool(value) and bool(_UUID.fullmatch(value))


def init_app(app) -> None:
    """Every request gets an interaction id before anything logs (app-level hooks run before
    any blueprint's, aspsp.obapi keeps the one set here), and every response carries it."""
    from flask import g, request

    @app.before_request
    def _interaction_id_of_request():
        if not g.get("interaction_id"):
            given = request.headers.get(INTERACTION_HEADER)
            g.interaction_id = given if _is_uuid(given) else str(uuid.uuid4())
        g.log_context = bind(g.interaction_id)

    @app.after_request
    def _interaction_id_header(response):
        if g.get("interaction_id") and INTERACTION_HEADER not in response.headers:
            response.headers[INTERACTION_HEADER] = g.interaction_id
        return response

    @app.teardown_request
    def _forget_interaction_id(_error=None):
        tokens = g.pop("log_context", None)
        if tokens is not None:
            try:
                unbind(tokens)
            except ValueError:       # torn down in another context than it was set in
                pass


# --- masking -------------------------------------------------------------------------------
SECRET_NAMES = ("access_token", "refresh_token", "id_token", "token", "code", "code_verifier",
                "client_assertion", "assertion", "client_secret", "request", "request_uri",
                "software_statement", "registration_access_token", "password", "new_password",
                "current_password", "otp", "totp", "backup_code", "secret", "totp_secret",
                "dpop", "authorization", "x-jws-signature", "csrf_token", "session")
_NAMES = "|".join(re.escape(n) for n in sorted(SECRET_NAMES, key=len, reverse=True)) \
    + r"|[A-Za-z0-9_-]*_(?:token|assertion|secret|password)"
_PATTERNS: list[tuple[re.Pattern, str]] = [
    # PEM private keys, whole
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(?:-----END [A-Z ]*PRIVATE KEY-----|$)",
                re.S), MASK),
    # JWT / JWS / JWE compact, or the start of one
    (re.compile(r"eyJ[A-Za-z0-9_-]{4,}(?:\.[A-Za-z0-9_-]*)*"), MASK),
    # Authorization credentials
    (re.compile(r"(?i)\b(Bearer|DPoP|Basic)\s+[A-Za-z0-9._~+/=-]{6,}"), r"\1 " + MASK),
    # "name": "value" (JSON) and 'name': 'value' (a Python repr)
    (re.compile(r'(?i)("(?:' + _NAMES + r')"\s*:\s*)"(?:[^"\\]|\\.)*(?:"|$)'),
     r'\1"' + MASK + '"'),
    (re.compile(r"(?i)('(?:" + _NAMES + r")'\s*:\s*)'(?:[^'\\]|\\.)*(?:'|$)"),
     r"\1'" + MASK + "'"),
    # name=value (a query string, a form body, a log message)
    (re.compile(r"(?i)(?<![A-Za-z0-9_-])((?:" + _NAMES + r")=)[^&\s\"',;)]+"), r"\1" + MASK),
    # the developer portal's e-mail links: /developers/verify/<token>, /developers/reset/<token>
    (re.compile(r"(/(?:verify|reset)/)[^/?#\s\"']+"), r"\1" + MASK),
    # IBANs (GB29NWBK60161331926819), then sort code + account number (14 digits) and card
    # numbers (15 to 19): the last four characters kept
    (re.compile(r"\b([A-Z]{2}\d{2}(?:[A-Z0-9]){7,26})([A-Z0-9]{4})\b"),
     lambda m: m.group(0) if not any(c.isdigit() for c in m.group(1)[4:]) else
     "*" * len(m.group(1)) + m.group(2)),
    (re.compile(r"(?<![\d.])(\d{10,15})(\d{4})(?![\d])"), lambda m: "*" * len(m.group(1))
     + m.group(2)),
]
_registered: set[str] = set()


def register_secret(value: str | None) -> None:
    """A value (a key, a password of the deployment) that must never appear in a line."""
    if value and len(value) >= 8:
        _registered.add(value)


def register_key_setting(setting: str | None) -> None:
    """KEY_ENCRYPTION_KEY: the whole setting and each version's key."""
    if not setting:
        return
    register_secret(setting)
    for part in setting.split(","):
        register_secret(part.strip())
        register_secret(part.partition(":")[2].strip())


def mask(text: str) -> str:
    for value in sorted(_registered, key=len, reverse=True):
        if value in text:
            text = text.replace(value, MASK)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def mask_fields(value: Any) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dict):
        return {k: MASK if isinstance(k, str) and _is_secret_field(k) and v else mask_fields(v)
                for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [mask_fields(v) for v in value]
    return value


_SECRET_NAME = re.compile(r"(?i)^(?:" + _NAMES + r")$")
# Structured fields are named by the platform: its `code` is an OB error code, its `request`
# no OAuth request object; their values are still masked by pattern.
_NOT_SECRET_FIELDS = frozenset({"code", "request", "session", "request_uri"})


def _is_secret_field(name: str) -> bool:
    return name.lower() not in _NOT_SECRET_FIELDS and bool(_SECRET_NAME.match(name))


class MaskSecrets(logging.Filter):
    """Masks secrets in a record before any handler formats it: the message (with its
    arguments), the structured fields, the traceback text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:            # a message whose arguments do not fit: keep it raw
            message = f"{record.msg} {record.args!r}"
        record.msg, record.args = mask(message), None
        if getattr(record, "fields", None):
            record.fields = mask_fields(record.fields)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text)
        if record.stack_info:
            record.stack_info = mask(record.stack_info)
        return True


# --- formatting ----------------------------------------------------------------------------
class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        interaction_id = _safe_interaction_id()
        if interaction_id:
            line[INTERACTION_HEADER] = interaction_id
        task = _task.get()
        if task:
            line.update(task)
        for key, value in getattr(record, "fields", {}).items():
            line[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = record.exc_text
        if record.stack_info:
            line["stack"] = record.stack_info
        return json.dumps(line, default=str)


def _safe_interaction_id() -> str | None:
    try:
        return current_interaction_id()
    except Exception:        # outside Flask entirely (gunicorn's arbiter)
        return _interaction_id.get()


def json_handler(stream=None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(MaskSecrets())
    return handler


def configure_logging(level: str, secrets: Iterable[str | None] = ()) -> None:
    """The root logger writes JSON lines to stderr at `level`, secrets masked. Idempotent:
    every app made in one process shares the handler."""
    for secret in secrets:
        register_key_setting(secret)
    root = logging.getLogger()
    if not any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        root.addHandler(json_handler())
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter) \
                and not any(isinstance(f, MaskSecrets) for f in handler.filters):
            handler.addFilter(MaskSecrets())
    root.setLevel(level)


# --- gunicorn ------------------------------------------------------------------------------
def _gunicorn_logger_base():
    from gunicorn.glogging import Logger
    return Logger


class GunicornLogger(_gunicorn_logger_base()):
    """gunicorn's error and access logs as JSON lines (deploy/gunicorn.conf.py names this
    class): an access line has the method, path, masked query, status, bytes, duration, the
    client address, and the response's x-fapi-interaction-id (every response has one)."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
                if not any(isinstance(f, MaskSecrets) for f in handler.filters):
                    handler.addFilter(MaskSecrets())

    def access(self, resp, req, environ, request_time) -> None:
        cfg = self.cfg
        if not (cfg.accesslog or cfg.logconfig or cfg.logconfig_dict
                or getattr(cfg, "logconfig_json", None)
                or (cfg.syslog and not cfg.disable_redirect_access_to_syslog)):
            return
        headers = {name.lower(): value for name, value in (resp.headers or [])}
        fields = {
            "remote": environ.get("REMOTE_ADDR"),
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "query": environ.get("QUERY_STRING") or None,
            "status": getattr(resp, "status_code", None),
            "bytes": getattr(resp, "sent", None),
            "duration_ms": round(request_time.total_seconds() * 1000, 3),
            "user_agent": environ.get("HTTP_USER_AGENT"),
        }
        if headers.get(INTERACTION_HEADER):
            fields[INTERACTION_HEADER] = headers[INTERACTION_HEADER]
        try:
            self.access_log.info("request", extra={"fields": fields})
        except Exception:
            self.error(f"access log line failed: {sys.exc_info()[1]!r}")


# --- Celery --------------------------------------------------------------------------------
def celery_logging(loglevel: Any = None, **_kwargs) -> None:
    """Receiver of celery.signals.setup_logging (aspsp.tasks connects it): with a receiver,
    Celery leaves logging alone, and the worker's and beat's lines (celery.*, the tasks')
    are this module's JSON on stderr."""
    level = loglevel if isinstance(loglevel, str) else logging.getLevelName(loglevel or 20)
    configure_logging(level if isinstance(level, str) and not level.startswith("Level")
                      else "INFO")
