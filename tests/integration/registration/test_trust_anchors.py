"""Trust anchors: a directory other than the sandbox one, trusted through the JWKS it publishes
over HTTP (a real local HTTP server here), and the sandbox directory's keys read in-process."""
import json
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from jwcrypto import jwt

from aspsp.oauth import trust
from aspsp.oauth.keys import generate_jwk, public_jwk
from bank import create_app
from tests import tpp_factories

SANDBOX = trust.fetch_policy({"SANDBOX_ENABLED": True})     # loopback allowed, as in `make run`


class _Directory(BaseHTTPRequestHandler):
    prefix = ""          # a fresh path prefix per server: the JWKS cache is keyed by URL
    documents: dict = {}
    hits: dict = {}

    def do_GET(self):  # noqa: N802 (http.server's name)
        path = self.path.removeprefix(self.prefix)
        self.hits[path] = self.hits.get(path, 0) + 1
        body = self.documents.get(path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body or {}).encode())

    def log_message(self, *args):
        pass


@pytest.fixture
def external_directory():
    """A directory on 127.0.0.1 serving JSON documents by path; yields (base URL, handler)."""
    prefix = "/" + uuid.uuid4().hex
    handler = type("Directory", (_Directory,), {"prefix": prefix, "documents": {}, "hits": {}})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}{prefix}", handler
    server.shutdown()
    server.server_close()


def _app(database, clock, tmp_path, anchors: str):
    return create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                       "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                       "SECRET_KEY": "test-secret", "TESTING": True, "TRUST_ANCHORS": anchors})


def _external_ssa(base, handler, clock, software, **extra_claims):
    """An SSA signed by the external directory, whose software JWKS it serves."""
    directory_key = generate_jwk("ES256")
    kid = directory_key.thumbprint()
    handler.documents["/directory.jwks"] = {"keys": [public_jwk(directory_key, kid, "ES256")]}
    handler.documents[f"/software/{software.software_id}.jwks"] = software.public_jwks
    claims = {"iss": "Other Directory Ltd", "iat": int(clock.now().timestamp()),
              "jti": str(uuid.uuid4()), "software_id": software.software_id,
              "software_client_name": "Elsewhere", "software_roles": ["AISP"],
              "software_redirect_uris": software.redirect_uris, "org_id": "0015800001041RHAAY",
              "org_status": "Active",
              "software_jwks_endpoint": f"{base}/software/{software.software_id}.jwks",
              **extra_claims}
    token = jwt.JWT(header={"typ": "JWT", "alg": "ES256", "kid": kid}, claims=claims)
    token.make_signed_token(directory_key)
    return token.serialize()


def _software(platform, clock):
    with platform.uow() as uow:   # only to build ids and a key pair the same way a TPP would
        return tpp_factories.tpp(uow, now=clock.now(), roles=("AISP",))


def test_an_ssa_of_a_configured_jwks_url_anchor_registers(database, clock, tmp_path, platform,
                                                          external_directory):
    base, handler = external_directory
    software = _software(platform, clock)
    app = _app(database, clock, tmp_path, f"{base}/directory.jwks")
    ssa = _external_ssa(base, handler, clock, software)
    token = tpp_factories.registration_jwt(software, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now(), scope="openid accounts")

    response = tpp_factories.post_registration(app.test_client(), token)
    assert response.status_code == 201, response.json
    assert response.json["jwks_uri"] == f"{base}/software/{software.software_id}.jwks"
    assert response.json["client_name"] == "Elsewhere"
    assert handler.hits == {"/directory.jwks": 1,
                            f"/software/{software.software_id}.jwks": 1}


def test_the_sandbox_is_not_trusted_when_it_is_not_an_anchor(database, clock, tmp_path, app,
                                                             platform, external_directory):
    base, _ = external_directory
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        ssa = tpp_factories.issue_ssa(uow, app, tpp.software_id, now=clock.now())
        uow.commit()
    other = _app(database, clock, tmp_path, f"{base}/directory.jwks")
    token = tpp_factories.registration_jwt(tpp, ssa, issuer=other.config["ISSUER"],
                                           now=clock.now())
    response = tpp_factories.post_registration(other.test_client(), token)
    assert response.status_code == 400
    assert response.json["error"] == "unapproved_software_statement"


