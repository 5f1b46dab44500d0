"""Organisations: the TPPs developers belong to (pages under /developers/organisations).

A developer whose e-mail is verified creates an organisation (legal name, competent authority
such as GB:FCA, its registration number there, PSD2 roles) and becomes its first admin. An
admin edits it, adds an existing developer by e-mail (as admin or developer), changes a
member's role and removes a member, never leaving it without an admin. Developers see the
organisation and its members and change nothing (403). Anyone else gets 404 on every URL
(developer_portal.auth.member_organisation). Every change is mirrored by the sandbox
directory through developer_portal.hooks.organisation_saved.
"""
from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass

from flask import (Blueprint, Flask, flash, g, redirect, render_template, request,
                   url_for)
from sqlalchemy import func, select
from werkzeug.exceptions import Forbidden

from aspsp import platform, web_pages

from . import add_nav, auth, hooks
from .models import (ADMIN, DEVELOPER, MEMBER_ROLES, PortalApp, PortalDeveloper,
                     PortalMembership, PortalOrganisation)

log = logging.getLogger(__name__)

bp = Blueprint("portal_organisations", __name__, url_prefix="/developers/organisations",
               template_folder="templates")

ROLES = ("AISP", "PISP", "CBPII")
ROLE_NAMES = {"AISP": "Account information (AISP)", "PISP": "Payment initiation (PISP)",
              "CBPII": "Card-based funds confirmation (CBPII)"}
COMPETENT_AUTHORITY = re.compile(r"^([A-Z]{2}):([A-Z0-9]{2,16})$")   # as the directory's
BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def guard_pages(blueprint: Blueprint) -> None:
    """CSRF, security headers and the refused-form page (aspsp.web_pages), and the portal's
    own page for a forbidden action (403)."""
    web_pages.protect_pages(blueprint)
    blueprint.register_error_handler(Forbidden, _forbidden)


def _forbidden(error):
    return web_pages.error_page("Only an administrator can do this",
                                "Your role in this organisation does not allow this change. "
                                "Ask one of its administrators.", 403)


guard_pages(bp)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
    add_nav(app, "Organisations", "portal_organisations.index")


def base62_id(length: int) -> str:
    return "".join(secrets.choice(BASE62) for _ in range(length))


class Refused(ValueError):
    """Input a page refuses; the message says what to change."""


# --- rules ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class OrganisationForm:
    name: str
    competent_authority: str
    authorisation_id: str
    roles: list[str]

    @classmethod
    def read(cls, form) -> tuple["OrganisationForm", list[str]]:
        """The form's values, and what is wrong with them (empty when nothing is)."""
        values = cls(name=(form.get("name") or "").strip(),
                     competent_authority=(form.get("competent_authority") or "").strip().upper(),
                     authorisation_id=(form.get("authorisation_id") or "").strip(),
                     roles=[r for r in ROLES if r in form.getlist("roles")])
        errors = []
        if not 1 <= len(values.name) <= 140:
            errors.append("Enter the organisation's legal name (1 to 140 characters).")
        if not COMPETENT_AUTHORITY.match(values.competent_authority):
            errors.append("The competent authority must look like GB:FCA (member state, "
                          "colon, authority).")
        if not 1 <= len(values.authorisation_id) <= 64:
            errors.append("Enter the registration number with the competent authority "
                          "(e.g. the FCA reference number, at most 64 characters).")
        unknown = set(form.getlist("roles")) - set(ROLES)
        if unknown or not values.roles:
            errors.append("Choose at least one PSD2 role: AISP, PISP or CBPII.")
        return values, errors


def organisations_of(uow, developer: PortalDeveloper) -> list[PortalMembership]:
    return auth.memberships(uow, developer)


