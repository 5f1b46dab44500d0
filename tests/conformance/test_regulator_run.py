"""`flask conformance run` against the live platform of conftest.py: the suite runs as a
subprocess against the app's own ISSUER with the sandbox configuration the command writes,
its report lands in a run directory of its own, old runs are pruned, and /conformance shows
it. Only the discovery plan runs (a few seconds): the plans themselves are tested elsewhere."""
from __future__ import annotations

import json
import os
import re
from html import unescape

import pytest

from sandbox import conformance as sandbox_conformance


@pytest.fixture
def live_app(platform_server, tmp_path):
    base, _config, weakening = platform_server
    app = weakening.app
    saved = {k: app.config.get(k) for k in ("CONFORMANCE_REPORT_DIR",
                                              "CONFORMANCE_REPORT_HISTORY")}
    app.config.update(CONFORMANCE_REPORT_DIR=str(tmp_path / "reports"),
                      CONFORMANCE_REPORT_HISTORY=2)
    yield app, base
    app.config.update(saved)


def test_flask_conformance_run_keeps_a_report_the_page_shows(live_app, tmp_path):
    app, base = live_app
    root = tmp_path / "reports"
    for old in ("20200101T000000Z", "20200102T000000Z"):      # two earlier runs, one to prune
        (root / old).mkdir(parents=True)
    (root / ".20200103T000000Z.partial").mkdir()              # a run that was stopped
    result = app.test_cli_runner().invoke(args=["conformance", "run", "--plan", "discovery"])
    assert result.exit_code == 0, result.output
    runs = sorted(p.name for p in root.iterdir() if not p.name.startswith("."))
    assert len(runs) == 2 and runs[0] == "20200102T000000Z"
    assert not list(root.glob("*.partial"))
    run_id = runs[1]
    assert re.fullmatch(r"\d{8}T\d{6}Z", run_id)
    assert f"Run {run_id} kept in" in result.output
    report = json.loads((root / run_id / "report.json").read_text())
    assert report["meta"]["issuer"] == base and report["meta"]["plans"] == ["discovery"]
    assert report["summary"]["fail"] == 0 and report["summary"]["pass"] >= 10
    info = json.loads((root / run_id / "run.json").read_text())
    assert info["exit_code"] == 0 and info["issuer"] == base

    # The sandbox test app it registered is written once and reused.
    tpp = app.config["INSTANCE_PATH"] + "/" + sandbox_conformance.TPP_FILE
    config = json.loads(open(tpp).read())
    assert config["psu"]["username"] == "alice" and config["redirect_uri"].startswith("https://")
    with app.app_context():
        assert str(sandbox_conformance.sandbox_configuration(app)) == tpp
    assert json.loads(open(tpp).read())["directory"]["software_id"] == \
        config["directory"]["software_id"]
    assert os.stat(tpp).st_mode & 0o777 == 0o600          # it holds the app's private key

    page = app.test_client().get("/conformance").get_data(as_text=True)
    text = re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page)))
    assert "Latest run: PASSED" in text
    assert f"Against issuer {base}" in text
    assert f"discovery {report['summary']['pass']} 0 {report['summary']['skip']}" in text
    assert f'href="/conformance/runs/{run_id}/report.html"' in page


def test_make_run_can_run_the_suite_in_the_background_once_serving(live_app, tmp_path,
                                                                     monkeypatch):
    """`make run CONFORMANCE_ON_START=discovery`: the dev server's background run, a child
    `flask conformance run` on this instance, leaves a report; the server is never waited on."""
    import threading

    from deploy import devserver

    app, base = live_app
    monkeypatch.setenv("DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("CONFORMANCE_REPORT_DIR", str(tmp_path / "reports"))
    stopping = threading.Event()
    thread, started = devserver.start_conformance_run(app, base, "discovery", stopping)
    thread.join(120)
    assert not thread.is_alive() and started and started[0].returncode == 0
    runs = [p for p in (tmp_path / "reports").iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1
    assert json.loads((runs[0] / "report.json").read_text())["meta"]["issuer"] == base
    log = open(app.config["INSTANCE_PATH"] + "/conformance-run.log").read()
    assert "checks:" in log and "0 failed" in log


def test_the_background_run_gives_up_quietly_when_nothing_answers(tmp_path, capsys):
    import threading
    from types import SimpleNamespace

    from deploy import devserver

    app = SimpleNamespace(config={"INSTANCE_PATH": str(tmp_path), "ISSUER": "http://127.0.0.1:9"})
    thread, started = devserver.start_conformance_run(app, "http://127.0.0.1:9", "discovery",
                                                      threading.Event(), wait_seconds=1)
    thread.join(30)
    assert not thread.is_alive() and started == []
    assert "did not answer" in capsys.readouterr().err


def test_the_regulator_run_presents_a_sandbox_certificate_so_fapi1_runs(live_app, tmp_path):
    """The live platform trusts its loopback as the TLS proxy (TRUSTED_PROXIES=127.0.0.1, as
    `TRUSTED_PROXIES=127.0.0.1 make run`): the run configuration carries a client certificate
    of the sandbox transport CA, sent as the proxy would, and every fapi1 check runs and
    passes; so do the dcr refusals of the expired and unknown-software SSAs it carries."""
    app, base = live_app
    result = app.test_cli_runner().invoke(args=["conformance", "run", "--plan", "fapi1,dcr"])
    assert result.exit_code == 0, result.output
    root = tmp_path / "reports"
    run_id = next(p.name for p in root.iterdir() if not p.name.startswith("."))
    report = json.loads((root / run_id / "report.json").read_text())
    results = {r["id"]: r for r in report["results"]}
    assert {i: r["status"] for i, r in results.items() if r["status"] != "pass"} == {}
    assert "fapi1-advanced-final" in results and "ensure-mtls-holder-of-key-required" in \
        " ".join(results)
    assert {"DCR-004-expired-ssa", "DCR-004-unknown-software"} <= set(results)
    config = json.loads(open(app.config["INSTANCE_PATH"] + "/"
                             + sandbox_conformance.TPP_FILE).read())
    assert config["mtls"]["header"] == "X-SSL-Client-Cert"
    assert "BEGIN CERTIFICATE" in config["mtls"]["certificate"]
    for name in ("report.json", "junit.xml", "report.html"):   # the key stays in the config
        assert "PRIVATE KEY" not in (root / run_id / name).read_text()
