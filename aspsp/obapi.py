"""Open Banking API conventions, shared by every OB blueprint (AIS, PIS, CoF, events).

- One flask-smorest `Api` per app (config prefix `OB_`, so it collides with no other API):
  the OpenAPI document of every OB blueprint at /open-banking/openapi.json, Swagger UI at
  /open-banking/docs. Contexts add their blueprints with `register_blueprint(app, blp)`.
- Errors: typed `OBError`s with stable codes and an HTTP status, rendered in one place as
  OBErrorResponse1 (v3.1: Code, Id, Message, Errors[{ErrorCode, Message, Path}]). 401 has no
  body (OBIE profile, "401 (Unauthorized)"), only the RFC 6750/9449 WWW-Authenticate
  challenge. Any other exception on an OB blueprint becomes 500 UK.OBIE.UnexpectedError; an
  unknown path under /open-banking/ is 404 and a known path with another method 405, both in
  OB format.
- Bodies: `json_response(payload)` (and `encode`) send a plain dict as JSON with orjson, as
  the lean API paths build them (PIS, VRP, CoF; AIS has its own encoder for its pages): the
  payloads already are what the response schemas would dump (OBIE names, optional fields
  left out, aware UTC datetimes); the schemas serve the OpenAPI document, and the contract
  tests check the real responses against the official files.
- Headers: x-fapi-interaction-id echoed when it is a UUID (else a new one), on every response
  and in `flask.g.interaction_id` for the JSON logs; x-fapi-auth-date and
  x-fapi-customer-ip-address validated; Content-Type 415 and Accept 406; a `Date` header;
  x-idempotency-key validation for the POSTs that need it.

Error codes are OBIE's (v3.1.11 namespaced enumerations) wherever OBIE has one; where it has
none (scope, grant, role, permission and account refusals, unknown endpoints and methods) the
code is in the bank's own namespace, as those rules allow ("UK.<ASPSP>.<Code>"), and README.md
lists each with when it is used.
"""
from __future__ import annotations

import ipaddress
import json
import logging
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime
from enum import StrEnum
from http import HTTPStatus
from typing import Callable, Iterable, Iterator

import marshmallow as ma
import orjson
from flask import Flask, Response, current_app, g, request
from flask import Blueprint as FlaskBlueprint
from flask_smorest import Api
from flask_smorest import Blueprint as Blueprint  # noqa: F401  (re-exported for OB contexts)
from werkzeug.exceptions import HTTPException

from . import api_docs, platform

log = logging.getLogger("aspsp.obapi")

OB_PREFIX = "/open-banking"
ASPSP_NAMESPACE = "UK.InvisibleBank"
EXTENSION = "ob_api"
FALLBACK_ENDPOINT = "ob-fallback.unknown_path"
JSON = "application/json"


