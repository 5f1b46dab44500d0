"""The conformance suite's own rules: how a check's outcome is decided, what its evidence keeps
(never a secret), what the reports say (escaped), the command's exit status, and that the
suite is black-box (it imports nothing from the platform)."""
from __future__ import annotations

import ast
import io
import json
import threading
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from specs.conformance import engine, reports
from specs.conformance.__main__ import main
from specs.conformance.engine import Check, Context, Result, expect, skip

SUITE = Path(__file__).resolve().parents[2] / "specs" / "conformance"
PLATFORM_PACKAGES = {"aspsp", "consent", "sandbox", "developer_portal", "tests", "migrations",
                     "wsgi", "bench"}
JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def outcome(fn, needs=(), outcomes=None) -> Result:
    check = Check("C-1", "a check", "RFC 0000, 1", "unit", fn, needs)
    return engine.run_check(check, Context("https://bank.example", {}), outcomes or {})


def test_a_check_passes_only_when_nothing_fails():
    assert outcome(lambda ctx: expect(True, "fine")).status == "pass"


def test_a_failed_expectation_fails_the_check_with_its_message():
    result = outcome(lambda ctx: expect(False, "iss is missing"))
    assert (result.status, result.message) == ("fail", "iss is missing")


def test_a_crashing_check_is_a_failure_never_a_pass():
    def crash(ctx):
        return {}["missing"]
    result = outcome(crash)
    assert result.status == "fail" and "KeyError" in result.message


def test_a_check_can_skip_with_its_reason():
    result = outcome(lambda ctx: skip("no directory configured"))
    assert (result.status, result.message) == ("skip", "no directory configured")


def test_a_check_whose_prerequisite_did_not_pass_is_skipped_not_run():
    ran = []
    result = outcome(lambda ctx: ran.append(1), needs=("HAPPY",), outcomes={"HAPPY": "fail"})
    assert result.status == "skip" and "HAPPY" in result.message and ran == []


def test_evidence_redacts_credentials_in_headers_forms_json_urls_and_jwts():
    response = requests.Response()
    response.status_code = 303
    response.headers.update({"Location": f"https://tpp.example/cb?code=abc123&state=s1&iss=x",
                             "Content-Type": "application/json", "Set-Cookie": "session=zzz"})
    response._content = json.dumps({"access_token": "tok-secret", "token_type": "DPoP",
                                    "Errors": [{"ErrorCode": "UK.OBIE.Field.Invalid"}],
                                    "Code": "400 BadRequest"}).encode()
    response.request = requests.Request(
        "POST", "https://bank.example/token?request_uri=x",
        headers={"Authorization": "DPoP tok-secret", "DPoP": JWT},
        data={"client_assertion": JWT, "code_verifier": "verifier-secret", "grant_type": "x",
              "password": "hunter2", "note": f"inline {JWT}"}).prepare()
    summary = json.dumps(engine.summarise_exchange(response))
    for secret in ("tok-secret", "verifier-secret", "hunter2", "abc123", "zzz", JWT):
        assert secret not in summary
    # What is not a credential stays readable: an OB error code, the state, the grant type.
    for kept in ("UK.OBIE.Field.Invalid", "400 BadRequest", "state=s1", "DPoP\"", "grant_type"):
        assert kept in summary


def test_only_selects_by_glob_on_the_id_or_plan_and_id_or_substring_with_what_they_need():
    checks = [Check(i, i, "", p, lambda ctx: None, n) for i, p, n in (
        ("DCR-001", "dcr", ()), ("DCR-011", "dcr", ()), ("fapi2-x-happy-flow", "fapi2", ()),
        ("fapi2-x-refresh", "fapi2", ("fapi2-x-happy-flow",)))]
    assert [c.id for c in engine.select(checks, "DCR-01*")] == ["DCR-011"]
    assert [c.id for c in engine.select(checks, "dcr/*")] == ["DCR-001", "DCR-011"]
    assert [c.id for c in engine.select(checks, "happy-flow,DCR-001")] == [
        "DCR-001", "fapi2-x-happy-flow"]
    assert [c.id for c in engine.select(checks, "*refresh")] == [
        "fapi2-x-happy-flow", "fapi2-x-refresh"]


