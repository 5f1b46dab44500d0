"""The webhook inspector's page in the developer portal (only while SANDBOX_ENABLED):
/developers/apps/<app_id>/sandbox/webhooks/inspector.

For a developer signed in to the portal and a member of the app's organisation
(developer_portal.auth.member_app: anyone else gets 404, so one organisation never sees
another's webhooks). It shows the app's inspector URL, every request it received (newest
first) with each SET decoded and its signature verified (sandbox/inspector.py), and a form
that points the app's event subscription at the inspector (the events API's own services:
a new subscription for every event type, or the existing one's CallbackUrl replaced).
"""
from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, url_for
from sqlalchemy import select

from aspsp import outbound, platform, web_pages
from aspsp.events import services as event_services
from aspsp.events.errors import EventsError
from aspsp.oauth.models import OAuthClient
from developer_portal import auth

from . import inspector

bp = Blueprint("sandbox_inspector_pages", __name__,
               url_prefix="/developers/apps/<app_id>/sandbox/webhooks",
               template_folder="templates")
web_pages.protect_pages(bp)


def _client_pk(app) -> int | None:
    """The bank's client registered for the portal app, if it is registered and live."""
    if not app.client_id:
        return None
    return g.uow.session.scalars(select(OAuthClient.id).where(
        OAuthClient.client_id == app.client_id, OAuthClient.deleted_at.is_(None))
    ).one_or_none()


@bp.get("/inspector")
@auth.login_required
def page(app_id: str):
    uow, now = g.uow, platform.current().clock.now()
    app, _ = auth.member_app(uow, g.developer, app_id)
    client_pk = _client_pk(app)
    if client_pk is None:
        return render_template("sandbox/inspector.html", app=app, inspector=None,
                               requests=[], subscription=None)
    found = inspector.inspector_for(uow, client_pk, now)
    requests = inspector.received(uow, found, now)
    subscriptions = event_services.subscriptions(uow, client_pk)
    uow.commit()
    return render_template("sandbox/inspector.html", app=app, inspector=found,
                           requests=requests, max_kept=inspector.MAX_KEPT,
                           subscription=subscriptions[0] if subscriptions else None)


@bp.post("/inspector/subscribe")
@auth.login_required
def subscribe(app_id: str):
    """Point the app's event subscription at its inspector."""
    uow, p = g.uow, platform.current()
    app, _ = auth.member_app(uow, g.developer, app_id)
    client_pk = _client_pk(app)
    target = url_for(".page", app_id=app.app_id)
    if client_pk is None:
        flash("Register the app with the bank first.", "error")
        return redirect(target, 303)
    found = inspector.inspector_for(uow, client_pk, p.clock.now())
    schemes = outbound.policy_from_config(p.config).schemes
    existing = event_services.subscriptions(uow, client_pk)
    try:
        if existing:
            old = existing[0]
            event_services.update_subscription(
                uow, client_pk, old.subscription_id, event_services.SubscriptionRequest(
                    found.callback_url, old.version,
                    list(old.event_types) if old.event_types is not None else None),
                p.clock.now(), schemes=schemes)
        else:
            event_services.create_subscription(
                uow, client_pk, event_services.SubscriptionRequest(found.callback_url, "3.1",
                                                                   None),
                p.clock.now(), schemes=schemes)
    except EventsError as error:
        flash(f"The subscription could not be changed: {error}", "error")
        return redirect(target, 303)
    uow.commit()
    flash("Events for this app are now pushed to its inspector.", "success")
    return redirect(target, 303)
