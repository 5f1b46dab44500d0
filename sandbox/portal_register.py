"""One click to the sandbox bank: the developer portal's "Register with the sandbox bank"
button (only while SANDBOX_ENABLED).

A TPP registers itself in production: it asks its directory for a software statement
assertion (SSA) and sends the bank a registration request signed with one of its own keys
(OBIE DCR). The sandbox does the same on the developer's behalf, through the real services:

1. the sandbox holds a registration key for the app: EC P-256, kid
   `sandbox-registration-<app_id>`, in the platform's key store (aspsp.oauth.keys, owner
   OWNER, its private half sealed with the key-encryption key like every signing key there;
   never published at the bank's /jwks, never rotated by `flask keys`);
2. its public half joins the app's software statement in the sandbox directory (the
   directory mirror of sandbox/portal_directory.py keeps keys with that kid prefix when the
   developer edits the app's own keys);
3. the directory issues the SSA (sandbox.directory.issue_ssa);
4. a registration request signed with the registration key goes to
   aspsp.oauth.registration.register_client, or update_client (DCR PUT semantics) when the
   app has a live client already: a second click changes the same client, never makes
   another. The app's redirect URIs, roles, authentication method and profile are what is
   registered: FAPI 2.0 (response type code, PAR) with DPoP-bound tokens, or FAPI 1.0
   Advanced (code id_token) with certificate-bound tokens.

Because the software statement's JWKS is also where the bank finds the client's keys, the
registration key could authenticate as the client: the portal's page says so plainly.
Refusals (an app without redirect URIs, roles its organisation lacks, ...) are shown to the
developer as the directory or the bank words them; nothing is kept of a refused attempt.
"""
from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import timedelta

from flask import Blueprint, Flask, flash, redirect, url_for
from jwcrypto import jwk, jwt
from sqlalchemy import select

from aspsp import platform, web_pages
from aspsp.oauth import registration
from aspsp.oauth.keys import public_jwk
from aspsp.oauth.models import OAuthClient, SigningKey
from developer_portal import auth
from developer_portal.models import PortalApp
from developer_portal.quickstart import ONE_CLICK

from . import directory

OWNER = "sandbox-reg"                    # key store owner of the registration keys
KID_PREFIX = "sandbox-registration-"
ALG = "ES256"
GRANT_TYPES = ["client_credentials", "authorization_code", "refresh_token"]


class RegistrationRefused(Exception):
    """What the directory or the bank refused, worded for the developer."""


@dataclass(frozen=True)
class Registered:
    client_id: str
    created: bool                        # False: the existing client was updated


def registration_kid(app: PortalApp) -> str:
    return f"{KID_PREFIX}{app.app_id}"


def _purpose(kid: str) -> str:
    return f"signing_keys.private_jwk:{kid}"     # as aspsp.oauth.keys seals its keys


def registration_key(uow, app: PortalApp, *, keyring, now) -> jwk.JWK:
    """The app's registration key, made on first use."""
    kid = registration_kid(app)
    row = uow.session.scalars(select(SigningKey).where(SigningKey.kid == kid)).one_or_none()
    if row is not None:
        return jwk.JWK.from_json(keyring.open(row.private_jwk, _purpose(kid)))
    key = jwk.JWK.generate(kty="EC", crv="P-256", kid=kid)
    uow.session.add(SigningKey(kid=kid, owner=OWNER, alg=ALG,
                               private_jwk=keyring.seal(key.export_private(), _purpose(kid)),
                               public_jwk=public_jwk(key, kid, ALG), created_at=now,
                               active_from=now))
    uow.session.flush()
    return key


def _app_keys(app: PortalApp) -> list[dict]:
    keys = (app.jwks or {}).get("keys") or []
    return [k for k in keys if isinstance(k, dict)
            and not str(k.get("kid", "")).startswith(KID_PREFIX)]


def _software_statement(uow, app: PortalApp, registration_public: dict, now):
    """The app's software statement in the sandbox directory, brought up to date with the
    app by the directory mirror (made here from the app if the mirror did not, e.g. an app
    without keys of its own yet), its JWKS the app's keys plus the registration key."""
    from developer_portal import hooks
    org = app.organisation
    hooks.organisation_saved(uow, org)
    hooks.app_saved(uow, app)
    if directory._organisation(uow, org.org_id) is None:
        directory.create_organisation(uow, name=org.name,
                                      competent_authority=org.competent_authority,
                                      authorisation_id=org.authorisation_id, roles=org.roles,
                                      now=now, org_id=org.org_id)
    sw = directory._software(uow, app.app_id)
    if sw is None:
        return directory.create_software(
            uow, org_id=org.org_id, client_name=app.name[:40], redirect_uris=app.redirect_uris,
            roles=app.roles, jwks={"keys": [*_app_keys(app), registration_public]}, now=now,
            software_id=app.app_id)
    kept = [k for k in (sw.jwks or {}).get("keys", [])
            if k.get("kid") != registration_public["kid"]]
    sw.jwks = directory._public_jwks({"keys": [*kept, registration_public]})
    uow.session.flush()
    return sw


