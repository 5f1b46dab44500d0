"""No secret reaches the logs: the end-to-end journeys run against one live bank at DEBUG, with
SQL_ECHO on and every logger's lines captured as the platform writes them (the root JSON
handler of aspsp.logs; werkzeug's request lines, SQLAlchemy's, Celery's eager tasks', urllib3's
webhook pushes all reach it), and no secret used on the way appears in any line.

The journeys: a TPP's dynamic registration, tokens, an account-access consent approved by a
customer with password and TOTP, AIS reads (tests/e2e/test_tpp_journey.py); a PISP's
registration, a payment consent approved with a signed code and the payment
(test_payment_journey.py); a developer's portal sign-up with TOTP and backup codes, sign-in,
key generation, one-click registration, the quickstart's AIS call and a webhook delivered to the
sandbox inspector (test_portal_journey.py).

The secrets are collected from what the journeys really used, not from a list: every HTTP
exchange with the bank is recorded (a WSGI middleware) and the secrets taken from it
(Authorization and DPoP credentials, cookies, x-jws-signature, secret form fields and bodies,
tokens, codes and id_tokens the bank answered with, full account numbers it showed), every key
pair generated in the process (jwcrypto), the portal developer's TOTP secret and backup codes,
the customers' TOTP secrets, the bank's private signing keys, SECRET_KEY and the
KEY_ENCRYPTION_KEY. Only lines written from the bank's threads count (the tests' own HTTP
client logs from the main thread)."""
from __future__ import annotations

import io
import json
import logging
import re
import threading
from urllib.parse import parse_qsl, urlsplit

import pytest
from jwcrypto import jwk

from aspsp.logs import JsonFormatter
from tests.e2e import live
from tests.e2e import portal_journey as steps
from tests.e2e import test_payment_journey, test_portal_journey, test_tpp_journey
from tests.integration.psu_web.test_browser import chromium  # noqa: F401 (fixture)

pytestmark = pytest.mark.browser

SECRET_FIELDS = {"access_token", "refresh_token", "id_token", "code", "code_verifier",
                 "client_assertion", "client_secret", "request", "registration_access_token",
                 "password", "new_password", "token", "backup_code", "otp", "totp",
                 "assertion", "software_statement", "request_uri", "csrf_token"}
ACCOUNT_SCHEMES = ("SortCodeAccountNumber", "IBAN", "PAN")


