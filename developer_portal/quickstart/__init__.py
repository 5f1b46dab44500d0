"""The quickstart of one app (/developers/apps/<app_id>/quickstart): copy-paste Python
(ib_quickstart.py, beside this file, offered for download) and curl for the AIS and PIS
journeys, with the app's values filled in, and what the app's page shows about its
registration with the bank (`registration_of`, a template global used by
portal/app_registration.html).

The portal never imports the sandbox: while SANDBOX_ENABLED the sandbox puts the endpoint of
its one-click registration button in app.extensions[ONE_CLICK] (sandbox/portal_register.py);
in production there is no button and the page explains DCR by hand.
"""
from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, Flask, Response, current_app, g, render_template, url_for
from sqlalchemy import select

from aspsp import platform, web_pages
from aspsp.oauth.models import OAuthClient

from .. import auth

ONE_CLICK = "developer_portal.one_click_register"   # the sandbox's register endpoint name
SCRIPT = Path(__file__).with_name("ib_quickstart.py")
SCRIPT_NAME = SCRIPT.name
REGISTRATION_KID_PREFIX = "sandbox-registration-"
ENDPOINTS = ("issuer", "authorization_endpoint", "token_endpoint",
             "pushed_authorization_request_endpoint", "registration_endpoint", "jwks_uri")

bp = Blueprint("portal_quickstart", __name__, url_prefix="/developers/apps",
               template_folder="templates")
web_pages.protect_pages(bp)


def discovery() -> dict:
    """The bank's discovery document, as /.well-known/openid-configuration serves it."""
    from aspsp.oauth import views
    return views.discovery().get_json()


def app_key_ids(app) -> list[str]:
    """The kids of the app's own keys (not the sandbox's registration key), newest last."""
    return [str(k.get("kid")) for k in (app.jwks or {}).get("keys", [])
            if isinstance(k, dict) and k.get("kid")
            and not str(k["kid"]).startswith(REGISTRATION_KID_PREFIX)]


def registration_of(app) -> dict:
    """What portal/app_registration.html shows: the bank's client of the app (None until
    registered, or when its registration was deleted), its endpoints, and the sandbox's
    register button (None in production)."""
    uow = g.get("uow")
    client = None
    if app.client_id and uow is not None:
        found = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == app.client_id)).one_or_none()
        if found is not None and found.deleted_at is None:
            client = found
    endpoint = current_app.extensions.get(ONE_CLICK)
    meta = discovery()
    return {
        "client": client,
        "metadata": (client.client_metadata or {}) if client else {},
        "endpoints": [(name, meta[name]) for name in ENDPOINTS if name in meta],
        "register_url": url_for(endpoint, app_id=app.app_id) if endpoint else None,
        "quickstart_url": url_for("portal_quickstart.quickstart", app_id=app.app_id),
        "sandbox": bool(current_app.config.get("SANDBOX_ENABLED")),
    }


def command_line(app, issuer: str, *, journey: str = "ais") -> str:
    kids = app_key_ids(app)
    parts = [f"python {SCRIPT_NAME}", f"--issuer {issuer}",
             f"--client-id {app.client_id or 'YOUR_CLIENT_ID'}",
             f"--key {key_file_name(app)}",
             # --kid=: a generated key's id (a thumbprint) may begin with "-", which
             # argparse would otherwise read as an option
             f"--kid={kids[-1] if kids else 'YOUR_KEY_ID'}",
             f"--redirect-uri {(app.redirect_uris or ['https://YOUR_REDIRECT_URI'])[0]}"]
    if journey != "ais":
        parts += [f"--org-id {app.organisation.org_id}", f"--software-id {app.app_id}"]
    return " \\\n    ".join(parts) + f" {journey}"


def key_file_name(app) -> str:
    """The name the portal gives the private key the developer downloads (PEM; a JWK
    download ends .jwk.json instead: the script reads either)."""
    kids = app_key_ids(app)
    return f"{app.app_id}-{kids[-1][:16]}-private.pem" if kids else "YOUR_PRIVATE_KEY.pem"


@bp.get("/<app_id>/quickstart")
@auth.login_required
def quickstart(app_id: str):
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    issuer = platform.current().config["ISSUER"].rstrip("/")
    return render_template(
        "portal/quickstart.html", app=app, issuer=issuer, script_name=SCRIPT_NAME,
        script=SCRIPT.read_text(encoding="utf-8"), key_file=key_file_name(app),
        kids=app_key_ids(app), ais_command=command_line(app, issuer),
        pis_command=command_line(app, issuer, journey="pis"),
        host=urlsplit(issuer).hostname,
        fapi2_dpop=app.profile == "fapi2" and app.token_endpoint_auth_method == "private_key_jwt",
        sandbox=bool(current_app.config.get("SANDBOX_ENABLED")))


@bp.get("/<app_id>/quickstart/" + SCRIPT_NAME)
@auth.login_required
def script(app_id: str):
    auth.member_app(g.uow, g.developer, app_id)
    return Response(SCRIPT.read_bytes(), mimetype="text/x-python", headers={
        "Content-Disposition": f'attachment; filename="{SCRIPT_NAME}"'})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    app.jinja_env.globals["portal_registration"] = registration_of
