"""Webhooks in the developer portal: an app's event notifications (Event Notification API
v3.1.11), at /developers/apps/<app_id>/webhooks, for members of the app's organisation only
(developer_portal.auth.member_app: anyone else gets 404).

Everything goes through the events context's own services, for the bank's client registered
for the app (its `client_id`; an app not registered yet has nothing here, and the page says
so), exactly as the TPP's own API calls would:
- the subscription (callback URL, version, event types): services.create_subscription /
  update_subscription / delete_subscription, the functions behind POST / PUT / DELETE
  /event-subscriptions, so the page shows the very refusals the API answers with (and their
  field paths); in the sandbox the inspector's receiving URL is offered as the callback
  (developer_portal.hooks.inspector_url);
- every event with every push attempt (time, callback URL, HTTP status or error, latency,
  where it stands, the next retry): services.deliveries / delivery;
- each event's SET decoded (header and claims) and its signature checked against the bank's
  published JWKS, read in-process from the key store (aspsp.oauth.keys.published_jwks, what
  GET /jwks serves). The bank keeps an event's claims and signs them at each push and poll
  (a key rotation never strands an event): the SET shown is signed now, as the next push
  would carry it; the claims are those every delivery carried;
- resend one event to the current callback URL (services.resend: same jti, so the TPP
  deduplicates it; a double click sends once);
- a test event of any type (services.publish_test_event: real delivery, pushed when the
  subscription has a callback URL, else kept for polling, about a `test-...` resource that
  does not exist).
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from sqlalchemy import select

from aspsp import outbound, platform, web_pages
from aspsp.events import domain as event_domain
from aspsp.events import services as events
from aspsp.events.errors import (EventNotFound, EventRefused, EventsError,
                                 InvalidSubscription)
from aspsp.oauth import keys, trust
from aspsp.oauth.models import OAuthClient

from . import auth, hooks

bp = Blueprint("portal_webhooks", __name__, url_prefix="/developers/apps/<app_id>/webhooks",
               template_folder="templates")
web_pages.protect_pages(bp)

PAGE_SIZE = 25
EVENT_LABELS = {
    event_domain.RESOURCE_UPDATE: "resource-update",
    event_domain.CONSENT_AUTHORIZATION_REVOKED: "consent-authorization-revoked",
    event_domain.LINKED_ACCOUNT_UPDATE: "account-access-consent-linked-account-update",
}
DEFAULT_VERSION = "3.1"


# --- reading a SET -------------------------------------------------------------------------------
@dataclass(frozen=True)
class SetView:
    """A compact JWS read as the TPP would: decoded, then verified with the published JWKS."""
    token: str
    header: dict | None
    claims: dict | None
    valid: bool
    kid: str | None
    verdict: str

    @property
    def header_json(self) -> str:
        return _pretty(self.header)

    @property
    def claims_json(self) -> str:
        return _pretty(self.claims)


def decode_set(token: str, jwks: dict) -> SetView:
    """The SET's header and claims (decoded whatever the signature), and whether a key of
    `jwks` named by its kid verifies it with PS256 (no network: `jwks` is given)."""
    header, claims = _part(token, 0), _part(token, 1)
    kid = header.get("kid") if isinstance(header, dict) else None
    kid = kid if isinstance(kid, str) else None
    try:
        trust.verify_jws(token, jwks, algorithms=(events.SET_ALG,))
    except trust.InvalidSignature as exc:
        return SetView(token, header, claims, False, kid, f"invalid: {exc}")
    return SetView(token, header, claims, True, kid,
                   f"valid: signed {events.SET_ALG} by the bank's published key {kid}")


def _part(token: str, index: int) -> dict | None:
    parts = token.split(".") if isinstance(token, str) else []
    if len(parts) != 3:
        return None
    try:
        text = base64.urlsafe_b64decode(parts[index] + "=" * (-len(parts[index]) % 4))
        value = json.loads(text)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def _pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=False, ensure_ascii=False) \
        if value is not None else "(not JSON)"


# --- the app's client --------------------------------------------------------------------------
@dataclass(frozen=True)
class Context:
    app: object
    client_pk: int | None
    problem: str | None          # why there is nothing to show, for the empty state


def _context(app_id: str) -> Context:
    app, _ = auth.member_app(g.uow, g.developer, app_id)
    if not app.client_id:
        return Context(app, None, "unregistered")
    client_pk = g.uow.session.scalars(select(OAuthClient.id).where(
        OAuthClient.client_id == app.client_id, OAuthClient.deleted_at.is_(None))
    ).one_or_none()
    return Context(app, client_pk, None if client_pk is not None else "gone")


def _client(app_id: str) -> Context:
    """For the forms: the app's live client, else back to the page (its empty state)."""
    context = _context(app_id)
    if context.client_pk is None:
        abort(redirect(url_for(".page", app_id=app_id), 303))
    return context


