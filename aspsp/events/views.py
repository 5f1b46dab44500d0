"""Events API v3.1.11 (the bank's side): /open-banking/v3.1/event-subscriptions (POST, GET,
PUT and DELETE .../{EventSubscriptionId}) and aggregated polling, POST /open-banking/v3.1/events.

Client-credentials, sender-constrained tokens with any of the scopes accounts, payments or
fundsconfirmations, from a client holding that scope's role (consent.gate, tried scope by
scope). Subscriptions are signed requests and every response is signed, as the resource's
table says; polling is neither. Refusals:
  Version not a v3.1 Event Notification version                       400 UK.OBIE.Field.Invalid
  an EventTypes entry the bank does not raise                    400 UK.OBIE.Unsupported.EventType
  CallbackUrl not https (http or loopback only in the sandbox), not
  ending with /event-notifications, with credentials or a query        400 UK.OBIE.Field.Invalid
  a second subscription for the client                       409 UK.OBIE.Rules.ResourceAlreadyExists
  another client's or an unknown EventSubscriptionId                400 UK.OBIE.Resource.NotFound
  maxEvents out of 0..EVENT_POLL_MAX_EVENTS, a jti both acked and in setErrs,
  a malformed setErrs entry                                  400 UK.OBIE.Field.Invalid / Missing
  polling without a subscription                                    400 UK.OBIE.Resource.NotFound
"""
from __future__ import annotations

import functools

from flask import Flask, current_app, g, request
from sqlalchemy import select

from aspsp import ob_signing, obapi, outbound, platform
from aspsp.oauth import tokens
from aspsp.oauth.models import OAuthClient, OAuthToken
from aspsp.obapi import ErrorCode, ErrorItem, OBError
from consent import gate

from . import services
from .errors import (EventsError, InvalidPoll, InvalidSubscription, SubscriptionExists,
                     SubscriptionNotFound)
from .schemas import (OBEventPolling1Schema, OBEventPollingResponse1Schema,
                      OBEventSubscription1Schema, OBEventSubscriptionResponse1Schema,
                      OBEventSubscriptionsResponse1Schema)

PREFIX = "/open-banking/v3.1"
SCOPES = ("accounts", "payments", "fundsconfirmations")
SECURITY = [{"TPPOAuth2Security": list(SCOPES)}]
HEADERS = list(obapi.FAPI_HEADERS)
SIGNATURE_HEADER = {"in": "header", "name": "x-jws-signature", "required": True,
                    "description": "Detached JWS of the request body (OBIE message signing)",
                    "schema": {"type": "string"}}


def init_app(app: Flask) -> None:
    for name in ("EVENT_POLL_MAX_EVENTS", "EVENT_MAX_CONCURRENT_PER_CLIENT"):
        if int(app.config[name]) < 1:
            raise ValueError(f"{name} must be at least 1")
    obapi.register_blueprint(app, _blueprint())


def requires_events_client(view):
    """The consent gate's client check (gate.authenticate_client: token, sender constraint,
    grant, scope, role) for one scope: the first of SCOPES the token carries whose role its
    client holds (else the first it carries, else the first of SCOPES, refused by the gate).
    The gate runs once per request: a DPoP proof is single-use, so it cannot be tried scope by
    scope."""
    @functools.wraps(view)
    def gated(*args, **kwargs):
        p = platform.current()
        with p.uow() as uow:
            scope = _scope_of_token(uow)
            g.client_context = gate.authenticate_client(uow, request, scope=scope,
                                                        now=p.clock.now())
        obapi.check_json_body()
        return view(*args, **kwargs)
    setattr(gated, obapi.AUTHENTICATES, True)
    return gated


def _scope_of_token(uow) -> str:
    """Which of SCOPES to check the presented token for (nothing is decided here: the gate
    then checks the token in full, that scope included)."""
    try:
        presented = tokens.presented_token(request)
    except tokens.TokenError:
        return SCOPES[0]
    row = uow.session.execute(
        select(OAuthToken.scope, OAuthClient.roles)
        .join(OAuthClient, OAuthClient.id == OAuthToken.client_pk)
        .where(OAuthToken.access_token_hash == presented.hash)).first()
    granted = (row.scope or "").split() if row is not None else []
    roles = (row.roles or ()) if row is not None else ()
    held = [s for s in SCOPES if s in granted and gate.ROLE_FOR_SCOPE[s] in roles]
    return (held or [s for s in SCOPES if s in granted] or [SCOPES[0]])[0]


def _client_pk() -> int:
    return gate.current_client().client.id


def _schemes() -> tuple[str, ...]:
    return outbound.policy_from_config(current_app.config).schemes


