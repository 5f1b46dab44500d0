"""The JSON log lines (aspsp/logs.py): what is masked, what is kept, the interaction id and task
on a line, and gunicorn's access line."""
from __future__ import annotations

import io
import json
import logging
from datetime import timedelta
from types import SimpleNamespace

import pytest

from aspsp import logs

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"
INTERACTION = "93bac548-d2de-4546-b106-880a5018460d"


@pytest.mark.parametrize("text, secret", [
    (f"client_assertion={JWT}&grant_type=client_credentials", JWT),
    ("GET /authorize?client_id=abc&request_uri=urn:ietf:params:oauth:request_uri:Qt0w9b-l HTTP",
     "urn:ietf:params:oauth:request_uri:Qt0w9b-l"),
    ("code=Sp1aXk3rT0kenV4lue&state=xyz", "Sp1aXk3rT0kenV4lue"),
    ("Authorization: DPoP 4f9c1b2a77d0e6aa3b5c", "4f9c1b2a77d0e6aa3b5c"),
    ("Authorization: Bearer opaque-token-value-123", "opaque-token-value-123"),
    ('{"access_token": "at-9f8e7d6c5b4a", "token_type": "DPoP"}', "at-9f8e7d6c5b4a"),
    ('{"password": "correct horse battery staple"}', "correct horse battery staple"),
    ("{'password': 'correct horse battery staple', 'user': 'alice'}",
     "correct horse battery staple"),
    ("refresh_token=rt-0123456789abcdef", "rt-0123456789abcdef"),
    ("GET /developers/verify/.eJwNy8ENwCAIAMBdeEtSBQS7.NpmtV4Spp4RN HTTP/1.1",
     ".eJwNy8ENwCAIAMBdeEtSBQS7.NpmtV4Spp4RN"),
    ("GET /developers/reset/AbCdEf123456 HTTP/1.1", "AbCdEf123456"),
    ("-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49\n-----END PRIVATE KEY-----",
     "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49"),
    ("payee 20000012345678 refused", "2000001234"),
    ("payee GB29NWBK60161331926819 refused", "NWBK6016133192"),
    ("card 4929123456781234 declined", "492912345678"),
])
def test_secrets_are_masked(text, secret):
    masked = logs.mask(text)
    assert secret not in masked
    assert logs.MASK in masked or "*" in masked


def test_account_numbers_keep_their_last_four_digits():
    assert logs.mask("to 20000012345678") == "to **********5678"
    assert logs.mask("to GB29NWBK60161331926819") == "to ******************6819"


@pytest.mark.parametrize("text", [
    f"x-fapi-interaction-id {INTERACTION}",
    "codes ['UK.OBIE.Field.Invalid', 'UK.OBIE.Signature.Missing']",
    "response_type=code id_token&scope=openid accounts",
    "2026-12-07T09:26:56.123456+00:00 took 0.06255417099998795s",
    "consent aac-5f0c42cd-9e9e-f005515c27d3 Authorised at 1765099616123",
    "GET /open-banking/v3.1/aisp/accounts/22289/transactions HTTP/1.1",
    "scheme UK.OBIE.SortCodeAccountNumber, currency GBP, SELECT accounts.id FROM accounts",
])
def test_what_is_not_secret_is_kept(text):
    assert logs.mask(text) == text


def test_registered_secrets_are_masked_wherever_they_appear():
    logs.register_key_setting("v2:TmV3S2V5TmV3S2V5TmV3S2V5,v1:T2xkS2V5T2xkS2V5T2xkS2V5")
    logs.register_secret("a-very-secret-flask-key")
    masked = logs.mask("kek TmV3S2V5TmV3S2V5TmV3S2V5 old T2xkS2V5T2xkS2V5T2xkS2V5 "
                       "sk=a-very-secret-flask-key")
    assert "TmV3" not in masked and "T2xk" not in masked and "flask-key" not in masked


def _line(record_kwargs: dict, *, exc_info=None) -> dict:
    stream = io.StringIO()
    handler = logs.json_handler(stream)
    logger = logging.getLogger("tests.unit.logs")
    logger.propagate, logger.level = False, logging.DEBUG
    logger.addHandler(handler)
    try:
        logger.info(*record_kwargs["args"], extra=record_kwargs.get("extra"), exc_info=exc_info)
    finally:
        logger.removeHandler(handler)
    return json.loads(stream.getvalue())


def test_a_line_masks_its_message_arguments_fields_and_traceback():
    try:
        raise ValueError(f"bad assertion {JWT}")
    except ValueError as error:
        line = _line({"args": ("token %s for %s", "Bearer abcdef123456", "alice"),
                      "extra": {"fields": {"access_token": "at-secret-1", "path": "/token",
                                           "code": "UK.OBIE.Field.Invalid",
                                           "form": {"password": "hunter22hunter22"}}}},
                     exc_info=error)
    text = json.dumps(line)
    for secret in ("abcdef123456", "at-secret-1", "hunter22hunter22", JWT):
        assert secret not in text
    assert line["message"] == "token Bearer [masked] for alice"
    assert line["path"] == "/token" and line["code"] == "UK.OBIE.Field.Invalid"
    assert "ValueError: bad assertion [masked]" in line["exc"]


def test_a_line_carries_the_interaction_id_and_task_bound_to_its_context():
    tokens = logs.bind(INTERACTION, {"task": "ledger.settle_payment", "task_id": "t-1"})
    try:
        line = _line({"args": ("settled",)})
    finally:
        logs.unbind(tokens)
    assert line["x-fapi-interaction-id"] == INTERACTION
    assert line["task"] == "ledger.settle_payment" and line["task_id"] == "t-1"
    assert "x-fapi-interaction-id" not in _line({"args": ("after",)})


def test_gunicorn_access_lines_are_json_with_the_interaction_id_and_a_masked_query():
    from gunicorn.config import Config
    config = Config()
    config.set("accesslog", "-")
    logger = logs.GunicornLogger(config)
    stream = io.StringIO()
    for handler in logger.access_log.handlers:
        handler.setStream(stream)
    response = SimpleNamespace(status_code=303, sent=0, headers=[
        ("Location", "https://tpp.example/cb?code=abc"), ("x-fapi-interaction-id", INTERACTION)])
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/authorize",
               "QUERY_STRING": "client_id=c1&request_uri=urn:ietf:params:oauth:request_uri:XyZ1",
               "REMOTE_ADDR": "10.0.0.7", "HTTP_USER_AGENT": "curl/8"}

    logger.access(response, None, environ, timedelta(milliseconds=12.5))

    line = json.loads(stream.getvalue())
    assert line["logger"] == "gunicorn.access" and line["message"] == "request"
    assert line["method"] == "GET" and line["path"] == "/authorize" and line["status"] == 303
    assert line["duration_ms"] == 12.5 and line["remote"] == "10.0.0.7"
    assert line["x-fapi-interaction-id"] == INTERACTION
    assert line["query"] == "client_id=c1&request_uri=[masked]"
