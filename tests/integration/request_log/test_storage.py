"""The log's switch, its retention sweep, its bounded buffer and its background writer; the
registration endpoints; masking of what cannot be parsed."""
from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from aspsp import request_log
from aspsp.cli import upgrade
from aspsp.request_log import RequestLogEntry, mask_text, masked_body
from bank import create_app
from tests import tpp_factories
from tests.conftest import NOW, TEST_ISSUER
from tests.integration.consent.conftest import CONSENTS
from tests.integration.request_log.conftest import stored_text
from tests.oauth_factories import dpop_token

PERMISSIONS = ["ReadAccountsDetail"]


def test_disabled_means_no_rows_and_no_hooks(database, clock, tmp_path, platform):
    app = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                      "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "t", "TESTING": True,
                      "ISSUER": TEST_ISSUER, "REQUEST_LOG_ENABLED": False})
    assert "request_log" not in app.extensions
    from tests.integration.consent.conftest import Tpp
    from tests.oauth_factories import make_client
    with platform.uow() as uow:
        test_client = make_client(uow, now=clock.now(), roles=("AISP",))
        uow.commit()
    tpp = Tpp(app.test_client(), app.extensions["aspsp"], clock, test_client)
    tpp.create_consent(PERMISSIONS)
    with platform.uow() as uow:
        assert uow.session.scalar(select(func.count()).select_from(RequestLogEntry)) == 0


def test_retention_below_one_day_is_refused(database, clock, tmp_path):
    with pytest.raises(ValueError, match="REQUEST_LOG_RETENTION_DAYS"):
        create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                    "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "t",
                    "REQUEST_LOG_RETENTION_DAYS": 0})


def _entry(client_id: str, at) -> RequestLogEntry:
    return RequestLogEntry(call_id=str(uuid.uuid4()), client_id=client_id, created_at=at, method="GET", path="/x",
                           status=200, latency_ms=1.0)


def test_the_sweep_deletes_rows_older_than_the_retention_only(app, platform, clock):
    with platform.uow() as uow:
        uow.session.add_all([_entry("c", NOW - timedelta(days=14, seconds=1)),
                             _entry("c", NOW - timedelta(days=30)),
                             _entry("c", NOW - timedelta(days=13, hours=23)),
                             _entry("c", NOW)])
        uow.commit()
    with app.app_context():
        assert request_log.sweep_request_log.delay().get() == 2     # the beat's task
    with platform.uow() as uow:
        kept = sorted(uow.session.scalars(select(RequestLogEntry.created_at)))
    assert kept == [NOW - timedelta(days=13, hours=23), NOW]


def test_the_sweep_is_on_the_beat(app):
    schedule = app.extensions["celery"].conf.beat_schedule
    assert {e["task"] for e in schedule.values()} >= {"request_log.sweep"}


def test_a_full_buffer_drops_and_counts_never_blocks(app, aisp, logged, monkeypatch):
    monkeypatch.setattr(request_log, "BUFFER_ROWS", 2)
    token = aisp.token()
    for _ in range(3):
        assert aisp.call("GET", f"{CONSENTS}/nope", token=token).status_code in (400, 404)
    log = app.extensions["request_log"]
    assert log.dropped == 1
    assert len(logged(aisp.client_id)) == 2
    assert log.dropped == 0                      # reported by the flush, then reset


def test_a_background_writer_stores_rows_without_a_flush(tmp_path, clock):
    """An app that builds its own Database (every deployment) writes from a thread."""
    url = f"sqlite:///{tmp_path / 'own.sqlite'}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "CLOCK": clock, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "t", "ISSUER": TEST_ISSUER, "CELERY_ALWAYS_EAGER": True})
    p = app.extensions["aspsp"]
    from tests.integration.consent.conftest import Tpp
    from tests.oauth_factories import make_client
    with p.uow() as uow:
        tpp = Tpp(app.test_client(), p, clock, make_client(uow, now=clock.now()))
        uow.commit()
    tpp.create_consent(PERMISSIONS)
    deadline = time.monotonic() + 10
    count = 0
    while time.monotonic() < deadline and not count:
        time.sleep(0.1)
        with p.uow() as uow:
            count = uow.session.scalar(select(func.count()).select_from(RequestLogEntry))
    assert count == 1
    assert app.extensions["request_log"]._thread.is_alive()
    p.db.engine.dispose()


def test_registration_and_its_management_are_logged(app, client, platform, clock, logged):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    request_jwt = tpp_factories.registration_jwt(tpp, ssa, issuer=app.config["ISSUER"],
                                                 now=clock.now())
    response = tpp_factories.post_registration(client, request_jwt)
    assert response.status_code == 201, response.json
    client_id = response.json["client_id"]
    from aspsp.oauth.models import OAuthClient
    with platform.uow() as uow:
        row = uow.session.scalars(select(OAuthClient).where(
            OAuthClient.client_id == client_id)).one()
        holder = tpp_factories.as_test_client(row, tpp)
        access = dpop_token(uow, holder, now=clock.now()).access_token
        uow.commit()
    url = f"{app.config['ISSUER']}/register/{client_id}"
    assert client.get(f"/register/{client_id}", headers=tpp_factories.dpop_headers(
        holder, access, "GET", url, now=clock.now())).status_code == 200

    rows = logged(client_id)
    assert [(r.method, r.path, r.status) for r in rows] == [
        ("POST", "/register", 201), ("GET", f"/register/{client_id}", 200)]
    assert rows[0].request_body == "[masked]"
    assert json.loads(rows[0].response_body)["client_id"] == client_id
    assert json.loads(rows[1].response_body)["software_statement"] == "[masked]"
    text = stored_text(rows)
    for secret in (request_jwt, ssa, access):
        assert secret not in text
    assert ssa.split(".")[2] not in text


def test_a_refused_registration_names_no_client_and_is_not_logged(client, logged):
    assert tpp_factories.post_registration(client, "eyJhbGciOiJub25lIn0.e30.").status_code \
        == 400
    assert logged() == []


# --- masking what cannot be parsed -----------------------------------------------------------
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def test_cut_json_is_masked_by_pattern():
    text = '{"id_token": "' + "A" * 50 + '", "Note": "' + JWT + '", "access_token": "abc'
    masked = mask_text(text)
    assert "A" * 50 not in masked and "abc" not in masked and JWT not in masked
    assert '"id_token": "[masked]"' in masked and '"Note": "[masked]"' in masked


def test_a_jwt_cut_in_its_header_is_still_masked():
    assert mask_text("x eyJhbGciOiJQUzI1") == "x [masked]"


def test_ob_fields_named_like_oauth_parameters_are_kept():
    body = masked_body(b'{"Code": "400 Bad Request", "Errors": [], "refresh_token": "r"}')
    assert body == '{"Code": "400 Bad Request", "Errors": [], "refresh_token": "[masked]"}'


def test_a_long_body_is_cut_and_says_so(aisp, logged):
    """The response of 64 KB is kept to BODY_LIMIT, and says how long it was."""
    token = aisp.token()
    long_text = "x" * 64000
    response = aisp.call("POST", CONSENTS, token=token, data='{"Data": "' + long_text + '"}',
                         content_type="application/json")
    assert response.status_code == 400
    [row] = logged(aisp.client_id)
    assert row.request_body.endswith(f"\n[... cut: {len(long_text) + 12} bytes in all]")
    assert len(row.request_body) < request_log.BODY_LIMIT + 50
