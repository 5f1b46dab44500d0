"""The sandbox control API (only while SANDBOX_ENABLED): JSON over HTTP at /sandbox/control for
a TPP's CI, to drive what a person or time would otherwise do. README.md, "Sandbox control
API", lists every endpoint with curl examples.

Every call is authenticated as the client itself, as the OB APIs authenticate it: a
client-credentials access token of the client, sender-constrained as its registration
requires (a DPoP proof, or the bound certificate over MTLS), checked by
aspsp.oauth.tokens.authenticate_resource_request (existence, expiry, revocation, client still
registered, sender constraint); any other grant is refused. A client acts on its own consents
and payments only. The use cases are in sandbox/control_services.py.

Errors are OB error bodies ({Code, Id, Message, Errors: [{ErrorCode, Message, Path}]}; 401
without a body, with the WWW-Authenticate challenge), rendered by aspsp.obapi like every OB
API's, and every response carries x-fapi-interaction-id.

`SANDBOX_ONLY_URLS` lists every URL of the sandbox-only blueprints of this module and of the
webhook inspector (tests/integration/sandbox/test_control_production.py checks that the list
covers every rule of those blueprints and that each answers 404 in production).
"""
from __future__ import annotations

import functools
from datetime import timedelta

from flask import Blueprint, current_app, g, request

from aspsp import obapi, platform
from aspsp.oauth import tokens
from aspsp.obapi import ErrorCode, ErrorItem, OBError

from . import control_services as services
from . import inspector
from .control_services import ControlError

PREFIX = "/sandbox/control"
JSON = "application/json"

bp = Blueprint("sandbox_control", __name__, url_prefix=PREFIX)
obapi.install(bp)

# (methods, rule, a URL of the rule): every URL of the sandbox-only blueprints named in
# SANDBOX_ONLY_BLUEPRINTS. A new endpoint there must be added here (a test says so).
SANDBOX_ONLY_BLUEPRINTS = ("sandbox_control", "sandbox_inspector", "sandbox_inspector_pages")
SANDBOX_ONLY_URLS = (
    (("POST",), f"{PREFIX}/authorizations/approve", f"{PREFIX}/authorizations/approve"),
    (("POST",), f"{PREFIX}/authorizations/reject", f"{PREFIX}/authorizations/reject"),
    (("POST",), f"{PREFIX}/consents/<consent_id>/revoke", f"{PREFIX}/consents/aac-1/revoke"),
    (("POST",), f"{PREFIX}/consents/<consent_id>/expire", f"{PREFIX}/consents/aac-1/expire"),
    (("POST",), f"{PREFIX}/events", f"{PREFIX}/events"),
    (("GET",), f"{PREFIX}/clock", f"{PREFIX}/clock"),
    (("POST",), f"{PREFIX}/clock/advance", f"{PREFIX}/clock/advance"),
    (("POST",), f"{PREFIX}/webhook-inspector", f"{PREFIX}/webhook-inspector"),
    (("GET",), f"{PREFIX}/webhook-inspector/requests", f"{PREFIX}/webhook-inspector/requests"),
    (inspector.METHODS, f"{inspector.PREFIX}/<inspector_id>", f"{inspector.PREFIX}/abc"),
    (inspector.METHODS, f"{inspector.PREFIX}/<inspector_id>/<path:rest>",
     f"{inspector.PREFIX}/abc/event-notifications"),
    (("GET",), "/developers/apps/<app_id>/sandbox/webhooks/inspector",
     "/developers/apps/app1/sandbox/webhooks/inspector"),
    (("POST",), "/developers/apps/<app_id>/sandbox/webhooks/inspector/subscribe",
     "/developers/apps/app1/sandbox/webhooks/inspector/subscribe"),
)


@bp.errorhandler(ControlError)
def _control_error(error: ControlError):
    return obapi.render(OBError(error.status, ErrorItem(error.code, error.message, error.path)))


