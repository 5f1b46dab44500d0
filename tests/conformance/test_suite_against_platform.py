"""The conformance suite against a live platform: the discovery, dcr and fapi2 plans pass against
the real server; a weakened server (a WSGI middleware built only here, the platform unchanged)
is caught by the checks that match each weakness (the calibration, a negative control).

The test starts the platform on a free port of 127.0.0.1 with the sandbox seeded, as
tests/e2e/test_tpp_journey.py does; the suite itself speaks HTTP only."""
from __future__ import annotations

import io
import json
import threading
import uuid
from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from jwcrypto import jwk
from werkzeug.serving import make_server

from aspsp import create_app
from sandbox import directory
from sandbox.seed import DEMO_USERS, SeedOptions, seed_bank
from specs.conformance.__main__ import main
from tests.conftest import create_pg_database, drop_pg_database, service_missing

REDIRECT_URI = "https://conformance-tpp.example/callback"


class Weakening:
    """WSGI middleware: the platform as it is, unless a weakness is switched on.
    - "discovery-plain-pkce-rs256": the discovery document advertises plain PKCE and RS256;
    - "no-iss": the authorization response redirect loses its iss parameter;
    - "dpop-replay-cache": a response cache in front of the resources, keyed by the request's
      method, path and headers, answers a replayed DPoP proof from the cache instead of letting
      the platform refuse it."""

    def __init__(self, app):
        self.app, self.weaknesses, self.cache = app, set(), {}

    def __call__(self, environ, start_response):
        if not self.weaknesses:
            return self.app(environ, start_response)
        key = (environ["REQUEST_METHOD"], environ["PATH_INFO"], environ.get("HTTP_DPOP"))
        if "dpop-replay-cache" in self.weaknesses and environ.get("HTTP_DPOP") \
                and key in self.cache:
            status, headers, body = self.cache[key]
            start_response(status, headers)
            return [body]
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda data: None

        body = b"".join(self.app(environ, capture))
        headers = captured["headers"]
        if "discovery-plain-pkce-rs256" in self.weaknesses and \
                environ["PATH_INFO"] == "/.well-known/openid-configuration":
            document = json.loads(body)
            document["code_challenge_methods_supported"] = ["S256", "plain"]
            document["request_object_signing_alg_values_supported"] = ["PS256", "RS256"]
            body = json.dumps(document).encode()
        if "no-iss" in self.weaknesses:
            headers = [(k, self._without_iss(v) if k.lower() == "location" else v)
                       for k, v in headers]
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v)
                   for k, v in headers]
        if "dpop-replay-cache" in self.weaknesses and environ.get("HTTP_DPOP") \
                and environ["PATH_INFO"].startswith("/open-banking/"):
            self.cache[key] = (captured["status"], headers, body)
        start_response(captured["status"], headers)
        return [body]

    @staticmethod
    def _without_iss(location: str) -> str:
        parts = urlsplit(location)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
        return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(scope="module")
def platform_server(tmp_path_factory):
    try:
        url = create_pg_database("aspsp_conformance")
    except Exception as error:
        service_missing("PostgreSQL at 127.0.0.1:5432", error)
    # The suite logs the customer in four times a plan run (and once more for each
    # calibration): the test raises the login rate limits, which are not under test here.
    app = create_app({"DATABASE_URL": url, "CELERY_ALWAYS_EAGER": True, "SECRET_KEY": "conf",
                      "INSTANCE_PATH": str(tmp_path_factory.mktemp("conformance")),
                      "LOGIN_RATE_LIMIT_PER_ADDRESS": "1000 per minute",
                      "LOGIN_RATE_LIMIT_GLOBAL": "1000 per second"})
    weakening = Weakening(app)
    http = make_server("127.0.0.1", 0, weakening, threaded=True)
    base = f"http://127.0.0.1:{http.server_port}"
    app.config["ISSUER"] = app.extensions["aspsp"].config["ISSUER"] = base
    p = app.extensions["aspsp"]
    with app.app_context():
        seed_bank(p.db, SeedOptions(customers=0, business=0, months=1), today=date.today())
    software_key = jwk.JWK.generate(kty="EC", crv="P-256", kid=uuid.uuid4().hex)
    public = {**json.loads(software_key.export_public()), "use": "sig", "alg": "ES256"}
    with app.app_context(), p.uow() as uow:
        org = directory.create_organisation(
            uow, name="Conformance TPP Ltd", competent_authority="GB:FCA",
            authorisation_id="654321", roles=["AISP"], now=p.clock.now())
        software = directory.create_software(
            uow, org_id=org.org_id, client_name="Conformance TPP", redirect_uris=[REDIRECT_URI],
            roles=["AISP"], jwks={"keys": [public]}, now=p.clock.now())
        software_id = software.software_id
        uow.commit()
    alice = next(u for u in DEMO_USERS if u.username == "alice")
    config = {"directory": {"software_id": software_id, "alg": "ES256",
                            "software_key": json.loads(software_key.export_private())},
              "redirect_uri": REDIRECT_URI, "allow_http": True,
              "psu": {"username": alice.username, "password": alice.password,
                      "totp_secret": alice.totp_secret}}
    config_path = tmp_path_factory.mktemp("conformance-config") / "config.json"
    config_path.write_text(json.dumps(config))
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield base, config_path, weakening
    http.shutdown()
    p.db.engine.dispose()
    drop_pg_database(url)


def run_suite(base, config_path, report_dir, *args) -> tuple[int, dict, str]:
    stream = io.StringIO()
    status = main(["--issuer", base, "--config", str(config_path), "--report-dir",
                   str(report_dir), *args], stream=stream)
    report = json.loads((report_dir / "report.json").read_text())
    return status, {r["id"]: r for r in report["results"]}, stream.getvalue()


def test_every_check_of_discovery_dcr_and_fapi2_passes_against_the_platform(platform_server,
                                                                            tmp_path):
    base, config_path, _ = platform_server
    status, results, output = run_suite(base, config_path, tmp_path,
                                        "--plan", "discovery,dcr,fapi2")
    failed = {i: r["message"] for i, r in results.items() if r["status"] != "pass"}
    assert failed == {}, output
    assert status == 0
    assert {"CheckDiscEndpointCodeChallengeMethodsSupported", "DCR-002", "DCR-003", "DCR-011",
            "fapi2-security-profile-final-happy-flow",
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
        assert "eyJ" not in text  # no JWT (tokens, assertions, SSAs, id tokens)


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
