"""`/conformance`: the regulator page shows the latest conformance report of this deployment,
the runs before it, and serves the report files so that nothing in them runs in our origin.

The reports are written by the suite's own writer (specs/conformance/reports.py) from small
result sets, into run directories as `flask conformance run` keeps them."""
from __future__ import annotations

import json
import re
from html import unescape
from pathlib import Path

import pytest

from specs.conformance.engine import FAIL, PASS, SKIP, Result
from specs.conformance.reports import write_reports

CHROMIUM = "/usr/bin/chromium"          # Debian's, as tests/integration/psu_web/test_browser.py
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
HOSTILE = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def reports(app, tmp_path) -> Path:
    root = tmp_path / "reports"
    app.config["CONFORMANCE_REPORT_DIR"] = str(root)
    return root


def write_run(root: Path, run_id: str, results: list[Result], *, issuer="http://127.0.0.1:5000",
              commit="0123456789abcdef0123456789abcdef01234567") -> Path:
    directory = root / run_id
    started = f"{run_id[:4]}-{run_id[4:6]}-{run_id[6:8]}T{run_id[9:11]}:{run_id[11:13]}:{run_id[13:15]}+00:00"
    write_reports(results, {"issuer": issuer, "plans": sorted({r.plan for r in results}),
                            "only": None, "version": "0.1.0", "started": started,
                            "finished": started}, directory)
    (directory / "run.json").write_text(json.dumps({"exit_code": int(any(
        r.status == FAIL for r in results)), "commit": commit, "issuer": issuer}))
    return directory


def passing() -> list[Result]:
    return [Result("fapi2-discovery-end-point", "Discovery", "FAPI 2.0 5.3.1", "discovery", PASS),
            Result("DCR-002", "Register", "OBIE DCR 3.3", "dcr", PASS),
            Result("DCR-003", "Delete", "OBIE DCR 3.3", "dcr", SKIP, "no directory")]


def failing(message="PKCE plain was accepted") -> list[Result]:
    return [Result("fapi2-discovery-end-point", "Discovery", "FAPI 2.0 5.3.1", "discovery", PASS),
            Result("par-plain-pkce-rejected", "Plain PKCE is refused", "FAPI 2.0 5.3.2.2-3",
                   "fapi2", FAIL, message),
            Result("ensure-holder-of-key-required", "DPoP required", "FAPI 2.0 5.3.2.1-5",
                   "fapi2", PASS)]


