"""Apps: an organisation's software statements (pages under /developers/apps).

Any member of an organisation (admin or developer) creates and edits its apps: a name (at
most 40 characters, the directory's limit), an https logo URL, redirect URIs (one per line:
absolute https, no fragment, kept exactly as typed), PSD2 roles among the organisation's, the
client authentication method (private_key_jwt or tls_client_auth) and the FAPI profile
(fapi2 with DPoP, or fapi1 with MTLS-bound tokens). The app's page shows all of it, its keys
(developer_portal.keys), its client id once registered, the one-click registration's part
(portal/app_registration.html, when it exists), its rate limits (read-only: the tier, the
burst and each API family's windows, aspsp.ratelimit) and the sandbox's pages for the app.
Anyone not a member of the app's organisation gets 404 (developer_portal.auth.member_app).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask import Blueprint, Flask, flash, g, redirect, render_template, request, url_for
from aspsp import platform, ratelimit
from aspsp.ratelimit.services import ClientLimits, client_limits_or_none

from . import add_nav, auth, hooks, jwks_rules
from .models import PortalApp, PortalOrganisation
from .organisations import ROLE_NAMES, base62_id, guard_pages

log = logging.getLogger(__name__)

bp = Blueprint("portal_apps", __name__, url_prefix="/developers/apps",
               template_folder="templates")
guard_pages(bp)

AUTH_METHODS = {"private_key_jwt": "private_key_jwt: a JWT signed with one of the app's keys",
                "tls_client_auth": "tls_client_auth: the app's MTLS client certificate"}
PROFILES = {"fapi2": "FAPI 2.0 (DPoP-bound tokens)",
            "fapi1": "FAPI 1.0 Advanced (MTLS-bound tokens)"}
MAX_REDIRECT_URIS = 10
MAX_URI_CHARS = 256          # the sandbox directory's limit


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_nav(app, "Apps", "portal_apps.index")


@dataclass(frozen=True)
class AppForm:
    name: str
    logo_uri: str
    redirect_uris: list[str]
    roles: list[str]
    token_endpoint_auth_method: str
    profile: str
    redirect_text: str

    @classmethod
    def read(cls, form, org: PortalOrganisation) -> tuple["AppForm", list[str]]:
        text = form.get("redirect_uris") or ""
        uris: list[str] = []
        for line in text.splitlines():
            line = line.strip()
            if line and line not in uris:
                uris.append(line)
        values = cls(name=(form.get("name") or "").strip(),
                     logo_uri=(form.get("logo_uri") or "").strip(), redirect_uris=uris,
                     roles=[r for r in org.roles if r in form.getlist("roles")],
                     token_endpoint_auth_method=form.get("token_endpoint_auth_method") or "",
                     profile=form.get("profile") or "", redirect_text=text)
        errors = []
        if not 1 <= len(values.name) <= 40:
            errors.append("Enter the app's name (1 to 40 characters).")
        if values.logo_uri:
            problem = https_problem(values.logo_uri, "The logo URL", 512)
            if problem:
                errors.append(problem)
        if not uris:
            errors.append("Enter at least one redirect URI (one per line).")
        if len(uris) > MAX_REDIRECT_URIS:
            errors.append(f"At most {MAX_REDIRECT_URIS} redirect URIs.")
        for uri in uris[:MAX_REDIRECT_URIS]:
            problem = https_problem(uri, f"Redirect URI {uri}", MAX_URI_CHARS)
            if problem is None and urlsplit(uri).fragment:
                problem = f"Redirect URI {uri} must not have a fragment (#...)."
            if problem:
                errors.append(problem)
        unknown = set(form.getlist("roles")) - set(org.roles)
        if unknown:
            errors.append(f"The organisation is not authorised for "
                          f"{', '.join(sorted(unknown))}: choose among "
                          f"{', '.join(org.roles)}.")
        elif not values.roles:
            errors.append("Choose at least one of the organisation's roles.")
        if values.token_endpoint_auth_method not in AUTH_METHODS:
            errors.append("Choose how the app authenticates: private_key_jwt or "
                          "tls_client_auth.")
        if values.profile not in PROFILES:
            errors.append("Choose a FAPI profile: fapi2 (DPoP) or fapi1 (MTLS).")
        return values, errors


def https_problem(uri: str, what: str, limit: int) -> str | None:
    """Why `uri` is not an absolute https URL (or too long), or None."""
    if len(uri) > limit:
        return f"{what} must be at most {limit} characters."
    if any(c.isspace() or ord(c) < 0x20 for c in uri):
        return f"{what} must not contain spaces."
    try:
        parts = urlsplit(uri)
        host = parts.hostname
    except ValueError:
        return f"{what} is not a URL."
    if parts.scheme != "https" or not host:
        return f"{what} must be an absolute https URL (https://...)."
    return None


def create_app_record(uow, org: PortalOrganisation, values: AppForm, now) -> PortalApp:
    app = PortalApp(app_id=base62_id(22), org_pk=org.id, name=values.name,
                    logo_uri=values.logo_uri or None, redirect_uris=values.redirect_uris,
                    roles=values.roles,
                    token_endpoint_auth_method=values.token_endpoint_auth_method,
                    profile=values.profile, jwks={"keys": []}, client_id=None,
                    created_at=now, updated_at=now)
    uow.session.add(app)
    uow.session.flush()
    hooks.app_saved(uow, app)
    return app


def update_app_record(uow, app: PortalApp, values: AppForm, now) -> None:
    app.name, app.logo_uri = values.name, values.logo_uri or None
    app.redirect_uris, app.roles = values.redirect_uris, values.roles
    app.token_endpoint_auth_method = values.token_endpoint_auth_method
    app.profile, app.updated_at = values.profile, now
    uow.session.flush()
    hooks.app_saved(uow, app)


# --- pages ------------------------------------------------------------------------------------

def _now():
    return platform.current().clock.now()


@bp.get("/")
@auth.login_required
def index():
    memberships = auth.memberships(g.uow, g.developer)
    return render_template("portal/apps.html", memberships=memberships,
                           apps=auth.apps_of(g.uow, g.developer))


def _form_page(org, *, app=None, values=None, errors=(), status=200):
    return render_template("portal/app_form.html", org=org, app=app, values=values,
                           errors=list(errors), auth_methods=AUTH_METHODS, profiles=PROFILES,
                           role_names=ROLE_NAMES), status


@bp.get("/new")
@auth.login_required
def new():
    org_id = request.args.get("org", "")
    if not org_id:
        memberships = auth.memberships(g.uow, g.developer)
        if len(memberships) == 1:
            org_id = memberships[0].organisation.org_id
        else:
            return render_template("portal/app_pick_org.html", memberships=memberships)
    org, _ = auth.member_organisation(g.uow, g.developer, org_id)
    return _form_page(org)


@bp.post("/new")
@auth.login_required
def create():
    org, _ = auth.member_organisation(g.uow, g.developer, request.form.get("org", ""))
    values, errors = AppForm.read(request.form, org)
    if errors:
        return _form_page(org, values=values, errors=errors, status=400)
    app = create_app_record(g.uow, org, values, _now())
    g.uow.commit()
    log.info("portal app %s created in organisation %s", app.app_id, org.org_id)
    flash(f"App {app.name} created. Add its public keys next.", "success")
    return redirect(url_for(".show", app_id=app.app_id), 303)


def render_app(app: PortalApp, membership, *, key_errors=(), jwks_text="", status=200):
    """The app's page (also re-shown by developer_portal.keys with a refused upload)."""
    keys = [{"key": key, "kind": jwks_rules.describe(key)} for key in (app.jwks or {}).get(
        "keys", [])]
    return render_template("portal/app.html", app=app, org=app.organisation,
                           membership=membership, keys=keys, key_errors=list(key_errors),
                           jwks_text=jwks_text, auth_methods=AUTH_METHODS, profiles=PROFILES,
                           algorithms=jwks_rules.ALGORITHMS,
                           sandbox_links=hooks.app_links(app),
                           rate_limits=_rate_limits(app)), status