def _attempt_url(subscription):
    """The callback URL an attempt went to, for the page. Attempts do not record it: one made
    since the subscription was last saved went to its current callback URL; an older one to
    the URL in force then, which the bank no longer knows."""
    def url(attempt) -> str:
        if subscription is None:
            return "(the subscription is deleted)"
        if subscription.updated_at is None or attempt.at >= subscription.updated_at:
            return subscription.callback_url or "(none)"
        return "(the callback URL before the subscription was changed " \
            f"{subscription.updated_at:%Y-%m-%d %H:%M:%S} UTC)"
    return url


def _schemes() -> tuple[str, ...]:
    return outbound.policy_from_config(platform.current().config).schemes


# --- pages ---------------------------------------------------------------------------------------
@bp.get("")
@auth.login_required
def page(app_id: str):
    return _render(_context(app_id))


def _render(context: Context, *, form: dict | None = None, problems=(), status: int = 200):
    p = platform.current()
    now = p.clock.now()
    values = dict(app=context.app, problem=context.problem, event_labels=EVENT_LABELS,
                  versions=event_domain.VERSIONS, problems=list(problems))
    if context.client_pk is None:
        return render_template("portal/webhooks.html", **values), status
    page_number = request.args.get("page", "1")
    page_number = int(page_number) if page_number.isdigit() and 0 < len(page_number) < 6 else 1
    page_number = max(page_number, 1)
    subscription = events.subscriptions(g.uow, context.client_pk)
    subscription = subscription[0] if subscription else None
    shown, more = events.deliveries(g.uow, context.client_pk, now, limit=PAGE_SIZE,
                                    offset=(page_number - 1) * PAGE_SIZE)
    values.update(subscription=subscription, deliveries=shown, more=more,
                  page_number=page_number, inspector_url=hooks.inspector_url(context.app),
                  form=form or _form_of(subscription), now=now,
                  attempt_url=_attempt_url(subscription))
    return render_template("portal/webhooks.html", **values), status


def _form_of(subscription) -> dict:
    if subscription is None:
        return {"callback_url": "", "version": DEFAULT_VERSION, "scope": "all", "types": []}
    return {"callback_url": subscription.callback_url or "", "version": subscription.version,
            "scope": "all" if subscription.event_types is None else "only",
            "types": list(subscription.event_types or ())}