HOSTILE = '<script>alert("x")</script>'


def hostile_results() -> list[Result]:
    evidence = [{"request": {"method": "GET", "url": f"https://bank.example/{HOSTILE}",
                             "headers": {}, "body": None},
                 "response": {"status": 400, "headers": {}, "body": HOSTILE}},
                {"note": HOSTILE}]
    return [Result("A-1", f"title {HOSTILE}", f"clause {HOSTILE}", "discovery", "fail",
                   f"message {HOSTILE}", evidence, 0.01),
            Result("A-2", "ok", "RFC 1", "discovery", "pass"),
            Result("B-1", "skipped", "RFC 2", "dcr", "skip", "no directory")]


def test_the_html_report_escapes_everything_the_aspsp_and_checks_say():
    page = reports.to_html(hostile_results(), {"issuer": HOSTILE, "plans": ["discovery"]})
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "Conformance report: FAILED" in page
    assert "3 checks: 1 passed, 1 failed, 1 skipped" in page


def test_the_junit_report_counts_failures_and_skips_per_plan():
    root = ET.fromstring(reports.to_junit(hostile_results(), {"issuer": "x"}))
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("3", "1", "1")
    discovery = root.find("testsuite[@name='discovery']")
    failure = discovery.find("testcase[@name='A-1']/failure")
    assert failure is not None and HOSTILE in failure.text


def test_the_json_report_has_the_summary_and_every_check_with_its_clause():
    report = json.loads(reports.to_json(hostile_results(), {"issuer": "x"}))
    assert report["summary"] == {"total": 3, "pass": 1, "fail": 1, "skip": 1}
    assert report["results"][0]["clause"] == f"clause {HOSTILE}"


@pytest.fixture
def fake_issuer():
    """A bank whose discovery document advertises plain PKCE (a WSGI app, no platform)."""
    def app(environ, start_response):
        request = Request(environ)
        base = request.host_url.rstrip("/")
        if request.path == "/.well-known/openid-configuration":
            response = Response(json.dumps({
                "issuer": base, "code_challenge_methods_supported": ["S256", "plain"]}),
                content_type="application/json")
        else:
            response = Response("not found", status=404)
        return response(environ, start_response)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_the_command_exits_1_when_a_check_fails_and_writes_the_three_reports(fake_issuer,
                                                                               tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{}")
    stream = io.StringIO()
    status = main(["--issuer", fake_issuer, "--config", str(config), "--plan", "discovery",
                   "--only", "CheckDiscEndpointIssuer,CheckDiscEndpointCodeChallenge*",
                   "--report-dir", str(tmp_path / "out")], stream=stream)
    assert status == 1
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    assert {r["id"]: r["status"] for r in report["results"]} == {
        "CheckDiscEndpointFetch": "pass", "CheckDiscEndpointIssuer": "pass",
        "CheckDiscEndpointCodeChallengeMethodsSupported": "fail"}
    assert (tmp_path / "out" / "junit.xml").exists() and (tmp_path / "out" / "report.html").exists()
    assert "3/3" in stream.getvalue()  # the progress line


def test_the_command_exits_0_when_every_selected_check_passes(fake_issuer, tmp_path):
    config = tmp_path / "config.json"
    config.write_text("{}")
    assert main(["--issuer", fake_issuer, "--config", str(config), "--only",
                 "CheckDiscEndpointIssuer", "--report-dir", str(tmp_path)],
                stream=io.StringIO()) == 0


def test_a_plan_not_built_is_a_usage_error_not_a_silent_pass(tmp_path, capsys):
    config = tmp_path / "config.json"
    config.write_text("{}")
    assert main(["--issuer", "https://bank.example", "--config", str(config), "--plan",
                 "fapi3", "--report-dir", str(tmp_path)], stream=io.StringIO()) == 2
    assert "plan fapi3 is not built" in capsys.readouterr().err


def test_the_suite_is_black_box_it_imports_nothing_from_the_platform():
    offending = []
    for path in SUITE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            offending += [f"{path.relative_to(SUITE)}: {n}" for n in names
                          if n.split(".")[0] in PLATFORM_PACKAGES]
    assert offending == []
    assert len(list(SUITE.rglob("*.py"))) >= 7  # the walk saw the suite
