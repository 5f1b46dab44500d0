"""The events services behind the portal's webhooks pages (aspsp.events.services: deliveries,
delivery, resend, publish_test_event), on the cases the pages cannot easily reach: an event in
flight, one already queued, one dead-lettered, one of another client, and paging."""
from __future__ import annotations

from datetime import timedelta

import pytest

from aspsp import events
from aspsp.events import services
from aspsp.events.domain import EventStatus
from aspsp.events.errors import EventNotFound, EventRefused
from aspsp.events.models import EventNotification
from tests.integration.events.conftest import (  # noqa: F401  (fixtures used here)
    make_events_tpp, make_receiver, make_tpp, receiver)

RU = events.RESOURCE_UPDATE


@pytest.fixture
def tpp(make_events_tpp):
    return make_events_tpp()


def _test_event(app, platform, client_pk: int) -> str:
    with app.test_request_context(), platform.uow() as uow:
        jti = services.publish_test_event(uow, client_pk, RU, platform.clock.now())
        uow.commit()
    return jti


def _set(platform, jti: str, **values) -> None:
    with platform.uow() as uow:
        row = uow.session.query(EventNotification).filter_by(jti=jti).one()
        for name, value in values.items():
            setattr(row, name, value)
        uow.commit()


def _resend(app, platform, client_pk: int, jti: str) -> str:
    with app.test_request_context(), platform.uow() as uow:
        outcome = services.resend(uow, client_pk, jti, platform.clock.now())
        uow.commit()
    return outcome


def test_resend_leaves_an_event_in_flight_or_already_queued_alone(
        app, platform, tpp, receiver, clock):
    receiver.default = 500
    tpp.subscribe(receiver.url)
    pk = tpp.client.row.id
    jti = _test_event(app, platform, pk)
    assert len(receiver.received) == 1
    clock.advance(timedelta(seconds=3))
    now = clock.now()
    _set(platform, jti, lease_until=now + timedelta(seconds=30))         # a worker pushes it
    assert _resend(app, platform, pk, jti) == "already"
    _set(platform, jti, lease_until=None, next_attempt_at=now)           # its retry is due
    assert _resend(app, platform, pk, jti) == "already"
    assert len(receiver.received) == 1


def test_a_dead_lettered_event_is_resent_and_delivered(app, platform, tpp, receiver, clock):
    tpp.subscribe(receiver.url)
    pk = tpp.client.row.id
    jti = _test_event(app, platform, pk)
    _set(platform, jti, status=EventStatus.DEAD_LETTERED.value, next_attempt_at=None)
    clock.advance(timedelta(seconds=3))
    assert _resend(app, platform, pk, jti) == "queued"
    assert len(receiver.received) == 2
    with platform.uow() as uow:
        shown = services.delivery(uow, pk, jti, clock.now())
    assert shown.status == EventStatus.DELIVERED and len(shown.attempts) == 2
    assert [a.http_status for a in shown.attempts] == [202, 202]


def test_another_clients_event_is_not_found(app, platform, tpp, make_events_tpp, receiver):
    other = make_events_tpp(name="Other")
    tpp.subscribe(receiver.url)
    other.subscribe(receiver.url)
    jti = _test_event(app, platform, tpp.client.row.id)
    with platform.uow() as uow:
        with pytest.raises(EventNotFound):
            services.delivery(uow, other.client.row.id, jti, platform.clock.now())
    with pytest.raises(EventNotFound):
        _resend(app, platform, other.client.row.id, jti)
    with pytest.raises(EventNotFound):
        _resend(app, platform, tpp.client.row.id, "x" * 500)      # a jti too long: not found


def test_a_test_event_of_an_unknown_type_is_refused(app, platform, tpp):
    tpp.subscribe()
    with app.test_request_context(), platform.uow() as uow:
        with pytest.raises(EventRefused, match="nope is not an event type of this bank"):
            services.publish_test_event(uow, tpp.client.row.id, "nope", platform.clock.now())


def test_deliveries_come_newest_first_a_page_at_a_time(app, platform, tpp, clock):
    tpp.subscribe()                                                   # polling only
    pk = tpp.client.row.id
    jtis = []
    for _ in range(3):
        jtis.append(_test_event(app, platform, pk))
        clock.advance(timedelta(seconds=1))
    with platform.uow() as uow:
        first, more = services.deliveries(uow, pk, clock.now(), limit=2)
        rest, no_more = services.deliveries(uow, pk, clock.now(), limit=2, offset=2)
    assert [d.jti for d in first + rest] == jtis[::-1]
    assert more and not no_more
    assert all(d.status == EventStatus.PENDING and d.next_attempt_at is None
               and d.attempts == () for d in first)