def requires_client(view):
    """The caller is a registered client presenting its own client-credentials token,
    sender-constrained; the view finds it in `g.control_client_pk`. The body (JSON, or none
    at all) is read only once the caller is known."""
    @functools.wraps(view)
    def gated(*args, **kwargs):
        p = platform.current()
        with p.uow() as uow:
            try:
                found = tokens.authenticate_resource_request(uow, request, now=p.clock.now(),
                                                             replay=p.replay, config=p.config)
            except tokens.TokenError as error:
                raise obapi.unauthorized(error.www_authenticate) from None
            if found.grant_type != "client_credentials":
                raise obapi.forbidden(ErrorCode.WRONG_GRANT, "the sandbox control API takes a "
                                      "client-credentials token of the client")
            g.control_client_pk = found.client.id
        obapi.check_json_body()
        return view(*args, **kwargs)
    setattr(gated, obapi.AUTHENTICATES, True)
    # A JSON body, or none at all (curl -X POST without -d).
    gated.ob_content_types = (JSON, "")
    return gated


def _body() -> dict:
    if request.mimetype == JSON:
        return request.get_json(silent=True) or {}
    if request.get_data(cache=True):
        raise OBError(415, ErrorItem(ErrorCode.HEADER_INVALID, "Content-Type must be "
                                     "application/json", "Content-Type"))
    return {}


def _text(body: dict, name: str, *, max_length: int = 256) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > max_length:
        raise ControlError(400, services.FIELD_INVALID,
                           f"{name} must be a string of 1 to {max_length} characters", name)
    return value


