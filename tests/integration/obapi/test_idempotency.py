"""x-idempotency-key through a test blueprint that creates real consents: the same key and body
get the first response again and no second consent; another body is refused; keys are kept per
client and resource type for 24 hours; and 20 concurrent requests with one key (PostgreSQL,
committing for real) make exactly one consent and 20 identical responses."""
from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from aspsp import idempotency
from aspsp.idempotency import IdempotencyKey
from tests.conftest import create_pg_database, drop_pg_database, service_missing
from tests.integration.obapi.conftest import (CONSENTS, OTHER, PREFIX, SigningTpp,
                                              body_bytes, build_app, consent_count, errors)
from tests.oauth_factories import make_client


def key_rows(platform) -> int:
    with platform.uow() as uow:
        return uow.session.scalar(select(func.count()).select_from(IdempotencyKey))


# --- replay and mismatch ---------------------------------------------------------------------
def test_the_same_key_and_body_get_the_first_response_and_no_second_consent(tpp, platform):
    body = body_bytes()
    first = tpp.post(CONSENTS, body, key="payment-1")
    assert first.status_code == 201
    again = tpp.post(CONSENTS, body, key="payment-1")
    assert again.status_code == 201
    assert again.get_data() == first.get_data()
    assert again.headers["Content-Type"] == "application/json"
    assert consent_count(platform) == 1 and key_rows(platform) == 1


def test_a_replay_is_signed_like_the_first_response(tpp):
    from tests.integration.obapi.test_message_signing import verify_response
    body = body_bytes()
    tpp.post(CONSENTS, body, key="k")
    verify_response(tpp.http, tpp.post(CONSENTS, body, key="k"))


def test_a_replay_with_a_new_signature_and_token_is_still_a_replay(tpp, clock, platform):
    body = body_bytes()
    first = tpp.post(CONSENTS, body, key="k")
    clock.advance(timedelta(minutes=30))
    again = tpp.post(CONSENTS, body, key="k", token=tpp.token(), signature=tpp.sign(body))
    assert again.get_data() == first.get_data() and consent_count(platform) == 1


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(tpp, platform):
    first = tpp.post(CONSENTS, body_bytes(), key="k")
    other = body_bytes(["ReadAccountsDetail"])
    response = tpp.post(CONSENTS, other, key="k")
    assert response.status_code == 400
    assert errors(response) == [("UK.OBIE.Header.Invalid", "x-idempotency-key")]
    assert consent_count(platform) == 1
    assert tpp.post(CONSENTS, body_bytes(), key="k").get_data() == first.get_data()


def test_one_byte_of_difference_is_another_body(tpp, platform):
    body = body_bytes()
    tpp.post(CONSENTS, body, key="k")
    respaced = body.replace(b'"Risk": {}', b'"Risk":  {}')
    assert tpp.post(CONSENTS, respaced, key="k").status_code == 400
    assert consent_count(platform) == 1


# --- scope: per client, per resource type, 24 hours ------------------------------------------
def test_keys_are_per_client(tpp, make_signing_tpp, platform):
    other = make_signing_tpp()
    body = body_bytes()
    mine = tpp.post(CONSENTS, body, key="shared")
    theirs = other.post(CONSENTS, body, key="shared")
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["Data"]["ConsentId"] != theirs.get_json()["Data"]["ConsentId"]
    assert consent_count(platform) == 2


def test_keys_are_per_resource_type(tpp, platform):
    body = body_bytes()
    one = tpp.post(CONSENTS, body, key="k")
    two = tpp.post(OTHER, body, key="k")
    assert one.status_code == two.status_code == 201
    assert one.get_json()["Data"]["ConsentId"] != two.get_json()["Data"]["ConsentId"]
    assert consent_count(platform) == 2


def test_a_key_is_kept_24_hours_then_makes_a_new_resource(tpp, clock, platform):
    body = body_bytes()
    first = tpp.post(CONSENTS, body, key="k")
    clock.advance(timedelta(hours=24) - timedelta(seconds=1))
    assert tpp.post(CONSENTS, body, key="k").get_data() == first.get_data()
    clock.advance(timedelta(seconds=1))
    later = tpp.post(CONSENTS, body, key="k")
    assert later.status_code == 201
    assert later.get_json()["Data"]["ConsentId"] != first.get_json()["Data"]["ConsentId"]
    assert consent_count(platform) == 2 and key_rows(platform) == 1
    assert tpp.post(CONSENTS, body, key="k").get_data() == later.get_data()


def test_after_24_hours_another_body_is_a_new_request_not_a_mismatch(tpp, clock):
    tpp.post(CONSENTS, body_bytes(), key="k")
    clock.advance(timedelta(hours=25))
    assert tpp.post(CONSENTS, body_bytes(["ReadAccountsDetail"]), key="k").status_code == 201


def test_the_beat_schedule_sweeps_expired_keys(app, tpp, clock, platform):
    celery = app.extensions["celery"]
    assert idempotency.SWEEP_TASK in {e["task"] for e in celery.conf.beat_schedule.values()}
    tpp.post(CONSENTS, body_bytes(), key="old")
    clock.advance(timedelta(hours=23))
    tpp.post(CONSENTS, body_bytes(), key="new")
    clock.advance(timedelta(hours=1))
    celery.tasks[idempotency.SWEEP_TASK].delay()
    with platform.uow() as uow:
        assert list(uow.session.scalars(select(IdempotencyKey.key))) == ["new"]


