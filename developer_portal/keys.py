"""An app's public keys (forms on the app's page, posted under /developers/apps/<id>/keys).

- Upload: a public JWKS (or one JWK) is added to the app's keys, refused when a key is
  private, weak, unnamed, not for signing, or repeats a kid (developer_portal.jwks_rules).
- Generate: an EC P-256 (ES256) or RSA 2048 (PS256) key pair is made here; its public half is
  added to the app, its private half is the answer to that one request, a download
  (Content-Disposition: attachment, Cache-Control: no-store) as PEM or as a JWK. It is never
  stored and never logged: no later request can see it again.
- Revoke: the key leaves the app's JWKS (and the sandbox directory's) at once. Rotation is
  add, switch over, revoke.
Every change bumps the app's updated_at and calls developer_portal.hooks.app_saved. Any member
of the app's organisation may change its keys; anyone else gets 404.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Flask, Response, flash, g, redirect, request, url_for

from aspsp import platform

from . import auth, hooks, jwks_rules
from .apps import render_app
from .models import PortalApp
from .organisations import guard_pages

log = logging.getLogger(__name__)

bp = Blueprint("portal_keys", __name__, url_prefix="/developers/apps/<app_id>/keys",
               template_folder="templates")
guard_pages(bp)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)


def _keys(app: PortalApp) -> list[dict]:
    return list((app.jwks or {}).get("keys", []))


def _saved(uow, app: PortalApp, keys: list[dict]) -> None:
    app.jwks = {"keys": keys}
    app.updated_at = platform.current().clock.now()
    uow.session.flush()
    hooks.app_saved(uow, app)


def add_keys(uow, app: PortalApp, added: list[dict]) -> None:
    _saved(uow, app, jwks_rules.merged(_keys(app), added))


def revoke_key(uow, app: PortalApp, kid: str) -> dict:
    keys = _keys(app)
    kept = [k for k in keys if k.get("kid") != kid]
    if len(kept) == len(keys):
        raise jwks_rules.KeyRefused("The app has no key with that kid (already revoked?).")
    _saved(uow, app, kept)
    return next(k for k in keys if k.get("kid") == kid)


@bp.post("/upload")
@auth.login_required
def upload(app_id: str):
    app, membership = auth.member_app(g.uow, g.developer, app_id)
    text = request.form.get("jwks", "")
    try:
        add_keys(g.uow, app, jwks_rules.parse_jwks(text))
    except jwks_rules.KeyRefused as refused:
        g.uow.rollback()
        app, membership = auth.member_app(g.uow, g.developer, app_id)
        # a refused private key is not shown back on the page
        shown = "" if "private" in str(refused) else text[:jwks_rules.MAX_JWKS_CHARS]
        return render_app(app, membership, key_errors=[str(refused)], jwks_text=shown,
                          status=400)
    g.uow.commit()
    log.info("portal app %s: public keys uploaded", app.app_id)
    flash("Keys added to the app.", "success")
    return redirect(url_for("portal_apps.show", app_id=app.app_id) + "#keys", 303)


@bp.post("/generate")
@auth.login_required
def generate(app_id: str):
    app, membership = auth.member_app(g.uow, g.developer, app_id)
    alg, fmt = request.form.get("alg", ""), request.form.get("format", "pem")
    try:
        if fmt not in ("pem", "jwk"):
            raise jwks_rules.KeyRefused("Choose the private key file's format: PEM or JWK.")
        pair = jwks_rules.generate(alg)
        add_keys(g.uow, app, [pair.public_jwk])
    except jwks_rules.KeyRefused as refused:
        g.uow.rollback()
        app, membership = auth.member_app(g.uow, g.developer, app_id)
        return render_app(app, membership, key_errors=[str(refused)], status=400)
    g.uow.commit()
    log.info("portal app %s: key %s generated (%s)", app.app_id, pair.kid, pair.alg)
    body, mimetype, suffix = (pair.private_pem, "application/x-pem-file", "pem") \
        if fmt == "pem" else (pair.private_jwk, "application/jwk+json", "jwk.json")
    response = Response(body, mimetype=mimetype)
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{app.app_id}-{pair.kid[:16]}-private.{suffix}"')
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Key-Id"] = pair.kid
    return response


@bp.post("/revoke")
@auth.login_required
def revoke(app_id: str):
    app, membership = auth.member_app(g.uow, g.developer, app_id)
    try:
        revoked = revoke_key(g.uow, app, request.form.get("kid", ""))
    except jwks_rules.KeyRefused as refused:
        g.uow.rollback()
        app, membership = auth.member_app(g.uow, g.developer, app_id)
        return render_app(app, membership, key_errors=[str(refused)], status=400)
    g.uow.commit()
    log.info("portal app %s: key %s revoked", app.app_id, revoked.get("kid"))
    flash(f"Key {revoked.get('kid')} revoked: it no longer verifies anything from the app.",
          "success")
    return redirect(url_for("portal_apps.show", app_id=app.app_id) + "#keys", 303)