def test_an_unreachable_anchor_trusts_nothing(database, clock, tmp_path, platform,
                                              external_directory):
    base, handler = external_directory
    software = _software(platform, clock)
    ssa = _external_ssa(base, handler, clock, software)
    app = _app(database, clock, tmp_path, f"{base}/moved.jwks")     # answers 404
    token = tpp_factories.registration_jwt(software, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now(), scope="openid accounts")
    response = tpp_factories.post_registration(app.test_client(), token)
    assert response.status_code == 400
    assert response.json["error"] == "unapproved_software_statement"


def test_fetched_jwks_are_cached_and_refetched_for_an_unknown_kid(external_directory):
    base, handler = external_directory
    handler.documents["/keys"] = {"keys": [{"kid": "one"}]}
    fetcher = trust.JwksFetcher(ttl=300, refetch_after=0)

    assert fetcher.get(f"{base}/keys", policy=SANDBOX) == {"keys": [{"kid": "one"}]}
    handler.documents["/keys"] = {"keys": [{"kid": "two"}]}
    assert fetcher.get(f"{base}/keys", policy=SANDBOX) == {"keys": [{"kid": "one"}]}  # cached
    assert fetcher.get(f"{base}/keys", policy=SANDBOX, refresh=True) == \
        {"keys": [{"kid": "two"}]}
    assert handler.hits["/keys"] == 2


def test_a_document_that_is_not_a_jwks_is_refused(external_directory):
    base, handler = external_directory
    handler.documents["/nope"] = {"hello": "world"}
    with pytest.raises(trust.JwksUnavailable):
        trust.JwksFetcher().get(f"{base}/nope", policy=SANDBOX)


def test_sandbox_jwks_uris_resolve_in_process(app, platform, clock):
    with platform.uow() as uow:
        tpp = tpp_factories.tpp(uow, now=clock.now())
        issuer = app.config["ISSUER"]
        with app.app_context():
            assert trust.resolve_jwks_uri(
                uow, f"{issuer}/sandbox/directory/software/{tpp.software_id}/jwks") \
                == tpp.public_jwks
            assert trust.resolve_jwks_uri(uow, "https://keystore.example/x.jwks") is None


def test_trust_anchor_configuration(app):
    config = dict(app.config, TRUST_ANCHORS="sandbox, https://keystore.example/ob.jwks, ftp://x")
    with app.app_context():
        assert [a.name for a in trust.trust_anchors(config)] == \
            ["sandbox", "https://keystore.example/ob.jwks"]
        config["SANDBOX_ENABLED"] = False
        assert [a.name for a in trust.trust_anchors(config)] == \
            ["https://keystore.example/ob.jwks"]


def test_the_sandbox_directory_is_an_anchor_only_where_the_sandbox_registered_it(
        database, clock, tmp_path, redis_url):
    """The authorization server knows no directory by itself: `sandbox` in TRUST_ANCHORS means
    something only in an app the sandbox was wired into (SANDBOX_ENABLED)."""
    production = create_app({"DATABASE_URL": database.url, "DATABASE": database, "CLOCK": clock,
                             "CELERY_ALWAYS_EAGER": True, "INSTANCE_PATH": str(tmp_path),
                             "SECRET_KEY": "test-secret", "TESTING": True,
                             "SANDBOX_ENABLED": False, "TRUST_ANCHORS": "sandbox",
                             "REDIS_URL": redis_url})
    with production.app_context():
        assert trust.trust_anchors(dict(production.config, SANDBOX_ENABLED=True)) == []
    assert trust.trust_anchors({"TRUST_ANCHORS": "sandbox", "SANDBOX_ENABLED": True,
                                "ISSUER": "http://localhost"}) == []      # outside any app


def test_the_consent_screen_names_the_organisation_its_directory_vouched_for(
        database, clock, tmp_path, platform, external_directory):
    """The organisation name comes from the org_name claim of the client's verified software
    statement, whichever directory signed it (here not the sandbox one)."""
    from aspsp.oauth.models import OAuthClient
    from consent import screens

    base, handler = external_directory
    software = _software(platform, clock)
    app = _app(database, clock, tmp_path, f"{base}/directory.jwks")
    ssa = _external_ssa(base, handler, clock, software, org_name="Elsewhere Holdings Ltd")
    token = tpp_factories.registration_jwt(software, ssa, issuer=app.config["ISSUER"],
                                           now=clock.now(), scope="openid accounts")
    response = tpp_factories.post_registration(app.test_client(), token)
    assert response.status_code == 201, response.json
    with platform.uow() as uow:
        client = uow.session.query(OAuthClient).filter_by(
            client_id=response.json["client_id"]).one()
        assert screens.requester(uow, client.id) == screens.Requester(
            "Elsewhere", "Elsewhere Holdings Ltd")