class Recorder:
    """WSGI middleware: every request and response the bank handled, bodies included."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app
        self.exchanges: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        exchange = {"environ": {k: v for k, v in environ.items() if isinstance(v, str)},
                    "body": body, "headers": [], "response": b""}

        def recording_start(status, headers, exc_info=None):
            exchange["headers"] = headers
            return start_response(status, headers, exc_info)

        chunks = list(self.wsgi_app(environ, recording_start))
        exchange["response"] = b"".join(chunks)
        with self.lock:
            self.exchanges.append(exchange)
        return chunks


def _walk_json(value, found: set[str]) -> None:
    if isinstance(value, dict):
        scheme = str(value.get("SchemeName", ""))
        if scheme.endswith(ACCOUNT_SCHEMES) and value.get("Identification"):
            found.add(str(value["Identification"]))
            if scheme.endswith("SortCodeAccountNumber"):    # the account number alone
                found.add(str(value["Identification"])[-8:])
        for key, item in value.items():
            if key in SECRET_FIELDS and isinstance(item, str):
                found.add(item)
            _walk_json(item, found)
    elif isinstance(value, list):
        for item in value:
            _walk_json(item, found)


def _secrets_of(exchange: dict) -> set[str]:
    found: set[str] = set()
    environ = exchange["environ"]
    for name in ("HTTP_AUTHORIZATION", "HTTP_DPOP", "HTTP_X_JWS_SIGNATURE"):
        value = environ.get(name)
        if value:
            found.add(value.split(" ", 1)[-1])
    for pair in (environ.get("HTTP_COOKIE") or "").split(";"):
        found.add(pair.partition("=")[2].strip())
    link = re.search(r"/developers/(?:verify|reset)/([^/]+)", environ.get("PATH_INFO", ""))
    if link:                          # the e-mail links' one-time tokens
        found.add(link.group(1))
    pairs = parse_qsl(environ.get("QUERY_STRING", ""))
    kind = environ.get("CONTENT_TYPE", "")
    body = exchange["body"].decode("utf-8", "replace")
    if kind.startswith("application/x-www-form-urlencoded"):
        pairs += parse_qsl(body)
    elif kind.startswith(("application/jwt", "application/jose")):
        found.add(body.strip())
    elif kind.startswith("application/json") and body:
        try:
            _walk_json(json.loads(body), found)
        except ValueError:
            pass
    found.update(value for name, value in pairs if name in SECRET_FIELDS)
    headers = {name.lower(): value for name, value in exchange["headers"]}
    location = headers.get("location", "")
    for part in (urlsplit(location).query, urlsplit(location).fragment):
        found.update(v for k, v in parse_qsl(part) if k in SECRET_FIELDS)
    for cookie in [v for k, v in exchange["headers"] if k.lower() == "set-cookie"]:
        found.add(cookie.split(";", 1)[0].partition("=")[2])
    response = exchange["response"].decode("utf-8", "replace")
    if headers.get("content-type", "").startswith("application/json"):
        try:
            _walk_json(json.loads(response), found)
        except ValueError:
            pass
    found.update(re.findall(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE "
                            r"KEY-----", response, re.S))
    return found


class Lines(logging.Filter):
    """Keeps, formatted as the handler formats them, the lines written from other threads than
    the test's own (the bank's request threads, its background writer)."""

    def __init__(self, handler: logging.Handler):
        super().__init__()
        self.handler = handler
        self.lines: list[str] = []
        self.main = threading.main_thread().ident

    def filter(self, record: logging.LogRecord) -> bool:
        if record.thread != self.main:
            self.lines.append(self.handler.format(record))
        return False          # captured here, not written to stderr


@pytest.fixture(scope="module")
def logged_bank(tmp_path_factory):
    with live.seeded_bank(tmp_path_factory, "aspsp_logs",
                          {"LOG_LEVEL": "DEBUG", "SQL_ECHO": True}) as (app, base):
        recorder = Recorder(app.wsgi_app)
        app.wsgi_app = recorder
        try:
            yield app, base, recorder
        finally:      # SQL_ECHO set the level of SQLAlchemy's logger for the whole process
            logging.getLogger("sqlalchemy.engine").setLevel(logging.NOTSET)


def _root_json_handler() -> logging.Handler:
    handlers = [h for h in logging.getLogger().handlers if isinstance(h.formatter, JsonFormatter)]
    assert handlers, "the platform installed no JSON handler on the root logger"
    return handlers[0]


def _platform_secrets(app) -> set[str]:
    """What the bank itself holds: SECRET_KEY, the KEK, the customers' TOTP secrets, the
    private parts of its signing keys."""
    from aspsp.identity.models import PsuUser
    from aspsp.identity.services import totp_secret
    p = app.extensions["aspsp"]
    found = {app.config["SECRET_KEY"]}
    found.update(part.partition(":")[2] for part in
                 (p.config.get("KEY_ENCRYPTION_KEY") or "").split(","))
    with app.app_context(), p.uow() as uow:
        for psu in uow.session.query(PsuUser).all():
            found.add(totp_secret(psu, p.keyring))
        found.update(_signing_key_secrets(uow, p))
    return found


def _signing_key_secrets(uow, p) -> set[str]:
    from aspsp.oauth.keys import _purpose
    from aspsp.oauth.models import SigningKey
    found = set()
    for row in uow.session.query(SigningKey).all():
        private = json.loads(p.keyring.open(row.private_jwk, _purpose(row.kid)))
        found.update(str(private[m]) for m in ("d", "p", "q", "dp", "dq", "qi") if m in private)
    assert found, "the bank has no private signing key to look for"
    return found


def test_no_secret_of_the_journeys_reaches_any_log_line(logged_bank, chromium, tmp_path,  # noqa: F811
                                                       monkeypatch):
    app, base, recorder = logged_bank
    handler = _root_json_handler()
    lines = Lines(handler)
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)
    handler.addFilter(lines)

    generated: list[jwk.JWK] = []
    original_generate = jwk.JWK.generate

    def generate(*args, **kwargs):
        key = original_generate(*args, **kwargs)
        generated.append(key)
        return key
    monkeypatch.setattr(jwk.JWK, "generate", generate)
    journeys: list[steps.Journey] = []
    original_sign_up = steps.sign_up

    def sign_up(page, journey, now):
        journeys.append(journey)
        return original_sign_up(page, journey, now)
    monkeypatch.setattr(steps, "sign_up", sign_up)

    try:
        test_tpp_journey.test_register_consent_authorise_and_read((app, base))
        test_payment_journey.test_register_consent_approve_and_pay((app, base))
        test_portal_journey.test_from_sign_up_to_a_first_api_call_and_a_received_webhook(
            (app, base), chromium, tmp_path)
        app.extensions["request_log"].flush()
    finally:
        handler.removeFilter(lines)
        root.setLevel(level)

    secrets: dict[str, str] = {}
    for exchange in recorder.exchanges:
        path = exchange["environ"].get("PATH_INFO", "")
        for value in _secrets_of(exchange):
            secrets.setdefault(value, f"HTTP {path}")
    for key in generated:
        private = json.loads(key.export_private())
        for member in ("d", "p", "q", "dp", "dq", "qi", "k"):
            if member in private:
                secrets.setdefault(private[member], "a generated private key")
    for journey in journeys:
        secrets.setdefault(journey.totp_secret, "the developer's TOTP secret")
        for code in journey.backup_codes:
            secrets.setdefault(code, "a developer's backup code")
        secrets.setdefault(steps.PASSWORD, "the developer's password")
    for value in _platform_secrets(app):
        secrets.setdefault(value, "the bank's own secret")
    secrets = {value: where for value, where in secrets.items() if value and len(value) >= 6}

    kinds = {where.split(" ", 1)[0] for where in secrets.values()}
    assert len(lines.lines) > 1000, "the journeys logged almost nothing: nothing was captured"
    assert any('"logger": "werkzeug"' in line for line in lines.lines)
    assert any('"logger": "sqlalchemy.engine' in line for line in lines.lines)
    assert len(secrets) > 100 and {"HTTP", "a", "the"} <= kinds, secrets.values()
    assert any("/psu/authorize/" in where for where in secrets.values())   # customer's SCA
    assert any(re.fullmatch(r"\d{14}", value) for value in secrets)        # account numbers
    assert any("/developers/verify/" in where for where in secrets.values())
    text = "\n".join(lines.lines)
    leaks = []
    for value, where in secrets.items():
        pattern = re.escape(value) if not value.isdigit() else rf"(?<![\d.]){value}(?!\d)"
        match = re.search(pattern, text)
        if match:
            start = text.rfind("\n", 0, match.start()) + 1
            line = text[start:text.find("\n", match.end())]
            leaks.append(f"{where}: {value[:12]}... in {line[:300]}")
    assert not leaks, "\n".join(leaks)
