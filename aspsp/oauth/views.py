"""HTTP endpoints of the authorization server: discovery, JWKS, authorization (front
channel), PAR, token, introspection, revocation, userinfo."""
from __future__ import annotations

import logging
import uuid
from typing import Callable

from authlib.oauth2.rfc6749 import OAuth2Error
from flask import (Blueprint, Flask, Response, current_app, g, jsonify, make_response,
                   redirect, request, session)

from .. import platform, web_pages
from . import authz_request, keys, subjects, tokens
from .authorize import error_redirect
from .authz_request import AuthorizationRequestError
from .client_auth import METHODS
from .clients import find_client
from .server import build_server, request_binding

bp = Blueprint("oauth", __name__)
log = logging.getLogger(__name__)

# What a customer sent here by an app reads when /authorize cannot go ahead, in plain words;
# the OAuth error code goes on a small line for the app's developers. Picked by `_error_case`.
ERROR_PAGE = {
    "unknown_app": (
        "We don't recognise this app",
        "The app that sent you here isn't registered with Invisible Bank, so it can't ask to "
        "see your accounts. Nothing has been shared.",
        "Close this page and go back to the app. If this keeps happening, contact the app's "
        "support team."),
    "expired": (
        "This link has expired",
        "The link from the app works for a short time only, and that time has passed. Nothing "
        "has been shared.",
        "Go back to the app and start again: it will give you a new link."),
    "used": (
        "This link has already been used",
        "Each link from an app can be used once only. Nothing more has been shared.",
        "Go back to the app and start again: it will give you a new link."),
    "invalid_link": (
        "This link isn't valid",
        "We can't find the request this link belongs to. Nothing has been shared.",
        "Go back to the app and start again: it will give you a new link."),
    "incomplete": (
        "This request is incomplete",
        "The app that sent you here didn't send everything we need to ask for your approval, "
        "so we can't go ahead. Nothing has been shared.",
        "Go back to the app and try again. If this keeps happening, contact the app's "
        "support team."),
}


def _server():
    return current_app.extensions["oauth_server"]


def _issuer() -> str:
    return platform.current().config["ISSUER"].rstrip("/")


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _in_unit_of_work(handler: Callable[[], Response], bind_url: str | None = None) -> Response:
    """Run an OAuth endpoint in one unit of work. It always commits: an error path writes
    only what must survive the error (a used request_uri, tokens revoked after code reuse)."""
    with platform.current().uow() as uow:
        g.oauth_uow = uow
        try:
            if bind_url:
                g.oauth_binding = request_binding(bind_url)
            response = current_app.make_response(handler())
        except OAuth2Error as error:
            response = _server().handle_error_response(None, error)
        except keys.NoSigningKey as exc:    # the bank's fault, not the client's: nothing of
            uow.rollback()                  # this exchange is kept, so it can be retried
            log.error("no signing key for %s: %s", request.path, exc)
            response = jsonify(error="temporarily_unavailable",
                               error_description="the server cannot sign tokens yet; retry "
                                                 "after the time given in Retry-After")
            response.status_code = 503
            response.headers["Retry-After"] = str(exc.retry_after)
            return _no_store(response)
        uow.commit()
    return _no_store(response)


@bp.get("/.well-known/openid-configuration")
def discovery():
    issuer = _issuer()
    metadata = {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}/authorize",
        "token_endpoint": f"{issuer}/token",
        "pushed_authorization_request_endpoint": f"{issuer}/par",
        "registration_endpoint": f"{issuer}/register",
        "jwks_uri": f"{issuer}/jwks",
        "introspection_endpoint": f"{issuer}/introspect",
        "revocation_endpoint": f"{issuer}/revoke",
        "userinfo_endpoint": f"{issuer}/userinfo",
        "scopes_supported": ["openid", "accounts", "payments", "fundsconfirmations"],
        "response_types_supported": ["code", "code id_token"],
        "response_modes_supported": ["query", "fragment"],
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        # No `sub` is the same for two clients: a consent's id, or a sign-in's pairwise
        # subject (aspsp.oauth.subjects).
        "subject_types_supported": ["pairwise"],
        "token_endpoint_auth_methods_supported": METHODS,
        "token_endpoint_auth_signing_alg_values_supported": ["PS256", "ES256"],
        "introspection_endpoint_auth_methods_supported": METHODS,
        "revocation_endpoint_auth_methods_supported": METHODS,
        "request_object_signing_alg_values_supported": ["PS256", "ES256"],
        "id_token_signing_alg_values_supported": ["PS256", "ES256"],
        "userinfo_signing_alg_values_supported": ["PS256", "ES256"],
        "dpop_signing_alg_values_supported": ["PS256", "ES256"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce",
                             "s_hash", "c_hash", "at_hash", "openbanking_intent_id"],
        "claims_parameter_supported": True,
        "request_parameter_supported": True,
        "request_uri_parameter_supported": True,
        "require_request_uri_registration": False,
        # Per client: FAPI 1.0 Advanced clients must sign; FAPI 2.0 clients may push plain
        # parameters over their authenticated PAR channel.
        "require_signed_request_object": False,
        "require_pushed_authorization_requests": False,
        "acr_values_supported": ["urn:openbanking:psd2:sca", "urn:openbanking:psd2:ca"],
        "tls_client_certificate_bound_access_tokens": True,
        "authorization_response_iss_parameter_supported": True,
    }
    try:
        from .registration import registration_metadata
        metadata.update(registration_metadata())
    except ImportError:
        pass
    return jsonify(metadata)