# --- what is not kept, what is refused -------------------------------------------------------
def test_a_request_that_created_nothing_is_not_kept(tpp, platform):
    refused = tpp.post(CONSENTS, b'{"Risk": {}}', key="k")
    assert refused.status_code == 400
    assert key_rows(platform) == 0
    assert tpp.post(CONSENTS, body_bytes(), key="k").status_code == 201


def test_a_refused_signature_keeps_nothing(tpp, platform):
    body = body_bytes()
    assert tpp.post(CONSENTS, body, key="k", signature=tpp.sign(body, tan="x")).status_code \
        == 400
    assert key_rows(platform) == 0 and consent_count(platform) == 0


def test_the_key_is_required(tpp, platform):
    response = tpp.post(CONSENTS, body_bytes(), key=None)
    assert response.status_code == 400
    assert errors(response) == [("UK.OBIE.Header.Missing", "x-idempotency-key")]
    assert consent_count(platform) == 0


@pytest.mark.parametrize("key", ["x" * 41, " leading", "trailing ", "\t"])
def test_a_key_the_profile_does_not_allow_is_refused(tpp, platform, key):
    response = tpp.post(CONSENTS, body_bytes(), key=key)
    assert response.status_code == 400
    assert errors(response) == [("UK.OBIE.Header.Invalid", "x-idempotency-key")]
    assert consent_count(platform) == 0


def test_a_40_character_key_is_kept(tpp, platform):
    body = body_bytes()
    first = tpp.post(CONSENTS, body, key="k" * 40)
    assert tpp.post(CONSENTS, body, key="k" * 40).get_data() == first.get_data()
    assert consent_count(platform) == 1


# --- a view that breaks the protocol fails loudly -----------------------------------------------
@pytest.mark.parametrize("path", ["no-claim", "returns-another-response",
                                  "commit-before-respond", "claim-without-decorator"])
def test_a_view_that_misuses_the_api_is_a_500_never_a_silent_success(tpp, path):
    response = tpp.post(f"{PREFIX}/misuse/{path}", body_bytes(), key="k")
    assert response.status_code == 500
    assert errors(response) == [("UK.OBIE.UnexpectedError", None)]


def test_a_key_committed_without_its_response_is_never_replayed_as_a_success(tpp):
    path = f"{PREFIX}/misuse/commit-before-respond"
    assert tpp.post(path, body_bytes(), key="k").status_code == 500
    assert tpp.post(path, body_bytes(), key="k").status_code == 500


# --- the race ---------------------------------------------------------------------------------
@pytest.fixture
def racing_app(clock, tmp_path):
    try:
        url = create_pg_database("aspsp_idem_race")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    app = build_app({"DATABASE_URL": url}, clock, tmp_path)
    yield app
    app.extensions["aspsp"].db.engine.dispose()
    drop_pg_database(url)


def race(app, clock, bodies: list[bytes], idempotency_key: str) -> list:
    """POST each body at once from its own thread, all with one key; the answers in order.
    Tokens and signatures are made beforehand, so that the threads only race."""
    platform = app.extensions["aspsp"]
    with platform.uow() as uow:
        test_client = make_client(uow, now=clock.now(), roles=("AISP",))
        uow.commit()
    key = test_client.signing_key
    tpp = SigningTpp(app.test_client(), platform, clock, test_client, key, key.get("kid"),
                     "ES256")
    prepared = [dict(token=tpp.token(), signature=tpp.sign(body)) for body in bodies]
    start = threading.Barrier(len(bodies))
    answers: list = [None] * len(bodies)

    def post(i: int) -> None:
        caller = SigningTpp(app.test_client(), platform, clock, test_client, key, tpp.kid,
                            "ES256")
        start.wait()
        answers[i] = caller.post(CONSENTS, bodies[i], key=idempotency_key, **prepared[i])

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(bodies))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers


def test_twenty_concurrent_requests_with_one_key_make_one_consent(racing_app, clock):
    answers = race(racing_app, clock, [body_bytes()] * 20, str(uuid.uuid4()))
    assert [a.status_code for a in answers] == [201] * 20, \
        [a.get_data(as_text=True) for a in answers if a.status_code != 201]
    assert len({a.get_data() for a in answers}) == 1
    platform = racing_app.extensions["aspsp"]
    assert consent_count(platform) == 1 and key_rows(platform) == 1


def test_concurrent_requests_with_one_key_and_two_bodies_make_one_consent(racing_app, clock):
    """Whichever body commits first wins; the requests with the other body are refused, and
    those with the winning body get its response."""
    bodies = [body_bytes(), body_bytes(["ReadAccountsDetail"])] * 5
    answers = race(racing_app, clock, bodies, "shared-key")
    created = {a.get_data() for a in answers if a.status_code == 201}
    assert len(created) == 1
    winner = bodies[[a.get_data() for a in answers].index(next(iter(created)))]
    for body, answer in zip(bodies, answers):
        if body == winner:
            assert answer.status_code == 201
        else:
            assert answer.status_code == 400
            assert errors(answer) == [("UK.OBIE.Header.Invalid", "x-idempotency-key")]
    assert consent_count(racing_app.extensions["aspsp"]) == 1