def create_organisation(uow, developer: PortalDeveloper, values: OrganisationForm, now
                        ) -> PortalOrganisation:
    if developer.email_verified_at is None:
        raise Refused("Verify your e-mail address before you create an organisation: open "
                      "the link in the e-mail we sent you.")
    org = PortalOrganisation(org_id=base62_id(18), name=values.name,
                             competent_authority=values.competent_authority,
                             authorisation_id=values.authorisation_id, roles=values.roles,
                             created_at=now)
    uow.session.add(org)
    uow.session.flush()
    uow.session.add(PortalMembership(org_pk=org.id, developer_pk=developer.id, role=ADMIN,
                                     created_at=now))
    uow.session.flush()
    hooks.organisation_saved(uow, org)
    return org


def update_organisation(uow, org: PortalOrganisation, values: OrganisationForm) -> None:
    used = set()
    for app_roles in uow.session.scalars(select(PortalApp.roles).where(
            PortalApp.org_pk == org.id)):
        used |= set(app_roles or [])
    dropped = sorted(used - set(values.roles))
    if dropped:
        raise Refused(f"An app of this organisation uses {', '.join(dropped)}: take the role "
                      "off its apps first.")
    org.name, org.competent_authority = values.name, values.competent_authority
    org.authorisation_id, org.roles = values.authorisation_id, values.roles
    uow.session.flush()
    hooks.organisation_saved(uow, org)


def members(uow, org: PortalOrganisation) -> list[PortalMembership]:
    return list(uow.session.scalars(select(PortalMembership).where(
        PortalMembership.org_pk == org.id).order_by(PortalMembership.id)))


def _admins(uow, org: PortalOrganisation) -> int:
    # lock the organisation's admin rows (PostgreSQL) so two demotions cannot cross
    list(uow.session.scalars(select(PortalMembership.id).where(
        PortalMembership.org_pk == org.id, PortalMembership.role == ADMIN).with_for_update()))
    return uow.session.scalar(select(func.count()).select_from(PortalMembership).where(
        PortalMembership.org_pk == org.id, PortalMembership.role == ADMIN))


def add_member(uow, org: PortalOrganisation, email: str, role: str, now) -> PortalMembership:
    email = (email or "").strip().lower()
    if role not in MEMBER_ROLES:
        raise Refused("Choose a role: admin or developer.")
    if not email or "@" not in email or len(email) > 254:
        raise Refused("Enter the e-mail address the developer signed up with.")
    developer = uow.session.scalars(select(PortalDeveloper).where(
        PortalDeveloper.email == email)).one_or_none()
    if developer is None:
        raise Refused("No developer has signed up with that e-mail address. Ask them to "
                      "sign up first, then add them.")
    if auth._membership(uow, developer, org.id) is not None:
        raise Refused("That developer is already a member of this organisation.")
    membership = PortalMembership(org_pk=org.id, developer_pk=developer.id, role=role,
                                  created_at=now)
    uow.session.add(membership)
    uow.session.flush()
    return membership


def _member(uow, org: PortalOrganisation, developer_id: str) -> PortalMembership:
    found = uow.session.scalars(select(PortalMembership).join(
        PortalDeveloper, PortalDeveloper.id == PortalMembership.developer_pk).where(
        PortalMembership.org_pk == org.id,
        PortalDeveloper.developer_id == str(developer_id))).one_or_none()
    if found is None:
        raise Refused("That developer is not a member of this organisation.")
    return found


def change_role(uow, org: PortalOrganisation, developer_id: str, role: str) -> PortalMembership:
    if role not in MEMBER_ROLES:
        raise Refused("Choose a role: admin or developer.")
    membership = _member(uow, org, developer_id)
    if membership.role == ADMIN and role != ADMIN and _admins(uow, org) <= 1:
        raise Refused("An organisation needs at least one administrator: make another "
                      "member an administrator first.")
    membership.role = role
    uow.session.flush()
    return membership


def remove_member(uow, org: PortalOrganisation, developer_id: str) -> PortalMembership:
    membership = _member(uow, org, developer_id)
    if membership.role == ADMIN and _admins(uow, org) <= 1:
        raise Refused("An organisation needs at least one administrator: you cannot remove "
                      "the last one.")
    uow.session.delete(membership)
    uow.session.flush()
    return membership


# --- pages ------------------------------------------------------------------------------------

def _now():
    return platform.current().clock.now()