@bp.get("/jwks")
def jwks():
    p = platform.current()
    with p.uow() as uow:
        body = keys.published_jwks(uow, "aspsp", now=p.clock.now())
    response = jsonify(body)
    # A key signs only JWKS_MAX_AGE_SECONDS after it is published here (keys.py).
    response.headers["Cache-Control"] = f"public, max-age={keys.JWKS_MAX_AGE_SECONDS}"
    return response


@bp.get("/authorize")
def authorize():
    p = platform.current()
    now = p.clock.now()
    with p.uow() as uow:
        client = find_client(uow, request.args.get("client_id"))
        if client is None:
            return _error_page("invalid_client", "unknown client_id")
        try:
            # The browser's key binds a pushed request_uri to this browser (reloads resume).
            pending = authz_request.start_or_resume(uow, client, request.args.to_dict(),
                                                    issuer=_issuer(), now=now,
                                                    browser_hash=session.browser_hash)
        except AuthorizationRequestError as exc:
            uow.commit()  # a request_uri refused after its first use stays used
            if exc.redirect_uri:
                return _no_store(redirect(error_redirect(
                    exc.redirect_uri, exc.error, exc.description, state=exc.state,
                    response_type=exc.response_type or "code"), 303))
            return _error_page(exc.error, exc.description)
        uow.commit()
        return _no_store(redirect(f"/psu/authorize/{pending.reference}", 303))


def _error_page(error: str, description: str):
    """The page a customer sees when /authorize cannot go ahead and the error cannot be sent
    back to the app's redirect URI."""
    title, text, next_step = ERROR_PAGE[_error_case(error, description)]
    return web_pages.error_page(title, text, 400, next_step=next_step,
                                developer=f"{error}: {description}")


def _error_case(error: str, description: str) -> str:
    if not request.args.get("client_id"):
        return "incomplete"
    if error == "invalid_client":
        return "unknown_app"
    if error == "invalid_request_uri":
        for words, case in (("expired", "expired"), ("already used", "used")):
            if words in description:
                return case
        return "invalid_link"
    return "incomplete"


@bp.post("/par")
def par():
    def handle():
        p = platform.current()
        server = _server()
        client = server.authenticate_client(server.create_oauth2_request(None), METHODS, "par")
        try:
            row = authz_request.push_request(g.oauth_uow, client, request.form.to_dict(),
                                             issuer=_issuer(), now=p.clock.now(),
                                             ttl=p.config["PAR_TTL"],
                                             dpop_jkt=g.oauth_binding.jkt)
        except AuthorizationRequestError as exc:
            return jsonify(error=exc.error, error_description=exc.description), 400
        return jsonify(request_uri=row.request_uri, expires_in=p.config["PAR_TTL"]), 201

    return _in_unit_of_work(handle, bind_url=platform.public_url())


@bp.post("/token")
def token():
    return _in_unit_of_work(lambda: _server().create_token_response(),
                            bind_url=platform.public_url())


@bp.post("/introspect")
def introspect():
    return _in_unit_of_work(lambda: _server().create_endpoint_response("introspection"))


@bp.post("/revoke")
def revoke():
    return _in_unit_of_work(lambda: _server().create_endpoint_response("revocation"))


@bp.route("/userinfo", methods=["GET", "POST"])
def userinfo():
    """OpenID Connect UserInfo. A protected resource, so it echoes x-fapi-interaction-id (a
    new UUID if none was sent: FAPI 1.0 Advanced 6.2.1-11), which the OpenID conformance
    suite's plain_fapi plans check on the resource they call: for a sign-in, this one."""
    from ..obapi import is_interaction_id
    response = make_response(_userinfo())
    given = request.headers.get("x-fapi-interaction-id")
    response.headers["x-fapi-interaction-id"] = given if is_interaction_id(given) \
        else str(uuid.uuid4())
    return response


def _userinfo():
    p = platform.current()
    with p.uow() as uow:
        try:
            context = tokens.authenticate_resource_request(uow, request, now=p.clock.now(),
                                                           replay=p.replay, config=p.config)
        except tokens.TokenError as exc:
            return exc.response()
        if "openid" not in context.scopes or context.psu_pk is None:
            return jsonify(error="insufficient_scope",
                           error_description="userinfo needs an openid token"), 403
        from consent.models import Consent
        consent = uow.session.get(Consent, context.consent_pk) if context.consent_pk else None
        body = {"sub": subjects.sub_of(uow, context.client, context.psu_pk, consent,
                                       p.clock.now())}
        if consent is not None:
            body["openbanking_intent_id"] = consent.consent_id
        uow.commit()                       # a sign-in's subject, were it new
        return _no_store(jsonify(body))


def init_app(app: Flask) -> None:
    app.extensions["oauth_server"] = build_server(app)
    app.register_blueprint(bp)
    from . import cli
    cli.init_app(app)