class ErrorCode(StrEnum):
    """OBErrorResponseError1Code (v3.1.11 namespaced-enumerations), then our own."""
    FIELD_EXPECTED = "UK.OBIE.Field.Expected"
    FIELD_INVALID = "UK.OBIE.Field.Invalid"
    FIELD_INVALID_DATE = "UK.OBIE.Field.InvalidDate"
    FIELD_MISSING = "UK.OBIE.Field.Missing"
    FIELD_UNEXPECTED = "UK.OBIE.Field.Unexpected"
    HEADER_INVALID = "UK.OBIE.Header.Invalid"
    HEADER_MISSING = "UK.OBIE.Header.Missing"
    REAUTHENTICATE = "UK.OBIE.Reauthenticate"
    CONSENT_MISMATCH = "UK.OBIE.Resource.ConsentMismatch"
    INVALID_CONSENT_STATUS = "UK.OBIE.Resource.InvalidConsentStatus"
    INVALID_FORMAT = "UK.OBIE.Resource.InvalidFormat"
    NOT_FOUND = "UK.OBIE.Resource.NotFound"
    AFTER_CUT_OFF = "UK.OBIE.Rules.AfterCutOffDateTime"
    DUPLICATE_REFERENCE = "UK.OBIE.Rules.DuplicateReference"
    FAILS_CONTROL_PARAMETERS = "UK.OBIE.Rules.FailsControlParameters"
    RESOURCE_ALREADY_EXISTS = "UK.OBIE.Rules.ResourceAlreadyExists"
    SIGNATURE_INVALID = "UK.OBIE.Signature.Invalid"
    SIGNATURE_INVALID_CLAIM = "UK.OBIE.Signature.InvalidClaim"
    SIGNATURE_MALFORMED = "UK.OBIE.Signature.Malformed"
    SIGNATURE_MISSING = "UK.OBIE.Signature.Missing"
    SIGNATURE_MISSING_CLAIM = "UK.OBIE.Signature.MissingClaim"
    SIGNATURE_UNEXPECTED = "UK.OBIE.Signature.Unexpected"
    UNSUPPORTED_ACCOUNT_IDENTIFIER = "UK.OBIE.Unsupported.AccountIdentifier"
    UNSUPPORTED_ACCOUNT_SECONDARY_IDENTIFIER = "UK.OBIE.Unsupported.AccountSecondaryIdentifier"
    UNSUPPORTED_CURRENCY = "UK.OBIE.Unsupported.Currency"
    UNSUPPORTED_EVENT_TYPE = "UK.OBIE.Unsupported.EventType"
    UNSUPPORTED_FREQUENCY = "UK.OBIE.Unsupported.Frequency"
    UNSUPPORTED_LOCAL_INSTRUMENT = "UK.OBIE.Unsupported.LocalInstrument"
    UNSUPPORTED_SCHEME = "UK.OBIE.Unsupported.Scheme"
    UNEXPECTED_ERROR = "UK.OBIE.UnexpectedError"
    # The token's consent does not match the resource or the caller: OBIE's ConsentMismatch
    # (aliases, so each refusal still says in code which mismatch it is).
    CONSENT_OF_ANOTHER_CLIENT = "UK.OBIE.Resource.ConsentMismatch"
    CONSENT_TYPE_MISMATCH = "UK.OBIE.Resource.ConsentMismatch"
    CONSENT_OF_ANOTHER_CUSTOMER = "UK.OBIE.Resource.ConsentMismatch"
    # Ours, where OBIE has no code (listed in README.md, "The bank's own error codes").
    INSUFFICIENT_SCOPE = f"{ASPSP_NAMESPACE}.Token.InsufficientScope"
    WRONG_GRANT = f"{ASPSP_NAMESPACE}.Token.WrongGrantType"
    ROLE_MISSING = f"{ASPSP_NAMESPACE}.Client.RoleMissing"
    PERMISSION_MISSING = f"{ASPSP_NAMESPACE}.Consent.PermissionMissing"
    ACCOUNT_NOT_PERMITTED = f"{ASPSP_NAMESPACE}.Consent.AccountNotPermitted"
    RESOURCE_OF_ANOTHER_CLIENT = f"{ASPSP_NAMESPACE}.Resource.OfAnotherClient"
    ENDPOINT_NOT_FOUND = f"{ASPSP_NAMESPACE}.Endpoint.NotFound"
    METHOD_NOT_ALLOWED = f"{ASPSP_NAMESPACE}.Endpoint.MethodNotAllowed"


@dataclass(frozen=True)
class ErrorItem:
    code: str
    message: str
    path: str | None = None
    url: str | None = None


class OBError(Exception):
    """An Open Banking API error: HTTP status, items (ErrorCode, Message, Path), headers.
    `body=False` answers with the status and headers only (401)."""

    def __init__(self, status: int, errors: ErrorItem | Iterable[ErrorItem] = (), *,
                 message: str | None = None, headers: dict[str, str] | None = None,
                 body: bool = True):
        self.status = int(status)
        self.errors = [errors] if isinstance(errors, ErrorItem) else list(errors)
        self.message = message or _DEFAULT_MESSAGES.get(self.status, HTTPStatus(self.status).phrase)
        self.headers = dict(headers or {})
        self.body = body
        super().__init__(f"{self.status} {self.message}: "
                         + "; ".join(f"{e.code} {e.message}" for e in self.errors))