@bp.get("/")
@auth.login_required
def index():
    return render_template("portal/orgs.html",
                           memberships=organisations_of(g.uow, g.developer))


def _new_page(values=None, errors=(), status=200):
    return render_template("portal/org_new.html", values=values, errors=list(errors),
                           roles=ROLES, role_names=ROLE_NAMES,
                           unverified=g.developer.email_verified_at is None), status


@bp.get("/new")
@auth.login_required
def new():
    return _new_page()


@bp.post("/new")
@auth.login_required
def create():
    values, errors = OrganisationForm.read(request.form)
    if g.developer.email_verified_at is None:
        return _new_page(values, status=403)
    if errors:
        return _new_page(values, errors, 400)
    org = create_organisation(g.uow, g.developer, values, _now())
    g.uow.commit()
    log.info("portal organisation %s created by developer %s", org.org_id,
             g.developer.developer_id)
    flash(f"Organisation {org.name} created. You are its administrator.", "success")
    return redirect(url_for(".show", org_id=org.org_id), 303)


def _org_page(org, membership, *, errors=(), values=None, member_errors=(), status=200):
    apps = list(g.uow.session.scalars(select(PortalApp).where(
        PortalApp.org_pk == org.id).order_by(PortalApp.id)))
    return render_template("portal/org.html", org=org, membership=membership,
                           is_admin=membership.role == ADMIN,
                           members=members(g.uow, org), apps=apps, roles=ROLES,
                           role_names=ROLE_NAMES, member_roles=MEMBER_ROLES,
                           errors=list(errors), values=values or org,
                           member_errors=list(member_errors)), status


@bp.get("/<org_id>")
@auth.login_required
def show(org_id: str):
    org, membership = auth.member_organisation(g.uow, g.developer, org_id)
    return _org_page(org, membership)


@bp.post("/<org_id>")
@auth.login_required
def update(org_id: str):
    org, membership = auth.member_organisation(g.uow, g.developer, org_id, role=ADMIN)
    values, errors = OrganisationForm.read(request.form)
    if not errors:
        try:
            update_organisation(g.uow, org, values)
        except Refused as refused:
            errors = [str(refused)]
    if errors:
        g.uow.rollback()
        org, membership = auth.member_organisation(g.uow, g.developer, org_id, role=ADMIN)
        return _org_page(org, membership, errors=errors, values=values, status=400)
    g.uow.commit()
    flash("Organisation saved.", "success")
    return redirect(url_for(".show", org_id=org.org_id), 303)


def _member_action(org_id: str, action):
    org, membership = auth.member_organisation(g.uow, g.developer, org_id, role=ADMIN)
    try:
        message = action(org)
    except Refused as refused:
        g.uow.rollback()
        org, membership = auth.member_organisation(g.uow, g.developer, org_id, role=ADMIN)
        return _org_page(org, membership, member_errors=[str(refused)], status=400)
    g.uow.commit()
    flash(message, "success")
    if auth._membership(g.uow, g.developer, org.id) is None:
        return redirect(url_for("portal.index"), 303)
    return redirect(url_for(".show", org_id=org.org_id) + "#members", 303)


@bp.post("/<org_id>/members")
@auth.login_required
def add(org_id: str):
    def action(org):
        added = add_member(g.uow, org, request.form.get("email", ""),
                           request.form.get("role", DEVELOPER), _now())
        return f"{added.developer.email} is now a member ({added.role})."
    return _member_action(org_id, action)


@bp.post("/<org_id>/members/<developer_id>/role")
@auth.login_required
def role(org_id: str, developer_id: str):
    def action(org):
        changed = change_role(g.uow, org, developer_id, request.form.get("role", ""))
        return f"{changed.developer.email} is now {changed.role}."
    return _member_action(org_id, action)


@bp.post("/<org_id>/members/<developer_id>/remove")
@auth.login_required
def remove(org_id: str, developer_id: str):
    def action(org):
        removed = remove_member(g.uow, org, developer_id)
        return f"{removed.developer.email} is no longer a member."
    return _member_action(org_id, action)