def _signing_alg(app: PortalApp) -> str:
    """The algorithm of the app's own keys (its client assertions and request objects)."""
    keys = _app_keys(app)
    return "PS256" if keys and keys[-1].get("kty") == "RSA" else "ES256"


def request_claims(app: PortalApp, *, ssa: str, issuer: str, now,
                   client_id: str | None = None) -> dict:
    """The registration request for the app's chosen profile and authentication."""
    alg = _signing_alg(app)
    fapi2 = app.profile == "fapi2"
    claims = {
        "iss": app.app_id, "aud": issuer.rstrip("/"), "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()), "jti": str(uuid.uuid4()),
        "software_id": app.app_id, "software_statement": ssa,
        "redirect_uris": list(app.redirect_uris), "grant_types": GRANT_TYPES,
        "response_types": ["code"] if fapi2 else ["code id_token"],
        "token_endpoint_auth_method": app.token_endpoint_auth_method,
        "application_type": "web", "id_token_signed_response_alg": "PS256",
        "request_object_signing_alg": alg,
    }
    if app.token_endpoint_auth_method == "private_key_jwt":
        claims["token_endpoint_auth_signing_alg"] = alg
    else:
        claims["tls_client_auth_subject_dn"] = transport_subject_dn(app)
    if fapi2:
        claims["dpop_bound_access_tokens"] = True
    else:
        claims["tls_client_certificate_bound_access_tokens"] = True
    if client_id:
        claims["client_id"] = client_id
    return claims


def transport_subject_dn(app: PortalApp) -> str:
    """The subject of the app's sandbox transport certificates (sandbox/certificates.py:
    C=GB, O=<organisation>, OU=<org_id>, CN=<app_id>)."""
    from . import certificates
    return certificates.subject_dn(app)


def _live_client(uow, app: PortalApp) -> OAuthClient | None:
    if not app.client_id:
        return None
    client = uow.session.scalars(select(OAuthClient).where(
        OAuthClient.client_id == app.client_id)).one_or_none()
    if client is None or client.deleted_at is not None or client.software_id != app.app_id:
        return None
    return client


def register_app(uow, app: PortalApp, *, p) -> Registered:
    """Register `app` with the bank (or update its registration); the caller commits."""
    now, issuer = p.clock.now(), p.config["ISSUER"]
    key = registration_key(uow, app, keyring=p.keyring, now=now)
    public = {**json.loads(key.export_public()), "kid": key.get("kid"), "alg": ALG, "use": "sig"}
    try:
        _software_statement(uow, app, public, now)
        ssa = directory.issue_ssa(uow, app.app_id, now=now, issuer=issuer, keyring=p.keyring)
    except (directory.DirectoryError, directory.NotFound) as error:
        raise RegistrationRefused(f"the sandbox directory refused the app: {error}") from None
    client = _live_client(uow, app)
    token = jwt.JWT(header={"alg": ALG, "kid": key.get("kid"), "typ": "JWT"},
                    claims=request_claims(app, ssa=ssa, issuer=issuer, now=now,
                                          client_id=client.client_id if client else None))
    token.make_signed_token(key)
    try:
        if client is None:
            client = registration.register_client(uow, token.serialize(), config=p.config,
                                                   now=now, replay=p.replay)
            created = True
        else:
            registration.update_client(uow, client, token.serialize(), config=p.config,
                                       now=now, replay=p.replay)
            created = False
    except registration.RegistrationError as error:
        raise RegistrationRefused(f"the bank refused the registration ({error.error}): "
                                  f"{error.description}") from None
    app.client_id = client.client_id
    app.updated_at = now
    uow.session.flush()
    return Registered(client.client_id, created)


# --- the button -------------------------------------------------------------------------------

bp = Blueprint("sandbox_portal_register", __name__, url_prefix="/developers/apps")
web_pages.protect_pages(bp)


@bp.post("/<app_id>/sandbox/register")
@auth.login_required
def register(app_id: str):
    from flask import g
    p = platform.current()
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    try:
        done = register_app(g.uow, app, p=p)
    except RegistrationRefused as error:
        g.uow.rollback()
        flash(str(error), "error")
    else:
        g.uow.commit()
        flash(f"Registered with the sandbox bank: client {done.client_id}" if done.created
              else f"Registration of client {done.client_id} updated", "success")
    return redirect(url_for("portal_quickstart.quickstart", app_id=app_id), 303)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.extensions[ONE_CLICK] = "sandbox_portal_register.register"