@bp.post("/subscription")
@auth.login_required
def save_subscription(app_id: str):
    """Create or replace the app's subscription: POST or PUT /event-subscriptions' service."""
    context = _client(app_id)
    form = {"callback_url": request.form.get("callback_url", "").strip(),
            "version": request.form.get("version", DEFAULT_VERSION),
            "scope": "only" if request.form.get("scope") == "only" else "all",
            "types": request.form.getlist("event_types")}
    if request.form.get("use_inspector"):
        offered = hooks.inspector_url(context.app)
        if offered is None:
            return _render(context, form=form, status=400, problems=[
                ("CallbackUrl", "the sandbox offers no webhook inspector here")])
        form["callback_url"] = offered
    if form["scope"] == "only" and not form["types"]:
        return _render(context, form=form, status=400, problems=[
            ("EventTypes", "tick at least one event type, or choose every event type")])
    wanted = events.SubscriptionRequest(form["callback_url"] or None, form["version"],
                                        form["types"] if form["scope"] == "only" else None)
    p = platform.current()
    existing = events.subscriptions(g.uow, context.client_pk)
    try:
        if existing:
            events.update_subscription(g.uow, context.client_pk, existing[0].subscription_id,
                                       wanted, p.clock.now(), schemes=_schemes())
        else:
            events.create_subscription(g.uow, context.client_pk, wanted, p.clock.now(),
                                       schemes=_schemes())
    except InvalidSubscription as error:
        return _render(context, form=form, status=400,
                       problems=[(problem.path, problem.message) for problem in error.problems])
    g.uow.commit()
    flash("The event subscription is saved: " + (
        f"events are pushed to {wanted.callback_url}." if wanted.callback_url else
        "no callback URL, so events wait to be polled (POST /open-banking/v3.1/events)."),
        "success")
    return redirect(url_for(".page", app_id=app_id), 303)


@bp.post("/subscription/delete")
@auth.login_required
def delete_subscription(app_id: str):
    """DELETE /event-subscriptions/{id}'s service: no more events are raised for the app."""
    context = _client(app_id)
    existing = events.subscriptions(g.uow, context.client_pk)
    if existing:
        events.delete_subscription(g.uow, context.client_pk, existing[0].subscription_id)
        g.uow.commit()
        flash("The event subscription is deleted: the bank raises no more events for this "
              "app.", "success")
    else:
        flash("This app has no event subscription.", "error")
    return redirect(url_for(".page", app_id=app_id), 303)


@bp.post("/test")
@auth.login_required
def send_test(app_id: str):
    """A test event of the chosen type, through real delivery."""
    context = _client(app_id)
    try:
        jti = events.publish_test_event(g.uow, context.client_pk,
                                        request.form.get("event_type", ""),
                                        platform.current().clock.now())
    except EventsError as error:
        flash(f"No test event was sent: {error.message}", "error")
        return redirect(url_for(".page", app_id=app_id), 303)
    g.uow.commit()           # its push (with a callback URL) is sent after the commit
    flash(f"Test event {jti} raised.", "success")
    return redirect(url_for(".event", app_id=app_id, jti=jti), 303)


@bp.get("/events/<jti>")
@auth.login_required
def event(app_id: str, jti: str):
    context = _context(app_id)
    if context.client_pk is None:
        abort(404)
    p = platform.current()
    now = p.clock.now()
    try:
        shown = events.delivery(g.uow, context.client_pk, jti, now)
    except EventNotFound:
        abort(404)
    subscription = events.subscriptions(g.uow, context.client_pk)
    subscription = subscription[0] if subscription else None
    signed, unsigned = None, None
    try:
        signed = decode_set(events.sign(g.uow, shown.claims, now),
                            keys.published_jwks(g.uow, "aspsp", now=now))
    except keys.NoSigningKey as exc:
        unsigned = f"the bank has no signing key yet (try again in {exc.retry_after} s)"
    return render_template("portal/webhooks_event.html", app=context.app, delivery=shown,
                           set_view=signed, unsigned=unsigned, event_labels=EVENT_LABELS,
                           subscription=subscription, now=now,
                           attempt_url=_attempt_url(subscription))


@bp.post("/events/<jti>/resend")
@auth.login_required
def resend(app_id: str, jti: str):
    context = _client(app_id)
    target = url_for(".event", app_id=app_id, jti=jti)
    try:
        outcome = events.resend(g.uow, context.client_pk, jti, platform.current().clock.now())
    except EventNotFound:
        abort(404)
    except EventRefused as error:
        flash(f"Not re-sent: {error.message}", "error")
        return redirect(target, 303)
    g.uow.commit()           # the push is sent after the commit
    if outcome == "queued":
        flash("The event is re-sent to the current callback URL (same jti: your endpoint "
              "should deduplicate by jti).", "success")
    else:
        flash("A push of this event is already waiting, in flight, or was made a moment ago: "
              "nothing more was sent.", "notice")
    return redirect(target, 303)
