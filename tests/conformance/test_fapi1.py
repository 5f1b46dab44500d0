"""The fapi1 plan (FAPI 1.0 Advanced, private_key_jwt, MTLS certificate-bound tokens) against
the live platform (`platform_server`, tests/conformance/conftest.py), then the calibration: the
same server with one FAPI 1.0 behaviour weakened at a time, each caught by the matching checks.

The suite presents its client certificate in X-SSL-Client-Cert, as the bank's TLS proxy would
(the live server trusts 127.0.0.1 as its proxy). The weakenings are switches of this test only
(pytest's monkeypatch on the running server's code, undone after each test): a request
object's exp is not checked; a certificate-bound token is accepted with any certificate or
none at the resources."""
from __future__ import annotations

import io
import json
import re

import pytest

from aspsp.oauth import authz_request, tokens
from sandbox.seed import DEMO_USERS
from specs.conformance.__main__ import main
from specs.conformance.plans import fapi1

JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.")


def fapi1_config(config_path, tmp_path):
    """The live server's configuration with the client certificate presented as the trusted
    proxy's header, and the sandbox's fixed one-time code (no wait for a fresh TOTP step)."""
    config = json.loads(config_path.read_text())
    config["psu"] = {**config["psu"], "one_time_code": "123456"}
    config["mtls"] = {"header": "X-SSL-Client-Cert"}
    path = tmp_path / "fapi1.json"
    path.write_text(json.dumps(config))
    return path


def run_fapi1(base, config_path, report_dir, *args) -> tuple[int, dict, str]:
    stream = io.StringIO()
    status = main(["--issuer", base, "--config", str(config_path), "--report-dir",
                   str(report_dir), "--plan", "fapi1", *args], stream=stream)
    report = json.loads((report_dir / "report.json").read_text())
    return status, {r["id"]: r for r in report["results"]}, stream.getvalue()


def test_every_fapi1_check_passes_against_the_platform(platform_server, tmp_path):
    base, config_path, _ = platform_server
    status, results, output = run_fapi1(base, fapi1_config(config_path, tmp_path), tmp_path)
    not_passed = {i: (r["status"], r["message"]) for i, r in results.items()
                  if r["status"] != "pass"}
    assert not_passed == {}, output
    assert status == 0
    assert set(results) == {c.id for c in fapi1.CHECKS}
    assert {"fapi1-advanced-final", "fapi1-advanced-final:ValidateCHash",
            "fapi1-advanced-final:ValidateSHash",
            "fapi1-advanced-final-ensure-request-object-without-exp-fails",
            "fapi1-advanced-final-ensure-mtls-holder-of-key-required",
            "fapi1-advanced-final-ensure-response-type-code-fails"} <= set(results)
    # The negative checks show their positive case first: the unchanged request object
    # started an authorisation, the changed one did not.
    exp = results["fapi1-advanced-final-ensure-request-object-without-exp-fails"]
    notes = [e["note"] for e in exp["evidence"] if "note" in e]
    assert any("has no exp:" in n and "page" in n for n in notes), notes
    # No secret of the run reaches the reports: the fragment's code and id_token included.
    alice = next(u for u in DEMO_USERS if u.username == "alice")
    for report in ("report.json", "junit.xml", "report.html"):
        text = (tmp_path / report).read_text()
        assert alice.password not in text
        assert not JWT.search(text)
        assert "PRIVATE KEY" not in text
    happy = json.dumps(results["fapi1-advanced-final"]["evidence"])
    assert "id_token=%5Bredacted" in happy and "code=%5Bredacted" in happy


def test_asking_for_fapi1_is_no_longer_a_usage_error(tmp_path):
    config = tmp_path / "empty.json"
    config.write_text("{}")
    stream = io.StringIO()
    status = main(["--issuer", "http://127.0.0.1:9", "--config", str(config), "--report-dir",
                   str(tmp_path), "--plan", "fapi1", "--only", "*ensure-registered-redirect-uri"],
                  stream=stream)
    # Without a directory, a client or an mtls section the check is skipped, not failed.
    report = json.loads((tmp_path / "report.json").read_text())
    assert status == 0
    assert [(r["id"], r["status"]) for r in report["results"]] == [
        ("fapi1-advanced-final-ensure-registered-redirect-uri", "skip")]