_DEFAULT_MESSAGES = {
    400: "The request is not valid",
    401: "The request is not authenticated",
    403: "The request is not allowed",
    404: "There is no such endpoint",
    405: "The endpoint does not support this method",
    406: "The requested media type cannot be produced",
    415: "The request's media type is not supported",
    500: "An unexpected error occurred",
}


def encode(payload: dict) -> bytes:
    return orjson.dumps(payload)


def json_response(payload: dict, status: int = 200) -> Response:
    return current_app.response_class(encode(payload), status=status,
                                      mimetype="application/json")


def bad_request(code: str, message: str, path: str | None = None) -> OBError:
    return OBError(400, ErrorItem(code, message, path))


def forbidden(code: str, message: str, path: str | None = None, *,
              headers: dict[str, str] | None = None) -> OBError:
    return OBError(403, ErrorItem(code, message, path), headers=headers)


def unauthorized(www_authenticate: str) -> OBError:
    """401 without a body: the OBIE profile wants none, RFC 6750/9449 want the challenge."""
    return OBError(401, headers={"WWW-Authenticate": www_authenticate}, body=False)


def not_found(message: str = "There is no such endpoint") -> OBError:
    return OBError(404, ErrorItem(ErrorCode.ENDPOINT_NOT_FOUND, message))


def method_not_allowed(allowed: Iterable[str]) -> OBError:
    allowed = sorted(set(allowed))
    return OBError(405, ErrorItem(ErrorCode.METHOD_NOT_ALLOWED,
                                  f"this endpoint allows {', '.join(allowed)}"),
                   headers={"Allow": ", ".join(allowed)})


def unexpected(message: str = "An unexpected error occurred; quote the Id") -> OBError:
    return OBError(500, ErrorItem(ErrorCode.UNEXPECTED_ERROR, message))


def render(error: OBError) -> Response:
    """The one place an OB error becomes an HTTP response."""
    error_id = str(uuid.uuid4())
    log.info("ob error", extra={"fields": {
        "status": error.status, "error_id": error_id,
        "codes": [e.code for e in error.errors], "path": request.path if request else None}})
    if not error.body:      # nothing to describe: no Content-Type (Flask would say text/html)
        response = current_app.response_class(status=error.status)
        del response.headers["Content-Type"]
    else:
        body = {"Code": f"{error.status} {HTTPStatus(error.status).phrase}"[:40],
                "Id": error_id,
                "Message": error.message[:500],
                "Errors": [_item(e) for e in error.errors] or [
                    _item(ErrorItem(ErrorCode.UNEXPECTED_ERROR, error.message))]}
        response = current_app.response_class(json.dumps(body), status=error.status,
                                              mimetype=JSON)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def _item(e: ErrorItem) -> dict:
    item = {"ErrorCode": str(e.code), "Message": (e.message or e.code)[:500]}
    if e.path:
        item["Path"] = e.path[:500]
    if e.url:
        item["Url"] = e.url
    return item


# --- header rules (pure) -------------------------------------------------------------------
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
                   r"[0-9a-fA-F]{12}$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_AUTH_DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) "
                        r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) (\d{4}) "
                        r"(\d{2}):(\d{2}):(\d{2}) (GMT|UTC)$")
_IDEMPOTENCY_KEY = re.compile(r"^(?!\s)(.*)(\S)$")
IDEMPOTENCY_KEY_MAX = 40


def is_interaction_id(value: str | None) -> bool:
    """An RFC 4122 UUID in its text form (any version, either case)."""
    return bool(value) and bool(_UUID.fullmatch(value))


def parse_auth_date(value: str) -> datetime | None:
    """An RFC 7231 IMF-fixdate as the OBIE x-fapi-auth-date pattern allows (GMT or UTC),
    naming a real date whose weekday is right; None otherwise."""
    match = _AUTH_DATE.fullmatch(value or "")
    if not match:
        return None
    weekday, day, month, year, hh, mm, ss, _zone = match.groups()
    try:
        moment = datetime(int(year), _MONTHS.index(month) + 1, int(day), int(hh), int(mm),
                          int(ss), tzinfo=timezone.utc)
    except ValueError:
        return None
    return moment if _DAYS[moment.weekday()] == weekday else None