def _texts(body: dict, name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > 100 or not all(
            isinstance(v, str) and 0 < len(v) <= 64 for v in value):
        raise ControlError(400, services.FIELD_INVALID,
                           f"{name} must be a list of account ids", name)
    return value


def _unknown_fields(body: dict, *known: str) -> None:
    extra = sorted(set(body) - set(known))
    if extra:
        raise ControlError(400, "UK.OBIE.Field.Unexpected", f"{extra[0][:64]} is not a field "
                           f"of this request (fields: {', '.join(known) or 'none'})",
                           extra[0][:64])


def _consent_json(record) -> dict:
    return {"consent_id": record.consent_id, "consent_type": record.consent_type,
            "status": record.status.value,
            "expiration": record.expiration.isoformat() if record.expiration else None}


# --- approve / reject ---------------------------------------------------------------------------
DECISION_FIELDS = ("request_uri", "consent_id", "customer", "accounts", "debtor_account")


def _decide(approve: bool):
    body = _body()
    _unknown_fields(body, *(DECISION_FIELDS if approve else DECISION_FIELDS[:3]))
    p = platform.current()
    with p.uow() as uow:
        decision = services.decide(
            uow, g.control_client_pk, approve=approve,
            request_uri=_text(body, "request_uri", max_length=512),
            consent_id=_text(body, "consent_id", max_length=128),
            username=_text(body, "customer", max_length=64),
            account_ids=_texts(body, "accounts"),
            debtor_account=_text(body, "debtor_account", max_length=64),
            now=p.clock.now(), issuer=current_app.config["ISSUER"], config=p.config)
        uow.commit()
    return obapi.json_response({
        "consent_id": decision.consent_id, "status": decision.status,
        "customer": decision.customer, "accounts": list(decision.account_ids),
        "redirect_uri": decision.redirect_uri})


@bp.post("/authorizations/approve")
@requires_client
def approve():
    """The customer approves: the redirect the browser would follow (code, state, iss)."""
    return _decide(True)


@bp.post("/authorizations/reject")
@requires_client
def reject():
    """The customer refuses: the error redirect (error=access_denied, state, iss)."""
    return _decide(False)


# --- revoke, expire -------------------------------------------------------------------------------
@bp.post("/consents/<consent_id>/revoke")
@requires_client
def revoke(consent_id: str):
    body = _body()
    _unknown_fields(body, "by", "reason")
    p = platform.current()
    with p.uow() as uow:
        record = services.revoke(uow, g.control_client_pk, consent_id, p.clock.now(),
                                 by=_text(body, "by", max_length=16) or "customer",
                                 reason=_text(body, "reason", max_length=32))
        uow.commit()
    return obapi.json_response(_consent_json(record))


@bp.post("/consents/<consent_id>/expire")
@requires_client
def expire(consent_id: str):
    _unknown_fields(_body())
    p = platform.current()
    with p.uow() as uow:
        record = services.expire(uow, g.control_client_pk, consent_id, p.clock.now())
        uow.commit()
    return obapi.json_response(_consent_json(record))


# --- events --------------------------------------------------------------------------------------
@bp.post("/events")
@requires_client
def fire_event():
    body = _body()
    _unknown_fields(body, "event_type", "consent_id", "payment_id", "reason")
    event_type = _text(body, "event_type")
    if event_type is None:
        raise ControlError(400, services.FIELD_MISSING, "event_type is required: one of "
                           + ", ".join(services.EVENT_TYPES), "event_type")
    p = platform.current()
    with p.uow() as uow:
        fired = services.fire_event(uow, g.control_client_pk, event_type,
                                    consent_id=_text(body, "consent_id", max_length=128),
                                    payment_id=_text(body, "payment_id", max_length=40),
                                    reason=_text(body, "reason", max_length=32),
                                    now=p.clock.now())
        uow.commit()
    return obapi.json_response({"jti": fired.jti, "event_type": fired.event_type,
                                "delivery": fired.delivery, "subject": fired.subject}, 201)


# --- the clock -------------------------------------------------------------------------------------
CLOCK_UNITS = ("days", "hours", "minutes", "seconds")


@bp.get("/clock")
@requires_client
def clock():
    clock = platform.current().clock
    return obapi.json_response({"now": clock.now().isoformat(),
                                "offset_seconds": int(clock.offset.total_seconds())})


@bp.post("/clock/advance")
@requires_client
def advance_clock():
    """Moves the clock of the whole deployment (every client's sandbox), never back."""
    body = _body()
    _unknown_fields(body, *CLOCK_UNITS, "run_schedules")
    amounts = {}
    for unit in CLOCK_UNITS:
        value = body.get(unit, 0)
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= 10**7:
            raise ControlError(400, services.FIELD_INVALID,
                               f"{unit} must be a whole number, 0 or more", unit)
        amounts[unit] = value
    run_now = body.get("run_schedules", False)
    if not isinstance(run_now, bool):
        raise ControlError(400, services.FIELD_INVALID, "run_schedules must be true or false",
                           "run_schedules")
    p = platform.current()
    now = services.advance_clock(p.clock, timedelta(**amounts))
    answer = {"now": now.isoformat(), "offset_seconds": int(p.clock.offset.total_seconds())}
    if run_now:
        with p.uow() as uow:
            answer["schedules_executed"] = services.run_schedules(uow, now)
    return obapi.json_response(answer)


# --- the client's webhook inspector --------------------------------------------------------------
@bp.post("/webhook-inspector")
@requires_client
def webhook_inspector():
    """The client's inspector (made on first call): the callback URL to subscribe with."""
    _unknown_fields(_body())
    p = platform.current()
    with p.uow() as uow:
        found = inspector.inspector_for(uow, g.control_client_pk, p.clock.now())
        uow.commit()
    return obapi.json_response({"inspector_id": found.inspector_id,
                                "callback_url": found.callback_url})


@bp.get("/webhook-inspector/requests")
@requires_client
def webhook_inspector_requests():
    """What the client's inspector received, newest first, each SET decoded and verified."""
    p = platform.current()
    with p.uow() as uow:
        found = inspector.inspector_for(uow, g.control_client_pk, p.clock.now())
        received = inspector.received(uow, found, p.clock.now())
        uow.commit()
    return obapi.json_response({"inspector_id": found.inspector_id,
                                "callback_url": found.callback_url,
                                "requests": [r.as_json() for r in received]})
