"""The webhook inspector (only while SANDBOX_ENABLED): a receiving URL inside the sandbox for
one client, for developers without a public endpoint of their own.

`/sandbox/inspector/<inspector_id>/...` (any path below it, any of METHODS) records each
request it receives (method, path, headers, the body as text, when) and answers 202 with no
body, the answer that delivers an event (aspsp.events.tasks). The id is opaque and belongs to
one client (one inspector per client); the newest MAX_KEPT requests are kept, older ones
dropped. Its callback URL ends in /event-notifications, as the events API wants of a
CallbackUrl; it is the platform's own address (ISSUER), which the sandbox's outbound policy
accepts over http and on loopback (aspsp.outbound.policy_from_config: SANDBOX_ENABLED adds
both), so the bank's real delivery task pushes to it like to any TPP.

Reading (`received`): each request whose body is a compact JWS is shown as a SET: its header
and claims decoded, and its signature checked against the bank's published JWKS, read from the
key store in-process (aspsp.oauth.keys.published_jwks, the keys GET /jwks serves), never over
HTTP to ourselves; plus what a TPP should check next (typ, alg, iss, aud).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import datetime

from flask import Blueprint, Response, current_app, request
from jwcrypto import jwk, jws
from jwcrypto.common import JWException
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, object_session

from aspsp import platform
from aspsp.db import UnitOfWork
from aspsp.events.services import SET_ALG, SET_TYP
from aspsp.oauth import keys
from aspsp.oauth.models import OAuthClient

from .models import InspectedRequest, WebhookInspector

PREFIX = "/sandbox/inspector"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CALLBACK_PATH = "event-notifications"
MAX_KEPT = 200
MAX_BODY_BYTES = 64 * 1024         # kept of a body; the size that arrived is recorded too
MAX_HEADERS = 100
MASKED = ("authorization", "proxy-authorization", "cookie")

bp = Blueprint("sandbox_inspector", __name__, url_prefix=PREFIX)


# --- the inspector of a client -----------------------------------------------------------------
@dataclass(frozen=True)
class Inspector:
    pk: int
    inspector_id: str
    client_id: str
    callback_url: str


def inspector_for(uow: UnitOfWork, client_pk: int, now: datetime) -> Inspector:
    """The client's inspector, made on first use."""
    return _inspector(uow.session, client_pk, now)


def _inspector(session: Session, client_pk: int, now: datetime) -> Inspector:
    client_id = session.scalars(select(OAuthClient.client_id).where(
        OAuthClient.id == client_pk)).one()
    row = session.scalars(select(WebhookInspector).where(
        WebhookInspector.client_pk == client_pk)).one_or_none()
    if row is None:
        row = WebhookInspector(inspector_id=_inspector_id(client_id), client_pk=client_pk,
                               created_at=now)
        session.add(row)
        session.flush()
    return Inspector(row.id, row.inspector_id, client_id, callback_url(row.inspector_id))