def _blueprint() -> obapi.Blueprint:
    blp = obapi.Blueprint("Events", __name__, url_prefix=PREFIX,
                          description="Event Notification API (OBIE Read/Write API v3.1.11): "
                                      "event subscriptions and aggregated polling")
    blp.register_error_handler(EventsError, _events_error)
    ob_signing.sign_responses(blp)

    @blp.route("/event-subscriptions", methods=["POST"])
    @requires_events_client
    @ob_signing.signed_request
    @blp.doc(operationId="CreateEventSubscriptions", security=SECURITY,
             parameters=HEADERS + [SIGNATURE_HEADER])
    @blp.arguments(OBEventSubscription1Schema, error_status_code=400)
    @blp.response(201, OBEventSubscriptionResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 409, 415, 500)
    def create_event_subscription(body):
        """Create the client's event subscription (at most one per client)."""
        p = platform.current()
        with p.uow() as uow:
            record = services.create_subscription(uow, _client_pk(), _request(body),
                                                  p.clock.now(), schemes=_schemes())
            uow.commit()
        return _response(record)

    @blp.route("/event-subscriptions", methods=["GET"])
    @requires_events_client
    @blp.doc(operationId="GetEventSubscriptions", security=SECURITY, parameters=HEADERS)
    @blp.response(200, OBEventSubscriptionsResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def get_event_subscriptions():
        """Read the client's event subscription (an empty list when it has none)."""
        with platform.current().uow() as uow:
            records = services.subscriptions(uow, _client_pk())
        return {"Data": {"EventSubscription": [_data(r) for r in records]},
                "Links": {"Self": _url("/event-subscriptions")}, "Meta": {}}

    @blp.route("/event-subscriptions/<EventSubscriptionId>", methods=["PUT"])
    @requires_events_client
    @ob_signing.signed_request
    @blp.doc(operationId="ChangeEventSubscriptionsEventSubscriptionId", security=SECURITY,
             parameters=HEADERS + [SIGNATURE_HEADER])
    @blp.arguments(OBEventSubscriptionResponse1Schema, error_status_code=400)
    @blp.response(200, OBEventSubscriptionResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def change_event_subscription(body, EventSubscriptionId: str):  # noqa: N803
        """Replace the subscription's CallbackUrl, Version and EventTypes."""
        if body["Data"]["EventSubscriptionId"] != EventSubscriptionId:
            raise obapi.bad_request(ErrorCode.FIELD_INVALID, "Data.EventSubscriptionId must "
                                    "be the EventSubscriptionId of the URL",
                                    "Data.EventSubscriptionId")
        p = platform.current()
        with p.uow() as uow:
            record = services.update_subscription(uow, _client_pk(), EventSubscriptionId,
                                                  _request(body), p.clock.now(),
                                                  schemes=_schemes())
            uow.commit()
        return _response(record)

    @blp.route("/event-subscriptions/<EventSubscriptionId>", methods=["DELETE"])
    @requires_events_client
    @blp.doc(operationId="DeleteEventSubscriptionsEventSubscriptionId", security=SECURITY,
             parameters=HEADERS)
    @blp.response(204)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 500)
    def delete_event_subscription(EventSubscriptionId: str):  # noqa: N803
        """Delete the subscription: no more events are raised for the client."""
        with platform.current().uow() as uow:
            services.delete_subscription(uow, _client_pk(), EventSubscriptionId)
            uow.commit()
        return None

    @blp.route("/events", methods=["POST"])
    @requires_events_client
    @blp.doc(operationId="CreateEvents", security=SECURITY, parameters=HEADERS)
    @blp.arguments(OBEventPolling1Schema, error_status_code=400)
    @blp.response(200, OBEventPollingResponse1Schema)
    @obapi.documented_errors(blp, 400, 401, 403, 405, 406, 415, 500)
    def poll_events(body):
        """Aggregated polling: acknowledge (ack) or refuse (setErrs) events already received,
        then receive up to maxEvents more (SETs by jti). Answers at once (no long poll)."""
        p = platform.current()
        with p.uow() as uow:
            polled = services.poll(uow, _client_pk(), body, p.clock.now(),
                                   max_events_cap=int(p.config["EVENT_POLL_MAX_EVENTS"]))
            uow.commit()
        return {"moreAvailable": polled.more_available, "sets": polled.sets}

    return blp


def _request(body: dict) -> services.SubscriptionRequest:
    data = body["Data"]
    return services.SubscriptionRequest(data.get("CallbackUrl"), data["Version"],
                                        data.get("EventTypes"))


def _url(path: str) -> str:
    return current_app.config["ISSUER"].rstrip("/") + PREFIX + path


def _data(record: services.SubscriptionRecord) -> dict:
    return {"EventSubscriptionId": record.subscription_id, "CallbackUrl": record.callback_url,
            "Version": record.version,
            "EventTypes": list(record.event_types) if record.event_types is not None else None}


def _response(record: services.SubscriptionRecord) -> dict:
    return {"Data": _data(record),
            "Links": {"Self": _url(f"/event-subscriptions/{record.subscription_id}")},
            "Meta": {}}


_CODES = {"invalid": ErrorCode.FIELD_INVALID,
          "unsupported_type": ErrorCode.UNSUPPORTED_EVENT_TYPE}


def _events_error(error: EventsError):
    if isinstance(error, (InvalidSubscription, InvalidPoll)):
        return obapi.render(OBError(400, [ErrorItem(_CODES[p.code], p.message, p.path)
                                          for p in error.problems]))
    if isinstance(error, SubscriptionExists):
        return obapi.render(OBError(409, ErrorItem(ErrorCode.RESOURCE_ALREADY_EXISTS,
                                                   error.message)))
    if isinstance(error, SubscriptionNotFound):
        return obapi.render(obapi.bad_request(ErrorCode.NOT_FOUND, error.message, error.path))
    raise error