def text_of(page: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", page)))


def test_no_report_yet_says_so_and_how_to_make_one(client, reports):
    response = client.get("/conformance")
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200 and response.mimetype == "text/html"
    assert "No report yet" in page
    assert "flask --app bank conformance run" in page
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Frame-Options"] == "DENY"
    assert 'href="/conformance"' in client.get("/").get_data(as_text=True)


def test_a_passing_report(client, reports):
    write_run(reports, "20261201T090000Z", passing())
    response = client.get("/conformance")
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Latest run: PASSED" in page
    assert "2026-12-01T09:00:00+00:00" in page
    assert "Against issuer http://127.0.0.1:5000" in page
    assert "version 0.1.0, commit 0123456789abcdef0123456789abcdef01234567" in page
    assert "3: 2 passed, 0 failed, 1 skipped" in page
    assert "discovery 1 0 0" in page and "dcr 1 0 1" in page
    assert "Failing checks" not in page
    links = re.findall(r'href="([^"]+)"', response.get_data(as_text=True))
    for name in ("report.html", "report.json", "junit.xml"):
        assert f"/conformance/runs/20261201T090000Z/{name}" in links


def test_a_failing_report_names_the_failing_checks_and_their_clauses(client, reports):
    write_run(reports, "20261201T090000Z", passing())
    write_run(reports, "20261202T090000Z", failing())
    html = client.get("/conformance").get_data(as_text=True)
    page = text_of(html)
    assert "Latest run: FAILED" in page
    assert "3: 2 passed, 1 failed, 0 skipped" in page
    assert "fapi2 1 1 0" in page
    failures = page.split("Failing checks", 1)[1]
    assert "fapi2/par-plain-pkce-rejected new since the run before Plain PKCE is refused " \
           "FAPI 2.0 5.3.2.2-3 PKCE plain was accepted" in failures
    assert "ensure-holder-of-key-required" not in failures
    assert 'href="/conformance/runs/20261202T090000Z/report.html#fapi2-par-plain-pkce-rejected"' \
        in html


def test_hostile_text_from_a_report_is_escaped(client, reports):
    results = failing(message=HOSTILE)
    results[1].title = HOSTILE
    results[1].clause = HOSTILE
    write_run(reports, "20261202T090000Z", results, issuer='http://x"><script>alert(2)</script>',
              commit="<b>c</b>")
    html = client.get("/conformance").get_data(as_text=True)
    assert "<script" not in html and "<img" not in html and "<b>c" not in html
    assert html.count("&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;") == 3
    assert "http://x&#34;&gt;&lt;script&gt;" in html


def test_the_files_are_served_with_their_types_and_a_csp_that_runs_no_script(client, reports):
    write_run(reports, "20261202T090000Z", failing(message=HOSTILE))
    base = "/conformance/runs/20261202T090000Z/"
    html = client.get(base + "report.html")
    assert html.status_code == 200 and html.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "Conformance report: FAILED" in html.get_data(as_text=True)
    csp = [d.strip() for d in html.headers["Content-Security-Policy"].split(";")]
    assert "default-src 'none'" in csp and "sandbox" in csp
    assert not any(d.startswith("script-src") for d in csp)
    assert "style-src 'unsafe-inline'" in csp        # the report's own inline style
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert html.headers["X-Frame-Options"] == "DENY"
    report = client.get(base + "report.json")
    assert report.headers["Content-Type"] == "application/json"
    assert report.get_json()["summary"] == {"total": 3, "pass": 2, "fail": 1, "skip": 0}
    junit = client.get(base + "junit.xml")
    assert junit.headers["Content-Type"] == "application/xml"
    assert junit.get_data(as_text=True).startswith("<?xml")
    for response in (report, junit):
        assert "sandbox" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    # Nothing else of the directory, nor anything outside it.
    (reports / "20261202T090000Z" / "secret.txt").write_text("no")
    assert client.get(base + "run.json").status_code == 404
    assert client.get(base + "secret.txt").status_code == 404
    assert client.get("/conformance/runs/..%2f..%2fsecret_key/report.json").status_code == 404
    assert client.get("/conformance/runs/20261203T090000Z/report.json").status_code == 404
    assert client.post(base + "report.json").status_code in (400, 405)


def test_the_history_is_newest_first_and_each_run_has_its_page(client, reports):
    write_run(reports, "20261130T235959Z", failing())
    write_run(reports, "20261202T090000Z", failing())
    write_run(reports, "20261201T090000Z", passing())
    write_run(reports, "20261202T090000Z-2", passing())
    (reports / ".20261203T090000Z.partial").mkdir()          # a run in progress: not shown
    html = client.get("/conformance").get_data(as_text=True)
    history = html.split('id="history"', 1)[1]
    assert re.findall(r'href="/conformance/runs/([^/"]+)/"', history) == [
        "20261202T090000Z-2", "20261202T090000Z", "20261201T090000Z", "20261130T235959Z"]
    assert [v for v in re.findall(r'class="verdict-[a-z-]+">([a-z ]+)<', history)] == [
        "passed", "failed", "passed", "failed"]
    assert "Latest run: PASSED" in text_of(html)
    older = client.get("/conformance/runs/20261202T090000Z/")
    page = text_of(older.get_data(as_text=True))
    assert older.status_code == 200 and "Run 20261202T090000Z: FAILED" in page
    assert "fapi2/par-plain-pkce-rejected new since the run before" in page
    oldest = text_of(client.get("/conformance/runs/20261130T235959Z/").get_data(as_text=True))
    assert "fapi2/par-plain-pkce-rejected Plain" in oldest        # nothing before it to compare
    assert client.get("/conformance/runs/20261203T090000Z/").status_code == 404


@pytest.mark.parametrize("content", [b"{not json", b'{"results": 3}', b"[1, 2]",
                                     b'{"results": [{"status": "exploded"}]}', b"\xff\xfe\x00"])
def test_a_malformed_report_is_a_plain_page_not_an_error(client, reports, content):
    write_run(reports, "20261201T090000Z", passing())
    broken = write_run(reports, "20261202T090000Z", failing())
    (broken / "report.json").write_bytes(content)
    response = client.get("/conformance")
    page = text_of(response.get_data(as_text=True))
    assert response.status_code == 200
    assert "Latest run: NO REPORT" in page
    assert "This run's report.json" in page
    assert "passed" in page.split("Runs kept", 1)[1]              # the run before still shows


def test_a_run_that_wrote_no_report_shows_the_suites_last_words(client, reports):
    directory = reports / "20261202T090000Z"
    directory.mkdir(parents=True)
    (directory / "run.json").write_text(json.dumps({
        "exit_code": 2, "issuer": "http://127.0.0.1:5000", "started": "2026-12-02T09:00:00+00:00",
        "error": "error: unknown plan <fapi9>"}))
    page = text_of(client.get("/conformance").get_data(as_text=True))
    assert "Latest run: NO REPORT" in page
    assert "This run wrote no report. The suite exited with code 2." in page
    assert "error: unknown plan <fapi9>" in page


def test_the_run_command_refuses_when_nothing_answers_at_the_issuer(app, reports):
    app.config["ISSUER"] = "http://127.0.0.1:9"                 # the discard port: closed
    result = app.test_cli_runner().invoke(args=["conformance", "run", "--plan", "discovery"])
    assert result.exit_code == 1
    assert "nothing answers at the ISSUER http://127.0.0.1:9" in result.output
    assert "make run" in result.output
    assert not reports.exists()


def test_the_page_and_the_report_render_in_chromium(tmp_path):
    """A real browser: the page's stylesheets load under its CSP, the report renders with its
    inline style under the report's sandbox CSP, and no script from a report runs."""
    import os
    import threading

    from werkzeug.serving import make_server

    from bank import create_app
    from tests.conftest import service_missing
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        service_missing("the playwright package", error)
    if not os.access(CHROMIUM, os.X_OK):
        service_missing(f"Chromium at {CHROMIUM}", FileNotFoundError(CHROMIUM))
    app = create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                      "CELERY_ALWAYS_EAGER": True, "TESTING": True,
                      "CONFORMANCE_REPORT_DIR": str(tmp_path / "reports")})
    write_run(tmp_path / "reports", "20261202T090000Z", failing(message=HOSTILE))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                problems: list[str] = []
                page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
                page.on("dialog", lambda d: (problems.append("dialog " + d.message), d.dismiss()))
                page.goto(base + "/")
                page.click("text=Conformance report")
                page.wait_for_load_state("load")     # its stylesheet too, not only the DOM
                assert page.url == base + "/conformance"
                assert page.locator("h2 .verdict").inner_text() == "FAILED"
                assert page.locator("table.failures pre.message").inner_text() == HOSTILE
                # regulator.css applied: the failed count is red and bold
                assert page.locator("td.failed").evaluate(
                    "e => getComputedStyle(e).fontWeight") == "600"
                page.click("text=evidence")
                page.wait_for_load_state("load")
                assert page.url.startswith(base + "/conformance/runs/20261202T090000Z/report.html#")
                assert page.locator("h1").inner_text() == "Conformance report: FAILED"
                # the report's inline style works under its CSP: the summary bar has its colours
                assert page.locator(".bar .fail").evaluate(
                    "e => getComputedStyle(e).backgroundColor") == "rgb(179, 38, 30)"
                assert page.locator(".bar .pass").evaluate("e => e.offsetWidth") > 0
                assert problems == []
            finally:
                browser.close()
    finally:
        server.shutdown()


def test_without_the_sandbox_the_page_says_a_configuration_is_needed(database, clock, tmp_path,
                                                                    redis_url):
    from bank import create_app
    from tests.conftest import TEST_ISSUER
    production = create_app({"DATABASE_URL": database.url, "DATABASE": database,
                             "CLOCK": clock, "CELERY_ALWAYS_EAGER": True,
                             "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "test-secret",
                             "TESTING": True, "ISSUER": TEST_ISSUER,
                             "SANDBOX_ENABLED": False, "REDIS_URL": redis_url})
    page = text_of(production.test_client().get("/conformance").get_data(as_text=True))
    assert "No report yet" in page and "--config FILE" in page
    assert "sandbox" not in page.lower()
    result = production.test_cli_runner().invoke(args=["conformance", "run"])
    assert result.exit_code == 1
    assert "SANDBOX_ENABLED is off: give the suite's configuration with --config FILE" \
        in result.output