def _inspector_id(client_id: str) -> str:
    """Opaque and unguessable (a MAC of the client id under SECRET_KEY), and the same every
    time it is made: an inspector made in a transaction that did not commit comes back with
    the same URL."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(key, f"sandbox-webhook-inspector:{client_id}".encode(),
                    hashlib.sha256).hexdigest()[:32]


def portal_inspector_url(app) -> str | None:
    """For developer_portal.hooks' `inspector_url(app)`: the callback URL of the inspector of
    the portal app's registered client (made, in the portal's own transaction, on first use);
    None while the app has no live client."""
    session = object_session(app)
    if session is None or not app.client_id:
        return None
    client_pk = session.scalars(select(OAuthClient.id).where(
        OAuthClient.client_id == app.client_id, OAuthClient.deleted_at.is_(None))
    ).one_or_none()
    if client_pk is None:
        return None
    return _inspector(session, client_pk, platform.current().clock.now()).callback_url


def callback_url(inspector_id: str) -> str:
    issuer = current_app.config["ISSUER"].rstrip("/")
    return f"{issuer}{PREFIX}/{inspector_id}/{CALLBACK_PATH}"


def record(uow: UnitOfWork, inspector_id: str, *, method: str, path: str,
           headers: list[tuple[str, str]], body: bytes, size: int, now: datetime) -> bool:
    """Keep one request the inspector received (False: there is no such inspector), dropping
    the oldest beyond MAX_KEPT."""
    inspector_pk = uow.session.scalars(select(WebhookInspector.id).where(
        WebhookInspector.inspector_id == inspector_id)).one_or_none()
    if inspector_pk is None:
        return False
    uow.session.add(InspectedRequest(
        inspector_pk=inspector_pk, received_at=now, method=method[:10], path=path[:512],
        headers=[[name[:128], _masked(name, value)[:2048]]
                 for name, value in headers[:MAX_HEADERS]],
        body=body[:MAX_BODY_BYTES].decode("utf-8", "replace"), body_bytes=size))
    uow.session.flush()
    oldest_kept = uow.session.scalar(
        select(InspectedRequest.id).where(InspectedRequest.inspector_pk == inspector_pk)
        .order_by(InspectedRequest.id.desc()).offset(MAX_KEPT - 1).limit(1))
    if oldest_kept is not None:
        uow.session.execute(delete(InspectedRequest).where(
            InspectedRequest.inspector_pk == inspector_pk, InspectedRequest.id < oldest_kept))
    return True


def _masked(name: str, value: str) -> str:
    return "(masked)" if name.lower() in MASKED else value


# --- reading ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SetCheck:
    """A received body read as a Security Event Token."""
    valid: bool                     # signed by a key the bank publishes, with SET_ALG
    verdict: str                    # in words, for the page
    header: dict = field(default_factory=dict)
    claims: dict | None = None
    notes: tuple[str, ...] = ()     # what else a TPP would refuse it for (typ, iss, aud)

    def as_json(self) -> dict:
        return {"valid": self.valid, "verdict": self.verdict, "header": self.header,
                "claims": self.claims, "notes": list(self.notes)}


@dataclass(frozen=True)
class Received:
    received_at: datetime
    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: str
    body_bytes: int
    set: SetCheck | None            # None: the body is not a compact JWS

    @property
    def truncated(self) -> bool:
        return self.body_bytes > MAX_BODY_BYTES

    @property
    def header_text(self) -> str:
        return json.dumps(self.set.header, indent=2, sort_keys=True) \
            if self.set is not None else ""

    @property
    def claims_text(self) -> str:
        return json.dumps(self.set.claims, indent=2, sort_keys=True) \
            if self.set is not None and self.set.claims is not None else ""

    def as_json(self) -> dict:
        return {"received_at": self.received_at.isoformat(), "method": self.method,
                "path": self.path, "headers": [list(h) for h in self.headers],
                "body": self.body, "body_bytes": self.body_bytes,
                "set": self.set.as_json() if self.set is not None else None}


def received(uow: UnitOfWork, inspector: Inspector, now: datetime) -> list[Received]:
    """What the inspector received, newest first, each SET checked against the bank's keys
    as published now."""
    published = jwk.JWKSet()
    published.import_keyset(json.dumps(keys.published_jwks(uow, "aspsp", now=now)))
    issuer = current_app.config["ISSUER"].rstrip("/")
    rows = uow.session.scalars(select(InspectedRequest).where(
        InspectedRequest.inspector_pk == inspector.pk).order_by(InspectedRequest.id.desc()))
    return [Received(row.received_at, row.method, row.path,
                     tuple((str(n), str(v)) for n, v in row.headers or ()), row.body,
                     row.body_bytes,
                     check_set(row.body, published, issuer=issuer,
                               audience=inspector.client_id))
            for row in rows]


def check_set(body: str, published: jwk.JWKSet, *, issuer: str,
              audience: str) -> SetCheck | None:
    """The body as a SET: None when it is not a compact JWS at all."""
    token = (body or "").strip()
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]) or len(token) > MAX_BODY_BYTES:
        return None
    header, claims = _segment(parts[0]), _segment(parts[1])
    if not isinstance(header, dict):
        return None
    claims = claims if isinstance(claims, dict) else None
    valid, verdict = _signature(token, header, published)
    notes = []
    if header.get("typ") != SET_TYP:
        notes.append(f"typ is {header.get('typ')!r}, not {SET_TYP}")
    if claims is not None:
        if claims.get("iss") != issuer:
            notes.append(f"iss is {claims.get('iss')!r}, not the bank ({issuer})")
        if claims.get("aud") != audience:
            notes.append(f"aud is {claims.get('aud')!r}, not this client ({audience})")
        if not isinstance(claims.get("events"), dict):
            notes.append("there is no events claim")
    else:
        notes.append("the payload is not a JSON object")
    return SetCheck(valid, verdict, header, claims, tuple(notes))


def _segment(text: str):
    try:
        return json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
    except (ValueError, TypeError):
        return None


def _signature(token: str, header: dict, published: jwk.JWKSet) -> tuple[bool, str]:
    kid, alg = header.get("kid"), header.get("alg")
    if alg != SET_ALG:
        return False, f"Invalid: signed with {alg!r}; the bank signs SETs with {SET_ALG}"
    key = published.get_key(kid) if isinstance(kid, str) else None
    if key is None:
        return False, f"Invalid: kid {str(kid)[:64]!r} is not a key the bank publishes (/jwks)"
    try:
        parsed = jws.JWS()
        parsed.deserialize(token)
        parsed.verify(key, alg=SET_ALG)
    except (JWException, ValueError, TypeError):
        return False, "Invalid: the signature does not verify with the bank's key " \
                      f"{kid[:64]}"
    return True, f"Valid: signed by the bank's published key {kid[:64]} ({SET_ALG})"


# --- the receiving endpoint ------------------------------------------------------------------------
@bp.route("/<inspector_id>", methods=METHODS)
@bp.route("/<inspector_id>/<path:rest>", methods=METHODS)
def receive(inspector_id: str, rest: str = ""):
    """Record the request and answer 202 (404 for an inspector that does not exist)."""
    body = request.stream.read(MAX_BODY_BYTES + 1)
    size = max(request.content_length or 0, len(body))
    p = platform.current()
    with p.uow() as uow:
        if len(inspector_id) > 64 or not record(
                uow, inspector_id, method=request.method, path=request.full_path.rstrip("?"),
                headers=list(request.headers.items()), body=body, size=size,
                now=p.clock.now()):
            return _answer(404, "there is no webhook inspector at this address")
        uow.commit()
    return Response(status=202, headers={"Cache-Control": "no-store"})


def _answer(status: int, description: str) -> Response:
    body = json.dumps({"error": "not_found", "error_description": description})
    return Response(body, status=status, mimetype="application/json",
                    headers={"Cache-Control": "no-store"})
