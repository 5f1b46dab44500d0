"""The conformance suite against a live platform: the discovery, dcr and fapi2 plans pass against
the real server; a weakened server (a WSGI middleware built only here, the platform unchanged)
is caught by the checks that match each weakness (the calibration, a negative control).

The platform (`platform_server`, tests/conformance/conftest.py) is shared with the other
live tests of this directory; the suite itself speaks HTTP only."""
from __future__ import annotations

import io
import json

from sandbox.seed import DEMO_USERS
from specs.conformance.__main__ import main
from tests.conftest import holds_jwt


def run_suite(base, config_path, report_dir, *args) -> tuple[int, dict, str]:
    stream = io.StringIO()
    status = main(["--issuer", base, "--config", str(config_path), "--report-dir",
                   str(report_dir), *args], stream=stream)
    report = json.loads((report_dir / "report.json").read_text())
    return status, {r["id"]: r for r in report["results"]}, stream.getvalue()


def test_every_check_of_discovery_dcr_and_fapi2_passes_against_the_platform(platform_server,
                                                                            tmp_path):
    base, config_path, weakening = platform_server
    with weakening.recording() as answered:
        status, results, output = run_suite(base, config_path, tmp_path,
                                            "--plan", "discovery,dcr,fapi2")
    failed = {i: r["message"] for i, r in results.items() if r["status"] != "pass"}
    assert failed == {}, output
    assert status == 0
    weakening.assert_never_rate_limited(answered)
    assert {"CheckDiscEndpointCodeChallengeMethodsSupported", "DCR-002", "DCR-003", "DCR-011",
            "DCR-004-expired-ssa", "DCR-004-unknown-software", "DCR-004-untrusted-ssa-issuer",
            "fapi2-security-profile-final-happy-flow",
            "fapi2-security-profile-final-happy-flow-plain-fapi-sign-in",
            "fapi2-security-profile-final-par-attempt-reuse-request_uri",
            "fapi2-security-profile-final-ensure-authorization-code-is-bound-to-client",
            "fapi2-security-profile-final-par-attempt-to-use-request_uri-for-different-client",
            "fapi2-security-profile-final-ensure-pkce-code-verifier-required"} \
        <= set(results)
    html = (tmp_path / "report.html").read_text()
    assert "Conformance report: PASSED" in html
    # No secret of the run reaches the reports.
    alice = next(u for u in DEMO_USERS if u.username == "alice")
    for report in ("report.json", "junit.xml", "report.html"):
        text = (tmp_path / report).read_text()
        assert alice.password not in text and alice.totp_secret not in text
        assert not holds_jwt(text)  # no JWT (tokens, assertions, SSAs, id tokens)


def test_calibration_weakened_discovery_fails_the_pkce_and_algorithm_checks(platform_server,
                                                                           tmp_path):
    base, config_path, weakening = platform_server
    weakening.weaknesses = {"discovery-plain-pkce-rs256"}
    try:
        status, results, _ = run_suite(base, config_path, tmp_path, "--plan", "discovery")
    finally:
        weakening.weaknesses = set()
    assert status == 1
    failed = {i for i, r in results.items() if r["status"] == "fail"}
    assert failed == {"CheckDiscEndpointCodeChallengeMethodsSupported",
                      "FAPI2CheckDiscEndpointRequestObjectSigningAlgValuesSupported"}
    assert "plain" in results["CheckDiscEndpointCodeChallengeMethodsSupported"]["message"]


def with_sandbox_code(config_path, tmp_path):
    """The configuration with the sandbox's fixed one-time code for the demo customer: no wait
    for a fresh TOTP step."""
    config = json.loads(config_path.read_text())
    config["psu"] = {**config["psu"], "one_time_code": "123456"}
    path = tmp_path / "sandbox-code.json"
    path.write_text(json.dumps(config))
    return path


def test_calibration_authorization_response_without_iss_fails_the_happy_flow(platform_server,
                                                                            tmp_path):
    base, config_path, weakening = platform_server
    config_path = with_sandbox_code(config_path, tmp_path)
    weakening.weaknesses = {"no-iss"}
    try:
        status, results, _ = run_suite(base, config_path, tmp_path, "--plan", "fapi2",
                                       "--only", "*happy-flow")
    finally:
        weakening.weaknesses = set()
    assert status == 1
    happy = results["fapi2-security-profile-final-happy-flow"]
    assert happy["status"] == "fail" and "iss" in happy["message"]


def test_calibration_a_cache_answering_replayed_dpop_proofs_fails_the_replay_check(
        platform_server, tmp_path):
    base, config_path, weakening = platform_server
    config_path = with_sandbox_code(config_path, tmp_path)
    weakening.weaknesses = {"dpop-replay-cache"}
    try:
        status, results, _ = run_suite(base, config_path, tmp_path, "--plan", "fapi2",
                                       "--only", "*replay-at-resource")
    finally:
        weakening.weaknesses, weakening.cache = set(), {}
    assert status == 1
    assert results["fapi2-security-profile-final-happy-flow"]["status"] == "pass"
    replay = results["fapi2-security-profile-final-dpop-negative-tests-replay-at-resource"]
    assert replay["status"] == "fail" and "replayed proof answered 200" in replay["message"]


def test_calibration_a_bank_registering_any_software_statement_fails_the_refusals(
        platform_server, tmp_path):
    base, config_path, weakening = platform_server
    weakening.weaknesses = {"dcr-registers-anything"}
    try:
        status, results, _ = run_suite(base, config_path, tmp_path, "--plan", "dcr",
                                       "--only", "DCR-004-*")
    finally:
        weakening.weaknesses = set()
    assert status == 1
    for check in ("DCR-004-expired-ssa", "DCR-004-unknown-software",
                  "DCR-004-untrusted-ssa-issuer", "DCR-004-bad-ssa-signature"):
        assert results[check]["status"] == "fail", results[check]
        assert "expected 400, the ASPSP answered 201" in results[check]["message"]