def is_ip_address(value: str | None) -> bool:
    try:
        ipaddress.ip_address((value or "").strip())
    except ValueError:
        return False
    return True


def is_idempotency_key(value: str | None) -> bool:
    return bool(value) and len(value) <= IDEMPOTENCY_KEY_MAX \
        and bool(_IDEMPOTENCY_KEY.fullmatch(value))


def idempotency_key(required: bool = True) -> str | None:
    """The request's x-idempotency-key, checked (at most 40 characters, no leading or
    trailing white space). Replay detection and storage: aspsp.idempotency (@idempotent)."""
    value = request.headers.get("x-idempotency-key")
    if value is None:
        if required:
            raise bad_request(ErrorCode.HEADER_MISSING, "x-idempotency-key is required",
                              "x-idempotency-key")
        return None
    if not is_idempotency_key(value):
        raise bad_request(ErrorCode.HEADER_INVALID,
                          f"x-idempotency-key must be 1 to {IDEMPOTENCY_KEY_MAX} characters "
                          "without leading or trailing white space", "x-idempotency-key")
    return value


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(timezone.utc), usegmt=True)


# --- request and response hooks of every OB blueprint ----------------------------------------
def accepts(*mimetypes: str) -> Callable:
    """Mark a view that takes request bodies other than JSON (default: application/json)."""
    def mark(view):
        view.ob_content_types = tuple(mimetypes)
        return view
    return mark


def produces(*mimetypes: str) -> Callable:
    """Mark a view that answers with media types other than JSON (default: application/json),
    such as a statement file; the Accept header is checked against them. Errors stay JSON."""
    def mark(view):
        view.ob_produces = tuple(mimetypes)
        return view
    return mark


def _before_request() -> None:
    given = request.headers.get("x-fapi-interaction-id")
    # the id aspsp.logs gave the request (the same rule), so that its log lines and the
    # response name one id
    g.interaction_id = given if is_interaction_id(given) \
        else g.get("interaction_id") or str(uuid.uuid4())
    if given is not None and given != g.interaction_id:
        log.info("x-fapi-interaction-id is not a UUID: a new one was generated",
                 extra={"fields": {"given": given[:80]}})
    if request.endpoint == FALLBACK_ENDPOINT:       # 404/405 come before media types
        return
    _check_accept()
    _check_body()
    auth_date = request.headers.get("x-fapi-auth-date")
    if auth_date is not None and parse_auth_date(auth_date) is None:
        raise bad_request(ErrorCode.HEADER_INVALID,
                          "x-fapi-auth-date must be an RFC 7231 date such as "
                          "'Sun, 10 Sep 2017 19:43:31 GMT'", "x-fapi-auth-date")
    ip = request.headers.get("x-fapi-customer-ip-address")
    if ip is not None and not is_ip_address(ip):
        raise bad_request(ErrorCode.HEADER_INVALID,
                          "x-fapi-customer-ip-address must be an IPv4 or IPv6 address",
                          "x-fapi-customer-ip-address")
    g.customer_ip_address = ip.strip() if ip else None


def _check_accept() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    produced = getattr(view, "ob_produces", (JSON,))
    if "Accept" in request.headers \
            and max(request.accept_mimetypes.quality(m) for m in produced) <= 0:
        raise OBError(406, ErrorItem(ErrorCode.HEADER_INVALID,
                                     f"only {' or '.join(produced)} responses are produced",
                                     "Accept"))
    if "Accept-Charset" in request.headers and request.accept_charsets.quality("utf-8") <= 0:
        raise OBError(406, ErrorItem(ErrorCode.HEADER_INVALID,
                                     "responses are encoded in UTF-8", "Accept-Charset"))


def _view():
    return current_app.view_functions.get(request.endpoint or "")


