"""Who is signed in to the developer portal, and what they may see.

A developer's login lives in the browser's server-side session (aspsp.identity.sessions: the
cookie is a random id) under `portal_login`: {"developer": developer_id, "stage": "password" |
"done", "t": when the stage was reached, "since": when the password step was}. Only `done`
(password, then TOTP or a backup code) opens the portal's pages; as a customer's, the login
ends PSU_SESSION_LIFETIME after its password step, and the session's own idle timeout applies.

Everything an app or an organisation holds is reached through `member_app` /
`member_organisation`, which answer 404 to anyone who is not a member of the organisation:
one organisation never learns that another's app exists.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from functools import wraps

from flask import g, redirect, request, session, url_for
from sqlalchemy import select
from werkzeug.exceptions import Forbidden, NotFound

from aspsp import platform

from .models import (ADMIN, PortalApp, PortalDeveloper, PortalMembership,
                     PortalOrganisation)

SESSION_KEY = "portal_login"
PASSWORD, DONE = "password", "done"
SECOND_FACTOR_WITHIN = timedelta(minutes=5)


def begin_login(developer: PortalDeveloper, now: datetime) -> None:
    """The password step passed: the second factor is next (within five minutes)."""
    at = int(now.timestamp())
    session[SESSION_KEY] = {"developer": developer.developer_id, "stage": PASSWORD, "t": at,
                            "since": at}
    session.rotate()


def complete_login(developer: PortalDeveloper, now: datetime) -> None:
    """The second factor passed: the developer is signed in."""
    since = (session.get(SESSION_KEY) or {}).get("since", int(now.timestamp()))
    session[SESSION_KEY] = {"developer": developer.developer_id, "stage": DONE,
                            "t": int(now.timestamp()), "since": since}
    session.rotate()


def end_login() -> None:
    session.pop(SESSION_KEY, None)


def _developer_at(uow, stage: str, now: datetime, within: timedelta | None = None
                  ) -> PortalDeveloper | None:
    state = session.get(SESSION_KEY) or {}
    if state.get("stage") != stage:
        return None
    lifetime = timedelta(seconds=platform.current().config["PSU_SESSION_LIFETIME"])
    since, t = state.get("since"), state.get("t")
    if not isinstance(since, int) or not isinstance(t, int):
        end_login()
        return None
    if now.timestamp() - since > lifetime.total_seconds() or (
            within is not None and now.timestamp() - t > within.total_seconds()):
        end_login()
        return None
    developer = uow.session.scalars(select(PortalDeveloper).where(
        PortalDeveloper.developer_id == state.get("developer", ""))).one_or_none()
    if developer is None:
        end_login()
    return developer


def current_developer(uow, now: datetime | None = None) -> PortalDeveloper | None:
    """The developer signed in (both factors) in this browser, or None."""
    return _developer_at(uow, DONE, now or platform.current().clock.now())


def password_stage_developer(uow, now: datetime | None = None) -> PortalDeveloper | None:
    """The developer who passed the password step in the last five minutes and owes the
    second factor, or None."""
    return _developer_at(uow, PASSWORD, now or platform.current().clock.now(),
                         within=SECOND_FACTOR_WITHIN)


def login_required(view):
    """The view runs only for a signed-in developer (`g.developer`, with `g.uow` open for the
    view's whole run); anyone else goes to the login page and comes back afterwards."""
    @wraps(view)
    def guarded(*args, **kwargs):
        p = platform.current()
        with p.uow() as uow:
            developer = current_developer(uow, p.clock.now())
            if developer is None:
                target = request.full_path if request.method == "GET" else None
                return redirect(url_for("portal_accounts.login",
                                        next=target.rstrip("?") if target else None), 303)
            g.developer, g.uow = developer, uow
            try:
                return view(*args, **kwargs)
            finally:
                g.pop("uow", None)
    return guarded


def memberships(uow, developer: PortalDeveloper) -> list[PortalMembership]:
    """The developer's memberships, with their organisations, oldest first."""
    return list(uow.session.scalars(select(PortalMembership).where(
        PortalMembership.developer_pk == developer.id).order_by(PortalMembership.id)))


def _membership(uow, developer: PortalDeveloper, org_pk: int) -> PortalMembership | None:
    return uow.session.scalars(select(PortalMembership).where(
        PortalMembership.org_pk == org_pk,
        PortalMembership.developer_pk == developer.id)).one_or_none()


def _check_role(membership: PortalMembership, role: str | None) -> None:
    if role == ADMIN and membership.role != ADMIN:
        raise Forbidden("only an administrator of the organisation may do this")


def member_organisation(uow, developer: PortalDeveloper, org_id: str, *,
                        role: str | None = None
                        ) -> tuple[PortalOrganisation, PortalMembership]:
    """The organisation `org_id` and the developer's membership of it; 404 when there is no
    such organisation or the developer is not a member; 403 when `role` is 'admin' and the
    developer is only a developer there."""
    org = uow.session.scalars(select(PortalOrganisation).where(
        PortalOrganisation.org_id == str(org_id))).one_or_none()
    membership = _membership(uow, developer, org.id) if org is not None else None
    if membership is None:
        raise NotFound("no such organisation")
    _check_role(membership, role)
    return org, membership


def member_app(uow, developer: PortalDeveloper, app_id: str, *, role: str | None = None
               ) -> tuple[PortalApp, PortalMembership]:
    """The app `app_id` and the developer's membership of its organisation; 404 when there
    is no such app or the developer is not a member of its organisation; 403 when `role` is
    'admin' and the developer is only a developer there."""
    found = uow.session.scalars(select(PortalApp).where(
        PortalApp.app_id == str(app_id))).one_or_none()
    membership = _membership(uow, developer, found.org_pk) if found is not None else None
    if membership is None:
        raise NotFound("no such app")
    _check_role(membership, role)
    return found, membership


def apps_of(uow, developer: PortalDeveloper) -> list[PortalApp]:
    """Every app of every organisation the developer belongs to."""
    return list(uow.session.scalars(
        select(PortalApp).join(PortalMembership, PortalMembership.org_pk == PortalApp.org_pk)
        .where(PortalMembership.developer_pk == developer.id).order_by(PortalApp.id)))
