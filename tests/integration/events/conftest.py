"""TPPs that subscribe to events with real DPoP-bound client-credentials tokens and signed
requests, and a real HTTP receiver on 127.0.0.1 (a threaded http.server) standing for a TPP's
/event-notifications endpoint: it records what arrives and answers what the test tells it."""
from __future__ import annotations

import json as _json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from aspsp.events.models import DeliveryAttempt, EventNotification
from tests.integration.consent.conftest import (  # noqa: F401  (fixtures used here)
    Tpp, customer, decide, make_customer, make_tpp)
from tests.integration.pis.conftest import SigningTpp

API = "/open-banking/v3.1"
SUBSCRIPTIONS = f"{API}/event-subscriptions"
EVENTS = f"{API}/events"


class EventsTpp(SigningTpp):
    """Signs PUT bodies too (the subscription resource's PUT is a signed request)."""

    def call(self, method: str, path: str, *, token=None, json=None, headers=None,
             proof: bool = True, sign: bool = True, **kw):
        if method == "PUT" and json is not None:
            headers = dict(headers or {})
            data = _json.dumps(json).encode()
            if sign and "x-jws-signature" not in headers:
                headers["x-jws-signature"] = self.signature(data)
            kw.update(data=data, content_type="application/json")
            json = None
        return super().call(method, path, token=token, json=json, headers=headers,
                            proof=proof, sign=sign, **kw)

    def subscribe(self, callback_url: str | None = None, *, version: str = "3.1",
                  event_types=None, scope: str = "accounts") -> str:
        data = {"Version": version}
        if callback_url:
            data["CallbackUrl"] = callback_url
        if event_types is not None:
            data["EventTypes"] = event_types
        response = self.call("POST", SUBSCRIPTIONS, token=self.token(scope=scope),
                             json={"Data": data})
        assert response.status_code == 201, response.get_json()
        return response.get_json()["Data"]["EventSubscriptionId"]

    def poll(self, body: dict, *, scope: str = "accounts"):
        return self.call("POST", EVENTS, token=self.token(scope=scope), json=body, sign=False)


@pytest.fixture
def make_events_tpp(make_tpp):
    def build(roles=("AISP", "PISP"), name="Event Watcher") -> EventsTpp:
        tpp = make_tpp(roles=roles, name=name)
        return EventsTpp(tpp.http, tpp.platform, tpp.clock, tpp.client)
    return build


@pytest.fixture
def tpp(make_events_tpp) -> EventsTpp:
    return make_events_tpp()


# --- the receiver --------------------------------------------------------------------------
@dataclass
class Received:
    path: str
    headers: dict
    body: bytes


@dataclass
class Receiver:
    """A TPP's event endpoint. `statuses`: the answers to give, in order (then `default`);
    `hold`: while set, requests wait on `release` before answering (a slow receiver);
    `delay`: seconds every answer waits besides; `log`: a list, possibly shared by several
    receivers, to which each appends (name, "arrived" or "answered", body) in the order
    things happened."""
    server: ThreadingHTTPServer
    received: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    default: int = 202
    hold: bool = False
    release: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    answered: list[tuple[bytes, int]] = field(default_factory=list)   # (body, status) sent
    delay: float = 0.0
    name: str = ""
    log: list | None = None

    def note(self, what: str, body: bytes) -> None:
        if self.log is not None:
            self.log.append((self.name, what, body))

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/open-banking/v3.1/event-notifications"

    def tokens(self) -> list[str]:
        return [r.body.decode() for r in self.received]


def _start_receiver(port: int = 0, **options) -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            receiver.received.append(Received(self.path, dict(self.headers), body))
            receiver.note("arrived", body)
            receiver.arrived.set()
            if receiver.hold:
                receiver.release.wait(120)
            if receiver.delay:
                time.sleep(receiver.delay)
            status = receiver.statuses.pop(0) if receiver.statuses else receiver.default
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            receiver.answered.append((body, status))
            receiver.note("answered", body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver = Receiver(server, **options)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return receiver


@pytest.fixture
def make_receiver():
    started: list[Receiver] = []

    def build(port: int = 0, **options) -> Receiver:
        started.append(_start_receiver(port, **options))
        return started[-1]
    yield build
    for receiver in started:
        receiver.release.set()
        receiver.server.shutdown()
        receiver.server.server_close()


@pytest.fixture
def receiver(make_receiver) -> Receiver:
    return make_receiver()


# --- what the bank stored --------------------------------------------------------------------
@pytest.fixture
def outbox(platform):
    def load(client_pk: int | None = None) -> list[EventNotification]:
        with platform.uow() as uow:
            query = select(EventNotification).order_by(EventNotification.id)
            if client_pk is not None:
                query = query.where(EventNotification.client_pk == client_pk)
            return [_snapshot(row) for row in uow.session.scalars(query)]
    return load


@pytest.fixture
def attempts(platform):
    def load(jti: str) -> list[DeliveryAttempt]:
        with platform.uow() as uow:
            return [_snapshot(row) for row in uow.session.scalars(select(DeliveryAttempt).join(
                EventNotification, EventNotification.id == DeliveryAttempt.event_pk)
                .where(EventNotification.jti == jti).order_by(DeliveryAttempt.id))]
    return load


def _snapshot(row) -> SimpleNamespace:
    """The row's columns as plain values (usable once its unit of work has ended)."""
    return SimpleNamespace(**{c.key: getattr(row, c.key) for c in row.__table__.columns})