def _check_body() -> None:
    """The media type here (a header: no body is read). The JSON itself is read only once the
    caller is authenticated: by the consent gate for a gated view (`AUTHENTICATES`), here for
    any other view."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    allowed = getattr(_view(), "ob_content_types", (JSON,))
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if request.mimetype not in allowed or charset not in ("utf-8", "utf8"):
        raise OBError(415, ErrorItem(ErrorCode.HEADER_INVALID,
                                     f"Content-Type must be {' or '.join(allowed)}",
                                     "Content-Type"))
    if not getattr(_view(), AUTHENTICATES, False):
        check_json_body()


AUTHENTICATES = "ob_authenticates"   # set on a view whose decorator authenticates first
MAX_JSON_DEPTH = 32                  # OB payloads nest about 8 deep


def check_json_body() -> None:
    """A JSON request body must be a JSON object nested at most MAX_JSON_DEPTH deep (a deeper
    one is refused with a 400, never parsed by recursion into a 500)."""
    if request.method not in ("POST", "PUT", "PATCH") or request.mimetype != JSON:
        return
    try:
        body = json.loads(request.get_data(cache=True) or b"", parse_constant=_not_json)
    except RecursionError:
        body = None
        too_deep = True
    except ValueError:
        raise bad_request(ErrorCode.INVALID_FORMAT, "the request body is not valid JSON") \
            from None
    else:
        too_deep = json_depth(body) > MAX_JSON_DEPTH
    if too_deep:
        raise bad_request(ErrorCode.INVALID_FORMAT, f"the request body nests deeper than "
                          f"{MAX_JSON_DEPTH} levels")
    if not isinstance(body, dict):
        raise bad_request(ErrorCode.INVALID_FORMAT, "the request body must be a JSON object")


def _not_json(name: str):
    """NaN, Infinity and -Infinity: Python's parser takes them, JSON (RFC 8259) has no such
    values, and a database's JSON column refuses them."""
    raise ValueError(f"{name} is not a JSON value")


