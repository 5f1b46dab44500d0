"""Aggregated polling, POST /open-banking/v3.1/events, over the same outbox as the push:
maxEvents, ack, setErrs, moreAvailable; an acknowledged event is never delivered again on
either channel; malformed requests get the spec's 400s."""
from __future__ import annotations

from datetime import timedelta

from aspsp.events.domain import EventStatus
from tests.integration.events.test_delivery import raise_event, sweep, verified_claims


def codes(response) -> list[str]:
    return [e["ErrorCode"] for e in response.get_json()["Errors"]]


def test_poll_ack_and_more_available(app, platform, tpp, outbox):
    tpp.subscribe()                                   # polling only: no callback
    jtis = [raise_event(app, platform, tpp, f"pay-{i}") for i in range(3)]
    first = tpp.poll({"maxEvents": 2, "returnImmediately": True})
    assert first.status_code == 200, first.get_json()
    body = first.get_json()
    assert body["moreAvailable"] is True
    assert set(body["sets"]) == set(jtis[:2])      # the oldest first
    for jti, token in body["sets"].items():
        claims = verified_claims(tpp.http, token)
        assert claims["jti"] == jti and claims["aud"] == tpp.client_id

    second = tpp.poll({"maxEvents": 2, "ack": jtis[:2]}).get_json()
    assert second == {"moreAvailable": False, "sets": {jtis[2]: second["sets"][jtis[2]]}}
    third = tpp.poll({"ack": [jtis[2]]}).get_json()
    assert third == {"moreAvailable": False, "sets": {}}
    assert {e.status for e in outbox()} == {EventStatus.ACKNOWLEDGED}


def test_unacknowledged_events_come_again_and_max_events_zero_only_tells(app, platform, tpp):
    tpp.subscribe()
    jti = raise_event(app, platform, tpp)
    assert list(tpp.poll({}).get_json()["sets"]) == [jti]
    assert list(tpp.poll({}).get_json()["sets"]) == [jti]      # not acked: again
    assert tpp.poll({"maxEvents": 0}).get_json() == {"moreAvailable": True, "sets": {}}


def test_set_errs_settle_an_event_as_refused(app, platform, tpp, outbox):
    tpp.subscribe()
    jti = raise_event(app, platform, tpp)
    response = tpp.poll({"setErrs": {jti: {"err": "jwtIss",
                                           "description": "Issuer not recognised"}}})
    assert response.get_json() == {"moreAvailable": False, "sets": {}}
    [event] = outbox()
    assert event.status == EventStatus.REFUSED
    assert event.last_error == "jwtIss: Issuer not recognised"


def test_an_acknowledged_event_is_never_pushed_again(
        app, platform, clock, tpp, receiver, attempts):
    tpp.subscribe(receiver.url)
    receiver.default = 500                            # the push keeps failing
    jti = raise_event(app, platform, tpp)
    assert list(tpp.poll({}).get_json()["sets"]) == [jti]
    tpp.poll({"ack": [jti]})
    clock.advance(timedelta(hours=1))
    assert sweep(app) == 0
    assert len(receiver.received) == 1 and len(attempts(jti)) == 1


def test_a_pushed_event_is_not_polled(app, platform, tpp, receiver):
    tpp.subscribe(receiver.url)
    raise_event(app, platform, tpp)
    assert len(receiver.received) == 1
    assert tpp.poll({}).get_json() == {"moreAvailable": False, "sets": {}}


def test_a_client_sees_and_settles_only_its_own_events(app, platform, make_events_tpp, outbox):
    owner, other = make_events_tpp(), make_events_tpp(name="Other")
    owner.subscribe()
    other.subscribe()
    jti = raise_event(app, platform, owner)
    assert other.poll({"ack": [jti]}).get_json() == {"moreAvailable": False, "sets": {}}
    assert outbox()[0].status == EventStatus.PENDING
    assert list(owner.poll({}).get_json()["sets"]) == [jti]


def test_bad_polls_get_the_spec_400s(tpp):
    tpp.subscribe()
    for body, code in (({"maxEvents": -1}, "UK.OBIE.Field.Invalid"),
                       ({"maxEvents": 101}, "UK.OBIE.Field.Invalid"),
                       ({"maxEvents": "ten"}, "UK.OBIE.Field.Invalid"),
                       ({"ack": "jti-1"}, "UK.OBIE.Field.Invalid"),
                       ({"ack": [""]}, "UK.OBIE.Field.Invalid"),
                       ({"setErrs": {"jti-1": {"err": "jwtIss"}}}, "UK.OBIE.Field.Missing"),
                       ({"setErrs": {"jti-1": "bad"}}, "UK.OBIE.Resource.InvalidFormat"),
                       ({"ack": ["a"], "setErrs": {"a": {"err": "dup", "description": "x"}}},
                        "UK.OBIE.Field.Invalid"),
                       ({"maxevents": 1}, "UK.OBIE.Field.Unexpected")):
        response = tpp.poll(body)
        assert response.status_code == 400, body
        assert code in codes(response), (body, response.get_json())


def test_polling_without_a_subscription_is_refused(tpp):
    response = tpp.poll({})
    assert response.status_code == 400
    assert codes(response) == ["UK.OBIE.Resource.NotFound"]