def _rate_limits(app: PortalApp) -> dict:
    """The app's rate limits as the bank applies them (its client's tier and burst), or the
    default tier's while it is not registered."""
    limits = ratelimit.current()
    registered = client_limits_or_none(g.uow, limits, app.client_id)
    shown = registered or ClientLimits(
        client_id="", client_name=app.name, tier=limits.default_tier, tier_set=False, burst=0,
        families=limits.client_limits(None, None))
    return {"registered": registered is not None, "limits": shown,
            "names": ratelimit.FAMILY_NAMES}


@bp.get("/<app_id>")
@auth.login_required
def show(app_id: str):
    app, membership = auth.member_app(g.uow, g.developer, app_id)
    return render_app(app, membership)


@bp.get("/<app_id>/edit")
@auth.login_required
def edit(app_id: str):
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    return _form_page(app.organisation, app=app, values=app)


@bp.post("/<app_id>/edit")
@auth.login_required
def update(app_id: str):
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    values, errors = AppForm.read(request.form, app.organisation)
    if errors:
        return _form_page(app.organisation, app=app, values=values, errors=errors,
                          status=400)
    update_app_record(g.uow, app, values, _now())
    g.uow.commit()
    flash("App saved.", "success")
    return redirect(url_for(".show", app_id=app.app_id), 303)