def json_depth(value) -> int:
    """How deep objects and arrays nest in a parsed JSON value (a scalar is 0), iteratively."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node \
            if isinstance(node, list) else None
        if children is None:
            continue
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _after_request(response: Response) -> Response:
    response.headers["x-fapi-interaction-id"] = getattr(g, "interaction_id", None) \
        or str(uuid.uuid4())
    if "Date" not in response.headers:
        response.headers["Date"] = http_date(platform.current().clock.now())
    return response


def _handle_ob_error(error: OBError) -> Response:
    return render(error)


def _handle_http_exception(error: HTTPException) -> Response:
    data = getattr(error, "data", None) or {}
    if error.code in (400, 422) and "messages" in data:     # webargs: the schema said no
        return render(OBError(400, list(validation_errors(data["messages"],
                                                          data.get("schema")))))
    if error.code == 404:
        return render(not_found())
    if error.code == 405:
        return render(method_not_allowed(getattr(error, "valid_methods", None) or ()))
    if error.code is None or error.code >= 500:
        log.error("HTTP error on an OB endpoint", exc_info=error)
        return render(unexpected())
    code = ErrorCode.HEADER_INVALID if error.code in (406, 415) else ErrorCode.FIELD_INVALID
    return render(OBError(error.code, ErrorItem(code, error.description or error.name)))


def _handle_unexpected(error: Exception) -> Response:
    log.exception("unexpected error on an OB endpoint")
    return render(unexpected())


def install(blp: FlaskBlueprint) -> None:
    """Give a blueprint the OB conventions: header checks, response headers, OB errors."""
    blp.before_request(_before_request)
    blp.after_request(_after_request)
    blp.register_error_handler(OBError, _handle_ob_error)
    blp.register_error_handler(HTTPException, _handle_http_exception)
    blp.register_error_handler(Exception, _handle_unexpected)


# --- marshmallow validation errors as OB error items ---------------------------------------
_REQUIRED = ma.fields.Field.default_error_messages["required"]
_UNKNOWN = ma.Schema._default_error_messages["unknown"]
_DATE_FIELDS = (ma.fields.DateTime, ma.fields.Date, ma.fields.Time)


def validation_errors(messages: dict, schema: ma.Schema | None = None) -> Iterator[ErrorItem]:
    """webargs/marshmallow messages ({"json": {"Data": {"Permissions": [...]}}}) as one
    error item per failure, with its JSON path and the OBIE code that fits."""
    if set(messages) <= {"json", "headers", "query", "view_args", "form"}:
        for location_messages in messages.values():
            yield from _walk(location_messages, "", schema)
    else:
        yield from _walk(messages, "", schema)


def _walk(messages, path: str, schema_or_field) -> Iterator[ErrorItem]:
    if isinstance(messages, (list, tuple)):
        for message in messages:
            yield _leaf(str(message), path, schema_or_field)
        return
    fields = _fields_of(schema_or_field)
    for key, value in messages.items():
        if key == "_schema":
            yield from (ErrorItem(ErrorCode.INVALID_FORMAT, str(m), path or None)
                        for m in (value if isinstance(value, list) else [value]))
            continue
        if isinstance(key, int):
            child_path = f"{path}[{key}]"
            inner = getattr(schema_or_field, "inner", None)
        else:
            child_path = f"{path}.{key}" if path else str(key)
            inner = fields.get(key)
        yield from _walk(value, child_path, inner)


def _fields_of(schema_or_field) -> dict:
    schema = getattr(schema_or_field, "schema", None) if isinstance(
        schema_or_field, ma.fields.Nested) else schema_or_field
    if isinstance(schema, ma.Schema):
        return {f.data_key or name: f for name, f in schema.fields.items()}
    return {}


def _leaf(message: str, path: str, field) -> ErrorItem:
    if message == _REQUIRED:
        return ErrorItem(ErrorCode.FIELD_MISSING, f"{path} is required", path)
    if message == _UNKNOWN:
        return ErrorItem(ErrorCode.FIELD_UNEXPECTED, f"{path} is not a field of this resource",
                         path)
    if isinstance(field, _DATE_FIELDS):
        return ErrorItem(ErrorCode.FIELD_INVALID_DATE, f"{path}: {message}", path)
    return ErrorItem(ErrorCode.FIELD_INVALID, f"{path}: {message}", path)


# --- schemas shared by every OB resource -------------------------------------------------------
class OBSchema(ma.Schema):
    """OB payloads leave out optional fields that have no value (never `null`)."""

    @ma.post_dump
    def _drop_empty(self, data, **kwargs):
        return {k: v for k, v in data.items() if v is not None}


class OBError1Schema(OBSchema):
    ErrorCode = ma.fields.String(required=True)
    Message = ma.fields.String(required=True)
    Path = ma.fields.String()
    Url = ma.fields.String()


class OBErrorResponse1Schema(OBSchema):
    Code = ma.fields.String(required=True)
    Id = ma.fields.String()
    Message = ma.fields.String(required=True)
    Errors = ma.fields.List(ma.fields.Nested(OBError1Schema), required=True)


class LinksSchema(OBSchema):
    Self = ma.fields.String(required=True)
    First = ma.fields.String()
    Prev = ma.fields.String()
    Next = ma.fields.String()
    Last = ma.fields.String()


class MetaSchema(OBSchema):
    TotalPages = ma.fields.Integer()
    FirstAvailableDateTime = ma.fields.AwareDateTime()
    LastAvailableDateTime = ma.fields.AwareDateTime()


def documented_errors(blp: Blueprint, *statuses: int) -> Callable:
    """Document OB error responses of an operation (401 without a body)."""
    def decorate(view):
        for status in statuses:
            if status == 401:
                view = blp.alt_response(401, description="Unauthorized: no body, see the "
                                        "WWW-Authenticate header")(view)
            else:
                view = blp.alt_response(status, schema=OBErrorResponse1Schema,
                                        description=HTTPStatus(status).phrase)(view)
        return view
    return decorate


# --- the Api and its blueprints ----------------------------------------------------------------
class OpenBankingApi(Api):
    ERROR_SCHEMA = OBErrorResponse1Schema
    DEFAULT_ERROR_RESPONSE_NAME = None

    def _register_error_handlers(self):
        """None app-wide: OB blueprints render their own errors (see `install`)."""


def init_app(app: Flask) -> OpenBankingApi:
    """The app's OB Api (made once), the fallback for unknown OB paths, the docs."""
    if EXTENSION in app.extensions:
        return app.extensions[EXTENSION]
    issuer = app.config.get("ISSUER", "").rstrip("/")
    for key, value in {
        "OB_API_TITLE": "Invisible Bank Open Banking APIs",
        "OB_API_VERSION": "3.1.11",
        "OB_OPENAPI_VERSION": "3.0.3",
        "OB_OPENAPI_URL_PREFIX": OB_PREFIX,
        "OB_OPENAPI_JSON_PATH": "openapi.json",
        "OB_OPENAPI_SWAGGER_UI_PATH": "docs",
        **api_docs.swagger_ui_settings(),   # served by the platform, not a CDN
        "OB_API_SPEC_OPTIONS": {
            "servers": [{"url": issuer or "/"}],
            "info": {"description": "UK Open Banking Read/Write APIs of the Invisible Bank. "
                                    "Every response carries x-fapi-interaction-id; errors are "
                                    "OBErrorResponse1 bodies (401: none)."}},
    }.items():
        app.config.setdefault(key, value)
    api = OpenBankingApi(app, config_prefix="OB")
    _document_security(api, issuer)
    app.extensions[EXTENSION] = api
    api_docs.init_app(app)
    fallback = FlaskBlueprint("ob-fallback", __name__, url_prefix=OB_PREFIX)
    methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
    fallback.add_url_rule("", "unknown_path", _unknown_path, methods=methods)
    fallback.add_url_rule("/", "unknown_path", _unknown_path, methods=methods)
    fallback.add_url_rule("/<path:rest>", "unknown_path", _unknown_path, methods=methods)
    install(fallback)
    app.register_blueprint(fallback)
    return api


