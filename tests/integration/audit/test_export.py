"""Exporting a period: `flask audit export` and the auditors' page beside the regulator page
(/conformance/audit-trail). The export verifies offline from the previous record's hash; only
a signed-in developer-portal account an operator made an auditor gets a file; every export is
itself an audited event."""
from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest

from aspsp import audit
from aspsp.audit import chain
from tests.conftest import NOW
from tests.portal_factories import make_developer, sign_in

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGE = "/conformance/audit-trail"


def write_days(platform, clock, days: int = 3, per_day: int = 2) -> None:
    """Records on each of `days` days from NOW, `per_day` a day."""
    for day in range(days):
        for i in range(per_day):
            with platform.uow() as uow:
                audit.record(uow, "test.event", audit.Actor.system("test"),
                             now=NOW + timedelta(days=day, minutes=i),
                             subject=f"d{day}-{i}", facts={"day": day, "i": i})
                uow.commit()


def lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_cli_export_of_a_period_verifies_offline(app, platform, clock, tmp_path, capsys):
    write_days(platform, clock)
    day2 = (NOW + timedelta(days=1)).date().isoformat()
    out = tmp_path / "day2.jsonl"
    result = app.test_cli_runner().invoke(args=["audit", "export", "--from", day2, "--to",
                                                day2, "--output", str(out)])
    assert result.exit_code == 0, result.output
    exported = lines(out.read_text())
    assert [r["subject"] for r in exported] == ["d1-0", "d1-1"]
    assert [r["seq"] for r in exported] == [3, 4]
    # the previous record's hash (the last of day 1) is what the auditor checks it against
    everything = lines(app.test_cli_runner().invoke(args=["audit", "tail", "-n", "100"]).output)
    previous = everything[1]["hash"]
    assert exported[0]["prev_hash"] == previous
    capsys.readouterr()
    assert chain._main([str(out), "--previous-hash", previous]) == 0
    assert "2 records verified" in capsys.readouterr().out
    # a changed line in the file is named
    exported[1]["facts"]["i"] = 7
    out.write_text("".join(json.dumps(r) + "\n" for r in exported))
    assert chain._main([str(out), "--previous-hash", previous]) == 1
    assert "record 4" in capsys.readouterr().out
    # the export was itself audited, by the operator
    last = everything[-1]
    assert last["event_type"] == "admin.audit_exported"
    assert last["actor_type"] == "operator" and last["facts"]["records"] == 2


def grant(app, email: str):
    return app.test_cli_runner().invoke(args=["audit", "grant-auditor", email])


@pytest.fixture
def developers(platform, clock):
    with platform.uow() as uow:
        auditor = make_developer(uow, clock.now(), email="auditor@fca.example")
        other = make_developer(uow, clock.now(), email="dev@tpp.example")
        uow.commit()
    return auditor, other


def test_anonymous_visitors_are_sent_to_the_portal_login(client):
    response = client.get(PAGE)
    assert response.status_code == 303
    assert "/developers/login" in response.headers["Location"]
    assert client.post(PAGE, data={"from": "2026-06-15", "to": "2026-06-15"}).status_code in (
        303, 400)


def test_a_developer_who_is_no_auditor_gets_404(app, client, developers, clock):
    _, other = developers
    sign_in(client, other, clock.now())
    assert client.get(PAGE).status_code == 404


def test_an_auditor_downloads_the_period_and_the_export_is_audited(
        app, client, platform, clock, developers):
    auditor, _ = developers
    result = grant(app, "Auditor@FCA.example")
    assert result.exit_code == 0 and "is an auditor" in result.output
    write_days(platform, clock)
    sign_in(client, auditor, clock.now())
    page = client.get(PAGE)
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "Export a period" in html
    token = CSRF.search(html).group(1)
    day1 = NOW.date().isoformat()
    day2 = (NOW + timedelta(days=1)).date().isoformat()

    # no CSRF token: refused, nothing exported
    refused = client.post(PAGE, data={"from": day1, "to": day2, "format": "jsonl"})
    assert refused.status_code == 400

    response = client.post(PAGE, data={"csrf_token": token, "from": day1, "to": day2,
                                       "format": "jsonl"})
    assert response.status_code == 200
    assert response.headers["Content-Disposition"].startswith("attachment;")
    exported = lines(response.get_data(as_text=True))
    # grant-auditor (seq 1), then day 1 (2, 3) and day 2 (4, 5)
    assert [r["subject"] for r in exported] == [auditor.developer_id, "d0-0", "d0-1",
                                                "d1-0", "d1-1"]
    problem, count, _ = chain.first_break(exported, previous_hash=exported[0]["prev_hash"],
                                          first_seq=exported[0]["seq"])
    assert problem is None and count == 5

    as_csv = client.post(PAGE, data={"csrf_token": token, "from": day2, "to": day2,
                                     "format": "csv"})
    assert as_csv.status_code == 200 and as_csv.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(as_csv.get_data(as_text=True))))
    assert [r["subject"] for r in rows] == ["d1-0", "d1-1"]
    assert json.loads(rows[0]["facts"]) == {"day": 1, "i": 0}

    tail = lines(app.test_cli_runner().invoke(args=["audit", "tail", "-n", "2"]).output)
    assert [r["event_type"] for r in tail] == ["admin.audit_exported"] * 2
    assert (tail[0]["actor_type"], tail[0]["actor_id"]) == ("developer", auditor.developer_id)
    assert tail[0]["client_ip"] == "127.0.0.1"
    assert (tail[0]["facts"]["records"], tail[1]["facts"]["format"]) == (5, "csv")
    assert app.test_cli_runner().invoke(args=["audit", "verify"]).exit_code == 0


def test_bad_dates_are_answered_on_the_page(app, client, clock, developers):
    auditor, _ = developers
    grant(app, auditor.email)
    sign_in(client, auditor, clock.now())
    token = CSRF.search(client.get(PAGE).get_data(as_text=True)).group(1)
    for form in ({"from": "yesterday", "to": "2026-06-15"},
                 {"from": "2026-06-15", "to": "2026-06-01"},
                 {"from": "2026-06-15", "to": "2026-06-15", "format": "xml"}):
        response = client.post(PAGE, data={"csrf_token": token, **form})
        assert response.status_code == 400
        assert 'role="alert"' in response.get_data(as_text=True)


def test_a_revoked_auditor_gets_404_again(app, client, clock, developers):
    auditor, _ = developers
    grant(app, auditor.email)
    sign_in(client, auditor, clock.now())
    assert client.get(PAGE).status_code == 200
    result = app.test_cli_runner().invoke(args=["audit", "revoke-auditor", auditor.email])
    assert result.exit_code == 0 and "no longer" in result.output
    assert client.get(PAGE).status_code == 404


def test_grant_to_an_unknown_account_fails(app):
    result = grant(app, "nobody@example.com")
    assert result.exit_code != 0 and "no developer-portal account" in result.output


def test_the_regulator_page_links_to_the_export(client):
    html = client.get("/conformance").get_data(as_text=True)
    assert PAGE in html
