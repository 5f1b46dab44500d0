"""The live platform the conformance tests run against, shared by every test file here (one
server a session: starting it, migrating and seeding takes most of a run's time).

The platform starts on a free port of 127.0.0.1 with the sandbox seeded, as
tests/e2e/test_tpp_journey.py does, behind a WSGI middleware that can weaken it for the
calibration runs; the suite itself speaks HTTP only."""
from __future__ import annotations

import json
import re
import threading
import uuid
from contextlib import contextmanager
from datetime import date
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from jwcrypto import jwk
from werkzeug.serving import make_server

from bank import create_app
from sandbox import conformance as sandbox_conformance
from sandbox import directory
from sandbox.seed import DEMO_USERS, SeedOptions, seed_bank
from tests.conftest import create_pg_database, drop_pg_database, service_missing

REDIRECT_URI = "https://conformance-tpp.example/callback"
OTHER_INTERACTION_ID = "00000000-0000-4000-8000-000000000000"


class Weakening:
    """WSGI middleware: the platform as it is, unless a weakness is switched on.
    - "discovery-plain-pkce-rs256": the discovery document advertises plain PKCE and RS256;
    - "no-iss": the authorization response redirect loses its iss parameter;
    - "dpop-replay-cache": a response cache in front of the resources, keyed by the request's
      method, path and headers, answers a replayed DPoP proof from the cache instead of letting
      the platform refuse it;
    - "ob-own-interaction-id": Open Banking responses carry an x-fapi-interaction-id of their
      own instead of the one the TPP sent;
    - "ob-lowercase-currency": account resources answer currencies in lower case ("gbp"),
      which the OBIE schema (^[A-Z]{3,3}$) refuses;
    - "cof-string-answer": funds confirmations answer FundsAvailable as a string ("true"),
      which the OBIE schema (a boolean) refuses;
    - "dcr-registers-anything": POST /register answers 201 with a client to every request,
      as a bank that checks no software statement would."""

    def __init__(self, app):
        self.app, self.weaknesses, self.cache = app, set(), {}
        self.recordings: list[list[tuple[str, str]]] = []

    @contextmanager
    def recording(self):
        """The (status, path) of every answer given while inside, e.g. to find 429s."""
        answered: list[tuple[str, str]] = []
        self.recordings.append(answered)
        try:
            yield answered
        finally:
            self.recordings.remove(answered)

    def __call__(self, environ, start_response):
        if self.recordings:
            start_response = self._recorded(environ["PATH_INFO"], start_response)
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

        if "dcr-registers-anything" in self.weaknesses and environ["PATH_INFO"] == "/register" \
                and environ["REQUEST_METHOD"] == "POST":
            body = json.dumps({"client_id": str(uuid.uuid4())}).encode()
            start_response("201 Created", [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(body)))])
            return [body]
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
        resource = environ["PATH_INFO"].startswith("/open-banking/")
        if "ob-own-interaction-id" in self.weaknesses and resource:
            headers = [(k, OTHER_INTERACTION_ID if k.lower() == "x-fapi-interaction-id" else v)
                       for k, v in headers]
        if "ob-lowercase-currency" in self.weaknesses and resource and \
                re.search(r"/aisp/accounts(/[^/]+)?$", environ["PATH_INFO"]):
            body = body.replace(b'"Currency": "GBP"', b'"Currency": "gbp"').replace(
                b'"Currency":"GBP"', b'"Currency":"gbp"')
        if "cof-string-answer" in self.weaknesses and \
                environ["PATH_INFO"].endswith("/cbpii/funds-confirmations"):
            body = re.sub(rb'"FundsAvailable":\s*(true|false)', rb'"FundsAvailable":"\1"', body)
        headers = [(k, str(len(body)) if k.lower() == "content-length" else v)
                   for k, v in headers]
        if "dpop-replay-cache" in self.weaknesses and environ.get("HTTP_DPOP") \
                and environ["PATH_INFO"].startswith("/open-banking/"):
            self.cache[key] = (captured["status"], headers, body)
        start_response(captured["status"], headers)
        return [body]

    @staticmethod
    def assert_never_rate_limited(answered: list[tuple[str, str]]) -> None:
        """A whole plan run (over a hundred answers) met no 429 (test_rate_limits_hold)."""
        assert len(answered) > 100
        assert [(status, path) for status, path in answered if status.startswith("429")] == []

    def _recorded(self, path: str, start_response):
        def start(status, headers, exc_info=None):
            for answered in self.recordings:
                answered.append((status, path))
            return start_response(status, headers, exc_info)
        return start

    @staticmethod
    def _without_iss(location: str) -> str:
        parts = urlsplit(location)
        query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "iss"]
        return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(scope="session")
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
                      "LOGIN_RATE_LIMIT_GLOBAL": "1000 per second",
                      # The fapi1 plan stands in for the TLS proxy on this address and sends
                      # its client certificate in X-SSL-Client-Cert (aspsp/proxy.py).
                      "TRUSTED_PROXIES": "127.0.0.1"})
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
            authorisation_id="654321", roles=["AISP", "PISP", "CBPII"], now=p.clock.now())
        software = directory.create_software(
            uow, org_id=org.org_id, client_name="Conformance TPP", redirect_uris=[REDIRECT_URI],
            roles=["AISP", "PISP", "CBPII"], jwks={"keys": [public]}, now=p.clock.now())
        software_id = software.software_id
        uow.commit()
    alice = next(u for u in DEMO_USERS if u.username == "alice")
    config = {"directory": {"software_id": software_id, "alg": "ES256",
                            "software_key": json.loads(software_key.export_private())},
              "redirect_uri": REDIRECT_URI, "allow_http": True,
              "psu": {"username": alice.username, "password": alice.password,
                      "totp_secret": alice.totp_secret}}
    with app.app_context():              # the dcr plan's refusals: the sandbox's own SSAs
        config["dcr"] = sandbox_conformance.refused_ssas(software_id)
    config_path = tmp_path_factory.mktemp("conformance-config") / "config.json"
    config_path.write_text(json.dumps(config))
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield base, config_path, weakening
    http.shutdown()
    app.extensions["request_log"].flush()     # before the database goes, not at exit
    p.db.engine.dispose()
    drop_pg_database(url)