def register_blueprint(app: Flask, blp: Blueprint, **options) -> None:
    """Add an OB context's blueprint: OB conventions, then the Api (routes and docs)."""
    api = init_app(app)
    install(blp)
    api.register_blueprint(blp, **options)


def _unknown_path(rest: str = ""):
    """No OB route matched this path with this method: 405 when another method would have
    matched it, else 404."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    allowed = set()
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != FALLBACK_ENDPOINT:
            allowed.add(method)
    if allowed:
        raise method_not_allowed(allowed)
    raise not_found()


def _document_security(api: OpenBankingApi, issuer: str) -> None:
    scopes = {"accounts": "Account information", "payments": "Payment initiation",
              "fundsconfirmations": "Confirmation of funds"}
    api.spec.components.security_scheme("TPPOAuth2Security", {
        "type": "oauth2", "description": "Client-credentials token, sender-constrained (DPoP "
        "or MTLS)", "flows": {"clientCredentials": {"tokenUrl": f"{issuer}/token",
                                                     "scopes": scopes}}})
    api.spec.components.security_scheme("PSUOAuth2Security", {
        "type": "oauth2", "description": "Authorization-code token bound to the customer's "
        "consent, sender-constrained (DPoP or MTLS)", "flows": {"authorizationCode": {
            "authorizationUrl": f"{issuer}/authorize", "tokenUrl": f"{issuer}/token",
            "scopes": scopes}}})
    for name, spec in _HEADER_PARAMETERS.items():
        api.spec.components.parameter(name, "header", spec)


_HEADER_PARAMETERS = {
    "x-fapi-auth-date": {"required": False, "description": "When the PSU last logged in with "
                         "the TPP (RFC 7231 date)", "schema": {
                             "type": "string", "pattern": _AUTH_DATE.pattern}},
    "x-fapi-customer-ip-address": {"required": False, "description": "The PSU's IP address "
                                   "when the PSU is present", "schema": {"type": "string"}},
    "x-fapi-interaction-id": {"required": False, "description": "An RFC 4122 UUID used as a "
                              "correlation id; echoed (or generated) in the response",
                              "schema": {"type": "string"}},
    "x-customer-user-agent": {"required": False, "description": "The PSU's user agent",
                              "schema": {"type": "string"}},
}
FAPI_HEADERS = list(_HEADER_PARAMETERS)