@pytest.fixture
def exp_unchecked(monkeypatch):
    """The weakened server: request objects' exp is not checked (as if always five minutes
    ahead); nbf and everything else still are."""
    original = authz_request.check_time_claims

    def lenient(claims, now, **kw):
        return original({**claims, "exp": now.timestamp() + 300}, now, **kw)
    monkeypatch.setattr(authz_request, "check_time_claims", lenient)


@pytest.fixture
def binding_unenforced(monkeypatch):
    """The weakened server: a certificate-bound token is accepted at the resources with any
    client certificate, or none (its existence, expiry and revocation still checked)."""
    original = tokens.check_resource_token

    def lenient(request, presented, token, **kw):
        if token is not None and token.cnf_x5t and presented.scheme == "Bearer" \
                and token.revoked_at is None and token.expires_at > kw["now"]:
            return None
        return original(request, presented, token, **kw)
    monkeypatch.setattr(tokens, "check_resource_token", lenient)


def test_calibration_request_object_exp_unchecked_fails_the_exp_checks(
        platform_server, tmp_path, exp_unchecked):
    base, config_path, _ = platform_server
    status, results, _ = run_fapi1(base, fapi1_config(config_path, tmp_path), tmp_path,
                                   "--only", "*request-object*,*expired*")
    assert status == 1
    failed = {i for i, r in results.items() if r["status"] == "fail"}
    # exp unchecked: neither its presence, nor its passing, nor its distance from nbf.
    assert failed == {"fapi1-advanced-final-ensure-request-object-without-exp-fails",
                      "fapi1-advanced-final-ensure-expired-request-object-fails",
                      "fapi1-advanced-final-ensure-request-object-with-exp-over-60-fails"}
    assert "was accepted: the authorisation began" in \
        results["fapi1-advanced-final-ensure-expired-request-object-fails"]["message"]
    # nbf, its age, aud and the signature algorithm are still checked.
    assert results["fapi1-advanced-final-ensure-request-object-without-nbf-fails"][
        "status"] == "pass"
    assert results["fapi1-advanced-final-ensure-request-object-with-bad-aud-fails"][
        "status"] == "pass"


def test_calibration_certificate_binding_unenforced_fails_the_holder_of_key_checks(
        platform_server, tmp_path, binding_unenforced):
    base, config_path, _ = platform_server
    status, results, _ = run_fapi1(base, fapi1_config(config_path, tmp_path), tmp_path,
                                   "--only", "*holder-of-key*,*refresh-token")
    assert status == 1
    assert results["fapi1-advanced-final"]["status"] == "pass"
    failed = {i: r["message"] for i, r in results.items() if r["status"] == "fail"}
    assert set(failed) == {"fapi1-advanced-final-ensure-mtls-holder-of-key-required",
                           "fapi1-advanced-final-refresh-token"}
    assert "without a certificate answered 200" in \
        failed["fapi1-advanced-final-ensure-mtls-holder-of-key-required"]


def test_an_authorization_response_in_the_fragment_is_redacted_in_the_evidence():
    from specs.conformance.engine import redact_url
    jwt = "eyJhbGciOiJQUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
    url = (f"https://tpp.example/cb#code=the-secret-code&state=s1&iss=https%3A%2F%2Fbank"
           f"&id_token={jwt}")
    shown = redact_url(url)
    assert "the-secret-code" not in shown and "eyJ" not in shown
    assert "state=s1" in shown and "iss=https%3A%2F%2Fbank" in shown
    assert shown.startswith("https://tpp.example/cb#code=%5Bredacted")
    assert redact_url("https://tpp.example/cb#section") == "https://tpp.example/cb#section"


def test_calibration_certificate_binding_unenforced_fails_the_tls_client_auth_check(
        platform_server, tmp_path, binding_unenforced):
    base, config_path, _ = platform_server
    status, results, _ = run_fapi1(base, fapi1_config(config_path, tmp_path), tmp_path,
                                   "--only", "*tls-client-auth*")
    assert status == 1
    failed = {i: r["message"] for i, r in results.items() if r["status"] == "fail"}
    assert set(failed) == {"fapi1-advanced-final-tls-client-auth"}
    assert "with another certificate answered 201" in \
        failed["fapi1-advanced-final-tls-client-auth"]
    # The token endpoint still wants the certificate; the registration rules still hold.
    assert results["fapi1-advanced-final-tls-client-auth-ensure-certificate-required"][
        "status"] == "pass"
    for name in ("without-subject-dn", "with-another-organisation",
                 "subject-dn-with-private-key-jwt"):
        assert results[f"fapi1-advanced-final-tls-client-auth-registration-{name}-fails"][
            "status"] == "pass"
